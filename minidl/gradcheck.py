"""Check a backward pass against the definition of a derivative.

A layer's `backward` claims to compute dL/dx and dL/dW. The definition of the derivative gives an
independent way to get the same numbers: nudge one entry of x (or W) by ±ε and watch the loss,

    dL/dθ_k  ≈  (L(θ + ε·e_k) − L(θ − ε·e_k)) / (2ε)        (central difference, error O(ε²))

For a single layer the loss is L = Σ y ⊙ G with a fixed random G of the output's shape, so every
output element matters and dL/dy = G is what `backward` receives. For a whole model the loss is the
model's own loss, averaged over the batch. Everything runs in float64 (on copies the checker builds
itself), where central differences agree with a correct gradient to about 1e-8 relative; float32
rounding would hide real mistakes.

    from minidl.gradcheck import check_gradients
    report = check_gradients(MyLayer(), x)     # x: a small batch, e.g. shape (2, 6, 6, 3)
    print(report)                              # one line per tensor: input, then each parameter
    report.assert_ok()                         # raises GradientCheckError naming the wrong tensor

`python -m minidl.gradcheck` prints the table for every built-in layer and loss.
"""

from __future__ import annotations

import copy
import random
from dataclasses import dataclass, field

import numpy as np

from . import data_checks
from . import losses as losses_module
from .layers.base import Layer

EPS = 1e-6
RTOL = 1e-5
ATOL = 1e-7


class GradientCheckError(AssertionError):
    """A gradient check failed; the message names the tensor (and layer) whose gradient is wrong."""


# ----- reports ------------------------------------------------------------------------------------
@dataclass
class TensorReport:
    """How one analytic gradient compares with central differences.

    `max_abs_error` is max |analytic − numeric|; `max_rel_error` is max |analytic − numeric| /
    max(|analytic|, |numeric|) over entries where either is non-zero; `worst_index` is the entry
    furthest outside the tolerance |analytic − numeric| <= atol + rtol·|numeric|. `problem` holds a
    broken contract (no gradient returned, wrong shape, gradient replaced instead of filled in place)
    when there is one: then there are no numbers to compare.
    """

    name: str
    shape: tuple
    max_abs_error: float = float("nan")
    max_rel_error: float = float("nan")
    worst_index: tuple | None = None
    analytic_at_worst: float = float("nan")
    numeric_at_worst: float = float("nan")
    checked: int = 0
    ok: bool = False
    problem: str | None = None

    @property
    def message(self) -> str:
        """One sentence: what was compared and whether it matched."""
        if self.problem:
            return f"{self.name}: {self.problem}"
        if self.ok:
            return f"{self.name}: gradient ok (max abs error {self.max_abs_error:.2e}, {self.checked} entries)"
        return (
            f"{self.name}: gradient is WRONG — at index {self.worst_index} backward gives "
            f"{self.analytic_at_worst:.6g} but central differences give {self.numeric_at_worst:.6g} "
            f"(max abs error {self.max_abs_error:.3g}, max rel error {self.max_rel_error:.3g})"
        )


@dataclass
class GradientReport:
    """The reports of every tensor of one check: the input gradient first, then each parameter."""

    subject: str
    tensors: list[TensorReport] = field(default_factory=list)
    input_gradient: np.ndarray | None = None

    @property
    def ok(self) -> bool:
        """True when every gradient matches."""
        return bool(self.tensors) and all(t.ok for t in self.tensors)

    @property
    def failing(self) -> list[TensorReport]:
        """The tensors whose gradient is wrong."""
        return [t for t in self.tensors if not t.ok]

    def __getitem__(self, name) -> TensorReport:
        for tensor in self.tensors:
            if tensor.name == name:
                return tensor
        raise KeyError(f"{self.subject} has no checked tensor {name!r}; it has {[t.name for t in self.tensors]}")

    @property
    def message(self) -> str:
        """ "<subject>: all N gradients match" or the failing tensors, each named."""
        if self.ok:
            return f"{self.subject}: all {len(self.tensors)} gradients match central differences"
        return f"{self.subject}: " + "; ".join(t.message for t in self.failing)

    def assert_ok(self) -> GradientReport:
        """Raise GradientCheckError (an AssertionError) with `message` unless every gradient matches."""
        if not self.ok:
            raise GradientCheckError(self.message)
        return self

    def __str__(self):
        return "\n".join([self.message if not self.ok else self.subject] + [f"  {t.message}" for t in self.tensors])


# ----- building float64 copies --------------------------------------------------------------------
def build_float64(layer: Layer, input_shape, seed: int = 0) -> Layer:
    """Build `layer` itself in float64 with a seeded generator (for tests that then use it directly)."""
    layer.build(tuple(input_shape), rng=np.random.default_rng(seed), dtype=np.float64)
    return layer


def clone(layer: Layer, memo=None) -> Layer:
    """A deep copy of a layer with every attribute (Layer's pickling drops cached arrays and the
    noise context, which a copy made for measuring must keep)."""
    memo = {} if memo is None else memo
    if id(layer) in memo:
        return memo[id(layer)]
    twin = object.__new__(type(layer))
    memo[id(layer)] = twin
    for key, value in vars(layer).items():
        vars(twin)[key] = clone(value, memo) if isinstance(value, Layer) else copy.deepcopy(value, memo)
    return twin


def _copy_weights(layer, twin, input_shape):
    """Copy the trainable weights and the non-trainable state of `layer` into its rebuilt `twin`."""
    for table in ("params", "states"):
        source, target = getattr(layer, table, {}), getattr(twin, table, {})
        for name, value in source.items():
            if name not in target or target[name].shape != np.shape(value):
                raise ValueError(
                    f"layer {layer.name!r}: rebuilding it for input {tuple(input_shape)} gives weight "
                    f"{name!r} of shape {target.get(name, np.empty(0)).shape}, "
                    f"but the layer holds one of shape {np.shape(value)}"
                )
            target[name][...] = value


def float64_copy(layer: Layer, input_shape, seed: int = 0) -> Layer:
    """A float64 twin of `layer` built for `input_shape`, holding the same weights if `layer` has any.

    The twin is a deep copy rebuilt through the layer's own `build` (so `create_weights`/`add_weight`
    run as documented in minidl/layers/base.py), then given the original weights cast to float64.
    An unbuilt layer gets weights from a generator seeded with `seed`. The original is not touched.
    """
    if not isinstance(layer, Layer):
        raise TypeError(f"gradient checks need a minidl Layer, got {type(layer).__name__}")
    twin = clone(layer)
    build_float64(twin, input_shape, seed)
    if layer.built:
        _copy_weights(layer, twin, input_shape)
    twin.needs_input_grad = True
    return twin


# ----- fixing randomness --------------------------------------------------------------------------
class _Replay:
    """Make repeated forward passes draw the same random numbers (Dropout masks, a user's noise).

    Snapshots the attributes of the layers (counters such as Dropout's step are rebound, not mutated),
    the state of every NumPy Generator they hold, the values of their non-trainable `states`, and
    NumPy's and Python's global generators;
    `restore()` puts all of them back before each forward pass.
    """

    def __init__(self, layers):
        self.objects = []
        seen = set()
        stack = list(layers)
        while stack:
            obj = stack.pop()
            if id(obj) in seen:
                continue
            seen.add(id(obj))
            state = dict(vars(obj))
            generators = {k: v.bit_generator.state for k, v in state.items() if isinstance(v, np.random.Generator)}
            # Non-trainable state (BatchNormalization's moving averages) is updated in place by a
            # training forward pass: keep its values too.
            arrays = {name: array.copy() for name, array in (state.get("states") or {}).items()}
            self.objects.append((obj, state, generators, arrays))
            stack.extend(v for v in state.values() if isinstance(v, Layer))
            for value in state.values():
                if isinstance(value, (list, tuple)):
                    stack.extend(v for v in value if isinstance(v, Layer))
        self.numpy_state = np.random.get_state()
        self.python_state = random.getstate()

    def restore(self):
        for obj, state, generators, arrays in self.objects:
            for key in [key for key in vars(obj) if key not in state]:
                del vars(obj)[key]  # e.g. a step counter the first forward pass created
            vars(obj).update(state)
            for key, generator_state in generators.items():
                state[key].bit_generator.state = generator_state
            for name, values in arrays.items():
                obj.states[name][...] = values
        np.random.set_state(self.numpy_state)
        random.setstate(self.python_state)


# ----- comparing ----------------------------------------------------------------------------------
def _entries(size, max_entries, rng):
    if max_entries is None or max_entries >= size:
        return np.arange(size)
    return np.sort(rng.choice(size, int(max_entries), replace=False))


def numerical_gradient(f, array: np.ndarray, eps: float = EPS, entries=None) -> np.ndarray:
    """Central differences of the scalar `f()` with respect to entries of `array` (float64, perturbed
    in place and restored). Returns an array of `array`'s shape; entries not listed in `entries`
    (default: all) stay NaN."""
    if array.dtype != np.float64:
        raise TypeError(f"central differences need float64 arrays, got {array.dtype}")
    flat = array.reshape(-1)
    if not np.shares_memory(flat, array):
        raise ValueError("the array must be contiguous so it can be perturbed in place")
    grad = np.full(array.size, np.nan)
    for i in range(array.size) if entries is None else entries:
        old = flat[i]
        flat[i] = old + eps
        plus = f()
        flat[i] = old - eps
        minus = f()
        flat[i] = old
        grad[i] = (plus - minus) / (2 * eps)
    return grad.reshape(array.shape)


def compare(name, analytic, numeric, rtol=RTOL, atol=ATOL, entries=None) -> TensorReport:
    """A TensorReport of `analytic` against `numeric` on the flat `entries` (default: all)."""
    analytic, numeric = np.asarray(analytic, dtype=np.float64), np.asarray(numeric, dtype=np.float64)
    report = TensorReport(name, tuple(numeric.shape))
    if analytic.shape != numeric.shape:
        report.problem = f"backward gives a gradient of shape {analytic.shape}, the tensor has shape {numeric.shape}"
        return report
    entries = np.arange(numeric.size) if entries is None else np.asarray(entries)
    a, n = analytic.reshape(-1)[entries], numeric.reshape(-1)[entries]
    report.checked = len(entries)
    if len(entries) == 0:
        report.ok, report.max_abs_error, report.max_rel_error = True, 0.0, 0.0
        return report
    if not np.all(np.isfinite(a)):
        report.problem = "backward gives NaN or infinite values"
        return report
    error = np.abs(a - n)
    scale = np.maximum(np.abs(a), np.abs(n))
    badness = error / (atol + rtol * np.abs(n))
    worst = int(np.argmax(badness))
    report.max_abs_error = float(error.max())
    report.max_rel_error = float(np.max(np.divide(error, scale, out=np.zeros_like(error), where=scale > 0)))
    report.worst_index = tuple(int(i) for i in np.unravel_index(entries[worst], numeric.shape))
    report.analytic_at_worst, report.numeric_at_worst = float(a[worst]), float(n[worst])
    report.ok = bool(badness[worst] <= 1.0)
    return report


def assert_gradients_close(analytic, numeric, what: str, rtol: float = RTOL, atol: float = ATOL):
    """Raise GradientCheckError naming `what` and the worst entry unless the two gradients agree."""
    report = compare(what, analytic, numeric, rtol, atol)
    if not report.ok:
        raise GradientCheckError(report.message)


def _run_backward(layers, out_grad_fn, forward_fn, replay):
    """Forward then backward; returns (input gradient, {(layer, name): grad copy}, contract problems)."""
    problems = {}
    results = []
    # Twice: once with the gradient buffers zeroed, once filled with garbage. A backward that fills
    # them (the contract) gives the same numbers; one that adds into them does not.
    for fill in (0.0, 1234.5):
        held = {}
        for layer in layers:
            for name, grad in layer.grads.items():
                grad[...] = fill
                held[(layer, name)] = grad
        replay.restore()
        out = forward_fn()
        grad = out_grad_fn(out)
        for layer in reversed(layers):
            grad = layer.backward(grad)
        grads = {}
        for (layer, name), array in held.items():
            if layer.grads.get(name) is not array:
                problems[(layer, name)] = (
                    f"backward replaced grads[{name!r}] with a new array; the contract is to fill it in place "
                    f"(e.g. `self.grads[{name!r}][...] = ...` or `np.matmul(..., out=self.grads[{name!r}])`)"
                )
            grads[(layer, name)] = np.array(layer.grads.get(name), dtype=np.float64, copy=True)
        results.append((None if grad is None else np.array(grad, dtype=np.float64, copy=True), grads))
    (dx, grads), (_, grads_again) = results
    for key, value in grads.items():
        if key not in problems and not np.array_equal(value, grads_again[key], equal_nan=True):
            problems[key] = (
                f"backward adds into grads[{key[1]!r}] instead of overwriting it (the contract: fill it, "
                "the model does not zero it between steps)"
            )
    return dx, grads, problems


def _check(subject, layers, x, forward_fn, loss_fn, out_grad_fn, rtol, atol, eps, max_entries, rng):
    """Shared core of the layer and model checks."""
    for layer in layers:
        missing = set(layer.params) ^ set(layer.grads)
        if missing:
            raise ValueError(
                f"layer {layer.name!r}: params {sorted(layer.params)} and grads {sorted(layer.grads)} must "
                "have the same names (create weights with add_weight)"
            )
    replay = _Replay(layers)
    dx, grads, problems = _run_backward(layers, out_grad_fn, forward_fn, replay)
    report = GradientReport(subject, input_gradient=dx)

    def loss():
        replay.restore()
        return loss_fn()

    prefix = len(layers) > 1
    entries = _entries(x.size, max_entries, rng)
    if dx is None:
        report.tensors.append(TensorReport("input", x.shape, problem="backward returned None, not dL/dx"))
    else:
        report.tensors.append(compare("input", dx, numerical_gradient(loss, x, eps, entries), rtol, atol, entries))
    for layer in layers:
        for name, param in layer.params.items():
            label = f"{layer.name}.{name}" if prefix else name
            if (layer, name) in problems:
                report.tensors.append(TensorReport(label, param.shape, problem=problems[(layer, name)]))
                continue
            entries = _entries(param.size, max_entries, rng)
            numeric = numerical_gradient(loss, param, eps, entries)
            report.tensors.append(compare(label, grads[(layer, name)], numeric, rtol, atol, entries))
    replay.restore()
    return report


# ----- public checks ------------------------------------------------------------------------------
def check_gradients(
    layer: Layer, x, *, seed: int = 0, rtol: float = RTOL, atol: float = ATOL, eps: float = EPS, max_entries=None
) -> GradientReport:
    """Compare `layer`'s input gradient and every parameter gradient with central differences.

    `x` is a small batch (batch axis first). The check runs on a float64 copy of the layer (built for
    `x.shape[1:]`, with the layer's weights if it has any, seeded weights otherwise), in training mode,
    with any randomness replayed identically on every forward pass. The loss is Σ y ⊙ G for a fixed
    random G (from `seed`). `max_entries` checks only that many random entries per tensor (for big
    tensors: each entry costs two forward passes). Returns a GradientReport; call `.assert_ok()` to
    raise on a wrong gradient.
    """
    x = np.array(x, dtype=np.float64, copy=True, order="C")
    if x.ndim < 2 or x.shape[0] < 1:
        raise ValueError(f"x must be a batch (N, ...) with N >= 1, got shape {x.shape}")
    twin = float64_copy(layer, x.shape[1:], seed)
    rng = np.random.default_rng(seed)
    replay = _Replay([twin])
    out = twin.forward(x.copy(), training=True)
    replay.restore()
    expected = (len(x), *twin.output_shape)
    if np.shape(out) != expected:
        raise ValueError(
            f"layer {twin.name!r}: forward returned shape {np.shape(out)}, but compute_output_shape says {expected}"
        )
    weights = rng.standard_normal(expected)
    return _check(
        f"{type(layer).__name__} {layer.name!r}",
        [twin],
        x,
        forward_fn=lambda: twin.forward(x.copy(), training=True),
        loss_fn=lambda: float(np.sum(twin.forward(x.copy(), training=True) * weights)),
        out_grad_fn=lambda out: weights.copy(),
        rtol=rtol,
        atol=atol,
        eps=eps,
        max_entries=max_entries,
        rng=rng,
    )


def float64_model(model):
    """A float64 twin of a minidl Model: the same layers (deep copies) and weights, not compiled."""
    from .model import Model

    twin = Model(name=model.name, seed=model.seed, dtype="float64")
    for layer in model.layers:
        copied = clone(layer)
        copied.built = False
        twin.add(copied)
    if not model.built:
        raise ValueError(f"model {model.name!r} is not built yet: give its first layer an input_shape")
    for original, copied in zip(model.layers, twin.layers):
        _copy_weights(original, copied, original.input_shape)
    for layer in twin.layers:
        layer.needs_input_grad = True
    return twin


def check_model_gradients(
    model,
    x,
    y,
    *,
    loss=None,
    seed: int = 0,
    rtol: float = RTOL,
    atol: float = ATOL,
    eps: float = EPS,
    max_entries=None,
) -> GradientReport:
    """Compare every parameter gradient of a whole model (and the input gradient) with central
    differences of the model's loss averaged over the batch: L = (1/N) Σ_n loss(model(x_n), y_n).

    Runs on a float64 copy of the model; `loss` (a name or Loss) defaults to the compiled one. The
    backward pass is the chain every step runs: loss gradient (fused with a final softmax for the
    cross-entropies), then each layer's backward in reverse order. Tensors are named "layer.param".
    """
    loss = loss if loss is not None else model.loss
    if loss is None:
        raise ValueError(f"model {model.name!r} has no loss: compile it or pass loss=")
    twin = float64_model(model)
    twin.compile(optimizer="sgd", loss=copy.deepcopy(losses_module.get(loss)), metrics=[])
    x = data_checks.check_inputs(twin, np.array(x, dtype=np.float64, copy=True, order="C"))
    x = np.array(x, copy=True, order="C")
    y = data_checks.check_targets(twin, x, y)
    n = len(x)
    return _check(
        f"model {model.name!r} with {twin.loss.name}",
        twin.layers,
        x,
        forward_fn=lambda: twin.forward(x.copy(), training=True),
        loss_fn=lambda: twin.loss.total(twin.forward(x.copy(), training=True), y) / n,
        out_grad_fn=lambda out: twin.training_loss.gradient(out, y, n),
        rtol=rtol,
        atol=atol,
        eps=eps,
        max_entries=max_entries,
        rng=np.random.default_rng(seed),
    )


def check_loss_gradient(loss, y_pred, y_true, denominator=None, *, rtol=RTOL, atol=ATOL, eps=EPS) -> GradientReport:
    """Compare `loss.gradient(y_pred, y_true, denominator)` with central differences of
    `loss.total(y_pred, y_true) / denominator` (denominator defaults to the batch size)."""
    loss = losses_module.get(loss)
    y_pred = np.array(y_pred, dtype=np.float64, copy=True, order="C")
    denominator = len(y_pred) if denominator is None else denominator
    analytic = loss.gradient(y_pred.copy(), y_true, denominator)
    numeric = numerical_gradient(lambda: loss.total(y_pred, y_true) / denominator, y_pred, eps)
    return GradientReport(f"loss {loss.name!r}", [compare("y_pred", analytic, numeric, rtol, atol)])


def check_layer_state(layer: Layer, rng: np.random.Generator, batch: int = 5):
    """Check that `backward` uses the last *training* forward pass of a built float64 layer.

    Inference passes in between, and batches of other sizes before it, must not change its result
    (layers may keep and reuse buffers). Raises GradientCheckError naming the tensor that changed.
    """
    shape = layer.input_shape
    x, other, small = (rng.standard_normal((n, *shape)) for n in (batch, batch + 2, 2))
    grad = rng.standard_normal((batch, *layer.output_shape))

    def run(inputs, out_grad):
        layer.forward(inputs.copy(), training=True)
        dx = layer.backward(out_grad.copy())
        return np.array(dx, copy=True), {name: g.copy() for name, g in layer.grads.items()}

    dx, grads = run(x, grad)
    run(small, rng.standard_normal((2, *layer.output_shape)))
    layer.forward(x.copy(), training=True)
    layer.forward(other.copy(), training=False)
    layer.forward(small.copy(), training=False)
    again = layer.backward(grad.copy())
    if not np.array_equal(again, dx):
        raise GradientCheckError(f"{layer.name}: input gradient changed after inference passes in between")
    for name, g in grads.items():
        if not np.array_equal(layer.grads[name], g):
            raise GradientCheckError(f"{layer.name}: {name} gradient changed after inference passes in between")


# ----- the command line --------------------------------------------------------------------------
def builtin_checks(seed: int = 0):
    """(what, GradientReport) for every built-in layer in its main settings, the losses, and two
    small models (softmax fused with cross-entropy, and MSE), all in float64."""
    from .layers import (
        Activation,
        AvgPool2D,
        BatchNormalization,
        Conv2D,
        Dense,
        Dropout,
        Flatten,
        GlobalAveragePooling2D,
        GlobalMaxPooling2D,
        LeakyReLU,
        Linear,
        MaxPool2D,
        ReLU,
        Rescaling,
        Sigmoid,
        Softmax,
        Tanh,
        ZeroPadding2D,
    )
    from .model import Model

    rng = np.random.default_rng(seed)
    cases = [
        ("Conv2D 3x3 valid, 1 channel", Conv2D(2, 3), (6, 5, 1)),
        (
            "Conv2D 3x3 same stride 2, 3 channels, relu",
            Conv2D(2, 3, strides=2, padding="same", activation="relu"),
            (6, 5, 3),
        ),
        ("Conv2D 5x5 same, 2 channels, tanh", Conv2D(2, 5, padding="same", activation="tanh"), (5, 6, 2)),
        ("Conv2D 2x3 valid stride 2, sigmoid", Conv2D(3, (2, 3), strides=2, activation="sigmoid"), (7, 6, 2)),
        ("MaxPool2D 2", MaxPool2D(2), (4, 6, 2)),
        ("MaxPool2D 3 stride 1 (overlapping)", MaxPool2D(3, strides=1), (5, 5, 2)),
        ("AvgPool2D 2", AvgPool2D(2), (4, 6, 2)),
        ("AvgPool2D 3 stride 2", AvgPool2D(3, strides=2), (7, 7, 2)),
        ("Dense", Dense(4), (5,)),
        ("Dense relu", Dense(4, activation="relu"), (5,)),
        ("Dense softmax (not fused)", Dense(4, activation="softmax"), (5,)),
        ("GlobalAveragePooling2D", GlobalAveragePooling2D(), (3, 4, 2)),
        ("GlobalMaxPooling2D", GlobalMaxPooling2D(), (3, 4, 2)),
        ("ZeroPadding2D (1, 2)", ZeroPadding2D((1, 2)), (3, 2, 2)),
        ("BatchNormalization after Conv2D (per channel)", BatchNormalization(), (3, 2, 3)),
        ("BatchNormalization after Dense (per feature)", BatchNormalization(), (5,)),
        ("Rescaling 1/255", Rescaling(1 / 255, offset=-0.5), (4,)),
        ("Flatten", Flatten(), (3, 2, 2)),
        ("Dropout 0.4 (mask replayed)", Dropout(0.4, seed=3), (12,)),
        ("ReLU", ReLU(), (3, 4)),
        ("Sigmoid", Sigmoid(), (3, 4)),
        ("Tanh", Tanh(), (3, 4)),
        ("Softmax", Softmax(), (2, 5)),
        ("Linear", Linear(), (6,)),
        ("LeakyReLU 0.3", LeakyReLU(0.3), (3, 4)),
        ("Activation('tanh')", Activation("tanh"), (3, 4)),
    ]
    results = []
    for what, layer, shape in cases:
        layer.build(shape, rng=np.random.default_rng(seed), dtype=np.float64)
        for name, value in layer.params.items():
            if name in ("bias", "beta", "gamma"):  # constants at initialisation: make them tell
                value[...] += rng.standard_normal(value.shape) * 0.1
        results.append((what, check_gradients(layer, rng.standard_normal((2, *shape)), seed=seed)))

    probabilities = np.exp(rng.standard_normal((4, 5)))
    probabilities /= probabilities.sum(axis=1, keepdims=True)
    labels = np.array([0, 3, 3, 1])
    results.append(
        ("CategoricalCrossentropy", check_loss_gradient("categorical_crossentropy", probabilities, np.eye(5)[labels]))
    )
    results.append(
        ("SparseCategoricalCrossentropy", check_loss_gradient("sparse_categorical_crossentropy", probabilities, labels))
    )
    logits = rng.standard_normal((4, 5))
    for name, targets in (("CategoricalCrossentropy", np.eye(5)[labels]), ("SparseCategoricalCrossentropy", labels)):
        loss = getattr(losses_module, name)(from_logits=True)
        results.append((f"{name} from_logits", check_loss_gradient(loss, logits, targets)))
    results.append(
        ("MeanSquaredError", check_loss_gradient("mse", rng.standard_normal((4, 3)), rng.standard_normal((4, 3))))
    )

    for loss, targets in (("sparse_categorical_crossentropy", np.array([0, 2, 1])), ("mse", rng.random((3, 3)))):
        model = Model(name="small_cnn", seed=seed, dtype="float64")
        model.add(Conv2D(2, 3, padding="same", activation="tanh", input_shape=(6, 6, 1)))
        model.add(MaxPool2D(2))
        model.add(Flatten())
        model.add(Dropout(0.25))
        model.add(Dense(3, activation="softmax"))
        what = "model: softmax fused with cross-entropy" if loss != "mse" else "model: softmax then MSE"
        results.append((what, check_model_gradients(model, rng.standard_normal((3, 6, 6, 1)), targets, loss=loss)))
    return results


def main(argv=None) -> int:
    """Print the table of every built-in check; exit status 1 if any gradient is wrong."""
    from rich.console import Console
    from rich.table import Table

    table = Table(title="minidl gradient check: backward vs central differences (float64, eps=1e-6)")
    for column, justify in (
        ("check", "left"),
        ("tensor", "left"),
        ("shape", "left"),
        ("max abs err", "right"),
        ("max rel err", "right"),
        ("worst index", "left"),
        ("ok", "center"),
    ):
        table.add_column(column, justify=justify)
    results = builtin_checks()
    for what, report in results:
        for i, tensor in enumerate(report.tensors):
            table.add_row(
                what if i == 0 else "",
                tensor.name,
                "x".join(map(str, tensor.shape)),
                f"{tensor.max_abs_error:.1e}",
                f"{tensor.max_rel_error:.1e}",
                str(tensor.worst_index),
                "[green]yes[/]" if tensor.ok else "[red]NO[/]",
                end_section=i == len(report.tensors) - 1,
            )
    console = Console(width=None if Console().is_terminal else 120)
    console.print(table)
    failing = [report for _, report in results if not report.ok]
    for report in failing:
        console.print(f"[red]{report.message}[/]")
    tensors = sum(len(report.tensors) for _, report in results)
    console.print(f"{len(results) - len(failing)} of {len(results)} checks pass ({tensors} tensors).")
    return 1 if failing else 0


if __name__ == "__main__":
    raise SystemExit(main())

"""The checks: a layer, a whole model with its loss, a loss, and a layer's use of its last forward pass."""

from __future__ import annotations

import copy

import numpy as np

from .. import losses as losses_module
from ..layers import context as training_contexts
from ..layers.base import Layer
from ..layers.context import TrainingContext
from ..losses.outputs import OutputLosses
from ..ops.tape import Tape, Tensor, paused, recording, value_of
from ..trainers import data as data_checks
from ..utils import arrays
from .copies import Replay, float64_copy, float64_model
from .report import ATOL, EPS, RTOL, GradientCheckError, GradientReport, TensorReport, compare, numerical_gradient


def _entries(size, max_entries, rng):
    if max_entries is None or max_entries >= size:
        return np.arange(size)
    return np.sort(rng.choice(size, int(max_entries), replace=False))


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
    replay = Replay(layers)
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
    replay = Replay([twin])
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
    differences of the model's loss averaged over the batch: L = (1/N) Σ_n loss(model(x_n), y_n)
    (plus any regularization and added losses).

    Runs on a float64 copy of the model; `loss` (a name, a Loss or a function) defaults to the compiled
    one. The analytic side is the model's own training step, `forward_backward`, so what is checked is
    what trains: for a Sequential the layers' hand-written backward passes chained (the loss fused with
    a final softmax for the cross-entropies), for a functional or subclassed model the tape. Random
    layers draw from the step's context, the same on every pass. Tensors are named "layer.param".
    """
    loss = loss if loss is not None else model.loss
    if loss is None:
        raise ValueError(f"model {model.name!r} has no loss: compile it or pass loss=")
    twin = float64_model(model)
    several = isinstance(loss, OutputLosses)  # a model with several outputs: its own losses
    twin.compile(optimizer="sgd", loss=copy.deepcopy(loss if several else losses_module.get(loss)), metrics=[])
    x = data_checks.check_inputs(twin, _float64(x))
    y = data_checks.check_targets(twin, x, y)
    n = arrays.count(x)
    inputs = arrays.parts(x)

    def loss_value():
        return twin.forward_backward(x, y, None, n, step=0)[0] / n

    _, _, dx = twin.forward_backward(x, y, None, n, step=0, input_gradient=True)
    analytic = {
        (layer, name): np.array(g, copy=True) for layer in twin.weight_layers() for name, g in layer.grads.items()
    }
    report = GradientReport(f"model {model.name!r} with {twin.loss.name}")
    rng = np.random.default_rng(seed)
    for i, (part, grad) in enumerate(zip(inputs, dx if isinstance(x, tuple) else (dx,))):
        entries = _entries(part.size, max_entries, rng)
        label = "input" if len(inputs) == 1 else f"input {i}"
        report.tensors.append(
            compare(label, grad, numerical_gradient(loss_value, part, eps, entries), rtol, atol, entries)
        )
    for layer in twin.weight_layers():
        for name, param in layer.params.items():
            entries = _entries(param.size, max_entries, rng)
            numeric = numerical_gradient(loss_value, param, eps, entries)
            report.tensors.append(
                compare(f"{layer.name}.{name}", analytic[(layer, name)], numeric, rtol, atol, entries)
            )
    return report


def check_op_gradients(function, *inputs, seed: int = 0, rtol: float = RTOL, atol: float = ATOL, eps: float = EPS,
                       name=None, **settings) -> GradientReport:  # fmt: skip
    """Compare the backward of `function(*inputs, **settings)` — an op of `minidl.ops`, or any function
    of tensors written with them (a layer called on a list of inputs, a loss) — with central differences.

    The loss is L = Σ out ⊙ G for a fixed random G; the analytic side replays the tape the call recorded.
    """
    arrays_in = [_float64(a) for a in inputs]
    tape, tensors = Tape(), [Tensor(a.copy()) for a in arrays_in]
    # As in a training step: layers called inside keep what their backward needs.
    context = TrainingContext(step=0, positions=np.arange(len(arrays_in[0])) if arrays_in[0].ndim else np.arange(1))
    with recording(tape), training_contexts.stepping(context):
        out = function(*tensors, **settings)
    weights = np.random.default_rng(seed).standard_normal(np.shape(value_of(out)))
    found = tape.backward([out], [weights]) if isinstance(out, Tensor) else {}
    report = GradientReport(name or getattr(function, "__name__", "op"))
    for i, (array, tensor) in enumerate(zip(arrays_in, tensors)):

        def loss(array=array, i=i):
            values = [array if j == i else a for j, a in enumerate(arrays_in)]
            with paused(), training_contexts.stepping(context):
                return float(np.sum(np.asarray(value_of(function(*values, **settings))) * weights))

        analytic = found.get(id(tensor), np.zeros_like(array))
        report.tensors.append(compare(f"x{i + 1}", analytic, numerical_gradient(loss, array, eps), rtol, atol))
    return report


def _float64(x):
    if isinstance(x, (list, tuple)):
        return tuple(np.array(part, dtype=np.float64, copy=True, order="C") for part in x)
    return np.array(x, dtype=np.float64, copy=True, order="C")


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

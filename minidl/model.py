"""Model: a stack of layers with Keras's compile / fit / evaluate / predict.

All weights of a model live in one flat float vector (`model.parameters`) and all gradients in
another (`model.gradients`); every layer's `params` and `grads` are views into them (`minidl.flat`).
That makes an optimizer step one vectorised update, and lets the parallel runners share weights and
gradients between processes through a single buffer each.

What happens in one training step is `forward_backward`; the loops that call it for every batch are
in `minidl.training`, where it runs in `minidl.distributed`; Keras's conveniences around the stack
(Input, nesting, `model(x)`, weight lists, get_layer, pop) in `minidl.keras_model`.
"""

from __future__ import annotations

import secrets

import numpy as np

from . import checks, flat, keras_model, losses, metrics, optimizers, saving, summary, training
from .errors import ShapeError
from .input import FUNCTIONAL_API, Input
from .layers import Layer, naming
from .layers.context import TrainingContext

_global_seed: int | None = None


def set_seed(seed: int | None):
    """Seed every Model created afterwards without an explicit `seed=` (None: random again)."""
    global _global_seed
    _global_seed = checks.seed(seed, "set_seed: seed")


class Model:
    """A sequential network (`Sequential` is the same class); `Model(inputs, outputs)` is refused."""

    def __init__(self, layers=None, name=None, seed=None, dtype="float32", *, inputs=None, outputs=None, **kwargs):
        if (
            inputs is not None
            or outputs is not None
            or isinstance(layers, Input)
            or not isinstance(name, (str, type(None)))
        ):
            raise NotImplementedError(FUNCTIONAL_API)
        keras_model.check_constructor_kwargs(kwargs)
        self.name = name or naming.unique_name("sequential")
        if seed is None:
            seed = _global_seed if _global_seed is not None else secrets.randbits(31)
        self.seed = checks.seed(seed, "Model: seed")
        self.dtype = np.dtype(dtype).type
        self._init_rng = np.random.default_rng(self.seed)
        self.layers: list[Layer] = []
        self.parameters = np.zeros(0, self.dtype)
        self.gradients = np.zeros(0, self.dtype)
        self.optimizer = self.loss = self.training_loss = self.history = self.stop_reason = None
        self.metrics, self.compiled_metrics, self.stop_training = [], [], False
        self.target_layout = None  # set by fit while targets carry sample weights (see minidl.sample_weights)
        for layer in layers or []:
            self.add(layer)

    # ----- building -----
    def add(self, layer: Layer):
        """Append a layer, a `minidl.Input` (fixes the input shape) or a whole model (its layers, shared)."""
        if keras_model.add_special(self, layer):
            return self
        if not isinstance(layer, Layer):
            raise TypeError(f"Model.add expects a Layer, an Input or a Model, got {type(layer).__name__}")
        if any(existing is layer for existing in self.layers):
            raise ValueError(f"layer {layer.name!r} is already in model {self.name!r}")
        previous = self.layers[-1].output_shape if self.layers else keras_model.pending_input(self, layer)
        declared = layer.input_shape
        self.layers.append(layer)
        if previous is not None:
            try:
                self._build_layer(layer, previous)
            except ShapeError:
                # Leave model and layer as they were, so a corrected layer (or this one) can be added next.
                self.layers.pop()
                layer.input_shape, layer.built = declared, False
                raise
        if self.loss is not None:
            self.training_loss = losses.for_output(self.loss, self.layers)
        return self

    def _build_layer(self, layer, input_shape):
        try:
            # A layer built for this shape (one of a nested model's) keeps its weights.
            if not (layer.built and layer.input_shape == tuple(input_shape) and layer.dtype == self.dtype):
                layer.build(input_shape, rng=self._init_rng, dtype=self.dtype)
        except ShapeError as error:
            position = next(i for i, existing in enumerate(self.layers, 1) if existing is layer)
            raise ShapeError(f"cannot add layer {position} to model {self.name!r}: {error}") from None
        flat.pack(self)
        # dL/dx is needed only above the first layer with weights: below it nothing is left to train.
        with_weights = [bool(each.params) for each in self.layers]
        for index, each in enumerate(self.layers):
            each.needs_input_grad = any(with_weights[:index])

    def build(self, input_shape):
        """Build every layer for `input_shape` (without batch axis; Keras's `(None, ...)` accepted)."""
        shape, fresh = keras_model.without_batch_axis(input_shape), []
        try:
            for layer in self.layers:
                if not layer.built:
                    fresh.append((layer, layer.input_shape))
                    self._build_layer(layer, shape)
                shape = layer.output_shape
        except ShapeError:
            # Unbuild what this call built, so data of the right shape can still build the model later.
            for layer, declared in fresh:
                layer.input_shape, layer.built = declared, False
            raise
        return shape

    @property
    def built(self):
        return bool(self.layers) and all(layer.built for layer in self.layers)

    input_shape = property(lambda self: self.layers[0].input_shape if self.layers else None)
    output_shape = property(lambda self: self.layers[-1].output_shape if self.layers else None)

    def count_params(self) -> int:
        """Total number of weights, trainable and not (as Keras counts them)."""
        return int(self.parameters.size + sum(w.size for w in self.non_trainable_weights))

    # Keras's views of the stack; see minidl.keras_model.
    weights = property(keras_model.weights, doc="Every weight array (live), trainable first per layer.")
    trainable_weights = property(keras_model.trainable_weights, doc="The trainable weight arrays (live).")
    non_trainable_weights = property(keras_model.non_trainable_weights, doc="Non-trainable state arrays.")
    get_layer = keras_model.get_layer
    pop = keras_model.pop
    __call__ = keras_model.call

    # ----- compiling -----
    def compile(self, optimizer="sgd", loss="sparse_categorical_crossentropy", metrics=None, **kwargs):
        """Choose the optimizer, loss and metrics (names, classes or functions), as in Keras.

        Without `metrics`, a cross-entropy loss gets "accuracy" (minidl's default; Keras adds none).
        """
        keras_model.refuse_custom_steps(self)
        keras_model.check_compile_kwargs(kwargs)
        self.optimizer = optimizers.get(optimizer)
        self.loss = losses.get(loss)
        self.compiled_metrics = keras_model.resolve_metrics(self.loss, metrics)
        self.metrics = [m.name for m in self.compiled_metrics]
        self.training_loss = losses.for_output(self.loss, self.layers)
        return self

    metrics_names = property(lambda self: ["loss", *self.metrics], doc="The order of `evaluate`'s list.")

    # ----- one step -----
    def forward(self, x, training=False):
        """Run the layers on a batch and return the output (`training`: False, or a TrainingContext)."""
        for layer in self.layers:
            x = layer.forward(x, training)
        return x

    def forward_backward(self, x, y, denominator, step=0, positions=None):
        """One batch (or shard of a batch) through the network and back; returns (loss sum, metric sums).

        Leaves in `self.gradients` d(sum of the samples' losses)/d(weights) / `denominator`. With
        `denominator` the whole batch size, the gradients of a batch's shards add up to the batch's mean
        gradient — which is how the distributed runners split a batch. `positions` are the samples'
        places in the whole batch (default 0..len(x)-1), `step` the optimizer step: with the model's
        seed they fix Dropout's masks however the batch is split. Metric sums: one number per compiled
        metric (a float for one metric, an array for several, 0 for none), so shards add up.
        """
        positions = np.arange(len(x)) if positions is None else positions
        context = TrainingContext(step=step, positions=positions, seed=self.seed, layers=tuple(self.layers))
        y, weights = (y, None) if self.target_layout is None else self.target_layout.unpack(y)
        out = self.forward(x, training=context)
        if weights is None:
            loss_sum = self.training_loss.total(out, y)
        else:
            loss_sum = float(self.training_loss.per_sample(out, y) @ weights)
        sums = metrics.sums(self.compiled_metrics, out, y)
        grad = self.training_loss.gradient(out, y, denominator)
        if weights is not None:
            grad *= weights.reshape(-1, *([1] * (grad.ndim - 1)))
        for layer in reversed(self.layers):
            grad = layer.backward(grad)
            if grad is None:  # a layer that needs no input gradient: no weights below it
                break
        return loss_sum, sums

    def train_on_batch(self, x, y, sample_weight=None, class_weight=None, return_dict=False):
        """One optimizer step on one batch; returns the batch's loss and metrics before the step."""
        return training.train_on_batch(self, x, y, sample_weight, class_weight, return_dict)

    test_on_batch = keras_model.test_on_batch
    predict_on_batch = keras_model.predict_on_batch

    predict_in_batches = keras_model.predict_in_batches  # every runner's workers call it too

    # ----- training, evaluating, predicting -----
    def fit(self, x=None, y=None, batch_size=None, epochs=1, verbose="auto", callbacks=None, **options):
        """Train for `epochs` passes over (x, y); returns a History with per-epoch metrics.

        Keras 3's options: validation_split, validation_data, shuffle, class_weight, sample_weight,
        initial_epoch, steps_per_epoch, validation_batch_size, validation_freq. minidl's own:
        `workers=N` splits every batch's gradient across N processes (same mathematics; a
        `minidl.distributed.WorkerPool` may be passed instead), `backend=` "pool" or "mpi",
        `threads` (BLAS threads per process), `step_timeout` (see `minidl.distributed.WorkerPool`).
        """
        self.history = training.fit(self, x, y, batch_size, epochs, verbose, callbacks, **options)
        return self.history

    def evaluate(self, x=None, y=None, batch_size=None, verbose="auto", sample_weight=None, callbacks=None, **options):
        """Mean loss and metrics on (x, y): `[loss, *metrics]` (the loss alone without metrics), or a dict
        with `return_dict=True`."""
        return training.evaluate(self, x, y, batch_size, verbose, sample_weight, callbacks, **options)

    def predict(self, x, batch_size=None, verbose="auto", steps=None, callbacks=None, workers=1, threads=None):
        """Model outputs for `x`, computed in batches (default 32; the size does not change results)."""
        return training.predict(self, x, batch_size, verbose, steps, callbacks, workers, threads)

    # ----- weights -----
    def get_weights(self) -> list[np.ndarray]:
        """Copies of all weights in layer order (Keras's shapes; per layer trainable then non-trainable)."""
        return [np.array(w, copy=True) for w in self.weights]

    def set_weights(self, weights):
        """Replace all weights; shapes must match `get_weights()` exactly."""
        keras_model.set_weights(self, weights)

    save_weights = keras_model.save_weights
    load_weights = keras_model.load_weights

    # ----- describing, saving -----
    summary_rows = summary.summary_rows
    get_config = saving.model_config
    from_config = classmethod(saving.model_from_config)

    def summary(self, line_length=None, positions=None, print_fn=None, console=None, **kwargs):
        """Print Keras's table: each layer, its output shape and parameters, then the totals."""
        summary.print_summary(self, console, print_fn)

    def save(self, path, overwrite=True):
        """Write architecture (JSON) and weights to one zip file (`.keras` or `.npz`); no pickled objects."""
        saving.save_model(self, path)

    @classmethod
    def load(cls, path) -> Model:
        """Read a model written by `save`; files holding pickled objects are refused."""
        return saving.load_model(cls, path)


Sequential = Model
saving.use_model_class(Model)

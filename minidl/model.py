"""Model: a stack of layers with Keras's compile / fit / evaluate / predict.

All weights of a model live in one flat float vector (`model.parameters`) and all gradients in
another (`model.gradients`); every layer's `params` and `grads` are views into them (`minidl.flat`).
That makes an optimizer step one vectorised update, and lets the parallel runners share weights and
gradients between processes through a single buffer each.

What happens in one training step is `forward_backward`; the loops that call it for every batch are
in `minidl.training`, and where it runs (this process, worker processes, MPI ranks) is decided in
`minidl.distributed`.
"""

from __future__ import annotations

import secrets

import numpy as np

from . import data_checks, flat, losses, metrics, optimizers, saving, summary, training
from .errors import ShapeError
from .layers import Layer
from .layers.context import TrainingContext

_global_seed: int | None = None


def set_seed(seed: int | None):
    """Seed every Model created afterwards without an explicit `seed=` (None: random again)."""
    global _global_seed
    _global_seed = None if seed is None else int(seed)


class Model:
    """A sequential network. `Sequential` is the same class under Keras's name."""

    def __init__(self, layers=None, name: str = "model", seed: int | None = None, dtype="float32"):
        self.name = name
        if seed is None:
            seed = _global_seed if _global_seed is not None else secrets.randbits(31)
        self.seed = int(seed)
        self.dtype = np.dtype(dtype).type
        self._init_rng = np.random.default_rng(self.seed)
        self.layers: list[Layer] = []
        self.parameters = np.zeros(0, self.dtype)
        self.gradients = np.zeros(0, self.dtype)
        self.optimizer = self.loss = self.training_loss = None
        self.metrics: list[str] = []
        self.stop_training = False
        self.stop_reason = None
        for layer in layers or []:
            self.add(layer)

    # ----- building -----
    def add(self, layer: Layer):
        """Append a layer; its shapes are checked at once when the input shape is known."""
        if not isinstance(layer, Layer):
            raise TypeError(f"Model.add expects a Layer, got {type(layer).__name__}")
        if any(existing is layer for existing in self.layers):
            raise ValueError(f"layer {layer.name!r} is already in model {self.name!r}")
        previous = self.layers[-1].output_shape if self.layers else layer.input_shape
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
        """Build every layer for `input_shape` (without batch axis) if `add` could not yet."""
        shape, fresh = tuple(input_shape), []
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

    @property
    def input_shape(self):
        return self.layers[0].input_shape if self.layers else None

    @property
    def output_shape(self):
        return self.layers[-1].output_shape if self.layers else None

    def count_params(self) -> int:
        """Total number of weights, trainable and not (as Keras counts them)."""
        return int(sum(layer.count_params() for layer in self.layers))

    # ----- compiling -----
    def compile(self, optimizer="sgd", loss="sparse_categorical_crossentropy", metrics=("accuracy",)):
        """Choose the optimizer, loss and metrics (names or objects), as in Keras."""
        self.optimizer = optimizers.get(optimizer)
        self.loss = losses.get(loss)
        requested = [metrics] if isinstance(metrics, str) else list(metrics or [])
        unknown = [m for m in requested if m not in _known_metrics()]
        if unknown:
            raise ValueError(f"unknown metric(s) {unknown}; known metrics: {sorted(_known_metrics())}")
        self.metrics = ["accuracy"] if requested else []
        self.training_loss = losses.for_output(self.loss, self.layers)
        return self

    # ----- one step -----
    def forward(self, x, training=False):
        """Run the layers on a batch and return the output (`training`: False, or a TrainingContext)."""
        for layer in self.layers:
            x = layer.forward(x, training)
        return x

    def forward_backward(self, x, y, denominator, step=0, positions=None):
        """One batch (or shard of a batch) through the network and back; returns (loss sum, correct count).

        Leaves in `self.gradients` d(sum of the samples' losses)/d(weights) / `denominator`. With
        `denominator` the whole batch size, the gradients of a batch's shards add up to the batch's mean
        gradient — which is how the distributed runners split a batch. `positions` are the samples'
        places in the whole batch (default 0..len(x)-1), `step` the optimizer step: with the model's
        seed they fix Dropout's masks however the batch is split.
        """
        positions = np.arange(len(x)) if positions is None else positions
        context = TrainingContext(step=step, positions=positions, seed=self.seed, layers=tuple(self.layers))
        out = self.forward(x, training=context)
        loss_sum = self.training_loss.total(out, y)
        correct = metrics.correct_count(out, y)
        grad = self.training_loss.gradient(out, y, denominator)
        for layer in reversed(self.layers):
            grad = layer.backward(grad)
            if grad is None:  # a layer that needs no input gradient: no weights below it
                break
        return loss_sum, correct

    def train_on_batch(self, x, y):
        """One optimizer step on one batch; returns {"loss", "accuracy"} of the batch before the step."""
        data_checks.require_compiled(self, "train_on_batch")
        x = data_checks.check_inputs(self, x)
        y = data_checks.check_targets(self, x, y)
        loss_sum, correct = self.forward_backward(x, y, len(x), self.optimizer.iterations)
        self.optimizer.step(self.parameters, self.gradients)
        return {"loss": loss_sum / len(x), "accuracy": correct / len(x)}

    def predict_in_batches(self, x, batch_size):
        """Outputs for `x` in batches, in this process (every runner's workers call this too)."""
        out = np.empty((len(x), *self.output_shape), self.dtype)
        for start in range(0, len(x), batch_size):
            out[start : start + batch_size] = self.forward(x[start : start + batch_size], training=False)
        return out

    # ----- training, evaluating, predicting -----
    def fit(
        self,
        x,
        y,
        batch_size=32,
        epochs=1,
        verbose=1,
        callbacks=None,
        validation_split=0.0,
        validation_data=None,
        shuffle=True,
        workers=1,
        backend="pool",
        threads=None,
        step_timeout=None,
        initial_epoch=0,
    ):
        """Train for `epochs` passes over (x, y); returns a History with per-epoch metrics.

        `workers=N` splits every batch's gradient across N processes (same mathematics);
        a `minidl.distributed.WorkerPool` may be passed instead to reuse one across calls. `threads`:
        BLAS threads per process (default 1); `step_timeout`: see `minidl.distributed.WorkerPool`.
        """
        return training.fit(
            self,
            x,
            y,
            batch_size=batch_size,
            epochs=epochs,
            verbose=verbose,
            callbacks=callbacks,
            validation_split=validation_split,
            validation_data=validation_data,
            shuffle=shuffle,
            workers=workers,
            backend=backend,
            threads=threads,
            step_timeout=step_timeout,
            initial_epoch=initial_epoch,
        )

    def evaluate(self, x, y, batch_size=None, verbose=0, callbacks=None, workers=1, return_dict=False, threads=None):
        """Mean loss and accuracy on (x, y): `[loss, accuracy]`, or a dict with `return_dict=True`."""
        logs = training.evaluate(self, x, y, batch_size, verbose, callbacks, workers, threads)
        return logs if return_dict else [logs[k] for k in ("loss", "accuracy") if k in logs]

    def predict(self, x, batch_size=None, verbose=0, workers=1, threads=None):
        """Model outputs for `x`, computed in batches (default 256; the size does not change results)."""
        return training.predict(self, x, batch_size=batch_size, workers=workers, threads=threads)

    # ----- weights -----
    def get_weights(self) -> list[np.ndarray]:
        """Copies of all weights in layer order, in Keras's shapes and order (kernel, bias, then any
        non-trainable state such as BatchNormalization's moving mean and variance)."""
        return [weight for layer in self.layers for weight in layer.get_weights()]

    def set_weights(self, weights):
        """Replace all weights; count and shapes must match `get_weights()` exactly (nothing is written otherwise)."""
        counts = [len(layer.get_weights()) for layer in self.layers]
        if len(weights) != sum(counts):
            raise ValueError(f"model {self.name!r} has {sum(counts)} weight arrays, got {len(weights)}")
        pieces, start = [], 0
        for layer, count in zip(self.layers, counts):
            pieces.append((layer, list(weights[start : start + count])))
            start += count
        for layer, piece in pieces:
            for key, current, new in zip([*layer.params, *layer.states], layer.get_weights(), piece):
                if np.shape(new) != current.shape:
                    raise ShapeError(
                        f"weight {key!r} of layer {layer.name!r} has shape {current.shape}, got {np.shape(new)}"
                    )
        for layer, piece in pieces:
            layer.set_weights(piece)

    # ----- describing, saving -----
    def summary_rows(self) -> list[dict]:
        """One dict per layer: name, class, output shape, parameter count."""
        return summary.summary_rows(self)

    def summary(self, console=None):
        """Print a rich table: each layer, its output shape and parameters, and the total."""
        summary.print_summary(self, console)

    def get_config(self) -> dict:
        """Everything needed to rebuild the model without its weights (see `minidl.saving`)."""
        return saving.model_config(self)

    @classmethod
    def from_config(cls, config: dict) -> Model:
        """Rebuild (and compile, if it was) a model from `get_config()`; weights are fresh."""
        return saving.model_from_config(cls, config)

    def save(self, path):
        """Write architecture (JSON) and weights to an `.npz` file; no pickled objects."""
        saving.save_model(self, path)

    @classmethod
    def load(cls, path) -> Model:
        """Read a model written by `save`; files holding pickled objects are refused."""
        return saving.load_model(cls, path)


def _known_metrics():
    return metrics.METRICS


Sequential = Model
saving.use_model_class(Model)

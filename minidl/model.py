"""Model: a stack of layers with Keras's compile / fit / evaluate / predict.

All weights of a model live in one flat float vector (`model.parameters`) and all gradients in
another (`model.gradients`); every layer's `params` and `grads` are views into them. That makes an
optimizer step one vectorised update, and lets the parallel pool share weights and gradients
between processes through a single shared buffer each.
"""

from __future__ import annotations

import copy
import json
import os
import secrets
import zipfile

import numpy as np

from . import losses, metrics, optimizers
from .errors import NotCompiledError, ShapeError, UnknownNameError
from .layers import LAYER_CLASSES, Layer
from .layers.activations import Softmax

_global_seed: int | None = None
FORMAT = "minidl-model-1"


def set_seed(seed: int | None):
    """Seed every Model created afterwards without an explicit `seed=` (None: random again)."""
    global _global_seed
    _global_seed = None if seed is None else int(seed)


class Model:
    """A sequential network. `Sequential` is the same class under Keras's name."""

    def __init__(self, layers=None, name: str = "model", seed: int | None = None, dtype="float32"):
        self.name = name
        self.seed = (
            int(seed) if seed is not None else (_global_seed if _global_seed is not None else secrets.randbits(31))
        )
        self.dtype = np.dtype(dtype).type
        self._init_rng = np.random.default_rng(self.seed)
        self.layers: list[Layer] = []
        self.parameters = np.zeros(0, self.dtype)
        self.gradients = np.zeros(0, self.dtype)
        self.optimizer = self.loss = None
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
            self._fuse_softmax_with_loss()
        return self

    def _build_layer(self, layer, input_shape):
        try:
            layer.build(input_shape, rng=self._init_rng, dtype=self.dtype)
        except ShapeError as error:
            position = next(i for i, existing in enumerate(self.layers, 1) if existing is layer)
            raise ShapeError(f"cannot add layer {position} to model {self.name!r}: {error}") from None
        layer.needs_input_grad = layer is not self.layers[0]
        self._pack_weights()

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

    def _pack_weights(self):
        """Move every weight and gradient into the model's two flat vectors (layers keep views)."""
        total = sum(p.size for layer in self.layers for p in layer.params.values())
        parameters = np.empty(total, self.dtype)
        for (layer, key), view in self._weight_views(parameters):
            view[...] = layer.params[key]
        self._bind(parameters, np.zeros(total, self.dtype))

    def _weight_views(self, flat):
        """(layer, weight name) with the matching view of `flat`, in layer order, kernel before bias."""
        offset = 0
        for layer in self.layers:
            for key, array in layer.params.items():
                yield (layer, key), flat[offset : offset + array.size].reshape(array.shape)
                offset += array.size

    def _bind(self, parameters, gradients):
        for (layer, key), view in self._weight_views(parameters):
            layer.params[key] = view
        for (layer, key), view in self._weight_views(gradients):
            layer.grads[key] = view
        self.parameters, self.gradients = parameters, gradients

    def use_buffers(self, parameters: np.ndarray, gradients: np.ndarray, keep_values=True):
        """Make `parameters`/`gradients` (flat, e.g. shared memory) the model's storage.

        With `keep_values` the model's current values are copied in; without, the model adopts the
        buffers' values (how a worker's replica takes the parent's weights).
        """
        for buffer in (parameters, gradients):
            if buffer.shape != self.parameters.shape or buffer.dtype != self.parameters.dtype:
                raise ValueError(
                    f"buffer of shape {buffer.shape} and dtype {buffer.dtype} cannot hold the "
                    f"{self.parameters.size} {self.parameters.dtype} weights of model {self.name!r}"
                )
        if keep_values:
            parameters[...] = self.parameters
            gradients[...] = self.gradients
        self._bind(parameters, gradients)

    def replica_blueprint(self) -> Model:
        """A copy to pickle for a worker process: layers and settings, without optimizer state."""
        replica = copy.copy(self)
        replica.optimizer = None
        return replica

    def count_params(self) -> int:
        """Total number of trainable numbers."""
        return int(self.parameters.size)

    # ----- compiling -----
    def compile(self, optimizer="sgd", loss="sparse_categorical_crossentropy", metrics=("accuracy",)):
        """Choose the optimizer, loss and metrics (names or objects), as in Keras."""
        self.optimizer = optimizers.get(optimizer)
        self.loss = losses.get(loss)
        metrics = [metrics] if isinstance(metrics, str) else list(metrics or [])
        unknown = [m for m in metrics if m not in _known_metrics()]
        if unknown:
            raise ValueError(f"unknown metric(s) {unknown}; known metrics: {sorted(_known_metrics())}")
        self.metrics = ["accuracy"] if metrics else []
        self._fuse_softmax_with_loss()
        return self

    def _fuse_softmax_with_loss(self):
        """Fuse a final softmax with a cross-entropy loss; any other softmax keeps its own derivative."""
        for layer in self.layers:
            if isinstance(getattr(layer, "activation", layer), Softmax):
                getattr(layer, "activation", layer).fused_with_loss = False
        last = self.layers[-1] if self.layers else None
        softmax = getattr(last, "activation", last)
        fuse = isinstance(softmax, Softmax) and isinstance(
            self.loss, (losses.CategoricalCrossentropy, losses.SparseCategoricalCrossentropy)
        )
        self.loss.fused_with_softmax = fuse
        if isinstance(softmax, Softmax):
            softmax.fused_with_loss = fuse

    def _require_compiled(self, what):
        if self.loss is None:
            raise NotCompiledError(
                f"model {self.name!r} must be compiled before {what}: call model.compile(optimizer=..., loss=...) first"
            )

    # ----- data checks -----
    def check_inputs(self, x, argument="x") -> np.ndarray:
        """Return `x` as the model's float dtype, or raise a clear error about its shape or values."""
        if not self.layers:
            raise ValueError(f"model {self.name!r} has no layers: add some before using it")
        x = np.asarray(x)
        if x.dtype.kind not in "fiub":
            raise TypeError(f"{argument} must hold numbers, got dtype {x.dtype}")
        with np.errstate(over="ignore", invalid="ignore"):
            x = x.astype(self.dtype, copy=False)
        if not self.built:
            self.build(x.shape[1:])
        if x.ndim != len(self.input_shape) + 1 or x.shape[1:] != self.input_shape:
            raise ShapeError(
                f"model {self.name!r} expects {argument} of shape (N, "
                f"{', '.join(map(str, self.input_shape))}), got {x.shape}"
            )
        if len(x) == 0:
            raise ValueError(f"{argument} is empty")
        if not np.all(np.isfinite(x)):
            raise ValueError(
                f"{argument} contains NaN or infinite values (or values too large for {np.dtype(self.dtype).name})"
            )
        return x

    def check_targets(self, x, y, argument="y"):
        """Validate labels for the compiled loss; x and y must have the same number of samples.

        Float targets are cast to the model's dtype, so float64 one-hot labels do not turn a float32
        model's backward pass into float64.
        """
        y = self.loss.check_targets(y, self.output_shape)
        if y.dtype.kind == "f":
            y = y.astype(self.dtype, copy=False)
        if len(y) != len(x):
            raise ShapeError(f"x has {len(x)} samples but {argument} has {len(y)}")
        return y

    # ----- one step -----
    def forward(self, x, training=False):
        """Run the layers on a batch and return the output."""
        for layer in self.layers:
            x = layer.forward(x, training)
        return x

    def accumulate_gradients(self, x, y, denominator, step=0, positions=None):
        """Forward and backward on a batch (or a shard of one): fills `gradients`, returns (loss sum, correct).

        Gradients are d(sum of shard losses)/d(weights) / `denominator`; with denominator = the whole
        batch size, the shards' gradients add up to the batch's mean gradient.
        """
        positions = np.arange(len(x)) if positions is None else positions
        for index, layer in enumerate(self.layers):
            if getattr(layer, "uses_noise", False):
                layer.noise_context = (self.seed * 1000 + index, step, positions)
        out = self.forward(x, training=True)
        loss_sum = self.loss.total(out, y)
        correct = metrics.correct_count(out, y)
        grad = self.loss.gradient(out, y, denominator)
        for layer in reversed(self.layers):
            grad = layer.backward(grad)
        return loss_sum, correct

    def train_on_batch(self, x, y):
        """One optimizer step on one batch; returns {"loss", "accuracy"} of the batch before the step."""
        self._require_compiled("train_on_batch")
        x = self.check_inputs(x)
        y = self.check_targets(x, y)
        step = self.optimizer.iterations
        loss_sum, correct = self.accumulate_gradients(x, y, len(x), step)
        self.optimizer.step(self.parameters, self.gradients)
        return {"loss": loss_sum / len(x), "accuracy": correct / len(x)}

    # ----- training -----
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
    ):
        """Train for `epochs` passes over (x, y); returns a History with per-epoch metrics.

        `workers=N` splits every batch's gradient across N processes (same mathematics);
        a `minidl.parallel.WorkerPool` may be passed instead to reuse one across calls.
        """
        from .training import train

        return train(
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
        )

    def evaluate(self, x, y, batch_size=None, verbose=0, callbacks=None, workers=1, return_dict=False):
        """Mean loss and accuracy on (x, y): `[loss, accuracy]`, or a dict with `return_dict=True`."""
        from .training import evaluate

        logs = evaluate(self, x, y, batch_size=batch_size, verbose=verbose, callbacks=callbacks, workers=workers)
        return logs if return_dict else [logs[k] for k in ("loss", "accuracy") if k in logs]

    def predict(self, x, batch_size=None, verbose=0, workers=1):
        """Model outputs for `x`, computed in batches (default 256; the size does not change results)."""
        from .training import predict

        return predict(self, x, batch_size=batch_size, workers=workers)

    def predict_on_shard(self, x, batch_size):
        """Outputs for `x` in batches, in this process (the pool's workers call this too)."""
        out = np.empty((len(x), *self.output_shape), self.dtype)
        for start in range(0, len(x), batch_size):
            out[start : start + batch_size] = self.forward(x[start : start + batch_size], training=False)
        return out

    # ----- weights -----
    def get_weights(self) -> list[np.ndarray]:
        """Copies of all weights in layer order (kernel then bias), in Keras's shapes."""
        return [view.copy() for _, view in self._weight_views(self.parameters)]

    def set_weights(self, weights):
        """Replace all weights; shapes must match `get_weights()` exactly."""
        views = list(self._weight_views(self.parameters))
        if len(weights) != len(views):
            raise ValueError(f"model {self.name!r} has {len(views)} weight arrays, got {len(weights)}")
        for ((layer, key), view), new in zip(views, weights):
            new = np.asarray(new)
            if new.shape != view.shape:
                raise ShapeError(f"weight {key!r} of layer {layer.name!r} has shape {view.shape}, got {new.shape}")
        for (_, view), new in zip(views, weights):
            view[...] = new

    # ----- describing -----
    def summary_rows(self) -> list[dict]:
        """One dict per layer: name, class, output shape, parameter count."""
        return [
            {
                "name": layer.name,
                "class": type(layer).__name__,
                "output_shape": list(layer.output_shape) if layer.output_shape else None,
                "params": layer.count_params(),
            }
            for layer in self.layers
        ]

    def summary(self, console=None):
        """Print a rich table: each layer, its output shape and parameters, and the total."""
        from rich.console import Console
        from rich.table import Table

        table = Table(title=f"Model: {self.name}", show_footer=True)
        table.add_column("Layer (type)", footer="Total", style="cyan")
        table.add_column("Output shape")
        table.add_column("Param #", justify="right", footer=f"{self.count_params():,}")
        for row in self.summary_rows():
            shape = "(None, " + ", ".join(map(str, row["output_shape"] or ["?"])) + ")"
            table.add_row(f"{row['name']} ({row['class']})", shape, f"{row['params']:,}")
        (console or Console()).print(table)

    def get_config(self) -> dict:
        """Everything needed to rebuild the model without its weights."""
        return {
            "format": FORMAT,
            "name": self.name,
            "seed": self.seed,
            "dtype": np.dtype(self.dtype).name,
            "layers": [{"class": type(layer).__name__, "config": layer.get_config()} for layer in self.layers],
            "optimizer": self.optimizer.get_config() if self.optimizer else None,
            "loss": self.loss.name if self.loss else None,
            "metrics": self.metrics,
        }

    @classmethod
    def from_config(cls, config: dict) -> Model:
        """Rebuild (and compile, if it was) a model from `get_config()`; weights are fresh."""
        model = cls(name=config["name"], seed=config["seed"], dtype=config.get("dtype", "float32"))
        for entry in config["layers"]:
            if entry["class"] not in LAYER_CLASSES:
                raise UnknownNameError(f"unknown layer class {entry['class']!r}; known: {sorted(LAYER_CLASSES)}")
            model.add(LAYER_CLASSES[entry["class"]](**entry["config"]))
        if config.get("loss"):
            model.compile(optimizer=config["optimizer"], loss=config["loss"], metrics=config.get("metrics"))
        return model

    def save(self, path):
        """Write architecture (JSON) and weights to an `.npz` file; no pickled objects."""
        path = os.fspath(path)
        directory = os.path.dirname(os.path.abspath(path))
        temporary = os.path.join(directory, f".{os.path.basename(path)}.{os.getpid()}.tmp.npz")
        arrays = {f"weight_{i}": w for i, w in enumerate(self.get_weights())}
        np.savez(temporary, config=np.array(json.dumps(self.get_config())), **arrays)
        os.replace(temporary, path)

    @classmethod
    def load(cls, path) -> Model:
        """Read a model written by `save`; files holding pickled objects are refused.

        Anything but a zip (.npz) archive is refused before numpy opens it, because `np.load` treats
        an unknown file as a pickle.
        """
        path = os.fspath(path)
        try:
            with open(path, "rb") as file:
                magic = file.read(4)
        except FileNotFoundError:
            raise FileNotFoundError(f"model file not found: {path}") from None
        if magic[:1] == b"\x80":
            raise ValueError(
                f"{path}: refused, the file is a Python pickle, which minidl never loads (it can run arbitrary code)"
            )
        if magic != b"PK\x03\x04":
            raise ValueError(f"{path}: not a minidl model file (not an .npz archive)")
        try:
            with np.load(path, allow_pickle=False) as archive:
                config = json.loads(str(archive["config"])) if "config" in archive.files else None
                weights = [archive[f"weight_{i}"] for i in range(len(archive.files) - 1)] if config else []
        except ValueError as error:
            if "allow_pickle" in str(error) or "Object arrays" in str(error):
                raise ValueError(
                    f"{path}: refused, the file holds pickled Python objects, which minidl "
                    "never loads (they can run arbitrary code)"
                ) from None
            raise ValueError(f"{path}: not a readable minidl model file ({error})") from None
        except (OSError, EOFError, zipfile.BadZipFile, KeyError) as error:
            raise ValueError(f"{path}: not a readable minidl model file ({error})") from None
        if config is None:
            raise ValueError(f"{path}: not a minidl model file (no 'config' entry)")
        if not isinstance(config, dict) or config.get("format") != FORMAT:
            found = config.get("format") if isinstance(config, dict) else None
            raise ValueError(f"{path}: unknown model format {found!r} (expected {FORMAT!r})")
        model = cls.from_config(config)
        model.set_weights(weights)
        return model


def _known_metrics():
    return metrics.METRICS


Sequential = Model

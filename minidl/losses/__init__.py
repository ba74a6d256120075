"""`minidl.losses`: Keras's losses, as classes, names and functions.

`loss.py` holds the contract (sums of per-sample losses, gradients over a denominator),
`crossentropy.py` the cross-entropies and `regression.py` MSE, MAE and Huber. Keras's function forms,
e.g. `losses.sparse_categorical_crossentropy(y_true, y_pred, from_logits=False)`, return the loss of
every sample.
"""

from __future__ import annotations

import numpy as np

from ..errors import lookup
from ..ops.symbolic import KerasTensor
from ..ops.tape import Tensor
from .crossentropy import (
    BinaryCrossentropy,
    CategoricalCrossentropy,
    CrossEntropy,
    SoftmaxCrossEntropy,
    SparseCategoricalCrossentropy,
)
from .loss import FunctionLoss, Loss
from .regression import Huber, MeanAbsoluteError, MeanSquaredError

__all__ = [
    "Loss",
    "FunctionLoss",
    "CategoricalCrossentropy",
    "SparseCategoricalCrossentropy",
    "BinaryCrossentropy",
    "MeanSquaredError",
    "MeanAbsoluteError",
    "Huber",
    "get",
]

CLASSIFICATION_LOSSES = (CrossEntropy, BinaryCrossentropy, SoftmaxCrossEntropy)
LOSS_CLASSES = (
    CategoricalCrossentropy,
    SparseCategoricalCrossentropy,
    BinaryCrossentropy,
    MeanSquaredError,
    MeanAbsoluteError,
    Huber,
)

LOSSES = {
    "categorical_crossentropy": CategoricalCrossentropy,
    "sparse_categorical_crossentropy": SparseCategoricalCrossentropy,
    "binary_crossentropy": BinaryCrossentropy,
    "mse": MeanSquaredError,
    "mean_squared_error": MeanSquaredError,
    "mae": MeanAbsoluteError,
    "mean_absolute_error": MeanAbsoluteError,
    "huber": Huber,
}


def _per_sample_function(cls, name):
    def function(y_true, y_pred, **options):
        loss = cls(**options)
        if isinstance(y_pred, (Tensor, KerasTensor)):
            return loss.per_sample_tensor(y_true, y_pred)  # differentiable inside a user's loss
        y_pred = np.asarray(y_pred)
        return loss.per_sample(y_pred.astype(np.float64), loss.check_targets(y_true, y_pred.shape[1:]))

    function.__name__ = function.__qualname__ = name
    function.__doc__ = f"Keras's function form of {cls.__name__}: the loss of every sample, shape (N,)."
    function.loss_class = cls
    return function


categorical_crossentropy = _per_sample_function(CategoricalCrossentropy, "categorical_crossentropy")
sparse_categorical_crossentropy = _per_sample_function(SparseCategoricalCrossentropy, "sparse_categorical_crossentropy")
binary_crossentropy = _per_sample_function(BinaryCrossentropy, "binary_crossentropy")
mean_squared_error = mse = _per_sample_function(MeanSquaredError, "mean_squared_error")
mean_absolute_error = mae = _per_sample_function(MeanAbsoluteError, "mean_absolute_error")
huber = _per_sample_function(Huber, "huber")


def get(loss) -> Loss:
    """A loss from a name, a class, an instance or one of the function forms above."""
    if isinstance(loss, Loss):
        return loss
    if isinstance(loss, type) and issubclass(loss, Loss):
        return loss()
    if callable(loss):
        if hasattr(loss, "loss_class"):
            return loss.loss_class()
        return FunctionLoss(loss)  # a user's `loss(y_true, y_pred)` written with minidl.ops
    return lookup("loss", loss, LOSSES)()

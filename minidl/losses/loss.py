"""Loss: the contract every loss follows, and Keras's `loss_fn(y_true, y_pred)` call.

A loss returns the *sum* of per-sample losses and a gradient scaled by a given denominator. Sums
(not means) let a batch split across processes be recombined exactly: the parent adds the shards'
sums and divides by the whole batch size once.

The built-in losses write their gradient by hand. A user's loss — a `Loss` subclass with `call`, or a
plain function `loss(y_true, y_pred)` (`FunctionLoss`) — is written with `minidl.ops`, and its
gradient comes from the tape: the loss runs once on a tape, which is replayed backwards.

`ElementwiseLoss` is the base of the losses that average an error over each sample's outputs
(MSE, MAE, Huber, binary cross-entropy): for a sample with D outputs, L = (1/D) Σ_d ℓ(p_d, y_d), as
Keras computes them. An output of shape (N, 1) accepts targets of shape (N,), as in Keras.
"""

from __future__ import annotations

import numpy as np

from .. import ops
from ..errors import ShapeError
from ..ops.operation import Op
from ..ops.symbolic import KerasTensor
from ..ops.tape import Tape, Tensor, paused, recording, value_of

EPSILON = 1e-7


class Loss:
    """Base class: `per_sample`, `total(y_pred, y_true)` and `gradient(y_pred, y_true, denominator)`.

    Calling a loss as Keras does, `loss_fn(y_true, y_pred, sample_weight=None)`, returns the mean over
    the batch of the (weighted) per-sample losses: Σ w_i L_i / N. A subclass written Keras's way
    defines `call(y_true, y_pred)` with `minidl.ops`, returning each sample's loss (or each element's:
    the mean over a sample's elements is taken, as Keras's reduction does).
    """

    name = "loss"

    def __init__(self, name=None, reduction="sum_over_batch_size", dtype=None):
        if reduction not in ("sum_over_batch_size", "auto", None):
            raise NotImplementedError(f"Loss: reduction={reduction!r} is not supported by minidl (the batch mean is)")
        if name is not None:
            self.name = name
        elif type(self).name == "loss":
            from ..utils.naming import snake_case

            self.name = snake_case(type(self).__name__)

    @property
    def written_with_ops(self) -> bool:
        """True for a user's loss (`call` or a function), differentiated by the tape."""
        return type(self).call is not Loss.call

    def call(self, y_true, y_pred):
        """Keras's hook: the loss of each sample (or element), written with `minidl.ops`."""
        raise NotImplementedError

    def check_targets(self, y_true, output_shape):
        """Validate labels against the model's output shape, raising a clear error; return them as arrays."""
        return np.asarray(y_true)

    def per_sample(self, y_pred, y_true):
        """The loss of every sample, shape (N,)."""
        if not self.written_with_ops:
            raise NotImplementedError
        with paused():
            return np.asarray(value_of(_per_sample(self.call(y_true, y_pred), len(y_pred))), dtype=np.float64)

    def total(self, y_pred, y_true) -> float:
        """Sum over the batch of the per-sample loss."""
        return float(self.per_sample(y_pred, y_true).sum())

    def gradient(self, y_pred, y_true, denominator):
        """d(sum of losses)/d(y_pred) divided by `denominator` (the whole batch size)."""
        if not self.written_with_ops:
            raise NotImplementedError
        return self.sum_and_gradient(y_pred, y_true, None, denominator)[1]

    def sum_and_gradient(self, y_pred, y_true, sample_weight, denominator):
        """(Σ_i w_i · loss_i, d(Σ_i w_i · loss_i)/d(y_pred) / denominator) for a batch or shard.

        `y_pred` may be a tape's Tensor (its value is used; the gradient is the seed of the tape's
        backward pass). w_i = 1 without `sample_weight`.
        """
        out = y_pred.value if hasattr(y_pred, "value") else y_pred
        if self.written_with_ops:
            return self._taped_sum_and_gradient(out, y_true, sample_weight, denominator)
        if sample_weight is None:
            return self.total(out, y_true), self.gradient(out, y_true, denominator)
        loss_sum = float(self.per_sample(out, y_true) @ sample_weight)
        grad = self.gradient(out, y_true, denominator)
        grad *= sample_weight.reshape(-1, *([1] * (grad.ndim - 1))).astype(grad.dtype, copy=False)
        return loss_sum, grad

    def per_sample_tensor(self, y_true, y_pred):
        """The loss of every sample as a differentiable op (for a user's loss built on this one)."""
        if self.written_with_ops:
            return _per_sample(self.call(y_true, y_pred), ops.shape(y_pred)[0])
        return PerSampleLoss(self)(y_pred, y_true)

    def _taped_sum_and_gradient(self, out, y_true, sample_weight, denominator):
        """The user's loss run on a tape of its own: Σ w_i L_i, and its gradient from replaying the tape."""
        tape, prediction = Tape(), Tensor(out)
        with recording(tape):
            values = _per_sample(self.call(y_true, prediction), len(out))
            if sample_weight is not None:
                values = ops.multiply(values, sample_weight.astype(out.dtype, copy=False))
            total = ops.sum(values)
        if not isinstance(total, Tensor):  # the loss does not depend on the prediction
            return float(total), np.zeros_like(out)
        grads = tape.backward([total], [np.asarray(1.0 / denominator, dtype=out.dtype)])
        return float(total.value), grads.get(id(prediction), np.zeros_like(out)).astype(out.dtype, copy=False)

    def get_config(self):
        """The loss's name, for save/load and statistics."""
        return {"name": self.name}

    def __call__(self, y_true, y_pred, sample_weight=None):
        if isinstance(y_pred, (Tensor, KerasTensor)) or isinstance(y_true, (Tensor, KerasTensor)):
            values = self.per_sample_tensor(y_true, y_pred)
            if sample_weight is not None:
                values = ops.multiply(values, sample_weight)
            return ops.mean(values)
        y_pred = np.asarray(y_pred)
        if y_pred.ndim < 1 or len(y_pred) == 0:
            raise ValueError(f"{self.name}: y_pred must be a non-empty batch, got shape {y_pred.shape}")
        y_true = self.check_targets(y_true, y_pred.shape[1:])
        if len(y_true) != len(y_pred):
            raise ValueError(f"{self.name}: y_true has {len(y_true)} samples but y_pred has {len(y_pred)}")
        values = self.per_sample(y_pred.astype(np.float64), y_true)
        if sample_weight is not None:
            values = values * np.broadcast_to(np.asarray(sample_weight, np.float64).reshape(-1), values.shape)
        return np.float64(values.sum() / len(values))


class ElementwiseLoss(Loss):
    """Base: `elements(p, y)` and its derivative `derivative(p, y)`; means over each sample's outputs."""

    def check_targets(self, y_true, output_shape):
        y = np.asarray(y_true)
        output_shape = tuple(output_shape)
        if y.ndim == 1 and output_shape == (1,):
            y = y[:, None]
        if y.shape[1:] != output_shape:
            raise ShapeError(
                f"{self.name} needs targets of shape (N, {', '.join(map(str, output_shape))}), got {y.shape}"
            )
        if y.dtype.kind not in "fiub":
            raise ValueError(f"{self.name}: targets must be numbers, got dtype {y.dtype}")
        if not np.all(np.isfinite(y)):
            raise ValueError(f"{self.name}: targets contain NaN or infinity")
        return y

    def elements(self, y_pred, y_true):
        """The loss of every output element."""
        raise NotImplementedError

    def derivative(self, y_pred, y_true):
        """d(element loss)/d(y_pred), element-wise."""
        raise NotImplementedError

    def per_sample(self, y_pred, y_true):
        return self.elements(y_pred, y_true).reshape(len(y_pred), -1).mean(axis=1)

    def total(self, y_pred, y_true):
        return float(self.elements(y_pred, y_true).sum() / y_pred[0].size)

    def gradient(self, y_pred, y_true, denominator):
        grad = self.derivative(y_pred, y_true)
        grad *= 1.0 / (y_pred[0].size * denominator)
        return grad


def _per_sample(values, samples):
    """A loss's values as one per sample: the mean over each sample's elements; a scalar (already the
    batch's mean) counts for every sample."""
    shape = ops.shape(values)
    if len(shape) == 0:
        return ops.multiply(values, np.ones(samples, dtype=np.asarray(value_of(values)).dtype))
    if len(shape) > 1:
        return ops.mean(values, axis=tuple(range(1, len(shape))))
    return values


class FunctionLoss(Loss):
    """A plain function `loss(y_true, y_pred)` written with `minidl.ops`, as Keras takes one in `compile`."""

    def __init__(self, function, name=None):
        super().__init__(name=name or getattr(function, "__name__", "loss"))
        self.function = function

    def call(self, y_true, y_pred):
        return self.function(y_true, y_pred)

    def get_config(self):
        return {"name": self.name}


class PerSampleLoss(Op):
    """A built-in loss as an op: L_i = loss(y_pred_i, y_true_i) per sample, and
    dL/dy_pred = g_i · dL_i/dy_pred from the loss's own hand-written gradient (denominator 1)."""

    def __init__(self, loss):
        self.loss = loss

    def forward(self, y_pred, y_true):
        y_pred = np.asarray(y_pred)
        self.y_pred, self.y_true = y_pred, self.loss.check_targets(y_true, y_pred.shape[1:])
        return self.loss.per_sample(y_pred, self.y_true).astype(y_pred.dtype, copy=False)

    def backward(self, g):
        grad = self.loss.gradient(self.y_pred, self.y_true, 1.0)
        return grad * np.reshape(g, (-1, *([1] * (grad.ndim - 1)))), None

"""The loss of a model with several outputs: the weighted sum of each output's own loss.

Keras trains a model with outputs o_1 … o_K on

    L = Σ_k w_k · L_k(o_k, y_k)        dL/do_k = w_k · dL_k/do_k      (w_k: `loss_weights`, default 1)

so the tape starts its backward pass from K seeds at once, one per output; an output without a loss
gets a zero seed. The targets come as a list in the order of the outputs or a dict by output name.
"""

from __future__ import annotations

import numpy as np

from ..errors import ShapeError
from ..ops.tape import value_of


class OutputLosses:
    """The training loss of a model with several outputs: Σ_k w_k · L_k, on a tuple of targets."""

    def __init__(self, output_losses, weights, names):
        """`output_losses`: a Loss (or None: no loss) per output; `weights` a number (or None: 1) per output."""
        self.losses = list(output_losses)
        if all(loss is None for loss in self.losses):
            raise ValueError(f"compile: no output of {names} has a loss; give a loss for at least one")
        self.weights = [1.0 if w is None else float(w) for w in weights]
        if not all(np.isfinite(w) and w >= 0 for w in self.weights):
            raise ValueError(f"compile: loss_weights must be finite, non-negative numbers, got {weights}")
        self.names = list(names)
        terms = [(w, loss) for w, loss in zip(self.weights, self.losses) if loss is not None]
        self.name = " + ".join(loss.name if w == 1 else f"{w:g}*{loss.name}" for w, loss in terms)  # for the records

    def targets(self, y) -> tuple:
        """The targets as a tuple in the order of the outputs, from a list or a dict by output name."""
        if isinstance(y, dict):
            missing = [name for name, loss in zip(self.names, self.losses) if loss is not None and name not in y]
            unknown = sorted(set(y) - set(self.names), key=str)
            if missing or unknown:
                raise ValueError(
                    f"targets by output name: {'missing ' + str(missing) if missing else 'unknown ' + str(unknown)}; "
                    f"the outputs are {self.names}"
                )
            return tuple(y.get(name) for name in self.names)
        if not isinstance(y, (list, tuple)) or len(y) != len(self.names):
            given = f"{len(y)} arrays" if isinstance(y, (list, tuple)) else "one array"
            raise ValueError(
                f"the model has {len(self.names)} outputs {self.names}: give their targets as a list of "
                f"{len(self.names)} arrays or a dict by output name, got {given}"
            )
        return tuple(y)

    def check_targets(self, y, output_shapes) -> tuple:
        """Each output's targets checked by its loss (an output without a loss takes any)."""
        checked = []
        for name, loss, target, shape in zip(self.names, self.losses, self.targets(y), output_shapes):
            if target is None:
                if loss is not None:
                    raise ValueError(f"output {name!r} has a loss but no targets")
                checked.append(None)
                continue
            try:
                checked.append(np.asarray(target) if loss is None else loss.check_targets(target, shape))
            except (ShapeError, ValueError) as error:
                raise type(error)(f"output {name!r}: {error}") from None
        return tuple(checked)

    def per_sample(self, y_pred, y_true):
        """Σ_k w_k · (loss of every sample for output k), shape (N,)."""
        total = 0.0
        for loss, weight, out, target in zip(self.losses, self.weights, y_pred, y_true):
            if loss is not None:
                total = total + weight * loss.per_sample(value_of(out), target)
        return np.asarray(total, dtype=np.float64)

    def total(self, y_pred, y_true) -> float:
        return float(self.per_sample(y_pred, y_true).sum())

    def sum_and_gradient(self, y_pred, y_true, sample_weight, denominator):
        """(Σ_k w_k Σ_i v_i L_k,i, [w_k · dL_k/do_k / denominator for each output]): one seed per output
        (zeros for an output without a loss), v_i the sample weights."""
        total, seeds = 0.0, []
        for loss, weight, out, target in zip(self.losses, self.weights, y_pred, y_true):
            if loss is None:
                seeds.append(np.zeros_like(value_of(out)))
                continue
            part, seed = loss.sum_and_gradient(out, target, sample_weight, denominator)
            total += weight * part
            seeds.append(seed * np.asarray(weight, dtype=seed.dtype) if weight != 1.0 else seed)
        return total, seeds

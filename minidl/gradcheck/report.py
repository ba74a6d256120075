"""Reports of a gradient check, and the comparison of an analytic gradient with central differences."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

EPS = 1e-6
RTOL = 1e-5
ATOL = 1e-7


class GradientCheckError(AssertionError):
    """A gradient check failed; the message names the tensor (and layer) whose gradient is wrong."""


@dataclass
class TensorReport:
    """How one analytic gradient compares with central differences.

    `max_abs_error` is max |analytic − numeric|; `max_rel_error` is max |analytic − numeric| /
    max(|analytic|, |numeric|) over entries where either is non-zero; `worst_index` is the entry
    furthest outside the tolerance |analytic − numeric| <= atol + rtol·|numeric|. `problem` holds a
    broken contract (no gradient returned, wrong shape, gradient replaced instead of filled in place)
    when there is one: then there are no numbers to compare.
    """

    name: str
    shape: tuple
    max_abs_error: float = float("nan")
    max_rel_error: float = float("nan")
    worst_index: tuple | None = None
    analytic_at_worst: float = float("nan")
    numeric_at_worst: float = float("nan")
    checked: int = 0
    ok: bool = False
    problem: str | None = None

    @property
    def message(self) -> str:
        """One sentence: what was compared and whether it matched."""
        if self.problem:
            return f"{self.name}: {self.problem}"
        if self.ok:
            return f"{self.name}: gradient ok (max abs error {self.max_abs_error:.2e}, {self.checked} entries)"
        return (
            f"{self.name}: gradient is WRONG — at index {self.worst_index} backward gives "
            f"{self.analytic_at_worst:.6g} but central differences give {self.numeric_at_worst:.6g} "
            f"(max abs error {self.max_abs_error:.3g}, max rel error {self.max_rel_error:.3g})"
        )


@dataclass
class GradientReport:
    """The reports of every tensor of one check: the input gradient first, then each parameter."""

    subject: str
    tensors: list[TensorReport] = field(default_factory=list)
    input_gradient: np.ndarray | None = None

    @property
    def ok(self) -> bool:
        """True when every gradient matches."""
        return bool(self.tensors) and all(t.ok for t in self.tensors)

    @property
    def failing(self) -> list[TensorReport]:
        """The tensors whose gradient is wrong."""
        return [t for t in self.tensors if not t.ok]

    def __getitem__(self, name) -> TensorReport:
        for tensor in self.tensors:
            if tensor.name == name:
                return tensor
        raise KeyError(f"{self.subject} has no checked tensor {name!r}; it has {[t.name for t in self.tensors]}")

    @property
    def message(self) -> str:
        """ "<subject>: all N gradients match" or the failing tensors, each named."""
        if self.ok:
            return f"{self.subject}: all {len(self.tensors)} gradients match central differences"
        return f"{self.subject}: " + "; ".join(t.message for t in self.failing)

    def assert_ok(self) -> GradientReport:
        """Raise GradientCheckError (an AssertionError) with `message` unless every gradient matches."""
        if not self.ok:
            raise GradientCheckError(self.message)
        return self

    def __str__(self):
        return "\n".join([self.message if not self.ok else self.subject] + [f"  {t.message}" for t in self.tensors])


def numerical_gradient(f, array: np.ndarray, eps: float = EPS, entries=None) -> np.ndarray:
    """Central differences of the scalar `f()` with respect to entries of `array` (float64, perturbed
    in place and restored). Returns an array of `array`'s shape; entries not listed in `entries`
    (default: all) stay NaN."""
    if array.dtype != np.float64:
        raise TypeError(f"central differences need float64 arrays, got {array.dtype}")
    flat = array.reshape(-1)
    if not np.shares_memory(flat, array):
        raise ValueError("the array must be contiguous so it can be perturbed in place")
    grad = np.full(array.size, np.nan)
    for i in range(array.size) if entries is None else entries:
        old = flat[i]
        flat[i] = old + eps
        plus = f()
        flat[i] = old - eps
        minus = f()
        flat[i] = old
        grad[i] = (plus - minus) / (2 * eps)
    return grad.reshape(array.shape)


def compare(name, analytic, numeric, rtol=RTOL, atol=ATOL, entries=None) -> TensorReport:
    """A TensorReport of `analytic` against `numeric` on the flat `entries` (default: all)."""
    analytic, numeric = np.asarray(analytic, dtype=np.float64), np.asarray(numeric, dtype=np.float64)
    report = TensorReport(name, tuple(numeric.shape))
    if analytic.shape != numeric.shape:
        report.problem = f"backward gives a gradient of shape {analytic.shape}, the tensor has shape {numeric.shape}"
        return report
    entries = np.arange(numeric.size) if entries is None else np.asarray(entries)
    a, n = analytic.reshape(-1)[entries], numeric.reshape(-1)[entries]
    report.checked = len(entries)
    if len(entries) == 0:
        report.ok, report.max_abs_error, report.max_rel_error = True, 0.0, 0.0
        return report
    if not np.all(np.isfinite(a)):
        report.problem = "backward gives NaN or infinite values"
        return report
    error = np.abs(a - n)
    scale = np.maximum(np.abs(a), np.abs(n))
    badness = error / (atol + rtol * np.abs(n))
    worst = int(np.argmax(badness))
    report.max_abs_error = float(error.max())
    report.max_rel_error = float(np.max(np.divide(error, scale, out=np.zeros_like(error), where=scale > 0)))
    report.worst_index = tuple(int(i) for i in np.unravel_index(entries[worst], numeric.shape))
    report.analytic_at_worst, report.numeric_at_worst = float(a[worst]), float(n[worst])
    report.ok = bool(badness[worst] <= 1.0)
    return report


def assert_gradients_close(analytic, numeric, what: str, rtol: float = RTOL, atol: float = ATOL):
    """Raise GradientCheckError naming `what` and the worst entry unless the two gradients agree."""
    report = compare(what, analytic, numeric, rtol, atol)
    if not report.ok:
        raise GradientCheckError(report.message)

"""Which `Op` classes the gradient table of `python -m minidl.gradcheck` (its `op_checks`) runs through."""

import numpy as np
import pytest

from minidl.gradcheck.cli import op_checks
from minidl.ops.operation import Op


@pytest.fixture(scope="session")
def checked_ops():
    """(the op_checks reports, the set of Op classes that recorded a backward while they ran)."""
    recorded = set()
    original = Op.eager_call

    def watching(self, *args, **kwargs):
        out = original(self, *args, **kwargs)
        if out is not None and type(out).__name__ == "Tensor":
            recorded.add(type(self))
        return out

    Op.eager_call = watching
    try:
        reports = op_checks(np.random.default_rng(0))
    finally:
        Op.eager_call = original
    return reports, recorded


def differentiable_ops(module) -> set:
    """The differentiable Op classes a module defines."""
    return {
        value
        for value in vars(module).values()
        if isinstance(value, type) and issubclass(value, Op) and value.__module__ == module.__name__
        and value.differentiable and "backward" in vars(value)
    }  # fmt: skip

"""minidl/ops/nn.py: the activations, softmax and one-hot compute their formulas, and every one of them
passes its gradient check (the rows of `python -m minidl.gradcheck`)."""

import math

import numpy as np
import pytest
from gradient_coverage import checked_ops, differentiable_ops  # noqa: F401 (checked_ops: a fixture)

import minidl.ops.nn as nn_ops
from minidl import ops

X = np.linspace(-3.0, 3.0, 13).reshape(1, 13)
SIGMOID = 1 / (1 + np.exp(-X))
PHI = np.vectorize(lambda v: 0.5 * (1 + math.erf(v / math.sqrt(2))))(X)

FORMULAS = [
    ("relu", lambda: ops.relu(X), np.maximum(X, 0)),
    ("sigmoid", lambda: ops.sigmoid(X), SIGMOID),
    ("softplus", lambda: ops.softplus(X), np.log1p(np.exp(X))),
    ("silu", lambda: ops.silu(X), X * SIGMOID),
    ("leaky_relu", lambda: ops.leaky_relu(X), np.where(X > 0, X, 0.2 * X)),
    ("elu", lambda: ops.elu(X), np.where(X > 0, X, np.expm1(X))),
    ("gelu exact", lambda: ops.gelu(X, approximate=False), X * PHI),
    ("gelu approximate", lambda: ops.gelu(X), 0.5 * X * (1 + np.tanh(np.sqrt(2 / np.pi) * (X + 0.044715 * X**3)))),
    ("softmax", lambda: ops.softmax(X), np.exp(X) / np.exp(X).sum()),
    ("log_softmax", lambda: ops.log_softmax(X), X - np.log(np.exp(X).sum())),
]


@pytest.mark.parametrize("what, ours, formula", FORMULAS, ids=[row[0] for row in FORMULAS])
def test_an_activation_computes_its_formula(what, ours, formula):
    np.testing.assert_allclose(ours(), formula, rtol=1e-12, atol=1e-12)


def test_softmax_does_not_overflow_and_one_hot_makes_rows():
    np.testing.assert_allclose(ops.softmax(np.array([[1000.0, 1000.0]])), [[0.5, 0.5]])
    np.testing.assert_array_equal(ops.one_hot(np.array([2, 0]), 3), [[0, 0, 1], [1, 0, 0]])
    assert ops.one_hot(np.array([1]), 4, axis=0).shape == (4, 1)


def test_every_activation_passes_its_gradient_check(checked_ops):  # noqa: F811
    reports, recorded = checked_ops
    assert all(report.ok for _, report in reports)
    missing = {cls.__name__ for cls in differentiable_ops(nn_ops)} - {cls.__name__ for cls in recorded}
    assert not missing, f"ops of ops/nn.py with no row in minidl.gradcheck's op_checks: {sorted(missing)}"

"""minidl/ops/numpy.py: every op computes what NumPy computes, and every differentiable op's backward
equals central differences (the rows of `python -m minidl.gradcheck`)."""

import numpy as np
import pytest
from gradient_coverage import checked_ops, differentiable_ops  # noqa: F401 (checked_ops: a fixture)

import minidl.ops.numpy as numpy_ops
from minidl import ops

RNG = np.random.default_rng(3)
A, B, P = RNG.standard_normal((3, 4)), RNG.standard_normal((3, 4)), RNG.uniform(0.5, 2.0, (3, 4))

SAME_AS_NUMPY = [
    ("add", lambda: ops.add(A, B[0]), lambda: A + B[0]),
    ("subtract", lambda: ops.subtract(A, B), lambda: A - B),
    ("multiply", lambda: ops.multiply(A, B), lambda: A * B),
    ("divide", lambda: ops.divide(A, P), lambda: A / P),
    ("power", lambda: ops.power(P, A), lambda: P**A),
    ("negative", lambda: ops.negative(A), lambda: -A),
    ("matmul", lambda: ops.matmul(A, B.T), lambda: A @ B.T),
    ("exp log sqrt square abs", lambda: [ops.exp(A), ops.log(P), ops.sqrt(P), ops.square(A), ops.abs(A)],
     lambda: [np.exp(A), np.log(P), np.sqrt(P), np.square(A), np.abs(A)]),
    ("sin cos tanh", lambda: [ops.sin(A), ops.cos(A), ops.tanh(A)], lambda: [np.sin(A), np.cos(A), np.tanh(A)]),
    ("maximum minimum clip", lambda: [ops.maximum(A, B), ops.minimum(A, B), ops.clip(A, -0.5, 0.5)],
     lambda: [np.maximum(A, B), np.minimum(A, B), np.clip(A, -0.5, 0.5)]),
    ("where", lambda: ops.where(A > B, A, B), lambda: np.where(A > B, A, B)),
    ("sum mean max min", lambda: [ops.sum(A, axis=1), ops.mean(A), ops.max(A, axis=0, keepdims=True), ops.min(A)],
     lambda: [A.sum(axis=1), A.mean(), A.max(axis=0, keepdims=True), A.min()]),
    ("reshape transpose expand squeeze", lambda: [ops.reshape(A, (4, 3)), ops.transpose(A), ops.expand_dims(A, 1),
                                                  ops.squeeze(A[:, None])],
     lambda: [A.reshape(4, 3), A.T, A[:, None], A]),
    ("concatenate stack get_item", lambda: [ops.concatenate([A, B], axis=1), ops.stack([A, B]), ops.get_item(A, 1)],
     lambda: [np.concatenate([A, B], axis=1), np.stack([A, B]), A[1]]),
    ("argmax argmin", lambda: [ops.argmax(A, axis=1), ops.argmin(A)], lambda: [A.argmax(axis=1), A.argmin()]),
    ("comparisons", lambda: [ops.equal(A, A), ops.greater(A, B), ops.less_equal(A, B), ops.not_equal(A, B)],
     lambda: [A == A, A > B, A <= B, A != B]),
    ("sign round cast", lambda: [ops.sign(A), ops.round(A, 1), ops.cast(A, "float32")],
     lambda: [np.sign(A), np.round(A, 1), A.astype("float32")]),
    ("ones zeros arange", lambda: [ops.ones((2, 3)), ops.zeros_like(A), ops.arange(2, 9, 3)],
     lambda: [np.ones((2, 3), "float32"), np.zeros_like(A), np.arange(2, 9, 3)]),
]  # fmt: skip


@pytest.mark.parametrize("what, ours, numpys", SAME_AS_NUMPY, ids=[row[0] for row in SAME_AS_NUMPY])
def test_an_op_computes_what_numpy_computes(what, ours, numpys):
    mine, theirs = ours(), numpys()
    for a, b in zip(mine if isinstance(mine, list) else [mine], theirs if isinstance(theirs, list) else [theirs]):
        assert np.shape(a) == np.shape(b)
        np.testing.assert_allclose(np.asarray(a, dtype=float), np.asarray(b, dtype=float), rtol=1e-6, atol=1e-7)


def test_top_k_returns_the_largest_first_with_their_indices():
    values, indices = ops.top_k([[0.1, 0.7, 0.2, 0.7]], 2)
    np.testing.assert_array_equal(indices, [[1, 3]])  # ties keep index order
    np.testing.assert_allclose(values, [[0.7, 0.7]])
    with pytest.raises(ValueError, match="top_k: k must be a positive integer"):
        ops.top_k([[1.0]], 0)


def test_every_differentiable_op_passes_its_gradient_check(checked_ops):  # noqa: F811
    reports, recorded = checked_ops
    failing = [what for what, report in reports if not report.ok]
    assert not failing, "\n".join(report.message() for _, report in reports if not report.ok)
    missing = {cls.__name__ for cls in differentiable_ops(numpy_ops)} - {cls.__name__ for cls in recorded}
    assert not missing, f"ops of ops/numpy.py with no row in minidl.gradcheck's op_checks: {sorted(missing)}"

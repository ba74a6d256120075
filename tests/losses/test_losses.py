"""Losses: gradient checks against the totals, known values, the fused softmax path, label checks."""

import numpy as np
import pytest

import minidl
from minidl import losses, ops
from minidl.errors import ShapeError, UnknownNameError
from minidl.gradcheck import assert_gradients_close, numerical_gradient
from minidl.layers import Dense
from minidl.trainers.data import check_targets


def _probabilities(rng, n=4, classes=5):
    logits = rng.standard_normal((n, classes))
    p = np.exp(logits)
    return p / p.sum(axis=1, keepdims=True)


def _check_loss_gradient(loss, y_pred, y_true, denominator):
    analytic = loss.gradient(y_pred.copy(), y_true, denominator)
    numeric = numerical_gradient(lambda: loss.total(y_pred, y_true) / denominator, y_pred)
    assert_gradients_close(analytic, numeric, loss.name)


@pytest.mark.parametrize("denominator", [4, 10])
def test_categorical_gradient(denominator, rng):
    y_pred = _probabilities(rng)
    y_true = np.eye(5)[[0, 3, 3, 1]]
    _check_loss_gradient(losses.CategoricalCrossentropy(), y_pred, y_true, denominator)


def test_categorical_gradient_with_soft_targets(rng):
    y_true = _probabilities(rng)
    _check_loss_gradient(losses.CategoricalCrossentropy(), _probabilities(rng), y_true, 4)


@pytest.mark.parametrize("denominator", [4, 10])
def test_sparse_gradient(denominator, rng):
    _check_loss_gradient(
        losses.SparseCategoricalCrossentropy(), _probabilities(rng), np.array([0, 3, 3, 1]), denominator
    )


@pytest.mark.parametrize("shape", [(4, 3), (2, 3, 2, 2)])
@pytest.mark.parametrize("denominator", [4, 7])
def test_mse_gradient(shape, denominator, rng):
    shape = (4, *shape[1:])
    _check_loss_gradient(losses.MeanSquaredError(), rng.standard_normal(shape), rng.standard_normal(shape), denominator)


def test_known_values():
    p = np.array([[0.7, 0.2, 0.1], [0.1, 0.1, 0.8]])
    expected = -np.log(0.7) - np.log(0.8)
    assert losses.SparseCategoricalCrossentropy().total(p, np.array([0, 2])) == pytest.approx(expected)
    assert losses.CategoricalCrossentropy().total(p, np.eye(3)[[0, 2]]) == pytest.approx(expected)
    # MSE: per-sample mean over outputs, summed over samples.
    assert losses.MeanSquaredError().total(p, np.zeros_like(p)) == pytest.approx(
        (0.49 + 0.04 + 0.01) / 3 + (0.01 + 0.01 + 0.64) / 3
    )


def test_cross_entropy_of_zero_probability_is_finite():
    p = np.array([[1.0, 0.0]])
    value = losses.SparseCategoricalCrossentropy().total(p, np.array([1]))
    assert np.isfinite(value) and value > 10


def test_sum_over_shards_equals_whole_batch(rng):
    """Losses return sums, so shards of a batch add up exactly to the batch."""
    y_pred, y_true = _probabilities(rng, n=6), np.array([0, 1, 2, 3, 4, 0])
    loss = losses.SparseCategoricalCrossentropy()
    assert loss.total(y_pred, y_true) == pytest.approx(
        loss.total(y_pred[:2], y_true[:2]) + loss.total(y_pred[2:], y_true[2:])
    )
    whole = loss.gradient(y_pred.copy(), y_true, 6)
    np.testing.assert_allclose(
        np.concatenate(
            [loss.gradient(y_pred[:2].copy(), y_true[:2], 6), loss.gradient(y_pred[2:].copy(), y_true[2:], 6)]
        ),
        whole,
    )


@pytest.mark.parametrize(
    "loss_name, labels",
    [
        ("sparse_categorical_crossentropy", np.array([0, 2, 1, 2, 0])),
        ("categorical_crossentropy", np.eye(3)[[0, 2, 1, 2, 0]]),
    ],
)
@pytest.mark.parametrize("softmax_as_layer", [False, True])
def test_fused_softmax_cross_entropy_gradient(loss_name, labels, softmax_as_layer, rng):
    """Through a float64 Model, the fused (p - y)/batch gradient matches numerical differences of the loss."""
    model = minidl.Model(dtype="float64", seed=0)
    model.add(Dense(6, activation="tanh", input_shape=(4,)))
    if softmax_as_layer:
        model.add(Dense(3))
        model.add(minidl.layers.Softmax())
    else:
        model.add(Dense(3, activation="softmax"))
    model.compile(optimizer="sgd", loss=loss_name)
    assert isinstance(model.training_loss, losses.SoftmaxCrossEntropy)
    x = rng.standard_normal((5, 4))
    y = check_targets(model, x, labels)
    model.forward_backward(x, y, None, len(x))
    analytic = model.gradients.copy()
    numeric = numerical_gradient(lambda: model.loss.total(model.forward(x), y) / len(x), model.parameters)
    assert_gradients_close(analytic, numeric, f"fused {loss_name}")


@pytest.mark.parametrize(
    "labels",
    [
        np.array([[0.2, 0.8, 0.0], [0.0, 0.0, 0.0], [1.0, 0.0, 0.0], [0.5, 0.25, 0.25], [0.0, 0.0, 1.0]]),
        np.array([[0.2, 0.3, 0.0], [0.0, 1.0, 1.0], [1.0, 0.0, 0.0], [0.5, 0.25, 0.25], [0.0, 0.0, 0.5]]),
    ],
    ids=["soft-and-empty-rows", "rows-not-summing-to-one"],
)
def test_fused_categorical_gradient_with_any_targets(labels, rng):
    """Targets whose rows do not sum to one (an all-zero row, soft labels) still get the exact gradient."""
    model = minidl.Model(dtype="float64", seed=0)
    model.add(Dense(3, activation="softmax", input_shape=(4,)))
    model.compile(optimizer="sgd", loss="categorical_crossentropy")
    x = rng.standard_normal((5, 4))
    y = check_targets(model, x, labels)
    model.forward_backward(x, y, None, len(x))
    analytic = model.gradients.copy()
    numeric = numerical_gradient(lambda: model.loss.total(model.forward(x), y) / len(x), model.parameters)
    assert_gradients_close(analytic, numeric, "fused categorical, soft targets")


def test_unfused_softmax_with_mse_gradient(rng):
    """Softmax followed by MSE must not be fused: the softmax's own derivative is used."""
    model = minidl.Model(dtype="float64", seed=0)
    model.add(Dense(3, activation="softmax", input_shape=(4,)))
    model.compile(optimizer="sgd", loss="mse")
    assert model.training_loss is model.loss
    x, y = rng.standard_normal((5, 4)), np.eye(3)[[0, 1, 2, 1, 0]]
    model.forward_backward(x, y, None, len(x))
    analytic = model.gradients.copy()
    numeric = numerical_gradient(lambda: model.loss.total(model.forward(x), y) / len(x), model.parameters)
    assert_gradients_close(analytic, numeric, "softmax + mse")


def test_recompiling_unfuses_the_softmax(rng):
    model = minidl.Model(dtype="float64", seed=0)
    model.add(Dense(3, activation="softmax", input_shape=(4,)))
    model.compile(loss="sparse_categorical_crossentropy")
    model.compile(loss="mse")
    x, y = rng.standard_normal((5, 4)), np.eye(3)[[0, 1, 2, 1, 0]]
    model.forward_backward(x, y, None, len(x))
    analytic = model.gradients.copy()
    numeric = numerical_gradient(lambda: model.loss.total(model.forward(x), y) / len(x), model.parameters)
    assert_gradients_close(analytic, numeric, "recompiled softmax + mse")


# ----- label checks -----
SPARSE, CATEGORICAL, MSE = (
    losses.SparseCategoricalCrossentropy(),
    losses.CategoricalCrossentropy(),
    losses.MeanSquaredError(),
)


@pytest.mark.parametrize(
    "labels, error, match",
    [
        (np.array([0, 3, 10]), ValueError, r"sparse_categorical_crossentropy.*0\.\.9.*10"),
        (np.array([0, -1, 2]), ValueError, r"0\.\.9.*-1"),
        (np.array([0.5, 1.0, 2.0]), ValueError, "non-integer"),
        (np.array([np.nan, 1.0, 2.0]), ValueError, "non-integer"),
        (np.array(["a", "b", "c"]), ValueError, "integers"),
        (np.eye(10)[[1, 2, 3]], ShapeError, "categorical_crossentropy"),
        (np.zeros((3, 2, 2), dtype=int), ShapeError, r"\(N,\)"),
    ],
)
def test_sparse_rejects_bad_labels(labels, error, match):
    with pytest.raises(error, match=match):
        SPARSE.check_targets(labels, (10,))


def test_sparse_accepts_whole_floats_and_column_labels():
    np.testing.assert_array_equal(SPARSE.check_targets(np.array([1.0, 2.0]), (3,)), [1, 2])
    np.testing.assert_array_equal(SPARSE.check_targets(np.array([[1], [2]]), (3,)), [1, 2])
    assert SPARSE.check_targets(np.array([1.0, 2.0]), (3,)).dtype == np.int64


@pytest.mark.parametrize(
    "labels, error, match",
    [
        (np.array([0, 1, 2]), ShapeError, "sparse_categorical_crossentropy"),
        (np.eye(4)[[0, 1, 2]], ShapeError, r"\(N, 3\)"),
        (-np.eye(3), ValueError, "categorical_crossentropy"),
        (2 * np.eye(3), ValueError, r"outside \[0, 1\]"),
        (np.full((3, 3), np.nan), ValueError, "finite"),
    ],
)
def test_categorical_rejects_bad_labels(labels, error, match):
    with pytest.raises(error, match=match):
        CATEGORICAL.check_targets(labels, (3,))


def test_mse_rejects_wrong_shape_and_nan():
    with pytest.raises(ShapeError, match=r"mse.*\(N, 3\)"):
        MSE.check_targets(np.zeros((4, 2)), (3,))
    with pytest.raises(ValueError, match="NaN"):
        MSE.check_targets(np.full((4, 3), np.nan), (3,))


def test_loss_lookup():
    assert isinstance(losses.get("mean_squared_error"), losses.MeanSquaredError)
    assert isinstance(losses.get("Sparse_Categorical_Crossentropy"), losses.SparseCategoricalCrossentropy)
    with pytest.raises(UnknownNameError, match=r"unknown loss 'hinge'.*categorical_crossentropy"):
        losses.get("hinge")


# ----- from_logits: softmax + cross-entropy as one idea -----
@pytest.mark.parametrize("loss_class", [losses.CategoricalCrossentropy, losses.SparseCategoricalCrossentropy])
def test_from_logits_gradient_is_p_minus_y_over_batch(loss_class, rng):
    """With logits, the analytic gradient is the derivative of the total, and equals (softmax(z) - y) / B."""
    logits = rng.standard_normal((4, 5)) * 3
    labels = np.array([0, 3, 3, 1])
    y = labels if loss_class is losses.SparseCategoricalCrossentropy else np.eye(5)[labels]
    loss = loss_class(from_logits=True)
    _check_loss_gradient(loss, logits, y, 4)
    expected = (ops.softmax(logits) - np.eye(5)[labels]) / 4
    np.testing.assert_allclose(loss.gradient(logits, y, 4), expected, rtol=1e-12)


def test_from_logits_is_stable_for_huge_logits():
    loss = losses.SparseCategoricalCrossentropy(from_logits=True)
    logits = np.array([[1000.0, 0.0, -1000.0]])
    assert loss.total(logits, np.array([0])) == pytest.approx(0.0, abs=1e-12)
    assert loss.total(logits, np.array([2])) == pytest.approx(2000.0)
    assert np.all(np.isfinite(loss.gradient(logits, np.array([2]), 1)))


def test_logits_model_trains_like_the_softmax_model(rng):
    """A model ending in Dense(3) with from_logits=True computes the same gradients as Dense(3, softmax)."""
    x, y = rng.standard_normal((6, 4)), np.array([0, 1, 2, 1, 0, 2])
    grads = []
    for activation, loss in (("softmax", "sparse_categorical_crossentropy"), (None, None)):
        model = minidl.Model(dtype="float64", seed=3)
        model.add(Dense(3, activation=activation, input_shape=(4,)))
        model.compile(loss=loss or losses.SparseCategoricalCrossentropy(from_logits=True))
        model.forward_backward(x, y, None, len(x))
        grads.append(model.gradients.copy())
    np.testing.assert_allclose(grads[0], grads[1], rtol=1e-12, atol=1e-15)


# ----- Keras 3's other losses, function forms and callables -----
@pytest.mark.parametrize(
    "loss",
    [
        losses.MeanAbsoluteError(),
        losses.Huber(delta=0.5),
        losses.BinaryCrossentropy(),
        losses.BinaryCrossentropy(from_logits=True),
        losses.MeanSquaredError(),
    ],
    ids=lambda loss: f"{loss.name}{'_logits' if getattr(loss, 'from_logits', False) else ''}",
)
@pytest.mark.parametrize("denominator", [4, 10])
def test_elementwise_gradients(loss, denominator, rng):
    if isinstance(loss, losses.BinaryCrossentropy) and not loss.from_logits:
        y_pred = rng.uniform(0.05, 0.95, (4, 3))
    else:
        y_pred = rng.standard_normal((4, 3))
    y_true = rng.uniform(0, 1, (4, 3)) if isinstance(loss, losses.BinaryCrossentropy) else rng.standard_normal((4, 3))
    _check_loss_gradient(loss, y_pred, y_true, denominator)


def test_elementwise_known_values():
    p, y = np.array([[0.0, 3.0]]), np.array([[1.0, 0.0]])
    assert losses.MeanAbsoluteError().total(p, y) == pytest.approx((1 + 3) / 2)
    # Huber with delta 1: |e| = 1 -> 0.5; |e| = 3 -> 1 * (3 - 0.5) = 2.5; mean over the 2 outputs.
    assert losses.Huber().total(p, y) == pytest.approx((0.5 + 2.5) / 2)
    bce = losses.BinaryCrossentropy()
    assert bce.total(np.array([[0.8]]), np.array([[1.0]])) == pytest.approx(-np.log(0.8))
    z = np.array([[2.0, -1.0]])
    probabilities = 1 / (1 + np.exp(-z))
    targets = np.array([[1.0, 0.0]])
    assert losses.BinaryCrossentropy(from_logits=True).total(z, targets) == pytest.approx(
        bce.total(probabilities, targets)
    )
    # No overflow for huge logits: log(1 + e^-1000) is 0, the loss of a confident right answer.
    assert losses.BinaryCrossentropy(from_logits=True).total(np.array([[1000.0]]), np.array([[1.0]])) == 0.0


def test_callable_losses_average_over_the_batch(rng):
    """Keras's loss_fn(y_true, y_pred): the mean per-sample loss, with optional sample weights."""
    p = _probabilities(rng)
    labels = np.array([0, 3, 3, 1])
    per_sample = -np.log(p[np.arange(4), labels])
    loss_fn = losses.SparseCategoricalCrossentropy()
    assert float(loss_fn(labels, p)) == pytest.approx(per_sample.mean())
    weights = np.array([1.0, 0.0, 2.0, 1.0])
    assert float(loss_fn(labels, p, sample_weight=weights)) == pytest.approx((per_sample * weights).sum() / 4)
    np.testing.assert_allclose(losses.sparse_categorical_crossentropy(labels, p), per_sample, rtol=1e-12)
    logits = np.log(p) + 3.0  # softmax of these is p again
    np.testing.assert_allclose(
        losses.sparse_categorical_crossentropy(labels, logits, from_logits=True), per_sample, rtol=1e-9
    )
    np.testing.assert_allclose(losses.mse(np.zeros((2, 2)), np.array([[1.0, 3.0], [2.0, 0.0]])), [5.0, 2.0])
    np.testing.assert_allclose(losses.mae(np.zeros((2, 2)), np.array([[1.0, -3.0], [2.0, 0.0]])), [2.0, 1.0])


def test_losses_from_names_classes_and_functions():
    assert isinstance(losses.get("binary_crossentropy"), losses.BinaryCrossentropy)
    assert isinstance(losses.get("mae"), losses.MeanAbsoluteError)
    assert isinstance(losses.get("huber"), losses.Huber)
    assert isinstance(losses.get(losses.Huber), losses.Huber)
    assert isinstance(losses.get(losses.sparse_categorical_crossentropy), losses.SparseCategoricalCrossentropy)

    def my_loss(y_true, y_pred):
        return (y_true - y_pred) ** 2

    wrapped = losses.get(my_loss)
    assert isinstance(wrapped, losses.FunctionLoss) and wrapped.name == "my_loss"
    np.testing.assert_allclose(wrapped.per_sample(np.array([[1.0, 3.0]]), np.zeros((1, 2))), [5.0])


def test_regression_losses_take_flat_targets_for_one_output():
    """Keras accepts y of shape (N,) for a (N, 1) output with mse / mae / binary cross-entropy."""
    for loss in (losses.MeanSquaredError(), losses.MeanAbsoluteError(), losses.BinaryCrossentropy()):
        assert loss.check_targets(np.array([0.0, 1.0, 1.0]), (1,)).shape == (3, 1)
    with pytest.raises(ValueError, match=r"binary_crossentropy: targets must be in \[0, 1\]"):
        losses.BinaryCrossentropy().check_targets(np.array([0.0, 2.0]), (1,))
    with pytest.raises(ValueError, match="Huber: delta"):
        losses.Huber(delta=0)

"""BatchNormalization: gradient checks, a naive reference, hand-computed values, moving statistics."""

import pickle

import numpy as np
import pytest

from minidl import Model
from minidl.errors import ShapeError
from minidl.gradcheck import build_float64 as build
from minidl.gradcheck import check_gradients, check_layer_state
from minidl.layers import BatchNormalization, Conv2D, Dense, Flatten, Layer


def naive_batch_norm(x, axis, gamma, beta, epsilon):
    """Training-mode batch normalisation, one feature at a time with explicit loops."""
    x = np.moveaxis(x, axis, -1)
    out, means, variances = np.empty_like(x), [], []
    for c in range(x.shape[-1]):
        values = x[..., c].ravel()
        mean = sum(values) / len(values)
        variance = sum((v - mean) ** 2 for v in values) / len(values)
        out[..., c] = gamma[c] * (x[..., c] - mean) / np.sqrt(variance + epsilon) + beta[c]
        means.append(mean)
        variances.append(variance)
    return np.moveaxis(out, -1, axis), np.array(means), np.array(variances)


def _randomise(layer, rng):
    for name in layer.params:
        layer.params[name][...] = rng.standard_normal(layer.params[name].shape)
    return layer


CASES = [
    # (input shape, constructor arguments)
    ((5,), {}),
    ((4, 3, 2), {}),
    ((4, 3, 2), {"axis": 1}),
    ((3, 4, 2), {"axis": [1, 3]}),
    ((4, 3, 2), {"center": False}),
    ((5,), {"scale": False}),
    ((5,), {"center": False, "scale": False}),
]


@pytest.mark.parametrize("shape, kwargs", CASES, ids=str)
def test_batchnorm_gradients(shape, kwargs, rng):
    layer = _randomise(build(BatchNormalization(**kwargs), shape), rng)
    check_gradients(layer, rng.standard_normal((6, *shape)) * 2 + 1).assert_ok()


@pytest.mark.parametrize("shape, kwargs", CASES[:4], ids=str)
def test_batchnorm_matches_naive_reference(shape, kwargs, rng):
    layer = _randomise(build(BatchNormalization(epsilon=0.01, momentum=0.9, **kwargs), shape), rng)
    x = rng.standard_normal((7, *shape)) * 3 - 2
    axis = kwargs.get("axis", -1)
    if isinstance(axis, list):  # several kept axes: the reference handles one, so merge them
        merged = np.moveaxis(x, axis, [-2, -1]).reshape(*np.moveaxis(x, axis, [-2, -1]).shape[:-2], -1)
        gamma, beta = (layer.params[n].ravel() for n in ("gamma", "beta"))
        expected, means, variances = naive_batch_norm(merged, -1, gamma, beta, 0.01)
        expected = np.moveaxis(expected.reshape(np.moveaxis(x, axis, [-2, -1]).shape), [-2, -1], axis)
    else:
        expected, means, variances = naive_batch_norm(x, axis, layer.params["gamma"], layer.params["beta"], 0.01)
    out = layer.forward(x, training=True)
    np.testing.assert_allclose(out, expected, rtol=1e-10, atol=1e-12)
    # One training step from the initial (0, 1) statistics, with Keras's rule m <- m*momentum + b*(1-momentum).
    np.testing.assert_allclose(layer.states["moving_mean"].ravel(), 0.1 * means, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(layer.states["moving_variance"].ravel(), 0.9 + 0.1 * variances, rtol=1e-10)


def test_batchnorm_hand_computed_values():
    """x = [0, 4]: mean 2, variance 4 (biased), x_hat = -+2/sqrt(4.001)."""
    layer = build(BatchNormalization(), (1,))
    out = layer.forward(np.array([[0.0], [4.0]]), training=True)
    np.testing.assert_allclose(out[:, 0], [-2 / np.sqrt(4.001), 2 / np.sqrt(4.001)], rtol=1e-12)
    np.testing.assert_allclose(layer.states["moving_mean"], [0.99 * 0 + 0.01 * 2])
    np.testing.assert_allclose(layer.states["moving_variance"], [0.99 * 1 + 0.01 * 4])


def test_batchnorm_inference_uses_moving_statistics(rng):
    layer = build(BatchNormalization(epsilon=0.5), (3,))
    layer.set_weights([[2.0, 1.0, 0.5], [0.0, 1.0, -1.0], [1.0, -1.0, 0.0], [1.5, 3.5, 0.5]])
    x = rng.standard_normal((4, 3))
    expected = np.array([2.0, 1.0, 0.5]) * (x - [1.0, -1.0, 0.0]) / np.sqrt(np.array([2.0, 4.0, 1.0])) + [0, 1, -1]
    before = layer.get_weights()
    np.testing.assert_allclose(layer.forward(x), expected, rtol=1e-12)
    # Inference neither changes the statistics nor lets one sample depend on the others.
    for a, b in zip(before, layer.get_weights()):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_allclose(layer.forward(x[:1]), expected[:1], rtol=1e-12)


def test_batchnorm_moving_statistics_converge_to_the_data(rng):
    layer = build(BatchNormalization(momentum=0.9), (4, 4, 2))
    for _ in range(200):
        layer.forward(rng.normal([3.0, -1.0], [2.0, 0.5], (32, 4, 4, 2)), training=True)
    np.testing.assert_allclose(layer.states["moving_mean"], [3.0, -1.0], atol=0.1)
    np.testing.assert_allclose(layer.states["moving_variance"], [4.0, 0.25], rtol=0.1)


def test_batchnorm_truthy_training_context_counts_as_training(rng):
    class Context:
        def __bool__(self):
            return True

    layer = build(BatchNormalization(), (3,))
    x = rng.standard_normal((8, 3)) + 5
    out = layer.forward(x, training=Context())
    np.testing.assert_allclose(out.mean(axis=0), 0, atol=1e-12)
    assert not np.array_equal(layer.states["moving_mean"], np.zeros(3))


def test_batchnorm_weights_in_keras_order():
    layer = build(BatchNormalization(), (6, 6, 4))
    assert list(layer.params) == ["gamma", "beta"]
    assert list(layer.states) == ["moving_mean", "moving_variance"]
    assert set(layer.grads) == {"gamma", "beta"}
    gamma, beta, mean, variance = layer.get_weights()
    assert all(w.shape == (4,) for w in (gamma, beta, mean, variance))
    np.testing.assert_array_equal(gamma, 1)
    np.testing.assert_array_equal(beta, 0)
    np.testing.assert_array_equal(mean, 0)
    np.testing.assert_array_equal(variance, 1)
    assert layer.count_params() == 16
    assert [len(layer.trainable_weights), len(layer.non_trainable_weights)] == [2, 2]
    assert [w.shape for w in build(BatchNormalization(center=False), (5,)).get_weights()] == [(5,)] * 3


def test_batchnorm_is_batch_dependent():
    assert BatchNormalization.batch_dependent
    assert not Layer.batch_dependent
    assert not Dense(3).batch_dependent


def test_batchnorm_pickled_replica_keeps_its_statistics(rng):
    layer = build(BatchNormalization(), (3,))
    layer.forward(rng.standard_normal((5, 3)) + 2, training=True)
    copy = pickle.loads(pickle.dumps(layer))
    for a, b in zip(layer.get_weights(), copy.get_weights()):
        np.testing.assert_array_equal(a, b)
    assert not hasattr(copy, "x_hat")
    x = rng.standard_normal((4, 3))
    np.testing.assert_array_equal(copy.forward(x), layer.forward(x))


def test_batchnorm_config_round_trip():
    layer = BatchNormalization(axis=1, momentum=0.9, epsilon=1e-5, center=False, name="bn_x")
    config = layer.get_config()
    assert config == {
        "name": "bn_x",
        "axis": 1,
        "momentum": 0.9,
        "epsilon": 1e-5,
        "center": False,
        "scale": True,
        "beta_initializer": "zeros",
        "gamma_initializer": "ones",
        "moving_mean_initializer": "zeros",
        "moving_variance_initializer": "ones",
    }
    assert BatchNormalization(**config).get_config() == config


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        ({"momentum": 1.5}, ValueError, "momentum"),
        ({"epsilon": 0}, ValueError, "epsilon"),
        ({"axis": "channels"}, ValueError, "axis"),
        ({"center": "yes"}, ValueError, "center"),
        ({"gamma_regularizer": "l2"}, NotImplementedError, "gamma_regularizer"),
        ({"renorm": True}, NotImplementedError, "renorm"),
    ],
)
def test_batchnorm_rejects_bad_arguments(kwargs, error, match):
    with pytest.raises(error, match=match):
        BatchNormalization(**kwargs)


@pytest.mark.parametrize("axis", [0, 2, -3, [1, 1]])
def test_batchnorm_rejects_axes_the_input_lacks(axis):
    with pytest.raises(ShapeError, match=r"bn_bad.*axis"):
        build(BatchNormalization(axis=axis, name="bn_bad"), (5,))


def test_batchnorm_rejects_wrong_input(rng):
    layer = build(BatchNormalization(name="bn_in"), (4,))
    with pytest.raises(ShapeError, match=r"bn_in.*\(2, 5\)"):
        layer.forward(rng.standard_normal((2, 5)), training=True)


@pytest.mark.parametrize("shape, kwargs", CASES[:3], ids=str)
def test_batchnorm_backward_uses_last_training_forward(shape, kwargs, rng):
    check_layer_state(_randomise(build(BatchNormalization(**kwargs), shape), rng), rng)


def test_batchnorm_trains_after_dense_and_conv(rng):
    """In a model: fit updates gamma/beta by gradient and the moving statistics by the training forward."""
    model = Model(seed=0)
    model.add(Conv2D(4, 3, input_shape=(6, 6, 1)))
    model.add(BatchNormalization())
    model.add(Flatten())
    model.add(Dense(8))
    model.add(BatchNormalization())
    model.add(Dense(2, activation="softmax"))
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    x = rng.standard_normal((64, 6, 6, 1)).astype(np.float32)
    y = (x[:, :3].sum(axis=(1, 2, 3)) > x[:, 3:].sum(axis=(1, 2, 3))).astype(np.int64)
    history = model.fit(x, y, batch_size=16, epochs=15, verbose=0)
    losses = history.history["loss"]
    assert losses[-1] < 0.6 * losses[0]
    for layer in (model.layers[1], model.layers[4]):
        assert not np.allclose(layer.states["moving_mean"], 0)
        assert not np.allclose(layer.params["gamma"], 1)
    # Inference uses the moving statistics, so one sample's prediction does not depend on its batch.
    np.testing.assert_allclose(model.predict(x[:1]), model.predict(x)[:1], rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("axis", [-1, 1])
def test_batchnorm_float32_agrees_with_float64(axis, rng):
    """The float32 layer (matrix-product sums for axis=-1, NumPy sums otherwise) stays close to float64."""
    x = rng.normal(3.0, 2.0, (64, 12, 12, 6))
    grad = rng.standard_normal(x.shape)
    results = []
    for dtype in (np.float64, np.float32):
        layer = BatchNormalization(axis=axis)
        layer.build_weights(x.shape[1:], rng=np.random.default_rng(0), dtype=dtype)
        out = layer.forward(x.astype(dtype), training=True)
        dx = layer.backward(grad.astype(dtype))
        results.append((out, dx, layer.grads["gamma"].copy(), layer.states["moving_variance"].copy()))
    for wide, narrow in zip(*results):
        assert narrow.dtype == np.float32
        np.testing.assert_allclose(narrow, wide, rtol=1e-4, atol=1e-4 * np.abs(wide).max())


def test_gamma_beta_and_moving_statistics_are_variables():
    layer = build(BatchNormalization(), (2, 2, 3))
    names = [v.name for v in (layer.gamma, layer.beta, layer.moving_mean, layer.moving_variance)]
    assert names == ["gamma", "beta", "moving_mean", "moving_variance"]
    assert not layer.moving_mean.trainable and layer.gamma.trainable
    np.testing.assert_array_equal(np.asarray(layer.moving_variance), np.ones(3))

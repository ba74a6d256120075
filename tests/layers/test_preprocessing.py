"""Rescaling and Normalization: gradient checks, values, adapt, errors, config, saving, real Keras."""

import numpy as np
import pytest

from minidl import Sequential
from minidl.errors import ShapeError
from minidl.gradcheck import build_float64 as build
from minidl.gradcheck import check_gradients, check_layer_state
from minidl.layers import Dense, Flatten, Normalization, Rescaling


@pytest.mark.parametrize("scale, offset", [(1 / 255, 0.0), (1 / 127.5, -1.0), (-3.0, 0.5)])
@pytest.mark.parametrize("shape", [(4,), (3, 3, 2)])
def test_rescaling_gradients(scale, offset, shape, rng):
    check_gradients(build(Rescaling(scale, offset), shape), rng.standard_normal((3, *shape))).assert_ok()


def test_rescaling_values():
    pixels = np.array([[0.0, 127.5, 255.0]])
    np.testing.assert_allclose(build(Rescaling(1 / 255), (3,)).forward(pixels), [[0.0, 0.5, 1.0]])
    np.testing.assert_allclose(build(Rescaling(1 / 127.5, offset=-1), (3,)).forward(pixels), [[-1.0, 0.0, 1.0]])


def test_rescaling_called_on_uint8_images_gives_float32():
    images = np.full((2, 28, 28, 1), 255, dtype=np.uint8)
    out = Rescaling(1.0 / 255)(images)
    assert out.dtype == np.float32 and out.shape == (2, 28, 28, 1)
    np.testing.assert_allclose(out, 1.0, rtol=1e-6)


def test_rescaling_keeps_its_input(rng):
    x = rng.standard_normal((2, 3))
    before = x.copy()
    build(Rescaling(2.0, 1.0), (3,)).forward(x, training=True)
    np.testing.assert_array_equal(x, before)


@pytest.mark.parametrize("kwargs", [{"scale": float("nan")}, {"scale": "1/255"}, {"scale": 1.0, "offset": np.inf}])
def test_rescaling_rejects_bad_numbers(kwargs):
    with pytest.raises(ValueError, match="Rescaling: (scale|offset)"):
        Rescaling(**kwargs)


def test_rescaling_config():
    config = Rescaling(1 / 255, name="rescale").get_config()
    assert config == {"name": "rescale", "scale": 1 / 255, "offset": 0.0}
    assert Rescaling(**config).get_config() == config


def test_rescaling_backward_uses_last_training_forward(rng):
    check_layer_state(build(Rescaling(0.5, 2.0), (3, 2)), rng)


# ----- Normalization -----
@pytest.mark.parametrize(
    "kwargs, shape",
    [
        ({"mean": [1.0, -2.0], "variance": [4.0, 0.25]}, (2,)),
        ({"mean": 3.0, "variance": 2.0, "axis": None}, (3, 2)),
        ({"mean": [0.5, 1.5, 2.5], "variance": [1.0, 2.0, 3.0], "invert": True}, (2, 2, 3)),
        ({"mean": [[1.0], [2.0]], "variance": [[1.0], [4.0]], "axis": (1, 2)}, (2, 3)),
    ],
)
def test_normalization_gradients_and_values(kwargs, shape, rng):
    layer = build(Normalization(**kwargs), shape)
    x = rng.standard_normal((3, *shape))
    check_gradients(layer, x).assert_ok()
    mean, variance = np.asarray(kwargs["mean"]), np.asarray(kwargs["variance"])
    expected = mean + x * np.sqrt(variance) if kwargs.get("invert") else (x - mean) / np.sqrt(variance)
    np.testing.assert_allclose(layer.forward(x), expected, rtol=1e-12)


def test_adapt_gives_zero_mean_unit_variance_per_feature(rng):
    data = rng.normal([3.0, -1.0, 10.0], [2.0, 0.5, 4.0], size=(500, 3))
    layer = Normalization()
    layer.adapt(data)
    np.testing.assert_allclose(layer.states["mean"], data.mean(axis=0), rtol=1e-6)
    np.testing.assert_allclose(layer.states["variance"], data.var(axis=0), rtol=1e-5)
    assert layer.states["count"] == 500
    out = layer(data.astype(np.float32))
    np.testing.assert_allclose(out.mean(axis=0), 0, atol=1e-5)
    np.testing.assert_allclose(out.std(axis=0), 1, rtol=1e-4)
    assert [w.shape for w in layer.get_weights()] == [(3,), (3,), ()]  # Keras's mean, variance, count


def test_adapt_in_batches_equals_adapt_at_once(rng):
    """Images, one mean per channel: batches of different sizes combine to the statistics of all."""
    data = rng.standard_normal((70, 4, 3, 2)) * [1.0, 3.0] + [0.0, 5.0]
    whole, batched = Normalization(), Normalization()
    whole.adapt(data)
    batched.adapt(data[i : i + 16] for i in range(0, 70, 16))
    for name in ("mean", "variance", "count"):
        np.testing.assert_allclose(batched.states[name], whole.states[name], rtol=1e-6)
    np.testing.assert_allclose(whole.states["mean"], data.mean(axis=(0, 1, 2)), rtol=1e-6)
    assert whole.states["count"] == 70 * 4 * 3


def test_adapted_statistics_survive_being_added_to_a_model(rng, tmp_path):
    from suite_helpers import assert_round_trip

    data = (rng.standard_normal((64, 5)) * 4 + 2).astype(np.float32)
    norm = Normalization()
    norm.adapt(data)
    model = Sequential([norm, Dense(3)], seed=0, dtype="float64")
    model.build((5,))
    np.testing.assert_allclose(norm.states["mean"], data.mean(axis=0), rtol=1e-5)
    loaded = assert_round_trip(model, data[:4], tmp_path)
    np.testing.assert_array_equal(loaded.layers[0].states["variance"], norm.states["variance"])


def test_given_statistics_save_and_load(rng, tmp_path):
    from suite_helpers import assert_round_trip

    model = Sequential(
        [Normalization(axis=-1, mean=[1.0, 2.0], variance=[0.5, 3.0], invert=True, input_shape=(3, 2)), Flatten()]
    )
    assert model.layers[0].get_weights() == []
    assert_round_trip(model, rng.standard_normal((2, 3, 2)).astype(np.float32), tmp_path)


@pytest.mark.parametrize(
    "make, error, match",
    [
        (lambda: Normalization(mean=1.0), ValueError, "both mean and variance"),
        (lambda: Normalization(mean=[1.0, 2.0], variance=[1.0]), ValueError, "same shape"),
        (lambda: Normalization(mean=[1.0], variance=[-1.0]), ValueError, "negative"),
        (lambda: Normalization(mean=[[1.0]], variance=[[1.0]]), ValueError, "more axes"),
        (lambda: Normalization(axis="last"), ValueError, "Normalization: axis"),
        (lambda: Normalization(invert=1), ValueError, "invert"),
        (lambda: build(Normalization(axis=0), (3,)), ShapeError, "feature axes"),
        (lambda: build(Normalization(mean=[1.0, 2.0], variance=[1.0, 1.0]), (3,)), ShapeError, "does not fit"),
        (lambda: Normalization(mean=1.0, variance=1.0).adapt(np.ones((4, 2))), ValueError, "nothing to set"),
        (lambda: Normalization().adapt([]), ValueError, "no data"),
    ],
)
def test_normalization_refuses_bad_arguments(make, error, match):
    with pytest.raises(error, match=match):
        make()


def test_adapt_refuses_batches_of_another_shape(rng):
    layer = Normalization()
    layer.adapt(rng.standard_normal((10, 3)))
    with pytest.raises(ShapeError, match=r"adapt got batches of shape \(10, 4\)"):
        layer.adapt(rng.standard_normal((10, 4)))


@pytest.mark.parametrize("invert", [False, True])
def test_normalization_equals_real_keras(invert, rng):
    from keras_twins import keras_output, real_keras

    keras = real_keras()
    data = (rng.standard_normal((40, 6, 5, 3)) * [1.0, 2.0, 0.1] + [0.0, -3.0, 7.0]).astype(np.float32)
    theirs, ours = keras.layers.Normalization(invert=invert), Normalization(invert=invert)
    theirs.adapt(data)
    ours.adapt(data)
    # Keras adapts in float32, minidl in float64: the statistics agree to float32's precision.
    np.testing.assert_allclose(ours(data[:4]), keras_output(theirs, data[:4]), rtol=1e-4, atol=1e-4)
    ours.set_weights(theirs.get_weights())
    np.testing.assert_allclose(ours(data[:4]), keras_output(theirs, data[:4]), rtol=1e-5, atol=1e-5)

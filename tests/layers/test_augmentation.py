"""RandomFlip, RandomRotation, RandomTranslation, RandomZoom, RandomContrast.

Gradient checks with the draws replayed; inference leaves images alone; each transformation equals
real Keras's for the same drawn parameters, in every fill mode and interpolation; draws depend on
(seed, step, position) only, so `fit(workers=2)` trains exactly as `workers=1` (float64); arguments;
saving.
"""

import numpy as np
import pytest

from minidl import Sequential
from minidl.errors import ShapeError
from minidl.gradcheck import build_float64 as build
from minidl.gradcheck import check_gradients
from minidl.layers import (
    Conv2D,
    Dense,
    Flatten,
    RandomContrast,
    RandomFlip,
    RandomRotation,
    RandomTranslation,
    RandomZoom,
    augmentation,
)
from minidl.layers.context import TrainingContext
from minidl.optimizers import SGD

LAYERS = [
    lambda: RandomFlip(),
    lambda: RandomFlip("horizontal"),
    lambda: RandomFlip("vertical"),
    lambda: RandomRotation(0.2),
    lambda: RandomRotation((-0.1, 0.3), fill_mode="constant", fill_value=0.5, interpolation="nearest"),
    lambda: RandomTranslation(0.3, (-0.2, 0.1), fill_mode="wrap"),
    lambda: RandomZoom(0.3, fill_mode="nearest"),
    lambda: RandomZoom((-0.3, 0.2), (0.1, 0.4), fill_mode="constant"),
    lambda: RandomContrast(0.5, value_range=(-1.5, 1.5)),
]


@pytest.mark.parametrize("make", LAYERS)
def test_gradients(make, rng):
    check_gradients(build(make(), (5, 6, 2)), rng.standard_normal((3, 5, 6, 2))).assert_ok()


@pytest.mark.parametrize("make", LAYERS)
def test_inference_leaves_the_images_alone_and_training_changes_them(make, rng):
    layer = build(make(), (5, 6, 2))
    x = rng.standard_normal((8, 5, 6, 2))
    assert layer.forward(x, training=False) is x
    assert not np.allclose(layer.forward(x, training=True), x)
    np.testing.assert_array_equal(layer.backward(np.ones_like(x)).shape, x.shape)


def test_direct_calls_augment_as_keras_does(rng):
    """Keras's augmentation layers default to training=True when called; a model's predict does not."""
    layer = RandomFlip("horizontal", seed=3)
    x = rng.standard_normal((16, 4, 4, 1)).astype(np.float32)
    first, second = layer(x), layer(x)
    assert not np.array_equal(first, x) and not np.array_equal(first, second)
    np.testing.assert_array_equal(layer(x, training=False), x)
    model = Sequential([RandomFlip(input_shape=(4, 4, 1)), Flatten()])
    np.testing.assert_array_equal(model.predict(x, verbose=0), x.reshape(16, -1))


def test_draws_depend_on_seed_step_and_position_only(rng):
    layer = build(RandomRotation(0.5), (6, 6, 1))
    x = rng.standard_normal((6, 6, 6, 1))
    context = TrainingContext(step=4, positions=np.arange(6), seed=11, layers=(layer,))
    whole = layer.forward(x, training=context)
    halves = [
        layer.forward(x[part], training=TrainingContext(step=4, positions=np.arange(6)[part], seed=11, layers=(layer,)))
        for part in (slice(0, 2), slice(2, 6))
    ]
    np.testing.assert_array_equal(np.concatenate(halves), whole)
    other_step = layer.forward(x, training=TrainingContext(step=5, positions=np.arange(6), seed=11, layers=(layer,)))
    assert not np.allclose(other_step, whole)


def test_flip_and_contrast_values(rng):
    x = np.arange(12.0).reshape(1, 3, 4, 1).repeat(64, axis=0)
    layer = build(RandomFlip("horizontal_and_vertical"), (3, 4, 1))
    out = layer.forward(x, training=True)
    flipped = np.array([not np.array_equal(image, x[0]) for image in out])
    assert 16 < flipped.sum() < 48  # about half
    np.testing.assert_array_equal(out[flipped], x[flipped][:, ::-1, ::-1])  # both ways on one draw (Keras 3)
    contrast = build(RandomContrast(0.5), (3, 4, 1))
    x = x + 100  # inside value_range (0, 255) after any contrast factor up to 1.5: nothing clipped
    out = contrast.forward(x, training=True)
    factors = ((out - 105.5) / (x - 105.5))[:, 0, 0, 0]
    assert factors.min() >= 0.5 and factors.max() <= 1.5 and factors.min() < 0.8 and factors.max() > 1.2


def _keras_twin(name, kwargs, x):
    """(Keras's output, minidl's output) of layer `name` for the parameters Keras drew.

    minidl's layer is given the uniform draws u that map to Keras's parameters (each layer's map from
    u to its angle, shift, zoom or contrast factor, inverted), so both transform with the same numbers.
    """
    from keras_twins import real_keras

    keras = real_keras()
    theirs = getattr(keras.layers, name)(**kwargs)
    ours = build(getattr(augmentation, name)(**kwargs), x.shape[1:])
    drawn = theirs.get_random_transformation(x, training=True)
    expected = keras.ops.convert_to_numpy(theirs.transform_images(keras.ops.convert_to_tensor(x), drawn, training=True))
    value = {
        key: np.asarray(keras.ops.convert_to_numpy(v), dtype=np.float64)
        for key, v in drawn.items()
        if key in ("angle", "translations", "height_zoom", "width_zoom", "contrast_factor", "flips")
    }
    n, h, w, _ = x.shape

    def fraction(parameter, low, high):
        return (parameter - low) / (high - low)

    if name == "RandomFlip":
        uniforms = np.where(value["flips"].reshape(n, 1) > 0, 0.25, 0.75)  # flipped when u < 1/2
    elif name == "RandomContrast":
        lower, upper = ours.factor
        uniforms = fraction(value["contrast_factor"].reshape(n, 1), 1 - lower, 1 + upper)
    elif name == "RandomRotation":
        uniforms = fraction(value["angle"][:, None] / 360, *ours.factor)
    elif name == "RandomTranslation":
        shifts = value["translations"] / [w, h]  # (dx, dy) as fractions of the image
        uniforms = np.stack([fraction(shifts[:, 1], *ours.height_range), fraction(shifts[:, 0], *ours.width_range)], 1)
    else:
        zooms = np.concatenate([value["height_zoom"], value["width_zoom"]], axis=1) - 1
        uniforms = np.stack([fraction(zooms[:, 0], *ours.height_range), fraction(zooms[:, 1], *ours.width_range)], 1)
    ours.draws = lambda training, count, features: uniforms
    return expected, ours.forward(x, training=True)


@pytest.mark.parametrize("fill_mode", augmentation.FILL_MODES)
@pytest.mark.parametrize("interpolation", augmentation.INTERPOLATIONS)
@pytest.mark.parametrize(
    "name, kwargs",
    [
        ("RandomRotation", {"factor": 0.3}),
        ("RandomTranslation", {"height_factor": 0.3, "width_factor": (-0.2, 0.4)}),
        ("RandomZoom", {"height_factor": 0.3, "width_factor": (-0.2, 0.4)}),
    ],
)
def test_affine_layers_equal_real_keras(name, kwargs, fill_mode, interpolation, rng):
    x = rng.uniform(0, 255, (4, 7, 9, 3)).astype(np.float32)
    kwargs = {**kwargs, "fill_mode": fill_mode, "interpolation": interpolation, "fill_value": 7.0}
    theirs, ours = _keras_twin(name, kwargs, x)
    np.testing.assert_allclose(ours, theirs, atol=2e-3)  # pixel values up to 255, float32


@pytest.mark.parametrize(
    "name, kwargs",
    [("RandomFlip", {}), ("RandomFlip", {"mode": "vertical"}), ("RandomContrast", {"factor": (0.2, 0.5)})],
)
def test_flip_and_contrast_equal_real_keras(name, kwargs, rng):
    x = rng.uniform(0, 255, (6, 5, 4, 3)).astype(np.float32)
    theirs, ours = _keras_twin(name, kwargs, x)
    np.testing.assert_allclose(ours, theirs, rtol=1e-5, atol=1e-3)


@pytest.mark.parametrize(
    "make, error, match",
    [
        (lambda: RandomFlip("diagonal"), ValueError, "RandomFlip: mode"),
        (lambda: RandomFlip(seed=-1), ValueError, "RandomFlip: seed"),
        (lambda: RandomRotation(1.5), ValueError, "RandomRotation: factor"),
        (lambda: RandomRotation((0.1, 0.2, 0.3)), ValueError, "RandomRotation: factor"),
        (lambda: RandomRotation(0.1, fill_mode="mirror"), NotImplementedError, "fill_mode"),
        (lambda: RandomRotation(0.1, interpolation="bicubic"), NotImplementedError, "interpolation"),
        (lambda: RandomTranslation(0.1, "a"), ValueError, "RandomTranslation: width_factor"),
        (lambda: RandomZoom(-1.0), ValueError, "RandomZoom: height_factor"),
        (lambda: RandomZoom(0.2, fill_value=float("nan")), ValueError, "fill_value"),
        (lambda: RandomContrast(1.5), ValueError, "RandomContrast: factor"),
        (lambda: RandomContrast(0.2, value_range=(1, 0)), ValueError, "value_range"),
        (lambda: RandomRotation(0.1, data_format="channels_first"), NotImplementedError, "channels_first"),
        (lambda: build(RandomFlip(), (4, 4)), ShapeError, "needs images"),
    ],
)
def test_bad_arguments_and_shapes(make, error, match):
    with pytest.raises(error, match=match):
        make()


def augmented_model(seed=5, augment=True):
    layers = [
        RandomFlip("horizontal"),
        RandomRotation(0.1),
        RandomTranslation(0.1, 0.1),
        RandomZoom(0.2),
        RandomContrast(0.3, value_range=(0, 1)),
    ]
    model = Sequential(seed=seed, dtype="float64")
    for layer in layers if augment else []:
        model.add(layer)
    model.add(Conv2D(4, 3, activation="relu", input_shape=(10, 10, 1)))
    model.add(Flatten())
    model.add(Dense(3, activation="softmax"))
    model.build((10, 10, 1))
    return model.compile(SGD(0.1, momentum=0.9), "sparse_categorical_crossentropy")


def test_fit_with_two_workers_equals_one(rng):
    x, y = rng.random((96, 10, 10, 1)), rng.integers(0, 3, 96)
    histories, weights = [], []
    for workers in (1, 2):
        model = augmented_model()
        histories.append(model.fit(x, y, batch_size=24, epochs=2, verbose=0, workers=workers).history)
        weights.append(model.parameters.copy())
    np.testing.assert_allclose(weights[1], weights[0], rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(histories[1]["loss"], histories[0]["loss"], rtol=1e-10)
    plain = augmented_model(augment=False)
    plain.fit(x, y, batch_size=24, epochs=2, verbose=0)
    assert not np.allclose(plain.parameters, weights[0], atol=1e-3), "the augmentation changed nothing"


def test_save_load_round_trip(rng, tmp_path):
    from suite_helpers import assert_round_trip

    model = Sequential(
        [
            RandomFlip("vertical", seed=2, input_shape=(6, 6, 1)),
            RandomRotation((-0.2, 0.1), fill_mode="constant", fill_value=0.25, interpolation="nearest"),
            RandomTranslation(0.1, (0.0, 0.2)),
            RandomZoom(0.2, None, fill_mode="wrap"),
            RandomContrast((0.1, 0.4), value_range=(0, 1)),
            Flatten(),
        ]
    )
    assert_round_trip(model, rng.random((2, 6, 6, 1)).astype(np.float32), tmp_path)

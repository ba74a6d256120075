"""Time series classified by a 1-D convnet (after keras.io's timeseries_classification_from_scratch).

Synthetic series instead of FordA: class 0 is a noisy sine, class 1 a noisy square wave of the same
period, each with a random phase.
"""

import numpy as np

import minidl as keras

rng = np.random.default_rng(0)
steps = 64


def series(count):
    labels = rng.integers(0, 2, count)
    time = np.arange(steps) / 16.0 * 2 * np.pi + rng.uniform(0, 2 * np.pi, (count, 1))
    waves = np.where(labels[:, None] == 0, np.sin(time), np.sign(np.sin(time)))
    return (waves + rng.normal(0, 0.6, (count, steps)))[..., None].astype("float32"), labels


x_train, y_train = series(600)
x_test, y_test = series(200)

keras.utils.set_random_seed(2)
model = keras.Sequential(
    [
        keras.layers.Input(shape=x_train.shape[1:]),
        keras.layers.Conv1D(filters=16, kernel_size=3, padding="same"),
        keras.layers.BatchNormalization(),
        keras.layers.ReLU(),
        keras.layers.Conv1D(filters=16, kernel_size=3, padding="same"),
        keras.layers.BatchNormalization(),
        keras.layers.ReLU(),
        keras.layers.MaxPooling1D(2),
        keras.layers.GlobalAveragePooling1D(),
        keras.layers.Dense(2, activation="softmax"),
    ]
)
model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["sparse_categorical_accuracy"])
history = model.fit(x_train, y_train, batch_size=16, epochs=15, validation_split=0.2, verbose=0)
test_loss, test_accuracy = model.evaluate(x_test, y_test, verbose=0)
print(f"test accuracy {test_accuracy:.3f}")

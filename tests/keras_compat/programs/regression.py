"""Regression with mse / mae / Huber: predict a digit's value from its image."""

import numpy as np

import minidl as keras
from minidl import layers

(x_train, y_train), (x_test, y_test) = keras.datasets.mnist.load_data()
x_train = x_train[:3000].reshape(-1, 784).astype("float32") / 255.0
x_test = x_test[:1000].reshape(-1, 784).astype("float32") / 255.0
y_train = y_train[:3000].astype("float32")
y_test = y_test[:1000].astype("float32")

model = keras.Sequential(
    [
        keras.Input(shape=(784,)),
        layers.Dense(64, activation="relu"),
        layers.Dense(32, activation="relu"),
        layers.Dense(1),
    ]
)
model.compile(optimizer=keras.optimizers.Adam(learning_rate=1e-3), loss="mse", metrics=["mae"])
history = model.fit(x_train, y_train, batch_size=32, epochs=4, validation_split=0.2, verbose=0)
print(history.history.keys())
mse, mae = model.evaluate(x_test, y_test, verbose=0)
print(f"test mse {mse:.3f}, mae {mae:.3f}")

baseline_mae = float(np.mean(np.abs(y_test - y_train.mean())))
print(f"predicting the mean gives mae {baseline_mae:.3f}")

huber_model = keras.Sequential([layers.Dense(32, activation="relu"), layers.Dense(1)])
huber_model.compile(
    optimizer="adam",
    loss=keras.losses.Huber(delta=1.0),
    metrics=[keras.metrics.MeanAbsoluteError(), keras.metrics.MeanSquaredError()],
)
huber_history = huber_model.fit(x_train, y_train, epochs=3, verbose=0)
huber_results = huber_model.evaluate(x_test, y_test, return_dict=True, verbose=0)
print(huber_results)

"""Learning-rate schedules: a schedule object in the optimizer, and the scheduling callbacks."""

import math

import numpy as np

import minidl as keras
from minidl import layers

(x_train, y_train), _ = keras.datasets.mnist.load_data()
x_train = x_train[:2000].reshape(-1, 784).astype("float32") / 255.0
y_train = y_train[:2000]


def get_model(optimizer):
    model = keras.Sequential([layers.Dense(32, activation="relu"), layers.Dense(10, activation="softmax")])
    model.compile(optimizer=optimizer, loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


lr_schedule = keras.optimizers.schedules.ExponentialDecay(initial_learning_rate=0.1, decay_steps=10, decay_rate=0.9)
optimizer = keras.optimizers.SGD(learning_rate=lr_schedule)
model = get_model(optimizer)
decay_history = model.fit(x_train, y_train, batch_size=100, epochs=2, verbose=0)
steps_done = int(optimizer.iterations)
rate_after = float(optimizer.learning_rate)
print(f"after {steps_done} steps the rate is {rate_after:.5f}")

piecewise = keras.optimizers.schedules.PiecewiseConstantDecay(boundaries=[5, 10], values=[0.1, 0.05, 0.01])
piecewise_rates = [piecewise(step) for step in (0, 5, 6, 10, 11)]


def scheduler(epoch, lr):
    if epoch < 2:
        return lr
    return lr * math.exp(-0.5)


model = get_model(keras.optimizers.SGD(learning_rate=0.05))
scheduler_history = model.fit(
    x_train,
    y_train,
    epochs=4,
    batch_size=100,
    verbose=0,
    callbacks=[keras.callbacks.LearningRateScheduler(scheduler)],
)
print("learning rates:", np.round(scheduler_history.history["learning_rate"], 5))

model = get_model(keras.optimizers.Adam(learning_rate=0.01))
plateau_history = model.fit(
    x_train,
    y_train,
    epochs=5,
    batch_size=100,
    validation_split=0.25,
    verbose=0,
    callbacks=[keras.callbacks.ReduceLROnPlateau(monitor="val_loss", factor=0.2, patience=0, min_delta=10.0)],
)
print("plateau rates:", plateau_history.history["learning_rate"])

"""Saving and loading in the style of Keras's saving guide: whole models, weights, checkpoints, CSV logs."""

import numpy as np

import minidl as keras
from minidl import layers

(x_train, y_train), (x_test, y_test) = keras.datasets.mnist.load_data()
x_train = x_train[:2000].reshape(-1, 784).astype("float32") / 255.0
x_test = x_test[:500].reshape(-1, 784).astype("float32") / 255.0
y_train, y_test = y_train[:2000], y_test[:500]


def get_model():
    model = keras.Sequential([keras.Input(shape=(784,)), layers.Dense(64, activation="relu"), layers.Dense(10)])
    model.compile(
        optimizer=keras.optimizers.Adam(),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )
    return model


model = get_model()
history = model.fit(
    x_train,
    y_train,
    epochs=3,
    validation_split=0.2,
    verbose=0,
    callbacks=[
        keras.callbacks.ModelCheckpoint("best.keras", monitor="val_accuracy", save_best_only=True, verbose=1),
        keras.callbacks.CSVLogger("training.csv"),
    ],
)
with open("training.csv") as file:
    csv_lines = file.read().splitlines()
print("\n".join(csv_lines))
predictions = model.predict(x_test, verbose=0)

# BEGIN SAVING (needs minidl.saving's load_model(path), save_weights(model, path), load_weights(model, path))
model.save("my_model.keras")
reconstructed = keras.models.load_model("my_model.keras")
reconstructed_predictions = reconstructed.predict(x_test, verbose=0)

model.save_weights("my_model.weights.h5")
fresh = get_model()
fresh.load_weights("my_model.weights.h5")
fresh_predictions = fresh.predict(x_test, verbose=0)

best = keras.models.load_model("best.keras")
best_accuracy = best.evaluate(x_test, y_test, verbose=0)[1]

# Training resumes where it stopped: the loaded model goes on from the saved optimizer state.
reconstructed.fit(x_train, y_train, epochs=1, verbose=0)
# END SAVING

test_accuracy = model.evaluate(x_test, y_test, verbose=0)[1]
print("test accuracy:", test_accuracy)
print("identical predictions:", np.array_equal(predictions, model.predict(x_test, verbose=0)))

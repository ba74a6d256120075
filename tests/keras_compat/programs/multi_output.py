"""A model with two outputs, as in the Functional API guide's multi-output models: one convolutional
trunk, a head naming the digit and a head saying whether it is even. Losses, loss weights and metrics
are given by output name, the targets as a dict by name (a list for validation); `evaluate` returns
each output's loss and metrics beside the weighted total."""

import numpy as np

import minidl as keras
from minidl import layers

(x_train, y_train), (x_test, y_test) = keras.datasets.mnist.load_data()
x_train = np.expand_dims(x_train[:3000], -1).astype("float32") / 255
x_test = np.expand_dims(x_test[:1000], -1).astype("float32") / 255
y_train, y_test = y_train[:3000], y_test[:1000]
even_train, even_test = (y_train % 2 == 0).astype("float32"), (y_test % 2 == 0).astype("float32")

image = keras.Input(shape=(28, 28, 1), name="image")
x = layers.Conv2D(16, 3, activation="relu")(image)
x = layers.MaxPooling2D(2)(x)
x = layers.Conv2D(16, 3, activation="relu")(x)
x = layers.MaxPooling2D(2)(x)
x = layers.Flatten()(x)
x = layers.Dense(64, activation="relu")(x)
digit = layers.Dense(10, activation="softmax", name="digit")(x)
even = layers.Dense(1, activation="sigmoid", name="even")(x)

model = keras.Model(inputs=image, outputs=[digit, even], name="two_outputs")
model.summary()
model.compile(
    optimizer=keras.optimizers.Adam(learning_rate=2e-3),
    loss={"digit": "sparse_categorical_crossentropy", "even": "binary_crossentropy"},
    loss_weights={"digit": 1.0, "even": 0.5},
    metrics={"digit": ["accuracy"], "even": ["accuracy"]},
)
history = model.fit(
    x_train,
    {"digit": y_train, "even": even_train},
    batch_size=64,
    epochs=4,
    validation_data=(x_test[:200], [y_test[:200], even_test[:200]]),
    verbose=2,
)
results = model.evaluate(x_test, {"digit": y_test, "even": even_test}, verbose=0, return_dict=True)
digit_probabilities, even_probabilities = model.predict(x_test, verbose=0)
print("two outputs:", results)

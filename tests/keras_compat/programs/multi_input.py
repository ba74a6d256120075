"""A model with two inputs merged with `layers.concatenate`, as in the Functional API guide's
multi-input models: the digit image through a small convolutional branch, and its ink profile (the
sums of its rows and columns) through a dense branch. Trained with a list of arrays, validated on a
list, evaluated and predicted with a dict keyed by the inputs' names; each branch alone does worse."""

import numpy as np

import minidl as keras
from minidl import layers

(x_train, y_train), (x_test, y_test) = keras.datasets.mnist.load_data()
images_train = np.expand_dims(x_train[:3000], -1).astype("float32") / 255
images_test = np.expand_dims(x_test[:1000], -1).astype("float32") / 255
y_train, y_test = y_train[:3000], y_test[:1000]


def ink_profile(images):
    """Row sums and column sums of each image, scaled to about [0, 1]: (N, 56)."""
    return np.concatenate([images.sum(axis=2)[..., 0], images.sum(axis=1)[..., 0]], axis=1) / 28


profiles_train, profiles_test = ink_profile(images_train), ink_profile(images_test)

image_input = keras.Input(shape=(28, 28, 1), name="image")
profile_input = keras.Input(shape=(56,), name="profile")

image_features = layers.Conv2D(8, 3, strides=2, activation="relu")(image_input)
image_features = layers.MaxPooling2D(2)(image_features)
image_features = layers.Flatten()(image_features)
profile_features = layers.Dense(32, activation="relu")(profile_input)

x = layers.concatenate([image_features, profile_features])
x = layers.Dense(64, activation="relu")(x)
digit_output = layers.Dense(10, name="digit")(x)

model = keras.Model(inputs=[image_input, profile_input], outputs=digit_output, name="two_inputs")
model.summary()
model.compile(
    optimizer=keras.optimizers.Adam(learning_rate=2e-3),
    loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    metrics=["accuracy"],
)
history = model.fit(
    [images_train, profiles_train],
    y_train,
    batch_size=64,
    epochs=4,
    validation_data=([images_test[:200], profiles_test[:200]], y_test[:200]),
    verbose=2,
)
results = model.evaluate({"image": images_test, "profile": profiles_test}, y_test, verbose=0, return_dict=True)
predictions = model.predict({"image": images_test, "profile": profiles_test}, verbose=0)
list_predictions = model.predict([images_test, profiles_test], verbose=0)
print("two inputs:", results)

# The profile branch alone, trained the same way
profile_only_input = keras.Input(shape=(56,), name="profile")
x = layers.Dense(32, activation="relu")(profile_only_input)
x = layers.Dense(64, activation="relu")(x)
profile_only = keras.Model(profile_only_input, layers.Dense(10)(x))
profile_only.compile(
    optimizer=keras.optimizers.Adam(learning_rate=2e-3),
    loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    metrics=["accuracy"],
)
profile_only.fit(profiles_train, y_train, batch_size=64, epochs=4, verbose=0)
profile_only_accuracy = profile_only.evaluate(profiles_test, y_test, verbose=0)[1]
print("profile alone:", profile_only_accuracy)

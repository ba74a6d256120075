"""The beginner quickstart, written for Keras 3: logits, a callable loss, model(x), a model inside a model."""

import numpy as np

import minidl as keras

(x_train, y_train), (x_test, y_test) = keras.datasets.mnist.load_data()
x_train, y_train, x_test, y_test = x_train[:3000], y_train[:3000], x_test[:1000], y_test[:1000]
x_train, x_test = x_train / 255.0, x_test / 255.0

model = keras.models.Sequential(
    [
        keras.layers.Flatten(input_shape=(28, 28)),
        keras.layers.Dense(128, activation="relu"),
        keras.layers.Dropout(0.2),
        keras.layers.Dense(10),
    ]
)

predictions = keras.ops.convert_to_numpy(model(x_train[:1]))
probabilities = keras.ops.convert_to_numpy(keras.ops.softmax(predictions))

loss_fn = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
initial_loss = float(keras.ops.convert_to_numpy(loss_fn(y_train[:1], predictions)))
print("loss of the untrained model:", initial_loss)

model.compile(optimizer="adam", loss=loss_fn, metrics=["accuracy"])
model.fit(x_train, y_train, epochs=3)
test_loss, test_accuracy = model.evaluate(x_test, y_test, verbose=2)

probability_model = keras.Sequential([model, keras.layers.Softmax()])
probs = keras.ops.convert_to_numpy(probability_model(x_test[:5]))
print(np.round(probs, 3))

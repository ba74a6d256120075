"""Binary classification with logits: "is this digit a zero?", BinaryCrossentropy(from_logits=True), AdamW."""

import numpy as np

import minidl as keras
from minidl import layers

(x_train, y_train), (x_test, y_test) = keras.datasets.mnist.load_data()
x_train = x_train[:3000].reshape(-1, 784).astype("float32") / 255.0
x_test = x_test[:1000].reshape(-1, 784).astype("float32") / 255.0
y_train = (y_train[:3000] == 0).astype("float32")
y_test = (y_test[:1000] == 0).astype("float32")

model = keras.Sequential([keras.Input(shape=(784,)), layers.Dense(16, activation="relu"), layers.Dense(1)])
model.compile(
    optimizer=keras.optimizers.AdamW(learning_rate=3e-3, weight_decay=1e-4),
    loss=keras.losses.BinaryCrossentropy(from_logits=True),
    metrics=[keras.metrics.BinaryAccuracy(threshold=0.0), "mse"],
)
history = model.fit(x_train, y_train, batch_size=64, epochs=3, validation_split=0.1, verbose=2)
logits = model.predict(x_test, verbose=0)
probabilities = keras.ops.convert_to_numpy(keras.ops.sigmoid(logits))
accuracy = float(np.mean((probabilities[:, 0] > 0.5) == (y_test == 1)))
print("test accuracy:", accuracy)

loss_fn = keras.losses.BinaryCrossentropy(from_logits=True)
test_loss = float(loss_fn(y_test, logits))
evaluated = model.evaluate(x_test, y_test, verbose=0, return_dict=True)
print(evaluated, test_loss)

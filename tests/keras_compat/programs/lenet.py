"""LeNet-5 on MNIST digits, as a Keras user writes it."""

import numpy as np

import minidl as keras
from minidl import layers

(x_train, y_train), (x_test, y_test) = keras.datasets.mnist.load_data()
x_train = np.expand_dims(x_train[:1500].astype("float32") / 255.0, -1)
x_test = np.expand_dims(x_test[:500].astype("float32") / 255.0, -1)
y_train, y_test = y_train[:1500], y_test[:500]

model = keras.Sequential(name="lenet5")
model.add(keras.Input(shape=(28, 28, 1)))
model.add(layers.Conv2D(6, kernel_size=5, padding="same", activation="relu"))
model.add(layers.AveragePooling2D(pool_size=2))
model.add(layers.Conv2D(16, kernel_size=5, activation="relu"))
model.add(layers.AveragePooling2D(pool_size=2))
model.add(layers.Flatten())
model.add(layers.Dense(120, activation="relu"))
model.add(layers.Dense(84, activation="relu"))
model.add(layers.Dense(10, activation="softmax"))
model.summary()

model.compile(
    optimizer=keras.optimizers.SGD(learning_rate=0.05, momentum=0.9),
    loss="sparse_categorical_crossentropy",
    metrics=["accuracy"],
)
history = model.fit(x_train, y_train, batch_size=32, epochs=3, validation_data=(x_test, y_test), verbose=2)
results = model.evaluate(x_test, y_test, batch_size=128, return_dict=True, verbose=0)
print(results)
predicted = np.argmax(model.predict(x_test[:20], verbose=0), axis=1)
print("predicted:", predicted)
print("labels:   ", y_test[:20])

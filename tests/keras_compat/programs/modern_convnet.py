"""A convnet with Keras's newer building blocks: Rescaling, BatchNormalization, Activation,
LeakyReLU, ZeroPadding2D, GlobalMaxPooling2D, on raw uint8 images. A short run: BatchNormalization's
moving statistics follow faster with momentum=0.9 (Keras's default 0.99 needs several hundred steps
before inference matches training)."""

import numpy as np

import minidl as keras
from minidl import layers

(x_train, y_train), (x_test, y_test) = keras.datasets.mnist.load_data()
x_train = np.expand_dims(x_train[:2000], -1)
x_test = np.expand_dims(x_test[:500], -1)
y_train, y_test = y_train[:2000], y_test[:500]

model = keras.Sequential(
    [
        keras.Input(shape=(28, 28, 1)),
        layers.Rescaling(1.0 / 255),
        layers.Conv2D(16, 3),
        layers.BatchNormalization(momentum=0.9),
        layers.Activation("relu"),
        layers.MaxPooling2D(2),
        layers.ZeroPadding2D(1),
        layers.Conv2D(32, 3),
        layers.BatchNormalization(momentum=0.9),
        layers.LeakyReLU(),
        layers.GlobalMaxPooling2D(),
        layers.Dense(10, activation="softmax"),
    ]
)
model.compile(
    optimizer=keras.optimizers.Adam(learning_rate=0.01), loss="sparse_categorical_crossentropy", metrics=["accuracy"]
)
history = model.fit(x_train, y_train, batch_size=32, epochs=3, validation_split=0.1, verbose=2)
test_loss, test_accuracy = model.evaluate(x_test, y_test, verbose=0)
print("test accuracy:", test_accuracy)
batch_norm = model.get_layer(index=2)
moving_mean, moving_variance = batch_norm.get_weights()[2:]
print("non-trainable weights:", [w.shape for w in model.non_trainable_weights])

"""The Functional API guide's "toy ResNet" on MNIST-sized images: two residual blocks joined with
`layers.add`, BatchNormalization inside the blocks, GlobalAveragePooling2D, Dropout, a Dense head.
Smaller than the guide's CIFAR-10 model (fewer filters, a strided first convolution) so it trains in
seconds; BatchNormalization's moving statistics follow with momentum=0.9, since Keras's 0.99 needs
several hundred steps before inference matches training."""

import numpy as np

import minidl as keras
from minidl import layers

(x_train, y_train), (x_test, y_test) = keras.datasets.mnist.load_data()
x_train = np.expand_dims(x_train[:3000], -1).astype("float32") / 255
x_test = np.expand_dims(x_test[:1000], -1).astype("float32") / 255
y_train, y_test = y_train[:3000], y_test[:1000]


def residual_block(x, filters):
    shortcut = x
    x = layers.Conv2D(filters, 3, padding="same")(x)
    x = layers.BatchNormalization(momentum=0.9)(x)
    x = layers.Activation("relu")(x)
    x = layers.Conv2D(filters, 3, padding="same")(x)
    x = layers.BatchNormalization(momentum=0.9)(x)
    x = layers.add([x, shortcut])
    return layers.Activation("relu")(x)


inputs = keras.Input(shape=(28, 28, 1), name="img")
x = layers.Conv2D(16, 3, strides=2, activation="relu")(inputs)
x = layers.Conv2D(32, 3, activation="relu")(x)
block_1_output = layers.MaxPooling2D(2)(x)
block_2_output = residual_block(block_1_output, 32)
block_3_output = residual_block(block_2_output, 32)
x = layers.Conv2D(32, 3, activation="relu")(block_3_output)
x = layers.GlobalAveragePooling2D()(x)
x = layers.Dense(64, activation="relu")(x)
x = layers.Dropout(0.3)(x)
outputs = layers.Dense(10)(x)
model = keras.Model(inputs, outputs, name="toy_resnet")
model.summary()

model.compile(
    optimizer=keras.optimizers.Adam(learning_rate=3e-3),
    loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    metrics=["acc"],
)
history = model.fit(x_train, y_train, batch_size=32, epochs=4, validation_split=0.1, verbose=2)
test_loss, test_accuracy = model.evaluate(x_test, y_test, verbose=0)
print("toy ResNet test accuracy:", test_accuracy)
block_shapes = [tuple(t.shape) for t in (block_1_output, block_2_output, block_3_output)]
parameter_count = model.count_params()

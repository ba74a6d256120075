"""After keras.io's "Image classification from scratch": a small Xception-style network, data
augmentation inside the model, a binary task. keras.io tells cats from dogs; here the task is
"is the digit below 5?" on MNIST-sized images (28x28x1), with the example's blocks at a small width:
an entry Conv2D + BatchNormalization, residual blocks of SeparableConv2D + BatchNormalization +
MaxPooling2D whose shortcut is a strided 1x1 Conv2D, global average pooling, Dropout and one logit.
(A horizontal flip is no symmetry of digits; the example's layer is kept, and the task survives it.)
A short run: BatchNormalization's moving statistics follow faster with momentum=0.9 (Keras's default
0.99 leaves them far from the batches' after 200 steps, and validation at chance)."""

import numpy as np

import minidl as keras
from minidl import layers

(x_train, y_train), (x_test, y_test) = keras.datasets.mnist.load_data()
x_train = np.expand_dims(x_train[:2000], -1).astype("float32")
x_test = np.expand_dims(x_test[:500], -1).astype("float32")
y_train = (y_train[:2000] < 5).astype("float32")
y_test = (y_test[:500] < 5).astype("float32")
image_size = (28, 28)

data_augmentation = keras.Sequential(
    [
        layers.RandomFlip("horizontal"),
        layers.RandomRotation(0.1),
    ]
)


def make_model(input_shape, num_classes):
    inputs = keras.Input(shape=input_shape)
    x = data_augmentation(inputs)

    # Entry block
    x = layers.Rescaling(1.0 / 255)(x)
    x = layers.Conv2D(16, 3, strides=2, padding="same")(x)
    x = layers.BatchNormalization(momentum=0.9)(x)
    x = layers.Activation("relu")(x)

    previous_block_activation = x  # Set aside residual

    for size in [16, 32]:
        x = layers.Activation("relu")(x)
        x = layers.SeparableConv2D(size, 3, padding="same")(x)
        x = layers.BatchNormalization(momentum=0.9)(x)

        x = layers.Activation("relu")(x)
        x = layers.SeparableConv2D(size, 3, padding="same")(x)
        x = layers.BatchNormalization(momentum=0.9)(x)

        x = layers.MaxPooling2D(3, strides=2, padding="same")(x)

        # Project residual
        residual = layers.Conv2D(size, 1, strides=2, padding="same")(previous_block_activation)
        x = layers.add([x, residual])  # Add back residual
        previous_block_activation = x  # Set aside next residual

    x = layers.SeparableConv2D(64, 3, padding="same")(x)
    x = layers.BatchNormalization(momentum=0.9)(x)
    x = layers.Activation("relu")(x)

    x = layers.GlobalAveragePooling2D()(x)
    units = 1 if num_classes == 2 else num_classes

    x = layers.Dropout(0.25)(x)
    # We specify activation=None so as to return logits
    outputs = layers.Dense(units, activation=None)(x)
    return keras.Model(inputs, outputs)


model = make_model(input_shape=image_size + (1,), num_classes=2)
model.summary()

# What augmentation does to a few training images (keras.io draws them): called without `training`,
# the random layers augment; inference leaves the images alone.
images = x_train[:8]
augmented_images = keras.ops.convert_to_numpy(data_augmentation(images))
inference_images = keras.ops.convert_to_numpy(data_augmentation(images, training=False))

model.compile(
    optimizer=keras.optimizers.Adam(3e-3),
    loss=keras.losses.BinaryCrossentropy(from_logits=True),
    metrics=[keras.metrics.BinaryAccuracy(name="acc")],
)
history = model.fit(x_train, y_train, batch_size=32, epochs=4, validation_split=0.1, verbose=2)
test_loss, test_accuracy = model.evaluate(x_test, y_test, verbose=0)
print("test accuracy:", test_accuracy)

# Run inference on new data: one logit per image, the same twice (no augmentation, no dropout).
predictions = model.predict(x_test[:16], verbose=0)
predictions_again = model.predict(x_test[:16], verbose=0)
score = float(keras.ops.sigmoid(predictions[0][0]))
print(f"The first test image is {100 * score:.2f}% a digit below 5.")

"""End to end: a seeded LeNet-5 learns real MNIST digits in seconds (over 90 % from 2,000 images, 2 epochs).

The architecture is the issue's LeNet-5; the training settings are what reaches 90 % within 2 epochs on
2,000 images: He-uniform kernels for the ReLU layers, Adam(2e-3), batch 8 (500 steps). Measured over
seeds 0-5 that gives 91.3-93.4 % on the first 1,000 test images (seed 0: 92.2 %). Settings with less
margin are fragile: Adam(3e-3) at batch 16 gave 91.5 % for seed 0 before a change of float32
summation order in Conv2D's backward pass, and 89.6 % after. The issue's first guess, Glorot kernels
with SGD(0.05, momentum=0.9), gives 79-85 % at batch 64 — and PyTorch, started from the same weights and
fed the same batches, follows the same curve (78.7 % against minidl's 79.0 %), so that is the step
budget, not minidl.
"""

import numpy as np
import pytest

from minidl import Model, optimizers
from minidl.datasets import load_mnist
from minidl.layers import AvgPool2D, Conv2D, Dense, Flatten

MIN_TEST_ACCURACY = 0.90


def lenet5_he(seed):
    model = Model(name="lenet5", seed=seed)
    model.add(Conv2D(6, 5, padding="same", activation="relu", input_shape=(28, 28, 1), kernel_initializer="he_uniform"))
    model.add(AvgPool2D(2))
    model.add(Conv2D(16, 5, activation="relu", kernel_initializer="he_uniform"))
    model.add(AvgPool2D(2))
    model.add(Flatten())
    model.add(Dense(120, activation="relu", kernel_initializer="he_uniform"))
    model.add(Dense(84, activation="relu", kernel_initializer="he_uniform"))
    model.add(Dense(10, activation="softmax"))
    return model


def test_lenet5_learns_mnist_subset(mnist_dir):
    (x_train, y_train), (x_test, y_test) = load_mnist(
        data_dir=mnist_dir, train_limit=2000, test_limit=1000, download=False
    )
    assert x_train.shape == (2000, 28, 28, 1) and x_train.dtype == np.float32
    assert x_test.shape == (1000, 28, 28, 1) and y_test.dtype == np.int64

    model = lenet5_he(seed=0)
    assert model.count_params() == 61706
    model.compile(optimizer=optimizers.Adam(2e-3), loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    _, chance = model.evaluate(x_test, y_test)
    history = model.fit(x_train, y_train, batch_size=8, epochs=2, verbose=0, validation_data=(x_test, y_test))
    loss, accuracy = model.evaluate(x_test, y_test)

    assert chance < 0.3
    assert history.history["loss"][1] < history.history["loss"][0]
    assert accuracy == pytest.approx(history.history["val_accuracy"][-1])
    assert accuracy > MIN_TEST_ACCURACY, f"test accuracy {accuracy:.3f} after 2 epochs on 2,000 images"

"""The layers a Model is built from, under their Keras names."""

from .activations import Activation, Linear, ReLU, Sigmoid, Softmax, Tanh
from .base import Layer
from .conv import Conv2D
from .dense import Dense
from .dropout import Dropout
from .pooling import AveragePooling2D, AvgPool2D, MaxPool2D, MaxPooling2D
from .reshape import Flatten

LAYER_CLASSES = {
    cls.__name__: cls
    for cls in (Conv2D, Dense, Dropout, AvgPool2D, MaxPool2D, Flatten, ReLU, Sigmoid, Tanh, Softmax, Linear)
}

__all__ = [
    "Layer",
    "Activation",
    "Dense",
    "Conv2D",
    "MaxPool2D",
    "AvgPool2D",
    "MaxPooling2D",
    "AveragePooling2D",
    "Flatten",
    "Dropout",
    "ReLU",
    "Sigmoid",
    "Tanh",
    "Softmax",
    "Linear",
    "LAYER_CLASSES",
]

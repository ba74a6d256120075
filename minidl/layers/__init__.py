"""The layers a Model is built from, under their Keras names."""

from .activations import (
    ELU,
    GELU,
    Activation,
    ElementwiseActivation,
    LeakyReLU,
    Linear,
    ReLU,
    Sigmoid,
    SiLU,
    Softmax,
    Softplus,
    Tanh,
)
from .attention import MultiHeadAttention
from .base import Layer
from .conv import Conv2D
from .dense import Dense
from .dropout import Dropout
from .global_pooling import GlobalAveragePooling2D, GlobalAvgPool2D, GlobalMaxPool2D, GlobalMaxPooling2D
from .input import Input, InputLayer  # keras.layers.Input, as Keras 3 also exports it there
from .merging import (
    Add,
    Average,
    Concatenate,
    Maximum,
    Minimum,
    Multiply,
    Subtract,
    add,
    average,
    concatenate,
    maximum,
    minimum,
    multiply,
    subtract,
)
from .normalization import BatchNormalization, LayerNormalization
from .padding import ZeroPadding2D
from .pooling import AveragePooling2D, AvgPool2D, MaxPool2D, MaxPooling2D
from .preprocessing import Rescaling
from .reshape import Flatten

# Every class a saved architecture may name: by class name, plus Keras's alternative names.
LAYER_CLASSES = {
    cls.__name__: cls
    for cls in (
        Conv2D,
        Dense,
        Dropout,
        AvgPool2D,
        MaxPool2D,
        GlobalAveragePooling2D,
        GlobalMaxPooling2D,
        Flatten,
        ZeroPadding2D,
        Rescaling,
        BatchNormalization,
        LayerNormalization,
        MultiHeadAttention,
        Activation,
        ReLU,
        LeakyReLU,
        Sigmoid,
        Tanh,
        Softmax,
        Linear,
        InputLayer,
        Add,
        Subtract,
        Multiply,
        Average,
        Maximum,
        Minimum,
        Concatenate,
    )
}
LAYER_CLASSES.update(
    MaxPooling2D=MaxPooling2D,
    AveragePooling2D=AveragePooling2D,
    GlobalAvgPool2D=GlobalAvgPool2D,
    GlobalMaxPool2D=GlobalMaxPool2D,
)

__all__ = [
    "Layer",
    "ElementwiseActivation",
    "Activation",
    "Dense",
    "Conv2D",
    "MaxPool2D",
    "AvgPool2D",
    "MaxPooling2D",
    "AveragePooling2D",
    "GlobalAveragePooling2D",
    "GlobalMaxPooling2D",
    "GlobalAvgPool2D",
    "GlobalMaxPool2D",
    "Flatten",
    "ZeroPadding2D",
    "Rescaling",
    "BatchNormalization",
    "LayerNormalization",
    "MultiHeadAttention",
    "Dropout",
    "ReLU",
    "LeakyReLU",
    "Sigmoid",
    "Tanh",
    "Softmax",
    "Linear",
    "LAYER_CLASSES",
    "Input",
    "InputLayer",
    "Add",
    "Subtract",
    "Multiply",
    "Average",
    "Maximum",
    "Minimum",
    "Concatenate",
    "add",
    "subtract",
    "multiply",
    "average",
    "maximum",
    "minimum",
    "concatenate",
    "ELU",
    "GELU",
    "SiLU",
    "Softplus",
]

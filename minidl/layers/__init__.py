"""The layers a Model is built from, under their Keras names."""

from .activations import Activation, ElementwiseActivation, LeakyReLU, Linear, ReLU, Sigmoid, Softmax, Tanh
from .base import Layer
from .cells import GRUCell, LSTMCell, SimpleRNNCell
from .conv import Conv2D
from .conv1d import Conv1D, Convolution1D
from .dense import Dense
from .dropout import Dropout
from .embedding import Embedding
from .global_pooling import (
    GlobalAveragePooling1D,
    GlobalAveragePooling2D,
    GlobalAvgPool1D,
    GlobalAvgPool2D,
    GlobalMaxPool1D,
    GlobalMaxPool2D,
    GlobalMaxPooling1D,
    GlobalMaxPooling2D,
)
from .input import Input  # keras.layers.Input, as Keras 3 also exports it there
from .masking import Masking
from .normalization import BatchNormalization
from .padding import ZeroPadding2D
from .pooling import (
    AveragePooling1D,
    AveragePooling2D,
    AvgPool1D,
    AvgPool2D,
    MaxPool1D,
    MaxPool2D,
    MaxPooling1D,
    MaxPooling2D,
)
from .preprocessing import Rescaling
from .recurrent import GRU, LSTM, RNN, Bidirectional, SimpleRNN
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
        Activation,
        ReLU,
        LeakyReLU,
        Sigmoid,
        Tanh,
        Softmax,
        Linear,
        # sequences and recurrence
        Embedding,
        Masking,
        Conv1D,
        MaxPooling1D,
        AveragePooling1D,
        GlobalAveragePooling1D,
        GlobalMaxPooling1D,
        SimpleRNN,
        LSTM,
        GRU,
        RNN,
        SimpleRNNCell,
        LSTMCell,
        GRUCell,
        Bidirectional,
    )
}
LAYER_CLASSES.update(
    MaxPooling2D=MaxPooling2D,
    AveragePooling2D=AveragePooling2D,
    GlobalAvgPool2D=GlobalAvgPool2D,
    GlobalMaxPool2D=GlobalMaxPool2D,
    MaxPool1D=MaxPool1D,
    AvgPool1D=AvgPool1D,
    GlobalAvgPool1D=GlobalAvgPool1D,
    GlobalMaxPool1D=GlobalMaxPool1D,
    Convolution1D=Conv1D,
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
    "Dropout",
    "ReLU",
    "LeakyReLU",
    "Sigmoid",
    "Tanh",
    "Softmax",
    "Linear",
    "LAYER_CLASSES",
    "Input",
    "Embedding",
    "Masking",
    "Conv1D",
    "Convolution1D",
    "MaxPooling1D",
    "AveragePooling1D",
    "MaxPool1D",
    "AvgPool1D",
    "GlobalAveragePooling1D",
    "GlobalMaxPooling1D",
    "GlobalAvgPool1D",
    "GlobalMaxPool1D",
    "SimpleRNN",
    "LSTM",
    "GRU",
    "RNN",
    "SimpleRNNCell",
    "LSTMCell",
    "GRUCell",
    "Bidirectional",
]

"""minidl: a Keras-like deep-learning framework written from scratch in NumPy.

Laid out as Keras 3, so `import minidl as keras` runs a Keras MNIST program: `keras.Input`,
`keras.Sequential`, `keras.layers`, `keras.losses`, `keras.optimizers`, `keras.metrics`,
`keras.callbacks`, `keras.models`, `keras.utils`, `keras.ops`, `keras.initializers` and
`keras.datasets` (with `mnist.load_data()`). `fit(..., workers=N)` splits each batch's gradient
across N processes.
"""

from . import (
    callbacks,
    datasets,
    initializers,
    keras_datasets,
    layers,
    losses,
    metrics,
    models,
    ops,
    optimizers,
    utils,
)
from .input import Input
from .model import Model, Sequential, set_seed

# Keras's `keras.datasets.mnist` / `fashion_mnist` modules, beside minidl's own loaders.
datasets.mnist = keras_datasets.mnist
datasets.fashion_mnist = keras_datasets.fashion_mnist

__version__ = "0.1.0"

__all__ = [
    "Input",
    "Model",
    "Sequential",
    "set_seed",
    "callbacks",
    "datasets",
    "initializers",
    "layers",
    "losses",
    "metrics",
    "models",
    "ops",
    "optimizers",
    "utils",
    "__version__",
]

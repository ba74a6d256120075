"""minidl: a Keras-like deep-learning framework written from scratch in NumPy.

Laid out as Keras 3, so `import minidl as keras` runs a Keras MNIST program: `keras.Input`,
`keras.Sequential`, `keras.layers`, `keras.losses`, `keras.optimizers`, `keras.metrics`,
`keras.callbacks`, `keras.models`, `keras.utils`, `keras.ops`, `keras.initializers`,
`keras.activations`, `keras.constraints`, `keras.regularizers`, `keras.random` and
`keras.datasets` (with `mnist.load_data()`). `fit(..., workers=N)` splits each batch's gradient
across N processes.
"""

from . import (
    activations,
    callbacks,
    constraints,
    datasets,
    initializers,
    layers,
    losses,
    metrics,
    models,
    ops,
    optimizers,
    random,
    regularizers,
    saving,
    utils,
)
from .layers import Input
from .models import Model, Sequential
from .ops import Variable
from .utils.rng import set_seed
from .version import __version__

__all__ = [
    "Input",
    "Variable",
    "Model",
    "Sequential",
    "set_seed",
    "activations",
    "callbacks",
    "constraints",
    "datasets",
    "initializers",
    "layers",
    "losses",
    "metrics",
    "models",
    "ops",
    "optimizers",
    "random",
    "regularizers",
    "saving",
    "utils",
    "__version__",
]

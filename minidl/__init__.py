"""minidl: a Keras-like deep-learning framework written from scratch in NumPy.

Build a network with `Model().add(...)`, then `compile`, `fit`, `evaluate` and `predict` as in
Keras; `fit(..., workers=N)` splits each batch's gradient across N processes.
"""

from .model import Model, Sequential, set_seed

__version__ = "0.1.0"

__all__ = ["Model", "Sequential", "set_seed", "__version__"]

"""`minidl.optimizers`: Keras's optimizers, one per file, on the model's flat parameter vector.

`optimizer.py` is the base (learning rate as a number or a schedule, the state an exact resume
needs); `schedules` holds the learning-rate schedules (`minidl.optimizers.schedules`).
"""

from __future__ import annotations

from ..errors import lookup
from . import schedules
from .adagrad import Adagrad
from .adam import Adam
from .adamw import AdamW
from .optimizer import Optimizer
from .rmsprop import RMSprop
from .sgd import SGD

__all__ = ["Optimizer", "SGD", "Adam", "AdamW", "RMSprop", "Adagrad", "schedules", "get"]

OPTIMIZERS = {"sgd": SGD, "adam": Adam, "adamw": AdamW, "rmsprop": RMSprop, "adagrad": Adagrad}


def get(optimizer) -> Optimizer:
    """An optimizer from a name (default settings), a config dict, a class or an instance."""
    if isinstance(optimizer, Optimizer):
        return optimizer
    if isinstance(optimizer, type) and issubclass(optimizer, Optimizer):
        return optimizer()
    if isinstance(optimizer, dict):
        config = dict(optimizer)
        if isinstance(config.get("learning_rate"), dict):
            config["learning_rate"] = schedules.from_config(config["learning_rate"])
        return lookup("optimizer", config.pop("name"), OPTIMIZERS)(**config)
    return lookup("optimizer", optimizer, OPTIMIZERS)()

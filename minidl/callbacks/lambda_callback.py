"""LambdaCallback: a callback made of plain functions, as Keras's LambdaCallback."""

from __future__ import annotations

from .base import Callback

HOOKS = (
    "on_epoch_begin",
    "on_epoch_end",
    "on_train_begin",
    "on_train_end",
    "on_train_batch_begin",
    "on_train_batch_end",
    "on_test_begin",
    "on_test_end",
    "on_test_batch_begin",
    "on_test_batch_end",
    "on_predict_begin",
    "on_predict_end",
    "on_predict_batch_begin",
    "on_predict_batch_end",
)


class LambdaCallback(Callback):
    """Calls the function given for a hook, e.g. `LambdaCallback(on_epoch_end=lambda epoch, logs: ...)`.

    Epoch and batch hooks take `(index, logs)`, the others `(logs)`, as in Keras; Keras's older
    `on_batch_begin` / `on_batch_end` names are accepted for the training-batch hooks.
    """

    def __init__(self, **functions):
        super().__init__()
        aliases = {"on_batch_begin": "on_train_batch_begin", "on_batch_end": "on_train_batch_end"}
        for name, function in functions.items():
            hook = aliases.get(name, name)
            if hook not in HOOKS:
                raise TypeError(f"LambdaCallback: unknown hook {name!r}; known: {', '.join(HOOKS)}")
            if function is not None:
                if not callable(function):
                    raise TypeError(f"LambdaCallback: {name} must be a function, got {type(function).__name__}")
                setattr(self, hook, function)

"""Callbacks: objects that observe `fit`, `evaluate` and `predict` through Keras's hook names.

See `base.py` for the order in which hooks are called and what their logs hold.
"""

from .backup_and_restore import BackupAndRestore
from .base import Callback, CallbackList
from .early_stopping import EarlyStopping
from .history import History
from .model_checkpoint import ModelCheckpoint
from .monitor import MonitorCallback
from .progress import ProgressBar
from .terminate_on_nan import TerminateOnNaN

__all__ = [
    "BackupAndRestore",
    "Callback",
    "CallbackList",
    "EarlyStopping",
    "History",
    "ModelCheckpoint",
    "MonitorCallback",
    "ProgressBar",
    "TerminateOnNaN",
]

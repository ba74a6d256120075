"""How a model learns: `Trainer` (compile / fit / evaluate / predict), the loops, the data checks.

`minidl.models.Model` inherits `Trainer`; nothing here imports `minidl.models`.
"""

from .trainer import Trainer

__all__ = ["Trainer"]

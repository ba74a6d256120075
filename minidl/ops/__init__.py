"""`minidl.ops`: Keras's `keras.ops`, differentiable: each op is a small class with its forward and its
backward side by side (`numpy.py`, `nn.py`), recorded on a tape when its inputs take part in training
(`tape.py`), recorded as a graph node when they are symbolic (`symbolic.py`), and plain NumPy otherwise.
"""

from .core import convert_to_numpy, convert_to_tensor, is_tensor
from .nn import *  # noqa: F403 (the namespace is Keras's: every op by name)
from .nn import __all__ as _nn_names
from .numpy import *  # noqa: F403
from .numpy import __all__ as _numpy_names
from .operation import Op, Operation
from .symbolic import KerasTensor, Node
from .tape import Tape, Tensor, recording
from .variable import Variable

__all__ = [
    *_numpy_names,
    *_nn_names,
    "convert_to_numpy",
    "convert_to_tensor",
    "is_tensor",
    "KerasTensor",
    "Node",
    "Op",
    "Operation",
    "Tape",
    "Tensor",
    "Variable",
    "recording",
]

"""Real Keras 3 beside minidl: the same layer, the same weights, the same input, in the tests that compare.

`real_keras()` imports Keras on the torch backend (KERAS_BACKEND defaults to "torch" here) or skips
the test when Keras or a backend is not installed. `keras_output(layer, x)` runs a Keras layer and
gives a NumPy array; `twin_outputs(name, args, kwargs, x)` builds the layer of that name in both
frameworks, copies Keras's initial weights (with non-zero biases) into minidl's and returns
(Keras's output, minidl's output) for the float32 batch `x`.
"""

from __future__ import annotations

import os

import numpy as np
import pytest


def real_keras():
    os.environ.setdefault("KERAS_BACKEND", "torch")
    try:
        import keras
    except Exception as error:  # ImportError, or a backend that cannot load
        pytest.skip(f"real Keras 3 is not usable here ({type(error).__name__}: {error})")
    return keras


def keras_output(layer, x, **call):
    keras = real_keras()
    return np.asarray(keras.ops.convert_to_numpy(layer(x, **call)))


def twin_outputs(name, args, kwargs, x, seed=0):
    """(Keras's output, minidl's output) of layer `name`(*args, **kwargs) with the same weights on `x`."""
    import minidl

    keras = real_keras()
    x = np.asarray(x, dtype=np.float32)
    theirs = getattr(keras.layers, name)(*args, **kwargs)
    theirs.build(x.shape)
    rng = np.random.default_rng(seed)
    weights = [w + rng.standard_normal(w.shape).astype(np.float32) * 0.1 for w in theirs.get_weights()]
    theirs.set_weights(weights)
    ours = getattr(minidl.layers, name)(*args, **kwargs)
    ours.build_weights(x.shape[1:])
    ours.set_weights(weights)
    return keras_output(theirs, x), ours(x)

"""Weight initialisers: Glorot/He uniform and normal (truncated, as in Keras), orthogonal, zeros, ones, constants.

Each takes `(shape, fan_in, fan_out, rng, dtype)`; `initial_value` computes the fans from the shape
as Keras does (for a kernel (kh, kw, in, out): fan_in = kh*kw*in, fan_out = kh*kw*out) and draws from
the model's generator, so a model's seed fixes its initial weights. A Keras-style callable
`init(shape, dtype=None)` (a user's function) is called as Keras calls it.
"""

from __future__ import annotations

import contextlib
import inspect

import numpy as np

from . import flat
from .errors import lookup


def glorot_uniform(shape, fan_in, fan_out, rng, dtype):
    """Uniform in ±sqrt(6 / (fan_in + fan_out)): keeps activation variance steady for tanh/sigmoid."""
    limit = np.sqrt(6.0 / (fan_in + fan_out))
    return rng.uniform(-limit, limit, size=shape).astype(dtype)


def he_uniform(shape, fan_in, fan_out, rng, dtype):
    """Uniform in ±sqrt(6 / fan_in): the variance-preserving choice for ReLU."""
    limit = np.sqrt(6.0 / fan_in)
    return rng.uniform(-limit, limit, size=shape).astype(dtype)


# The standard deviation of a unit normal cut at ±2: Keras widens its truncated normals by 1 / this, so
# that what is left after the cut has the variance asked for.
TRUNCATED_STD = 0.87962566103423978


def glorot_normal(shape, fan_in, fan_out, rng, dtype):
    """Truncated normal (±2σ) whose values have std sqrt(2 / (fan_in + fan_out)), as Keras draws it."""
    return truncated_normal(
        shape, fan_in, fan_out, rng, dtype, stddev=np.sqrt(2.0 / (fan_in + fan_out)) / TRUNCATED_STD
    )


def he_normal(shape, fan_in, fan_out, rng, dtype):
    """Truncated normal (±2σ) whose values have std sqrt(2 / fan_in), as Keras draws it."""
    return truncated_normal(shape, fan_in, fan_out, rng, dtype, stddev=np.sqrt(2.0 / fan_in) / TRUNCATED_STD)


def zeros(shape, fan_in, fan_out, rng, dtype):
    """All zeros (the default for biases)."""
    return np.zeros(shape, dtype=dtype)


def ones(shape, fan_in, fan_out, rng, dtype):
    """All ones (BatchNormalization's gamma and moving variance)."""
    return np.ones(shape, dtype=dtype)


def random_normal(shape, fan_in, fan_out, rng, dtype, mean=0.0, stddev=0.05):
    """Normal with mean 0 and std 0.05 (Keras's defaults)."""
    return (mean + stddev * rng.standard_normal(size=shape)).astype(dtype)


def random_uniform(shape, fan_in, fan_out, rng, dtype, minval=-0.05, maxval=0.05):
    """Uniform in [-0.05, 0.05) (Keras's defaults)."""
    return rng.uniform(minval, maxval, size=shape).astype(dtype)


def truncated_normal(shape, fan_in, fan_out, rng, dtype, mean=0.0, stddev=0.05):
    """Normal with std 0.05, values beyond two standard deviations drawn again."""
    values = rng.standard_normal(size=shape)
    outside = np.abs(values) > 2
    while outside.any():
        values[outside] = rng.standard_normal(size=int(outside.sum()))
        outside = np.abs(values) > 2
    return (mean + stddev * values).astype(dtype)


def orthogonal(shape, fan_in, fan_out, rng, dtype, gain=1.0):
    """A matrix with orthonormal rows or columns (the QR factor of a normal matrix), scaled by `gain`.

    Keras's default for recurrent kernels: multiplying a state by it step after step neither blows it
    up nor shrinks it. Returned C-contiguous (the transposed factor would otherwise be Fortran-ordered).
    """
    rows, columns = int(np.prod(shape[:-1])) if len(shape) > 1 else 1, shape[-1]
    flat = rng.standard_normal(size=(max(rows, columns), min(rows, columns)))
    q, r = np.linalg.qr(flat)
    q *= np.sign(np.diag(r))
    q = q if rows >= columns else q.T
    return np.ascontiguousarray(gain * q.reshape(shape), dtype=dtype)


INITIALIZERS = {
    f.__name__: f
    for f in (
        glorot_uniform,
        glorot_normal,
        he_uniform,
        he_normal,
        zeros,
        ones,
        random_normal,
        random_uniform,
        truncated_normal,
        orthogonal,
    )
}
INITIALIZERS["uniform"] = random_uniform  # Keras's short name (Embedding's default)


def compute_fans(shape) -> tuple[int, int]:
    """(fan_in, fan_out) of a weight of `shape`, as Keras computes them."""
    shape = tuple(shape)
    if len(shape) == 0:
        return 1, 1
    if len(shape) == 1:
        return shape[0], shape[0]
    receptive_field = int(np.prod(shape[:-2])) if len(shape) > 2 else 1
    return shape[-2] * receptive_field, shape[-1] * receptive_field


_default_rng: list = []
_drawing_from: list = []


@contextlib.contextmanager
def drawing_from(rng: np.random.Generator):
    """Weights made in the block without a generator of their own draw from `rng` (a model's seeded one)."""
    _drawing_from.append(rng)
    try:
        yield rng
    finally:
        _drawing_from.pop()


def default_rng() -> np.random.Generator:
    """The generator for weights made outside a model's own building (a layer built on its own, a
    functional graph): seeded by `minidl.utils.set_random_seed` when it was called, else fresh."""
    from .utils import rng as seeds

    if _drawing_from:
        return _drawing_from[-1]
    key = seeds.global_seed()
    if key[0] is None:
        return np.random.default_rng()
    if not _default_rng or _default_rng[0][0] != key:
        _default_rng[:] = [(key, np.random.default_rng(key[0]))]
    return _default_rng[0][1]


def _minidl_style(function) -> bool:
    """Whether `function` takes minidl's (shape, fan_in, fan_out, rng, dtype) rather than Keras's (shape, dtype)."""
    try:
        parameters = inspect.signature(function).parameters.values()
    except (TypeError, ValueError):
        return False
    return sum(p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD) for p in parameters) >= 5


def initial_value(initializer, shape, dtype, rng=None) -> np.ndarray:
    """A new weight of `shape` from `initializer` (a name, a minidl initializer, a Keras-style callable)."""
    init = get(initializer)
    rng = rng if rng is not None else default_rng()
    if isinstance(init, Initializer) or getattr(init, "__name__", None) in INITIALIZERS or _minidl_style(init):
        fan_in, fan_out = compute_fans(shape)
        return np.asarray(init(tuple(shape), fan_in, fan_out, rng, dtype), dtype=dtype)
    value = init(tuple(shape), dtype=dtype)  # a user's Keras-style `init(shape, dtype=None)`
    value = np.asarray(value.value if hasattr(value, "value") else value, dtype=dtype)
    if value.shape != tuple(shape):
        raise ValueError(f"initializer {init!r} returned shape {value.shape}, expected {tuple(shape)}")
    return value


class Initializer:
    """Keras's class form, e.g. `initializers.HeNormal()`: a named initialiser (seeds come from the model).

    Settings (`stddev=`, `value=`, ...) are passed on; `Initializer()(shape, dtype)` also works on its
    own, as in Keras (drawing from the default generator).
    """

    key = "zeros"

    def __init__(self, seed=None, **settings):
        self.seed, self.settings = seed, settings

    def __call__(self, shape, fan_in=None, fan_out=None, rng=None, dtype=None):
        if rng is None:  # Keras's call form: init(shape, dtype)
            dtype = fan_in if dtype is None and fan_in is not None and not isinstance(fan_in, int) else dtype
            fan_in, fan_out = compute_fans(shape)
            rng = np.random.default_rng(self.seed) if self.seed is not None else default_rng()
        return INITIALIZERS[self.key](tuple(shape), fan_in, fan_out, rng, dtype or "float32", **self.settings)

    def get_config(self):
        return {"seed": self.seed, **self.settings}


def _initializer_class(class_name, key):
    return type(class_name, (Initializer,), {"key": key, "__doc__": f"Keras's {class_name}: see `{key}`."})


GlorotUniform = _initializer_class("GlorotUniform", "glorot_uniform")
GlorotNormal = _initializer_class("GlorotNormal", "glorot_normal")
HeUniform = _initializer_class("HeUniform", "he_uniform")
HeNormal = _initializer_class("HeNormal", "he_normal")
Zeros = _initializer_class("Zeros", "zeros")
Ones = _initializer_class("Ones", "ones")
RandomNormal = _initializer_class("RandomNormal", "random_normal")
RandomUniform = _initializer_class("RandomUniform", "random_uniform")
TruncatedNormal = _initializer_class("TruncatedNormal", "truncated_normal")
Orthogonal = _initializer_class("Orthogonal", "orthogonal")


class Constant(Initializer):
    """Keras's `Constant(value)`: every entry `value`."""

    def __init__(self, value=0.0):
        super().__init__()
        self.value = value

    def __call__(self, shape, fan_in=None, fan_out=None, rng=None, dtype=None):
        dtype = dtype if dtype is not None else (fan_in if fan_in is not None and not isinstance(fan_in, int) else None)
        return np.full(tuple(shape), self.value, dtype=dtype or "float32")

    def get_config(self):
        return {"value": self.value}


def get(name_or_function):
    """Resolve an initialiser given by name (Keras's snake_case or class name) or as a function.

    Inside `flat.placeholder_weights()` (a model about to be loaded) it is `zeros`, once the name is known.
    """
    if callable(name_or_function):
        function = name_or_function
    elif isinstance(name_or_function, str) and name_or_function in globals() and name_or_function[0].isupper():
        cls = globals()[name_or_function]
        function = cls() if cls is Constant else INITIALIZERS[cls.key]
    else:
        function = lookup("initializer", name_or_function, INITIALIZERS)
    return zeros if flat.placeholders() else function

"""Image augmentation: RandomFlip, RandomRotation, RandomTranslation, RandomZoom, RandomContrast.

Active only in training (inference returns the input unchanged), as in Keras. Each sample's random
transformation is drawn from a counter-based hash of (seed, step, the sample's position in the whole
batch) (`hashed_uniform`, Dropout's mechanism, see minidl/layers/context.py): a batch split across
worker processes is augmented exactly as the whole batch would be in one. Called directly, `layer(x)`
augments (Keras's default `training=True` for these layers), drawing a fresh transformation per call.

Rotation, translation and zoom are affine maps of the pixel grid. Output pixel (row i, column j) of
sample n reads the input at the real-valued point
    column  u = a0·j + a1·i + a2,   row  v = b0·j + b1·i + b2
with the sample's (a0, a1, a2, b0, b1, b2): for an angle θ about the centre (cx, cy) = ((W−1)/2, (H−1)/2)
    a0 = cos θ, a1 = −sin θ, b0 = sin θ, b1 = cos θ, a2 = cx − a0·cx − a1·cy, b2 = cy − b0·cx − b1·cy;
for a shift (dx, dy): a0 = b1 = 1, a2 = −dx, b2 = −dy; for zooms (zx, zy): a0 = zx, b1 = zy,
a2 = cx·(1 − zx), b2 = cy·(1 − zy) (the others 0). "bilinear" mixes the four pixels around (v, u):
    y[n, i, j, c] = Σ over (p, q) in {⌊v⌋, ⌊v⌋+1} × {⌊u⌋, ⌊u⌋+1} of
                    (1 − |v − p|)(1 − |u − q|) · x[n, fill(p), fill(q), c]
("nearest" takes the one pixel at (round(v), round(u))), where `fill_mode` maps a pixel outside the
image inside: "reflect" (d c b a | a b c d | d c b a), "wrap" (a b c d | a b c d), "nearest"
(a a a | a b c d | d d d) or "constant" (the pixel is `fill_value`). So y is linear in x, each output
a weighted sum of a few inputs, and backward sends g back along the same weights:
    dL/dx[n, p', q', c] = Σ over the outputs reading (p', q') of weight · g[n, i, j, c]
(one `np.bincount` over all taps and channels at once).
"""

from __future__ import annotations

import numbers

import numpy as np

from ..errors import ShapeError
from ..random import hashed_uniform
from ..utils import checks
from .base import Layer
from .context import TrainingContext

FILL_MODES = ("reflect", "wrap", "constant", "nearest")
INTERPOLATIONS = ("nearest", "bilinear")


def factor_range(factor, argument, lowest=-1.0, open_lowest=False):
    """Keras's `factor`: a number f (the range (−f, f)) or a pair (lower, upper), each within [lowest, 1]."""
    if isinstance(factor, numbers.Real) and not isinstance(factor, bool):
        value = checks.finite_number(factor, argument, minimum=lowest, maximum=1, open_minimum=open_lowest)
        return (max(-abs(value), lowest), abs(value))
    try:
        pair = tuple(factor)
    except TypeError:
        pair = ()
    if len(pair) != 2:
        raise ValueError(f"{argument} must be a number or a pair (lower, upper), got {factor!r}")
    low, high = (checks.finite_number(v, argument, minimum=lowest, maximum=1, open_minimum=open_lowest) for v in pair)
    return (min(low, high), max(low, high))


def fill_index(index, size, mode):
    """Integer pixel indices mapped inside [0, size) by `mode`; -1 where "constant" fills."""
    if mode == "reflect":
        index = np.mod(index, 2 * size)
        return np.where(index >= size, 2 * size - 1 - index, index)
    if mode == "wrap":
        return np.mod(index, size)
    if mode == "nearest":
        return np.clip(index, 0, size - 1)
    return np.where((index >= 0) & (index < size), index, -1)


def sampling_taps(transforms, shape, interpolation, fill_mode):
    """(rows (T, N*H*W), weights (T, N*H*W)) of the affine maps `transforms` (N, 6): output pixel k reads
    input row rows[t, k] of the (N*H*W + 1)-row table (the last row is the fill value) with weight weights[t, k]."""
    n, h, w = shape
    i, j = np.meshgrid(np.arange(h, dtype=np.float64), np.arange(w, dtype=np.float64), indexing="ij")
    a0, a1, a2, b0, b1, b2 = (transforms[:, k, None, None] for k in range(6))
    u, v = a0 * j + a1 * i + a2, b0 * j + b1 * i + b2  # (N, H, W): the column and row each output reads
    if interpolation == "nearest":
        corners = [(np.floor(v + 0.5), np.floor(u + 0.5), np.ones_like(u))]
    else:
        v0, u0 = np.floor(v), np.floor(u)
        fv, fu = v - v0, u - u0
        corners = [
            (v0, u0, (1 - fv) * (1 - fu)),
            (v0, u0 + 1, (1 - fv) * fu),
            (v0 + 1, u0, fv * (1 - fu)),
            (v0 + 1, u0 + 1, fv * fu),
        ]
    images = np.arange(n)[:, None, None] * (h * w)
    rows, weights = [], []
    for p, q, weight in corners:
        p, q = fill_index(p.astype(np.int64), h, fill_mode), fill_index(q.astype(np.int64), w, fill_mode)
        rows.append(np.where((p < 0) | (q < 0), n * h * w, images + p * w + q).ravel())
        weights.append(weight.ravel())
    return np.stack(rows), np.stack(weights)


class RandomAugmentation(Layer):
    """What the random layers share: Keras's `training=True` default, the per-sample draws, the backward."""

    # Called on its own or in `model(x)` without `training`, a random layer augments (Keras's default);
    # in fit, predict and evaluate the model says.
    training_default = True

    def draws(self, training, count, features):
        """Uniform numbers in [0, 1), (count, features): one row per sample, fixed by (seed, step, position)."""
        if isinstance(training, TrainingContext):
            return hashed_uniform(training.seed_for(self), training.step, training.positions, features)
        self._standalone_step = getattr(self, "_standalone_step", -1) + 1  # a fresh draw per direct call
        return hashed_uniform(self.seed or 0, self._standalone_step, np.arange(count), features)

    def compute_output_shape(self, input_shape):
        if len(input_shape) != 3:
            raise ShapeError(
                f"layer {self.name!r} ({type(self).__name__}) needs images (height, width, channels), got {input_shape}"
            )
        return input_shape

    def check_seed(self, seed):
        self.seed = checks.seed(seed, f"{type(self).__name__}: seed")


class AffineAugmentation(RandomAugmentation):
    """Rotation, translation and zoom: a random affine map per sample, sampled as the module doc says."""

    def __init__(self, fill_mode, interpolation, seed, fill_value, data_format, name, input_shape, **kwargs):
        super().__init__(name=name, input_shape=input_shape, **kwargs)
        owner = type(self).__name__
        if fill_mode not in FILL_MODES:
            raise NotImplementedError(f"{owner}: fill_mode must be one of {FILL_MODES}, got {fill_mode!r}")
        if interpolation not in INTERPOLATIONS:
            raise NotImplementedError(f"{owner}: interpolation must be one of {INTERPOLATIONS}, got {interpolation!r}")
        self.fill_mode, self.interpolation = fill_mode, interpolation
        self.fill_value = checks.finite_number(fill_value, f"{owner}: fill_value")
        self.data_format = checks.channels_last(data_format, owner)
        self.check_seed(seed)
        self.tap_rows = self.tap_weights = None

    def transforms(self, uniforms, shape):
        """(N, 6) affine coefficients (a0, a1, a2, b0, b1, b2) from the samples' uniform draws."""
        raise NotImplementedError

    def forward(self, x, training=False):
        self.check_input(x)
        self.tap_rows = self.tap_weights = None
        if not training:
            return x
        n, h, w, c = x.shape
        uniforms = self.draws(training, n, self.features)
        rows, weights = sampling_taps(self.transforms(uniforms, (h, w)), (n, h, w), self.interpolation, self.fill_mode)
        table = np.concatenate([x.reshape(-1, c), np.full((1, c), self.fill_value, dtype=x.dtype)])
        out = np.zeros((n * h * w, c), dtype=x.dtype)
        for tap_rows, tap_weights in zip(rows, weights.astype(x.dtype)):
            out += tap_weights[:, None] * table[tap_rows]
        self.tap_rows, self.tap_weights = rows, weights  # arrays: kept for backward, never pickled
        return out.reshape(x.shape)

    def backward(self, grad):
        if not self.needs_input_grad:
            return None
        if self.tap_rows is None:  # the last forward pass was inference: the identity
            return grad
        n, h, w, c = grad.shape
        rows, weights = self.tap_rows, self.tap_weights
        # Every (tap, output pixel, channel) adds weight * g into (input row, channel): one bincount.
        where = (rows[:, :, None] * c + np.arange(c)).ravel()
        amounts = (weights[:, :, None] * grad.reshape(1, -1, c)).ravel()
        dx = np.bincount(where, weights=amounts, minlength=(n * h * w + 1) * c)
        return dx[: n * h * w * c].reshape(grad.shape).astype(grad.dtype)

    def get_config(self):
        return {
            **super().get_config(),
            "fill_mode": self.fill_mode,
            "interpolation": self.interpolation,
            "seed": self.seed,
            "fill_value": self.fill_value,
            "data_format": self.data_format,
        }


class RandomRotation(AffineAugmentation):
    """Rotate each image by an angle drawn uniformly from factor·[lower, upper]·360° (factor f: [−f, f]).

    Positive angles turn the image counter-clockwise (Keras's convention); equations in the module doc.
    """

    features = 1

    def __init__(
        self,
        factor,
        fill_mode="reflect",
        interpolation="bilinear",
        seed=None,
        fill_value=0.0,
        data_format=None,
        name=None,
        input_shape=None,
        **kwargs,
    ):
        super().__init__(fill_mode, interpolation, seed, fill_value, data_format, name, input_shape, **kwargs)
        self.factor = factor_range(factor, "RandomRotation: factor")
        self.given_factor = factor

    def transforms(self, uniforms, shape):
        (h, w), (low, high) = shape, self.factor
        angle = (low + (high - low) * uniforms[:, 0]) * 2 * np.pi
        cx, cy, cos, sin = (w - 1) / 2, (h - 1) / 2, np.cos(angle), np.sin(angle)
        return np.stack([cos, -sin, cx - cos * cx + sin * cy, sin, cos, cy - sin * cx - cos * cy], axis=1)

    def get_config(self):
        return {**super().get_config(), "factor": _plain(self.given_factor)}


class RandomTranslation(AffineAugmentation):
    """Shift each image by dy = H·U[h_lower, h_upper] rows and dx = W·U[w_lower, w_upper] columns.

    A factor f means [−f, f]; positive shifts move the content down and right. Equations in the module doc.
    """

    features = 2

    def __init__(
        self,
        height_factor,
        width_factor,
        fill_mode="reflect",
        interpolation="bilinear",
        seed=None,
        fill_value=0.0,
        data_format=None,
        name=None,
        input_shape=None,
        **kwargs,
    ):
        super().__init__(fill_mode, interpolation, seed, fill_value, data_format, name, input_shape, **kwargs)
        self.height_range = factor_range(height_factor, "RandomTranslation: height_factor")
        self.width_range = factor_range(width_factor, "RandomTranslation: width_factor")
        self.height_factor, self.width_factor = height_factor, width_factor

    def transforms(self, uniforms, shape):
        (h, w), (h_low, h_high), (w_low, w_high) = shape, self.height_range, self.width_range
        dy = (h_low + (h_high - h_low) * uniforms[:, 0]) * h
        dx = (w_low + (w_high - w_low) * uniforms[:, 1]) * w
        ones, zeros = np.ones_like(dx), np.zeros_like(dx)
        return np.stack([ones, zeros, -dx, zeros, ones, -dy], axis=1)

    def get_config(self):
        return {
            **super().get_config(),
            "height_factor": _plain(self.height_factor),
            "width_factor": _plain(self.width_factor),
        }


class RandomZoom(AffineAugmentation):
    """Zoom each image about its centre: it reads a region 1 + U[lower, upper] times its size (factor f: [−f, f]).

    A positive draw zooms out (the content shrinks), a negative one zooms in, as in Keras. Without
    `width_factor` the width keeps the height's zoom (the aspect ratio). Equations in the module doc.
    """

    features = 2

    def __init__(
        self,
        height_factor,
        width_factor=None,
        fill_mode="reflect",
        interpolation="bilinear",
        seed=None,
        fill_value=0.0,
        data_format=None,
        name=None,
        input_shape=None,
        **kwargs,
    ):
        super().__init__(fill_mode, interpolation, seed, fill_value, data_format, name, input_shape, **kwargs)
        self.height_range = factor_range(height_factor, "RandomZoom: height_factor", open_lowest=True)
        self.width_range = (
            None if width_factor is None else factor_range(width_factor, "RandomZoom: width_factor", open_lowest=True)
        )
        self.height_factor, self.width_factor = height_factor, width_factor

    def transforms(self, uniforms, shape):
        (h, w), (h_low, h_high) = shape, self.height_range
        zoom_y = 1 + h_low + (h_high - h_low) * uniforms[:, 0]
        if self.width_range is None:
            zoom_x = zoom_y
        else:
            w_low, w_high = self.width_range
            zoom_x = 1 + w_low + (w_high - w_low) * uniforms[:, 1]
        zeros = np.zeros_like(zoom_x)
        return np.stack([zoom_x, zeros, (w - 1) / 2 * (1 - zoom_x), zeros, zoom_y, (h - 1) / 2 * (1 - zoom_y)], axis=1)

    def get_config(self):
        return {
            **super().get_config(),
            "height_factor": _plain(self.height_factor),
            "width_factor": _plain(self.width_factor),
        }


class RandomFlip(RandomAugmentation):
    """Flip each image with probability ½: left-right ("horizontal"), top-bottom ("vertical") or both.

    With one uniform draw u per sample, flipped when u < ½: y = x[:, :, ::-1] (horizontal), x[:, ::-1]
    (vertical); "horizontal_and_vertical" flips both ways on the same draw, as Keras 3 does (so an
    image is either kept or turned by 180°). A flip is its own inverse: dL/dx is g flipped alike.
    """

    MODES = ("horizontal", "vertical", "horizontal_and_vertical")

    def __init__(
        self, mode="horizontal_and_vertical", seed=None, data_format=None, name=None, input_shape=None, **kwargs
    ):
        super().__init__(name=name, input_shape=input_shape, **kwargs)
        self.mode = checks.one_of(mode, "RandomFlip: mode", self.MODES)
        self.check_seed(seed)
        self.data_format = checks.channels_last(data_format, "RandomFlip")
        self.flipped = None

    def flip(self, x, flipped):
        """x with the images of `flipped` (a boolean per sample) flipped as `mode` says."""
        out = x.copy()
        chosen = x[flipped]
        if self.mode != "vertical":
            chosen = chosen[:, :, ::-1]
        if self.mode != "horizontal":
            chosen = chosen[:, ::-1]
        out[flipped] = chosen
        return out

    def forward(self, x, training=False):
        self.check_input(x)
        self.flipped = None
        if not training:
            return x
        self.flipped = self.draws(training, len(x), 1)[:, 0] < 0.5
        return self.flip(x, self.flipped)

    def backward(self, grad):
        if not self.needs_input_grad:
            return None
        return grad if self.flipped is None else self.flip(grad, self.flipped)

    def get_config(self):
        return {**super().get_config(), "mode": self.mode, "seed": self.seed, "data_format": self.data_format}


class RandomContrast(RandomAugmentation):
    """Scale each image's deviations from its mean by a contrast factor f drawn from [1 − lower, 1 + upper].

    A number `factor` gives lower = upper = factor (Keras's documentation; Keras 3.15's code draws
    from [1, 1 + factor] instead). With m[n, c] the mean of channel c of image n over its pixels and
    [lo, hi] = value_range:
        z = (x − m) · f + m,    y = clip(z, lo, hi)                                  x, y: (N, H, W, C)
        backward, with g' = g · [lo ≤ z ≤ hi]:  dL/dx = f · g' + (1 − f) · mean over pixels of g'
    (the second term because every pixel moves the mean).
    """

    def __init__(self, factor, value_range=(0, 255), seed=None, name=None, input_shape=None, **kwargs):
        super().__init__(name=name, input_shape=input_shape, **kwargs)
        if isinstance(factor, numbers.Real) and not isinstance(factor, bool):
            value = checks.finite_number(factor, "RandomContrast: factor", minimum=0, maximum=1)
            self.factor = (value, value)
        else:
            self.factor = factor_range(factor, "RandomContrast: factor", lowest=0.0)
        try:
            low, high = (checks.finite_number(v, "RandomContrast: value_range") for v in value_range)
        except (TypeError, ValueError):
            raise ValueError(f"RandomContrast: value_range must be a pair (low, high), got {value_range!r}") from None
        if low >= high:
            raise ValueError(f"RandomContrast: value_range must have low < high, got {value_range!r}")
        self.value_range, self.given_factor = (low, high), factor
        self.check_seed(seed)
        self.contrast = None

    def forward(self, x, training=False):
        self.check_input(x)
        self.contrast = None
        if not training:
            return x
        lower, upper = self.factor
        contrast = 1 - lower + (lower + upper) * self.draws(training, len(x), 1)[:, 0]
        self.contrast = contrast.astype(x.dtype).reshape(-1, 1, 1, 1)
        mean = x.mean(axis=(1, 2), keepdims=True)
        z = (x - mean) * self.contrast + mean
        self.inside = (z >= self.value_range[0]) & (z <= self.value_range[1])
        return np.clip(z, *self.value_range).astype(x.dtype, copy=False)

    def backward(self, grad):
        if not self.needs_input_grad:
            return None
        if self.contrast is None:
            return grad
        kept = grad * self.inside
        return kept * self.contrast + (1 - self.contrast) * kept.mean(axis=(1, 2), keepdims=True)

    def get_config(self):
        return {
            **super().get_config(),
            "factor": _plain(self.given_factor),
            "value_range": list(self.value_range),
            "seed": self.seed,
        }


def _plain(value):
    """A factor as JSON holds it: a float, or a list of two floats."""
    if value is None or isinstance(value, numbers.Real):
        return value if value is None else float(value)
    return [float(v) for v in value]

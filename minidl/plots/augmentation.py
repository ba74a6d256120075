"""The augmentation grid: one image as each random augmentation layer (and all of them together) changes it."""

from __future__ import annotations

import numpy as np

from .figures import load_matplotlib, new_figure, save_figure


def _describe(layer) -> str:
    """The layer's class and the settings that shape its draws, e.g. "RandomRotation(factor=0.1)"."""
    skip = {"name", "input_shape", "seed", "data_format", "interpolation", "fill_value"}
    settings = ", ".join(f"{key}={value}" for key, value in layer.get_config().items() if key not in skip)
    return f"{type(layer).__name__}({settings})"


def augmentations(image, layers, path, count=6, seed=0) -> str:
    """Draw `image` (H, W) or (H, W, C) beside `count` random versions per augmentation layer.

    `layers` are minidl augmentation layers (RandomFlip, RandomRotation, ...), or a model whose
    augmentation layers are taken. Row by row: each layer alone, then (with several layers) all of
    them in order, as training applies them. Column k shows what the k-th sample of a batch at step 0
    gets with model seed `seed` (minidl.layers.augmentation): each layer draws from its own stream,
    the one its place in the model (or in `layers`) gives it, so a layer's row shows the same draws
    as it makes in the last row. Returns the path written.
    """
    from ..layers.augmentation import RandomAugmentation
    from ..layers.context import TrainingContext

    load_matplotlib()
    streams = tuple(getattr(layers, "layers", layers))  # a layer's random stream: its place among these
    chosen = [layer for layer in streams if isinstance(layer, RandomAugmentation)]
    if not chosen:
        raise ValueError("augmentations needs augmentation layers (RandomFlip, RandomRotation, ...), got none")
    picture = np.asarray(image, dtype=np.float64)
    if picture.ndim == 2:
        picture = picture[..., None]
    if picture.ndim != 3 or picture.shape[-1] not in (1, 3):
        raise ValueError(
            f"augmentations needs one image (height, width) or (height, width, 1 or 3), got {picture.shape}"
        )
    count = int(count)
    if count < 1:
        raise ValueError(f"count must be a positive integer, got {count}")
    for layer in chosen:
        if not layer.built:
            layer.build_weights(picture.shape)
        elif layer.input_shape != picture.shape:
            raise ValueError(f"layer {layer.name!r} takes images {layer.input_shape}, the image is {picture.shape}")

    batch = np.repeat(picture[None], count, axis=0)
    positions = np.arange(count)

    def run(stack):
        out = batch.astype(stack[0].dtype)
        context = TrainingContext(step=0, positions=positions, seed=seed, layers=streams)
        for layer in stack:
            out = layer.forward(out, training=context)
        return out

    rows = [(_describe(layer), run([layer])) for layer in chosen]
    if len(chosen) > 1:
        rows.append(("all of them, in order", run(chosen)))
    low, high = float(picture.min()), float(picture.max())
    high = high if high > low else low + 1

    def show(ax, pixels):
        if pixels.shape[-1] == 1:
            ax.imshow(pixels[..., 0], cmap="gray", vmin=low, vmax=high, interpolation="nearest")
        else:
            ax.imshow(np.clip((pixels - low) / (high - low), 0, 1), interpolation="nearest")
        ax.set_xticks([])
        ax.set_yticks([])

    tile = 1.1
    fig = new_figure((count + 1) * tile + 0.4, len(rows) * (tile + 0.35) + 0.6)
    subfigs = fig.subfigures(len(rows), 1, squeeze=False)[:, 0]
    for subfig, (title, versions) in zip(subfigs, rows):
        axes = subfig.subplots(1, count + 1, squeeze=False)[0]
        show(axes[0], picture)
        axes[0].set_title("original", fontsize="x-small")
        for k in range(count):
            show(axes[k + 1], np.asarray(versions[k], dtype=np.float64))
            axes[k + 1].set_title(f"sample {k + 1}", fontsize="x-small")
        subfig.suptitle(title, x=0.01, ha="left", fontsize="small")
    fig.suptitle(f"One image, augmented {count} ways (seed {seed}, as in training)", fontsize="medium")
    return save_figure(fig, path)

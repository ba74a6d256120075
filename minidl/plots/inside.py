"""A look inside the network: the learned filters of a Conv2D layer and one digit's feature maps."""

from __future__ import annotations

import math

import numpy as np

from .figures import load_matplotlib, new_figure, save_figure


def _conv_layers(model):
    from ..layers import Conv2D

    return [layer for layer in model.layers if isinstance(layer, Conv2D)]


def filters(model, path, layer=None) -> str:
    """The learned kernels of the first Conv2D layer (or `layer`, a Conv2D of the model or its name)
    as a grid: one small image per filter, and per input channel when there are several.

    One diverging colour scale, centred on 0, is shared by all kernels so their strengths compare.
    Returns the path written; ValueError if the model has no Conv2D layer.
    """
    load_matplotlib()
    convs = _conv_layers(model)
    if not convs:
        kinds = ", ".join(type(each).__name__ for each in model.layers) or "no layers"
        raise ValueError(f"model {model.name!r} has no Conv2D layer to draw the filters of ({kinds})")
    if layer is None:
        conv = convs[0]
    else:
        matches = [c for c in convs if c is layer or c.name == layer]
        if not matches:
            raise ValueError(
                f"model {model.name!r} has no Conv2D layer {layer!r}; its Conv2D layers: "
                f"{', '.join(c.name for c in convs)}"
            )
        conv = matches[0]
    if not conv.built:
        raise ValueError(f"layer {conv.name!r} of model {model.name!r} is not built yet: it has no weights")
    kernel = np.asarray(conv.params["kernel"], dtype=float)  # (kh, kw, channels, filters)
    kh, kw, channels, count = kernel.shape
    limit = float(np.abs(kernel).max()) or 1.0

    if channels == 1:
        columns = min(count, 8)
        grid_rows = math.ceil(count / columns)
        cells = [(i // columns, i % columns, i, 0, f"filter {i + 1}") for i in range(count)]
    else:
        columns, grid_rows = channels, count
        cells = [(f, c, f, c, None) for f in range(count) for c in range(channels)]
    tile = 1.1 if columns <= 8 else 0.8
    fig = new_figure(max(4.5, columns * tile + 1.4), grid_rows * tile + 1.1)
    axes = np.atleast_2d(fig.subplots(grid_rows, columns, squeeze=False))
    image = None
    for row, column, f, c, title in cells:
        ax = axes[row, column]
        image = ax.imshow(kernel[:, :, c, f], cmap="RdBu_r", vmin=-limit, vmax=limit, interpolation="nearest")
        if title:
            ax.set_title(title, fontsize="small")
        if channels > 1 and row == 0:
            ax.set_title(f"channel {c + 1}", fontsize="small")
        if channels > 1 and column == 0:
            ax.set_ylabel(f"filter {f + 1}", fontsize="small")
    for ax in axes.flat:
        ax.set_xticks([])
        ax.set_yticks([])
    for row, column in [(r, c) for r in range(grid_rows) for c in range(columns)][len(cells) :]:
        axes[row, column].set_visible(False)
    fig.colorbar(image, ax=axes, shrink=0.9, label="weight")
    activation = conv.get_config().get("activation")
    fig.suptitle(
        f"{model.name}: learned filters of {conv.name} (Conv2D, {count} filters of {kh}x{kw}"
        f"{f' x {channels} channels' if channels > 1 else ''}"
        f"{f', {activation}' if activation else ''})",
        fontsize="medium",
    )
    return save_figure(fig, path)


def feature_maps(model, image, path, max_columns=16) -> str:
    """One digit and its feature maps after each Conv2D and pooling layer, one row per layer.

    `image` is one input (e.g. (28, 28, 1) or (28, 28)); the layers run one by one with
    `layer.forward(x[None], training=False)` until the first one that no longer outputs images.
    Each row shares one colour scale, so strong and silent channels are told apart; a layer with
    more than `max_columns` channels wraps onto several lines. Returns the path written.
    """
    from ..layers import Conv2D
    from ..layers.pooling import Pooling2D

    load_matplotlib()
    convs = _conv_layers(model)
    if not convs:
        raise ValueError(f"model {model.name!r} has no Conv2D layer: there are no feature maps to draw")
    x = np.asarray(image, dtype=model.dtype)
    expected = tuple(model.input_shape or ())
    if x.shape != expected:
        if expected and x.size == math.prod(expected):
            x = x.reshape(expected)
        else:
            raise ValueError(
                f"feature_maps needs one input of shape {expected} (or the same pixels "
                f"without the channel axis), got {x.shape}"
            )
    if x.ndim != 3:
        raise ValueError(
            f"feature_maps needs image inputs (height, width, channels), model {model.name!r} takes {expected}"
        )

    rows = [("input", x)]
    out, images_done = x[None], False
    for layer in model.layers:
        out = layer.forward(out, training=False)
        if out.ndim != 4:
            images_done = True
        if not images_done and isinstance(layer, (Conv2D, Pooling2D)):
            rows.append((layer, np.array(out[0], dtype=float)))
    prediction = ""
    final = np.asarray(out).reshape(-1)
    if final.size > 1 and out.ndim == 2:
        prediction = f", predicted {int(final.argmax())} (output {final.max():.2f})"

    lines = [max(1, math.ceil(maps.shape[-1] / max_columns)) if i else 1 for i, (_, maps) in enumerate(rows)]
    columns = min(max_columns, max(maps.shape[-1] for _, maps in rows[1:]))
    tile = 0.85
    fig = new_figure(max(6.0, columns * tile + 0.6), sum(lines) * tile + 0.45 * len(rows) + 0.6)
    subfigs = fig.subfigures(len(rows), 1, height_ratios=[n * tile + 0.45 for n in lines], squeeze=False)[:, 0]
    for subfig, (layer, maps), n_lines in zip(subfigs, rows, lines):
        axes = subfig.subplots(n_lines, columns, squeeze=False)
        if layer == "input":
            axes[0, 0].imshow(maps[..., 0] if maps.shape[-1] == 1 else maps, cmap="gray_r", interpolation="nearest")
            subfig.suptitle(f"input: {'x'.join(map(str, maps.shape))}", x=0.01, ha="left", fontsize="medium")
            count = 1
        else:
            low, high = float(maps.min()), float(maps.max())
            count = maps.shape[-1]
            for channel in range(count):
                ax = axes[channel // columns, channel % columns]
                ax.imshow(
                    maps[..., channel],
                    cmap="viridis",
                    vmin=low,
                    vmax=high if high > low else low + 1,
                    interpolation="nearest",
                )
                ax.set_title(str(channel + 1), fontsize="x-small", pad=2)
            activation = layer.get_config().get("activation")
            kind = type(layer).__name__ + (f", {activation}" if activation else "")
            subfig.suptitle(
                f"{layer.name} ({kind}): {'x'.join(map(str, maps.shape))}, values {low:.2g} to {high:.2g}",
                x=0.01,
                ha="left",
                fontsize="medium",
            )
        for index, ax in enumerate(axes.flat):
            ax.set_xticks([])
            ax.set_yticks([])
            if index >= count:
                ax.set_visible(False)
    fig.suptitle(f"{model.name}: feature maps of one digit{prediction}", fontsize="large", fontweight="bold")
    return save_figure(fig, path)

"""`keras.utils.pad_sequences`: sequences of different lengths as one (samples, timesteps) array."""

from __future__ import annotations

import numpy as np

from . import checks


def pad_sequences(sequences, maxlen=None, dtype="int32", padding="pre", truncating="pre", value=0.0):
    """Cut or pad every sequence to `maxlen` steps (default: the longest) and stack them.

    `truncating="pre"` drops the first steps of a longer sequence, "post" the last ones; `padding="pre"`
    fills a shorter one with `value` in front, "post" behind. The steps may be numbers or arrays of
    one shape (a sequence of feature vectors). Returns (len(sequences), maxlen, ...) of `dtype`.
    With `value=0` and `Embedding(mask_zero=True)`, the padding is then masked.
    """
    checks.one_of(padding, "pad_sequences: padding", ("pre", "post"))
    checks.one_of(truncating, "pad_sequences: truncating", ("pre", "post"))
    if not hasattr(sequences, "__len__"):
        raise ValueError(f"pad_sequences: sequences must be a list of sequences, got {type(sequences).__name__}")
    rows = []
    for index, sequence in enumerate(sequences):
        if not hasattr(sequence, "__len__"):
            raise ValueError(f"pad_sequences: sequences[{index}] must be a sequence, got {sequence!r:.40}")
        rows.append(np.asarray(sequence))
    lengths = [len(row) for row in rows]
    maxlen = (max(lengths, default=0)) if maxlen is None else checks.positive_int(maxlen, "pad_sequences: maxlen")
    step_shapes = {row.shape[1:] for row in rows if len(row)}
    if len(step_shapes) > 1:
        raise ValueError(f"pad_sequences: the steps of all sequences must have one shape, found {sorted(step_shapes)}")
    step_shape = step_shapes.pop() if step_shapes else ()
    is_text = np.issubdtype(np.dtype(dtype), np.str_) or np.issubdtype(np.dtype(dtype), np.object_)
    if isinstance(value, str) and not is_text:
        raise ValueError(f"pad_sequences: value {value!r} is text but dtype {dtype!r} holds numbers")
    out = np.full((len(rows), maxlen, *step_shape), value, dtype=dtype)
    for i, row in enumerate(rows):
        if not len(row) or not maxlen:
            continue
        kept = row[-maxlen:] if truncating == "pre" else row[:maxlen]
        if padding == "pre":
            out[i, maxlen - len(kept) :] = kept
        else:
            out[i, : len(kept)] = kept
    return out

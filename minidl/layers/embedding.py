"""Embedding: whole-number tokens to learned vectors, the first layer of a text model."""

from __future__ import annotations

import warnings

import numpy as np

from ..utils import checks
from .base import Layer


class Embedding(Layer):
    """Keras's Embedding: token v becomes row v of `embeddings` (input_dim, output_dim).

    forward:   y[n, t] = E[x[n, t]]                       x (N, T) tokens in 0..input_dim-1, y (N, T, output_dim)
    backward:  dE[v] = Σ over (n, t) with x[n, t] = v of g[n, t]     (rows of absent tokens: 0)
               dL/dx = 0: the output does not change between whole numbers (None as a model's first layer)

    The tokens may have any shape (N, ...); they arrive as floats from `fit` and are truncated to
    integers, as Keras casts them. With `mask_zero=True`, token 0 is padding: the mask x != 0 goes
    to the layers after this one (minidl/layers/masking.py), so recurrent layers skip those steps.
    `weights=[E]` starts from given vectors (e.g. pretrained ones).
    """

    takes_unknown_dims = True

    def __init__(
        self,
        input_dim,
        output_dim,
        embeddings_initializer="uniform",
        embeddings_regularizer=None,
        embeddings_constraint=None,
        mask_zero=False,
        weights=None,
        lora_rank=None,
        lora_alpha=None,
        quantization_config=None,
        name=None,
        input_shape=None,
        **kwargs,
    ):
        if "input_length" in kwargs:  # Keras 2's argument: Keras 3 warns and ignores it, and so does minidl
            kwargs.pop("input_length")
            warnings.warn("Embedding: input_length is a Keras 2 argument that is ignored; remove it", stacklevel=2)
        super().__init__(name=name, input_shape=input_shape, **kwargs)
        self.input_dim = checks.positive_int(input_dim, "Embedding: input_dim")
        self.output_dim = checks.positive_int(output_dim, "Embedding: output_dim")
        self.embeddings_initializer = embeddings_initializer
        self.mask_zero = checks.flag(mask_zero, "Embedding: mask_zero")
        self.supports_masking = self.mask_zero
        for value, argument in (
            (embeddings_regularizer, "embeddings_regularizer"),
            (embeddings_constraint, "embeddings_constraint"),
            (lora_rank, "lora_rank"),
            (lora_alpha, "lora_alpha"),
            (quantization_config, "quantization_config"),
        ):
            checks.not_supported(value, f"Embedding: {argument}")
        self.initial_weights = None if weights is None else [np.asarray(w) for w in weights]

    def compute_output_shape(self, input_shape):
        return (*input_shape, self.output_dim)

    def build(self, input_shape):
        self.add_weight(
            name="embeddings", shape=(self.input_dim, self.output_dim), initializer=self.embeddings_initializer
        )
        if self.initial_weights is not None:
            given, self.initial_weights = self.initial_weights, None
            if len(given) != 1 or given[0].shape != (self.input_dim, self.output_dim):
                raise ValueError(
                    f"layer {self.name!r} (Embedding): weights must be [an array of shape "
                    f"{(self.input_dim, self.output_dim)}], got shapes {[np.shape(w) for w in given]}"
                )
            self.params["embeddings"][...] = given[0]

    def compute_mask(self, inputs, previous_mask):
        return np.asarray(inputs).astype(np.intp) != 0 if self.mask_zero else None  # truncated as `tokens` does

    def tokens(self, x):
        """The tokens as integers (truncated, as Keras casts them), checked to be rows of `embeddings`."""
        tokens = x.astype(np.intp)
        if tokens.size and (tokens.min() < 0 or tokens.max() >= self.input_dim):
            raise ValueError(
                f"layer {self.name!r} (Embedding): tokens must be in 0..{self.input_dim - 1} "
                f"(input_dim={self.input_dim}), found {tokens.min()}..{tokens.max()}"
            )
        return tokens

    def forward(self, x, training=False):
        self.check_input(x)
        tokens = self.tokens(x)
        if training:
            self.tokens_seen = tokens
        return self.params["embeddings"][tokens]

    def backward(self, grad):
        table = self.grads["embeddings"]
        table[...] = 0
        np.add.at(table, self.tokens_seen.reshape(-1), grad.reshape(-1, self.output_dim))
        return np.zeros(self.tokens_seen.shape, grad.dtype) if self.needs_input_grad else None

    def get_config(self):
        return {
            **super().get_config(),
            "input_dim": self.input_dim,
            "output_dim": self.output_dim,
            "mask_zero": self.mask_zero,
        }

"""MultiHeadAttention: every position of a query sequence reads a weighted mix of a value sequence.

Shapes: query q (N, T, D), value v (N, S, D'), key k (N, S, D', default v); H heads of key size K and
value size V; output (N, T, E) (E = D unless `output_shape`). Weights as Keras keeps them: query, key
and value kernels (D, H, K) / (D', H, K) / (D', H, V) with biases (H, K) / (H, K) / (H, V), and the
output kernel (H, V, E) with bias (E,).

Forward (einsum letters: n sample, t query position, s value position, h head, d feature):

    Q = q·W_q + b_q   (N, T, H, K)       K_ = k·W_k + b_k   (N, S, H, K)       V_ = v·W_v + b_v  (N, S, H, V)
    scores[n,h,t,s] = Σ_k Q[n,t,h,k] · K_[n,s,h,k] / √K        masked positions set to −10⁹
    A = softmax over s of scores            (N, H, T, S)     (then dropout on A while training)
    M[n,t,h,v] = Σ_s A[n,h,t,s] · V_[n,s,h,v]              (`mixed`: each head's mix of the values)
    y[n,t,e]  = Σ_{h,v} M[n,t,h,v] · W_o[h,v,e] + b_o

Backward, from G = dL/dy (N, T, E):

    dW_o = Σ_{n,t} M ⊗ G,  db_o = Σ_{n,t} G,  dM = G · W_oᵀ
    dA[n,h,t,s] = Σ_v dM[n,t,h,v] · V_[n,s,h,v]          dV_[n,s,h,v] = Σ_t A[n,h,t,s] · dM[n,t,h,v]
    dscores = A ⊙ (dA − Σ_s dA ⊙ A) / √K                 (the softmax's Jacobian; 0 where masked)
    dQ = dscores · K_,   dK_ = dscoresᵀ · Q
    and through each projection: dW = Σ_{n,t} input ⊗ d(projection), db = Σ d(projection),
    d(input) = d(projection) · Wᵀ
"""

from __future__ import annotations

import math

import numpy as np

from ..errors import ShapeError
from ..random import hashed_keep
from ..utils import checks
from .base import Layer
from .context import TrainingContext

MASKED = -1e9  # what a masked score becomes before the softmax (its weight is then exactly 0 in float32)


class MultiHeadAttention(Layer):
    """Keras's `MultiHeadAttention(num_heads, key_dim)`: `layer(query, value, key=None, attention_mask=None)`.

    `attention_mask` (N, T, S) of booleans: where False, query position t does not attend to value
    position s; `use_causal_mask=True` lets position t see positions ≤ t only. The equations are in
    this module's docstring.
    """

    takes_unknown_dims = True

    def __init__(self, num_heads, key_dim, value_dim=None, dropout=0.0, use_bias=True, output_shape=None,
                 attention_axes=None, kernel_initializer="glorot_uniform", bias_initializer="zeros",
                 kernel_regularizer=None, bias_regularizer=None, activity_regularizer=None, kernel_constraint=None,
                 bias_constraint=None, seed=None, name=None, **kwargs):  # fmt: skip
        super().__init__(name=name, **kwargs)
        self.num_heads = checks.positive_int(num_heads, "MultiHeadAttention: num_heads")
        self.key_dim = checks.positive_int(key_dim, "MultiHeadAttention: key_dim")
        self.value_dim = (
            self.key_dim if value_dim is None else checks.positive_int(value_dim, "MultiHeadAttention: value_dim")
        )
        self.dropout = checks.probability(dropout, "MultiHeadAttention: dropout")
        if attention_axes is not None or activity_regularizer is not None:
            raise NotImplementedError(
                "MultiHeadAttention: attention_axes and activity_regularizer are not supported by minidl"
            )
        if not use_bias:
            raise NotImplementedError("MultiHeadAttention: use_bias=False is not supported by minidl")
        self.output_dim = (
            None
            if output_shape is None
            else checks.positive_int(
                output_shape if isinstance(output_shape, int) else output_shape[-1], "MultiHeadAttention: output_shape"
            )
        )
        self.kernel_initializer, self.bias_initializer = kernel_initializer, bias_initializer
        self.kernel_regularizer, self.bias_regularizer = kernel_regularizer, bias_regularizer
        self.seed = seed

    def __call__(self, query, value=None, key=None, attention_mask=None, return_attention_scores=False,
                 training=None, use_causal_mask=False):  # fmt: skip
        """Keras's call: the query, value (and key) sequences are this layer's inputs, in that order (a graph
        node replays the call with them as one list)."""
        if return_attention_scores:
            raise NotImplementedError("MultiHeadAttention: return_attention_scores=True is not supported by minidl")
        if value is None and isinstance(query, list):
            inputs = query
        else:
            if value is None:
                raise TypeError(f"layer {self.name!r}: MultiHeadAttention needs query and value")
            self.causal = bool(use_causal_mask)
            inputs = [query, value, value if key is None else key]
            if attention_mask is not None:
                inputs.append(attention_mask)
        return super().__call__(inputs, training=training)

    # ----- shapes and weights -----
    def compute_output_shape(self, input_shape):
        query, value, key = (tuple(s) for s in input_shape[:3])
        if len(query) != 2 or len(value) != 2 or len(key) != 2:
            raise ShapeError(
                f"layer {self.name!r} (MultiHeadAttention) takes sequences (steps, features); got query {query}, "
                f"value {value}, key {key}"
            )
        if key[0] != value[0] and None not in (key[0], value[0]):
            raise ShapeError(f"layer {self.name!r}: key {key} and value {value} must have the same number of steps")
        if None in (query[1], value[1], key[1]):
            raise ShapeError(f"layer {self.name!r} (MultiHeadAttention) needs the feature sizes known")
        return (query[0], self.output_dim or query[1])

    def build(self, input_shape):
        (_, d_query), (_, d_value), (_, d_key) = (tuple(s) for s in input_shape[:3])
        h, k, v = self.num_heads, self.key_dim, self.value_dim
        out = self.output_dim or d_query
        for name, shape in (
            ("query_kernel", (d_query, h, k)),
            ("query_bias", (h, k)),
            ("key_kernel", (d_key, h, k)),
            ("key_bias", (h, k)),
            ("value_kernel", (d_value, h, v)),
            ("value_bias", (h, v)),
            ("output_kernel", (h, v, out)),
            ("output_bias", (out,)),
        ):
            kernel = name.endswith("kernel")
            self.add_weight(
                name=name,
                shape=shape,
                initializer=self.kernel_initializer if kernel else self.bias_initializer,
                regularizer=self.kernel_regularizer if kernel else self.bias_regularizer,
            )

    def check_input(self, xs):
        pass  # the sequences' lengths may differ from call to call

    # ----- computing -----
    def forward(self, xs, training=False):
        q, v, k = xs[:3]
        p = self.params
        Q = np.einsum("ntd,dhk->nthk", q, p["query_kernel"]) + p["query_bias"]
        K = np.einsum("nsd,dhk->nshk", k, p["key_kernel"]) + p["key_bias"]
        V = np.einsum("nsd,dhv->nshv", v, p["value_kernel"]) + p["value_bias"]
        scores = np.einsum("nthk,nshk->nhts", Q, K) / math.sqrt(self.key_dim)
        allowed = self._allowed(xs, scores.shape)
        if allowed is not None:
            scores = np.where(allowed, scores, np.asarray(MASKED, scores.dtype))
        scores -= scores.max(axis=-1, keepdims=True)
        A = np.exp(scores)
        A /= A.sum(axis=-1, keepdims=True)
        keep = self._dropout_mask(A.shape, training)
        A_used = A if keep is None else A * keep
        mixed = np.einsum("nhts,nshv->nthv", A_used, V)
        y = np.einsum("nthv,hve->nte", mixed, p["output_kernel"]) + p["output_bias"]
        if training:
            self.cache = (q, v, k, Q, K, V, A, keep, mixed)
        return y.astype(q.dtype, copy=False)

    def _allowed(self, xs, shape):
        """Where query t may attend to value s, broadcast to (N, H, T, S); None when everything is allowed."""
        n, _, t, s = shape
        allowed = None
        if len(xs) > 3:
            mask = np.asarray(xs[3]).astype(bool)
            if mask.shape != (n, t, s):
                raise ShapeError(f"layer {self.name!r}: attention_mask must have shape {(n, t, s)}, got {mask.shape}")
            allowed = mask[:, None]
        if getattr(self, "causal", False):
            causal = np.tril(np.ones((t, s), dtype=bool))[None, None]
            allowed = causal if allowed is None else allowed & causal
        return allowed

    def _dropout_mask(self, shape, training):
        """Dropout on the attention weights, drawn per sample from the step's context (shard-independent)."""
        if not training or not self.dropout:
            return None
        n = shape[0]
        if isinstance(training, TrainingContext):
            seed, step, positions = training.seed_for(self), training.step, training.positions
        else:
            seed, step, positions = self.seed or 0, 0, np.arange(n)
        keep = hashed_keep(seed, step, positions, int(np.prod(shape[1:])), self.dropout).reshape(shape)
        return keep / (1.0 - self.dropout)

    def backward(self, grad):
        q, v, k, Q, K, V, A, keep, mixed = self.cache
        p, g = self.params, self.grads
        A_used = A if keep is None else A * keep
        g["output_bias"][...] = grad.sum(axis=(0, 1))
        g["output_kernel"][...] = np.einsum("nthv,nte->hve", mixed, grad)
        d_mixed = np.einsum("nte,hve->nthv", grad, p["output_kernel"])
        dA = np.einsum("nthv,nshv->nhts", d_mixed, V)
        dV = np.einsum("nhts,nthv->nshv", A_used, d_mixed)
        if keep is not None:
            dA *= keep
        dscores = A * (dA - (dA * A).sum(axis=-1, keepdims=True)) / math.sqrt(self.key_dim)
        dQ = np.einsum("nhts,nshk->nthk", dscores, K)
        dK = np.einsum("nhts,nthk->nshk", dscores, Q)
        grads = []
        for x, d, name, letters in ((q, dQ, "query", "nthk"), (v, dV, "value", "nshv"), (k, dK, "key", "nshk")):
            g[f"{name}_bias"][...] = d.sum(axis=(0, 1))
            g[f"{name}_kernel"][...] = np.einsum(f"ntd,{letters.replace('s', 't')}->d{letters[2:]}", x, d)
            grads.append(np.einsum(f"{letters.replace('s', 't')},d{letters[2:]}->ntd", d, p[f"{name}_kernel"]))
        dq, dv, dk = grads
        return [dq, dv, dk] + ([None] if len(self.input_shape) > 3 else [])

    def get_config(self):
        config = {
            **super().get_config(),
            "num_heads": self.num_heads,
            "key_dim": self.key_dim,
            "value_dim": self.value_dim,
            "dropout": self.dropout,
        }
        if self.output_dim is not None:
            config["output_shape"] = self.output_dim
        return config

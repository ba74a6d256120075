"""The recurrent cells: one step of SimpleRNN, LSTM and GRU, run over a whole sequence and back.

A cell holds the weights and the equations of one time step, in Keras's layout (so weights copied
from Keras give Keras's outputs): kernel (D, G·U) for the inputs, recurrent_kernel (U, G·U) for
the previous state, the G blocks of U columns being the gates in Keras's order. `RNN`
(minidl/layers/recurrent.py) hands a cell the whole sequence, time-major, and the cell runs it:

    forward_sequence(xs (T, N, D), initial states [(N, U), ...], kept (T, N, 1) or None, keep, training)
        -> hs (T, N, U), the state h_t after every step, and the final states
    backward_sequence(dhs (T, N, U) or None, d final states) -> dxs (T, N, D), d initial states
    (dhs: the gradients of the outputs at every step, None when only the last state was output)

What makes it fast is what docs/why-it-is-fast.md asks for: the input projections x_t W + b of
all T steps are one matrix product before the loop, the weight gradients Σ_t x_tᵀ dz_t and
Σ_t h_{t−1}ᵀ dz_t are one product each after it, and the loop over time — inherent, each step
needs the last — does one (N, U) @ (U, G·U) product and a few element-wise passes per step, on the
whole batch and all units at once.

Backpropagation through time (BPTT) is the chain rule run backwards along that loop: the gradient
reaching h_t is what the output at t receives plus what step t+1 sends back through h_t, and each
step turns it into the gradients of its gates' pre-activations dz_t, stored for the products.

Masks: where kept[t, n] is False, step t of sample n is skipped: its states are carried over
unchanged (h_t = h_{t−1}, c_t = c_{t−1}) and, going back, the whole gradient passes to the carried
state while that step's gates get none. Recurrent dropout multiplies h_{t−1} by one mask per sample
(`keep`, (N, U), from the RNN) wherever it meets the recurrent kernel. What backward needs is kept
only by a forward pass with `training`, as for every layer.
"""

from __future__ import annotations

import numpy as np

from .. import constraints, initializers, regularizers
from ..utils import checks
from . import activations
from .base import Layer


class RNNCell(Layer):
    """What the three cells share: Keras's arguments, weights of G gates, the products around the loop.

    Subclasses set `gates` (G) and `state_count`, and write `forward_sequence` / `backward_sequence`.
    """

    gates = 1
    state_count = 1

    def __init__(
        self,
        units,
        activation="tanh",
        use_bias=True,
        kernel_initializer="glorot_uniform",
        recurrent_initializer="orthogonal",
        bias_initializer="zeros",
        kernel_regularizer=None,
        recurrent_regularizer=None,
        bias_regularizer=None,
        kernel_constraint=None,
        recurrent_constraint=None,
        bias_constraint=None,
        dropout=0.0,
        recurrent_dropout=0.0,
        seed=None,
        name=None,
        **kwargs,
    ):
        super().__init__(name=name, **kwargs)
        kind = type(self).__name__
        self.units = checks.positive_int(units, f"{kind}: units")
        self.activation = activations.get(activation)
        self.use_bias = checks.flag(use_bias, f"{kind}: use_bias")
        self.kernel_initializer = kernel_initializer
        self.recurrent_initializer = recurrent_initializer
        self.bias_initializer = bias_initializer
        # Penalties added to the loss and projections after each step, per weight, as Dense has them.
        self.kernel_regularizer, self.recurrent_regularizer = kernel_regularizer, recurrent_regularizer
        self.bias_regularizer = bias_regularizer
        self.kernel_constraint = constraints.get(kernel_constraint, f"{kind}: kernel_constraint")
        self.recurrent_constraint = constraints.get(recurrent_constraint, f"{kind}: recurrent_constraint")
        self.bias_constraint = constraints.get(bias_constraint, f"{kind}: bias_constraint")
        self.dropout = checks.probability(dropout, f"{kind}: dropout")
        self.recurrent_dropout = checks.probability(recurrent_dropout, f"{kind}: recurrent_dropout")
        self.seed = checks.seed(seed, f"{kind}: seed")

    @property
    def state_size(self):
        """Keras's: the size of each state (U for h; LSTM: U for h and U for c)."""
        return self.units if self.state_count == 1 else [self.units] * self.state_count

    @property
    def output_size(self):
        return self.units

    def compute_output_shape(self, input_shape):
        return (self.units,)

    def build(self, input_shape):
        features, size = input_shape[-1], self.gates * self.units
        self.add_weight(
            name="kernel", shape=(features, size), initializer=self.kernel_initializer,
            regularizer=self.kernel_regularizer, constraint=self.kernel_constraint,
        )  # fmt: skip
        self.add_weight(
            name="recurrent_kernel", shape=(self.units, size), initializer=self.recurrent_initializer,
            regularizer=self.recurrent_regularizer, constraint=self.recurrent_constraint,
        )  # fmt: skip
        if self.use_bias:
            self.add_weight(
                name="bias", shape=self.bias_shape(), initializer=self.bias_init(),
                regularizer=self.bias_regularizer, constraint=self.bias_constraint,
            )  # fmt: skip

    def bias_init(self):
        """The initializer of the bias."""
        return self.bias_initializer

    def bias_shape(self):
        return (self.gates * self.units,)

    # ----- around the loop -----
    def columns(self):
        """For each gate column the loop computes, its column in Keras's layout (None: the same order)."""
        return None

    def weight(self, name):
        """A weight with its gate columns in the loop's order (the array itself when that is Keras's)."""
        columns = self.columns()
        return self.params[name] if columns is None else self.params[name][..., columns]

    def set_grad(self, name, value):
        """Write a gradient whose gate columns are in the loop's order into grads[name], in Keras's layout."""
        columns = self.columns()
        if columns is None:
            self.grads[name][...] = value
        else:
            self.grads[name][..., columns] = value

    def project(self, xs):
        """x_t W + b for every step at once: (T, N, D) -> (T, N, G·U), one matrix product."""
        steps, n, features = xs.shape
        z = xs.reshape(steps * n, features) @ self.weight("kernel")
        if self.use_bias:
            z += self.input_bias()
        return z.reshape(steps, n, -1)

    def input_bias(self):
        return self.weight("bias")

    @staticmethod
    def dropped(h, keep):
        """h with the recurrent dropout mask `keep` applied (h itself without one)."""
        return h if keep is None else h * keep

    def input_and_kernel_grads(self, xs, dz, needs_input_grad):
        """dW = Σ_t x_tᵀ dz_t (one product); returns dxs = dz Wᵀ (T, N, D), or None when not needed."""
        steps, n, features = xs.shape
        rows = dz.reshape(steps * n, -1)
        self.set_grad("kernel", xs.reshape(steps * n, features).T @ rows)
        if not needs_input_grad:
            return None
        return (rows @ self.weight("kernel").T).reshape(steps, n, features)

    def recurrent_grad(self, previous, dz):
        """dU = Σ_t (dropped h_{t−1})ᵀ dz_t: previous (T, N, U), dz (T, N, G·U), one product."""
        rows = self.dropped(previous, self.keep).reshape(-1, self.units)
        self.set_grad("recurrent_kernel", rows.T @ dz.reshape(len(rows), -1))

    def keep_steps(self, kept, t, new, old, out):
        """out = new where step t is kept, old where it is masked (exactly, no arithmetic)."""
        if kept is None:
            np.copyto(out, new)
            return
        np.copyto(out, old)
        np.copyto(out, new, where=kept[t])

    # ----- Keras's one-step call -----
    def __call__(self, inputs, states, training=False):
        """Keras's `cell(inputs, states)`: one step, (N, D) and [(N, U), ...] -> (output, new states)."""
        x = np.asarray(inputs, dtype=self.dtype)
        if not self.built:
            self.build_weights(x.shape[1:], dtype=self.dtype)
        states = [np.asarray(s, dtype=self.dtype) for s in (states if isinstance(states, (list, tuple)) else [states])]
        hs, final = self.forward_sequence(x[None], states, None, training=training)
        return hs[0].copy(), [s.copy() for s in final]

    def get_config(self):
        return {
            "name": self.name,
            "units": self.units,
            "activation": activations.name_of(self.activation) or "linear",
            "use_bias": self.use_bias,
            "dropout": self.dropout,
            "recurrent_dropout": self.recurrent_dropout,
            "seed": self.seed,
            **regularizers.config_of(
                kernel_regularizer=self.kernel_regularizer,
                recurrent_regularizer=self.recurrent_regularizer,
                bias_regularizer=self.bias_regularizer,
            ),
            **constraints.config_of(
                kernel_constraint=self.kernel_constraint,
                recurrent_constraint=self.recurrent_constraint,
                bias_constraint=self.bias_constraint,
            ),
        }


class SimpleRNNCell(RNNCell):
    """h_t = act(x_t W + h_{t−1} U + b)      W (D, U), U (U, U), b (U,); act tanh by default.

    Forward, for t = 0..T−1 (h_{−1} the initial state):
        z_t = x_t W + b  (all t at once)  +  h_{t−1} U          (N, U)
        h_t = act(z_t)
    Backward, t = T−1..0, with dh the gradient reaching h_t (from the output at t and from step t+1):
        dz_t = dh ⊙ act'(z_t)                                    (N, U)
        dh_{t−1} = dz_t Uᵀ    (what step t sends back)
    then dW = Σ_t x_tᵀ dz_t,  dU = Σ_t h_{t−1}ᵀ dz_t,  db = Σ_t Σ_n dz_t,  dx_t = dz_t Wᵀ.
    """

    def forward_sequence(self, xs, states, kept, keep=None, training=False):
        steps, n, _ = xs.shape
        recurrent = self.params["recurrent_kernel"]
        z = self.project(xs)  # (T, N, U): x_t W + b for every t
        h = np.empty((steps + 1, n, self.units), dtype=z.dtype)  # h[t + 1] = h_t; h[0] the initial state
        h[0] = states[0]
        for t in range(steps):
            z[t] += self.dropped(h[t], keep) @ recurrent  # z_t = x_t W + b + h_{t−1} U
            self.activation.apply(z[t], z[t])  # act(z_t), kept in z for backward
            self.keep_steps(kept, t, z[t], h[t], h[t + 1])
        if training:
            self.kept, self.keep, self.xs, self.h, self.z = kept, keep, xs, h, z
        return h[1:], [h[steps]]

    def backward_sequence(self, dhs, dstates, needs_input_grad=True):
        steps = len(self.z)
        recurrent_t = self.params["recurrent_kernel"].T
        dz = np.empty_like(self.z)
        dh = np.zeros_like(self.h[0]) if dstates[0] is None else dstates[0].copy()
        for t in reversed(range(steps)):
            if dhs is not None:
                dh += dhs[t]  # everything that reaches h_t: from the output at t and from step t+1
            carried = None if self.kept is None else np.where(self.kept[t], 0, dh)  # to h_{t−1}, step masked
            if self.kept is not None:
                dh *= self.kept[t]
            dz[t] = self.activation.derivative_times(dh, self.z[t])  # dz_t = dh ⊙ act'(z_t)
            dh = self.dropped(dz[t] @ recurrent_t, self.keep)  # dh_{t−1} = dz_t Uᵀ
            if carried is not None:
                dh += carried
        self.recurrent_grad(self.h[:-1], dz)
        if self.use_bias:
            self.set_grad("bias", dz.reshape(-1, self.units).sum(axis=0))
        return self.input_and_kernel_grads(self.xs, dz, needs_input_grad), [dh]


class LSTMCell(RNNCell):
    """Long short-term memory, Keras's gate order [i | f | c | o]: W (D, 4U), U (U, 4U), b (4U,).

    Forward, for t = 0..T−1, σ the recurrent activation (sigmoid), act the activation (tanh):
        z_t = x_t W + b  (all t at once)  +  h_{t−1} U                          (N, 4U)
        i = σ(z_i)   f = σ(z_f)   g = act(z_c)   o = σ(z_o)                    (N, U) each
        c_t = f ⊙ c_{t−1} + i ⊙ g
        h_t = o ⊙ act(c_t)
    Backward, t = T−1..0, dh and dc the gradients reaching h_t and c_t:
        do = dh ⊙ act(c_t)
        dc = dc + dh ⊙ o ⊙ act'(c_t)          (c_t reaches the loss directly and through h_t)
        di = dc ⊙ g    df = dc ⊙ c_{t−1}    dg = dc ⊙ i
        dz_t = [di ⊙ σ'(z_i) | df ⊙ σ'(z_f) | dg ⊙ act'(z_c) | do ⊙ σ'(z_o)]      (N, 4U)
        dh_{t−1} = dz_t Uᵀ      dc_{t−1} = dc ⊙ f
    then dW = Σ_t x_tᵀ dz_t,  dU = Σ_t h_{t−1}ᵀ dz_t,  db = Σ_t Σ_n dz_t,  dx_t = dz_t Wᵀ.
    `unit_forget_bias` starts the forget gate's bias at 1 (the rest from bias_initializer), as Keras.
    The weights keep Keras's layout. The loop keeps the gates of step t as gates[t] (4, N, U) in the
    order [i, f, o, c] (see `columns`): every gate one contiguous block, the three σ gates one block
    (element-wise calls on column slices of an (N, 4U) array measured 2-4x slower). With Keras's
    default activations one tanh computes all four gates (see `fused`); the derivatives of every step
    are taken before the backward loop, which then does about ten calls per step.
    """

    gates = 4
    state_count = 2

    def __init__(
        self,
        units,
        activation="tanh",
        recurrent_activation="sigmoid",
        use_bias=True,
        kernel_initializer="glorot_uniform",
        recurrent_initializer="orthogonal",
        bias_initializer="zeros",
        unit_forget_bias=True,
        kernel_regularizer=None,
        recurrent_regularizer=None,
        bias_regularizer=None,
        kernel_constraint=None,
        recurrent_constraint=None,
        bias_constraint=None,
        dropout=0.0,
        recurrent_dropout=0.0,
        seed=None,
        name=None,
        **kwargs,
    ):
        super().__init__(
            units, activation, use_bias, kernel_initializer, recurrent_initializer, bias_initializer,
            kernel_regularizer, recurrent_regularizer, bias_regularizer, kernel_constraint,
            recurrent_constraint, bias_constraint, dropout, recurrent_dropout, seed, name, **kwargs,
        )  # fmt: skip
        self.recurrent_activation = activations.get(recurrent_activation)
        self.unit_forget_bias = checks.flag(unit_forget_bias, "LSTMCell: unit_forget_bias")

    def bias_init(self):
        return UnitForgetBias(self.bias_initializer, self.units) if self.unit_forget_bias else self.bias_initializer

    def columns(self):
        # The loop keeps the gates as [i | f | o | c]: the three σ gates are then one block, one call.
        u = self.units
        return np.r_[0 : 2 * u, 3 * u : 4 * u, 2 * u : 3 * u]

    def fused(self):
        """True for Keras's default activations: σ(z) = (1 + tanh(z / 2)) / 2 lets one tanh do all four gates."""
        return type(self.recurrent_activation) is activations.Sigmoid and type(self.activation) is activations.Tanh

    def forward_sequence(self, xs, states, kept, keep=None, training=False):
        steps, n, _ = xs.shape
        u, sigma, act = self.units, self.recurrent_activation, self.activation
        # The gates of step t are gates[t] (4, N, U): [i, f, o, c], each an (N, U) block in one piece.
        gates = np.ascontiguousarray(self.project(xs).reshape(steps, n, 4, u).transpose(0, 2, 1, 3))
        recurrent = np.ascontiguousarray(self.weight("recurrent_kernel").reshape(u, 4, u).transpose(1, 0, 2))
        fused = self.fused()
        if fused:  # the σ gates' pre-activations halved once, here, instead of at every step
            gates[:, :3] *= 0.5
            recurrent[:3] *= 0.5
        h = np.empty((steps + 1, n, u), dtype=gates.dtype)  # h[t + 1] = h_t
        c = np.empty((steps + 1, n, u), dtype=gates.dtype)  # c[t + 1] = c_t
        act_c = np.empty((steps, n, u), dtype=gates.dtype)  # act(c_t) before masking
        h[0], c[0] = states
        product, cell = np.empty((4, n, u), dtype=gates.dtype), np.empty((2, n, u), dtype=gates.dtype)
        for t in range(steps):
            z = gates[t]
            z += np.matmul(self.dropped(h[t], keep), recurrent, out=product)  # z_t = x_t W + b + h_{t−1} U
            if fused:
                np.tanh(z, out=z)
                z[:3] *= 0.5
                z[:3] += 0.5  # i, f, o = σ(z),  g = tanh(z_c)   (gates keeps the activations)
            else:
                sigma.apply(z[:3], z[:3])
                act.apply(z[3], z[3])
            i, f, o, g = z
            new_c = c[t + 1] if kept is None else cell[0]
            np.multiply(f, c[t], out=new_c)
            new_c += np.multiply(i, g, out=cell[1])  # c_t = f ⊙ c_{t−1} + i ⊙ g
            act.apply(new_c, act_c[t])
            if kept is None:
                np.multiply(o, act_c[t], out=h[t + 1])  # h_t = o ⊙ act(c_t)
            else:  # skipped steps carry both states over
                self.keep_steps(kept, t, new_c, c[t], c[t + 1])
                self.keep_steps(kept, t, o * act_c[t], h[t], h[t + 1])
        if training:
            self.kept, self.keep, self.xs, self.h, self.c, self.gates = kept, keep, xs, h, c, gates
            self.act_c = act_c
        return h[1:], [h[steps], c[steps]]

    def backward_sequence(self, dhs, dstates, needs_input_grad=True):
        steps, u = len(self.gates), self.units
        sigma, act = self.recurrent_activation, self.activation
        gates, c, act_c = self.gates, self.c, self.act_c
        recurrent_t = self.weight("recurrent_kernel").T  # (4U, U), rows in the loop's order
        # What does not depend on the gradient flowing back is computed for all steps at once, before
        # the loop: the gates' derivatives σ'(z) and act'(z_c) (from their outputs), and o ⊙ act'(c_t).
        slopes = np.empty_like(gates)
        slopes[:, :3] = sigma.derivative_times(np.ones_like(gates[:, :3]), gates[:, :3])
        slopes[:, 3] = act.derivative_times(np.ones_like(act_c), gates[:, 3])
        o_slope = act.derivative_times(gates[:, 2].copy(), act_c)  # o ⊙ act'(c_t)
        n = len(self.h[0])
        dz = np.empty((steps, n, 4 * u), dtype=gates.dtype)  # dz_t as rows (N, 4U): [i | f | o | c]
        dh = np.zeros_like(self.h[0]) if dstates[0] is None else dstates[0].copy()
        dc = np.zeros_like(self.h[0]) if dstates[1] is None else dstates[1].copy()
        through_h, d = np.empty_like(dh), np.empty((4, n, u), dtype=dh.dtype)
        for t in reversed(range(steps)):
            if dhs is not None:
                dh += dhs[t]  # everything that reaches h_t: from the output at t and from step t+1
            i, f, _, g = gates[t]
            if self.kept is not None:  # a skipped step passes its gradients on to the carried states
                carried_h, carried_c = np.where(self.kept[t], 0, dh), np.where(self.kept[t], 0, dc)
                dh *= self.kept[t]
                dc *= self.kept[t]
            np.multiply(dh, act_c[t], out=d[2])  # do = dh ⊙ act(c_t)
            dc += np.multiply(dh, o_slope[t], out=through_h)  # dc += dh ⊙ o ⊙ act'(c_t)
            np.multiply(dc, g, out=d[0])  # di = dc ⊙ g
            np.multiply(dc, c[t], out=d[1])  # df = dc ⊙ c_{t−1}
            np.multiply(dc, i, out=d[3])  # dg = dc ⊙ i
            # dz_t = [di ⊙ σ'(z_i) | df ⊙ σ'(z_f) | do ⊙ σ'(z_o) | dg ⊙ act'(z_c)], written as its (N, 4U) rows
            np.multiply(d, slopes[t], out=dz[t].reshape(n, 4, u).transpose(1, 0, 2))
            dc *= f  # dc_{t−1} = dc ⊙ f
            dh = self.dropped(dz[t] @ recurrent_t, self.keep)  # dh_{t−1} = dz_t Uᵀ
            if self.kept is not None:
                dh += carried_h
                dc += carried_c
        self.recurrent_grad(self.h[:-1], dz)
        if self.use_bias:
            self.set_grad("bias", dz.reshape(-1, 4 * u).sum(axis=0))
        return self.input_and_kernel_grads(self.xs, dz, needs_input_grad), [dh, dc]

    def get_config(self):
        return {
            **super().get_config(),
            "recurrent_activation": activations.name_of(self.recurrent_activation) or "linear",
            "unit_forget_bias": self.unit_forget_bias,
        }


class GRUCell(RNNCell):
    """Gated recurrent unit, Keras's gate order [z | r | h]: W (D, 3U), U (U, 3U).

    With `reset_after=True` (Keras 3's default) the bias is (2, 3U): row 0 for the inputs, row 1 for
    the recurrent product, and the reset gate multiplies the recurrent product:
        x_t W + b_in  (all t at once) = [xz | xr | xh];   h_{t−1} U + b_rec = [rz | rr | rh]     (N, U) each
        z = σ(xz + rz)   r = σ(xr + rr)   ĥ = act(xh + r ⊙ rh)
        h_t = z ⊙ h_{t−1} + (1 − z) ⊙ ĥ
    With `reset_after=False` the bias is (3U,) on the inputs and the reset gate acts first:
        ĥ = act(xh + (r ⊙ h_{t−1}) U_h),   z and r from h_{t−1} U_z, h_{t−1} U_r.
    Backward, t = T−1..0, dh the gradient reaching h_t:
        dz = dh ⊙ (h_{t−1} − ĥ) ⊙ σ'       dâ = dh ⊙ (1 − z) ⊙ act'      (â: ĥ's pre-activation)
        reset_after:  dr = dâ ⊙ rh ⊙ σ';   input side [dz | dr | dâ], recurrent side [dz | dr | dâ ⊙ r]
                      dh_{t−1} = dh ⊙ z + [dz | dr | dâ ⊙ r] Uᵀ
        reset before: d(r ⊙ h) = dâ U_hᵀ;   dr = d(r ⊙ h) ⊙ h_{t−1} ⊙ σ'
                      dh_{t−1} = dh ⊙ z + [dz | dr] U_zrᵀ + d(r ⊙ h) ⊙ r
    then dW = Σ_t x_tᵀ [dz | dr | dâ], dU from h_{t−1} (and r ⊙ h_{t−1}) and the recurrent side,
    the biases are the sums of each side over t and n, and dx_t = [dz | dr | dâ] Wᵀ.
    """

    gates = 3

    def __init__(
        self,
        units,
        activation="tanh",
        recurrent_activation="sigmoid",
        use_bias=True,
        kernel_initializer="glorot_uniform",
        recurrent_initializer="orthogonal",
        bias_initializer="zeros",
        kernel_regularizer=None,
        recurrent_regularizer=None,
        bias_regularizer=None,
        kernel_constraint=None,
        recurrent_constraint=None,
        bias_constraint=None,
        dropout=0.0,
        recurrent_dropout=0.0,
        reset_after=True,
        seed=None,
        name=None,
        **kwargs,
    ):
        super().__init__(
            units, activation, use_bias, kernel_initializer, recurrent_initializer, bias_initializer,
            kernel_regularizer, recurrent_regularizer, bias_regularizer, kernel_constraint,
            recurrent_constraint, bias_constraint, dropout, recurrent_dropout, seed, name, **kwargs,
        )  # fmt: skip
        self.recurrent_activation = activations.get(recurrent_activation)
        self.reset_after = checks.flag(reset_after, "GRUCell: reset_after")

    def bias_shape(self):
        return (2, 3 * self.units) if self.reset_after else (3 * self.units,)

    def input_bias(self):
        return self.params["bias"][0] if self.reset_after else self.params["bias"]

    def forward_sequence(self, xs, states, kept, keep=None, training=False):
        steps, n, _ = xs.shape
        u, kernel = self.units, self.params["recurrent_kernel"]
        sigma, act = self.recurrent_activation, self.activation
        gates = self.project(xs)  # (T, N, 3U): [xz | xr | xh] for every t, then [z | r | ĥ] in place
        h = np.empty((steps + 1, n, u), dtype=gates.dtype)
        inner = np.empty((steps, n, u), dtype=gates.dtype)  # rh (reset_after) or r ⊙ h_{t−1} (reset before)
        h[0] = states[0]
        for t in range(steps):
            z, previous = gates[t], self.dropped(h[t], keep)
            if self.reset_after:
                recurrent = previous @ kernel  # [rz | rr | rh]
                if self.use_bias:
                    recurrent += self.params["bias"][1]
                z[:, : 2 * u] += recurrent[:, : 2 * u]
                sigma.apply(z[:, : 2 * u], z[:, : 2 * u])  # z, r
                inner[t] = recurrent[:, 2 * u :]
                z[:, 2 * u :] += z[:, u : 2 * u] * inner[t]  # xh + r ⊙ rh
            else:
                z[:, : 2 * u] += previous @ kernel[:, : 2 * u]
                sigma.apply(z[:, : 2 * u], z[:, : 2 * u])  # z, r
                np.multiply(z[:, u : 2 * u], previous, out=inner[t])  # r ⊙ h_{t−1}
                z[:, 2 * u :] += inner[t] @ kernel[:, 2 * u :]  # xh + (r ⊙ h_{t−1}) U_h
            act.apply(z[:, 2 * u :], z[:, 2 * u :])  # ĥ
            update, candidate = z[:, :u], z[:, 2 * u :]
            new = h[t] - candidate
            new *= update
            new += candidate  # h_t = z ⊙ h_{t−1} + (1 − z) ⊙ ĥ = ĥ + z ⊙ (h_{t−1} − ĥ)
            self.keep_steps(kept, t, new, h[t], h[t + 1])
        if training:
            self.kept, self.keep, self.xs, self.h, self.gates, self.inner = kept, keep, xs, h, gates, inner
        return h[1:], [h[steps]]

    def backward_sequence(self, dhs, dstates, needs_input_grad=True):
        steps, u = len(self.gates), self.units
        sigma, act = self.recurrent_activation, self.activation
        kernel = self.params["recurrent_kernel"]
        dx_side = np.empty_like(self.gates)  # [dz | dr | dâ]: the gradients of x_t W + b_in
        d_rec = np.empty_like(self.gates) if self.reset_after else None  # [dz | dr | dâ ⊙ r]: of h_{t−1} U + b_rec
        dh = np.zeros_like(self.h[0]) if dstates[0] is None else dstates[0].copy()
        for t in reversed(range(steps)):
            if dhs is not None:
                dh += dhs[t]
            gate, d, previous = self.gates[t], dx_side[t], self.h[t]
            update, reset, candidate = gate[:, :u], gate[:, u : 2 * u], gate[:, 2 * u :]
            if self.kept is not None:
                carried = np.where(self.kept[t], 0, dh)
                dh *= self.kept[t]
            np.multiply(dh, previous - candidate, out=d[:, :u])  # dz before σ'
            _times_derivative(sigma, d[:, :u], update)
            np.multiply(dh, 1 - update, out=d[:, 2 * u :])  # dĥ
            _times_derivative(act, d[:, 2 * u :], candidate)  # dâ
            back = dh * update  # h_{t−1} reaches h_t directly through z ⊙ h_{t−1}
            if self.reset_after:
                np.multiply(d[:, 2 * u :], self.inner[t], out=d[:, u : 2 * u])  # dr = dâ ⊙ rh
                _times_derivative(sigma, d[:, u : 2 * u], reset)
                r = d_rec[t]
                r[:, : 2 * u] = d[:, : 2 * u]
                np.multiply(d[:, 2 * u :], reset, out=r[:, 2 * u :])
                back += self.dropped(r @ kernel.T, self.keep)
            else:
                d_inner = d[:, 2 * u :] @ kernel[:, 2 * u :].T  # d(r ⊙ h_{t−1})
                dropped = self.dropped(previous, self.keep)
                np.multiply(d_inner, dropped, out=d[:, u : 2 * u])  # dr
                _times_derivative(sigma, d[:, u : 2 * u], reset)
                back += self.dropped(d[:, : 2 * u] @ kernel[:, : 2 * u].T + d_inner * reset, self.keep)
            dh = back
            if self.kept is not None:
                dh += carried
        self.gru_recurrent_grads(dx_side, d_rec)
        return self.input_and_kernel_grads(self.xs, dx_side, needs_input_grad), [dh]

    def gru_recurrent_grads(self, dx_side, d_rec):
        """dU and the biases: one product per block of the recurrent kernel, sums over t and n."""
        u = self.units
        if self.reset_after:
            self.recurrent_grad(self.h[:-1], d_rec)
            if self.use_bias:
                self.grads["bias"][0] = dx_side.reshape(-1, 3 * u).sum(axis=0)
                self.grads["bias"][1] = d_rec.reshape(-1, 3 * u).sum(axis=0)
            return
        previous = self.dropped(self.h[:-1], self.keep).reshape(-1, u)
        grads = self.grads["recurrent_kernel"]
        rows = dx_side.reshape(-1, 3 * u)
        grads[:, : 2 * u] = previous.T @ rows[:, : 2 * u]
        grads[:, 2 * u :] = self.inner.reshape(-1, u).T @ rows[:, 2 * u :]
        if self.use_bias:
            self.grads["bias"][...] = rows.sum(axis=0)

    def get_config(self):
        return {
            **super().get_config(),
            "recurrent_activation": activations.name_of(self.recurrent_activation) or "linear",
            "reset_after": self.reset_after,
        }


class UnitForgetBias:
    """The LSTM bias's initializer with `unit_forget_bias`: `initializer`'s values, the forget block (U..2U) at 1."""

    def __init__(self, initializer, units):
        self.initializer, self.units = initializer, units

    def __call__(self, shape, fan_in, fan_out, rng, dtype):
        bias = initializers.get(self.initializer)(shape, fan_in, fan_out, rng, dtype)
        bias[self.units : 2 * self.units] = 1
        return bias


def _times_derivative(activation, grad, y):
    """grad ⊙ f'(x) written into `grad`, f' taken from the activation's output y = f(x)."""
    result = activation.derivative_times(grad, y)
    if result is not grad:
        grad[...] = result

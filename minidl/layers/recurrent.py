"""Recurrent layers: RNN over a cell, SimpleRNN, LSTM, GRU (Keras's arguments and weight layout).

An `RNN` takes sequences x (N, T, D) and runs its cell (minidl/layers/cells.py) along the time axis,
from the first step to the last (`go_backwards`: from the last to the first). It returns the cell's
output at the last step, (N, U), or at every step, (N, T, U) with `return_sequences=True` — in the
order the steps were processed, so reversed with `go_backwards`, as Keras does — and with
`return_state=True` the final states too, as a list [output, *states]. Such a list cannot go on to
the next layer of a Sequential model; the layer is then used on its own.

What the RNN adds around the cell (the cell has the equations):
- masks: a mask (N, T) from `Embedding(mask_zero=True)` makes the cell skip padded steps (their state
  and output carried over from the step before); the output mask is passed on only with
  `return_sequences` (masking.py). With `zero_output_for_mask` a skipped step outputs zeros instead.
- dropout: `dropout` drops input features and `recurrent_dropout` state units, one mask per sample
  for the whole sequence, drawn from (seed, step, sample) like Dropout's so a batch split across
  processes drops what one process would. Keras draws separate masks per gate when
  recurrent_dropout > 0; minidl draws one for all gates (Keras's own choice when it is 0).
- `initial_state=[h0, (c0)]` in `forward`: then backward returns [dx, dh0, (dc0)].

Backward (backpropagation through time) is the cell's `backward_sequence`; the docstrings there give
the equations, and docs/recurrent-networks.md walks through them beside the code.
"""

from __future__ import annotations

import copy

import numpy as np

from ..errors import ShapeError
from ..random import hashed_keep
from ..utils import checks
from .base import Layer
from .cells import GRUCell, LSTMCell, RNNCell, SimpleRNNCell
from .context import TrainingContext

# Added to a layer's seed for its recurrent-dropout masks, so they differ from its input masks.
_RECURRENT_SEED_OFFSET = 0x5EED


class RNN(Layer):
    """Keras's RNN(cell): a cell run along the time axis of (N, T, D) sequences; see the module docstring."""

    takes_unknown_dims = True
    supports_masking = True

    def __init__(
        self,
        cell,
        return_sequences=False,
        return_state=False,
        go_backwards=False,
        stateful=False,
        unroll=False,
        zero_output_for_mask=False,
        name=None,
        input_shape=None,
        **kwargs,
    ):
        super().__init__(name=name, input_shape=input_shape, **kwargs)
        if isinstance(cell, (list, tuple)):
            raise NotImplementedError("RNN: a list of cells (StackedRNNCells) is not supported by minidl")
        if not isinstance(cell, RNNCell):
            raise TypeError(f"RNN: cell must be a SimpleRNNCell, LSTMCell or GRUCell, got {type(cell).__name__}")
        self.cell = cell
        kind = type(self).__name__
        self.return_sequences = checks.flag(return_sequences, f"{kind}: return_sequences")
        self.return_state = checks.flag(return_state, f"{kind}: return_state")
        self.go_backwards = checks.flag(go_backwards, f"{kind}: go_backwards")
        self.zero_output_for_mask = checks.flag(zero_output_for_mask, f"{kind}: zero_output_for_mask")
        self.unroll = checks.flag(unroll, f"{kind}: unroll")  # the same arithmetic either way
        if stateful:
            raise NotImplementedError(f"{kind}: stateful=True is not supported by minidl")
        self.stateful = False

    @property
    def units(self):
        return self.cell.units

    @property
    def state_size(self):
        return self.cell.state_size

    def compute_output_shape(self, input_shape):
        if len(input_shape) != 2 or input_shape[1] is None:
            raise ShapeError(
                f"layer {self.name!r} ({type(self).__name__}) needs sequences (timesteps, features), got {input_shape}"
            )
        units = self.cell.units
        output = (input_shape[0], units) if self.return_sequences else (units,)
        if self.return_state:  # several outputs: a list of shapes, as for every layer
            return [output, *[(units,)] * self.cell.state_count]
        return output

    def build(self, input_shape):
        self.cell.build_weights(input_shape[1:], rng=getattr(self, "_rng", None), dtype=self.dtype)
        # The cell's weights are the layer's: the same dictionaries, so a model's flat buffers reach both;
        # and so are their penalties and constraints, which the model finds on the layers that hold weights.
        self.params, self.grads, self.states = self.cell.params, self.cell.grads, self.cell.states
        self.regularizers = self.cell.regularizers
        self.weight_constraints = getattr(self.cell, "weight_constraints", {})

    def compute_mask(self, inputs, previous_mask):
        mask = previous_mask if self.return_sequences else None
        return [mask] + [None] * self.cell.state_count if self.return_state else mask

    # ----- forward -----
    def forward(self, x, training=False, mask=None, initial_state=None):
        """x (N, T, D) -> (N, U), (N, T, U) with return_sequences, or [that, *final states] with return_state."""
        self.check_input(x)
        n, steps, _ = x.shape
        if not steps:
            raise ShapeError(f"layer {self.name!r} ({type(self).__name__}) needs at least one time step, got {x.shape}")
        cell = self.cell
        xs = x.transpose(1, 0, 2)  # time-major: (T, N, D), step t is xs[t]
        kept = None
        if mask is not None:
            mask = np.asarray(mask, dtype=bool)
            if mask.shape != (n, steps):
                raise ShapeError(f"layer {self.name!r}: mask must have shape {(n, steps)}, got {mask.shape}")
            if not mask.all():
                kept = mask.T[:, :, None]  # (T, N, 1)
        if self.go_backwards:
            xs = xs[::-1]
            kept = None if kept is None else kept[::-1]
        input_keep, recurrent_keep = self.dropout_masks(training, n, x.shape[2])
        if input_keep is not None:
            xs = xs * input_keep
        states = self.initial_states(initial_state, n, x.dtype)
        hs, final = cell.forward_sequence(np.ascontiguousarray(xs), states, kept, recurrent_keep, training)
        # Which outputs are zero rather than the carried state: a skipped step with zero_output_for_mask,
        # and, as Keras starts the carried output at zeros, skipped steps before any kept one.
        scale = None
        if kept is not None and (self.zero_output_for_mask or initial_state is not None):
            scale = kept if self.zero_output_for_mask else np.logical_or.accumulate(kept, axis=0)
        if training:
            self.scale, self.input_keep, self.with_initial_state = scale, input_keep, initial_state is not None
        if self.return_sequences:
            out = hs.transpose(1, 0, 2) if scale is None else (hs * scale).transpose(1, 0, 2)
            out = np.ascontiguousarray(out)
        else:
            out = hs[-1].copy() if scale is None else hs[-1] * scale[-1]
        return [out, *[s.copy() for s in final]] if self.return_state else out

    def initial_states(self, initial_state, n, dtype):
        """The states before the first step: zeros, or `initial_state` checked against (N, U)."""
        count, units = self.cell.state_count, self.cell.units
        if initial_state is None:
            return [np.zeros((n, units), dtype)] * count
        given = list(initial_state) if isinstance(initial_state, (list, tuple)) else [initial_state]
        if len(given) != count or any(np.shape(s) != (n, units) for s in given):
            raise ShapeError(
                f"layer {self.name!r}: initial_state must be {count} array(s) of shape {(n, units)}, "
                f"got {[np.shape(s) for s in given]}"
            )
        return [np.asarray(s, dtype=dtype) for s in given]

    def dropout_masks(self, training, n, features):
        """(input mask (N, D), recurrent mask (N, U)), scaled by 1/(1 − rate); None without that dropout."""
        cell = self.cell
        if not training or not (cell.dropout or cell.recurrent_dropout):
            return None, None
        if isinstance(training, TrainingContext):
            seed, step, positions = training.seed_for(self), training.step, training.positions
        else:  # a layer used on its own: a fresh mask per call
            self.standalone_step = getattr(self, "standalone_step", -1) + 1
            seed, step, positions = cell.seed or 0, self.standalone_step, np.arange(n)
        masks = []
        for rate, offset, size in (
            (cell.dropout, 0, features),
            (cell.recurrent_dropout, _RECURRENT_SEED_OFFSET, cell.units),
        ):
            keep = hashed_keep(seed + offset, step, positions, size, rate) if rate else None
            masks.append(None if keep is None else np.divide(keep, 1 - rate, dtype=self.dtype))
        return masks

    # ----- backward -----
    def backward(self, grad):
        """grad: dL/d(output), or [dL/d(output), dL/d(state), ...] with return_state (None: no gradient).

        Returns dL/dx (N, T, D), or [dL/dx, dL/d(initial states)...] when forward had an initial_state.
        """
        cell = self.cell
        grad_states = [None] * cell.state_count
        if self.return_state:
            grad, *grad_states = grad
        states = [None if g is None else np.array(g, dtype=cell.h.dtype) for g in grad_states]
        dhs = None  # dL/dh_t from the outputs at every step (return_sequences)
        if grad is not None and self.return_sequences:
            dhs = grad.transpose(1, 0, 2) if self.scale is None else grad.transpose(1, 0, 2) * self.scale
        elif grad is not None:  # the output is the last state h_T: its gradient joins h_T's
            last = grad if self.scale is None else grad * self.scale[-1]
            states[0] = last if states[0] is None else states[0] + last
        needs = self.needs_input_grad
        dxs, d_initial = cell.backward_sequence(dhs, states, needs_input_grad=needs)
        dx = None
        if needs:
            if self.input_keep is not None:
                dxs *= self.input_keep
            dx = np.ascontiguousarray((dxs[::-1] if self.go_backwards else dxs).transpose(1, 0, 2))
        return [dx, *d_initial] if self.with_initial_state else dx

    def get_config(self):
        """Keras's: an RNN's config names its cell; SimpleRNN's, LSTM's and GRU's hold the cell's arguments."""
        config = {
            **super().get_config(),
            "return_sequences": self.return_sequences,
            "return_state": self.return_state,
            "go_backwards": self.go_backwards,
            "unroll": self.unroll,
        }
        cell = self.cell.get_config()
        if type(self) is not RNN:
            return {**config, **{key: value for key, value in cell.items() if key != "name"}}
        cell = {"class": type(self.cell).__name__, "config": cell}
        return {**config, "cell": cell, "zero_output_for_mask": self.zero_output_for_mask}


class SimpleRNN(RNN):
    """Keras's SimpleRNN: h_t = activation(x_t W + h_{t−1} U + b) along the sequence (SimpleRNNCell)."""

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
        activity_regularizer=None,
        kernel_constraint=None,
        recurrent_constraint=None,
        bias_constraint=None,
        dropout=0.0,
        recurrent_dropout=0.0,
        return_sequences=False,
        return_state=False,
        go_backwards=False,
        stateful=False,
        unroll=False,
        seed=None,
        name=None,
        input_shape=None,
        **kwargs,
    ):
        checks.not_supported(activity_regularizer, "SimpleRNN: activity_regularizer")
        cell = SimpleRNNCell(
            units, activation, use_bias, kernel_initializer, recurrent_initializer, bias_initializer,
            kernel_regularizer, recurrent_regularizer, bias_regularizer, kernel_constraint,
            recurrent_constraint, bias_constraint, dropout, recurrent_dropout, seed, name="simple_rnn_cell",
        )  # fmt: skip
        super().__init__(cell, return_sequences, return_state, go_backwards, stateful, unroll, name=name,
                         input_shape=input_shape, **kwargs)  # fmt: skip


class LSTM(RNN):
    """Keras's LSTM: the LSTMCell's equations along the sequence, gates [i | f | c | o]."""

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
        activity_regularizer=None,
        kernel_constraint=None,
        recurrent_constraint=None,
        bias_constraint=None,
        dropout=0.0,
        recurrent_dropout=0.0,
        seed=None,
        return_sequences=False,
        return_state=False,
        go_backwards=False,
        stateful=False,
        unroll=False,
        use_cudnn="auto",
        name=None,
        input_shape=None,
        **kwargs,
    ):
        checks.not_supported(activity_regularizer, "LSTM: activity_regularizer")
        cell = LSTMCell(
            units, activation, recurrent_activation, use_bias, kernel_initializer, recurrent_initializer,
            bias_initializer, unit_forget_bias, kernel_regularizer, recurrent_regularizer, bias_regularizer,
            kernel_constraint, recurrent_constraint, bias_constraint, dropout, recurrent_dropout, seed,
            name="lstm_cell",
        )  # fmt: skip
        super().__init__(cell, return_sequences, return_state, go_backwards, stateful, unroll, name=name,
                         input_shape=input_shape, **kwargs)  # fmt: skip
        self.use_cudnn = use_cudnn  # a GPU choice: nothing to choose here


class GRU(RNN):
    """Keras's GRU: the GRUCell's equations along the sequence, gates [z | r | h], reset_after=True."""

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
        activity_regularizer=None,
        kernel_constraint=None,
        recurrent_constraint=None,
        bias_constraint=None,
        dropout=0.0,
        recurrent_dropout=0.0,
        seed=None,
        return_sequences=False,
        return_state=False,
        go_backwards=False,
        stateful=False,
        unroll=False,
        reset_after=True,
        use_cudnn="auto",
        name=None,
        input_shape=None,
        **kwargs,
    ):
        checks.not_supported(activity_regularizer, "GRU: activity_regularizer")
        cell = GRUCell(
            units, activation, recurrent_activation, use_bias, kernel_initializer, recurrent_initializer,
            bias_initializer, kernel_regularizer, recurrent_regularizer, bias_regularizer, kernel_constraint,
            recurrent_constraint, bias_constraint, dropout, recurrent_dropout, reset_after, seed,
            name="gru_cell",
        )  # fmt: skip
        super().__init__(cell, return_sequences, return_state, go_backwards, stateful, unroll, name=name,
                         input_shape=input_shape, **kwargs)  # fmt: skip
        self.use_cudnn = use_cudnn


class Bidirectional(Layer):
    """Keras's Bidirectional: a recurrent layer run forwards and a copy run backwards, outputs merged.

    y_f = forward_layer(x)   (steps 0..T−1),   y_b = backward_layer(x)   (steps T−1..0)
    With return_sequences, y_b is turned back into time order first, so y_f[:, t] and y_b[:, t] both
    belong to step t. merge_mode "concat" (default): y = [y_f | y_b] (N, ..., 2U); "sum": y_f + y_b;
    "ave": (y_f + y_b) / 2; "mul": y_f ⊙ y_b; None: the list [y_f, y_b].
    Backward splits dL/dy the same way (concat: the two halves; mul: g ⊙ y_b and g ⊙ y_f), runs each
    layer's backward and adds the two input gradients. Weights: the forward layer's, then the
    backward layer's (Keras's order), named forward_* and backward_*.
    """

    takes_unknown_dims = True
    supports_masking = True

    def __init__(self, layer, merge_mode="concat", weights=None, backward_layer=None, name=None, input_shape=None,
                 **kwargs):  # fmt: skip
        if not isinstance(layer, RNN):
            raise TypeError(
                f"Bidirectional: layer must be a recurrent layer (LSTM, GRU, ...), got {type(layer).__name__}"
            )
        super().__init__(name=name, input_shape=input_shape or layer.input_shape, **kwargs)
        self.merge_mode = checks.one_of(merge_mode, "Bidirectional: merge_mode", ("concat", "sum", "ave", "mul", None))
        self.layer = layer
        self.forward_layer = _rebuilt(layer, f"forward_{layer.name}", layer.go_backwards)
        if backward_layer is None:
            self.backward_layer = _rebuilt(layer, f"backward_{layer.name}", not layer.go_backwards)
        elif not isinstance(backward_layer, RNN):
            raise TypeError(
                f"Bidirectional: backward_layer must be a recurrent layer, got {type(backward_layer).__name__}"
            )
        else:
            self.backward_layer = backward_layer
        forward, backward = self.forward_layer, self.backward_layer
        if forward.go_backwards == backward.go_backwards:
            raise ValueError("Bidirectional: layer and backward_layer must have different go_backwards")
        for attribute in ("return_sequences", "return_state"):
            if getattr(forward, attribute) != getattr(backward, attribute):
                raise ValueError(f"Bidirectional: layer and backward_layer must have the same {attribute}")
        for each in (forward, backward):
            each.zero_output_for_mask = each.return_sequences  # as Keras: skipped steps output zeros
        self.return_sequences, self.return_state = forward.return_sequences, forward.return_state
        self.initial_weights = None if weights is None else [np.asarray(w) for w in weights]
        self.given_backward_layer = backward_layer is not None

    def compute_output_shape(self, input_shape):
        forward = self.forward_layer.compute_output_shape(input_shape)
        backward = self.backward_layer.compute_output_shape(input_shape)
        output, states = (forward[0], forward[1:]) if self.return_state else (forward, [])
        back_output, back_states = (backward[0], backward[1:]) if self.return_state else (backward, [])
        if self.merge_mode == "concat":
            outputs = [(*output[:-1], output[-1] + back_output[-1])]
        elif self.merge_mode is None:
            outputs = [output, back_output]
        else:
            outputs = [output]
        shapes = [*outputs, *states, *back_states]
        return shapes[0] if len(shapes) == 1 else shapes  # several outputs: a list of shapes

    def build(self, input_shape):
        for prefix, each in (("forward", self.forward_layer), ("backward", self.backward_layer)):
            each.build_weights(input_shape, rng=getattr(self, "_rng", None), dtype=self.dtype)
            for name in each.params:
                self.params[f"{prefix}_{name}"], self.grads[f"{prefix}_{name}"] = each.params[name], each.grads[name]
            self.regularizers.update({f"{prefix}_{name}": r for name, r in each.regularizers.items()})
            constrained = {f"{prefix}_{name}": c for name, c in getattr(each, "weight_constraints", {}).items()}
            self.weight_constraints = {**getattr(self, "weight_constraints", {}), **constrained}
        if self.initial_weights is not None:
            given, self.initial_weights = self.initial_weights, None
            shapes = [array.shape for array in self.params.values()]
            if [np.shape(w) for w in given] != shapes:
                raise ValueError(
                    f"layer {self.name!r} (Bidirectional): weights must have the shapes {shapes}, "
                    f"got {[np.shape(w) for w in given]}"
                )
            for array, new in zip(self.params.values(), given):
                array[...] = new

    def linked(self):
        """The two layers, their weights made the views this layer holds (a model may have moved them)."""
        for prefix, each in (("forward", self.forward_layer), ("backward", self.backward_layer)):
            for name in each.params:
                each.params[name], each.grads[name] = self.params[f"{prefix}_{name}"], self.grads[f"{prefix}_{name}"]
            each.needs_input_grad = self.needs_input_grad
        return self.forward_layer, self.backward_layer

    def compute_mask(self, inputs, previous_mask):
        mask = previous_mask if self.return_sequences else None
        count = len(self.output_shape) if isinstance(self.output_shape, list) else 1
        merged = 1 if self.merge_mode else 2  # the outputs before the states
        return mask if count == 1 else [mask] * merged + [None] * (count - merged)

    def forward(self, x, training=False, mask=None, initial_state=None):
        self.check_input(x)
        forward, backward = self.linked()
        if isinstance(training, TrainingContext):  # each direction its own dropout stream
            training = TrainingContext(
                training.step, training.positions, training.seed_for(self), layers=(forward, backward)
            )
        half = None if initial_state is None else len(initial_state) // 2
        y = forward.forward(x, training, mask=mask, initial_state=None if half is None else initial_state[:half])
        y_rev = backward.forward(x, training, mask=mask, initial_state=None if half is None else initial_state[half:])
        states = []
        if self.return_state:
            (y, *states), (y_rev, *back_states) = y, y_rev
            states += back_states
        if self.return_sequences:
            y_rev = y_rev[:, ::-1]
        if training:
            self.outputs_seen = (y, y_rev)
        if self.merge_mode == "concat":
            out = [np.concatenate([y, y_rev], axis=-1)]
        elif self.merge_mode == "sum":
            out = [y + y_rev]
        elif self.merge_mode == "ave":
            out = [(y + y_rev) / 2]
        elif self.merge_mode == "mul":
            out = [y * y_rev]
        else:
            out = [y, np.ascontiguousarray(y_rev)]
        out += states
        return out[0] if len(out) == 1 else out

    def backward(self, grad):
        forward, backward = self.linked()
        grads = list(grad) if isinstance(grad, (list, tuple)) else [grad]
        outputs = 2 if self.merge_mode is None else 1
        merged, states = grads[:outputs], grads[outputs:]
        g = merged[0]
        if self.merge_mode == "concat":
            units = g.shape[-1] // 2
            g_f, g_b = g[..., :units], g[..., units:]
        elif self.merge_mode == "sum":
            g_f = g_b = g
        elif self.merge_mode == "ave":
            g_f = g_b = g / 2
        elif self.merge_mode == "mul":
            y, y_rev = self.outputs_seen
            g_f, g_b = g * y_rev, g * y
        else:
            g_f, g_b = merged
        if self.return_sequences and g_b is not None:
            g_b = g_b[:, ::-1]
        half = len(states) // 2
        if self.return_state:
            g_f, g_b = [g_f, *states[:half]], [g_b, *states[half:]]
        dx_f, dx_b = forward.backward(g_f), backward.backward(g_b)
        if isinstance(dx_f, list):  # an initial state was given: [dx, d states of each direction]
            return [dx_f[0] + dx_b[0], *dx_f[1:], *dx_b[1:]]
        return None if dx_f is None else dx_f + dx_b

    def get_config(self):
        config = {
            **super().get_config(),
            "layer": {"class": type(self.layer).__name__, "config": self.layer.get_config()},
            "merge_mode": self.merge_mode,
        }
        if self.given_backward_layer:
            backward = self.backward_layer
            config["backward_layer"] = {"class": type(backward).__name__, "config": backward.get_config()}
        return config


def _rebuilt(layer, name, go_backwards):
    """A fresh, unbuilt copy of `layer` with its own name and direction (Keras rebuilds it from its config)."""
    twin = copy.deepcopy(layer)
    twin.name, twin.go_backwards = name, go_backwards
    twin.input_shape, twin.built, twin.params, twin.grads, twin.states = None, False, {}, {}, {}
    return twin

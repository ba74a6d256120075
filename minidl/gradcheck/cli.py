"""`python -m minidl.gradcheck`: every built-in layer and loss checked, printed as one table."""

from __future__ import annotations

import numpy as np

from .. import losses as losses_module
from ..utils import terminal
from .check import check_gradients, check_loss_gradient, check_model_gradients, check_op_gradients


def builtin_checks(seed: int = 0):
    """(what, GradientReport) for every built-in layer in its main settings, the losses, and two
    small models (softmax fused with cross-entropy, and MSE), all in float64."""
    from ..layers import (
        GRU,
        LSTM,
        RNN,
        Activation,
        AveragePooling1D,
        AveragePooling2D,
        BatchNormalization,
        Bidirectional,
        Conv1D,
        Conv2D,
        Conv2DTranspose,
        Cropping2D,
        Dense,
        DepthwiseConv2D,
        Dropout,
        Embedding,
        Flatten,
        GlobalAveragePooling1D,
        GlobalAveragePooling2D,
        GlobalMaxPooling1D,
        GlobalMaxPooling2D,
        GRUCell,
        InputLayer,
        LayerNormalization,
        LeakyReLU,
        Linear,
        LSTMCell,
        Masking,
        MaxPooling1D,
        MaxPooling2D,
        Normalization,
        Permute,
        RandomContrast,
        RandomFlip,
        RandomRotation,
        RandomTranslation,
        RandomZoom,
        ReLU,
        RepeatVector,
        Rescaling,
        Reshape,
        SeparableConv2D,
        Sigmoid,
        SimpleRNN,
        SimpleRNNCell,
        Softmax,
        Tanh,
        UpSampling2D,
        ZeroPadding2D,
    )
    from ..models import Model

    rng = np.random.default_rng(seed)
    cases = [
        ("Conv2D 3x3 valid, 1 channel", Conv2D(2, 3), (6, 5, 1)),
        (
            "Conv2D 3x3 same stride 2, 3 channels, relu",
            Conv2D(2, 3, strides=2, padding="same", activation="relu"),
            (6, 5, 3),
        ),
        ("Conv2D 5x5 same, 2 channels, tanh", Conv2D(2, 5, padding="same", activation="tanh"), (5, 6, 2)),
        ("Conv2D 2x3 valid stride 2, sigmoid", Conv2D(3, (2, 3), strides=2, activation="sigmoid"), (7, 6, 2)),
        (
            "Conv2D 3x3 dilation 2 same, tanh",
            Conv2D(3, 3, dilation_rate=2, padding="same", activation="tanh"),
            (7, 6, 2),
        ),
        ("Conv2D 3x3 groups 2 stride 2 same", Conv2D(4, 3, groups=2, strides=2, padding="same"), (7, 6, 4)),
        ("DepthwiseConv2D 3x3 same, multiplier 2", DepthwiseConv2D(3, padding="same", depth_multiplier=2), (6, 5, 3)),
        ("DepthwiseConv2D 3x3 dilation 2, relu", DepthwiseConv2D(3, dilation_rate=2, activation="relu"), (7, 6, 2)),
        (
            "SeparableConv2D 3x3 stride 2 same, tanh",
            SeparableConv2D(4, 3, strides=2, padding="same", activation="tanh"),
            (7, 6, 3),
        ),
        ("Conv2DTranspose 3x3 stride 2 same", Conv2DTranspose(3, 3, strides=2, padding="same"), (4, 3, 2)),
        (
            "Conv2DTranspose 3x3 stride 2 output_padding 1",
            Conv2DTranspose(2, 3, strides=2, output_padding=1),
            (3, 3, 2),
        ),
        ("UpSampling2D 2x3 nearest", UpSampling2D((2, 3)), (3, 2, 2)),
        ("UpSampling2D 2 bilinear", UpSampling2D(2, interpolation="bilinear"), (3, 4, 2)),
        ("Cropping2D ((1, 0), (2, 1))", Cropping2D(((1, 0), (2, 1))), (4, 5, 2)),
        ("Reshape (-1, 4)", Reshape((-1, 4)), (3, 4, 2)),
        ("Permute (3, 1, 2)", Permute((3, 1, 2)), (3, 4, 2)),
        ("RepeatVector 3", RepeatVector(3), (5,)),
        ("MaxPooling2D 2", MaxPooling2D(2), (4, 6, 2)),
        ("MaxPooling2D 3 stride 1 (overlapping)", MaxPooling2D(3, strides=1), (5, 5, 2)),
        ("AveragePooling2D 2", AveragePooling2D(2), (4, 6, 2)),
        ("AveragePooling2D 3 stride 2", AveragePooling2D(3, strides=2), (7, 7, 2)),
        ("MaxPooling2D 3 stride 2 same", MaxPooling2D(3, strides=2, padding="same"), (5, 6, 2)),
        ("AveragePooling2D 2 same (odd size)", AveragePooling2D(2, padding="same"), (5, 5, 2)),
        ("Dense", Dense(4), (5,)),
        ("Dense relu", Dense(4, activation="relu"), (5,)),
        ("Dense softmax (not fused)", Dense(4, activation="softmax"), (5,)),
        ("GlobalAveragePooling2D", GlobalAveragePooling2D(), (3, 4, 2)),
        ("GlobalMaxPooling2D", GlobalMaxPooling2D(), (3, 4, 2)),
        ("ZeroPadding2D (1, 2)", ZeroPadding2D((1, 2)), (3, 2, 2)),
        ("BatchNormalization after Conv2D (per channel)", BatchNormalization(), (3, 2, 3)),
        ("BatchNormalization after Dense (per feature)", BatchNormalization(), (5,)),
        ("Rescaling 1/255", Rescaling(1 / 255, offset=-0.5), (4,)),
        ("Normalization (given mean, variance)", Normalization(mean=[1.0, -2.0], variance=[4.0, 0.25]), (3, 2)),
        ("RandomFlip (draws replayed)", RandomFlip(seed=1), (4, 5, 2)),
        ("RandomRotation 0.2 bilinear reflect", RandomRotation(0.2, seed=1), (5, 6, 2)),
        ("RandomTranslation 0.2 nearest wrap", RandomTranslation(0.2, 0.2, "wrap", "nearest", seed=1), (5, 6, 2)),
        ("RandomZoom 0.3 constant", RandomZoom(0.3, fill_mode="constant", seed=1), (5, 6, 2)),
        ("RandomContrast 0.5", RandomContrast(0.5, value_range=(-3, 3), seed=1), (4, 5, 2)),
        ("Flatten", Flatten(), (3, 2, 2)),
        ("Dropout 0.4 (mask replayed)", Dropout(0.4, seed=3), (12,)),
        ("ReLU", ReLU(), (3, 4)),
        ("Sigmoid", Sigmoid(), (3, 4)),
        ("Tanh", Tanh(), (3, 4)),
        ("Softmax", Softmax(), (2, 5)),
        ("Linear", Linear(), (6,)),
        ("LeakyReLU 0.3", LeakyReLU(0.3), (3, 4)),
        ("Activation('tanh')", Activation("tanh"), (3, 4)),
        # sequences
        ("Dense on sequences (last axis)", Dense(3, activation="tanh"), (4, 5)),
        ("Embedding (tokens + 0.5)", Embedding(7, 3), (5,)),
        ("Masking (no step masked here)", Masking(), (4, 3)),
        ("Conv1D 3 valid", Conv1D(3, 3), (7, 2)),
        ("Conv1D 3 same stride 2, relu", Conv1D(3, 3, strides=2, padding="same", activation="relu"), (7, 2)),
        ("Conv1D 2 causal dilation 2, groups 2", Conv1D(4, 2, padding="causal", dilation_rate=2, groups=2), (6, 4)),
        ("MaxPooling1D 2", MaxPooling1D(2), (6, 3)),
        ("AveragePooling1D 3 stride 2 same", AveragePooling1D(3, strides=2, padding="same"), (6, 3)),
        ("GlobalAveragePooling1D", GlobalAveragePooling1D(), (5, 3)),
        ("GlobalMaxPooling1D", GlobalMaxPooling1D(), (5, 3)),
        # recurrence
        ("SimpleRNN", SimpleRNN(4), (5, 3)),
        (
            "SimpleRNN relu, return_sequences, go_backwards",
            SimpleRNN(3, "relu", return_sequences=True, go_backwards=True),
            (4, 3),
        ),
        ("LSTM", LSTM(4), (5, 3)),
        (
            "LSTM return_sequences, dropout 0.3, recurrent_dropout 0.3 (replayed)",
            LSTM(3, return_sequences=True, dropout=0.3, recurrent_dropout=0.3),
            (5, 3),
        ),
        ("GRU (reset_after)", GRU(4), (5, 3)),
        (
            "GRU reset_after=False, return_sequences, recurrent_dropout 0.3",
            GRU(3, reset_after=False, return_sequences=True, recurrent_dropout=0.3),
            (4, 3),
        ),
        ("RNN(SimpleRNNCell)", RNN(SimpleRNNCell(3)), (4, 2)),
        ("LSTMCell in RNN, go_backwards", RNN(LSTMCell(3), go_backwards=True), (4, 2)),
        ("GRUCell in RNN, return_sequences", RNN(GRUCell(3), return_sequences=True), (4, 2)),
        ("SimpleRNNCell in RNN", RNN(SimpleRNNCell(3, activation="sigmoid")), (4, 2)),
        ("Bidirectional(LSTM) concat", Bidirectional(LSTM(3)), (4, 2)),
        ("Bidirectional(GRU, return_sequences) mul", Bidirectional(GRU(3, return_sequences=True), "mul"), (4, 2)),
        ("InputLayer (the identity)", InputLayer(shape=(3, 4)), (3, 4)),
        ("LayerNormalization (per position)", LayerNormalization(), (3, 4)),
    ]
    results = []
    for what, layer, shape in cases:
        layer.build_weights(shape, rng=np.random.default_rng(seed), dtype=np.float64)
        for name, value in layer.params.items():
            if name in ("bias", "beta", "gamma"):  # constants at initialisation: make them tell
                value[...] += rng.standard_normal(value.shape) * 0.1
        x = rng.standard_normal((2, *shape))
        if isinstance(layer, Embedding):  # tokens, kept away from whole numbers so ±eps stays on one token
            x = rng.integers(0, 7, (2, *shape)) + 0.5
        results.append((what, check_gradients(layer, x, seed=seed)))

    probabilities = np.exp(rng.standard_normal((4, 5)))
    probabilities /= probabilities.sum(axis=1, keepdims=True)
    labels = np.array([0, 3, 3, 1])
    results.append(
        ("CategoricalCrossentropy", check_loss_gradient("categorical_crossentropy", probabilities, np.eye(5)[labels]))
    )
    results.append(
        ("SparseCategoricalCrossentropy", check_loss_gradient("sparse_categorical_crossentropy", probabilities, labels))
    )
    logits = rng.standard_normal((4, 5))
    for name, targets in (("CategoricalCrossentropy", np.eye(5)[labels]), ("SparseCategoricalCrossentropy", labels)):
        loss = getattr(losses_module, name)(from_logits=True)
        results.append((f"{name} from_logits", check_loss_gradient(loss, logits, targets)))
    results.append(
        ("MeanSquaredError", check_loss_gradient("mse", rng.standard_normal((4, 3)), rng.standard_normal((4, 3))))
    )

    results += op_checks(rng, seed)
    results += graph_checks(rng, seed)

    for loss, targets in (("sparse_categorical_crossentropy", np.array([0, 2, 1])), ("mse", rng.random((3, 3)))):
        model = Model(name="small_cnn", seed=seed, dtype="float64")
        model.add(Conv2D(2, 3, padding="same", activation="tanh", input_shape=(6, 6, 1)))
        model.add(MaxPooling2D(2))
        model.add(Flatten())
        model.add(Dropout(0.25))
        model.add(Dense(3, activation="softmax"))
        what = "model: softmax fused with cross-entropy" if loss != "mse" else "model: softmax then MSE"
        results.append((what, check_model_gradients(model, rng.standard_normal((3, 6, 6, 1)), targets, loss=loss)))

    # Masks: padded steps (token 0) skipped by the recurrent layers and left out of the average.
    tokens = np.array([[0, 0, 3, 1, 4], [2, 5, 1, 0, 0], [1, 2, 3, 4, 5]]) + 0.5
    for what, recurrent, pooled in (
        ("model: Embedding(mask_zero) -> LSTM (masked steps)", LSTM(3), False),
        ("model: Embedding(mask_zero) -> Bidirectional(GRU) -> GlobalAveragePooling1D (masked)",
         Bidirectional(GRU(3, return_sequences=True)), True),
    ):  # fmt: skip
        model = Model(name="masked_sequences", seed=seed, dtype="float64")
        model.add(Embedding(6, 4, mask_zero=True, input_shape=(5,)))
        model.add(recurrent)
        if pooled:
            model.add(GlobalAveragePooling1D())
        model.add(Dense(3, activation="softmax"))
        results.append(
            (what, check_model_gradients(model, tokens, np.array([0, 2, 1]), loss="sparse_categorical_crossentropy"))
        )
    return results


def op_checks(rng, seed=0):
    """(what, GradientReport) for every differentiable op of `minidl.ops` and every merge layer."""
    from .. import ops
    from ..layers import Add, Average, Concatenate, Maximum, Minimum, MultiHeadAttention, Multiply, Subtract

    def normal(*shape):
        return rng.standard_normal(shape)

    def positive(*shape):
        return rng.uniform(0.5, 2.0, shape)

    cases = [
        ("add (broadcast)", ops.add, (normal(3, 4), normal(4)), {}),
        ("subtract (broadcast)", ops.subtract, (normal(3, 1), normal(3, 4)), {}),
        ("multiply", ops.multiply, (normal(3, 4), normal(3, 4)), {}),
        ("divide", ops.divide, (normal(3, 4), positive(3, 4)), {}),
        ("power", ops.power, (positive(3, 4), normal(3, 4)), {}),
        ("negative", ops.negative, (normal(3, 4),), {}),
        ("matmul", ops.matmul, (normal(3, 4), normal(4, 2)), {}),
        ("matmul (batched)", ops.matmul, (normal(2, 3, 4), normal(2, 4, 5)), {}),
        ("matmul (vector)", ops.matmul, (normal(3, 4), normal(4)), {}),
        ("exp", ops.exp, (normal(3, 4),), {}),
        ("log", ops.log, (positive(3, 4),), {}),
        ("sqrt", ops.sqrt, (positive(3, 4),), {}),
        ("square", ops.square, (normal(3, 4),), {}),
        ("abs", ops.abs, (normal(3, 4),), {}),
        ("sin", ops.sin, (normal(3, 4),), {}),
        ("cos", ops.cos, (normal(3, 4),), {}),
        ("tanh", ops.tanh, (normal(3, 4),), {}),
        ("maximum", ops.maximum, (normal(3, 4), normal(3, 4)), {}),
        ("minimum", ops.minimum, (normal(3, 4), normal(3, 4)), {}),
        ("clip", lambda x: ops.clip(x, -0.5, 0.5), (normal(3, 4),), {}),
        ("where", lambda x, y: ops.where(x > y, x, y * 2), (normal(3, 4), normal(3, 4)), {}),
        ("sum (axis 1)", ops.sum, (normal(3, 4),), {"axis": 1}),
        ("mean (all)", ops.mean, (normal(3, 4),), {}),
        ("max (axis 0, keepdims)", ops.max, (normal(3, 4),), {"axis": 0, "keepdims": True}),
        ("min (axis 1)", ops.min, (normal(3, 4),), {"axis": 1}),
        ("reshape", lambda x: ops.reshape(x, (4, 3)), (normal(3, 4),), {}),
        ("transpose", lambda x: ops.transpose(x, (0, 2, 1)), (normal(2, 3, 4),), {}),
        ("expand_dims", lambda x: ops.expand_dims(x, 1), (normal(3, 4),), {}),
        ("squeeze", ops.squeeze, (normal(3, 1, 4),), {}),
        ("concatenate", lambda a, b: ops.concatenate([a, b], axis=1), (normal(3, 2), normal(3, 4)), {}),
        ("stack", lambda a, b: ops.stack([a, b], axis=1), (normal(3, 4), normal(3, 4)), {}),
        ("get_item (slice, repeated index)", lambda x: x[:, [0, 2, 2]], (normal(3, 4),), {}),
        ("cast", lambda x: ops.cast(x, "float64") * 2, (normal(3, 4),), {}),
        ("relu", ops.relu, (normal(3, 4),), {}),
        ("sigmoid", ops.sigmoid, (normal(3, 4),), {}),
        ("softplus", ops.softplus, (normal(3, 4),), {}),
        ("silu", ops.silu, (normal(3, 4),), {}),
        ("leaky_relu", ops.leaky_relu, (normal(3, 4),), {}),
        ("elu", ops.elu, (normal(3, 4),), {}),
        ("gelu (tanh approximation)", ops.gelu, (normal(3, 4),), {}),
        ("gelu (exact)", ops.gelu, (normal(3, 4),), {"approximate": False}),
        ("softmax", ops.softmax, (normal(3, 4),), {}),
        ("log_softmax", ops.log_softmax, (normal(3, 4),), {}),
    ]
    results = [
        (f"op {what}", check_op_gradients(function, *inputs, seed=seed, name=what, **settings))
        for what, function, inputs, settings in cases
    ]
    for cls in (Add, Subtract, Multiply, Average, Maximum, Minimum, Concatenate):
        merge = cls(dtype="float64")
        report = check_op_gradients(lambda a, b, merge=merge: merge([a, b]), normal(3, 4), normal(3, 4), seed=seed)
        results.append((f"{cls.__name__} (merge layer)", report))
    attention = MultiHeadAttention(2, 3, dropout=0.2, dtype="float64")
    mask = rng.random((2, 4, 3)) > 0.3
    report = check_op_gradients(lambda q, v: attention(q, v, attention_mask=mask), normal(2, 4, 5), normal(2, 3, 5))
    results.append(("MultiHeadAttention (2 heads, mask, dropout)", report))
    return results


def graph_checks(rng, seed=0):
    """Whole-model checks through the tape: a functional model with a shared layer and a fan-out, and a
    subclassed model with a custom layer written with ops, an added loss and Dropout."""
    from .. import ops
    from ..layers import Dense, Dropout, Input, Layer, add
    from ..models import Model

    inputs = Input(shape=(4,), dtype="float64")
    hidden = Dense(6, activation="tanh", dtype="float64")(inputs)
    shared = Dense(6, activation="tanh", dtype="float64")
    once = shared(hidden)
    twice = shared(once)
    outputs = Dense(3, activation="softmax", dtype="float64")(add([once, twice, hidden]) * 0.5)
    functional = Model(inputs, outputs, name="shared_and_fan_out", seed=seed)
    functional.compile("sgd", "sparse_categorical_crossentropy")
    labels = np.array([0, 1, 2, 0, 1])
    results = [
        (
            "model: functional, shared layer, fan-out",
            check_model_gradients(functional, rng.standard_normal((5, 4)), labels),
        )
    ]

    class Scale(Layer):
        def build(self, input_shape):
            self.scale = self.add_weight(shape=(input_shape[-1],), initializer="ones", name="scale")

        def call(self, x):
            self.add_loss(0.01 * ops.mean(ops.square(x)))
            return ops.tanh(x * self.scale)

    class Net(Model):
        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.first, self.scale = Dense(5, dtype="float64"), Scale(dtype="float64")
            self.drop, self.last = Dropout(0.3, dtype="float64"), Dense(3, activation="softmax", dtype="float64")

        def call(self, x, training=None):
            return self.last(self.drop(self.scale(self.first(x)), training=training))

    subclassed = Net(name="subclassed_custom_layer", seed=seed, dtype="float64")
    subclassed.build((None, 4))
    subclassed.compile("sgd", "sparse_categorical_crossentropy")
    report = check_model_gradients(subclassed, rng.standard_normal((5, 4)), labels)
    results.append(("model: subclassed, custom layer, add_loss, Dropout", report))
    return results


def main(argv=None) -> int:
    """Print the table of every built-in check; exit status 1 if any gradient is wrong."""
    import argparse

    from rich.table import Table

    argparse.ArgumentParser(
        prog="python -m minidl.gradcheck",
        description=(
            "Check every built-in layer, op, loss and a few whole models: each backward pass against "
            "central differences, in float64. Prints one table row per tensor; exits 1 if any is wrong."
        ),
    ).parse_args([] if argv is None else argv)

    table = Table(title="minidl gradient check: backward vs central differences (float64, eps=1e-6)")
    for column, justify in (
        ("check", "left"),
        ("tensor", "left"),
        ("shape", "left"),
        ("max abs err", "right"),
        ("max rel err", "right"),
        ("worst index", "left"),
        ("ok", "center"),
    ):
        table.add_column(column, justify=justify)
    results = builtin_checks()
    for what, report in results:
        for i, tensor in enumerate(report.tensors):
            table.add_row(
                what if i == 0 else "",
                tensor.name,
                "x".join(map(str, tensor.shape)),
                f"{tensor.max_abs_error:.1e}",
                f"{tensor.max_rel_error:.1e}",
                str(tensor.worst_index),
                "[green]yes[/]" if tensor.ok else "[red]NO[/]",
                end_section=i == len(report.tensors) - 1,
            )
    console = terminal.console()
    if not console.is_terminal:
        console = terminal.console(width=120)
    console.print(table)
    failing = [report for _, report in results if not report.ok]
    for report in failing:
        console.print(f"[red]{report.message}[/]")
    tensors = sum(len(report.tensors) for _, report in results)
    console.print(f"{len(results) - len(failing)} of {len(results)} checks pass ({tensors} tensors).")
    return 1 if failing else 0

"""minidl/utils/model_summary.py: Keras's summary options that change the table (the table itself is
checked against Keras's in tests/models/test_keras_surface.py)."""

import io
import re

from rich.console import Console

import minidl as keras


def table(model, **options) -> str:
    buffer = io.StringIO()
    model.summary(console=Console(file=buffer, width=150), **options)
    return buffer.getvalue()


def frozen_model():
    model = keras.Sequential(
        [
            keras.Input((4,)),
            keras.layers.Dense(3, name="d1"),
            keras.layers.Dropout(0.1, name="dropout"),
            keras.layers.Dense(2, name="d2"),
        ],
        name="s",
    )
    model.layers[0].trainable = False
    return model


def test_show_trainable_adds_keras_column_y_n_and_a_dash_for_a_layer_without_weights():
    text = table(frozen_model(), show_trainable=True)
    assert "Trainable ┃" in text
    assert re.search(r"d1 \(Dense\)\s*│ \(None, 3\)\s*│\s*15 │\s*N\s*│", text), text
    assert re.search(r"dropout \(Dropout\)\s*│ \(None, 3\)\s*│\s*0 │\s*-\s*│", text), text
    assert re.search(r"d2 \(Dense\)\s*│ \(None, 2\)\s*│\s*8 │\s*Y\s*│", text), text
    assert "Trainable ┃" not in table(frozen_model())


def test_line_length_is_the_tables_width():
    lines = [line for line in table(frozen_model(), line_length=70).splitlines() if line.startswith(("┏", "│", "└"))]
    assert lines and {len(line) for line in lines} == {70}

"""minidl.callbacks.TensorBoard: Keras's signature and layout, event files read back by tensorboard's own
reader value by value, minidl's per-step figures, and the real `tensorboard` server showing them."""

from __future__ import annotations

import inspect
import json
import subprocess
import sys
import warnings

import numpy as np
import pytest
from tensorboard_helpers import as_float32, read_events, scalars, tensorboard_or_skip, tensorboard_server, wait_for

from minidl import Model
from minidl.callbacks import LambdaCallback, TensorBoard
from minidl.layers import Conv2D, Dense, Flatten, MaxPool2D

tensorboard_or_skip()

SAMPLES, BATCH = 40, 16  # 3 steps per epoch: 16, 16 and 8 samples


def conv_model(seed=0):
    model = Model(
        [
            Conv2D(3, 3, activation="relu", input_shape=(6, 6, 1)),
            MaxPool2D(2),
            Flatten(),
            Dense(4, activation="softmax"),
        ],
        seed=seed,
    )
    return model.compile("sgd", "sparse_categorical_crossentropy", metrics=["accuracy"])


def data(seed=0, count=SAMPLES):
    rng = np.random.default_rng(seed)
    return rng.random((count, 6, 6, 1), dtype=np.float32), rng.integers(0, 4, count)


def fit(board, epochs=2, validation=True, **options):
    x, y = data()
    model = conv_model()
    history = model.fit(
        x,
        y,
        batch_size=BATCH,
        epochs=epochs,
        verbose=0,
        validation_data=data(1, 12) if validation else None,
        callbacks=[board, *options.pop("callbacks", [])],
        **options,
    )
    return model, history


def test_the_constructor_is_keras_3s():
    parameters = inspect.signature(TensorBoard.__init__).parameters
    defaults = {name: p.default for name, p in parameters.items() if name != "self"}
    assert defaults == {
        "log_dir": "logs",
        "histogram_freq": 0,
        "write_graph": True,
        "write_images": False,
        "write_steps_per_second": False,
        "update_freq": "epoch",
        "profile_batch": 0,
        "embeddings_freq": 0,
        "embeddings_metadata": None,
    }


def test_epoch_scalars_in_train_and_validation_equal_the_history(tmp_path):
    model, history = fit(TensorBoard(log_dir=tmp_path / "logs"), epochs=3)
    train, validation = scalars(tmp_path / "logs" / "train"), scalars(tmp_path / "logs" / "validation")
    for name in ("loss", "accuracy"):
        assert train[f"epoch_{name}"] == list(enumerate(as_float32(history.history[name])))
        assert validation[f"epoch_{name}"] == list(enumerate(as_float32(history.history[f"val_{name}"])))
    assert train["epoch_learning_rate"] == list(enumerate(as_float32([model.optimizer.learning_rate] * 3)))
    assert not [tag for tag in train if tag.startswith("batch_")]  # update_freq="epoch"
    # After each validation, Keras's evaluation_<name>_vs_iterations at the optimizer's update count (3 a epoch).
    assert validation["evaluation_loss_vs_iterations"] == list(zip([3, 6, 9], as_float32(history.history["val_loss"])))


@pytest.mark.parametrize("update_freq, steps", [("batch", [1, 2, 3, 4, 5, 6]), (4, [4])])
def test_batch_scalars_are_the_batch_logs_every_update_freq_steps(tmp_path, update_freq, steps):
    seen = []
    record = LambdaCallback(on_train_batch_end=lambda batch, logs: seen.append(dict(logs)))
    fit(TensorBoard(tmp_path, update_freq=update_freq), validation=False, callbacks=[record])
    train = scalars(tmp_path / "train")
    for name in ("loss", "accuracy"):  # the epoch's running means, as the batch logs hold them
        assert train[f"batch_{name}"] == list(zip(steps, as_float32([seen[s - 1][name] for s in steps])))
    assert "batch_size" not in train


def test_minidl_figures_come_from_the_runners_timings_every_step(tmp_path):
    timings = []
    keep = LambdaCallback(
        on_train_batch_end=lambda batch, logs: timings.append(keep.params["timings"].last_compute_seconds)
    )
    fit(TensorBoard(tmp_path, update_freq="batch"), epochs=1, validation=False, callbacks=[keep], workers=2)
    train = scalars(tmp_path / "train")
    assert [step for step, _ in train["minidl/compute_seconds"]] == [1, 2, 3]
    for index, each in enumerate(timings):  # one step per write: the figures are that step's own
        assert len(each) == 2
        assert train["minidl/worker_0_compute_seconds"][index][1] == as_float32([each[0]])[0]
        assert train["minidl/worker_1_compute_seconds"][index][1] == as_float32([each[1]])[0]
        assert train["minidl/compute_seconds"][index][1] == as_float32([max(each)])[0]
    assert all(value >= 0 for _, value in train["minidl/communication_seconds"])


def test_at_epoch_frequency_the_figures_are_the_epochs_means_at_its_last_step(tmp_path):
    computed = []
    keep = LambdaCallback(
        on_train_batch_end=lambda batch, logs: computed.append(keep.params["timings"].last_compute_seconds)
    )
    fit(TensorBoard(tmp_path), epochs=2, validation=False, callbacks=[keep])
    figures = scalars(tmp_path / "train")["minidl/compute_seconds"]
    expected = [np.mean([max(c) for c in computed[:3]]), np.mean([max(c) for c in computed[3:]])]
    assert [step for step, _ in figures] == [3, 6]
    assert [value for _, value in figures] == pytest.approx(expected, rel=1e-6)
    assert "minidl/worker_0_compute_seconds" not in scalars(tmp_path / "train")  # one process: no per-worker tags


def test_histograms_images_and_graph(tmp_path):
    model, _ = fit(TensorBoard(tmp_path, histogram_freq=2, write_images=True), epochs=3)
    events = read_events(tmp_path / "train")
    kernel = model.layers[0].params["kernel"]  # (3, 3, 1, 3): three filters of one input channel
    histogram = events[f"{model.name}/{model.layers[0].name}/kernel/histogram"]
    assert [step for step, _, _ in histogram] == [0, 2]  # epochs 0 and 2 (every histogram_freq from 0)
    buckets = histogram[-1][1]  # rows (left edge, right edge, count) over the weights after epoch 3
    assert buckets.shape == (30, 3) and buckets[:, 2].sum() == kernel.size
    assert buckets[0, 0] == pytest.approx(kernel.min()) and buckets[-1, 1] == pytest.approx(kernel.max())
    images = events[f"{model.name}/{model.layers[0].name}/kernel/image"][-1][1]
    assert images[:2].tolist() == [b"3", b"3"] and len(images) == 2 + 3  # width, height, one PNG per filter
    assert all(picture.startswith(b"\x89PNG") for picture in images[2:])
    assert f"{model.name}/{model.layers[3].name}/kernel/image" in events  # the dense kernel, one picture
    graph = json.loads(events["keras"][0][1][0])
    assert [layer["class_name"] for layer in graph["config"]["layers"]] == [
        "InputLayer",
        *(type(layer).__name__ for layer in model.layers),
    ]


def test_a_second_convolution_has_no_picture(tmp_path):
    from minidl.callbacks.tensorboard import weight_pictures

    assert weight_pictures(np.zeros((3, 3, 2, 4))) is None  # 4-D after squeezing: Keras shows none either
    kernel = np.stack([np.full((2, 2), -1.0), np.zeros((2, 2)), np.full((2, 2), 1.0)], axis=-1)[:, :, None, :]
    pictures = weight_pictures(kernel)  # (2, 2, 1, 3): three 2x2 filters, one grey scale from -1 to 1
    assert pictures.shape == (3, 2, 2, 1) and pictures[:, 0, 0, 0].tolist() == [0, 128, 255]
    assert weight_pictures(np.arange(4.0)).shape == (1, 4, 1, 1)  # a bias: one picture one pixel wide
    assert weight_pictures(np.zeros((5, 2))).shape == (1, 2, 5, 1)  # a matrix, turned to be wider than tall


def test_evaluate_alone_writes_the_evaluation_scalars(tmp_path):
    x, y = data()
    model = conv_model()
    model.fit(x, y, batch_size=BATCH, epochs=1, verbose=0)
    loss, _ = model.evaluate(x, y, verbose=0, callbacks=[TensorBoard(tmp_path)])
    validation = scalars(tmp_path / "validation")
    assert validation["evaluation_loss_vs_iterations"] == [(3, as_float32([loss])[0])]


def test_bad_arguments_are_named_and_the_ignored_ones_noted(tmp_path):
    with pytest.raises(ValueError, match="^TensorBoard: update_freq"):
        TensorBoard(tmp_path, update_freq="sometimes")
    with pytest.raises(ValueError, match="^TensorBoard: histogram_freq"):
        TensorBoard(tmp_path, histogram_freq=-1)
    with pytest.warns(UserWarning, match="profile_batch is accepted .* and ignored"):
        TensorBoard(tmp_path, profile_batch=(2, 4))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        TensorBoard(tmp_path, profile_batch=0)  # Keras's default: no note


def test_without_the_extra_the_error_is_one_line_naming_it(tmp_path):
    program = (
        "import sys; sys.modules['tensorboard'] = None\n"  # as if not installed: `import tensorboard...` fails
        "import minidl\n"
        "try:\n    minidl.callbacks.TensorBoard('logs')\n"
        "except ImportError as error:\n    print(repr(str(error)))\n"
    )
    result = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True, cwd=tmp_path, timeout=120)
    assert result.stdout.strip() == repr(
        "TensorBoard event files need the tensorboard extra: pip install 'minidl[tensorboard]'"
    ), result.stderr


def test_a_log_dir_that_cannot_be_written_stops_fit_before_the_first_step(tmp_path):
    (tmp_path / "taken").write_text("a file, not a folder")
    steps = []
    with pytest.raises(OSError, match=r"^TensorBoard: cannot write event files in .*taken/train"):
        fit(
            TensorBoard(tmp_path / "taken"),
            callbacks=[LambdaCallback(on_train_batch_begin=lambda batch, logs: steps.append(batch))],
        )
    assert steps == []


def test_a_failing_write_warns_once_and_training_goes_on(tmp_path):
    board = TensorBoard(tmp_path, update_freq="batch")

    def break_the_disk(logs):
        def full(event):
            raise OSError(28, "No space left on device")

        board._writers["train"]._file.add_event = full

    with pytest.warns(RuntimeWarning, match="could not write to .*No space left on device") as caught:
        _, history = fit(board, epochs=2, callbacks=[LambdaCallback(on_train_begin=break_the_disk)])
    assert len(history.history["loss"]) == 2
    assert len([w for w in caught if "could not write" in str(w.message)]) == 1


def test_only_mpi_rank_0_writes(tmp_path):
    board = TensorBoard(tmp_path / "logs", update_freq="batch", histogram_freq=1)
    model = conv_model()
    board.set_model(model)
    board.set_params({"rank": 1, "timings": None})
    board.on_train_begin({})
    board.on_epoch_begin(0, {})
    board.on_train_batch_begin(0, {})
    board.on_train_batch_end(0, {"loss": 1.0, "size": 4})
    board.on_epoch_end(0, {"loss": 1.0, "val_loss": 2.0})
    board.on_train_end({})
    assert not (tmp_path / "logs").exists()


def test_the_tensorboard_server_shows_the_runs(tmp_path):
    _, history = fit(TensorBoard(tmp_path / "logs", histogram_freq=1), epochs=2)
    with tensorboard_server(tmp_path / "logs") as get:
        route = "/data/plugin/scalars/scalars"
        for run, key in (("train", "loss"), ("validation", "val_loss")):
            served = wait_for(get, route, lambda answer: len(answer) == 2, run=run, tag="epoch_loss")
            assert [(step, value) for _, step, value in served] == list(enumerate(as_float32(history.history[key])))
        tags = get("/data/plugin/scalars/tags")
        assert {"epoch_loss", "epoch_accuracy", "minidl/compute_seconds"} <= set(tags["train"])
        assert any(tag.endswith("/kernel/histogram") for tag in get("/data/plugin/histograms/tags")["train"])

"""TensorBoard: Keras's callback, writing event files the `tensorboard` program shows as they are.

The log folder is laid out as Keras lays it out, two TensorBoard runs:

* ``<log_dir>/train``: ``epoch_<name>`` of every epoch log (loss, accuracy, ...) and
  ``epoch_learning_rate``, at step = the epoch (from 0); with `update_freq` "batch" or N,
  ``batch_<name>`` (the epoch's running means, as the batch logs hold them) every N steps, at step =
  the step's number in this `fit` (from 1); every `histogram_freq` epochs a histogram of each weight,
  ``<model>/<layer>/<weight>/histogram``, and with `write_images` each weight TensorBoard can show as
  pictures, ``.../image`` (the first convolution's filters, one picture each; a dense kernel; a bias);
  with `write_graph` the model as Keras's conceptual graph (tag ``keras``, the Graphs tab).
* ``<log_dir>/validation``: ``epoch_<name>`` of the validation logs (``val_`` dropped) and, after every
  evaluation, ``evaluation_<name>_vs_iterations`` at step = the optimizer's update count.

minidl adds what no framework shows, in ``train`` on the ``batch_*`` step axis and at the same
cadence (with "epoch", once per epoch at its last step): the mean over the steps since the last write
of what the runner measured (``params["timings"]``, a `StepTimings`):
``minidl/compute_seconds`` (the slowest process's forward + backward), ``minidl/communication_seconds``
(the rest of the runner's step: sending the batch, waiting, summing the gradients) and, with several
processes, ``minidl/worker_<k>_compute_seconds`` (each one's own). The running speed-up against the
recorded one-worker run needs the statistics folder: ``StatisticsTracker(tensorboard_dir=...)``.

Events are written by tensorboard's own writer and protocol buffers (the ``tensorboard`` extra, no
TensorFlow): the package that serves the pages also reads the files back. Scalars are 32-bit floats,
as TensorBoard keeps them. Under MPI only rank 0 writes. A folder that cannot be written stops `fit`
before its first step; a write failing later (a full disk) is reported once and training goes on.
"""

from __future__ import annotations

import io
import json
import os
import time
import types
import warnings

import numpy as np

from ..utils import checks
from .base import Callback

INSTALL_HINT = "TensorBoard event files need the tensorboard extra: pip install 'minidl[tensorboard]'"
FLUSH_SECONDS = 2  # the writer thread flushes the file this often
HANDOFF_SECONDS = 1  # events wait at most this long (or for HANDOFF_EVENTS more) before the writer thread gets them
HANDOFF_EVENTS = 256
HISTOGRAM_BUCKETS = 30  # TensorBoard's own default
IGNORED_NOTE = (
    "minidl.callbacks.TensorBoard: {argument} is accepted for Keras programs and ignored "
    "(minidl has no profiler and no Embedding layer)"
)


def tensorboard_modules():
    """tensorboard's writer, protocol buffers and plugin metadata, or a one-line ImportError naming the extra."""
    try:
        from tensorboard.compat.proto import event_pb2, summary_pb2, tensor_pb2, tensor_shape_pb2, types_pb2
        from tensorboard.plugins.histogram import summary_v2 as histogram_summary
        from tensorboard.plugins.image import metadata as image_metadata
        from tensorboard.plugins.scalar import metadata as scalar_metadata
        from tensorboard.plugins.text import summary_v2 as text_summary
        from tensorboard.summary.writer.event_file_writer import EventFileWriter
    except ImportError:
        raise ImportError(INSTALL_HINT) from None
    return types.SimpleNamespace(
        event_pb2=event_pb2,
        summary_pb2=summary_pb2,
        tensor_pb2=tensor_pb2,
        tensor_shape_pb2=tensor_shape_pb2,
        types_pb2=types_pb2,
        histogram_summary=histogram_summary,
        image_metadata=image_metadata,
        scalar_metadata=scalar_metadata,
        text_summary=text_summary,
        EventFileWriter=EventFileWriter,
    )


class EventWriter:
    """One TensorBoard run: a folder and the event file tensorboard's `EventFileWriter` fills in the background.

    `scalars` puts all its values in one event, built straight from the protocol buffers: 15 µs a value,
    against 105 µs for one event a value through `tensor_util` (measured). Events are handed to the
    writer thread in bursts (every `HANDOFF_SECONDS`, `HANDOFF_EVENTS` events, `flush` and `close`):
    waking it for every step's event cost 0.3 ms of CPU a step between NumPy work, a burst a second
    next to nothing (measured, 1 BLAS thread, a busy 2-CPU machine). So a page is at most
    HANDOFF_SECONDS + FLUSH_SECONDS behind. A tag's plugin metadata goes with its first value only:
    TensorBoard reads it from there. The first failed write warns once, naming the folder; later
    writes are dropped, so the training being watched goes on.
    """

    def __init__(self, folder, flush_secs=FLUSH_SECONDS):
        self.tb = tensorboard_modules()
        self.folder = os.fspath(folder)
        try:
            self._file = self.tb.EventFileWriter(self.folder, max_queue_size=HANDOFF_EVENTS, flush_secs=flush_secs)
        except OSError as error:
            reason = error.strerror or error
            raise OSError(f"TensorBoard: cannot write event files in {self.folder!r}: {reason}") from None
        self._described = set()
        self._pending, self._handed = [], time.monotonic()  # events not yet given to the writer thread
        self.failed = False
        self._scalar_metadata = self.tb.scalar_metadata.create_summary_metadata(display_name=None, description=None)

    def scalars(self, step, values: dict, wall_time=None):
        """One event at `step` holding every {tag: number} of `values` (float32, as TensorBoard keeps them)."""
        tb = self.tb
        event = tb.event_pb2.Event(wall_time=time.time() if wall_time is None else wall_time, step=int(step))
        for tag, value in values.items():
            tensor = tb.tensor_pb2.TensorProto(
                dtype=tb.types_pb2.DT_FLOAT, float_val=[value], tensor_shape=tb.tensor_shape_pb2.TensorShapeProto()
            )
            if tag in self._described:
                event.summary.value.add(tag=tag, tensor=tensor)
            else:
                event.summary.value.add(tag=tag, tensor=tensor, metadata=self._scalar_metadata)
                self._described.add(tag)
        self._add(event)

    def histograms(self, step, arrays: dict, wall_time=None):
        """One event at `step` with a histogram (`HISTOGRAM_BUCKETS` equal-width buckets) of each {tag: array}."""
        event = self._event(step, wall_time)
        for tag, array in arrays.items():
            summary = self.tb.histogram_summary.histogram_pb(tag, np.asarray(array, np.float64), HISTOGRAM_BUCKETS)
            event.summary.value.extend(summary.value)
        self._add(event)

    def images(self, step, pictures: dict, wall_time=None):
        """One event at `step` with each {tag: uint8 array (k, height, width, channels)} as k PNG pictures."""
        from PIL import Image  # a dependency of tensorboard

        tb = self.tb
        event = self._event(step, wall_time)
        for tag, stack in pictures.items():
            encoded = []
            for picture in stack:
                buffer = io.BytesIO()
                Image.fromarray(picture[:, :, 0] if picture.shape[2] == 1 else picture).save(buffer, format="PNG")
                encoded.append(buffer.getvalue())
            height, width = stack.shape[1:3]
            tensor = tb.tensor_pb2.TensorProto(
                dtype=tb.types_pb2.DT_STRING,
                string_val=[str(width).encode(), str(height).encode(), *encoded],
                tensor_shape=tb.tensor_shape_pb2.TensorShapeProto(dim=[{"size": len(encoded) + 2}]),
            )
            metadata = tb.image_metadata.create_summary_metadata(None, None)
            event.summary.value.add(tag=tag, tensor=tensor, metadata=metadata)
        self._add(event)

    def text(self, step, tag, markdown, wall_time=None):
        """A text (Markdown) summary, shown in TensorBoard's Text tab."""
        event = self._event(step, wall_time)
        event.summary.value.extend(self.tb.text_summary.text_pb(tag, markdown).value)
        self._add(event)

    def keras_model(self, step, config: dict, tag="keras"):
        """The model as Keras's JSON ({"class_name", "config": {"layers": ...}}): the Graphs tab's conceptual graph."""
        tb = self.tb
        metadata = tb.summary_pb2.SummaryMetadata(
            plugin_data=tb.summary_pb2.SummaryMetadata.PluginData(plugin_name="graph_keras_model", content=b"1"),
            data_class=tb.summary_pb2.DATA_CLASS_BLOB_SEQUENCE,
        )
        tensor = tb.tensor_pb2.TensorProto(
            dtype=tb.types_pb2.DT_STRING,
            string_val=[json.dumps(config, default=str).encode()],
            tensor_shape=tb.tensor_shape_pb2.TensorShapeProto(dim=[{"size": 1}]),
        )
        event = self._event(step, None)
        event.summary.value.add(tag=tag, tensor=tensor, metadata=metadata)
        self._add(event)

    def flush(self):
        """Write every event so far to the file now (TensorBoard then sees it)."""
        self._hand_off()
        self._guarded(self._file.flush)

    def close(self):
        """Flush and close the file; the writer thread ends."""
        self._hand_off()
        self._guarded(self._file.close)

    def _event(self, step, wall_time):
        return self.tb.event_pb2.Event(wall_time=time.time() if wall_time is None else wall_time, step=int(step))

    def _add(self, event):
        self._pending.append(event)
        if len(self._pending) >= HANDOFF_EVENTS or time.monotonic() - self._handed >= HANDOFF_SECONDS:
            self._hand_off()

    def _hand_off(self):
        """Give the pending events to the writer thread, in one burst."""
        pending, self._pending, self._handed = self._pending, [], time.monotonic()
        for event in pending:
            self._guarded(self._file.add_event, event)

    def _guarded(self, action, *args):
        if self.failed:
            return
        try:
            action(*args)
        except Exception as error:  # the writer thread's own error comes back on the next call
            self.failed = True
            warnings.warn(
                f"minidl.callbacks.TensorBoard: could not write to {self.folder} ({type(error).__name__}: {error}); "
                "no more events are written there",
                RuntimeWarning,
                stacklevel=3,
            )


class TensorBoard(Callback):
    """Writes TensorBoard event files while the model trains, as Keras's TensorBoard callback.

    Args:
        log_dir: the folder of the two runs ``train`` and ``validation`` (see the module docstring).
        histogram_freq: write a histogram of every weight every this-many epochs (0: never).
        write_graph: write the model's layers as Keras's conceptual graph (the Graphs tab).
        write_images: with `histogram_freq`, write each weight TensorBoard can show as pictures too
            (all the pictures of a weight share one grey scale, its smallest to its largest value).
        write_steps_per_second: add ``epoch_steps_per_second`` (and ``batch_steps_per_second``).
        update_freq: "epoch" (scalars after each epoch), "batch" or an integer N (``batch_*`` every N steps).
        profile_batch, embeddings_freq, embeddings_metadata: accepted, ignored with a one-time note when set.
    """

    def __init__(
        self,
        log_dir="logs",
        histogram_freq=0,
        write_graph=True,
        write_images=False,
        write_steps_per_second=False,
        update_freq="epoch",
        profile_batch=0,
        embeddings_freq=0,
        embeddings_metadata=None,
    ):
        super().__init__()
        tensorboard_modules()  # the missing extra is named here, where the program asks for the callback
        self.log_dir = os.fspath(log_dir)
        self.histogram_freq = checks.non_negative_int(histogram_freq, "TensorBoard: histogram_freq")
        self.write_graph, self.write_images = bool(write_graph), bool(write_images)
        self.write_steps_per_second = bool(write_steps_per_second)
        if update_freq == "batch":
            update_freq = 1
        elif update_freq != "epoch":
            update_freq = checks.positive_int(update_freq, "TensorBoard: update_freq (an integer, 'batch' or 'epoch')")
        self.update_freq = update_freq
        self.profile_batch, self.embeddings_freq = profile_batch, embeddings_freq
        self.embeddings_metadata = embeddings_metadata
        for argument, value in (("profile_batch", profile_batch), ("embeddings_freq", embeddings_freq)):
            if value not in (0, None, "0", (0, 0)):
                warnings.warn(IGNORED_NOTE.format(argument=argument), UserWarning, stacklevel=2)
        self._writers = {}
        self._training = False
        self._global_batch = 0
        self._clock = {}
        self._since_write = None  # per-step sums of the runner's timings since the last write

    # ----- writers -----
    def _writer(self, run) -> EventWriter | None:
        """The EventWriter of `run` ("train" or "validation"), opened on first use; None on MPI ranks other than 0."""
        if self.params.get("rank", 0) != 0:
            return None
        if run not in self._writers:
            self._writers[run] = EventWriter(os.path.join(self.log_dir, run))
        return self._writers[run]

    def _close(self):
        for writer in self._writers.values():
            writer.close()
        self._writers = {}

    # ----- hooks -----
    def on_train_begin(self, logs=None):
        self._training, self._global_batch = True, 0
        self._since_write = _TimingSums()
        train = self._writer("train")  # fails here, before the first step, when log_dir cannot be written
        if train is not None and self.write_graph:
            train.keras_model(0, keras_model_config(self.model))

    def on_train_end(self, logs=None):
        self._training = False
        self._close()

    def on_epoch_begin(self, epoch, logs=None):
        self._clock["epoch"] = time.perf_counter()
        self._clock["epoch_steps"] = 0

    def on_train_batch_begin(self, batch, logs=None):
        self._global_batch += 1
        self._clock["step"] = time.perf_counter()

    def on_train_batch_end(self, batch, logs=None):
        seconds = time.perf_counter() - self._clock.get("step", time.perf_counter())
        self._clock["epoch_steps"] = self._clock.get("epoch_steps", 0) + 1
        timings = self.params.get("timings")
        if timings is not None and self._since_write is not None:
            self._since_write.add(timings.last_step_seconds, timings.last_compute_seconds)
        if self.update_freq == "epoch" or self._global_batch % self.update_freq:
            return
        writer = self._writer("train")
        if writer is None:
            return
        values = {f"batch_{k}": v for k, v in (logs or {}).items() if k != "size" and _is_number(v)}
        if self.write_steps_per_second and seconds > 0:
            values["batch_steps_per_second"] = 1.0 / seconds
        values.update(self._since_write.take())
        writer.scalars(self._global_batch, values)

    def on_epoch_end(self, epoch, logs=None):
        writer = self._writer("train")
        if writer is None:
            return
        logs = {k: v for k, v in (logs or {}).items() if _is_number(v)}
        train = {f"epoch_{k}": v for k, v in logs.items() if not k.startswith("val_")}
        optimizer = getattr(self.model, "optimizer", None)
        if optimizer is not None:
            train["epoch_learning_rate"] = optimizer.learning_rate
        if self.write_steps_per_second and "epoch" in self._clock:
            elapsed = time.perf_counter() - self._clock["epoch"]
            train["epoch_steps_per_second"] = self._clock.get("epoch_steps", 0) / elapsed if elapsed > 0 else 0.0
        writer.scalars(epoch, train)
        if self.update_freq == "epoch" and self._since_write is not None:
            figures = self._since_write.take()
            if figures:
                writer.scalars(self._global_batch, figures)
        validation = {f"epoch_{k[4:]}": v for k, v in logs.items() if k.startswith("val_")}
        if validation:
            self._writer("validation").scalars(epoch, validation)
        if self.histogram_freq and epoch % self.histogram_freq == 0:
            self._write_weights(writer, epoch)
        for open_writer in self._writers.values():
            open_writer.flush()

    def on_test_end(self, logs=None):
        optimizer = getattr(self.model, "optimizer", None)
        writer = self._writer("validation") if optimizer is not None else None
        if writer is None:
            return
        values = {f"evaluation_{k}_vs_iterations": v for k, v in (logs or {}).items() if _is_number(v)}
        writer.scalars(optimizer.iterations, values)
        if not self._training:  # `evaluate` on its own: nothing else will close the file
            self._close()

    def _write_weights(self, writer, epoch):
        """Histograms of every weight, and with `write_images` the weights that can be shown as pictures."""
        prefix = getattr(self.model, "name", "model")
        named = {
            f"{prefix}/{layer.name}/{name}": array
            for layer in self.model.layers
            for name, array in (*layer.params.items(), *layer.states.items())
        }
        writer.histograms(epoch, {f"{path}/histogram": array for path, array in named.items()})
        if self.write_images:
            pictures = {f"{path}/image": weight_pictures(array) for path, array in named.items()}
            writer.images(epoch, {tag: stack for tag, stack in pictures.items() if stack is not None})


class _TimingSums:
    """Sums of the runner's per-step figures since they were last taken (`take` gives their means)."""

    def __init__(self):
        self.steps, self.step, self.slowest, self.each = 0, 0.0, 0.0, None

    def add(self, step_seconds, compute_seconds):
        """One step: the runner's seconds for it and each process's forward + backward seconds."""
        if not compute_seconds:
            return
        self.steps += 1
        self.step += step_seconds
        self.slowest += max(compute_seconds)
        same = self.each is not None and len(self.each) == len(compute_seconds)
        self.each = [a + b for a, b in zip(self.each, compute_seconds)] if same else list(compute_seconds)

    def take(self) -> dict:
        """{tag: mean seconds per step} since the last `take` (empty when no step was timed)."""
        if not self.steps:
            return {}
        slowest = self.slowest / self.steps
        figures = {
            "minidl/compute_seconds": slowest,
            "minidl/communication_seconds": max(0.0, self.step / self.steps - slowest),
        }
        if len(self.each) > 1:
            figures.update({f"minidl/worker_{k}_compute_seconds": s / self.steps for k, s in enumerate(self.each)})
        self.__init__()
        return figures


def _is_number(value) -> bool:
    return isinstance(value, (int, float, np.floating, np.integer)) and not isinstance(value, bool)


def keras_model_config(model) -> dict:
    """The model's layers as Keras's model JSON, which TensorBoard's Graphs tab draws as a conceptual graph."""
    config = model.get_config()
    shape = [None, *(model.input_shape or [])]
    layers = [{"class_name": "InputLayer", "config": {"name": "input_layer", "batch_shape": shape}}]
    layers += [{"class_name": layer["class"], "config": layer["config"]} for layer in config.get("layers", [])]
    return {"class_name": "Sequential", "config": {"name": model.name, "layers": layers}}


def weight_pictures(weight) -> np.ndarray | None:
    """A weight as grey pictures (k, height, width, 1) uint8, by Keras's rules; None when it has no picture.

    Size-1 axes are dropped; a vector is one picture one pixel wide; a matrix is one picture, turned
    to be wider than tall; a 3-D array (a convolution with one input channel: height, width, filters)
    is one picture per filter. One grey scale for all: the weight's smallest value is black, its largest white.
    """
    array = np.squeeze(np.asarray(weight, np.float64))
    if array.ndim == 1:
        array = array.reshape(1, -1, 1)
    elif array.ndim == 2:
        array = (array.T if array.shape[0] > array.shape[1] else array)[None]
    elif array.ndim == 3:
        array = np.moveaxis(array, 2, 0)
    else:
        return None
    low, high = array.min(), array.max()
    scaled = (array - low) / (high - low) if high > low else np.zeros_like(array)
    return np.round(scaled * 255).astype(np.uint8)[..., None]

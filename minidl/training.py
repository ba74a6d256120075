"""The loops behind Model.fit / evaluate / predict, with Keras 3's arguments and defaults.

Data flows one way: the loop checks the data, then for every batch asks a *runner* (see
`minidl.distributed.base`) for the batch's gradient — computed in this process, in worker processes or
on MPI ranks — and takes one optimizer step; callbacks observe. Every runner returns the batch's loss
sum and metric sums and leaves the mean gradient in `model.gradients`, so the loop, the optimizer
step and the callbacks are the same whatever runs the arithmetic.

As in Keras, batch logs carry the running means of the epoch so far (plus `size`, the batch's
sample count); epoch logs the epoch's means and the validation figures as `val_<name>`.
"""

from __future__ import annotations

import warnings

import numpy as np

from . import checks, keras_model
from .callbacks import CallbackList, History, TerminateOnNaN
from .callbacks.progbar_logger import ProgbarLogger
from .data_checks import check_inputs, check_targets, require_compiled
from .distributed import runner_for
from .metrics import sums as metric_sums
from .sample_weights import TargetLayout, weights_for
from .saving import state as resume

DEFAULT_BATCH_SIZE = 32


def verbosity(verbose) -> int:
    """Keras's verbose: "auto" (= 1), 0 (silent), 1 (progress bar) or 2 (one line per epoch)."""
    if verbose == "auto":
        return 1
    if isinstance(verbose, bool) or verbose not in (0, 1, 2):
        raise ValueError(f"verbose must be 'auto', 0, 1 or 2, got {verbose!r}")
    return int(verbose)


def logs_of(model, loss_total, sums, seen) -> dict:
    """{"loss": mean loss, <metric name>: mean, ...} from sums over `seen` samples."""
    logs = {"loss": loss_total / seen}
    if model.metrics:
        for name, value in zip(model.metrics, np.atleast_1d(sums)):
            logs[name] = float(value) / seen
    return logs


def _require_arrays(x, y, what):
    if x is None or y is None:
        raise NotImplementedError(
            f"{what} needs arrays x and y: datasets or generators yielding (x, y) batches are not supported by minidl"
        )


def _split_validation(data, validation_split):
    validation_split = checks.probability(validation_split, "validation_split")
    n = len(data[0])
    cut = n - int(round(n * validation_split))
    if validation_split and (cut < 1 or cut == n):
        raise ValueError(f"validation_split={validation_split} leaves no training or no validation samples out of {n}")
    split = tuple(None if a is None else a[:cut] for a in data)
    return split, (tuple(None if a is None else a[cut:] for a in data) if validation_split else None)


def _validation_from(model, validation_data):
    if not isinstance(validation_data, (tuple, list)) or len(validation_data) not in (2, 3):
        raise ValueError("validation_data must be a pair (x_val, y_val) or a triple (x_val, y_val, sample_weight_val)")
    xv = check_inputs(model, validation_data[0], "validation x")
    yv = check_targets(model, xv, validation_data[1], "validation y")
    return xv, yv, weights_for(yv, validation_data[2] if len(validation_data) == 3 else None)


def fit(
    model,
    x,
    y,
    batch_size,
    epochs,
    verbose,
    callbacks,
    validation_split=0.0,
    validation_data=None,
    shuffle=True,
    class_weight=None,
    sample_weight=None,
    initial_epoch=0,
    steps_per_epoch=None,
    validation_steps=None,
    validation_batch_size=None,
    validation_freq=1,
    workers=1,
    backend="pool",
    threads=None,
    step_timeout=None,
):
    """Model.fit: see its docstring."""
    keras_model.refuse_custom_steps(model)
    require_compiled(model, "fit")
    _require_arrays(x, y, "fit")
    batch_size = checks.positive_int(DEFAULT_BATCH_SIZE if batch_size is None else batch_size, "batch_size")
    epochs = checks.positive_int(epochs, "epochs")
    initial_epoch = checks.non_negative_int(initial_epoch, "initial_epoch")
    validation_freq = checks.positive_int(validation_freq, "validation_freq")
    verbose = verbosity(verbose)
    x = check_inputs(model, x)
    y = check_targets(model, x, y)
    weights = weights_for(y, sample_weight, class_weight)
    if validation_data is None:
        (x, y, weights), validation = _split_validation((x, y, weights), validation_split)
    else:
        validation = _validation_from(model, validation_data)
    if validation is not None and validation_steps is not None:
        cut = checks.positive_int(validation_steps, "validation_steps") * (validation_batch_size or batch_size)
        validation = tuple(None if a is None else a[:cut] for a in validation)
    batches = -(-len(x) // batch_size)
    steps = batches if steps_per_epoch is None else checks.positive_int(steps_per_epoch, "steps_per_epoch")
    if steps > batches:
        raise ValueError(f"steps_per_epoch={steps} is more than the {batches} batches of {batch_size} in x")
    layout = None if weights is None else TargetLayout(y)
    targets = y if layout is None else layout.pack(y, weights)

    history = History()
    user_callbacks = list(callbacks or [])
    nan_guard = next((c for c in user_callbacks if isinstance(c, TerminateOnNaN)), None) or TerminateOnNaN()
    guard = [] if nan_guard in user_callbacks else [nan_guard]
    model.stop_training, model.stop_reason = False, None
    model.target_layout = layout
    try:
        with runner_for(
            model, workers, backend, data=(x, targets), threads=threads, step_timeout=step_timeout
        ) as runner:
            if runner.ranks > 1 and len(model.metrics) > 1:
                raise NotImplementedError("more than one metric under MPI is not supported by minidl yet")
            params = {
                "epochs": epochs,
                "steps": steps,
                "batch_size": batch_size,
                "samples": min(len(x), steps * batch_size),
                "val_samples": len(validation[0]) if validation else 0,
                "workers": runner.workers,
                "threads_per_worker": runner.threads_per_worker,
                "startup_seconds": runner.startup_seconds,
                "backend": backend,
                "ranks": runner.ranks,
                "rank": runner.rank,
                "seed": model.seed,
                "verbose": verbose,
            }
            progress = [ProgbarLogger(verbose)] if verbose and runner.rank == 0 else []
            callback_list = CallbackList([*user_callbacks, *guard, history, *progress], model, params)
            loop = (runner, (x, targets), batch_size, steps, shuffle, callback_list, nan_guard)
            _epochs(model, loop, (initial_epoch, epochs), validation, validation_batch_size, validation_freq)
    finally:
        model.target_layout = None
    if nan_guard.message:
        warnings.warn(nan_guard.message, RuntimeWarning, stacklevel=3)
    return history


def _epochs(model, loop, epochs, validation, validation_batch_size, validation_freq):
    runner, data, batch_size, steps, shuffle, callback_list, nan_guard = loop
    end_logs = {"status": "finished"}
    try:
        callback_list.on_train_begin({})
        first = resume.start_epoch(model, epochs[0])  # BackupAndRestore may move it (and the seed)
        order_rng = resume.shuffle_generator(model, len(data[0]), skip_epochs=first if shuffle else 0)
        for epoch in range(first, epochs[1]):
            callback_list.on_epoch_begin(epoch, {})
            order = order_rng.permutation(len(data[0])) if shuffle else np.arange(len(data[0]))
            epoch_logs = _train_epoch(model, runner, data, order, batch_size, steps, callback_list, nan_guard)
            if validation is not None and not model.stop_training and (epoch + 1) % validation_freq == 0:
                model.target_layout, layout = None, model.target_layout
                val_batch = validation_batch_size or batch_size
                val_logs = _evaluate_with(model, runner, validation, val_batch, callback_list)
                model.target_layout = layout
                epoch_logs.update({f"val_{k}": v for k, v in val_logs.items()})
            resume.record_epoch(model, epoch + 1)
            callback_list.on_epoch_end(epoch, epoch_logs)
            if model.stop_training:
                end_logs["status"] = "stopped"
                end_logs["error"] = model.stop_reason
                break
    except KeyboardInterrupt:
        end_logs = {"status": "interrupted", "error": "KeyboardInterrupt"}
        raise
    except BaseException as error:
        end_logs = {"status": "failed", "error": f"{type(error).__name__}: {error}"}
        raise
    finally:
        callback_list.on_train_end(end_logs)


def _train_epoch(model, runner, data, order, batch_size, steps, callback_list, nan_guard):
    x, y = data
    loss_total, sums, seen = 0.0, 0, 0
    logs = {"loss": float("nan")}
    for step in range(steps):
        indices = order[step * batch_size : (step + 1) * batch_size]
        callback_list.on_train_batch_begin(step, {"size": len(indices)})
        loss_sum, batch_sums = runner.gradients(x, y, indices, model.optimizer.iterations)
        model.optimizer.step(model.parameters, model.gradients)
        loss_total, sums, seen = loss_total + loss_sum, sums + batch_sums, seen + len(indices)
        logs = logs_of(model, loss_total, sums, seen)
        logs["size"] = len(indices)
        callback_list.on_train_batch_end(step, logs)
        if nan_guard.message:
            break
    logs.pop("size", None)
    return logs


def _evaluate_with(model, runner, data, batch_size, callback_list):
    """Loss and metrics over (x, y[, sample weights]), batch by batch through the test hooks."""
    x, y, weights = data
    callback_list.on_test_begin({})
    # One prediction over all samples when processes share the work; batch by batch otherwise.
    outputs = runner.predict(x, batch_size) if runner.workers > 1 else None
    loss_total, sums, logs = 0.0, 0, {}
    for step, start in enumerate(range(0, len(x), batch_size)):
        stop = min(start + batch_size, len(x))
        callback_list.on_test_batch_begin(step, {})
        out = outputs[start:stop] if outputs is not None else runner.predict(x[start:stop], batch_size)
        if weights is None:
            loss_total += model.loss.total(out, y[start:stop])
        else:
            loss_total += float(model.loss.per_sample(out, y[start:stop]) @ weights[start:stop])
        sums = sums + metric_sums(model.compiled_metrics, out, y[start:stop])
        logs = logs_of(model, loss_total, sums, stop)
        callback_list.on_test_batch_end(step, logs)
    callback_list.on_test_end(logs)
    return logs


def _inference_setup(model, x, batch_size, steps, verbose, callbacks, workers, mode):
    """(x cut to `steps` batches, batch size, the CallbackList with Keras's progress line if verbose)."""
    batch_size = checks.positive_int(DEFAULT_BATCH_SIZE if batch_size is None else batch_size, "batch_size")
    if steps is not None:
        x = x[: checks.positive_int(steps, "steps") * batch_size]
    verbose = verbosity(verbose)
    params = {"samples": len(x), "batch_size": batch_size, "steps": -(-len(x) // batch_size), "verbose": verbose}
    params["workers"] = workers if isinstance(workers, int) else getattr(workers, "workers", 1)
    progress = [ProgbarLogger(verbose, mode=mode)] if verbose else []
    return x, batch_size, CallbackList([*(callbacks or []), *progress], model, params)


def evaluate(
    model, x, y, batch_size, verbose, sample_weight, callbacks, steps=None, return_dict=False, workers=1, threads=None
):
    """Model.evaluate: see its docstring."""
    require_compiled(model, "evaluate")
    _require_arrays(x, y, "evaluate")
    x = check_inputs(model, x)
    y = check_targets(model, x, y)
    weights = weights_for(y, sample_weight)
    x, batch_size, callback_list = _inference_setup(model, x, batch_size, steps, verbose, callbacks, workers, "test")
    data = (x, y[: len(x)], None if weights is None else weights[: len(x)])
    with runner_for(model, workers, threads=threads) as runner:
        logs = _evaluate_with(model, runner, data, batch_size, callback_list)
    if return_dict:
        return logs
    return logs["loss"] if not model.metrics else [logs[k] for k in model.metrics_names]


def predict(model, x, batch_size, verbose, steps, callbacks, workers=1, threads=None):
    """Model.predict: see its docstring."""
    x = check_inputs(model, x)
    x, batch_size, callback_list = _inference_setup(model, x, batch_size, steps, verbose, callbacks, workers, "predict")
    callback_list.on_predict_begin({})
    with runner_for(model, workers, threads=threads) as runner:
        whole = runner.predict(x, batch_size) if runner.workers > 1 else None
        outputs = []
        for step, start in enumerate(range(0, len(x), batch_size)):
            callback_list.on_predict_batch_begin(step, {})
            chunk = (
                whole[start : start + batch_size]
                if whole is not None
                else runner.predict(x[start : start + batch_size], batch_size)
            )
            outputs.append(chunk)
            callback_list.on_predict_batch_end(step, {"outputs": chunk})
    callback_list.on_predict_end({})
    return whole if whole is not None else np.concatenate(outputs)


def train_on_batch(model, x, y, sample_weight, class_weight, return_dict):
    """Model.train_on_batch: one optimizer step; the batch's loss and metrics before it."""
    keras_model.refuse_custom_steps(model)
    require_compiled(model, "train_on_batch")
    x = check_inputs(model, x)
    y = check_targets(model, x, y)
    weights = weights_for(y, sample_weight, class_weight)
    model.target_layout = None if weights is None else TargetLayout(y)
    try:
        targets = y if weights is None else model.target_layout.pack(y, weights)
        loss_sum, sums = model.forward_backward(x, targets, len(x), model.optimizer.iterations)
    finally:
        model.target_layout = None
    model.optimizer.step(model.parameters, model.gradients)
    logs = logs_of(model, loss_sum, sums, len(x))
    if return_dict:
        return logs
    return logs["loss"] if not model.metrics else [logs[k] for k in model.metrics_names]

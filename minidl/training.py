"""The loops behind Model.fit / evaluate / predict.

Data flows one way: the loop checks the data, then for every batch asks a *runner* (see
`minidl.distributed.base`) for the batch's gradient — computed in this process, in worker processes or
on MPI ranks — and takes one optimizer step; callbacks observe. Every runner returns the batch's loss
sum and correct count and leaves the mean gradient in `model.gradients`, so the loop, the optimizer
step and the callbacks are the same whatever runs the arithmetic.
"""

from __future__ import annotations

import warnings

import numpy as np

from . import checks
from .callbacks import CallbackList, History, TerminateOnNaN
from .data_checks import check_inputs, check_targets, require_compiled
from .distributed import runner_for
from .metrics import correct_count
from .saving import state as resume

DEFAULT_INFERENCE_BATCH = 256


def _split_validation(x, y, validation_split):
    validation_split = checks.probability(validation_split, "validation_split")
    cut = len(x) - int(round(len(x) * validation_split))
    if validation_split and (cut < 1 or cut == len(x)):
        raise ValueError(
            f"validation_split={validation_split} leaves no training or no validation samples out of {len(x)}"
        )
    return (x[:cut], y[:cut]), ((x[cut:], y[cut:]) if validation_split else None)


def fit(
    model,
    x,
    y,
    batch_size,
    epochs,
    verbose,
    callbacks,
    validation_split,
    validation_data,
    shuffle,
    workers,
    backend="pool",
    threads=None,
    step_timeout=None,
    initial_epoch=0,
):
    """Model.fit: see its docstring."""
    require_compiled(model, "fit")
    batch_size = checks.positive_int(batch_size, "batch_size")
    epochs = checks.positive_int(epochs, "epochs")
    initial_epoch = checks.non_negative_int(initial_epoch, "initial_epoch")
    if verbose not in (0, 1, 2):
        raise ValueError(f"verbose must be 0, 1 or 2, got {verbose!r}")
    x = check_inputs(model, x)
    y = check_targets(model, x, y)
    if validation_data is None:
        (x, y), validation = _split_validation(x, y, validation_split)
    else:
        if len(validation_data) != 2:
            raise ValueError("validation_data must be a pair (x_val, y_val)")
        xv = check_inputs(model, validation_data[0], "validation x")
        validation = (xv, check_targets(model, xv, validation_data[1], "validation y"))

    history = History()
    user_callbacks = list(callbacks or [])
    nan_guard = next((c for c in user_callbacks if isinstance(c, TerminateOnNaN)), None) or TerminateOnNaN()
    guard = [] if nan_guard in user_callbacks else [nan_guard]
    steps = -(-len(x) // batch_size)
    model.stop_training, model.stop_reason = False, None

    with runner_for(model, workers, backend, data=(x, y), threads=threads, step_timeout=step_timeout) as runner:
        params = {
            "epochs": epochs,
            "steps": steps,
            "batch_size": batch_size,
            "samples": len(x),
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
        progress = []
        if verbose and params["rank"] == 0:
            from .callbacks.progress import ProgressBar

            progress = [ProgressBar(verbose)]
        callback_list = CallbackList([history, *progress, *user_callbacks, *guard], model, params)
        end_logs = {"status": "finished"}
        try:
            callback_list.on_train_begin({})
            initial_epoch = resume.start_epoch(model, initial_epoch)  # BackupAndRestore may move it (and the seed)
            order_rng = resume.shuffle_generator(model, len(x), skip_epochs=initial_epoch if shuffle else 0)
            for epoch in range(initial_epoch, epochs):
                epoch_logs = _train_epoch(
                    model, runner, (x, y), batch_size, epoch, shuffle, order_rng, callback_list, nan_guard
                )
                if validation is not None and not model.stop_training:
                    val_logs = _evaluate_with(model, runner, *validation, DEFAULT_INFERENCE_BATCH, callback_list)
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
    if nan_guard.message:
        warnings.warn(nan_guard.message, RuntimeWarning, stacklevel=3)
    return history


def _train_epoch(model, runner, data, batch_size, epoch, shuffle, order_rng, callback_list, nan_guard):
    x, y = data
    callback_list.on_epoch_begin(epoch, {})
    order = order_rng.permutation(len(x)) if shuffle else np.arange(len(x))
    loss_total, correct_total, seen = 0.0, 0, 0
    for step, start in enumerate(range(0, len(x), batch_size)):
        indices = order[start : start + batch_size]
        callback_list.on_train_batch_begin(step, {"size": len(indices)})
        loss_sum, correct = runner.gradients(x, y, indices, model.optimizer.iterations)
        model.optimizer.step(model.parameters, model.gradients)
        loss_total, correct_total, seen = loss_total + loss_sum, correct_total + correct, seen + len(indices)
        logs = {"loss": loss_sum / len(indices), "size": len(indices)}
        if model.metrics:
            logs["accuracy"] = correct / len(indices)
        callback_list.on_train_batch_end(step, logs)
        if nan_guard.message:
            break
    epoch_logs = {"loss": loss_total / max(seen, 1)}
    if model.metrics:
        epoch_logs["accuracy"] = correct_total / max(seen, 1)
    return epoch_logs


def _evaluate_with(model, runner, x, y, batch_size, callback_list):
    """Loss and accuracy over (x, y), sample-weighted exactly, reported through the test hooks."""
    callback_list.on_test_begin({})
    outputs = runner.predict(x, batch_size)
    logs = {"loss": model.loss.total(outputs, y) / len(x)}
    if model.metrics:
        logs["accuracy"] = correct_count(outputs, y) / len(x)
    callback_list.on_test_end(logs)
    return logs


def evaluate(model, x, y, batch_size=None, verbose=0, callbacks=None, workers=1, threads=None):
    """Model.evaluate: see its docstring."""
    require_compiled(model, "evaluate")
    batch_size = checks.positive_int(batch_size or DEFAULT_INFERENCE_BATCH, "batch_size")
    x = check_inputs(model, x)
    y = check_targets(model, x, y)
    with runner_for(model, workers, threads=threads) as runner:
        params = {
            "samples": len(x),
            "batch_size": batch_size,
            "workers": runner.workers,
            "threads_per_worker": runner.threads_per_worker,
            "verbose": verbose,
        }
        return _evaluate_with(model, runner, x, y, batch_size, CallbackList(callbacks or [], model, params))


def predict(model, x, batch_size=None, workers=1, threads=None):
    """Model.predict: see its docstring."""
    batch_size = checks.positive_int(batch_size or DEFAULT_INFERENCE_BATCH, "batch_size")
    x = check_inputs(model, x)
    with runner_for(model, workers, threads=threads) as runner:
        return runner.predict(x, batch_size)

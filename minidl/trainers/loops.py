"""The loops behind `fit`, `evaluate` and `predict`: epochs of batches, each asked of a runner.

Data flows one way: for every batch the loop asks a *runner* (see `minidl.distributed.base`) for the
batch's gradient — computed in this process, in worker processes or on MPI ranks — and takes one
optimizer step; callbacks observe. Every runner returns the batch's loss sum and metric sums and
leaves the mean gradient in `model.gradients`, so the loop, the optimizer step and the callbacks are
the same whatever runs the arithmetic.

As in Keras, batch logs carry the running means of the epoch so far (plus `size`, the batch's
sample count); epoch logs the epoch's means and the validation figures as `val_<name>`.

Shuffling: the permutation of an epoch is the model's n-th draw of a generator seeded by the model's
seed alone, n counting every epoch the model has trained (`completed_epochs`, kept by saved models).
So a second `fit` call continues with new orders, as in Keras, and a resumed run replays exactly the
orders an uninterrupted one would have drawn.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .. import constraints
from ..metrics import metric_sums, statistics_size
from ..metrics import results as metric_results
from ..ops.tape import value_of
from ..saving import state as resume
from ..utils import arrays
from ..utils.warn import warn
from .data import BatchSource


@dataclass(frozen=True)
class EpochPlan:
    """What `fit` was asked to run: epoch numbers, batches per epoch, validation."""

    initial_epoch: int
    epochs: int
    batch_size: int
    steps: int
    shuffle: bool
    validation: tuple | None  # (x, y, sample weights or None)
    validation_batch_size: int
    validation_freq: int


def logs_of(compiled_metrics, loss_total, sums, seen) -> dict:
    """{"loss": mean loss, <metric name>: figure, ...} from the loss sum and metric statistics of `seen` samples."""
    return {"loss": loss_total / seen, **metric_results(compiled_metrics, sums, seen)}


def train(model, runner, data, plan: EpochPlan, callback_list, nan_guard):
    """Run the epochs of `plan` over `data` — (x, y, sample weights or None), or a `BatchSource` (a
    PyDataset or a generator) — telling the callbacks."""
    end_logs = {"status": "finished"}
    source = data if isinstance(data, BatchSource) else None
    samples = 0 if source else arrays.count(data[0])
    try:
        callback_list.on_train_begin({})
        first = resume.start_epoch(model, plan.initial_epoch)  # BackupAndRestore may move it (and the seed)
        # The model's own count of trained epochs: a second fit continues the shuffle sequence.
        drawn = max(first, resume.completed_epochs(model))
        order_rng = resume.shuffle_generator(model, samples, skip_epochs=drawn if plan.shuffle else 0)
        for epoch in range(first, plan.epochs):
            callback_list.on_epoch_begin(epoch, {})
            if source is None:
                order = order_rng.permutation(samples) if plan.shuffle else np.arange(samples)
                batches = _array_batches(data, order, plan)
            else:
                batches = ((x, y, w, np.arange(arrays.count(x))) for x, y, w in source.epoch(plan.steps))
            epoch_logs = train_epoch(model, runner, batches, callback_list, nan_guard)
            if source is not None and source.exhausted:
                if epoch + 1 < plan.epochs:
                    warn(
                        f"the generator ran out of data during epoch {epoch + 1} of {plan.epochs}: training stops "
                        "here (give steps_per_epoch, or a generator that repeats, or a keras.utils.PyDataset)"
                    )
                model.stop_training = True
            if plan.validation is not None and not model.stop_training and (epoch + 1) % plan.validation_freq == 0:
                val_logs = evaluate_batches(model, runner, plan.validation, plan.validation_batch_size, callback_list)
                epoch_logs.update({f"val_{k}": v for k, v in val_logs.items()})
            resume.record_epoch(model, drawn + epoch - first + 1)
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


def _array_batches(data, order, plan: EpochPlan):
    """The epoch's batches of arrays: the whole (x, y, w) and each batch's sample indices, in `order`."""
    x, y, weights = data
    for step in range(plan.steps):
        yield x, y, weights, order[step * plan.batch_size : (step + 1) * plan.batch_size]


def train_epoch(model, runner, batches, callback_list, nan_guard) -> dict:
    """One epoch: one optimizer step per batch (x, y, w, indices of the batch in them); the epoch's logs."""
    loss_total, sums, seen = 0.0, np.zeros(statistics_size(model.compiled_metrics)), 0
    logs = {"loss": float("nan")}
    for step, (x, y, weights, indices) in enumerate(batches):
        callback_list.on_train_batch_begin(step, {"size": len(indices)})
        loss_sum, batch_sums = runner.gradients(x, y, weights, indices, model.optimizer.iterations)
        model.optimizer.step(model.parameters, model.gradients)
        constraints.apply(model.weight_layers())
        loss_total, seen = loss_total + loss_sum, seen + len(indices)
        sums += batch_sums
        logs = logs_of(model.compiled_metrics, loss_total, sums, seen)
        logs["size"] = len(indices)
        callback_list.on_train_batch_end(step, logs)
        if nan_guard.message:
            break
    logs.pop("size", None)
    return logs


def evaluate_batches(model, runner, data, batch_size, callback_list) -> dict:
    """Loss and metrics over (x, y, sample weights or None) — or a BatchSource's batches — batch by batch
    through the test hooks."""
    if isinstance(data, BatchSource):
        return _evaluate_source(model, runner, data, callback_list)
    x, y, weights = data
    callback_list.on_test_begin({})
    # One prediction over all samples when processes share the work; batch by batch otherwise.
    outputs = _rows(runner.predict(x, batch_size)) if runner.workers > 1 else None
    loss_total, sums, logs = 0.0, np.zeros(statistics_size(model.compiled_metrics)), {}
    for step, start in enumerate(range(0, arrays.count(x), batch_size)):
        stop = min(start + batch_size, arrays.count(x))
        callback_list.on_test_batch_begin(step, {})
        out = (
            arrays.take(outputs, slice(start, stop))
            if outputs is not None
            else _rows(runner.predict(arrays.take(x, slice(start, stop)), batch_size))
        )
        part = None if weights is None else weights[start:stop]
        loss_total, sums = _add_batch(model, out, arrays.take(y, slice(start, stop)), part, loss_total, sums)
        loss_total += _added_losses(model, runner) * (stop - start)
        logs = logs_of(model.compiled_metrics, loss_total, sums, stop)
        callback_list.on_test_batch_end(step, logs)
    callback_list.on_test_end(logs)
    return logs


def _added_losses(model, runner) -> float:
    """What Keras adds to every batch's loss: `model.losses`, the regularizers' penalties on the weights and
    the terms `add_loss` received in the batch's forward pass (counted once per sample, as Keras's loss
    tracker weighs batches by their size)."""
    if runner.workers > 1 and model.added_loss_terms():  # this process saw only its own slice's terms
        raise NotImplementedError(
            f"evaluate with workers > 1: model {model.name!r} adds loss terms in call() (add_loss), which the "
            "workers compute and do not send back; evaluate with workers=1"
        )
    return float(sum(np.sum(value_of(term)) for term in model.losses))


def _add_batch(model, out, y, weights, loss_total, sums):
    """The running loss sum and metric statistics with one more batch of outputs added."""
    if weights is None:
        loss_total += model.loss.total(out, y)
    else:
        loss_total += float(model.loss.per_sample(out, y) @ weights)
    return loss_total, sums + metric_sums(model.compiled_metrics, out, y, weights)


def _rows(outputs):
    """Predictions as `arrays.take` slices them: the outputs of a model with several as a tuple."""
    return tuple(outputs) if isinstance(outputs, list) else outputs


def _evaluate_source(model, runner, source, callback_list) -> dict:
    callback_list.on_test_begin({})
    loss_total, sums, seen, logs = 0.0, np.zeros(statistics_size(model.compiled_metrics)), 0, {}
    for step, (x, y, weights) in enumerate(source.epoch()):
        callback_list.on_test_batch_begin(step, {})
        n = arrays.count(x)
        loss_total, sums = _add_batch(model, runner.predict(x, n), y, weights, loss_total, sums)
        loss_total += _added_losses(model, runner) * n
        seen += n
        logs = logs_of(model.compiled_metrics, loss_total, sums, seen)
        callback_list.on_test_batch_end(step, logs)
    callback_list.on_test_end(logs)
    return logs


def predict_batches(runner, x, batch_size, callback_list) -> np.ndarray:
    """The outputs for `x`, batch by batch through the predict hooks."""
    callback_list.on_predict_begin({})
    if isinstance(x, BatchSource):
        outputs = []
        for step, (batch, _, _) in enumerate(x.epoch()):
            callback_list.on_predict_batch_begin(step, {})
            outputs.append(runner.predict(batch, arrays.count(batch)))
            callback_list.on_predict_batch_end(step, {"outputs": outputs[-1]})
        callback_list.on_predict_end({})
        return _joined(outputs)
    whole = runner.predict(x, batch_size) if runner.workers > 1 else None
    outputs = []
    for step, start in enumerate(range(0, arrays.count(x), batch_size)):
        callback_list.on_predict_batch_begin(step, {})
        rows = slice(start, start + batch_size)
        if whole is None:
            chunk = runner.predict(arrays.take(x, rows), batch_size)
        else:  # one array, or a list of them (one per output)
            chunk = [out[rows] for out in whole] if isinstance(whole, list) else whole[rows]
        outputs.append(chunk)
        callback_list.on_predict_batch_end(step, {"outputs": chunk})
    callback_list.on_predict_end({})
    if whole is not None:
        return whole
    return _joined(outputs)


def _joined(outputs):
    """The batches' outputs as one array (a list of arrays for a model with several outputs)."""
    if outputs and isinstance(outputs[0], list):
        return [np.concatenate([batch[i] for batch in outputs]) for i in range(len(outputs[0]))]
    return np.concatenate(outputs)

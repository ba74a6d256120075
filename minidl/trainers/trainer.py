"""Trainer: how a model learns — Keras's compile, fit, evaluate, predict and the *_on_batch calls.

`Model` inherits it, as in Keras. The trainer knows the model only through what every model
provides: `layers`, `built` / `build`, `input_shape` / `output_shape`, `dtype`, `seed`, the flat
`parameters` and `gradients`, `forward_backward` and `predict_in_batches`; it never imports
`minidl.models`. The loops themselves are in `loops.py`; the checks on what they are handed in
`data.py`; where the arithmetic runs (this process, worker processes, MPI ranks) in
`minidl.distributed`.
"""

from __future__ import annotations

import numpy as np

from .. import constraints, losses, optimizers
from .. import metrics as metric_objects
from ..callbacks import CallbackList, DivergenceGuard, History, TerminateOnNaN
from ..callbacks.progbar_logger import ProgbarLogger
from ..distributed import runner_for
from ..utils import arrays, checks
from ..utils.warn import warn
from . import compile_utils, data, loops

DEFAULT_BATCH_SIZE = 32

# Keras arguments that change nothing minidl computes, accepted so programs run unchanged.
IGNORED_COMPILE = ("run_eagerly", "steps_per_execution", "jit_compile", "auto_scale_loss")
# Keras's hooks for custom training steps: each is written for one backend (TensorFlow, JAX or torch).
CUSTOM_STEPS = ("train_step", "test_step", "predict_step", "compute_loss")


def verbosity(verbose) -> int:
    """Keras's verbose: "auto" (= 1), 0 (silent), 1 (progress bar) or 2 (one line per epoch)."""
    if verbose == "auto":
        return 1
    if isinstance(verbose, bool) or verbose not in (0, 1, 2):
        raise ValueError(f"verbose must be 'auto', 0, 1 or 2, got {verbose!r}")
    return int(verbose)


class Trainer:
    """Compile, fit, evaluate and predict, with Keras 3's explicit signatures (see each method)."""

    def __init__(self):
        self.optimizer = self.loss = self.training_loss = None
        self.metrics, self.compiled_metrics = [], []
        self.history = self.stop_reason = None
        self.stop_training = False

    # ----- compiling -----
    def compile(
        self,
        optimizer="sgd",
        loss="sparse_categorical_crossentropy",
        loss_weights=None,
        metrics=None,
        weighted_metrics=None,
        run_eagerly=False,
        steps_per_execution=1,
        jit_compile="auto",
        auto_scale_loss=True,
    ):
        """Choose the optimizer, loss and metrics, as in Keras.

        Args:
            optimizer: a name ("sgd", "adam", ...), an `Optimizer` or its class. Keras's default is
                "rmsprop"; minidl's is "sgd".
            loss: a name, a `Loss`, its class or a function form (`minidl.losses.mse`). Keras has no
                default; minidl's is "sparse_categorical_crossentropy".
            loss_weights: for a model with several outputs, the weight of each output's loss in the
                total (a list in the order of the outputs or a dict by output name; default 1 each).
            metrics: names ("accuracy", "mae", ...), `Metric` objects or classes. Without it, a
                cross-entropy loss gets "accuracy" (minidl's default; Keras adds none). For several
                outputs: a list with one entry (or list) per output, or a dict by output name.
            weighted_metrics: refused (metrics weighted by sample_weight are not supported).
            run_eagerly, steps_per_execution, jit_compile, auto_scale_loss: Keras's execution
                settings, accepted and ignored (minidl always runs NumPy eagerly).

        A model with several outputs takes `loss` as one for all, a list or a dict by output name (see
        `compile_utils.py`); its logs hold each output's loss and metrics as `<output>_<name>`.
        """
        self.refuse_custom_steps()
        if isinstance(loss_weights, (list, tuple)) and any(isinstance(w, str) for w in loss_weights):
            raise TypeError(
                "compile: the third argument is loss_weights, as in Keras; pass the metrics by keyword: "
                f"compile(optimizer, loss, metrics={list(loss_weights)!r})"
            )
        if weighted_metrics:
            raise NotImplementedError("compile: weighted_metrics is not supported by minidl")
        names = self.output_names if isinstance(getattr(self, "output_shape", None), list) else None
        if names is None and loss_weights:
            raise ValueError(f"compile: loss_weights is for models with several outputs; model {self.name!r} has one")
        self.optimizer = optimizers.get(optimizer)
        if names is not None:  # several outputs: Σ_k w_k L_k, no fusion of a softmax with its loss
            self.loss = self.training_loss = compile_utils.output_losses(loss, loss_weights, names)
            self.compiled_metrics = compile_utils.output_metrics(metrics, self.loss)
        else:
            self.loss = losses.get(loss)
            self.compiled_metrics = self._resolve_metrics(metrics)
            self.training_loss = self.loss_for_training(self.loss)
        self.metrics = [m.name for m in self.compiled_metrics]
        return self

    def loss_for_training(self, loss):
        """The loss `forward_backward` trains with; a model may fuse it with its last layer (Model does)."""
        return loss

    def _resolve_metrics(self, requested):
        """The compiled metric objects; None means "accuracy" for a cross-entropy, nothing otherwise."""
        if requested is None:
            requested = ["accuracy"] if isinstance(self.loss, losses.CLASSIFICATION_LOSSES) else []
        elif isinstance(requested, (str, metric_objects.Metric)) or (
            callable(requested) and not isinstance(requested, type)
        ):
            requested = [requested]
        if isinstance(requested, dict):
            raise NotImplementedError(
                "compile: metrics as a dict (models with several outputs) is not supported by minidl"
            )
        return [metric_objects.get(item, self.loss) for item in requested]

    @property
    def metrics_names(self):
        """The order of `evaluate`'s list: `["loss", *metrics]`."""
        return ["loss", *self.metrics]

    def refuse_custom_steps(self):
        """Subclasses overriding Keras's `train_step` / `test_step` / `predict_step` / `compute_loss` are
        refused: in Keras 3 each is written for one backend (TensorFlow, JAX or torch), with its own
        tensors and gradient tape, so no portable program has one."""
        own = [base for base in type(self).__mro__ if not base.__module__.startswith("minidl.")]
        for hook in CUSTOM_STEPS:
            if any(hook in vars(base) for base in own):
                raise NotImplementedError(
                    f"a custom {hook} is not supported by minidl (Keras 3 writes it for one backend's tensors "
                    "and tape): put the computation in call() and a loss, and use compile / fit"
                )

    # ----- training -----
    def fit(
        self,
        x=None,
        y=None,
        batch_size=None,
        epochs=1,
        verbose="auto",
        callbacks=None,
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
        *,
        workers=1,
        backend="pool",
        threads=None,
        step_timeout=None,
    ):
        """Train for `epochs` passes over (x, y); returns a `History` with per-epoch metrics.

        Args:
            x: inputs, an array of shape (N, *input_shape).
            y: targets, as the loss wants them (integer labels, one-hot rows, values).
            batch_size: samples per gradient step (default 32).
            epochs: the epoch to stop at (counted from 0, so `initial_epoch` epochs are skipped).
            verbose: "auto" or 1 (progress bar), 2 (one line per epoch), 0 (silent).
            callbacks: `Callback` objects observing the run.
            validation_split: the last fraction of (x, y) held out to validate on after each epoch.
            validation_data: (x_val, y_val) or (x_val, y_val, sample_weight_val); wins over the split.
            shuffle: draw a new order of the samples every epoch (from the model's seed).
            class_weight: {class: weight}, multiplying each sample's loss by its class's weight.
            sample_weight: (N,) weights of the samples' losses.
            initial_epoch: the epoch to start at (for resuming a run).
            steps_per_epoch: batches per epoch (default: all of x).
            validation_steps: validate on this many batches only.
            validation_batch_size: batch size of validation (default `batch_size`).
            validation_freq: validate after every this-many epochs.
            workers: processes sharing each batch's gradient (same mathematics as one), or a
                `minidl.distributed.WorkerPool` / `MPIBackend` the caller keeps.
            backend: "pool" (worker processes on this machine) or "mpi" (ranks started by mpiexec).
            threads: BLAS threads per process (default 1).
            step_timeout: seconds a worker may take to answer (default max(30 s, 50 x the median step)).
        """
        self.refuse_custom_steps()
        data.require_compiled(self, "fit")
        if data.is_batch_source(x):
            return self._fit_batches(
                x, y, epochs, verbose, callbacks, validation_split, validation_data, class_weight, sample_weight,
                initial_epoch, steps_per_epoch, validation_freq, workers, backend, threads, step_timeout,
            )  # fmt: skip
        data.require_arrays(x, y, "fit")
        batch_size = checks.positive_int(DEFAULT_BATCH_SIZE if batch_size is None else batch_size, "batch_size")
        epochs = checks.positive_int(epochs, "epochs")
        initial_epoch = checks.non_negative_int(initial_epoch, "initial_epoch")
        validation_freq = checks.positive_int(validation_freq, "validation_freq")
        verbose = verbosity(verbose)
        x = data.check_inputs(self, x)
        y = data.check_targets(self, x, y)
        weights = data.sample_weights(y, sample_weight, class_weight)
        if validation_data is None:
            (x, y, weights), validation = data.split_validation((x, y, weights), validation_split)
        else:
            validation = data.validation_arrays(self, validation_data)
        if validation is not None and validation_steps is not None:
            steps = checks.positive_int(validation_steps, "validation_steps")
            validation = data.first(validation, steps * (validation_batch_size or batch_size))
        batches = -(-arrays.count(x) // batch_size)
        steps = batches if steps_per_epoch is None else checks.positive_int(steps_per_epoch, "steps_per_epoch")
        if steps > batches:
            raise ValueError(f"steps_per_epoch={steps} is more than the {batches} batches of {batch_size} in x")
        plan = loops.EpochPlan(
            initial_epoch, epochs, batch_size, steps, shuffle, validation, validation_batch_size or batch_size,
            validation_freq,
        )  # fmt: skip
        return self._run_fit((x, y, weights), plan, verbose, callbacks, workers, backend, threads, step_timeout)

    def _fit_batches(self, source, y, epochs, verbose, callbacks, validation_split, validation_data, class_weight,
                     sample_weight, initial_epoch, steps_per_epoch, validation_freq, workers, backend, threads,
                     step_timeout):  # fmt: skip
        """`fit` on a PyDataset or a generator: its batches, one optimizer step each."""
        for name, value in (("y", y), ("sample_weight", sample_weight), ("class_weight", class_weight)):
            if value is not None:
                raise ValueError(
                    f"fit: {name} must not be given with a dataset or generator: its batches are (x, y) or "
                    "(x, y, sample_weight)"
                )
        if validation_split:
            raise ValueError("fit: validation_split needs arrays; give validation_data (arrays or a dataset)")
        data.refuse_batches_across_ranks("fit", workers, backend)
        epochs = checks.positive_int(epochs, "epochs")
        initial_epoch = checks.non_negative_int(initial_epoch, "initial_epoch")
        batches = data.BatchSource(source, self, "x")
        batches.build_model()
        steps = batches.steps if steps_per_epoch is None else checks.positive_int(steps_per_epoch, "steps_per_epoch")
        if validation_data is not None and data.is_batch_source(validation_data):
            validation = data.BatchSource(validation_data, self, "validation_data")
        else:
            validation = None if validation_data is None else data.validation_arrays(self, validation_data)
        plan = loops.EpochPlan(
            initial_epoch, epochs, None, steps, False, validation, DEFAULT_BATCH_SIZE,
            checks.positive_int(validation_freq, "validation_freq"),
        )  # fmt: skip
        return self._run_fit(batches, plan, verbose, callbacks, workers, backend, threads, step_timeout)

    def _run_fit(self, training, plan, verbose, callbacks, workers, backend, threads, step_timeout):
        """The run shared by arrays and datasets: the runner, the callbacks, the epochs."""
        verbose = verbosity(verbose)
        arrays_given = not isinstance(training, data.BatchSource)
        validation = plan.validation
        history = History()
        user_callbacks = list(callbacks or [])
        nan_guard = next((c for c in user_callbacks if isinstance(c, TerminateOnNaN)), None) or TerminateOnNaN()
        divergence = DivergenceGuard()
        guard = ([] if nan_guard in user_callbacks else [nan_guard]) + [divergence]
        self.stop_training, self.stop_reason = False, None
        with runner_for(
            self, workers, backend, training if arrays_given else None, threads, step_timeout, plan.batch_size
        ) as runner:
            samples = min(arrays.count(training[0]), plan.steps * plan.batch_size) if arrays_given else None
            params = {
                "epochs": plan.epochs,
                "steps": plan.steps,
                "batch_size": plan.batch_size,
                "samples": samples,
                "val_samples": arrays.count(validation[0]) if isinstance(validation, tuple) else 0,
                "workers": runner.workers,
                "threads_per_worker": runner.threads_per_worker,
                "startup_seconds": runner.startup_seconds,
                "backend": backend,
                "ranks": runner.ranks,
                "rank": runner.rank,
                "cpus": runner.cpus,
                "seed": self.seed,
                "verbose": verbose,
                "timings": runner.timings,
            }
            progress = [ProgbarLogger(verbose)] if verbose and runner.rank == 0 else []
            if arrays_given and runner.workers > plan.batch_size:
                warn(
                    f"{runner.workers} workers for batches of {plan.batch_size} samples: "
                    f"{runner.workers - plan.batch_size} of them have nothing to compute at every step "
                    f"(use at most {plan.batch_size} workers, or larger batches)"
                )
            callback_list = CallbackList([*user_callbacks, *guard, history, *progress], self, params)
            loops.train(self, runner, training, plan, callback_list, nan_guard)
        for message in (nan_guard.message, divergence.message if not nan_guard.message else None):
            if message:
                warn(message)
        self.history = history
        return history

    def train_on_batch(self, x, y=None, sample_weight=None, class_weight=None, return_dict=False):
        """One optimizer step on one batch; returns the batch's loss and metrics before the step.

        Args:
            x, y: one batch of inputs and targets.
            sample_weight: (N,) weights of the samples' losses.
            class_weight: {class: weight}.
            return_dict: a dict {name: value} instead of `[loss, *metrics]` (the loss alone without metrics).
        """
        self.refuse_custom_steps()
        data.require_compiled(self, "train_on_batch")
        data.require_arrays(x, y, "train_on_batch")
        x = data.check_inputs(self, x)
        y = data.check_targets(self, x, y)
        weights = data.sample_weights(y, sample_weight, class_weight)
        n = arrays.count(x)
        loss_sum, sums = self.forward_backward(x, y, weights, n, self.optimizer.iterations)
        self.optimizer.step(self.parameters, self.gradients)
        constraints.apply(self.weight_layers())
        return self._results(loops.logs_of(self.compiled_metrics, loss_sum, sums, n), return_dict)

    # ----- evaluating and predicting -----
    def evaluate(
        self,
        x=None,
        y=None,
        batch_size=None,
        verbose="auto",
        sample_weight=None,
        steps=None,
        callbacks=None,
        return_dict=False,
        *,
        workers=1,
        threads=None,
    ):
        """Mean loss and metrics on (x, y).

        Args:
            x, y: inputs and targets.
            batch_size: samples per batch (default 32; the size does not change the result).
            verbose: "auto" or 1 (progress bar), 2 (one line), 0 (silent).
            sample_weight: (N,) weights of the samples' losses.
            steps: evaluate on this many batches only.
            callbacks: `Callback` objects observing the test hooks.
            return_dict: a dict {name: value} instead of `[loss, *metrics]` (the loss alone without metrics).
            workers: processes sharing the work, or a `WorkerPool` / `MPIBackend`.
            threads: BLAS threads per process.
        """
        data.require_compiled(self, "evaluate")
        if data.is_batch_source(x):
            if y is not None or sample_weight is not None:
                raise ValueError("evaluate: y and sample_weight must not be given with a dataset or generator")
            data.refuse_batches_across_ranks("evaluate", workers)
            batches = data.BatchSource(x, self, "x")
            batches.build_model()
            callback_list = self._inference_callbacks(0, batches.steps, verbose, callbacks, workers, "test")
            with runner_for(self, workers, threads=threads) as runner:
                return self._results(loops.evaluate_batches(self, runner, batches, None, callback_list), return_dict)
        data.require_arrays(x, y, "evaluate")
        x = data.check_inputs(self, x)
        y = data.check_targets(self, x, y)
        weights = data.sample_weights(y, sample_weight)
        x, batch_size, callback_list = self._inference_setup(x, batch_size, steps, verbose, callbacks, workers, "test")
        with runner_for(self, workers, threads=threads, batch_size=batch_size) as runner:
            batches = data.first((x, y, weights), arrays.count(x))
            logs = loops.evaluate_batches(self, runner, batches, batch_size, callback_list)
        return self._results(logs, return_dict)

    def test_on_batch(self, x, y=None, sample_weight=None, return_dict=False):
        """Loss and metrics of one batch, without training (`evaluate` on that batch).

        Args:
            x: the batch's inputs, an array of shape (N, *input_shape) (a list or dict of them for several).
            y: its targets.
            sample_weight: one weight per sample, (N,), or None.
            return_dict: return {"loss": ..., metric name: ...} instead of a scalar or a list.
        """
        return self.evaluate(x, y, _count(x), 0, sample_weight=sample_weight, return_dict=return_dict)

    def predict(self, x, batch_size=None, verbose="auto", steps=None, callbacks=None, *, workers=1, threads=None):
        """The model's outputs for `x`, computed in batches.

        Args:
            x: inputs, an array of shape (N, *input_shape).
            batch_size: samples per batch (default 32; the size does not change the result).
            verbose: "auto" or 1 (progress bar), 2 (one line), 0 (silent).
            steps: predict this many batches only.
            callbacks: `Callback` objects observing the predict hooks.
            workers: processes sharing the work, or a `WorkerPool` / `MPIBackend`.
            threads: BLAS threads per process.
        """
        if data.is_batch_source(x):
            data.refuse_batches_across_ranks("predict", workers)
            batches = data.BatchSource(x, self, "x", targets=False)
            batches.build_model()
            callback_list = self._inference_callbacks(0, batches.steps, verbose, callbacks, workers, "predict")
            with runner_for(self, workers, threads=threads) as runner:
                return loops.predict_batches(runner, batches, None, callback_list)
        x = data.check_inputs(self, x)
        x, batch_size, callback_list = self._inference_setup(
            x, batch_size, steps, verbose, callbacks, workers, "predict"
        )
        with runner_for(self, workers, threads=threads, batch_size=batch_size) as runner:
            return loops.predict_batches(runner, x, batch_size, callback_list)

    def predict_on_batch(self, x):
        """The model's outputs for one batch.

        Args:
            x: the batch's inputs, an array of shape (N, *input_shape) (a list or dict of them for several).
        """
        return self.predict(x, batch_size=_count(x), verbose=0)

    # ----- helpers -----
    def _inference_setup(self, x, batch_size, steps, verbose, callbacks, workers, mode):
        """(x cut to `steps` batches, batch size, the CallbackList with Keras's progress line if verbose)."""
        batch_size = checks.positive_int(DEFAULT_BATCH_SIZE if batch_size is None else batch_size, "batch_size")
        if steps is not None:
            x = arrays.take(x, slice(None, checks.positive_int(steps, "steps") * batch_size))
        n = arrays.count(x)
        return x, batch_size, self._inference_callbacks(n, -(-n // batch_size), verbose, callbacks, workers, mode)

    def _inference_callbacks(self, samples, steps, verbose, callbacks, workers, mode):
        """The CallbackList of evaluate / predict, with Keras's progress line if verbose."""
        verbose = verbosity(verbose)
        params = {"samples": samples, "batch_size": None, "steps": steps, "verbose": verbose}
        params["workers"] = workers if isinstance(workers, int) else getattr(workers, "workers", 1)
        progress = [ProgbarLogger(verbose, mode=mode)] if verbose else []
        return CallbackList([*(callbacks or []), *progress], self, params)

    def _results(self, logs, return_dict):
        if return_dict:
            return logs
        return logs["loss"] if not self.metrics else [logs[k] for k in self.metrics_names]


def _count(x) -> int:
    """Samples in x as given by the user (an array, a list / tuple of arrays, or a dict of them)."""
    if isinstance(x, dict):
        x = list(x.values())
    return len(x[0]) if isinstance(x, (list, tuple)) and len(x) and np.ndim(x[0]) > 0 else len(x)

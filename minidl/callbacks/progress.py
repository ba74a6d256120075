"""ProgressBar: the rich progress display of `fit`, as a callback.

verbose=1 shows a live bar per epoch (step, loss, accuracy, samples/s, time left) and keeps one summary
line per epoch; verbose=2 prints only the summary lines (better for logs).
"""

from __future__ import annotations

import time

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from ..utils import terminal
from .base import Callback


class ProgressBar(Callback):
    """Shows training progress in the terminal with rich."""

    def __init__(self, verbose=1, console: Console | None = None):
        super().__init__()
        self.verbose = verbose
        self.console = console or terminal.console(soft_wrap=True)
        self.progress = None

    def on_train_begin(self, logs=None):
        p = self.params
        threads = p.get("threads_per_worker")
        where = f"{p['workers']} worker process{'es' if p['workers'] > 1 else ''}" + (
            f", {threads} BLAS thread{'s' if threads != 1 else ''} each" if threads else ""
        )
        if p.get("ranks", 1) > 1:
            where = f"{p['ranks']} MPI ranks"
        self.console.print(
            f"[bold]Training[/] {self.model.name}: {p['samples']:,} samples, batch {p['batch_size']}, "
            f"{p['epochs']} epoch{'s' if p['epochs'] > 1 else ''}, {where}"
        )

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch, self.started, self.seen = epoch, time.perf_counter(), 0
        if self.verbose == 1:
            self.progress = Progress(
                TextColumn(f"Epoch {epoch + 1}/{self.params['epochs']}"),
                BarColumn(),
                MofNCompleteColumn(),
                TextColumn(
                    "loss {task.fields[loss]:.4f}  acc {task.fields[accuracy]:.4f}  {task.fields[rate]:,.0f} samples/s"
                ),
                TimeRemainingColumn(),
                console=self.console,
                transient=True,
            )
            self.progress.start()
            self.task = self.progress.add_task("train", total=self.params["steps"], loss=0.0, accuracy=0.0, rate=0.0)

    def on_train_batch_end(self, batch, logs=None):
        self.seen += logs["size"]
        if self.progress is not None:
            rate = self.seen / max(time.perf_counter() - self.started, 1e-9)
            self.progress.update(
                self.task,
                completed=batch + 1,
                loss=logs["loss"],
                accuracy=logs.get("accuracy", float("nan")),
                rate=rate,
            )

    def on_epoch_end(self, epoch, logs=None):
        self._stop_bar()
        seconds = time.perf_counter() - self.started
        parts = [f"{key.replace('accuracy', 'acc')} {value:.4f}" for key, value in (logs or {}).items()]
        self.console.print(
            f"Epoch {epoch + 1}/{self.params['epochs']} {seconds:5.1f} s "
            f"{self.seen / max(seconds, 1e-9):6,.0f}/s  " + "  ".join(parts)
        )

    def on_train_end(self, logs=None):
        self._stop_bar()
        status = (logs or {}).get("status")
        if status not in (None, "finished"):
            self.console.print(f"[yellow]Training {status}[/]" + (f": {logs['error']}" if logs.get("error") else ""))

    def _stop_bar(self):
        if self.progress is not None:
            self.progress.stop()
            self.progress = None

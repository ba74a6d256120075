"""BackupAndRestore: continue an interrupted `fit` from its last completed epoch (Keras's callback)."""

from __future__ import annotations

import os

from .. import saving
from ..saving import state
from ..utils.temporaries import temporary_beside
from .base import Callback

BACKUP_FILE = "backup.keras"


class BackupAndRestore(Callback):
    """Backs the run up at each epoch's end; at train begin, restores the backup and resumes after it.

    The backup (`<backup_dir>/backup.keras`: weights, optimizer state, completed epochs) is written
    atomically, so a run killed at any moment leaves the last completed epoch's backup intact. When
    `fit` starts and a backup exists, the weights and optimizer state are loaded into the model and
    training continues from the epoch after it — the same numbers, bit for bit, as a run never stopped
    (the shuffle order and Dropout's masks follow from the seed, the epoch and the step count). When
    training completes the backup is deleted (and its folder, if that leaves it empty), unless
    `delete_checkpoint=False`; it is kept when training is interrupted or fails. Under MPI only rank 0
    writes; every rank restores. A folder that cannot be written is refused when training begins.

    As in Keras, the folder is one run's: a run restores whatever backup it finds there, so runs that
    train at the same time need folders of their own (the training scripts give every run its own,
    and restore only on `--resume`).
    """

    def __init__(self, backup_dir, save_freq="epoch", delete_checkpoint=True):
        super().__init__()
        if save_freq != "epoch":
            raise NotImplementedError(
                f"BackupAndRestore: save_freq={save_freq!r} is not supported; minidl backs up at epoch ends "
                "(save_freq='epoch')"
            )
        self.backup_dir = os.fspath(backup_dir)
        if os.path.exists(self.backup_dir) and not os.path.isdir(self.backup_dir):
            raise NotADirectoryError(f"BackupAndRestore: backup_dir {self.backup_dir!r} is a file, not a folder")
        self.delete_checkpoint = bool(delete_checkpoint)
        self.path = os.path.join(self.backup_dir, BACKUP_FILE)

    def _writer(self) -> bool:
        return self.params.get("rank", 0) == 0

    def backup_seed(self) -> int | None:
        """The model seed the backup was made with (None without a backup).

        A model resumed with workers > 1 must already have it when `fit` starts (the workers copy the
        model before any callback runs): build the model with `seed=backup_seed()`.
        """
        if not os.path.exists(self.path):
            return None
        return (saving.read_state(self.path) or {}).get("seed")

    def on_train_begin(self, logs=None):
        if self._writer():
            self._check_writable()
        if not os.path.exists(self.path):
            return
        seed = self.backup_seed()
        processes = max(self.params.get("workers", 1), self.params.get("ranks", 1) or 1)
        if seed is not None and seed != self.model.seed and processes > 1:
            raise ValueError(
                f"BackupAndRestore: the backup in {self.backup_dir} was made by a model with seed={seed}, "
                f"this one has seed={self.model.seed}; with {processes} processes the seed cannot change "
                f"once fit has started: build the model with seed={seed} to resume"
            )
        saving.load_weights(self.model, self.path)
        state.request_resume(self.model, self.model.completed_epochs)

    def _check_writable(self):
        """Create the folder and write a file in it now, not after an epoch of work: one line if it cannot be."""
        try:
            os.makedirs(self.backup_dir, exist_ok=True)
            with temporary_beside(self.path):
                pass
        except OSError as error:
            reason = error.strerror or str(error) or type(error).__name__
            raise OSError(f"BackupAndRestore: cannot write backups in {self.backup_dir}: {reason}") from None

    def on_epoch_end(self, epoch, logs=None):
        if self._writer():
            os.makedirs(self.backup_dir, exist_ok=True)  # a folder removed meanwhile is made again
            saving.save_model(self.model, self.path)

    def on_train_end(self, logs=None):
        finished = (logs or {}).get("status", "finished") in ("finished", "stopped")
        if finished and self.delete_checkpoint and self._writer() and os.path.exists(self.path):
            os.remove(self.path)
            if not os.listdir(self.backup_dir):  # only the folder this callback made and emptied
                os.rmdir(self.backup_dir)

"""CSVLogger: one CSV row per epoch with every epoch log, as Keras's CSVLogger."""

from __future__ import annotations

import csv
import io
import os

from ..utils.temporaries import temporary_beside
from .base import Callback


class CSVLogger(Callback):
    """Writes `epoch` and the epoch logs (columns sorted by name) to `filename` after every epoch.

    The file is rewritten whole through a temporary file and a rename after each epoch, so it is
    never half-written. `append=True` keeps the rows of an existing file (e.g. when resuming);
    otherwise an existing file is replaced when training starts, as in Keras.
    """

    def __init__(self, filename, separator=",", append=False):
        super().__init__()
        self.filename, self.separator, self.append = os.fspath(filename), separator, append
        self.header, self.text = None, ""

    def on_train_begin(self, logs=None):
        self.header, self.text = None, ""
        if self.append and os.path.exists(self.filename):
            with open(self.filename, newline="") as file:
                self.text = file.read()
            first = self.text.splitlines()[:1]
            self.header = first[0].split(self.separator) if first else None

    def on_epoch_end(self, epoch, logs=None):
        logs = {k: v for k, v in (logs or {}).items() if k != "size"}
        buffer = io.StringIO()
        writer = csv.writer(buffer, delimiter=self.separator, lineterminator="\n")
        if self.header is None:
            self.header = ["epoch", *sorted(logs)]
            writer.writerow(self.header)
        writer.writerow([epoch if key == "epoch" else logs.get(key, "NA") for key in self.header])
        self.text += buffer.getvalue()
        with temporary_beside(self.filename) as (handle, temporary):  # removed on error, swept after a crash
            with open(os.dup(handle), "w", newline="") as file:
                file.write(self.text)
            os.replace(temporary, self.filename)

"""Each run's own backup, so that runs side by side never touch each other's: `--resume` and its folder.

Every run of a training script backs itself up (BackupAndRestore) into a folder of its own,
``<stats-dir>/backups/<model name>/<run>/``, where ``<run>`` is the time it started and its process id
(``20261207T091512-4242``). Beside ``backup.keras`` lies ``run.json``: the process that owns the folder
(pid, host, start time), so that a backup is only ever taken over once its run is gone. A run that
completes removes its folder; one that is interrupted, fails or is killed leaves it, with the last
completed epoch's backup.

A plain run touches no other folder (it only says when unfinished runs of its model can be resumed).
``--resume`` takes over the latest backup of a run of this model that has ended (``--resume RUN``: that
run's), checks it against the model before any training (one line and exit code 2 when it does not fit,
the backup kept), moves it into its own folder (an atomic rename: two resumes never take the same
backup) and says which run it continues.
"""

from __future__ import annotations

import contextlib
import datetime
import json
import os
import sys

from minidl import saving
from minidl.callbacks import BackupAndRestore
from minidl.errors import ModelFileError
from minidl.stats import process_gone, process_identity
from minidl.utils import checks, temporaries
from minidl.utils.temporaries import temporary_beside

BACKUPS = "backups"
OWNER_FILE = "run.json"
LATEST = "latest"  # what a bare --resume asks for


class CannotResume(ValueError):
    """`--resume` cannot continue the run it asked for (the message says why); nothing was changed."""


def add_resume_flag(parser):
    """--resume [RUN]: continue an ended run of this model (see the module's docstring)."""
    parser.add_argument(
        "--resume",
        nargs="?",
        const=LATEST,
        default=None,
        metavar="RUN",
        help="continue the latest unfinished run of this model from its last completed epoch, or the run "
        f"named RUN (a folder in <stats-dir>/{BACKUPS}/<model name>/; each run backs itself up there)",
    )


def model_folder(stats_dir, model_name) -> str:
    return os.path.join(stats_dir, BACKUPS, model_name)


class RunBackup:
    """This run's backup folder and its BackupAndRestore callback; `finish` removes what is not needed.

    Under MPI only rank 0 (`writer`) owns a folder; the other ranks restore from the one it names.
    """

    def __init__(self, folder, writer=True, resumed=None):
        self.folder, self.writer, self.resumed = folder, writer, resumed
        self.callback = BackupAndRestore(folder)

    @property
    def path(self) -> str:
        return self.callback.path

    def finish(self, completed: bool):
        """After training: a completed run (its backup already deleted by the callback) or one that left no
        backup to resume from removes its folder; any other keeps it for --resume."""
        if not self.writer:
            return
        if completed or not os.path.exists(self.path):
            remove_folder(self.folder)


def start(args, model, rank=0, share=None) -> RunBackup:
    """This run's backup: a fresh folder, or with --resume the taken-over backup of an ended run.

    `share(value)` hands rank 0's value to every MPI rank (None without MPI). Raises CannotResume.
    """
    folder = model_folder(args.stats_dir, model.name)
    if rank != 0:  # rank 0 chooses; the other ranks restore from the same file
        mine, resumed = share(None)
        if mine is None:
            raise CannotResume("rank 0 could not resume (it said why)")
        if resumed is not None:
            saving.load_weights(model, os.path.join(mine, "backup.keras"))
        return RunBackup(mine, writer=False, resumed=resumed)
    ended = ended_runs(folder)
    mine = new_run_folder(folder, model)
    try:
        resumed = take_over(args.resume, folder, mine, model, ended, args.epochs) if args.resume else None
    except BaseException:
        remove_folder(mine)
        if share is not None:
            share((None, None))
        raise
    if share is not None:
        share((mine, resumed))
    if resumed is None and ended and not args.resume:
        names = ", ".join(reversed(ended[-3:]))
        print(
            f"note: {len(ended)} unfinished run(s) of {model.name} can be continued with --resume "
            f"(latest first: {names}; see {folder})",
            file=sys.stderr,
        )
    return RunBackup(mine, resumed=resumed)


def ended_runs(folder) -> list[str]:
    """The runs in `folder` whose process has ended and that left a backup, latest backup last.

    Folders of ended runs that left no backup (killed before their first epoch ended) are removed, and
    so are temporaries of writers killed mid-save.
    """
    runs = []
    for name in sorted(os.listdir(folder)) if os.path.isdir(folder) else []:
        path = os.path.join(folder, name)
        owner = read_owner(path)
        if owner is None or not process_gone(owner):
            continue  # still training (or on a host this one cannot check), or not a run folder
        temporaries.sweep(path)
        try:
            runs.append((os.path.getmtime(os.path.join(path, "backup.keras")), name))
        except FileNotFoundError:  # never written, or just taken over by another --resume
            remove_folder(path)
    return [name for _, name in sorted(runs)]


def read_owner(path) -> dict | None:
    """The owner record of a run folder, None when it has none (not a run folder) or it cannot be read."""
    try:
        with open(os.path.join(path, OWNER_FILE), encoding="utf-8") as file:
            owner = json.load(file)
    except (OSError, ValueError):
        return None
    return owner if isinstance(owner, dict) else None


def new_run_folder(folder, model) -> str:
    """Create this run's folder (never an existing one) with its owner record; one-line OSError if it cannot be."""
    try:
        return _new_run_folder(folder, model)
    except OSError as error:
        reason = error.strerror or str(error) or type(error).__name__
        raise OSError(f"cannot make this run's backup folder in {folder}: {reason}") from None


def _new_run_folder(folder, model) -> str:
    os.makedirs(folder, exist_ok=True)
    stamp = datetime.datetime.now().strftime("%Y%m%dT%H%M%S")
    for attempt in range(1000):
        path = os.path.join(folder, f"{stamp}-{os.getpid()}" + (f"-{attempt}" if attempt else ""))
        try:
            os.mkdir(path)
            break
        except FileExistsError:
            continue
    else:
        raise FileExistsError(f"no free run folder name in {folder}")
    owner = {**process_identity(), "started": datetime.datetime.now().astimezone().isoformat(timespec="seconds")}
    owner["model"], owner["command"] = model.name, sys.argv
    write_json(os.path.join(path, OWNER_FILE), owner)
    return path


def write_json(path, value):
    with temporary_beside(path) as (handle, temporary):
        with open(os.dup(handle), "w", encoding="utf-8") as file:
            json.dump(value, file)
        os.replace(temporary, path)


def take_over(wanted, folder, mine, model, ended, epochs) -> str | None:
    """Check the backup of the ended run `wanted` (or the latest, for LATEST) against `model`, move it into
    `mine` and adopt its seed; returns that run's name (None: LATEST, and no run to resume). CannotResume
    when the run named cannot be resumed or its backup does not fit the model."""
    candidates = list(reversed(ended)) if wanted == LATEST else [wanted]
    if wanted != LATEST and wanted not in ended:
        owner = read_owner(os.path.join(folder, wanted))
        why = "is still training" if owner is not None and not process_gone(owner) else "left no backup"
        if owner is None:
            why = "is not a run of this model"
        names = ", ".join(ended) or "none"
        raise CannotResume(f"run {wanted!r} {why} (in {folder}; runs that can be resumed: {names})")
    if not candidates:  # a job that always restarts with --resume: its first start has nothing to resume
        print(
            f"--resume: no unfinished run of {model.name} in {folder}; training from the first epoch", file=sys.stderr
        )
        return None
    for name in candidates:
        backup = os.path.join(folder, name, "backup.keras")
        try:
            check(backup, model)
        except CannotResume:
            if not os.path.exists(backup):  # another --resume took it while this one read it
                continue
            raise
        try:
            os.rename(backup, os.path.join(mine, "backup.keras"))  # atomic: one resume takes it
        except FileNotFoundError:  # another --resume took it first
            continue
        state = saving.read_state(os.path.join(mine, "backup.keras")) or {}
        remove_folder(os.path.join(folder, name))
        owner = read_owner(mine) or {}
        write_json(os.path.join(mine, OWNER_FILE), {**owner, "resumed": name})
        print(
            f"resuming run {name} of {model.name}: {state.get('epoch')} epoch(s) done, seed {model.seed} "
            f"(from {os.path.join(folder, name, 'backup.keras')})"
        )
        if isinstance(state.get("epoch"), int) and state["epoch"] >= epochs:
            print(
                f"note: run {name} has done {state['epoch']} epoch(s) and --epochs is {epochs}: nothing left to train"
            )
        return name
    runs = "every unfinished run" if wanted == LATEST else f"run {wanted!r}"
    raise CannotResume(f"{runs} of {model.name} in {folder} was taken over by another --resume")


def check(backup, model):
    """Load `backup` into `model` (all or nothing) and adopt its seed; CannotResume names what does not fit.

    The model is new and untrained, so loading is the check: BackupAndRestore loads the same file again
    when training begins (and every worker copies the model with the backup's seed).
    """
    try:
        state = saving.read_state(backup) or {}
        if checks.seed(state.get("seed"), "its seed") is None:
            raise ModelFileError(f"{backup}: it records no seed")
        saving.load_weights(model, backup)
    except (ValueError, OSError) as error:  # ModelFileError included: one line, the backup left as it is
        raise CannotResume(str(error).splitlines()[0]) from None


def remove_folder(path):
    """Remove a run folder: its backup, owner record and temporaries (a folder holding anything else stays).

    Its writer is done (this process, after training) or gone (an ended run taken over), so an unlocked
    temporary is stale at any age: a run killed while writing its backup leaves one behind.
    """
    for name in ("backup.keras", OWNER_FILE):
        with contextlib.suppress(FileNotFoundError):
            os.remove(os.path.join(path, name))
    temporaries.sweep(path, older_than=0)
    with contextlib.suppress(OSError):
        os.rmdir(path)

"""Statistics files: one JSON document of runs per model, written so that nothing is ever lost.

Files are written to a temporary file and `os.replace`d, and every read-modify-write holds an
`fcntl.flock` on ``<out_dir>/.stats.lock`` (with the Python handlers of Ctrl-C and SIGTERM held
back while the file is rewritten), so an interrupt never leaves half a file and two runs writing together both land. A
run is saved when it starts (status ``running``) and re-saved in place, by its id, after every
epoch and at its end (`save_run`). A statistics file that cannot be read is never overwritten:
the run goes to a new ``<model>.recovered-<timestamp>.json`` beside it, with a warning naming both.

Reading (`load_runs`) trusts nothing: each run's field types are checked (`run_problem`) and a
malformed run is handed back as rejected, with the reason, instead of breaking the summary of
the others; a run still marked ``running`` whose process is gone reads as ``killed``. A write
that fails (read-only folder, full disk) raises `StatsWriteError`, one line naming the path,
and leaves the previous file intact and no temporary behind.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime
import json
import math
import os
import re
import sys
import warnings
from pathlib import Path

from ..utils.interrupts import deferred_signals
from ..utils.temporaries import temporary_beside
from .liveness import mark_killed
from .summary import summarize
from .validation import run_problem

try:  # POSIX only; elsewhere writes are still atomic but concurrent runs are not serialised.
    import fcntl
except ImportError:  # pragma: no cover
    fcntl = None

FORMAT = "minidl-stats"
VERSION = 1
DEFAULT_DIR = "stats_out"
AVERAGES_FILE = "averages.txt"
LOCK_FILE = ".stats.lock"


class DamagedStatsFile(ValueError):
    """A statistics file exists but is not valid JSON or not a minidl statistics document."""


class StatsWriteError(OSError):
    """A statistics file or folder cannot be written (read-only, a file in place of the folder, disk full).

    Its message is one line naming the path and the reason; the previous file is intact.
    """


@dataclasses.dataclass
class SaveResult:
    """Where `append_run` put a run, what it had to work around, and the refreshed summary rows."""

    path: Path
    damaged: Path | None = None
    damaged_reason: str | None = None
    rows: list = dataclasses.field(default_factory=list)
    skipped: list = dataclasses.field(default_factory=list)
    averages_problem: str | None = None  # why averages.txt could not be refreshed (the run itself is saved)


def sanitize_name(name) -> str:
    """A safe file name from a model name: letters, digits, '.', '_' and '-' only, no leading dot."""
    cleaned = re.sub(r"[^A-Za-z0-9._-]+", "_", str(name)).strip("._")[:100]
    return cleaned or "model"


def stats_path(out_dir, model_name) -> Path:
    """The JSON file holding `model_name`'s runs in `out_dir`."""
    return Path(out_dir) / f"{sanitize_name(model_name)}.json"


def save_run(run: dict, out_dir=DEFAULT_DIR, model_name=None, *, path=None, render=None) -> SaveResult:
    """Save `run` into its model's JSON file, replacing the saved run with the same id or appending it.

    All under the folder lock, with the file replaced atomically. `path` (a `SaveResult.path`
    from an earlier save of this run) keeps a run that went to a recovery file in that file.
    Given `render(rows, skipped, files) -> text` (the caller passes `minidl.stats.render_text`: this
    module only keeps files and does not know how they are shown), averages.txt is regenerated
    too; without it (the saves while a run trains) it is not; when that fails, the run is saved all the
    same and `SaveResult.averages_problem` says why. If the model's file is damaged it is left
    byte-for-byte untouched and the run goes to a new ``<model>.recovered-<timestamp>.json``
    (the caller warns: `SaveResult.damaged`). Raises StatsWriteError when nothing could be written.
    """
    out_dir = Path(out_dir)
    model_name = model_name or run.get("settings", {}).get("model") or "model"
    path = Path(path) if path is not None else stats_path(out_dir, model_name)
    _prepare_folder(out_dir)
    # Ctrl-C / SIGTERM handlers run after the rewrite. Not a signal mask: a process-directed signal would
    # then go to an unmasked thread (BLAS's), and Python still raises it in the main thread at once.
    with folder_lock(out_dir), deferred_signals():
        result = _save_locked(run, path, model_name)
        if render is not None:
            try:
                result.rows, result.skipped = write_averages(out_dir, render)
            except Exception as error:  # the run is saved: say what failed, not that the run was lost
                reason = str(error) if isinstance(error, StatsWriteError) else f"{type(error).__name__}: {error}"
                result.averages_problem = reason
    return result


def append_run(run: dict, out_dir=DEFAULT_DIR, model_name=None, render=None) -> SaveResult:
    """Add a finished `run` to its model's JSON file and, given `render`, regenerate averages.txt.

    See `save_run` (a run with the id of a saved one replaces it); warns when the file was damaged.
    """
    result = save_run(run, out_dir, model_name, render=render)
    if result.damaged:
        warn_damaged(result)
    return result


def warn_damaged(result: SaveResult):
    """Warn that a damaged statistics file was left alone and where the run went instead."""
    warn(
        f"minidl.stats: {result.damaged} is damaged ({result.damaged_reason}); it was left untouched "
        f"and this run was saved to {result.path} instead. Repair or move {result.damaged.name} "
        "so later runs are appended to it again."
    )


def _prepare_folder(out_dir: Path):
    """Create the statistics folder if needed; StatsWriteError (one line) when it cannot be or is not writable."""
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except FileExistsError:
        raise StatsWriteError(f"cannot write statistics to {out_dir}: it is a file, not a folder") from None
    except OSError as error:
        raise StatsWriteError(f"cannot create the statistics folder {out_dir}: {_reason(error)}") from None
    if not out_dir.is_dir():
        raise StatsWriteError(f"cannot write statistics to {out_dir}: it is not a folder")
    if not os.access(out_dir, os.W_OK | os.X_OK):
        raise StatsWriteError(f"cannot write statistics to {out_dir}: the folder is not writable")


def _save_locked(run: dict, path: Path, model_name: str) -> SaveResult:
    try:
        document = read_document(path)
    except DamagedStatsFile as error:
        recovered = write_new_file(_recovery_names(path), dump_document(new_document(model_name, [run])))
        return SaveResult(recovered, damaged=path, damaged_reason=str(error))
    document = document or new_document(model_name, [])
    runs = document["runs"]
    index = next((i for i, saved in enumerate(runs) if run.get("id") and saved.get("id") == run.get("id")), None)
    if index is None:
        runs.append(run)
    else:
        runs[index] = run
    atomic_write(path, dump_document(document))
    return SaveResult(path)


def new_document(model_name: str, runs: list) -> dict:
    """A statistics document: format name, format version, model name and its list of runs."""
    return {"format": FORMAT, "version": VERSION, "model": model_name, "runs": list(runs)}


def dump_document(document: dict) -> str:
    """Strict JSON text of a document, one run per line (appending a run adds one line to a git diff)."""
    head = {key: value for key, value in document.items() if key != "runs"}
    runs = ",\n".join(json.dumps(json_safe(run), allow_nan=False) for run in document["runs"])
    head_text = json.dumps(json_safe(head), allow_nan=False)[:-1]
    return f'{head_text}, "runs": [\n{runs}\n]}}\n' if runs else f'{head_text}, "runs": []}}\n'


def json_safe(value):
    """`value` with numpy scalars/arrays and tuples made plain, and NaN/infinity made None (strict JSON)."""
    if isinstance(value, dict):
        return {str(key): json_safe(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(item) for item in value]
    if hasattr(value, "tolist") and not isinstance(value, (str, bytes)):
        return json_safe(value.tolist())
    if isinstance(value, float):
        return json_number(value)
    return value


def read_document(path) -> dict | None:
    """The statistics document in `path`, None if there is no file; DamagedStatsFile if unreadable."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError) as error:
        raise DamagedStatsFile(f"cannot be read: {error}") from None
    try:
        document = json.loads(text)
    except json.JSONDecodeError as error:
        raise DamagedStatsFile(f"not valid JSON: {error}") from None
    _check_document(document)
    return document


def _check_document(document):
    if not isinstance(document, dict) or document.get("format") != FORMAT:
        raise DamagedStatsFile(f"not a {FORMAT} document")
    version = document.get("version")
    if not isinstance(version, int) or not 1 <= version <= VERSION:
        raise DamagedStatsFile(f"format version {version!r} is not supported (this minidl reads 1 to {VERSION})")
    runs = document.get("runs")
    if not isinstance(runs, list) or not all(isinstance(run, dict) for run in runs):
        raise DamagedStatsFile("'runs' is not a list of runs")


@contextlib.contextmanager
def folder_lock(out_dir):
    """Hold an exclusive flock on ``<out_dir>/.stats.lock`` (the lock file is never deleted: that would race)."""
    lock_path = Path(out_dir) / LOCK_FILE
    try:
        handle = open(lock_path, "a")
    except OSError as error:
        raise StatsWriteError(f"cannot write {lock_path}: {_reason(error)}") from None
    with handle:
        if fcntl is not None:
            fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            if fcntl is not None:
                fcntl.flock(handle, fcntl.LOCK_UN)


def atomic_write(path, text: str):
    """Replace `path` with `text` all at once: readers and crashes see the old or the new file, never half."""
    path = Path(path)
    try:
        with _temporary_with(path, text) as temporary:
            os.replace(temporary, path)
    except StatsWriteError:
        raise
    except OSError as error:
        raise StatsWriteError(f"cannot write {path}: {_reason(error)}") from None


def write_new_file(candidates, text: str) -> Path:
    """Write `text` to the first of `candidates` that does not exist yet; never overwrites a file."""
    candidates = iter(candidates)
    first = next(candidates)
    with _temporary_with(first, text) as temporary:
        for path in (first, *candidates):
            try:
                os.link(temporary, path)  # atomic, and fails if `path` exists
                return path
            except FileExistsError:
                continue
            except OSError:  # no hard links on this file system: exclusive create (still never clobbers)
                try:
                    with open(path, "x", encoding="utf-8") as file:
                        file.write(text)
                    return path
                except FileExistsError:
                    continue
    raise FileExistsError("no free file name for the recovered statistics")


@contextlib.contextmanager
def _temporary_with(path: Path, text: str):
    """A hidden temporary beside `path` holding `text`, flushed to disk (same file system, so replace and
    link are atomic; see `utils.temporaries`); removed at the end of the block if still there."""
    try:
        with temporary_beside(path) as (handle, temporary):
            with os.fdopen(os.dup(handle), "w", encoding="utf-8") as file:
                file.write(text)
                file.flush()
                os.fsync(file.fileno())
            os.chmod(temporary, 0o644)
            yield temporary
    except OSError as error:
        if isinstance(error, (StatsWriteError, FileExistsError)):
            raise
        raise StatsWriteError(f"cannot write {path}: {_reason(error)}") from None


def _reason(error: OSError) -> str:
    """The readable part of an OSError: 'No space left on device', not the errno tuple and path again."""
    return error.strerror or str(error) or type(error).__name__


def _recovery_names(path: Path):
    """``<model>.recovered-<timestamp>.json``, then ``...-2.json``, ``...-3.json``..."""
    stamp = datetime.datetime.now().strftime("%Y%m%dT%H%M%S")
    stem = f"{path.stem}.recovered-{stamp}"
    yield path.with_name(f"{stem}.json")
    for number in range(2, 10_000):
        yield path.with_name(f"{stem}-{number}.json")


def load_runs(out_dir=DEFAULT_DIR):
    """All valid runs of all statistics files in `out_dir`: (runs, number of files read, skipped).

    `skipped` lists (what, reason) pairs: damaged files as ``"<file>"``, malformed runs (a field
    of the wrong type, see `run_problem`) as ``"<file> run <n> (id <id>)"``, so the summary only
    ever sees runs it can trust and the user sees what was left out. A run saved as ``running``
    whose process is gone is returned as ``killed`` (see `mark_killed`); one whose process still
    runs (or runs on another host) is listed in `skipped` as in progress, not summarised yet.
    """
    out_dir = Path(out_dir)
    runs, files, skipped = [], 0, []
    paths = sorted(out_dir.glob("*.json")) if out_dir.is_dir() else []
    for path in paths:
        if path.name.startswith("."):
            continue
        try:
            document = read_document(path)
        except DamagedStatsFile as error:
            skipped.append((path.name, str(error)))
            continue
        if document is None:
            continue
        files += 1
        for number, run in enumerate(document["runs"], 1):
            problem = run_problem(run)
            if problem:
                skipped.append((_run_label(path, number, run), f"malformed run: {problem}"))
            else:
                run = mark_killed(run)
                if run.get("status") == "running":  # still training (or on a host that cannot be checked)
                    skipped.append((_run_label(path, number, run), _in_progress(run)))
                else:
                    runs.append(run)
    return runs, files, skipped


def _run_label(path: Path, number: int, run: dict) -> str:
    run_id = run.get("id")
    return f"{path.name} run {number}" + (f" (id {run_id})" if isinstance(run_id, str) else "")


def _in_progress(run: dict) -> str:
    where = f"pid {run.get('pid')} on {run.get('host')}" if run.get("pid") else "a process"
    return (
        f"in progress: recorded as running by {where}, {len(run.get('epochs') or [])} epoch(s) so far; "
        "summarised once it ends"
    )


def write_averages(out_dir, render):
    """Regenerate ``<out_dir>/averages.txt`` from every JSON file there with `render(rows, skipped, files)`
    (e.g. `minidl.stats.render_text`); returns (rows, skipped).

    Call under the lock.
    """
    runs, files, skipped = load_runs(out_dir)
    rows = summarize(runs)
    atomic_write(Path(out_dir) / AVERAGES_FILE, render(rows, skipped, files))
    return rows, skipped


def json_number(value):
    """A JSON-safe float: None for missing, NaN or infinite values."""
    if value is None:
        return None
    value = float(value)
    return value if math.isfinite(value) else None


def warn(message: str):
    """Warn through `warnings` (for code and tests) and print it (the warnings filter may hide repeats)."""
    warnings.warn(message, RuntimeWarning, stacklevel=3)
    print(f"WARNING: {message}", file=sys.stderr, flush=True)

"""Statistics files: one JSON document of runs per model, written so that nothing is ever lost.

Files are written to a temporary file and `os.replace`d, and every read-append-write holds an
`fcntl.flock` on ``<out_dir>/.stats.lock``, so Ctrl-C never leaves half a file and two runs ending
together both land. A statistics file that cannot be read is never overwritten: the run goes to a
new ``<model>.recovered-<timestamp>.json`` beside it, with a warning naming both files.
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
import tempfile
import warnings
from pathlib import Path

from .summary import summarize

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


@dataclasses.dataclass
class SaveResult:
    """Where `append_run` put a run, what it had to work around, and the refreshed summary rows."""

    path: Path
    damaged: Path | None = None
    damaged_reason: str | None = None
    rows: list = dataclasses.field(default_factory=list)
    skipped: list = dataclasses.field(default_factory=list)


def sanitize_name(name) -> str:
    """A safe file name from a model name: letters, digits, '.', '_' and '-' only, no leading dot."""
    cleaned = re.sub(r"[^A-Za-z0-9._-]+", "_", str(name)).strip("._")[:100]
    return cleaned or "model"


def stats_path(out_dir, model_name) -> Path:
    """The JSON file holding `model_name`'s runs in `out_dir`."""
    return Path(out_dir) / f"{sanitize_name(model_name)}.json"


def append_run(run: dict, out_dir=DEFAULT_DIR, model_name=None, render=None) -> SaveResult:
    """Append `run` to its model's JSON file and, given `render`, regenerate averages.txt, all under the lock.

    `render(rows, skipped, files) -> text` is the renderer of averages.txt (`minidl.stats.render_text`);
    it is passed in so that this module, which only keeps files, does not depend on how they are shown.

    Safe against concurrent writers (flock) and crashes (temporary file + os.replace). If the
    model's file is damaged it is left byte-for-byte untouched and the run goes to a new
    ``<model>.recovered-<timestamp>.json``; a warning names both files.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    model_name = model_name or run.get("settings", {}).get("model") or "model"
    path = stats_path(out_dir, model_name)
    with folder_lock(out_dir):
        result = _append_locked(run, path, model_name)
        if render is not None:
            result.rows, result.skipped = write_averages(out_dir, render)
    if result.damaged:
        warn(
            f"minidl.stats: {result.damaged} is damaged ({result.damaged_reason}); it was left untouched "
            f"and this run was saved to {result.path} instead. Repair or move {result.damaged.name} "
            "so later runs are appended to it again."
        )
    return result


def _append_locked(run: dict, path: Path, model_name: str) -> SaveResult:
    try:
        document = read_document(path)
    except DamagedStatsFile as error:
        recovered = write_new_file(_recovery_names(path), dump_document(new_document(model_name, [run])))
        return SaveResult(recovered, damaged=path, damaged_reason=str(error))
    document = document or new_document(model_name, [])
    document["runs"].append(run)
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
    with open(Path(out_dir) / LOCK_FILE, "a") as handle:
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
    temporary = _write_temporary(path, text)
    try:
        os.replace(temporary, path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)


def write_new_file(candidates, text: str) -> Path:
    """Write `text` to the first of `candidates` that does not exist yet; never overwrites a file."""
    temporary = None
    try:
        for path in candidates:
            temporary = temporary or _write_temporary(path, text)
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
    finally:
        if temporary:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(temporary)
    raise FileExistsError("no free file name for the recovered statistics")


def _write_temporary(path: Path, text: str) -> str:
    """Write `text` to a hidden temporary file beside `path` (same file system, so replace/link are atomic)."""
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as file:
            file.write(text)
            file.flush()
            os.fsync(file.fileno())
        os.chmod(temporary, 0o644)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)
        raise
    return temporary


def _recovery_names(path: Path):
    """``<model>.recovered-<timestamp>.json``, then ``...-2.json``, ``...-3.json``..."""
    stamp = datetime.datetime.now().strftime("%Y%m%dT%H%M%S")
    stem = f"{path.stem}.recovered-{stamp}"
    yield path.with_name(f"{stem}.json")
    for number in range(2, 10_000):
        yield path.with_name(f"{stem}-{number}.json")


def load_runs(out_dir=DEFAULT_DIR):
    """All runs of all statistics files in `out_dir`: (runs, number of files read, [(file name, reason skipped)])."""
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
        if document is not None:
            runs.extend(document["runs"])
            files += 1
    return runs, files, skipped


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

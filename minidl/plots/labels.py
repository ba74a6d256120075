"""Short texts for the statistics pictures: what a section (comparable runs) and a column (a parallel
configuration) are called in titles, legends and tick labels; and the runs those pictures take."""

from __future__ import annotations

from .. import stats

_FORMATS = {
    "model": "{}",
    "setup": "setup {}",
    "dataset": "data {}",
    "hostname": "host {}",
    "samples": "{} samples",
    "val_samples": "{} val",
    "batch_size": "batch {}",
    "epochs": "{} epochs",
}


def section_labels(keys) -> dict[tuple, str]:
    """A short label per section key, naming only what differs between the sections given."""
    keys = list(dict.fromkeys(keys))
    names = dict(zip(stats.SECTION_FIELDS, range(len(stats.SECTION_FIELDS))))
    varying = [field for field in _FORMATS if len({key[names[field]] for key in keys}) > 1]
    return {key: ", ".join(_FORMATS[field].format(key[names[field]]) for field in varying) for key in keys}


def describe_section(key) -> str:
    """'mnist, batch 64, 60000 train / 10000 val samples, 3 epochs, host h' for a section key."""
    values = dict(zip(stats.SECTION_FIELDS, key))
    parts = [f"batch {values['batch_size']}", f"{values['samples']} train / {values['val_samples'] or 0} val samples"]
    if values["epochs"] is not None:
        parts.append(f"{values['epochs']} epoch{'s' if values['epochs'] != 1 else ''}")
    if values["dataset"]:
        parts.insert(0, str(values["dataset"]))
    parts.append(f"host {values['hostname']}")
    return ", ".join(parts)


def column_name(backend, workers, threads=None, show_threads=False) -> str:
    """'2 workers' / '4 ranks' (plus the backend when unusual, and the BLAS threads when asked)."""
    unit = "rank" if backend == "mpi" else "worker"
    text = f"{workers} {unit}{'s' if workers != 1 else ''}"
    if backend not in ("pool", "mpi"):
        text += f" ({backend})"
    if show_threads:
        text += f"\n{'?' if threads is None else threads} thread{'s' if threads != 1 else ''}"
    return text


def all_runs(runs_or_by_model) -> list:
    """A flat list of runs from {model: runs} or from a list of runs (the pictures accept either)."""
    if isinstance(runs_or_by_model, dict):
        return [run for runs in runs_or_by_model.values() for run in runs]
    return list(runs_or_by_model)

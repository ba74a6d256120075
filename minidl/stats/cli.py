"""Command line: ``python -m minidl.stats [DIR] [--json | --plot]``, ``python -m minidl.stats report [DIR]``
and ``python -m minidl.stats tensorboard [DIR] --logdir TB`` (run by ``__main__``).

Kept apart from ``__main__`` so that `main` can be imported (tests) without running it, and not
imported by ``minidl/stats/__init__.py``: this module draws with `minidl.plots`, which reads the stats
package, so the package itself must not import it (no import circle).
"""

from __future__ import annotations

import argparse
import json
import os
import sys

from .. import plots
from ..utils import terminal
from . import report
from . import tensorboard as board
from .render import print_summary
from .store import DEFAULT_DIR, VERSION, StatsWriteError, load_runs
from .summary import summarize

SUMMARY_FORMAT = "minidl-stats-summary"


def build_parser() -> argparse.ArgumentParser:
    """The command-line options of ``python -m minidl.stats``."""
    parser = argparse.ArgumentParser(
        prog="python -m minidl.stats",
        description="Summarise the training statistics saved by StatisticsTracker. "
        "`python -m minidl.stats report [DIR]` writes DIR/report.md with pictures instead; "
        "`python -m minidl.stats tensorboard [DIR] --logdir TB` writes every run for TensorBoard.",
    )
    parser.add_argument(
        "directory",
        nargs="?",
        default=DEFAULT_DIR,
        help=f"folder holding the statistics files (default: {DEFAULT_DIR})",
    )
    parser.add_argument("--json", action="store_true", help="print the summary rows as JSON instead of tables")
    parser.add_argument(
        "--plot",
        action="store_true",
        help="draw the folder's pictures into it instead, the same as `report` draws (docs/statistics.md "
        "lists them; needs the plot extra: pip install 'minidl[plot]')",
    )
    return parser


def main(argv=None) -> int:
    """Print the summary of a statistics folder (or, with --plot, draw it; with ``report``, write
    report.md); exit status 1 when it holds no runs."""
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv[:1] == ["report"]:
        return _report(argv[1:])
    if argv[:1] == ["tensorboard"]:
        return _tensorboard(argv[1:])
    args = build_parser().parse_args(argv)
    runs, files, skipped = load_runs(args.directory)
    if not runs:
        for name, reason in skipped:
            print(f"skipped {name}: {reason}", file=sys.stderr)
        nothing = "nothing to draw: no" if args.plot else "no"
        print(
            f"{nothing} statistics in {args.directory} (train with callbacks=[StatisticsTracker()] first)",
            file=sys.stderr,
        )
        return 1
    if args.plot:
        return _plot(args.directory, runs, skipped)
    rows = summarize(runs)
    try:
        if args.json:
            print(json.dumps(summary_document(rows, args.directory, files, skipped), indent=2))
        else:
            print_summary(rows, _cli_console(), skipped=skipped)
    except BrokenPipeError:  # output piped into e.g. `head`: not an error
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    return 0


def _plot(directory, runs, skipped) -> int:
    """``--plot``: draw the folder's pictures (minidl.plots) and print their paths; 1 when nothing can be drawn."""
    for name, reason in skipped:
        print(f"skipped {name}: {reason}", file=sys.stderr)
    try:
        paths = plots.plot_statistics(directory, runs=runs)
    except (ImportError, ValueError) as error:  # no matplotlib; no finished run to draw
        print(error, file=sys.stderr)
        return 1
    except OSError as error:  # a full disk, a read-only folder: the statistics themselves are untouched
        return _cannot_write("python -m minidl.stats --plot", directory, error)
    for path in paths:
        print(path)
    return 0


def _report(argv) -> int:
    """``report [DIR]``: write DIR/report.md (with pictures when matplotlib is installed)."""
    parser = argparse.ArgumentParser(
        prog="python -m minidl.stats report",
        description="Write DIR/report.md: speed-up tables, every section in full, and pictures (plot extra).",
    )
    parser.add_argument("directory", nargs="?", default=DEFAULT_DIR, help=f"statistics folder (default: {DEFAULT_DIR})")
    args = parser.parse_args(argv)
    try:
        path, pictures, missing = report.write_report(args.directory)
    except report.NoRuns as error:
        print(error, file=sys.stderr)
        return 1
    except OSError as error:
        return _cannot_write(parser.prog, args.directory, error)
    print(f"wrote {path}")
    for picture in pictures:
        print(f"wrote {picture}")
    if missing:
        print(f"no pictures: {missing}", file=sys.stderr)
    return 0


def _tensorboard(argv) -> int:
    """``tensorboard [DIR] --logdir TB``: every run not yet in TB as a TensorBoard run of its own."""
    parser = argparse.ArgumentParser(
        prog="python -m minidl.stats tensorboard",
        description="Write every recorded run of DIR as its own TensorBoard run in --logdir (runs exported "
        "before are left alone), then look at them with `tensorboard --logdir TB`. Needs the tensorboard extra.",
    )
    parser.add_argument("directory", nargs="?", default=DEFAULT_DIR, help=f"statistics folder (default: {DEFAULT_DIR})")
    parser.add_argument("--logdir", required=True, help="TensorBoard log folder to write the runs into")
    args = parser.parse_args(argv)
    try:
        exported, skipped = board.export_tensorboard(args.directory, args.logdir)
    except (ImportError, board.NoRuns, OSError) as error:
        print(f"{parser.prog}: error: {error}", file=sys.stderr)
        return 1
    for run in exported:
        speedup = ", with speed-up" if run["speedup"] else ", no one-worker run of its setup: no speed-up"
        print(f"wrote {run['path']} ({run['steps']} steps, {run['epochs']} epoch(s){speedup})")
    for name, reason in skipped:
        print(f"skipped {name}: {reason}", file=sys.stderr)
    print(f"look at them: tensorboard --logdir {args.logdir}")
    return 0


def _cannot_write(prog, directory, error: OSError) -> int:
    """One line for an output that could not be written (the statistics files are only read); exit status 1."""
    if isinstance(error, StatsWriteError):  # its message names the file and the reason
        what = str(error)
    else:
        what = f"cannot write in {directory}: {error.strerror or error or type(error).__name__}"
    print(f"{prog}: error: {what} (the statistics files are unchanged)", file=sys.stderr)
    return 1


def _cli_console():
    """A rich console; when piped, wide enough that tables are not wrapped."""
    console = terminal.console()
    return console if console.is_terminal else terminal.console(width=250)


def summary_document(rows: list, directory, files: int, skipped=()) -> dict:
    """The machine-readable summary printed by ``--json``."""
    return {
        "format": SUMMARY_FORMAT,
        "version": VERSION,
        "directory": str(directory),
        "files": files,
        "runs": sum(row["runs"] + row["interrupted"] + row["killed"] + row["failed"] for row in rows),
        "rows": rows,
        "skipped": [{"file": name, "reason": reason} for name, reason in skipped],
    }

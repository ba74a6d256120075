"""The training scripts' interrupt rules, in this process (trainings/common.py): when a Ctrl-C or SIGTERM
is deferred to the next step boundary, when it is raised at once, and what the one line says."""

from __future__ import annotations

import signal
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "trainings"))
import common

pytestmark = pytest.mark.faults


@pytest.fixture
def rules():
    """The interrupt state reset before and after, and the grace timer never left armed."""
    state = common._Interrupts
    state.training, state.pending, state.raised = False, None, False
    previous = signal.signal(signal.SIGALRM, signal.SIG_IGN)
    try:
        yield state
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
        state.training, state.pending, state.raised = False, None, False


def test_outside_training_an_interrupt_is_raised_at_once(rules):
    with pytest.raises(common.Terminated, match="SIGTERM"):
        common._on_signal(signal.SIGTERM, None)
    with pytest.raises(KeyboardInterrupt):
        common._on_signal(signal.SIGINT, None)


def test_during_training_it_waits_for_the_next_step_boundary(rules):
    guard = common.InterruptAtStepBoundary()
    guard.on_train_begin()
    common._on_signal(signal.SIGTERM, None)  # deferred: no exception here
    assert isinstance(rules.pending, common.Terminated)
    assert signal.getitimer(signal.ITIMER_REAL)[0] > 0  # the grace timer runs
    with pytest.raises(common.Terminated):
        guard.on_train_batch_end(3, {})  # any hook is a boundary
    assert rules.raised and rules.pending is None and signal.getitimer(signal.ITIMER_REAL)[0] == 0
    common._on_signal(signal.SIGTERM, None)  # a further SIGTERM during the clean-up is ignored
    with pytest.raises(KeyboardInterrupt):
        common._on_signal(signal.SIGINT, None)  # a further Ctrl-C is not: the user insists


def test_a_second_signal_or_the_grace_timer_raises_without_a_boundary(rules):
    rules.training = True
    common._on_signal(signal.SIGINT, None)
    with pytest.raises(KeyboardInterrupt):
        common._on_signal(signal.SIGINT, None)
    rules.raised = False
    common._on_signal(signal.SIGTERM, None)
    with pytest.raises(common.Terminated):
        common._on_grace_expired(signal.SIGALRM, None)


def tracker(status, epochs=2, path="stats/m.json"):
    run = {"status": "x", "epochs_completed": epochs}
    return SimpleNamespace(last_saved_status=status, run=run, recorded=Path(path))


@pytest.mark.parametrize(
    "saved, interrupt, line",
    [
        (None, KeyboardInterrupt(), "Interrupted (Ctrl-C) before training started: nothing was recorded."),
        (
            "interrupted",
            common.Terminated("SIGTERM"),
            "Terminated (SIGTERM): training stopped; the partial run is recorded as interrupted in "
            "stats/m.json (2 epoch(s) completed).",
        ),
        (
            "completed",
            KeyboardInterrupt(),
            "Interrupted (Ctrl-C) after training: the run is recorded as completed in stats/m.json "
            "(2 epoch(s) completed).",
        ),
        (
            "running",
            KeyboardInterrupt(),
            "Interrupted (Ctrl-C): the run's end could not be saved; stats/m.json (2 epoch(s) completed) "
            "keeps it as running (it will read as killed).",
        ),
    ],
    ids=["nothing", "interrupted", "after-training", "end-not-saved"],
)
def test_the_line_says_what_was_recorded(monkeypatch, saved, interrupt, line):
    monkeypatch.setattr(common, "_RECORDING", [tracker(saved)] if saved else [])
    assert common.interrupted_message(interrupt) == line

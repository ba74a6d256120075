"""Interrupts: SIGTERM seen as a Ctrl-C, and short critical sections that a Ctrl-C must not cut in half.

A batch scheduler, `timeout`, `kill` and mpiexec (passing a Ctrl-C on) stop a program with SIGTERM.
`Terminated` is that signal as a `KeyboardInterrupt`, so a run stopped either way is cleaned up and
recorded alike ("interrupted", with "SIGTERM" as the reason), and leaves with 128 + the signal.

A KeyboardInterrupt is raised between any two bytecodes of the main thread. Landing in the middle of
writing a message to a worker leaves half a message in the pipe (the worker then waits for the rest
and the parent for an answer that never comes); landing between creating a shared-memory segment and
remembering it leaks the segment. `deferred_signals()` holds SIGINT and SIGTERM back for the few
microseconds such a step takes and delivers them, to whatever handler was installed, right after.
"""

from __future__ import annotations

import contextlib
import signal
import threading

DEFERRED = (signal.SIGINT, signal.SIGTERM)


class Terminated(KeyboardInterrupt):
    """SIGTERM as a KeyboardInterrupt; `exit_code` is 128 + the signal (143 for SIGTERM)."""

    def __init__(self, message="SIGTERM", signum=signal.SIGTERM):
        super().__init__(message)
        self.exit_code = 128 + signum


def raise_terminated(signum, frame):
    """A signal handler: raise `Terminated` (install it for SIGTERM to treat it as a Ctrl-C)."""
    raise Terminated(f"terminated by signal {signum}", signum)


@contextlib.contextmanager
def deferred_signals():
    """Run the block with SIGINT / SIGTERM postponed to its end (main thread only; elsewhere a no-op).

    Only signals whose handler is Python code are deferred (a default SIGTERM still ends the process at
    once: there is nothing to clean up in a process that is gone). Keep the block short and never
    blocking: a Ctrl-C waits for it.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    caught: list[int] = []
    previous = {}
    try:
        for signum in DEFERRED:
            handler = signal.getsignal(signum)
            if callable(handler):
                previous[signum] = handler
                signal.signal(signum, lambda number, frame: caught.append(number))
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
        for signum in dict.fromkeys(caught):
            handler = previous[signum]
            handler(signum, None)

"""Warnings that point at the user's line, however deep in minidl they are raised."""

from __future__ import annotations

import sys
import warnings


def user_stacklevel() -> int:
    """The `warnings.warn` stacklevel of the first caller outside minidl (and contextlib).

    `fit(workers=N)` reaches the code that warns through several minidl modules; a fixed stacklevel
    would point at one of them instead of the user's call.
    """
    frame, level = sys._getframe(1), 1
    while frame is not None and frame.f_globals.get("__name__", "").partition(".")[0] in ("minidl", "contextlib"):
        frame, level = frame.f_back, level + 1
    return level


def warn(message, category=RuntimeWarning):
    """`warnings.warn(message, category)` attributed to the user's line."""
    warnings.warn(message, category, stacklevel=user_stacklevel())

"""How every command-line entry point ends: bad input gets one line and exit code 2, never a traceback.

A script's ``main(argv) -> int`` is decorated with ``entry_point`` (or runs inside ``run_main``).
What a user can cause (a wrong value, a missing or unreadable file, a full disk) is a
``ValueError`` or ``OSError`` and prints as
``error: <what was given, where, what is expected>``. Anything else is a bug: it prints one line
too, saying so. ``HOCKEY_LEAGUE_DEBUG=1`` shows the traceback instead.
"""

from __future__ import annotations

import functools
import os
import sys

DEBUG_VARIABLE = "HOCKEY_LEAGUE_DEBUG"
BAD_INPUT_EXIT = 2
# FloatingPointError: a diverged run refuses to save; the user changes a setting and resumes.
BAD_INPUT = (ValueError, OSError, FloatingPointError)


def one_line(error: BaseException) -> str:
    """The error's message on one line (a multi-line message keeps its first line)."""
    text = str(error).strip()
    if isinstance(error, OSError) and error.strerror:
        text = f"{error.filename}: {error.strerror}" if error.filename else error.strerror
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return lines[0] if lines else type(error).__name__


def debugging() -> bool:
    return os.environ.get(DEBUG_VARIABLE, "") not in ("", "0")


def run_main(main, argv: list[str] | None = None) -> int:
    """Run ``main(argv)`` and turn what it raises into one line on stderr and an exit code."""
    try:
        return main(argv)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except BAD_INPUT as error:
        if debugging():
            raise
        print(f"error: {one_line(error)}", file=sys.stderr)
        return BAD_INPUT_EXIT
    except Exception as error:  # a bug: still one line, and the way to see more
        if debugging():
            raise
        message = f"internal error: {type(error).__name__}: {one_line(error)} (set {DEBUG_VARIABLE}=1 to see where)"
        print(message, file=sys.stderr)
        return 1


def entry_point(main):
    """Decorate a script's ``main(argv) -> int`` so that calling it never raises for bad input."""

    @functools.wraps(main)
    def guarded(argv: list[str] | None = None) -> int:
        return run_main(main, argv)

    return guarded

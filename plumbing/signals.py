"""Stopping cleanly on a signal: Ctrl-C, a kill, or SLURM's warning before the time limit.

Inside ``stop_signals(on_stop)`` those signals call ``on_stop(name)`` instead of ending the
process, so a long job can finish its step, save and return. A SIGINT that was ignored when the
process started (a shell's background job) stays ignored.
"""

from __future__ import annotations

import contextlib
import signal

STOP_SIGNALS = ("SIGINT", "SIGTERM", "SIGUSR1")  # Ctrl-C, a kill, SLURM's warning before the time limit


@contextlib.contextmanager
def stop_signals(on_stop):
    """While inside, SIGINT, SIGTERM and SIGUSR1 call ``on_stop(signal name)`` instead of killing
    the process (so it can save and return); the previous handlers come back on exit. Outside the
    main thread, where Python cannot install handlers, it does nothing: the caller handles signals."""
    previous = {}

    def handler(signum, frame):
        on_stop(signal.Signals(signum).name)

    for name in STOP_SIGNALS:
        number = getattr(signal, name, None)
        if number is None:
            continue
        if name == "SIGINT" and signal.getsignal(number) == signal.SIG_IGN:
            continue  # started in the background (`cmd &`): Ctrl-C is meant for the foreground job
        try:
            previous[number] = signal.signal(number, handler)
        except ValueError:  # not the main thread
            pass
    try:
        yield
    finally:
        for number, old in previous.items():
            signal.signal(number, old)

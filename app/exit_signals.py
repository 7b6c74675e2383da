"""SIGTERM, SIGHUP and SIGINT end a command as Ctrl-C does, with nothing half-written left behind.

``raising_signals`` (installed by the CLI's main around every command) turns SIGTERM and SIGHUP into
``Terminated`` and SIGINT into KeyboardInterrupt, raised in the main thread: the stack unwinds, so every
output being written is deleted beside its target (engine.outputs.atomic_output; an existing file at the
target stays exactly as it was), and main exits with the conventional status 128 + the signal's number
(143, 129, 130). A command that can end early with a complete output (``phasefold stream``: a complete WAV
of what was produced, exit status 0) or that runs an event loop (the GUI, where an exception raised in a Qt
callback aborts the process) installs ``calling_on_signals`` for that part instead.

A signal that the process was started with ignored (``nohup`` ignores SIGHUP) stays ignored. After the first
signal, further ones are ignored until the handlers are restored, so the cleanup it started is not cut short.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

#: the signals that end a command: Ctrl-C, ``kill`` (and a service manager's stop), a closed terminal
EXIT_SIGNALS: tuple[signal.Signals, ...] = tuple(
    getattr(signal, name) for name in ("SIGINT", "SIGTERM", "SIGHUP") if hasattr(signal, name)
)


class Terminated(KeyboardInterrupt):
    """Raised in the main thread by SIGTERM or SIGHUP (``signum``); handled as an interruption."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = int(signum)

    def __str__(self) -> str:
        return signal.Signals(self.signum).name


def exit_status(exc: KeyboardInterrupt) -> int:
    """The conventional exit status of a command ended by a signal: 128 + its number (SIGINT for a plain
    KeyboardInterrupt): 143 for SIGTERM, 129 for SIGHUP, 130 for Ctrl-C."""
    return 128 + (exc.signum if isinstance(exc, Terminated) else int(signal.SIGINT))


def interruption(signum: int) -> KeyboardInterrupt:
    """The exception a signal raises: KeyboardInterrupt for SIGINT, else ``Terminated``."""
    return KeyboardInterrupt() if signum == signal.SIGINT else Terminated(signum)


def _raise(signum: int, frame) -> None:
    _ignore_exit_signals()
    raise interruption(signum)


def _ignore_exit_signals() -> None:
    for sig in EXIT_SIGNALS:
        if signal.getsignal(sig) is not signal.SIG_IGN:
            signal.signal(sig, signal.SIG_IGN)


@contextmanager
def _handled(handler: Callable[[int, object], None]) -> Iterator[None]:
    """``handler`` for the exit signals not ignored, the previous handlers back at the end (main thread
    only: elsewhere Python cannot set handlers and nothing changes)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {sig: signal.getsignal(sig) for sig in EXIT_SIGNALS}
    try:
        for sig, old in previous.items():
            if old is not signal.SIG_IGN:
                signal.signal(sig, handler)
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old if old is not None else signal.SIG_DFL)


@contextmanager
def raising_signals() -> Iterator[None]:
    """Within the block SIGTERM and SIGHUP raise ``Terminated``, SIGINT KeyboardInterrupt (once)."""
    with _handled(_raise):
        yield


@contextmanager
def calling_on_signals(callback: Callable[[int], None]) -> Iterator[None]:
    """Within the block the exit signals call ``callback(signum)`` (it must return soon: stop a stream, close
    a window) instead of raising."""
    with _handled(lambda signum, frame: callback(signum)):
        yield

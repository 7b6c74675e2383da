"""Opening a stream off the GUI thread: ``Stream.open`` compiles a method family's kernels at its first use
(seconds; cached on disk for later starts), so it runs on a thread and its compile progress
(engine.compiled.progress) reaches the window as events while the window stays responsive."""

from __future__ import annotations

import queue
import threading

from phasefold.engine.compiled.progress import CompileProgress, reporting_compiles
from phasefold.engine.stft import StftConfig


class StreamOpener:
    """``Stream.open(method, cfg, ...)`` on a daemon thread. ``events`` receives the CompileProgress of
    each kernel compiled meanwhile, then None once ``stream`` (or ``error``) is set."""

    def __init__(self, method: str, cfg: StftConfig, lookahead: int, block: int, backend: str) -> None:
        self.events: queue.SimpleQueue[CompileProgress | None] = queue.SimpleQueue()
        self.stream = None
        self.error: Exception | None = None  # a PhasefoldError, or (a bug) anything else it raised
        self._args = (method, cfg)
        self._options = {"lookahead": lookahead, "block": block, "backend": backend}
        self._thread = threading.Thread(target=self._run, name="phasefold-open", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def _run(self) -> None:
        from phasefold.engine.streaming import Stream

        try:
            with reporting_compiles(self.events.put):
                self.stream = Stream.open(*self._args, **self._options)
        except Exception as exc:  # reported in the window: a PhasefoldError's line, else its type too
            self.error = exc
        finally:
            self.events.put(None)


def compiling_text(family: str, progress: CompileProgress) -> str:
    """What the window says while a kernel compiles, e.g. "compiling admm kernels (3 of 8)"."""
    return f"compiling {family} kernels ({progress.done} of {progress.total})"

"""File and demo sources at live pace: ``PacedSource`` releases an in-memory source's frames as a live
input would, a little early, and holds them while the stream is paused."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator

import numpy as np
from phasefold.engine.streaming.sources import Source

LEAD_S = 0.25  # how far ahead of real time the worker may run (the sink's cushion)


class PacedSource(Source):
    """The frames of an in-memory source released at live pace, ``LEAD_S`` early; ``hold`` pauses them.

    Paused time does not count, so a resumed stream continues at live pace instead of catching up.
    ``on_hold(True / False)`` runs on the worker thread when the hold starts and ends (the GUI pauses
    the audio device there, so that a held stream counts no under-runs).
    """

    def __init__(self, inner, on_hold: Callable[[bool], None] | None = None) -> None:
        super().__init__(inner.cfg, realtime=True)
        self.inner = inner
        self.name, self.notes = inner.name, inner.notes
        self.reference, self.length = inner.reference, inner.length
        self.on_hold = on_hold
        self._resume = threading.Event()
        self._resume.set()

    @property
    def n_frames(self) -> int:
        return self.inner.n_frames

    def hold(self, on: bool) -> None:
        if on:
            self._resume.clear()
        else:
            self._resume.set()

    @property
    def held(self) -> bool:
        return not self._resume.is_set()

    def stop(self) -> None:
        super().stop()
        self._resume.set()

    def blocks(self, block: int) -> Iterator[np.ndarray]:
        self._stop.clear()
        period = self.cfg.hop / self.cfg.sample_rate
        t0, held, done = time.perf_counter(), 0.0, 0
        for chunk in self.inner.blocks(block):
            if not self._resume.is_set():
                h0 = time.perf_counter()
                if self.on_hold:
                    self.on_hold(True)
                self._resume.wait()
                held += time.perf_counter() - h0
                if self.on_hold:
                    self.on_hold(False)
            done += chunk.shape[0]
            delay = t0 + held + done * period - LEAD_S - time.perf_counter()
            if self._stop.is_set() or (delay > 0 and self._stop.wait(delay)):
                return
            yield chunk

"""Live scoring: a thread that scores the last seconds of the stream with STOI / ESTOI
(engine.evaluation), so that scoring never delays audio."""

from __future__ import annotations

import queue
import threading
import warnings

import numpy as np
from phasefold.gui.events import ScoreEvent


class Scorer(threading.Thread):
    """Scores (reference, estimate) windows with STOI and ESTOI off the audio path."""

    def __init__(self, events: queue.SimpleQueue, sample_rate: int) -> None:
        super().__init__(name="phasefold-scores", daemon=True)
        self.jobs: queue.Queue = queue.Queue()
        self.events = events
        self.sample_rate = sample_rate

    def submit(self, t: float, ref: np.ndarray, est: np.ndarray, always: bool = False) -> None:
        """Queue a window, unless one is still waiting (scores never pile up behind the audio)."""
        if always or self.jobs.empty():
            self.jobs.put((t, ref, est))

    def finish(self, timeout: float = 10.0) -> None:
        """Score what is queued, then end the thread."""
        self.jobs.put(None)
        self.join(timeout)

    def run(self) -> None:
        from phasefold.engine.evaluation import estoi, stoi

        while (job := self.jobs.get()) is not None:
            t, ref, est = job
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # pystoi warns on windows with too few speech frames
                s = stoi(ref, est, self.sample_rate)
                e = estoi(ref, est, self.sample_rate)
            if s > 1e-4:  # pystoi returns 1e-5 when the window has no speech frame to score
                self.events.put(ScoreEvent(t, s, e))

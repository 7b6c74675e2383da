"""What the listener hears: ``MonitorSink``, in front of the real audio sink, applies the volume and the
A/B switch (the time-aligned original instead of the reconstruction) and stops the device while the
stream is held."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from phasefold.engine.streaming.sinks import Sink


class MonitorSink(Sink):
    """What the listener hears: the reconstruction or (A/B) the time-aligned original, at a volume."""

    def __init__(self, inner: Sink, offset: int, original: Callable[[int, int], np.ndarray]) -> None:
        super().__init__(inner.sample_rate)
        self.inner = inner
        self.name, self.live = inner.name, inner.live
        self.offset = offset
        self.original = original  # (output index, n) -> the reference at those output indices
        self.volume = 1.0
        self.play_original = False

    @property
    def underruns(self) -> int:
        """The inner sink's count."""
        return self.inner.underruns

    def write(self, samples: np.ndarray) -> None:
        n = int(np.size(samples))
        play = self.original(self.samples_written, n) if self.play_original else samples
        self.inner.write(np.asarray(play, dtype=np.float32) * np.float32(self.volume))
        self.samples_written += n

    def hold(self, on: bool) -> None:
        """Stop the device while the stream is held (sinks without a pause ignore it)."""
        if on and hasattr(self.inner, "pause"):
            self.inner.pause()

    def close(self) -> None:
        self.inner.close()
        super().close()

    def describe(self) -> str:
        return self.inner.describe()

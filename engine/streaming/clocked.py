"""A sound card without hardware: the device model that benchmarks and tests play into.

``ClockedSink`` binds an ``AudioRing`` (0.5 s, 0.1 s prefill, as ``SoundDeviceSink``) to a clock instead
of PortAudio: once the prefill is buffered the device reads one block every ``blocksize / sample_rate``
seconds of ``clock``. The reads that fell due are done whenever the producer comes back (a write, a wait
while the ring is full, ``close``), in order and before the new samples go in, so a producer that stalls
starves exactly the reads a real device would, and the ring counts the gap once. With a fake clock
everything is deterministic.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np
from phasefold.engine.streaming.ring import AudioRing
from phasefold.engine.streaming.sinks import Sink


class ClockedSink(Sink):
    """Plays into a ring read at the sample rate of ``clock`` (a device model: nothing is heard)."""

    name = "simulated device"
    live = True

    def __init__(
        self,
        sample_rate: int,
        buffer_seconds: float = 0.5,
        prefill_seconds: float = 0.1,
        blocksize: int = 256,
        clock: Callable[[], float] = time.perf_counter,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        super().__init__(sample_rate)
        capacity = max(int(buffer_seconds * sample_rate), 4 * blocksize)
        prefill = min(int(prefill_seconds * sample_rate), capacity // 2)
        self.period = blocksize / self.sample_rate  # seconds between the device's reads
        self.ring = AudioRing(capacity, prefill, clock, sleep, poll_s=self.period)
        self._block = np.zeros(blocksize, dtype=np.float32)
        self._t0: float | None = None  # clock time of the first read since the device (re)started
        self.reads = 0  # reads since then

    @property
    def underruns(self) -> int:
        """Gaps in the device's audio (the ring's count)."""
        return self.ring.underruns

    @property
    def min_margin_s(self) -> float | None:
        """The least audio the ring held after a device read (None before the first one)."""
        low = self.ring.low_water
        return None if low is None else low / self.sample_rate

    def _advance(self) -> bool:
        """Do the device's reads that are due by now, starting the device once the prefill is buffered;
        True (the simulated device never stops)."""
        now = self.ring.clock()
        if self._t0 is None and self.ring.buffered >= self.ring.prefill:
            self._t0, self.reads = now, 0
        while self._t0 is not None and self._t0 + self.reads * self.period <= now:
            self.ring.read(self._block)
            self.reads += 1
        return True

    def write(self, samples: np.ndarray) -> None:
        x = np.asarray(samples, dtype=np.float32).reshape(-1)
        self._advance()
        self.ring.write(x, on_full=self._advance)
        self._advance()
        self.samples_written += x.size

    def pause(self) -> None:
        """Stop the device: what is buffered stays; the next write restarts it once the prefill is there."""
        self._advance()
        self._t0 = None
        self.ring.pause()

    def close(self) -> None:
        """Let the device play what is buffered (in ``clock`` time), then stop."""
        self.ring.finish()
        if self._t0 is None:
            self._t0, self.reads = self.ring.clock(), 0
        self.ring.drain(self.ring.buffered / self.sample_rate + 1.0, self._advance)
        super().close()

"""The audio ring: a preallocated single-producer single-consumer float32 FIFO with under-run accounting.

The producer (a worker thread) writes and waits while the ring is full; the consumer (an audio callback)
reads a block at a time and never waits, blocks or allocates a sample buffer. Positions are counts of
samples ever written and read, each advanced by one side only and after its copy (publication under the
GIL; no locks). The storage is mirrored as in friture's ring buffer: every sample is stored at ``i`` and
``i + capacity``, so any read of up to ``capacity`` samples is one contiguous view.

Under-runs: nothing is played until the ring has held ``prefill`` samples once (reads before that play
silence and take nothing). After that, a read is *starved* when it finds fewer samples than asked: it
plays what there is, then zeros. A *gap* is a maximal run of consecutive starved reads, and ``underruns``
counts gaps: one at the first starved read of each gap, none at the others, and the first read that is
served in full ends it. A read counts at most one under-run, so one callback never counts two. ``pause``
(the consumer stopped) ends a gap and waits for the prefill again; after ``finish`` (no more audio) short
reads are the end of the audio, not under-runs, and ``drain`` waits until it is all read.

Anything time-based (the producer's waits) goes through the injected ``clock`` and ``sleep``, so that
tests can run the ring on a fake clock.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np


class AudioRing:
    """A bounded SPSC float32 FIFO between a producer that may wait and a consumer that never does."""

    def __init__(
        self,
        capacity: int,
        prefill: int = 0,
        clock: Callable[[], float] = time.perf_counter,
        sleep: Callable[[float], None] = time.sleep,
        poll_s: float = 0.005,
    ) -> None:
        if capacity < 1 or not 0 <= prefill <= capacity:
            raise ValueError(f"a ring of {capacity} samples cannot wait for a prefill of {prefill}")
        self.capacity = int(capacity)
        self.prefill = int(prefill)
        self.clock, self.sleep, self.poll_s = clock, sleep, poll_s
        self._buf = np.zeros(2 * self.capacity, dtype=np.float32)  # mirrored: sample i at i and i + capacity
        self._write_pos = 0  # samples ever written (producer only)
        self._read_pos = 0  # samples ever read (consumer only)
        self._playing = False  # the prefill was reached (consumer only; ``pause`` resets it)
        self._in_gap = False  # the last read was starved (consumer only)
        self._underruns = 0
        self._low_water: int | None = None
        self._finished = False  # the producer wrote its last sample

    @property
    def underruns(self) -> int:
        """Gaps in the audio read so far (see the module docstring)."""
        return self._underruns

    @property
    def buffered(self) -> int:
        """Samples written and not yet read."""
        return self._write_pos - self._read_pos

    @property
    def consumed(self) -> int:
        """Samples ever read from the ring (zeros played for missing samples excluded)."""
        return self._read_pos

    @property
    def low_water(self) -> int | None:
        """The fewest samples left in the ring after a read while playing (None before the first one)."""
        return self._low_water

    def push(self, samples: np.ndarray) -> int:
        """Copy as many of ``samples`` as fit without waiting (producer only); how many."""
        n = min(samples.size, self.capacity - self.buffered)
        start = self._write_pos % self.capacity
        self._buf[start : start + n] = samples[:n]
        low = min(n, self.capacity - start)  # [start, start + low) is below capacity: mirror it upwards
        self._buf[start + self.capacity : start + self.capacity + low] = samples[:low]
        self._buf[: n - low] = samples[low:n]  # the rest went above capacity: mirror it downwards
        self._write_pos += n  # publish after the copy
        return n

    def write(self, samples: np.ndarray, on_full: Callable[[], None] | None = None) -> None:
        """Append all of ``samples`` (producer only), waiting ``poll_s`` at a time while the ring is full;
        ``on_full`` runs before each wait (start the consumer, check it is alive: an exception ends it)."""
        x = np.asarray(samples, dtype=np.float32).reshape(-1)
        done = 0
        while done < x.size:
            n = self.push(x[done:])
            done += n
            if n == 0:
                if on_full is not None:
                    on_full()
                self.sleep(self.poll_s)

    def read(self, out: np.ndarray) -> int:
        """Fill ``out`` (1-D) with the next samples, zeros where there are none (consumer only; never waits);
        how many came from the ring. A starved read after the prefill may count an under-run."""
        frames = out.shape[0]
        if not self._playing:
            if self.buffered < self.prefill and not self._finished:
                out[:] = 0.0
                return 0
            self._playing = True
        n = min(frames, self.buffered)
        start = self._read_pos % self.capacity
        out[:n] = self._buf[start : start + n]
        out[n:] = 0.0
        self._read_pos += n  # publish after the copy
        if not self._finished:
            starved = n < frames
            if starved and not self._in_gap:
                self._underruns += 1
            self._in_gap = starved
            left = self.buffered
            if self._low_water is None or left < self._low_water:
                self._low_water = left
        return n

    def pause(self) -> None:
        """The consumer stopped (call it while no read runs): a gap ends; reads wait for the prefill again."""
        self._playing = False
        self._in_gap = False

    def finish(self) -> None:
        """No more audio (producer only): reads play out what is left without the prefill, no under-runs."""
        self._finished = True

    def drain(self, timeout: float, running: Callable[[], bool]) -> bool:
        """Wait until every sample is read (producer only), at most ``timeout`` seconds and while
        ``running()`` (which may drive the consumer); whether all of it was read."""
        deadline = self.clock() + timeout
        while self.buffered > 0 and running() and self.clock() < deadline:
            self.sleep(self.poll_s)
        return self.buffered == 0

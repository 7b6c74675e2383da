"""A finished reconstruction played through the window's sink (a mel input's offline result): ``Playback``
writes it block by block at live pace on a thread, through a ``MonitorSink`` (gui.monitor: the volume and
the A/B switch to the original, as a stream's audio); ``stop`` ends it after the current block."""

from __future__ import annotations

import contextlib
import threading
import time

import numpy as np
from phasefold.engine.errors import PhasefoldError
from phasefold.engine.streaming.sinks import Sink
from phasefold.gui.monitor import MonitorSink
from phasefold.gui.pacing import LEAD_S

#: samples per write: about 46 ms at 22050 Hz
BLOCK = 1024


class Playback:
    """``signal`` played to ``sink`` (at the sink's rate) on a daemon thread; ``reference`` (the same rate
    and time frame, or None) is what the A/B switch plays instead. ``played``: the samples handed to the
    sink so far; ``done`` is set when it has finished or stopped and the sink is closed (``error``: the
    PhasefoldError that ended it, a lost device)."""

    def __init__(
        self,
        signal: np.ndarray,
        sink: Sink,
        reference: np.ndarray | None = None,
        *,
        volume: float = 0.8,
        original: bool = False,
    ) -> None:
        self.signal = np.asarray(signal, dtype=np.float32).reshape(-1)
        self.reference = reference
        self.sink = MonitorSink(sink, 0, self._original_at)
        self.set_volume(volume)
        self.set_original(original)
        self.played = 0
        self.error: PhasefoldError | None = None
        self.done = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="phasefold-playback", daemon=True)

    @property
    def sample_rate(self) -> int:
        return self.sink.sample_rate

    @property
    def stopped(self) -> bool:
        """True once ``stop`` was called."""
        return self._stop.is_set()

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        """End after the current block (a sound card plays what it holds, as a stopped stream does)."""
        self._stop.set()

    def join(self, timeout: float | None = None) -> bool:
        self._thread.join(timeout)
        return not self._thread.is_alive()

    def set_volume(self, volume: float) -> None:
        self.sink.volume = float(min(max(volume, 0.0), 1.0))

    def set_original(self, on: bool) -> None:
        self.sink.play_original = bool(on)

    def _original_at(self, j0: int, n: int) -> np.ndarray:
        """The reference at samples [j0, j0 + n) (zeros where there is none)."""
        out = np.zeros(n, dtype=np.float32)
        if self.reference is not None:
            ref = self.reference[j0 : j0 + n]
            out[: ref.size] = ref
        return out

    def _run(self) -> None:
        rate = self.sample_rate
        t0 = time.perf_counter()
        try:
            for a in range(0, self.signal.size, BLOCK):
                delay = t0 + a / rate - LEAD_S - time.perf_counter()  # live pace, LEAD_S early
                if self._stop.is_set() or (delay > 0 and self._stop.wait(delay)):
                    break
                block = self.signal[a : a + BLOCK]
                self.sink.write(block)
                self.played = a + block.size
            self.sink.close()
        except PhasefoldError as exc:  # the device went away: what was played stays played
            self.error = exc
            with contextlib.suppress(Exception):
                self.sink.inner.discard()
        finally:
            self.done.set()

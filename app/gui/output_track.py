"""The stream's output bookkeeping: every sample it produced (never dropped), in a growing buffer, and
the spectrogram frames of it, aligned with the input's frames."""

from __future__ import annotations

import numpy as np
from phasefold.engine.stft import StftConfig, analyze


class SampleBuffer:
    """A growing float32 signal kept in one array (capacity doubles), so views never concatenate."""

    def __init__(self, capacity: int = 1 << 16) -> None:
        self._data = np.zeros(capacity, dtype=np.float32)
        self.n = 0

    def append(self, x: np.ndarray) -> None:
        x = np.asarray(x, dtype=np.float32).reshape(-1)
        if self.n + x.size > self._data.size:
            grown = np.zeros(max(2 * self._data.size, self.n + x.size), dtype=np.float32)
            grown[: self.n] = self._data[: self.n]
            self._data = grown
        self._data[self.n : self.n + x.size] = x
        self.n += x.size

    def view(self) -> np.ndarray:
        """The samples so far (a view: copy it before the next append if it must be kept)."""
        return self._data[: self.n]


class OutputTrack:
    """Everything the stream produced (never dropped) and the spectrogram frames of it."""

    def __init__(self, cfg: StftConfig, offset: int, lookahead: int) -> None:
        self.cfg = cfg
        self.offset = offset  # output index of offline sample 0: P + L H
        self.lookahead = lookahead
        self.buffer = SampleBuffer()
        self._analysed = 0  # output index of the next frame to analyse

    @property
    def n(self) -> int:
        return self.buffer.n

    def add(self, samples: np.ndarray) -> tuple[int, np.ndarray] | None:
        """Keep the samples; returns (first frame, magnitude frames) completed by them, if any.

        The output frame starting at output index a shows padded frame a / H - L: the same frame
        index as the input frame it reconstructs.
        """
        if np.size(samples) == 0:
            return None
        self.buffer.append(samples)
        cfg = self.cfg
        if self.n - self._analysed < cfg.n_fft:
            return None
        n_frames = (self.n - self._analysed - cfg.n_fft) // cfg.hop + 1
        span = self.buffer.view()[self._analysed : self._analysed + cfg.span(n_frames)]
        first = self._analysed // cfg.hop - self.lookahead
        self._analysed += n_frames * cfg.hop
        skip = max(0, -first)  # frames before the stream's start are not shown
        if skip >= n_frames:
            return None
        return first + skip, np.abs(analyze(span.astype(np.float64), cfg)[skip:]) ** cfg.power

    def aligned(self, length: int | None = None) -> np.ndarray:
        """The reconstruction in offline coordinates (sample s of the input), ``length`` samples at most."""
        out = self.buffer.view()[self.offset :]
        return out if length is None else out[:length]

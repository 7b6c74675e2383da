"""RTISI-LA: real-time iterative spectrogram inversion with look-ahead (Zhu, Beauregard, Wyse 2007).

The buffer holds the time-domain contributions (synthesis-windowed inverse DFTs) of the last
N/H - 1 committed frames, of the frame being committed and of its L look-ahead frames. Each new
frame starts with a zero contribution; then, ``n_iter`` times, every uncommitted frame from the
newest to the oldest is updated Gauss-Seidel style: take the current partial reconstruction (overlap
of every buffered contribution, its own included) under the frame, window it, keep the phase of its
DFT with the target magnitude, and replace the frame's contribution by the windowed inverse DFT.
After the iterations the oldest uncommitted frame is committed and the hop it starts is output
(every frame covering that hop is then committed).

The newest frame is analysed with the paper's asymmetric windows (as in ltfat/phaseret's
rtisila): in the first iteration its partial reconstruction holds only the tails of older frames,
and the window is the sum of the synthesis windows of the frames *after* it,
sum_{j>=1} w(t - jH); in later iterations its own contribution is present and the window becomes
sum_{j>=0} w(t - jH). Only the phase of the analysis is used, so the windows' scale does not matter.
One update is one STFT projection of one frame: (L + 1) * n_iter projections per input frame.

Frames are synthesised with the canonical dual window of the configuration (engine.stft.dual_window: the
analysis window itself for a tight frame, as in the paper), so that the output has the signal's scale for
any window, hop and magnitude convention; any hop works (N/H rounded up frames cover a sample).
"""

from __future__ import annotations

import numpy as np
from phasefold.engine.stft import StftConfig, dual_window, window
from phasefold.engine.streaming.base import FrameProcessor


def asymmetric_windows(cfg: StftConfig) -> tuple[np.ndarray, np.ndarray]:
    """(first-iteration, later-iteration) analysis windows of the newest frame."""
    w = window(cfg)
    later = np.zeros(cfg.n_fft)
    for j in range(cfg.overlap):
        later[j * cfg.hop :] += w[: cfg.n_fft - j * cfg.hop]
    first = later - w
    return first, later


class RtisiLaProcessor(FrameProcessor):
    """RTISI-LA with L look-ahead frames and ``n_iter`` iterations per new frame."""

    def __init__(self, cfg: StftConfig, lookahead: int, block: int, n_iter: int = 8) -> None:
        super().__init__(cfg, lookahead, block)
        if n_iter < 1:
            raise ValueError(f"RTISI-LA needs at least one iteration per frame, not {n_iter}")
        self.n_iter = int(n_iter)
        self.name = "rtisi-la"
        self._win = window(cfg)
        self._syn = dual_window(cfg)
        self._first, self._later = asymmetric_windows(cfg)
        self.reset()

    def reset(self) -> None:
        cfg, n_active = self.cfg, self.lookahead + 1
        # y: overlap-add of the buffer frames m-L-R+1 .. m (R = N/H rounded up); index 0 is sample (m-L-R+1) H
        self._y = np.zeros(cfg.span(cfg.overlap - 1 + n_active))
        self._contrib = np.zeros((n_active, cfg.n_fft))  # frames m-L .. m
        self._amp = np.zeros((n_active, cfg.n_bins))

    def _step(self, amp: np.ndarray) -> np.ndarray:
        cfg, h, n = self.cfg, self.cfg.hop, self.cfg.n_fft
        # slide one frame: the oldest uncommitted frame became committed (it stays inside y)
        self._y[:-h] = self._y[h:]
        self._y[-h:] = 0.0
        self._contrib[:-1] = self._contrib[1:]
        self._contrib[-1] = 0.0
        self._amp[:-1] = self._amp[1:]
        self._amp[-1] = amp
        lookback = cfg.overlap - 1
        newest = self.lookahead
        for it in range(self.n_iter):
            for j in range(newest, -1, -1):
                start = (lookback + j) * h
                seg = self._y[start : start + n]
                if j == newest:
                    win = self._first if it == 0 else self._later
                else:
                    win = self._win
                spec = np.fft.rfft(seg * win, norm="ortho")
                mag = np.abs(spec)
                unit = np.divide(spec, mag, out=np.ones_like(spec), where=mag > 0)
                new = np.fft.irfft(self._amp[j] * unit, n=n, norm="ortho") * self._syn
                seg += new - self._contrib[j]
                self._contrib[j] = new
        start = lookback * h
        return self._y[start : start + h].astype(np.float32)

    def process(self, mags: np.ndarray, phases: np.ndarray | None = None) -> np.ndarray:
        amps = np.sqrt(mags) if self.cfg.power == 2.0 else np.asarray(mags, dtype=np.float64)
        return np.concatenate([self._step(a) for a in amps])

    def tail(self) -> np.ndarray:
        start = self.cfg.overlap * self.cfg.hop
        return self._y[start : start + self.tail_hops * self.cfg.hop].astype(np.float32)

    def projections_per_frame(self) -> float:
        return float((self.lookahead + 1) * self.n_iter)

    def describe(self) -> str:
        return f"rtisi-la ({self.n_iter} iterations x {self.lookahead + 1} frames per new frame)"

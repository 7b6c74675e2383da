"""RTISI-LA in one numba kernel per block of frames, bit for bit the numpy processor's output.

The kernel repeats numpy's arithmetic exactly (``pocketfft``: numpy's real FFT and z / |z|, ported), since
RTISI-LA is chaotic in the last bit. The state arrays are those of ``RtisiLaProcessor`` (buffer,
contributions, target amplitudes), updated in place, so ``reset``, ``tail`` and the rest are inherited.
"""

from __future__ import annotations

import numpy as np
from phasefold.engine.compiled.jit import kernel
from phasefold.engine.compiled.pocketfft import fft_exec, fft_plan, unit
from phasefold.engine.stft import StftConfig
from phasefold.engine.streaming.rtisi import RtisiLaProcessor


@kernel
def _rtisi_block(amps, y, contrib, amp, win, first, later, hop, n_iter, factors, offsets, twiddles, fct, out):
    """Commit one frame per row of ``amps`` [b, K] (RTISI-LA updates), writing b hops into ``out``."""
    n_active, n = contrib.shape
    lookback = n // hop - 1
    newest = n_active - 1
    buf = np.empty(n)
    scratch = np.empty(n)
    n_y = y.shape[0]
    for f in range(amps.shape[0]):
        # slide one frame: the oldest uncommitted frame became committed (it stays inside y)
        for i in range(n_y - hop):
            y[i] = y[i + hop]
        y[n_y - hop :] = 0.0
        for j in range(n_active - 1):
            contrib[j] = contrib[j + 1]
            amp[j] = amp[j + 1]
        contrib[newest] = 0.0
        amp[newest] = amps[f]
        for it in range(n_iter):
            for j in range(newest, -1, -1):
                start = (lookback + j) * hop
                w = win
                if j == newest:
                    w = first if it == 0 else later
                for i in range(n):
                    buf[i] = y[start + i] * w[i]
                fft_exec(buf, scratch, factors, offsets, twiddles, fct, True)
                # fftpack order: R0, R1, I1, ..., R_{N/2}; keep the phase, take the target magnitude
                buf[0] = amp[j, 0] * unit(buf[0], 0.0)[0]
                for k in range(1, (n + 1) // 2):
                    ur, ui = unit(buf[2 * k - 1], buf[2 * k])
                    buf[2 * k - 1] = amp[j, k] * ur
                    buf[2 * k] = amp[j, k] * ui
                if n % 2 == 0:
                    buf[n - 1] = amp[j, n // 2] * unit(buf[n - 1], 0.0)[0]
                fft_exec(buf, scratch, factors, offsets, twiddles, fct, False)
                for i in range(n):
                    v = buf[i] * win[i]
                    y[start + i] += v - contrib[j, i]
                    contrib[j, i] = v
        base = lookback * hop
        for i in range(hop):
            out[f * hop + i] = y[base + i]


class CompiledRtisiLaProcessor(RtisiLaProcessor):
    """RTISI-LA with the per-frame work of a whole block in one compiled call."""

    def __init__(self, cfg: StftConfig, lookahead: int, block: int, n_iter: int = 8) -> None:
        super().__init__(cfg, lookahead, block, n_iter)
        self._plan = fft_plan(cfg.n_fft)
        # warm-up on copies of the state: compilation (or loading the cache) never happens mid-stream
        self._run(np.zeros((1, cfg.n_bins)), self._y.copy(), self._contrib.copy(), self._amp.copy(), 1)

    def _run(
        self, amps: np.ndarray, y: np.ndarray, contrib: np.ndarray, amp: np.ndarray, n_iter: int
    ) -> np.ndarray:
        out = np.empty(amps.shape[0] * self.cfg.hop, dtype=np.float32)
        _rtisi_block(
            amps, y, contrib, amp, self._win, self._first, self._later, self.cfg.hop, n_iter, *self._plan, out
        )
        return out

    def process(self, mags: np.ndarray, phases: np.ndarray | None = None) -> np.ndarray:
        amps = np.sqrt(mags) if self.cfg.power == 2.0 else mags
        amps = np.ascontiguousarray(amps, dtype=np.float64)
        return self._run(amps, self._y, self._contrib, self._amp, self.n_iter)

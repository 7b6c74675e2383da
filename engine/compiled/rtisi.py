"""RTISI-LA in one numba kernel per block of frames, on FFTW (the FFT of every compiled kernel).

The state arrays are those of ``RtisiLaProcessor`` (buffer, contributions, target amplitudes), updated in
place, so ``reset``, ``tail`` and the rest are inherited. The kernel computes the numpy processor's
function with FFTW's transforms, which round differently from numpy's: one frame agrees to about 1e-15,
but RTISI-LA is chaotic in the last bit, so whole streams agree by their scores, not sample for sample
(docs/architecture.md, "Backends").
"""

from __future__ import annotations

import numpy as np
from numba.core import types
from numba.experimental import structref
from phasefold.engine.compiled.jit import kernel
from phasefold.engine.compiled.spectral import Spectral, execute
from phasefold.engine.stft import StftConfig
from phasefold.engine.streaming.rtisi import RtisiLaProcessor


@structref.register
class RtisiWindowsType(types.StructRef):
    """The numba type of an ``RtisiWindows`` bundle (its fields' types as given)."""

    def preprocess_fields(self, fields):
        return tuple((name, types.unliteral(t)) for name, t in fields)


class RtisiWindows(structref.StructRefProxy):
    """The transforms of RTISI-LA: ``fw``, the one-frame float64 FftWindow (interleaved spectra; its
    ``win``, window / sqrt(N), analyses the committed frames), ``syn``, the dual window / sqrt(N) that
    synthesises every frame (the same array for a tight frame), the analysis windows of the newest frame,
    ``first`` (its first iteration) and ``later``, and ``lookback``, the committed frames the buffer keeps
    (N/H rounded up, less one)."""


structref.define_proxy(RtisiWindows, RtisiWindowsType, ["fw", "syn", "first", "later", "lookback"])


@kernel
def _rtisi_windows(fw, syn, first, later, lookback):
    """An RtisiWindows bundle, built by a cached kernel (the proxy's own constructor compiles each start)."""
    return RtisiWindows(fw, syn, first, later, lookback)


@kernel
def _rtisi_block(amps, y, contrib, amp, n_iter, windows, out):
    """Commit one frame per row of ``amps`` [b, K] (RTISI-LA updates), writing b hops into ``out``."""
    fw = windows.fw
    win, syn, hop, frame, spec = fw.win, windows.syn, fw.hop, fw.frames[0], fw.spec[0]
    n_active, n = contrib.shape
    k_bins = amp.shape[1]
    lookback = windows.lookback
    newest = n_active - 1
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
                    w = windows.first if it == 0 else windows.later
                seg = y[start : start + n]
                for i in range(n):
                    frame[i] = seg[i] * w[i]
                execute(fw.forward, False)
                # keep the phase (phase 0 where the coefficient is zero), take the target magnitude
                aj = amp[j]
                for q in range(k_bins):
                    re, im = spec[2 * q], spec[2 * q + 1]
                    m = np.sqrt(re * re + im * im)
                    if m > 0.0:
                        spec[2 * q] = aj[q] * (re / m)
                        spec[2 * q + 1] = aj[q] * (im / m)
                    else:
                        spec[2 * q] = aj[q]
                        spec[2 * q + 1] = 0.0
                execute(fw.inverse, False)
                cj = contrib[j]
                for i in range(n):
                    v = frame[i] * syn[i]
                    seg[i] += v - cj[i]
                    cj[i] = v
        base = lookback * hop
        for i in range(hop):
            out[f * hop + i] = y[base + i]


class CompiledRtisiLaProcessor(RtisiLaProcessor):
    """RTISI-LA with the per-frame work of a whole block in one compiled call."""

    def __init__(self, cfg: StftConfig, lookahead: int, block: int, n_iter: int = 8) -> None:
        super().__init__(cfg, lookahead, block, n_iter)
        self._spectral = Spectral(cfg, np.float64)
        fw = self._spectral.window(1)
        syn = self._spectral.win if cfg.tight else (self._syn / np.sqrt(cfg.n_fft)).astype(np.float64)
        self._windows = _rtisi_windows(fw, syn, self._first, self._later, cfg.overlap - 1)
        # warm-up on copies of the state: compilation (or loading the cache) never happens mid-stream
        self._run(np.zeros((1, cfg.n_bins)), self._y.copy(), self._contrib.copy(), self._amp.copy(), 1)

    def _run(
        self, amps: np.ndarray, y: np.ndarray, contrib: np.ndarray, amp: np.ndarray, n_iter: int
    ) -> np.ndarray:
        out = np.empty(amps.shape[0] * self.cfg.hop, dtype=np.float32)
        _rtisi_block(amps, y, contrib, amp, n_iter, self._windows, out)
        return out

    def process(self, mags: np.ndarray, phases: np.ndarray | None = None) -> np.ndarray:
        amps = np.sqrt(mags) if self.cfg.power == 2.0 else mags
        amps = np.ascontiguousarray(amps, dtype=np.float64)
        return self._run(amps, self._y, self._contrib, self._amp, self.n_iter)

"""RTPGHI in numba: the heap integration as a kernel, and a processor doing a block of frames per call.

The phases are bit for bit the numpy ``pghi`` results: the log-magnitudes (numpy's SIMD log) and the
tolerance test are computed in numpy before the kernel, the random phases of bins below tolerance come from
the state's generator in the same order, and the heap pops in the order of ``heapq`` on (-log |X|, which,
bin) tuples (all distinct, so any binary heap gives the same sequence). The synthesis runs on FFTW, the
FFT of every compiled kernel: its samples agree with numpy's irfft to rounding (about 1e-15).
"""

from __future__ import annotations

import math

import numpy as np
from numba.core import types
from numba.experimental import structref
from phasefold.engine.compiled.jit import kernel
from phasefold.engine.compiled.spectral import Spectral, execute
from phasefold.engine.stft import StftConfig
from phasefold.engine.streaming.pghi import DEFAULT_TOL, RtpghiProcessor, gamma, log_magnitude


@kernel
def _before(key_a, code_a, key_b, code_b):
    """(key_a, code_a) < (key_b, code_b) lexicographically, as Python compares tuples."""
    return key_a < key_b or (key_a == key_b and code_a < code_b)


@kernel
def _push(keys, codes, size, key, code):
    """Push (key, code) onto the binary min-heap keys[:size], codes[:size]; return the new size."""
    pos = size
    while pos > 0:
        parent = (pos - 1) >> 1
        if not _before(key, code, keys[parent], codes[parent]):
            break
        keys[pos], codes[pos] = keys[parent], codes[parent]
        pos = parent
    keys[pos], codes[pos] = key, code
    return size + 1


@kernel
def _pop(keys, codes, size):
    """Remove the heap's smallest entry; return (its code, the new size). Sifts as heapq does."""
    top = codes[0]
    size -= 1
    key, code = keys[size], codes[size]
    if size == 0:
        return top, size
    # move the hole at the root down to a leaf along the smaller children, then sift the last entry up
    pos = 0
    child = 1
    while child < size:
        right = child + 1
        if right < size and not _before(keys[child], codes[child], keys[right], codes[right]):
            child = right
        keys[pos], codes[pos] = keys[child], codes[child]
        pos = child
        child = 2 * pos + 1
    while pos > 0:
        parent = (pos - 1) >> 1
        if not _before(key, code, keys[parent], codes[parent]):
            break
        keys[pos], codes[pos] = keys[parent], codes[parent]
        pos = parent
    keys[pos], codes[pos] = key, code
    return top, size


@kernel
def _heap_integrate(lp, lc, tp, tc, fg, phase_prev, abstol, draws, d, out):
    """pghi.integrate into ``out`` (may be ``phase_prev``), draws[d:] for silent bins; returns the next d."""
    n_bins = lc.shape[0]
    tstep = 0.5 * (tp + tc) + phase_prev
    done = np.zeros(n_bins, dtype=np.bool_)
    remaining = n_bins
    for k in range(n_bins):
        if lc[k] <= abstol:
            out[k] = draws[d]
            d += 1
            done[k] = True
            remaining -= 1
    # entries (-log |X|, which, k) with code = which * n_bins + k: which 0 = previous frame, 1 = current
    keys = np.empty(2 * n_bins)
    codes = np.empty(2 * n_bins, dtype=np.int64)
    size = 0
    for k in range(n_bins):
        if lp[k] > abstol and not done[k]:
            size = _push(keys, codes, size, -lp[k], k)
    while remaining > 0:
        if size == 0:  # the previous frame was silent: start from the largest open bin
            k = -1
            for j in range(n_bins):
                if not done[j] and (k < 0 or lc[j] > lc[k]):
                    k = j
            out[k] = tstep[k]
            done[k] = True
            remaining -= 1
            size = _push(keys, codes, size, -lc[k], n_bins + k)
            continue
        code, size = _pop(keys, codes, size)
        if code < n_bins:
            k = code
            if not done[k]:
                out[k] = tstep[k]
                done[k] = True
                remaining -= 1
                size = _push(keys, codes, size, -lc[k], n_bins + k)
            continue
        k = code - n_bins
        for nb, sign in ((k + 1, 1.0), (k - 1, -1.0)):
            if 0 <= nb < n_bins and not done[nb]:
                out[nb] = out[k] + sign * 0.5 * (fg[k] + fg[nb])
                done[nb] = True
                remaining -= 1
                size = _push(keys, codes, size, -lc[nb], n_bins + nb)
    return d


def integrate_compiled(
    logs_prev: np.ndarray,
    logs_cur: np.ndarray,
    tgrad_prev: np.ndarray,
    tgrad_cur: np.ndarray,
    fgrad_cur: np.ndarray,
    phase_prev: np.ndarray,
    rng: np.random.Generator,
    tol: float = DEFAULT_TOL,
) -> np.ndarray:
    """``pghi.integrate`` compiled: the same phase (centred convention), the same draws from ``rng``."""
    abstol = max(float(logs_prev.max()), float(logs_cur.max())) + np.log(tol)
    draws = rng.uniform(0.0, 2.0 * np.pi, int(np.count_nonzero(logs_cur <= abstol)))
    arrays = (logs_prev, logs_cur, tgrad_prev, tgrad_cur, fgrad_cur, phase_prev)
    lp, lc, tp, tc, fg, ph = (np.ascontiguousarray(a, dtype=np.float64) for a in arrays)
    out = np.empty(lc.shape[0])
    _heap_integrate(lp, lc, tp, tc, fg, ph, float(abstol), draws, 0, out)
    return out


@structref.register
class SynthesisType(types.StructRef):
    """The numba type of a ``Synthesis`` bundle (its fields' types as given)."""

    def preprocess_fields(self, fields):
        return tuple((name, types.unliteral(t)) for name, t in fields)


class Synthesis(structref.StructRefProxy):
    """The constants of RTPGHI's frames: ``causal``, the ``offset`` (in hops) at which a frame is added,
    the time-gradient base ``tbase`` and scale ``tscale``, the frequency-gradient scale ``fscale``, the
    convention ``sign`` (-1)^k, ``fw``, the one-frame float64 FftWindow (interleaved spectra) whose
    inverse plan synthesises a frame, and ``win``, the dual window / sqrt(N) it is multiplied by
    (engine.stft.dual_window: fw's own window for a tight frame)."""


structref.define_proxy(
    Synthesis, SynthesisType, ["causal", "offset", "tbase", "tscale", "fscale", "sign", "fw", "win"]
)


@kernel
def _synthesis(causal, offset, tbase, tscale, fscale, sign, fw, win):
    """A Synthesis bundle, built by a cached kernel (the proxy's own constructor compiles at every start)."""
    return Synthesis(causal, offset, tbase, tscale, fscale, sign, fw, win)


@kernel
def _rtpghi_block(logs_new, amps_new, abstols, integrate, draws, state, syn, out):
    """RtpghiProcessor.process over the frames of a block: per frame its log-magnitudes, amplitudes,
    absolute tolerance and whether it integrates, ``draws`` the random phases in order; ``state`` the
    tuple (logs, tgrad, phase, amp, acc) of state arrays, updated in place; ``syn`` the Synthesis bundle."""
    logs, tgrad, phase, amp, acc = state
    causal, tbase, tscale, fscale, sign, fw = syn.causal, syn.tbase, syn.tscale, syn.fscale, syn.sign, syn.fw
    win, frame, spec = syn.win, fw.frames[0], fw.spec[0]
    n_new, n_bins = logs_new.shape
    n = win.shape[0]
    hop = out.shape[0] // n_new
    fgrad = np.empty(n_bins)
    d = 0
    for t in range(n_new):
        # PghiState.push and the roll of the amplitudes
        for r in range(2):
            logs[r] = logs[r + 1]
            tgrad[r] = tgrad[r + 1]
        logs[2] = logs_new[t]
        tgrad[2, 0], tgrad[2, n_bins - 1] = tbase[0], tbase[n_bins - 1]
        for k in range(1, n_bins - 1):
            tgrad[2, k] = tbase[k] + tscale * (logs[2, k + 1] - logs[2, k - 1])
        amp[0] = amp[1]
        amp[1] = amps_new[t]
        if integrate[t]:
            if causal:
                for k in range(n_bins):
                    fgrad[k] = fscale * (3.0 * logs[2, k] - 4.0 * logs[1, k] + logs[0, k])
                d = _heap_integrate(
                    logs[1], logs[2], tgrad[1], tgrad[2], fgrad, phase, abstols[t], draws, d, phase
                )
            else:
                for k in range(n_bins):
                    fgrad[k] = fscale * (logs[2, k] - logs[0, k])
                d = _heap_integrate(
                    logs[0], logs[1], tgrad[0], tgrad[1], fgrad, phase, abstols[t], draws, d, phase
                )
            # _add: irfft(|X| (-1)^k exp(i phase)) * window into the accumulator
            a = amp[1] if causal else amp[0]
            for k in range(n_bins):
                s = a[k] * sign[k]
                spec[2 * k] = s * math.cos(phase[k])
                spec[2 * k + 1] = s * math.sin(phase[k])
            execute(fw.inverse, False)
            start = syn.offset * hop
            for i in range(n):
                acc[start + i] += frame[i] * win[i]
        # _emit
        for i in range(hop):
            out[t * hop + i] = acc[i]
        for i in range(acc.shape[0] - hop):
            acc[i] = acc[i + hop]
        acc[acc.shape[0] - hop :] = 0.0


class CompiledRtpghiProcessor(RtpghiProcessor):
    """RTPGHI with the frames of a block in one compiled call; ``tail`` is the numpy processor's."""

    def __init__(
        self,
        cfg: StftConfig,
        lookahead: int,
        block: int,
        causal: bool | None = None,
        tol: float = DEFAULT_TOL,
        seed: int = 0,
    ) -> None:
        super().__init__(cfg, lookahead, block, causal, tol, seed)
        self._spectral = Spectral(cfg, np.float64)
        self._synthesis = _synthesis(
            self.causal,
            self.lookahead if self.causal else self.lookahead - 1,
            2.0 * np.pi * cfg.hop * np.arange(cfg.n_bins) / cfg.n_fft,
            cfg.hop * cfg.n_fft / (2.0 * gamma(cfg)),
            -gamma(cfg) / (2.0 * cfg.hop * cfg.n_fft),
            self._sign,
            self._spectral.window(1),
            self._spectral.win if cfg.tight else self._syn / np.sqrt(cfg.n_fft),
        )
        self._log_tol = np.log(tol)
        # warm-up on copies of the state: compilation (or loading the cache) never happens mid-stream
        st = self._pghi
        zeros = np.zeros((1, cfg.n_bins))
        state = (st.logs.copy(), st.tgrad.copy(), st.phase.copy(), self._amp.copy(), self._acc.copy())
        self._run(zeros, zeros, state, np.zeros(1), np.ones(1, dtype=np.bool_), np.zeros(cfg.n_bins))
        z = zeros[0]
        integrate_compiled(z, z, z, z, z, z, np.random.default_rng(0), tol)

    def _run(self, logs, amps, state, abstols, integrate, draws) -> np.ndarray:
        out = np.empty(logs.shape[0] * self.cfg.hop, dtype=np.float32)
        _rtpghi_block(logs, amps, abstols, integrate, draws, state, self._synthesis, out)
        return out

    def process(self, mags: np.ndarray, phases: np.ndarray | None = None) -> np.ndarray:
        cfg, st, b = self.cfg, self._pghi, mags.shape[0]
        logs = log_magnitude(mags, cfg)
        amps = np.ascontiguousarray(np.sqrt(mags) if cfg.power == 2.0 else mags, dtype=np.float64)
        # tolerance and random draws of every frame, as pghi.integrate computes them frame by frame
        hist = np.concatenate([st.logs, logs])
        cur = np.arange(b) + (3 if self.causal else 2)
        peak = hist.max(axis=1)
        abstols = np.maximum(peak[cur - 1], peak[cur]) + self._log_tol
        integrate = np.ones(b, dtype=np.bool_) if self.causal else self._frames_in + np.arange(b) >= 1
        n_small = np.count_nonzero((hist[cur] <= abstols[:, None]) & integrate[:, None])
        draws = st.rng.uniform(0.0, 2.0 * np.pi, n_small)
        state = (st.logs, st.tgrad, st.phase, self._amp, self._acc)
        out = self._run(logs, amps, state, abstols, integrate, draws)
        self._frames_in += b
        return out


@kernel
def _offline_heap(logs, tgrad, fgrad, order, done, out):
    """engine.pghi.phases' heap over a whole spectrogram [F, K], in place on ``out`` (the random phases of
    the coefficients below tolerance already there, ``done`` there); ``order``: codes by falling log."""
    n_frames, n_bins = logs.shape
    keys = np.empty(n_frames * n_bins)
    codes = np.empty(n_frames * n_bins, dtype=np.int64)
    size = 0
    for first in range(order.shape[0]):
        start = order[first]
        if done[start // n_bins, start % n_bins]:
            continue
        done[start // n_bins, start % n_bins] = True
        size = _push(keys, codes, size, -logs[start // n_bins, start % n_bins], start)
        while size > 0:
            code, size = _pop(keys, codes, size)
            n, k = code // n_bins, code % n_bins
            for j in range(4):
                nn = n + 1 if j == 0 else n - 1 if j == 1 else n
                kk = k + 1 if j == 2 else k - 1 if j == 3 else k
                if nn < 0 or nn >= n_frames or kk < 0 or kk >= n_bins or done[nn, kk]:
                    continue
                if j < 2:
                    step = 0.5 * (tgrad[n, k] + tgrad[nn, kk])
                else:
                    step = 0.5 * (fgrad[n, k] + fgrad[nn, kk])
                out[nn, kk] = out[n, k] + (step if j % 2 == 0 else -step)
                done[nn, kk] = True
                size = _push(keys, codes, size, -logs[nn, kk], nn * n_bins + kk)


def offline_phases(r: np.ndarray, cfg: StftConfig, tol: float | None = None, seed: int = 0) -> np.ndarray:
    """engine.pghi.phases compiled: the same phases [F, K] (our convention); tol None: its OFFLINE_TOL."""
    from phasefold.engine.pghi import OFFLINE_TOL, gradients, random_draws, start_order
    from phasefold.engine.streaming.pghi import from_centred

    logs, tgrad, fgrad, abstol = gradients(r, cfg, OFFLINE_TOL if tol is None else tol)
    out = np.zeros(logs.shape)
    done = logs <= abstol
    out[done] = random_draws(logs, abstol, seed)
    order = start_order(logs, done)
    _offline_heap(logs, tgrad, fgrad, order, done, out)
    return from_centred(out)

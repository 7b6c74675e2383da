"""Real-time phase gradient heap integration (RTPGHI), Průša & Søndergaard, DAFx 2016 / TASLP 2017.

Phase derivatives of a Gaussian-windowed STFT follow from the log-magnitude s_log:
  time direction   tgrad(m, n) = a M / gamma * d s_log / dm + 2 pi a m / M   (phase advance per hop)
  frequency dir.   fgrad(m, n) = -gamma / (a M) * d s_log / dn               (phase step per bin)
with a = H, M = N and gamma = Cg N^2; for our sine window (square root of Hann) Cg = 0.41532, the
constant ltfat (phaseret's pghi_findgamma) gives for 'sine' / 'sqrthann' windows.
d/dm is the centred difference over bins; d/dn the backward difference (3 s_n - 4 s_{n-1} + s_{n-2})/2
for variant (0) (no delay) or the centred one (s_{n+1} - s_{n-1})/2 for variant (1) (one hop of delay).

Heap integration of frame n from frame n-1: coefficients of both frames above tol * (their max) go
into a max-heap by log-magnitude; popping a bin of frame n-1 integrates the time derivative
(trapezoid) into the same bin of frame n, popping a bin of frame n spreads to its two neighbours with
the frequency derivative; coefficients below the tolerance get a random phase. When the heap empties
with bins still open (the previous frame was silent), the largest open bin starts from the time
integration of its own previous phase.

Phases here are in the centred convention (each frame's DFT taken about the window centre), where
the formulas above hold; our STFT takes the DFT from the frame start, so phase_ours = phase_centred - pi k
(``to_centred`` / ``from_centred``).
"""

from __future__ import annotations

import functools
import heapq

import numpy as np
from phasefold.engine.stft import StftConfig, dual_window, window
from phasefold.engine.streaming.base import FrameProcessor

CG_SINE = 0.41532
#: Cg of the Gaussian closest to each named window (ltfat/phaseret's pghi_findgamma)
CG = {"sqrt-hann": CG_SINE, "hann": 0.25645, "hamming": 0.29794, "blackman": 0.17954}
DEFAULT_TOL = 1e-6
_TINY = np.finfo(np.float64).tiny


@functools.lru_cache(maxsize=32)
def gamma(cfg: StftConfig) -> float:
    """gamma = Cg L^2 of the Gaussian closest to the window of L = win_length samples: ltfat's Cg for a named
    window (``CG``); for a boxcar or an array, the Gaussian exp(-pi t^2 / gamma) whose square has the
    time spread of the window's square, gamma = 4 pi var(t; w^2)."""
    if isinstance(cfg.window, str) and cfg.window in CG:
        return CG[cfg.window] * cfg.frame_length**2
    w2 = window(cfg) ** 2
    t = np.arange(cfg.n_fft)
    mean = np.sum(t * w2) / np.sum(w2)
    return float(4.0 * np.pi * np.sum((t - mean) ** 2 * w2) / np.sum(w2))


def log_magnitude(r: np.ndarray, cfg: StftConfig) -> np.ndarray:
    """log |X| from measurements r = |X|^d."""
    s = np.asarray(r, dtype=np.float64)
    if cfg.power == 2.0:
        s = np.sqrt(s)
    return np.log(s + _TINY)


def to_centred(phase: np.ndarray) -> np.ndarray:
    """Our phase (DFT from the frame start) -> centred convention."""
    return phase + np.pi * np.arange(phase.shape[-1])


def from_centred(phase: np.ndarray) -> np.ndarray:
    """Centred-convention phase -> our convention."""
    return phase - np.pi * np.arange(phase.shape[-1])


def time_gradient(logs: np.ndarray, cfg: StftConfig) -> np.ndarray:
    """Phase advance per hop of every bin of a frame [..., K] (centred difference of log |X| over bins)."""
    k = np.arange(logs.shape[-1])
    tgrad = np.broadcast_to(2.0 * np.pi * cfg.hop * k / cfg.n_fft, logs.shape).copy()
    scale = cfg.hop * cfg.n_fft / (2.0 * gamma(cfg))
    tgrad[..., 1:-1] += scale * (logs[..., 2:] - logs[..., :-2])
    return tgrad


def freq_gradient(
    l_nm2: np.ndarray, l_nm1: np.ndarray, l_n: np.ndarray, cfg: StftConfig, causal: bool
) -> np.ndarray:
    """Phase step per bin: at frame n from (n-2, n-1, n) if causal, else at frame n-1 (centred)."""
    scale = -gamma(cfg) / (2.0 * cfg.hop * cfg.n_fft)
    if causal:
        return scale * (3.0 * l_n - 4.0 * l_nm1 + l_nm2)
    return scale * (l_n - l_nm2)


def integrate(
    logs_prev: np.ndarray,
    logs_cur: np.ndarray,
    tgrad_prev: np.ndarray,
    tgrad_cur: np.ndarray,
    fgrad_cur: np.ndarray,
    phase_prev: np.ndarray,
    rng: np.random.Generator,
    tol: float = DEFAULT_TOL,
) -> np.ndarray:
    """Heap-integrate the phase of the current frame from the previous one (centred convention)."""
    n_bins = logs_cur.shape[0]
    abstol = max(float(logs_prev.max()), float(logs_cur.max())) + np.log(tol)
    phase = np.empty(n_bins)
    small = logs_cur <= abstol
    phase[small] = rng.uniform(0.0, 2.0 * np.pi, int(small.sum()))
    done = small.copy()
    remaining = n_bins - int(small.sum())
    lp, lc, fg = logs_prev.tolist(), logs_cur.tolist(), fgrad_cur.tolist()
    tstep = (0.5 * (tgrad_prev + tgrad_cur) + phase_prev).tolist()
    heap = [(-lp[k], 0, k) for k in np.flatnonzero((logs_prev > abstol) & ~small).tolist()]
    heapq.heapify(heap)
    done_l = done.tolist()
    out = phase.tolist()
    while remaining > 0:
        if not heap:
            k = max((k for k in range(n_bins) if not done_l[k]), key=lc.__getitem__)
            out[k] = tstep[k]
            done_l[k] = True
            remaining -= 1
            heapq.heappush(heap, (-lc[k], 1, k))
            continue
        _, which, k = heapq.heappop(heap)
        if which == 0:
            if not done_l[k]:
                out[k] = tstep[k]
                done_l[k] = True
                remaining -= 1
                heapq.heappush(heap, (-lc[k], 1, k))
            continue
        for nb, sign in ((k + 1, 1.0), (k - 1, -1.0)):
            if 0 <= nb < n_bins and not done_l[nb]:
                out[nb] = out[k] + sign * 0.5 * (fg[k] + fg[nb])
                done_l[nb] = True
                remaining -= 1
                heapq.heappush(heap, (-lc[nb], 1, nb))
    return np.asarray(out)


class PghiState:
    """The running state of RTPGHI: log-magnitudes of the last three frames, their time gradients."""

    def __init__(self, cfg: StftConfig, causal: bool, tol: float = DEFAULT_TOL, seed: int = 0) -> None:
        self.cfg, self.causal, self.tol, self.seed = cfg, causal, tol, seed
        self.reset()

    def reset(self) -> None:
        k = self.cfg.n_bins
        self.logs = np.full((3, k), np.log(_TINY))  # frames n-2, n-1, n
        self.tgrad = np.zeros((3, k))
        self.tgrad[:] = time_gradient(self.logs[0], self.cfg)
        self.phase = np.zeros(k)  # centred phase of the last frame whose phase is known
        self.rng = np.random.default_rng(self.seed)

    def push(self, r: np.ndarray) -> None:
        """Append the measurements of a new frame."""
        self.logs = np.roll(self.logs, -1, axis=0)
        self.tgrad = np.roll(self.tgrad, -1, axis=0)
        self.logs[2] = log_magnitude(r, self.cfg)
        self.tgrad[2] = time_gradient(self.logs[2], self.cfg)

    def next_phase(self, causal: bool | None = None) -> np.ndarray:
        """Phase (centred) of frame n (causal) or n-1 (delayed), integrated from the frame before it."""
        causal = self.causal if causal is None else causal
        fgrad = freq_gradient(self.logs[0], self.logs[1], self.logs[2], self.cfg, causal)
        i = 2 if causal else 1
        self.phase = integrate(
            self.logs[i - 1],
            self.logs[i],
            self.tgrad[i - 1],
            self.tgrad[i],
            fgrad,
            self.phase,
            self.rng,
            self.tol,
        )
        return self.phase


class RtpghiProcessor(FrameProcessor):
    """RTPGHI in the streaming engine: variant (0) when causal, else (1) with one hop of delay (L >= 1)."""

    def __init__(
        self,
        cfg: StftConfig,
        lookahead: int,
        block: int,
        causal: bool | None = None,
        tol: float = DEFAULT_TOL,
        seed: int = 0,
    ) -> None:
        super().__init__(cfg, lookahead, block)
        causal = lookahead == 0 if causal is None else causal
        if not causal and lookahead < 1:
            raise ValueError("RTPGHI with one hop of delay needs a look-ahead of at least 1 frame")
        self.causal = causal
        self.name = "rtpghi-0" if causal else "rtpghi-1"
        self._pghi = PghiState(cfg, causal, tol, seed)
        self._syn = dual_window(cfg)  # the window itself for a tight frame
        self._sign = (-1.0) ** np.arange(cfg.n_bins)  # centred -> our convention: X_ours = X_c (-1)^k
        self.reset()

    def reset(self) -> None:
        self._pghi.reset()
        self._amp = np.zeros((2, self.cfg.n_bins))  # |X| of frames n-1, n
        self._acc = np.zeros((self.lookahead + self.cfg.overlap) * self.cfg.hop)
        self._frames_in = 0

    def _add(self, amp: np.ndarray, phase_c: np.ndarray, offset_hops: int) -> None:
        frame = (
            np.fft.irfft(amp * self._sign * np.exp(1j * phase_c), n=self.cfg.n_fft, norm="ortho") * self._syn
        )
        start = offset_hops * self.cfg.hop
        self._acc[start : start + self.cfg.n_fft] += frame

    def _emit(self) -> np.ndarray:
        h = self.cfg.hop
        out = self._acc[:h].astype(np.float32)
        self._acc[:-h] = self._acc[h:]
        self._acc[-h:] = 0.0
        return out

    def process(self, mags: np.ndarray, phases: np.ndarray | None = None) -> np.ndarray:
        out = []
        for r in mags:
            self._pghi.push(r)
            self._amp = np.roll(self._amp, -1, axis=0)
            self._amp[1] = np.sqrt(r) if self.cfg.power == 2.0 else r
            m = self._frames_in
            self._frames_in += 1
            if self.causal:
                self._add(self._amp[1], self._pghi.next_phase(), self.lookahead)
            elif m >= 1:
                self._add(self._amp[0], self._pghi.next_phase(), self.lookahead - 1)
            out.append(self._emit())
        return np.concatenate(out)

    def tail(self) -> np.ndarray:
        if not self.causal and self._frames_in >= 1:
            # the last frame has no successor: finish it with the backward difference
            self._add(self._amp[1], self._pghi.next_phase(causal=True), self.lookahead - 1)
            self._frames_in = 0
        n = self.tail_hops * self.cfg.hop
        return self._acc[:n].astype(np.float32)

    def describe(self) -> str:
        return (
            f"{self.name} (phase gradient heap integration, {'no delay' if self.causal else 'one hop delay'})"
        )

"""Offline phase gradient heap integration (PGHI, Průša, Balazs & Søndergaard, TASLP 2017): the phase of a
whole magnitude spectrogram, without iterations; the start of ``phasefold.griffinlim``.

The phase derivatives are RTPGHI's (engine.streaming.pghi: the same gamma, time derivative and centred
convention), the frequency derivative taken over the whole spectrogram (``numpy.gradient`` over frames:
centred inside, one-sided at the two ends). The heap holds every coefficient above ``tol`` times the
largest: the largest not yet done starts at phase 0, and each coefficient popped (largest first) gives its
four neighbours their phase by the trapezoid rule, along time with the time derivative and along
frequency with the frequency derivative. Coefficients at or below the tolerance get a uniform random
phase (seeded). ``phases`` is the numpy reference (heapq); engine.compiled.pghi.offline_phases the same
heap compiled (the same pops, the same phases).
"""

from __future__ import annotations

import heapq

import numpy as np
from phasefold.engine.stft import StftConfig
from phasefold.engine.streaming.pghi import from_centred, gamma, log_magnitude, time_gradient

#: coefficients at or below this fraction of the largest get a random phase (-60 dB): on the validation
#: split (librosa's magnitudes, 1024 / 256 and 2048 / 512, then 32 FGLA iterations) the scores are those
#: of RTPGHI's 1e-6 (SC -35.90 / -36.11 dB against -35.90 / -36.12, PESQ 4.463 / 4.116 against 4.459 / 4.107)
#: in 30 to 40 % less time; 1e-2 loses 0.8 to 1 dB
OFFLINE_TOL = 1e-3


def gradients(r: np.ndarray, cfg: StftConfig, tol: float) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
    """(log |X|, phase advance per hop, phase step per bin, the log tolerance) of measurements r [F, K]."""
    logs = log_magnitude(r, cfg)
    tgrad = time_gradient(logs, cfg)
    if logs.shape[0] > 1:
        fgrad = -gamma(cfg) / (cfg.hop * cfg.n_fft) * np.gradient(logs, axis=0)
    else:
        fgrad = np.zeros_like(logs)
    return logs, tgrad, fgrad, float(logs.max()) + float(np.log(tol))


def random_draws(logs: np.ndarray, abstol: float, seed: int) -> np.ndarray:
    """The phases of the coefficients at or below the tolerance, in row-major order."""
    return np.random.default_rng(seed).uniform(0.0, 2.0 * np.pi, int(np.count_nonzero(logs <= abstol)))


def start_order(logs: np.ndarray, small: np.ndarray) -> np.ndarray:
    """The row-major indices of the coefficients above the tolerance, largest first: where each new start
    of the heap is looked for."""
    above = np.flatnonzero(~small)
    return above[np.argsort(-logs.flat[above])]


def phases(r: np.ndarray, cfg: StftConfig, tol: float = OFFLINE_TOL, seed: int = 0) -> np.ndarray:
    """The PGHI phases [F, K] (our convention) of measurements r [F, K]: the numpy reference (module doc)."""
    logs, tgrad, fgrad, abstol = gradients(r, cfg, tol)
    n_frames, n_bins = logs.shape
    out = np.zeros((n_frames, n_bins))
    small = logs <= abstol
    out[small] = random_draws(logs, abstol, seed)
    done = small.copy()
    order = start_order(logs, small)
    first = 0
    heap: list[tuple[float, int]] = []
    while True:
        while first < order.size and done.flat[order[first]]:
            first += 1
        if first == order.size:
            return from_centred(out)
        code = int(order[first])
        done.flat[code] = True
        heapq.heappush(heap, (-logs.flat[code], code))
        while heap:
            _, code = heapq.heappop(heap)
            n, k = divmod(code, n_bins)
            for nn, kk in ((n + 1, k), (n - 1, k), (n, k + 1), (n, k - 1)):
                if not (0 <= nn < n_frames and 0 <= kk < n_bins) or done[nn, kk]:
                    continue
                if nn != n:
                    step = 0.5 * (tgrad[n, k] + tgrad[nn, kk])
                else:
                    step = 0.5 * (fgrad[n, k] + fgrad[nn, kk])
                out[nn, kk] = out[n, k] + (step if nn > n or kk > k else -step)
                done[nn, kk] = True
                heapq.heappush(heap, (-logs[nn, kk], nn * n_bins + kk))

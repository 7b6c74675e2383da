"""THE metrics of phasefold (docs/architecture.md): SC, STOI, ESTOI, PESQ wide-band, real-time factor.

Every score compares an estimate with the clean reference at the same length and alignment.
Real-time factors are timed on one thread: ``one_thread()`` caps the BLAS/OpenMP pools through
threadpoolctl (numpy's FFT, pocketfft, is single-threaded already) and ``Stopwatch`` records wall
and process CPU time, so a caller can check that CPU time / wall time stays near 1.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np
import soxr
from phasefold.engine.errors import InputError
from phasefold.engine.stft import StftConfig, magnitude, magnitude_blocks

PESQ_RATE = 16000
PESQ_MIN_SECONDS = 0.25  # the pesq library refuses shorter signals (BufferTooShortError)
# The pesq library (the P.862 reference code) keeps at most 50 utterances of the reference (speech runs of at
# least 200 ms between pauses of more than 200 ms) in fixed tables and writes past them when there are more:
# the scores go wrong silently, then the process dies (segmentation fault; measured at 30 s of dense bursts,
# 100 s of the demo speech, about 230 s of TIMIT sentences). At most about 39 such utterances fit in 15 s, so
# longer signals are scored in equal segments of at most 15 s.
PESQ_SEGMENT_SECONDS = 15.0


def _check_pair(ref: np.ndarray, est: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    ref = np.asarray(ref, dtype=np.float64).reshape(-1)
    est = np.asarray(est, dtype=np.float64).reshape(-1)
    if ref.shape != est.shape:
        raise InputError(f"reference ({ref.size} samples) and estimate ({est.size} samples) differ in length")
    if not (np.all(np.isfinite(ref)) and np.all(np.isfinite(est))):
        raise InputError("cannot score audio with NaN or infinite samples")
    return ref, est


def spectral_convergence_db(y: np.ndarray, r: np.ndarray, cfg: StftConfig) -> float:
    """SC = 20 log10(|| |A y|^d - r || / || r ||) in dB (lower is better)."""
    y = np.asarray(y, dtype=np.float64).reshape(-1)
    r = np.asarray(r)
    n_frames = cfg.n_frames(y.size)
    if r.shape != (n_frames, cfg.n_bins):
        raise InputError(f"signal gives {n_frames} frames but the measurements hold {r.shape[0]}")
    error2 = norm2 = 0.0  # over blocks of frames: no spectrogram of a long signal is held twice
    for first, est in magnitude_blocks(y, cfg):
        ref = np.asarray(r[first : first + est.shape[0]], dtype=np.float64)
        error2 += float(np.sum((est - ref) ** 2))
        norm2 += float(np.sum(ref**2))
    if norm2 == 0.0:
        raise InputError("spectral convergence is undefined for all-zero measurements (silent reference)")
    return float(10.0 * np.log10(max(error2, 1e-300) / norm2))


def stoi(ref: np.ndarray, est: np.ndarray, sr: int) -> float:
    """Short-time objective intelligibility (pystoi)."""
    from pystoi import stoi as _stoi

    ref, est = _check_pair(ref, est)
    return float(_stoi(ref, est, sr, extended=False))


def estoi(ref: np.ndarray, est: np.ndarray, sr: int) -> float:
    """Extended STOI (pystoi, extended=True)."""
    from pystoi import stoi as _stoi

    ref, est = _check_pair(ref, est)
    return float(_stoi(ref, est, sr, extended=True))


def check_duration(n_samples: int, sr: int) -> None:
    """InputError where a signal is too short to be scored (PESQ's minimum)."""
    if n_samples < PESQ_MIN_SECONDS * sr:
        raise InputError(
            f"too short to score: {n_samples} samples ({n_samples / sr:.3f} s); "
            f"PESQ needs at least {PESQ_MIN_SECONDS} s"
        )


def pesq_wb(
    ref: np.ndarray, est: np.ndarray, sr: int, segment_seconds: float = PESQ_SEGMENT_SECONDS
) -> float:
    """Wide-band PESQ (ITU-T P.862.2) at 16 kHz (other rates resampled with soxr); signals longer than
    ``segment_seconds`` are scored in equal segments, mean weighted by length (silent segments left out)."""
    from pesq import NoUtterancesError, PesqError, pesq

    ref, est = _check_pair(ref, est)
    check_duration(ref.size, sr)
    if not np.any(ref):
        raise InputError("PESQ cannot score against a silent reference")
    if sr != PESQ_RATE:
        ref = soxr.resample(ref, sr, PESQ_RATE, quality="HQ")
        est = soxr.resample(est, sr, PESQ_RATE, quality="HQ")
    n_segments = -(-ref.size // int(segment_seconds * PESQ_RATE))
    edges = np.linspace(0, ref.size, n_segments + 1).round().astype(int)
    scores, weights = [], []
    for start, stop in itertools.pairwise(edges):
        try:
            scores.append(pesq(PESQ_RATE, ref[start:stop], est[start:stop], "wb"))
        except NoUtterancesError:
            continue
        except PesqError as exc:
            raise InputError(f"PESQ cannot score this signal: {type(exc).__name__} {exc}".strip()) from None
        weights.append(stop - start)
    if not scores:
        raise InputError("PESQ finds no speech in the reference (no utterances detected)")
    return float(np.average(scores, weights=weights))


def evaluate_signal(
    ref: np.ndarray, est: np.ndarray, cfg: StftConfig, r: np.ndarray | None = None
) -> dict[str, float]:
    """All quality scores of ``est`` against ``ref``; SC against ``r`` (default |A ref|^d)."""
    ref, est = _check_pair(ref, est)
    check_duration(ref.size, cfg.sample_rate)  # before STOI, which fails on very short signals
    if r is None:
        r = magnitude(ref, cfg)
    sr = cfg.sample_rate
    return {
        "sc_db": spectral_convergence_db(est, r, cfg),
        "stoi": stoi(ref, est, sr),
        "estoi": estoi(ref, est, sr),
        "pesq": pesq_wb(ref, est, sr),
    }


@contextmanager
def one_thread() -> Iterator[None]:
    """Limit BLAS/OpenMP thread pools to one thread inside the block (for real-time factors)."""
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=1):
        yield


@dataclass
class Stopwatch:
    """Wall and process-CPU seconds of a ``with`` block."""

    wall: float = 0.0
    cpu: float = 0.0

    def __enter__(self) -> Stopwatch:
        self._t0, self._c0 = time.perf_counter(), time.process_time()
        return self

    def __exit__(self, *exc: object) -> None:
        self.wall = time.perf_counter() - self._t0
        self.cpu = time.process_time() - self._c0


def real_time_factor(seconds: float, n_samples: int, sr: int) -> float:
    """Compute time divided by the duration of the audio produced."""
    if n_samples <= 0:
        raise InputError("real-time factor of an empty signal is undefined")
    return float(seconds * sr / n_samples)

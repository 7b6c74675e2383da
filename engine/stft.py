"""The one numpy STFT of phasefold: a tight frame (A^H A = I) with a periodic sine window.

Conventions (docs/architecture.md, "Signal conventions"):
- window: square root of a periodic Hann window, scaled by sqrt(2 H / N) so that
  sum_n w(t - nH)^2 = 1 for every t; DFT with orthonormal scaling (1/sqrt(N)).
- frame n covers samples [nH, nH + N) of the *padded* signal; an offline signal of M samples
  is padded with P = N - H zeros in front and zeros at the back up to the last frame, so every
  original sample is covered by exactly N / H frames.
- A = analysis of the padded signal restricted to the original samples, A^H = overlap-add
  cropped back to them: on that domain A^H A = I exactly, and ``istft`` is the adjoint of ``stft``
  for the real inner product Re sum_k c_k conj(X_k) Y_k with c_0 = c_{N/2} = 1 and c_k = 2 otherwise
  (the inner product of the full, Hermitian spectrum).

Window-level helpers (``analyze``, ``synthesize``, ``coverage``) work on a span of
(W - 1) H + N samples holding exactly W frames; the streaming engine and the exported models use them.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator
from dataclasses import asdict, dataclass

import numpy as np

SAMPLE_RATE = 22050
N_FFT = 1024
HOP = 256
HOPS = (HOP, 512)  # the hops models are trained and exported at (the evaluation conditions' hops)
#: the window's name in the model cards: the square root of a periodic Hann, tight frame
WINDOW_NAME = "sqrt-hann-periodic-tight"


@dataclass(frozen=True)
class StftConfig:
    """STFT settings that travel with every model and magnitude file."""

    n_fft: int = N_FFT
    hop: int = HOP
    sample_rate: int = SAMPLE_RATE
    power: float = 1.0  # d in r = |Ax|^d

    def __post_init__(self) -> None:
        if self.n_fft <= 0 or self.hop <= 0 or self.n_fft % self.hop != 0:
            raise ValueError(f"n_fft ({self.n_fft}) must be a positive multiple of hop ({self.hop})")
        if self.n_fft // self.hop < 2:
            raise ValueError("hop must be at most n_fft / 2 (at least 50 % overlap)")
        if self.power not in (1.0, 2.0):
            raise ValueError(f"power d must be 1 or 2, not {self.power}")

    @property
    def n_bins(self) -> int:
        return self.n_fft // 2 + 1

    @property
    def overlap(self) -> int:
        """R = N / H: how many frames cover each sample."""
        return self.n_fft // self.hop

    @property
    def pad(self) -> int:
        """P = N - H zeros in front of an offline signal."""
        return self.n_fft - self.hop

    def span(self, n_frames: int) -> int:
        """Samples covered by ``n_frames`` consecutive frames: (W - 1) H + N."""
        return (n_frames - 1) * self.hop + self.n_fft

    def n_frames(self, n_samples: int) -> int:
        """Frames F of an offline signal of ``n_samples`` samples (every sample covered N/H times)."""
        return -(-(n_samples + self.pad) // self.hop)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> StftConfig:
        return cls(
            n_fft=int(d["n_fft"]),
            hop=int(d["hop"]),
            sample_rate=int(d["sample_rate"]),
            power=float(d.get("power", 1.0)),
        )


def window(cfg: StftConfig) -> np.ndarray:
    """Periodic sine window scaled so that the frame is tight: sum_n w(t - nH)^2 = 1."""
    return _window(cfg.n_fft, cfg.hop).copy()


@functools.lru_cache(maxsize=16)
def _window(n_fft: int, hop: int) -> np.ndarray:
    # computed once per setting: the streaming engine analyses small windows thousands of times a second
    n = np.arange(n_fft)
    hann = 0.5 - 0.5 * np.cos(2.0 * np.pi * n / n_fft)
    return np.sqrt(hann * (2.0 * hop / n_fft))


def frame_view(span: np.ndarray, cfg: StftConfig) -> np.ndarray:
    """[W, N] read-only view of the frames of a span of (W - 1) H + N samples (last axis)."""
    n_frames = (span.shape[-1] - cfg.n_fft) // cfg.hop + 1
    if n_frames < 1 or cfg.span(n_frames) != span.shape[-1]:
        raise ValueError(f"span of {span.shape[-1]} samples is not (W - 1) * {cfg.hop} + {cfg.n_fft}")
    # as_strided directly: sliding_window_view's checks cost more than the FFT of a streaming window
    step = span.strides[-1]
    return np.lib.stride_tricks.as_strided(
        span,
        shape=(*span.shape[:-1], n_frames, cfg.n_fft),
        strides=(*span.strides[:-1], cfg.hop * step, step),
        writeable=False,
    )


def analyze(span: np.ndarray, cfg: StftConfig) -> np.ndarray:
    """Complex spectra [..., W, K] of the W frames of a span (no padding)."""
    if span.ndim == 1 and span.shape[0] == cfg.n_fft:  # one frame (the stream's phase start): no view
        return np.fft.rfft(span * _window(cfg.n_fft, cfg.hop), norm="ortho")[None]
    return np.fft.rfft(frame_view(span, cfg) * window(cfg), axis=-1, norm="ortho")


def overlap_add(frames: np.ndarray, cfg: StftConfig) -> np.ndarray:
    """Sum frames [..., W, N] placed at hops 0, H, 2H, ... into a span of (W - 1) H + N samples."""
    *lead, n_frames, n = frames.shape
    r, h = cfg.overlap, cfg.hop
    chunks = frames.reshape(*lead, n_frames, r, h)
    out = np.zeros((*lead, n_frames + r - 1, h), dtype=frames.dtype)
    for j in range(r):
        out[..., j : j + n_frames, :] += chunks[..., j, :]
    return out.reshape(*lead, (n_frames + r - 1) * h)


def synthesize(spectra: np.ndarray, cfg: StftConfig) -> np.ndarray:
    """Adjoint of ``analyze``: windowed inverse DFT of each frame, overlap-added into the span."""
    frames = np.fft.irfft(spectra, n=cfg.n_fft, axis=-1, norm="ortho") * _window(cfg.n_fft, cfg.hop)
    if frames.shape[-2] == 1:  # one frame is its own span (the stream's new frames)
        return frames.reshape(*frames.shape[:-2], cfg.n_fft)
    return overlap_add(frames, cfg)


def coverage(n_frames: int, cfg: StftConfig) -> np.ndarray:
    """sum_n w(t - nH)^2 over a span of ``n_frames`` frames: 1 inside, less at the two edges."""
    w2 = np.broadcast_to(window(cfg) ** 2, (n_frames, cfg.n_fft))
    return overlap_add(np.ascontiguousarray(w2), cfg)


def pad_signal(x: np.ndarray, cfg: StftConfig) -> np.ndarray:
    """Pad an offline signal: P = N - H zeros in front, zeros at the back up to the last frame."""
    n_frames = cfg.n_frames(x.shape[-1])
    back = cfg.span(n_frames) - cfg.pad - x.shape[-1]
    widths = [(0, 0)] * (x.ndim - 1) + [(cfg.pad, back)]
    return np.pad(x, widths)


def stft(x: np.ndarray, cfg: StftConfig) -> np.ndarray:
    """A x: complex spectrogram [..., F, K] of an offline signal [..., M]."""
    return analyze(pad_signal(np.asarray(x, dtype=np.float64), cfg), cfg)


def istft(spectra: np.ndarray, cfg: StftConfig, length: int) -> np.ndarray:
    """A^H Y: the adjoint of ``stft`` (and its inverse on consistent spectrograms), ``length`` samples."""
    span = synthesize(spectra, cfg)
    if length < 0 or cfg.pad + length > span.shape[-1] or cfg.n_frames(length) != spectra.shape[-2]:
        raise ValueError(f"{spectra.shape[-2]} frames do not hold a signal of {length} samples")
    return span[..., cfg.pad : cfg.pad + length]


#: frames analysed at a time by ``magnitude`` (no complex spectrogram of a long signal is ever held)
MAGNITUDE_BLOCK_FRAMES = 1024


def magnitude(x: np.ndarray, cfg: StftConfig, dtype=np.float64) -> np.ndarray:
    """Measurements r = |A x|^d [..., F, K], computed in float64 over blocks of frames and stored as
    ``dtype``: besides the signal, only the result and one block are held."""
    x = np.asarray(x, dtype=np.float64)
    out = np.empty((*x.shape[:-1], cfg.n_frames(x.shape[-1]), cfg.n_bins), dtype=dtype)
    for first, block in magnitude_blocks(x, cfg):
        out[..., first : first + block.shape[-2], :] = block
    return out


def magnitude_blocks(x: np.ndarray, cfg: StftConfig) -> Iterator[tuple[int, np.ndarray]]:
    """(first frame, |A x|^d of frames first .. first + MAGNITUDE_BLOCK_FRAMES) over a signal, in order."""
    x = np.asarray(x, dtype=np.float64)
    n_frames = cfg.n_frames(x.shape[-1])
    for first in range(0, n_frames, MAGNITUDE_BLOCK_FRAMES):
        last = min(n_frames, first + MAGNITUDE_BLOCK_FRAMES)
        # the block's span in padded samples is [first H, first H + span); x starts at padded sample P
        lo, hi = first * cfg.hop - cfg.pad, first * cfg.hop - cfg.pad + cfg.span(last - first)
        span = np.zeros((*x.shape[:-1], hi - lo))
        span[..., max(0, -lo) : min(hi, x.shape[-1]) - lo] = x[..., max(0, lo) : min(hi, x.shape[-1])]
        yield first, np.abs(analyze(span, cfg)) ** cfg.power

"""The one numpy STFT of phasefold: any configuration, the default one a tight frame (A^H A = I).

The default configuration (docs/architecture.md, "Signal conventions"):
- window: square root of a periodic Hann window, scaled by sqrt(2 H / N) so that
  sum_n w(t - nH)^2 = 1 for every t; DFT with orthonormal scaling (1/sqrt(N)).
- frame n covers samples [nH, nH + N) of the *padded* signal; an offline signal of M samples
  is padded with P = N - H zeros in front and zeros at the back up to the last frame, so every
  original sample is covered by exactly N / H frames.
- A = analysis of the padded signal restricted to the original samples, A^H = overlap-add
  cropped back to them: on that domain A^H A = I exactly, and ``istft`` is the adjoint of ``stft``
  for the real inner product Re sum_k c_k conj(X_k) Y_k with c_0 = c_{N/2} = 1 and c_k = 2 otherwise
  (the inner product of the full, Hermitian spectrum).

Every other spectrogram is a configuration (``StftConfig``): any n_fft (odd too) and hop, a window of
``win_length`` samples centred in the frame (sqrt-Hann, Hann, Hamming, Blackman, boxcar or an array),
frames centred at n H as librosa and torch place them (``center=True``, the signal padded with N // 2
samples of ``pad_mode``) or starting at n H (``center=False``), and the magnitudes' scale
(``convention``): "tight" (the window scaled to a unit mean of sum_n w(t - nH)^2, orthonormal DFT; a tight
frame where the window allows it), "librosa" (the window as it is, unnormalised DFT: librosa.stft and
torch.stft) or "torch" (torch.stft(normalized=True): the DFT divided by sqrt(N)). The convention is folded
into the analysis window, so every algorithm works on the user's own scale. Where the frame is not tight,
the inverse is the canonical dual window (least squares, as librosa's istft): the overlap-add divided by
sum_n w(t - nH)^2 (``istft``; the span iterations of engine.admm do the same on their free samples).

Window-level helpers (``analyze``, ``synthesize``, ``coverage``) work on a span of
(W - 1) H + N samples holding exactly W frames; the streaming engine and the exported models use them.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator
from dataclasses import dataclass, fields

import numpy as np

SAMPLE_RATE = 22050
N_FFT = 1024
HOP = 256
HOPS = (HOP, 512)  # the hops models are trained and exported at (the evaluation conditions' hops)
#: the window's name in the model cards: the square root of a periodic Hann, tight frame
WINDOW_NAME = "sqrt-hann-periodic-tight"
#: the named windows (periodic, as scipy.signal.get_window(name, n, fftbins=True) and librosa make them)
WINDOWS = ("sqrt-hann", "hann", "hamming", "blackman", "boxcar")
#: the magnitudes' scale (module docstring)
CONVENTIONS = ("tight", "librosa", "torch")
#: how a centred signal is padded (numpy.pad's modes that need only the signal's own ends)
PAD_MODES = ("constant", "reflect", "edge", "symmetric")


@dataclass(frozen=True)
class StftConfig:
    """STFT settings that travel with every model and magnitude file (module docstring)."""

    n_fft: int = N_FFT
    hop: int = HOP
    sample_rate: int = SAMPLE_RATE
    power: float = 1.0  # d in r = |Ax|^d
    win_length: int | None = None  # None: n_fft
    window: str | tuple[float, ...] = "sqrt-hann"  # a name of WINDOWS or the samples of a window
    center: bool | None = None  # None: phasefold's padding (N - H in front); True: librosa's; False: none
    pad_mode: str = "constant"
    convention: str = "tight"

    def __post_init__(self) -> None:
        if self.n_fft <= 1 or self.hop <= 0:
            raise ValueError(f"n_fft ({self.n_fft}) must be at least 2 and hop ({self.hop}) positive")
        if self.win_length is not None and not 1 <= self.win_length <= self.n_fft:
            raise ValueError(f"win_length ({self.win_length}) must be between 1 and n_fft ({self.n_fft})")
        if self.hop > self.frame_length:
            raise ValueError(
                f"hop ({self.hop}) is longer than the window ({self.frame_length} samples): samples between "
                "the frames would be lost"
            )
        if self.center is None and self.n_fft % self.hop != 0:
            raise ValueError(
                f"n_fft ({self.n_fft}) must be a multiple of hop ({self.hop}) with phasefold's own framing; "
                "centre the frames (center=True or False) for any other hop"
            )
        if self.center is None and self.n_fft // self.hop < 2:
            raise ValueError(
                f"hop ({self.hop}) must be at most n_fft / 2 ({self.n_fft // 2}) with phasefold's own "
                "framing (at least 50 % overlap)"
            )
        if self.power not in (1.0, 2.0):
            raise ValueError(f"power d must be 1 or 2, not {self.power}")
        if isinstance(self.window, str):
            if self.window not in WINDOWS:
                raise ValueError(f"window {self.window!r} is not one of {', '.join(WINDOWS)} (or an array)")
        elif len(self.window) != self.frame_length:
            raise ValueError(f"the window has {len(self.window)} samples, not win_length {self.frame_length}")
        if self.convention not in CONVENTIONS:
            raise ValueError(f"convention {self.convention!r} is not one of {', '.join(CONVENTIONS)}")
        if self.pad_mode not in PAD_MODES:
            raise ValueError(f"pad_mode {self.pad_mode!r} is not one of {', '.join(PAD_MODES)}")

    @property
    def frame_length(self) -> int:
        """The window's length: win_length, or n_fft."""
        return self.n_fft if self.win_length is None else self.win_length

    @property
    def n_bins(self) -> int:
        return self.n_fft // 2 + 1

    @property
    def overlap(self) -> int:
        """R = N / H (rounded up): how many frames cover each sample."""
        return -(-self.n_fft // self.hop)

    @property
    def pad(self) -> int:
        """Samples in front of an offline signal's first sample in its first frame: P = N - H by default,
        N // 2 centred, 0 not centred."""
        if self.center is None:
            return self.n_fft - self.hop
        return self.n_fft // 2 if self.center else 0

    @property
    def tight(self) -> bool:
        """Whether A^H A = I on an offline signal's samples (the default family): ``istft`` is then the
        adjoint itself, with no division by the coverage."""
        return (
            self.window == "sqrt-hann"
            and self.win_length in (None, self.n_fft)
            and self.center is None
            and self.convention == "tight"
        )

    def span(self, n_frames: int) -> int:
        """Samples covered by ``n_frames`` consecutive frames: (W - 1) H + N."""
        return (n_frames - 1) * self.hop + self.n_fft

    def n_frames(self, n_samples: int) -> int:
        """Frames F of an offline signal of ``n_samples`` samples: by default every sample covered N/H
        times; centred, 1 + (M + 2 (N // 2) - N) // H as librosa; not centred, 1 + (M - N) // H."""
        if self.center is None:
            return -(-(n_samples + self.pad) // self.hop)
        padded = n_samples + 2 * self.pad
        if padded < self.n_fft:
            raise ValueError(f"a signal of {n_samples} samples is shorter than one frame of {self.n_fft}")
        return 1 + (padded - self.n_fft) // self.hop

    def n_samples(self, n_frames: int) -> int:
        """The signal length ``n_frames`` frames are read as where none is given: the frames' span less
        the padding at both ends, (F - 1) H + N - 2 P. By phasefold's own padding the longest signal with F
        frames, F H - P; centred or not, librosa's istft length (the shortest signal with F frames)."""
        return (n_frames - 1) * self.hop + self.n_fft - 2 * self.pad

    def to_dict(self) -> dict:
        """The settings as JSON values: n_fft, hop, sample_rate and power always, the others where they
        are not the defaults (so the default configuration's records are what they always were)."""
        d: dict = {"n_fft": self.n_fft, "hop": self.hop, "sample_rate": self.sample_rate, "power": self.power}
        for f in fields(self)[4:]:
            value = getattr(self, f.name)
            if value != f.default:
                d[f.name] = list(value) if isinstance(value, tuple) else value
        return d

    @classmethod
    def from_dict(cls, d: dict) -> StftConfig:
        window = d.get("window", "sqrt-hann")
        win_length = d.get("win_length")
        center = d.get("center")
        return cls(
            n_fft=int(d["n_fft"]),
            hop=int(d["hop"]),
            sample_rate=int(d["sample_rate"]),
            power=float(d.get("power", 1.0)),
            win_length=None if win_length is None else int(win_length),
            # a model card names the default window WINDOW_NAME
            window="sqrt-hann"
            if window == WINDOW_NAME
            else window
            if isinstance(window, str)
            else tuple(float(v) for v in window),
            center=None if center is None else bool(center),
            pad_mode=str(d.get("pad_mode", "constant")),
            convention=str(d.get("convention", "tight")),
        )


def window_samples(name: str, length: int) -> np.ndarray:
    """A named window of WINDOWS, periodic (``scipy.signal.get_window(name, length, fftbins=True)``; sqrt-hann
    its square root of a Hann), unscaled."""
    n = np.arange(length)
    c1 = np.cos(2.0 * np.pi * n / length)
    if name == "sqrt-hann":
        return np.sqrt(0.5 - 0.5 * c1)
    if name == "hann":
        return 0.5 - 0.5 * c1
    if name == "hamming":
        return 0.54 - 0.46 * c1
    if name == "blackman":
        return 0.42 - 0.5 * c1 + 0.08 * np.cos(4.0 * np.pi * n / length)
    if name == "boxcar":
        return np.ones(length)
    raise ValueError(f"window {name!r} is not one of {', '.join(WINDOWS)}")


def window(cfg: StftConfig) -> np.ndarray:
    """The analysis window [N] of a configuration: its samples centred in the frame (zeros around a
    shorter win_length, as librosa pads them), scaled by the convention (module docstring). The default is
    the periodic sine window scaled so that the frame is tight: sum_n w(t - nH)^2 = 1."""
    return _window(cfg).copy()


def window_scale(cfg: StftConfig) -> float:
    """The factor between the analysis window and the unscaled one (``window_samples`` or the array given):
    sqrt(H / sum v^2) for "tight", sqrt(N) for "librosa", 1 for "torch"."""
    if cfg.convention == "librosa":
        return float(np.sqrt(cfg.n_fft))
    if cfg.convention == "torch":
        return 1.0
    if cfg.window == "sqrt-hann":
        return float(np.sqrt(2.0 * cfg.hop / cfg.frame_length))  # sum of a periodic Hann of L samples: L / 2
    v = _unscaled(cfg)
    return float(np.sqrt(cfg.hop / np.sum(v * v)))


def _unscaled(cfg: StftConfig) -> np.ndarray:
    if isinstance(cfg.window, str):
        return window_samples(cfg.window, cfg.frame_length)
    return np.asarray(cfg.window, dtype=np.float64)


@functools.lru_cache(maxsize=32)
def _window(cfg: StftConfig) -> np.ndarray:
    # computed once per setting: the streaming engine analyses small windows thousands of times a second
    length = cfg.frame_length
    if cfg.window == "sqrt-hann" and cfg.convention == "tight":
        # written as it always was, so that the default window is bit-identical
        n = np.arange(length)
        hann = 0.5 - 0.5 * np.cos(2.0 * np.pi * n / length)
        w = np.sqrt(hann * (2.0 * cfg.hop / length))
    else:
        w = _unscaled(cfg) * window_scale(cfg)
    front = (cfg.n_fft - length) // 2
    out = np.zeros(cfg.n_fft)
    out[front : front + length] = w
    out.flags.writeable = False
    return out


def dual_window(cfg: StftConfig) -> np.ndarray:
    """The synthesis window [N] of a frame in the steady state (every sample under all the frames that
    cover it): the analysis window divided by sum_j w(t - jH)^2, the canonical dual, so that the overlap-add
    of consistent frames gives back the signal away from its ends (what ``istft`` does with the coverage
    of the whole signal). The analysis window itself for a tight frame. The frame-by-frame synthesis of
    RTISI-LA and RTPGHI uses it."""
    w = _window(cfg)
    if cfg.tight:
        return w.copy()
    w2 = w * w
    phase = np.arange(cfg.n_fft) % cfg.hop
    per_phase = np.bincount(phase, weights=w2, minlength=cfg.hop)  # sum_j w(t - jH)^2 by t mod H
    cov = per_phase[phase]
    return np.where(cov > COVERAGE_TINY * np.max(cov), w / np.where(cov > 0, cov, 1.0), 0.0)


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
        return np.fft.rfft(span * _window(cfg), norm="ortho")[None]
    return np.fft.rfft(frame_view(span, cfg) * _window(cfg), axis=-1, norm="ortho")


def overlap_add(frames: np.ndarray, cfg: StftConfig) -> np.ndarray:
    """Sum frames [..., W, N] placed at hops 0, H, 2H, ... into a span of (W - 1) H + N samples."""
    *lead, n_frames, n = frames.shape
    r, h = cfg.overlap, cfg.hop
    if r * h != n:  # a hop that does not divide N: frames padded with zeros to R H samples, span cut back
        frames = np.concatenate([frames, np.zeros((*lead, n_frames, r * h - n), dtype=frames.dtype)], axis=-1)
    chunks = frames.reshape(*lead, n_frames, r, h)
    out = np.zeros((*lead, n_frames + r - 1, h), dtype=frames.dtype)
    for j in range(r):
        out[..., j : j + n_frames, :] += chunks[..., j, :]
    return out.reshape(*lead, (n_frames + r - 1) * h)[..., : cfg.span(n_frames)]


def synthesize(spectra: np.ndarray, cfg: StftConfig) -> np.ndarray:
    """Adjoint of ``analyze``: windowed inverse DFT of each frame, overlap-added into the span."""
    frames = np.fft.irfft(spectra, n=cfg.n_fft, axis=-1, norm="ortho") * _window(cfg)
    if frames.shape[-2] == 1:  # one frame is its own span (the stream's new frames)
        return frames.reshape(*frames.shape[:-2], cfg.n_fft)
    return overlap_add(frames, cfg)


def coverage(n_frames: int, cfg: StftConfig) -> np.ndarray:
    """sum_n w(t - nH)^2 over a span of ``n_frames`` frames: 1 inside for a tight frame, less at the edges."""
    w2 = np.broadcast_to(window(cfg) ** 2, (n_frames, cfg.n_fft))
    return overlap_add(np.ascontiguousarray(w2), cfg)


def padded_samples(x: np.ndarray, lo: int, hi: int, cfg: StftConfig) -> np.ndarray:
    """Samples ``lo`` .. ``hi`` of the padded signal: x at 0 .. M, zeros or ``cfg.pad_mode`` outside
    (numpy.pad on the signal's end pieces, as librosa pads; only the edges' samples are read)."""
    m = x.shape[-1]
    out = np.zeros((*x.shape[:-1], hi - lo))
    if cfg.pad_mode == "constant" or (lo >= 0 and hi <= m):
        out[..., max(0, -lo) : max(0, min(hi, m) - lo)] = x[..., max(0, lo) : max(0, min(hi, m))]
        return out
    # a piece that reaches the edge(s) it pads, with a frame of context: what np.pad reads of the signal
    a = 0 if lo < 0 else max(0, lo - cfg.n_fft)
    b = m if hi > m else min(m, hi + cfg.n_fft)
    widths = [(0, 0)] * (x.ndim - 1) + [(max(0, -lo), max(0, hi - m))]
    piece = np.pad(x[..., a:b], widths, mode=cfg.pad_mode)
    start = max(0, lo) - a  # lo's index in the padded piece
    return piece[..., start : start + hi - lo]


def pad_signal(x: np.ndarray, cfg: StftConfig) -> np.ndarray:
    """The span of an offline signal's F frames: P samples of padding in front (zeros, or ``pad_mode``
    centred), the signal, padding at the back up to the last frame (or the signal cut there: a tail that
    no frame covers, ``center=False``)."""
    n_frames = cfg.n_frames(x.shape[-1])
    return padded_samples(x, -cfg.pad, cfg.span(n_frames) - cfg.pad, cfg)


def signal_slice(length: int, cfg: StftConfig) -> slice:
    """Where an offline signal of ``length`` samples lies in its span (``pad_signal``), cut at the span."""
    return slice(cfg.pad, min(cfg.pad + length, cfg.span(cfg.n_frames(length))))


def stft(x: np.ndarray, cfg: StftConfig) -> np.ndarray:
    """A x: complex spectrogram [..., F, K] of an offline signal [..., M]."""
    return analyze(pad_signal(np.asarray(x, dtype=np.float64), cfg), cfg)


def from_span(span: np.ndarray, cfg: StftConfig, length: int) -> np.ndarray:
    """The ``length`` signal samples of a span (``pad_signal``'s inverse), zeros where no frame reaches."""
    inside = signal_slice(length, cfg)
    if inside.stop - inside.start == length:
        return span[..., inside]
    out = np.zeros((*span.shape[:-1], length), dtype=span.dtype)
    out[..., : inside.stop - inside.start] = span[..., inside]
    return out


def _synthesized(spectra: np.ndarray, cfg: StftConfig, length: int) -> np.ndarray:
    """``synthesize`` of an offline signal's frames, once they are checked to hold ``length`` samples."""
    if length < 0 or cfg.n_frames(length) != spectra.shape[-2]:
        raise ValueError(f"{spectra.shape[-2]} frames do not hold a signal of {length} samples")
    return synthesize(spectra, cfg)


def adjoint(spectra: np.ndarray, cfg: StftConfig, length: int) -> np.ndarray:
    """A^H Y: the adjoint of ``stft``, ``length`` samples."""
    return from_span(_synthesized(spectra, cfg, length), cfg, length)


def istft(spectra: np.ndarray, cfg: StftConfig, length: int) -> np.ndarray:
    """The inverse of ``stft`` on consistent spectrograms, least squares on the others (the canonical dual
    window: A^H Y divided by sum_n w(t - nH)^2, as librosa's istft); ``length`` samples. For a tight frame
    (the default) the adjoint A^H itself."""
    span = _synthesized(spectra, cfg, length)
    if not cfg.tight:
        cov = coverage(spectra.shape[-2], cfg)
        span = span / np.where(cov > COVERAGE_TINY * np.max(cov), cov, 1.0)
    return from_span(span, cfg, length)


#: a sample whose sum of squared windows is below this fraction of the largest is left undivided by
#: ``istft``: no frame sees it but through a window's rounding residue (Blackman's first sample, 1e-17),
#: and dividing would return that residue's noise (librosa divides down to float32's tiny, 1e-38)
COVERAGE_TINY = 1e-20

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
        lo = first * cfg.hop - cfg.pad
        span = padded_samples(x, lo, lo + cfg.span(last - first), cfg)
        yield first, np.abs(analyze(span, cfg)) ** cfg.power

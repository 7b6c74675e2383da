"""THE torch STFT of phasefold: the same tight frame as ``phasefold.engine.stft`` (tested equal to it).

Every setting comes from ``engine.stft.StftConfig`` and the window from ``engine.stft.window``, so
nothing is defined twice; this module only re-expresses analysis/synthesis with torch operations
(differentiable, batched over leading axes).
"""

from __future__ import annotations

import numpy as np
import torch
from phasefold.engine.stft import StftConfig
from phasefold.engine.stft import coverage as np_coverage
from phasefold.engine.stft import window as np_window


def window(cfg: StftConfig, dtype: torch.dtype = torch.float32, device=None) -> torch.Tensor:
    """The tight periodic sine window of ``phasefold.engine.stft.window`` as a tensor."""
    return torch.as_tensor(np_window(cfg), dtype=dtype, device=device)


def coverage(n_frames: int, cfg: StftConfig, dtype: torch.dtype = torch.float32, device=None) -> torch.Tensor:
    """Sum of squared windows over a span of ``n_frames`` frames (see ``phasefold.engine.stft.coverage``)."""
    return torch.as_tensor(np_coverage(n_frames, cfg), dtype=dtype, device=device)


def frames(span: torch.Tensor, cfg: StftConfig) -> torch.Tensor:
    """[..., W, N] frames of a span of (W - 1) H + N samples (last axis)."""
    n_frames = (span.shape[-1] - cfg.n_fft) // cfg.hop + 1
    if n_frames < 1 or cfg.span(n_frames) != span.shape[-1]:
        raise ValueError(f"span of {span.shape[-1]} samples is not (W - 1) * {cfg.hop} + {cfg.n_fft}")
    return span.unfold(-1, cfg.n_fft, cfg.hop)


def analyze(span: torch.Tensor, cfg: StftConfig, win: torch.Tensor | None = None) -> torch.Tensor:
    """Complex spectra [..., W, K] of the W frames of a span."""
    win = window(cfg, span.dtype, span.device) if win is None else win
    return torch.fft.rfft(frames(span, cfg) * win, dim=-1, norm="ortho")


def overlap_add(fr: torch.Tensor, cfg: StftConfig) -> torch.Tensor:
    """Sum frames [..., W, N] placed at hops 0, H, 2H, ... into a span of (W - 1) H + N samples."""
    *lead, n_frames, _ = fr.shape
    r, h = cfg.overlap, cfg.hop
    chunks = fr.reshape(*lead, n_frames, r, h)
    out = 0
    for j in range(r):
        pad = (0, 0, j, r - 1 - j)  # pad the frame axis: j chunks before, r - 1 - j after
        out = out + torch.nn.functional.pad(chunks[..., j, :], pad)
    return out.reshape(*lead, (n_frames + r - 1) * h)


def synthesize(spectra: torch.Tensor, cfg: StftConfig, win: torch.Tensor | None = None) -> torch.Tensor:
    """Adjoint of ``analyze``: windowed inverse DFT of each frame, overlap-added into the span."""
    fr = torch.fft.irfft(spectra, n=cfg.n_fft, dim=-1, norm="ortho")
    win = window(cfg, fr.dtype, fr.device) if win is None else win
    return overlap_add(fr * win, cfg)


def pad_signal(x: torch.Tensor, cfg: StftConfig) -> torch.Tensor:
    """P = N - H zeros in front, zeros at the back up to the last frame (as ``engine.stft.pad_signal``)."""
    n_frames = cfg.n_frames(x.shape[-1])
    back = cfg.span(n_frames) - cfg.pad - x.shape[-1]
    return torch.nn.functional.pad(x, (cfg.pad, back))


def stft(x: torch.Tensor, cfg: StftConfig) -> torch.Tensor:
    """A x: complex spectrogram [..., F, K] of an offline signal [..., M]."""
    return analyze(pad_signal(x, cfg), cfg)


def istft(spectra: torch.Tensor, cfg: StftConfig, length: int) -> torch.Tensor:
    """A^H Y: adjoint (and inverse on consistent spectrograms) of ``stft``, ``length`` samples."""
    if cfg.n_frames(length) != spectra.shape[-2]:
        raise ValueError(f"{spectra.shape[-2]} frames do not hold a signal of {length} samples")
    return synthesize(spectra, cfg)[..., cfg.pad : cfg.pad + length]


def fixed_mask(length: int, cfg: StftConfig, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """Offline ``fixed`` input of the window step: 1 on the front and back padding, 0 on the signal."""
    span = cfg.span(cfg.n_frames(length))
    m = np.ones(span, dtype=np.float32)
    m[cfg.pad : cfg.pad + length] = 0.0
    return torch.as_tensor(m, dtype=dtype)

"""Differentiable STOI in torch, following ``pystoi`` step by step (Taal et al. 2011).

10 kHz (pystoi's Octave-compatible polyphase resampler, written as a gather so it is differentiable),
silent frames removed with a mask computed from the *reference* only (40 dB below its loudest
256-sample frame; the mask needs no gradient), 256-sample Hann frames / 512-point FFT / hop 128,
15 one-third-octave bands from 150 Hz, 30-frame segments (384 ms), clipping at -15 dB SDR.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import torch
from pystoi import utils as pu
from scipy.signal import firwin

FS = 10000
N_FRAME = 256
NFFT = 512
NUMBAND = 15
MINFREQ = 150
N_SEG = 30
BETA = -15.0
DYN_RANGE = 40.0
EPS = float(np.finfo(float).eps)


@lru_cache(maxsize=16)
def _resampler(
    n_in: int, fs_in: int, fs_out: int = FS, design: str = "pystoi"
) -> tuple[np.ndarray, np.ndarray]:
    """(indices, weights) [n_out, taps] such that resampled[i] = sum_j x[idx[i, j]] w[i, j].

    Exactly scipy.signal.resample_poly(x, up, down, ...) with up / down = fs_out / fs_in in lowest terms
    and the filter ``design``: "pystoi", pystoi's Octave-compatible filter h (window=h / sum(h), what
    pystoi.utils.resample_oct does), or "scipy", resample_poly's own default (firwin, Kaiser beta 5,
    half length 10 max(up, down)).
    """
    g = np.gcd(fs_out, fs_in)
    up, down = fs_out // g, fs_in // g
    if design == "pystoi":
        h = pu._resample_window_oct(fs_out, fs_in)
        h = h / np.sum(h) * up
    elif design == "scipy":
        max_rate = max(up, down)
        h = firwin(2 * 10 * max_rate + 1, 1.0 / max_rate, window=("kaiser", 5.0)) * up
    else:
        raise ValueError(f"design must be 'pystoi' or 'scipy', not {design!r}")
    half_len = (h.size - 1) // 2
    n_pre_pad = down - half_len % down
    n_pre_remove = (half_len + n_pre_pad) // down
    hpad = np.concatenate([np.zeros(n_pre_pad), h])
    n_out = -(-n_in * up // down)
    taps = -(-hpad.size // up) + 1
    t = (np.arange(n_out) + n_pre_remove) * down  # positions in the upsampled signal
    k = t[:, None] // up - np.arange(taps)[None, :]  # input samples that reach output i
    hidx = t[:, None] - k * up
    valid = (k >= 0) & (k < n_in) & (hidx >= 0) & (hidx < hpad.size)
    w = np.where(valid, hpad[np.clip(hidx, 0, hpad.size - 1)], 0.0)
    return np.clip(k, 0, n_in - 1), w


def resample(x: torch.Tensor, fs: int, fs_out: int = FS, design: str = "pystoi") -> torch.Tensor:
    """Resample [..., M] from ``fs`` to ``fs_out`` (default 10 kHz exactly as pystoi does; differentiable).

    ``design`` picks the anti-alias filter (see ``_resampler``): "scipy" is scipy.signal.resample_poly's."""
    if fs == fs_out:
        return x
    idx, w = _resampler(x.shape[-1], fs, fs_out, design)
    idx_t = torch.as_tensor(idx, device=x.device)
    w_t = torch.as_tensor(w, dtype=x.dtype, device=x.device)
    return (x[..., idx_t] * w_t).sum(-1)


def _hann(n: int, dtype, device) -> torch.Tensor:
    return torch.as_tensor(np.hanning(n + 2)[1:-1], dtype=dtype, device=device)


def _frames(x: torch.Tensor, n_frames: int) -> torch.Tensor:
    """The frames pystoi takes: starts range(0, len - N_FRAME, N_FRAME // 2)."""
    return x.unfold(-1, N_FRAME, N_FRAME // 2)[:n_frames]


def _speech_mask(x: np.ndarray) -> np.ndarray:
    """pystoi's non-silent frame mask of the clean signal (energy within 40 dB of the loudest frame)."""
    starts = range(0, len(x) - N_FRAME, N_FRAME // 2)
    w = np.hanning(N_FRAME + 2)[1:-1]
    e = np.array([20 * np.log10(np.linalg.norm(w * x[i : i + N_FRAME]) + EPS) for i in starts])
    return (np.max(e) - DYN_RANGE - e) < 0


def _overlap_add_half(fr: torch.Tensor) -> torch.Tensor:
    """Overlap-add frames [n, 256] at hop 128."""
    hop = N_FRAME // 2
    first = torch.nn.functional.pad(fr[:, :hop], (0, 0, 0, 1))
    second = torch.nn.functional.pad(fr[:, hop:], (0, 0, 1, 0))
    return (first + second).reshape(-1)


def _third_octave_envelopes(x: torch.Tensor) -> torch.Tensor:
    """[15, frames] one-third-octave band amplitudes (pystoi's OBM on a 512-point STFT)."""
    n = len(range(0, x.shape[-1] - N_FRAME, N_FRAME // 2))
    spec = torch.fft.rfft(_frames(x, n) * _hann(N_FRAME, x.dtype, x.device), n=NFFT, dim=-1)
    obm, _ = pu.thirdoct(FS, NFFT, NUMBAND, MINFREQ)
    obm_t = torch.as_tensor(obm, dtype=x.dtype, device=x.device)
    power = spec.real.square() + spec.imag.square()
    return torch.sqrt(obm_t @ power.T + 1e-20)


def stoi_single(clean: torch.Tensor, est: torch.Tensor, fs: int) -> torch.Tensor:
    """STOI of one estimate [M] against its clean reference [M] (differentiable in ``est``)."""
    if clean.shape != est.shape or clean.ndim != 1:
        raise ValueError(f"clean and estimate must be 1-D of one length, got {clean.shape}, {est.shape}")
    x = resample(clean, fs)
    y = resample(est, fs)
    mask = _speech_mask(x.detach().cpu().double().numpy())
    keep = torch.as_tensor(np.flatnonzero(mask), device=x.device)
    w = _hann(N_FRAME, x.dtype, x.device)
    x = _overlap_add_half(_frames(x, mask.size)[keep] * w)
    y = _overlap_add_half(_frames(y, mask.size)[keep] * w)
    x_tob = _third_octave_envelopes(x)
    y_tob = _third_octave_envelopes(y)
    if x_tob.shape[-1] < N_SEG:
        raise ValueError("signal too short for STOI: fewer than 30 speech frames")
    xs = x_tob.unfold(-1, N_SEG, 1).transpose(0, 1)  # [J, 15, 30]
    ys = y_tob.unfold(-1, N_SEG, 1).transpose(0, 1)
    alpha = xs.norm(dim=2, keepdim=True) / (ys.norm(dim=2, keepdim=True) + EPS)
    clip = 10 ** (-BETA / 20)
    yp = torch.minimum(ys * alpha, xs * (1 + clip))
    yp = yp - yp.mean(dim=2, keepdim=True)
    xs = xs - xs.mean(dim=2, keepdim=True)
    yp = yp / (yp.norm(dim=2, keepdim=True) + EPS)
    xs = xs / (xs.norm(dim=2, keepdim=True) + EPS)
    return (yp * xs).sum() / (xs.shape[0] * xs.shape[1])


def stoi(clean: torch.Tensor, est: torch.Tensor, fs: int) -> torch.Tensor:
    """STOI per item of a batch [B, M] (or a single [M]); returns [B] (or a scalar)."""
    if clean.ndim == 1:
        return stoi_single(clean, est, fs)
    return torch.stack([stoi_single(c, e, fs) for c, e in zip(clean, est, strict=True)])

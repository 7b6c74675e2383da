"""The mel window steps of engine.mel_window as compiled kernels on FFTW plans.

``mel_gla_window`` is engine.compiled.admm.gla_layers with the mel step (engine.compiled.mel.mel_step) in
place of the magnitude projection; ``mel_admm_window`` is admm_layers whose magnitude target at each
iteration is the mel step of the current spectra, |V| G (the step run on a copy of them). Precision: the mel
FGLA runs in float32 (as the compiled FGLA), the mel ADMM in float64 (as the compiled ADMM with a prox other
than the quadratic one); either way the output equals the numpy reference's to the rounding of its
precision (tests/test_stream_mel.py states the tolerance).
"""

from __future__ import annotations

import math

import numpy as np
from phasefold.engine.compiled.admm import _prox, _WindowKernel, prox_kind
from phasefold.engine.compiled.jit import kernel
from phasefold.engine.compiled.mel import _csr, mel_step
from phasefold.engine.compiled.spectral import frame_forward, inverse_overlap_add
from phasefold.engine.divergences import Divergence
from phasefold.engine.mel import TINY, MelConfig, mel_filters


@kernel
def mel_gla_window(target, x, fixed, gain, n_iter, momentum, fw, bank, spread, power, tiny):
    """(Fast) Griffin-Lim with the mel step on a window: engine.mel_window.mel_gla_iterations; returns x [S]
    in x's precision. ``bank``, ``spread``: the CSR filters and spread weights (engine.compiled.mel)."""
    spec = fw.spec
    prev = x.copy()
    z = x.copy()
    syn = np.empty_like(x)
    for _ in range(n_iter):
        frame_forward(z, fw)
        mel_step(spec, target, bank[0], bank[1], bank[2], spread[0], spread[1], spread[2], power, tiny)
        inverse_overlap_add(fw, syn)
        for i in range(x.shape[0]):
            xi = fixed[i] * prev[i] + gain[i] * syn[i]
            z[i] = xi + momentum * (xi - prev[i])
            prev[i] = xi
    return prev


@kernel
def mel_admm_window(target, x, fixed, lam, gain, kind, rho, n_iter, fw, bank, spread, power, tiny):
    """ADMM on a window whose prox target is the mel step of the current spectra: engine.mel_window.
    mel_admm_iterations; ``fw``: the float64 FftWindow with complex spectra. Returns (x [S],
    lam [2, W, K])."""
    w = target.shape[0]
    spec = fw.spec
    k = spec.shape[1]
    x = x.copy()
    lr = lam[0].copy()
    li = lam[1].copy()
    zr = np.empty((w, k))
    zi = np.empty((w, k))
    stepped = np.empty((w, 2 * k))
    syn = np.empty_like(x)
    frame_forward(x, fw)
    for _ in range(n_iter):
        for j in range(w):
            for q in range(k):
                stepped[j, 2 * q] = spec[j, q].real
                stepped[j, 2 * q + 1] = spec[j, q].imag
        mel_step(stepped, target, bank[0], bank[1], bank[2], spread[0], spread[1], spread[2], power, tiny)
        for j in range(w):
            for q in range(k):
                r = math.sqrt(stepped[j, 2 * q] ** 2 + stepped[j, 2 * q + 1] ** 2)
                hr = spec[j, q].real + lr[j, q] / rho
                hi = spec[j, q].imag + li[j, q] / rho
                a = math.sqrt(hr * hr + hi * hi)
                if a > 0:
                    f = _prox(kind, a, r, rho) / a
                    zr[j, q], zi[j, q] = hr * f, hi * f
                else:
                    zr[j, q], zi[j, q] = 0.0, 0.0
                spec[j, q] = complex(zr[j, q] - lr[j, q] / rho, zi[j, q] - li[j, q] / rho)
        inverse_overlap_add(fw, syn)
        for i in range(x.shape[0]):
            x[i] = fixed[i] * x[i] + gain[i] * syn[i]
        frame_forward(x, fw)
        for j in range(w):
            for q in range(k):
                lr[j, q] += rho * (spec[j, q].real - zr[j, q])
                li[j, q] += rho * (spec[j, q].imag - zi[j, q])
    out = np.empty((2, w, k))
    out[0] = lr
    out[1] = li
    return x, out


class _MelKernel(_WindowKernel):
    """The compiled window set-up with the mel filters of one configuration in the step's precision."""

    def __init__(self, mel: MelConfig, dtype: type) -> None:
        super().__init__(mel.stft, dtype)
        bank = mel_filters(mel)
        cover = bank.sum(axis=0)
        self.bank = _csr(bank, self.dtype)
        self.spread = _csr((bank / np.where(cover > 0, cover, 1.0)).T, self.dtype)
        self.power = self.dtype.type(mel.power)

    def mel_arrays(self, mel, x, fixed):
        """The window's mel, x, fixed in the step's precision, and the step's floor (as MelStep's)."""
        mel, x, fixed = self.arrays(mel, x, fixed)
        return mel, x, fixed, self.dtype.type(TINY * max(float(np.mean(mel)), np.finfo(np.float64).tiny))


class MelGlaStep(_MelKernel):
    """(F)GLA with the mel step on the window in float32: (mel, x, fixed, lam) -> (x, lam), lam passed on."""

    def __init__(self, mel: MelConfig, momentum: float, n_iter: int) -> None:
        super().__init__(mel, np.float32)
        self.momentum, self.n_iter = np.float32(momentum), int(n_iter)

    def __call__(self, mel, x, fixed, lam):
        mel, x, fixed, tiny = self.mel_arrays(mel, x, fixed)
        w = mel.shape[0]
        x = mel_gla_window(
            mel, x, fixed, self.gain(fixed, w), self.n_iter, self.momentum, self.spectral.window(w),
            self.bank, self.spread, self.power, tiny,
        )  # fmt: skip
        return x, lam


class MelAdmmStep(_MelKernel):
    """ADMM with a closed-form prox whose target is the mel step of the estimate, in float64."""

    def __init__(self, mel: MelConfig, div: Divergence, side: str, rho: float, n_iter: int) -> None:
        self.kind = prox_kind(div, side)
        super().__init__(mel, np.float64)
        self.rho, self.n_iter = float(rho), int(n_iter)

    def __call__(self, mel, x, fixed, lam):
        mel, x, fixed, tiny = self.mel_arrays(mel, x, fixed)
        w = mel.shape[0]
        k = self.cfg.n_bins
        lam = np.zeros((2, w, k)) if lam is None else np.ascontiguousarray(lam, np.float64)
        return mel_admm_window(
            mel, x, fixed, lam, self.gain(fixed, w), self.kind, self.rho, self.n_iter,
            self.spectral.window(w, False), self.bank, self.spread, self.power, tiny,
        )  # fmt: skip

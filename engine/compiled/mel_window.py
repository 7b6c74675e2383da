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
from phasefold.engine.compiled.admm import _WindowKernel, admm_iteration, prox_kind
from phasefold.engine.compiled.jit import kernel
from phasefold.engine.compiled.mel import mel_csr, mel_step
from phasefold.engine.compiled.spectral import frame_forward, inverse_overlap_add
from phasefold.engine.compiled.window import new_frame_starts, slide_window
from phasefold.engine.divergences import Divergence
from phasefold.engine.mel import TINY, MelConfig, mel_filters


@kernel
def _floor(target):
    """The mel step's floor of a target mel (engine.mel_gla.MelStep.aim): TINY times its mean."""
    total = 0.0
    for v in target.ravel():
        total += v
    return target.dtype.type(TINY * max(total / target.size, np.finfo(np.float64).tiny))


@kernel
def _free_gain(fixed, cov):
    """(1 - fixed) / coverage: the least-squares gain of the primal update."""
    return (1 - fixed) / cov


@kernel
def mel_gla_window(target, x, fixed, cov, n_iter, momentum, fw, b_ptr, b_idx, b_w, s_ptr, s_idx, s_w, power):
    """(Fast) Griffin-Lim with the mel step on a window: engine.mel_window.mel_gla_iterations; returns x [S]
    in x's precision. ``cov``: the window's coverage (floored); ``b_*`` and ``s_*``: the CSR filters and
    spread weights (indptr, indices, data: engine.compiled.mel), as arrays, not tuples, so that the call's
    dispatch stays in numba's fast path (a tuple argument costs tens of microseconds a call)."""
    spec = fw.spec
    prev = x.copy()
    z = x.copy()
    syn = np.empty_like(x)
    gain = _free_gain(fixed, cov)
    tiny = _floor(target)
    for _ in range(n_iter):
        frame_forward(z, fw)
        mel_step(spec, target, b_ptr, b_idx, b_w, s_ptr, s_idx, s_w, power, tiny)
        inverse_overlap_add(fw, syn)
        for i in range(x.shape[0]):
            xi = fixed[i] * prev[i] + gain[i] * syn[i]
            z[i] = xi + momentum * (xi - prev[i])
            prev[i] = xi
    return prev


@kernel
def mel_admm_window(
    target, x, fixed, lam, cov, kind, rho, n_iter, fw, b_ptr, b_idx, b_w, s_ptr, s_idx, s_w, power
):
    """ADMM on a window whose prox target is the mel step of the current spectra (engine.mel_window: engine.
    admm.admm_iterations with the mel step): each iteration engine.compiled.admm.admm_iteration against
    the magnitudes of the mel step of a copy of the spectra; ``fw``: the float64 FftWindow with complex
    spectra. Returns (x [S], lam [2, W, K])."""
    w = target.shape[0]
    spec = fw.spec
    k = spec.shape[1]
    x = x.copy()
    lr = lam[0].copy()
    li = lam[1].copy()
    zr = np.empty((w, k))
    zi = np.empty((w, k))
    r = np.empty((w, k))
    stepped = np.empty((w, 2 * k))
    syn = np.empty_like(x)
    gain = _free_gain(fixed, cov)
    tiny = _floor(target)
    frame_forward(x, fw)
    for _ in range(n_iter):
        for j in range(w):
            for q in range(k):
                stepped[j, 2 * q] = spec[j, q].real
                stepped[j, 2 * q + 1] = spec[j, q].imag
        mel_step(stepped, target, b_ptr, b_idx, b_w, s_ptr, s_idx, s_w, power, tiny)
        for j in range(w):
            for q in range(k):
                r[j, q] = math.sqrt(stepped[j, 2 * q] ** 2 + stepped[j, 2 * q + 1] ** 2)
        admm_iteration(r, spec, x, fixed, gain, lr, li, zr, zi, syn, kind, rho, fw)
    out = np.empty((2, w, k))
    out[0] = lr
    out[1] = li
    return x, out


class _MelKernel(_WindowKernel):
    """The compiled window set-up with the mel filters of one configuration in the step's precision."""

    def __init__(self, mel: MelConfig, dtype: type) -> None:
        super().__init__(mel.stft, dtype)
        self.bank, self.spread = mel_csr(mel, self.dtype)
        self.power = self.dtype.type(mel.power)


class MelGlaStep(_MelKernel):
    """(F)GLA with the mel step on the window in float32: (mel, x, fixed, lam) -> (x, lam), lam passed on."""

    def __init__(self, mel: MelConfig, momentum: float, n_iter: int) -> None:
        super().__init__(mel, np.float32)
        self.momentum, self.n_iter = np.float32(momentum), int(n_iter)

    def __call__(self, mel, x, fixed, lam):
        mel, x, fixed = self.arrays(mel, x, fixed)
        w = mel.shape[0]
        x = mel_gla_window(
            mel, x, fixed, self.coverage(w), self.n_iter, self.momentum, self.spectral.window(w),
            *self.bank, *self.spread, self.power,
        )  # fmt: skip
        return x, lam


class MelAdmmStep(_MelKernel):
    """ADMM with a closed-form prox whose target is the mel step of the estimate, in float64."""

    def __init__(self, mel: MelConfig, div: Divergence, side: str, rho: float, n_iter: int) -> None:
        self.kind = prox_kind(div, side)
        super().__init__(mel, np.float64)
        self.rho, self.n_iter = float(rho), int(n_iter)

    def __call__(self, mel, x, fixed, lam):
        mel, x, fixed = self.arrays(mel, x, fixed)
        w = mel.shape[0]
        k = self.cfg.n_bins
        lam = np.zeros((2, w, k)) if lam is None else np.ascontiguousarray(lam, np.float64)
        return mel_admm_window(
            mel, x, fixed, lam, self.coverage(w), self.kind, self.rho, self.n_iter,
            self.spectral.window(w, False), *self.bank, *self.spread, self.power,
        )  # fmt: skip


@kernel
def mel_slide_and_start(
    mel, x, lam, new, ceiling, factor, cov_old, st, inv_c, b_ptr, b_idx, b_w, s_ptr, s_idx, s_w, power, flat
):
    """engine.streaming.mel.MelWindowProcessor's slide and start of b = len(new) mel frames [b, n_mels]
    (float64, linear) times ``factor`` (the level's 2^-k) to the power p, in place, in the state's precision:
    each new frame starts from the mel step of the previous frame's spectrum advanced by j + 1 hops (the
    spread of its bands where that frame is silent or ``flat``), mixed into x by least squares as
    engine.compiled.window.slide_and_start does. First the level check on the spread amplitudes (their sum
    of squares against ``ceiling``: RunningLevel): False, nothing changed, where a frame is louder.
    ``inv_c``: 1 / the filters' row sums; ``st``: the Starts bundle (its ``phasor`` holds the previous
    frame's spectrum here)."""
    b = new.shape[0]
    w, n_mels = mel.shape
    fw, inv_cov, rot_re, rot_im, piece, prev = st.fw, st.inv_cov, st.rot_re, st.rot_im, st.piece, st.phasor
    k = prev.shape[1]
    for j in range(b if ceiling < np.inf else 0):
        total = 0.0
        for q in range(k):
            g = 0.0
            for i in range(s_ptr[q], s_ptr[q + 1]):
                g += s_w[i] * new[j, s_idx[i]] * inv_c[s_idx[i]]
            a = g if power == 1.0 else g ** (1.0 / power)
            total += a * a
        if not total <= ceiling:
            return False
    spec, win, hop = fw.spec, fw.win, fw.hop
    n = win.shape[0]
    s = x.shape[0]
    slide_window(mel, x, lam, b, hop)
    scaled = factor**power
    mean = 0.0
    for j in range(b):
        for q in range(n_mels):
            mel[w - b + j, q] = new[j, q] * scaled
            mean += mel[w - b + j, q]
    tiny = mel.dtype.type(TINY * max(mean / (b * n_mels), np.finfo(np.float64).tiny))
    first = w - b
    frame_forward(x[(first - 1) * hop : (first - 1) * hop + n], fw)
    sp, pr, pi = spec[0], prev[0], prev[1]
    silent = True
    for q in range(k):
        pr[q], pi[q] = sp[2 * q], sp[2 * q + 1]
        silent = silent and pr[q] == 0 and pi[q] == 0
    if silent or flat:  # the unit phasors (1 where a bin is zero): the spread amplitudes at the same phases
        for q in range(k):
            a = np.sqrt(pr[q] * pr[q] + pi[q] * pi[q])
            pr[q], pi[q] = (pr[q] / a, pi[q] / a) if a > 0 else (1.0, 0.0)
    start = first * hop
    xs, cs = x[start:], cov_old[start:]
    for i in range(s - start):
        xs[i] *= cs[i]
    for j in range(b):
        for q in range(k):  # the previous spectrum (or its unit phasors) advanced by one more hop
            re = pr[q] * rot_re[q] - pi[q] * rot_im[q]
            im = pr[q] * rot_im[q] + pi[q] * rot_re[q]
            pr[q], pi[q] = re, im
            sp[2 * q], sp[2 * q + 1] = re, im
        row = mel[w - b + j : w - b + j + 1]
        mel_step(spec, row, b_ptr, b_idx, b_w, s_ptr, s_idx, s_w, power, tiny)
        inverse_overlap_add(fw, piece)
        xo = x[start + j * hop : start + j * hop + n]
        for i in range(n):
            xo[i] += piece[i]
    ic = inv_cov[start:]
    for i in range(s - start):
        xs[i] *= ic[i]
    return True


class MelNewFrames(_MelKernel):
    """The compiled slide-and-start of a mel window (``mel_slide_and_start``) in the window state's
    precision, with engine.compiled.window.NewFrames' interface."""

    def __init__(
        self, mel: MelConfig, cov: np.ndarray, cov_old: dict[int, np.ndarray], dtype: type, spread_only: bool
    ) -> None:
        super().__init__(mel, dtype)
        self.starts = new_frame_starts(self.spectral, cov)
        self.cov_old = {b: c.astype(self.dtype) for b, c in cov_old.items()}
        self.inv_c = 1.0 / mel_filters(mel).sum(axis=1)
        self.spread_only = spread_only

    def __call__(
        self,
        mel: np.ndarray,
        x: np.ndarray,
        lam: np.ndarray,
        new: np.ndarray,
        ceiling: float = np.inf,
        factor: float = 1.0,
    ) -> bool:
        """Slide and start the new mel frames ``new`` [b, n_mels] (linear) times ``factor`` ** p, unless a
        frame's spread amplitudes' sum of squares is above ``ceiling``: whether it did."""
        new = np.ascontiguousarray(new, dtype=np.float64)
        return mel_slide_and_start(
            mel, x, lam, new, ceiling, factor, self.cov_old[new.shape[0]], self.starts, self.inv_c,
            *self.bank, *self.spread, self.power, self.spread_only,
        )  # fmt: skip

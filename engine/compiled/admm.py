"""ADMM (closed-form proxes) and (F)GLA window steps as compiled kernels.

They compute engine.admm's ``admm_iterations`` (d = 1) and ``gla_iterations`` with FFTW instead of numpy's
FFT. Proxes (engine.proxes): quadratic (either side), left KL (Lambert W of an exponential), right KL and
left IS (positive roots of quadratics). The beta divergences' numerical prox and d = 2 have no compiled
step: ``prox_kind`` says so.

Precision: ADMM-l2 and (F)GLA run in float32, like a model's step, so that a classical method and a model
with the same iterations cost the same. ADMM with the quadratic prox is the b = 2 member of the learned
family with g1 = rho / (1 + rho), g2 = 1 / (1 + rho) and no pieces, so it runs the models' kernel
(engine.compiled.unfolded.unfolded_layers); (F)GLA runs ``gla_layers`` on float32 plans. The KL and IS
proxes keep float64 (``admm_layers``): their Lambert W and roots are not in the learned family. Either
way the output equals the numpy step's to the rounding of its precision.
"""

from __future__ import annotations

import math

import numpy as np
from phasefold.engine.compiled.jit import kernel
from phasefold.engine.compiled.spectral import Spectral, frame_forward, inverse_overlap_add
from phasefold.engine.compiled.unfolded import Layers, make_layers, unfolded_layers
from phasefold.engine.divergences import Divergence
from phasefold.engine.errors import BackendError
from phasefold.engine.stft import StftConfig, coverage

PROX_QUADRATIC, PROX_KL_LEFT, PROX_KL_RIGHT, PROX_IS_LEFT = 0, 1, 2, 3
COVERAGE_EPS = 1e-8  # engine.admm.COVERAGE_EPS


def prox_kind(div: Divergence, side: str) -> int:
    """The compiled prox of a loss (BackendError for losses whose prox is numerical)."""
    if div.beta == 2.0:
        return PROX_QUADRATIC
    if div.beta == 1.0:
        return PROX_KL_LEFT if side == "left" else PROX_KL_RIGHT
    if div.beta == 0.0 and side == "left":
        return PROX_IS_LEFT
    raise BackendError(
        f"the compiled backend has closed-form proxes only (l2, kl, kl-right, is); the {side} {div.name} "
        "prox is numerical: use --backend numpy or auto"
    )


@kernel
def _lambertw_exp(s):
    """W(e^s) for real s: engine.proxes.lambertw_exp for one value."""
    if s < -20.0:
        z = math.exp(s)
        return z - z * z + 1.5 * z * z * z
    if s > 1.0:
        w = s - math.log(s) + math.log(s) / s
    else:
        w = math.log1p(math.exp(s))
    for _ in range(3):
        f = w + math.log(w) - s
        fp = 1.0 + 1.0 / w
        w = w - 2.0 * f * fp / (2.0 * fp * fp + f / (w * w))
    return w


@kernel
def _positive_root(a, b, c):
    """Positive root of a u^2 + b u - c = 0 (a > 0, c >= 0), without cancellation."""
    disc = math.sqrt(b * b + 4.0 * a * c)
    if b > 0:
        return 2.0 * c / (b + disc)
    return (disc - b) / (2.0 * a)


@kernel
def _prox(kind, y, r, rho):
    if kind == PROX_QUADRATIC:
        return (r + rho * y) / (1.0 + rho)
    if kind == PROX_KL_LEFT:
        if r <= 0.0:
            return 0.0
        return _lambertw_exp(math.log(rho * r) + rho * y) / rho
    if kind == PROX_KL_RIGHT:
        return _positive_root(rho, 1.0 - rho * y, r)
    if r <= 0.0:  # left IS: u = 0 where r = 0
        return 0.0
    return _positive_root(rho, 1.0 / r - rho * y, 1.0)


@kernel
def admm_iteration(mag, spec, x, fixed, gain, lr, li, zr, zi, syn, kind, rho, fw):
    """One ADMM iteration on a window (d = 1) from the spectra ``spec`` = A x (fw.spec, complex) against
    the magnitude targets ``mag`` [W, K], in place: x, the dual (lr, li) and spec = the new A x; ``zr``,
    ``zi``, ``syn``: work arrays. admm_layers runs it on given magnitudes, engine.compiled.mel_window on the
    mel step's target of each iteration."""
    w, k = mag.shape
    for j in range(w):
        for q in range(k):
            hr = spec[j, q].real + lr[j, q] / rho
            hi = spec[j, q].imag + li[j, q] / rho
            a = math.sqrt(hr * hr + hi * hi)
            if a > 0:
                f = _prox(kind, a, mag[j, q], rho) / a
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


@kernel
def admm_layers(mag, x, fixed, lam, gain, kind, rho, n_iter, fw):
    """``n_iter`` ADMM iterations on a window (d = 1) with the prox ``kind`` and penalty ``rho``; ``gain``:
    (1 - fixed) / coverage; ``fw``: the float64 FftWindow with complex spectra. Returns (x [S],
    lam [2, W, K]) in float64."""
    w, k = mag.shape
    x = x.copy()
    lr = lam[0].copy()
    li = lam[1].copy()
    zr = np.empty((w, k))
    zi = np.empty((w, k))
    syn = np.empty_like(x)
    frame_forward(x, fw)
    for _ in range(n_iter):
        admm_iteration(mag, fw.spec, x, fixed, gain, lr, li, zr, zi, syn, kind, rho, fw)
    out = np.empty((2, w, k))
    out[0] = lr
    out[1] = li
    return x, out


@kernel
def gla_layers(target, x, fixed, gain, n_iter, momentum, fw):
    """(Fast) Griffin-Lim on a window: engine.admm.gla_iterations; returns x [S] in x's precision.

    ``gain``: (1 - fixed) / coverage; ``fw``: the FftWindow with spectra as real [W, 2K] (re, im
    interleaved), so that the per-bin loop vectorises; a zero coefficient takes the target magnitude at
    phase 0, as in the numpy step."""
    w, k = target.shape
    spec = fw.spec
    prev = x.copy()
    z = x.copy()
    syn = np.empty_like(x)
    zero = x.dtype.type(0.0)
    for _ in range(n_iter):
        frame_forward(z, fw)
        for j in range(w):
            sj, tj = spec[j], target[j]
            for q in range(k):
                re, im = sj[2 * q], sj[2 * q + 1]
                a = np.sqrt(re * re + im * im)
                nonzero = a > zero
                f = tj[q] / a if nonzero else zero
                sj[2 * q] = re * f if nonzero else tj[q]
                sj[2 * q + 1] = im * f
        inverse_overlap_add(fw, syn)
        for i in range(x.shape[0]):
            xi = fixed[i] * prev[i] + gain[i] * syn[i]
            z[i] = xi + momentum * (xi - prev[i])
            prev[i] = xi
    return prev


class _WindowKernel:
    """Shared set-up of the classical compiled steps: plans of one precision and the least-squares gain."""

    def __init__(self, cfg: StftConfig, dtype: type) -> None:
        if cfg.power != 1.0:
            raise BackendError("the compiled backend runs d = 1 magnitudes only; use --backend numpy or auto")
        self.cfg = cfg
        self.dtype = np.dtype(dtype)
        self.spectral = Spectral(cfg, self.dtype)
        self._cov: dict[int, np.ndarray] = {}

    def coverage(self, w: int) -> np.ndarray:
        if w not in self._cov:
            self._cov[w] = np.maximum(coverage(w, self.cfg), COVERAGE_EPS).astype(self.dtype)
        return self._cov[w]

    def arrays(self, mag: np.ndarray, x: np.ndarray, fixed: np.ndarray):
        """mag, x, fixed in the step's precision."""
        mag = np.ascontiguousarray(mag, dtype=self.dtype)
        fixed = np.ascontiguousarray(fixed, dtype=self.dtype)
        return mag, np.ascontiguousarray(x, dtype=self.dtype), fixed

    def gain(self, fixed: np.ndarray, w: int) -> np.ndarray:
        """The least-squares gain (1 - fixed) / coverage of the primal update on a window of w frames."""
        return (1.0 - fixed) / self.coverage(w)


class AdmmStep(_WindowKernel):
    """ADMM with a closed-form prox on the window: (mag, x, fixed, lam) -> (x, lam); float32 for the
    quadratic prox (the models' kernel), float64 for the others."""

    def __init__(self, div: Divergence, side: str, rho: float, n_iter: int, cfg: StftConfig) -> None:
        kind = prox_kind(div, side)
        super().__init__(cfg, np.float32 if kind == PROX_QUADRATIC else np.float64)
        self.kind = kind
        self.rho, self.n_iter = float(rho), int(n_iter)
        if kind == PROX_QUADRATIC:  # the learned prox with b = 2, g1 = rho / (1 + rho), g2 = 1 / (1 + rho)
            f32 = np.float32
            self._g1 = np.array([self.rho / (1.0 + self.rho)], f32)
            self._bm1 = np.ones(1, f32)
            self._g2d = np.array([1.0 / (1.0 + self.rho)], f32)
            self._pieces = np.zeros((1, 0), f32)
            self._rhos = np.full(self.n_iter, self.rho)
            self._layers: dict[int, Layers] = {}

    def __call__(self, mag, x, fixed, lam):
        mag, x, fixed = self.arrays(mag, x, fixed)
        lam = np.zeros((2, *mag.shape), self.dtype) if lam is None else np.ascontiguousarray(lam, self.dtype)
        w = mag.shape[0]
        if self.kind == PROX_QUADRATIC:
            layers = self._layers.get(w)
            if layers is None:
                layers = self._layers[w] = make_layers(
                    self.coverage(w), np.zeros((self.n_iter, w), np.int64), self._g1, self._bm1, self._g2d,
                    self._pieces, self._pieces, self._rhos,
                )  # fmt: skip
            return unfolded_layers(mag, x, fixed, lam, self.spectral.window(w), layers)
        return admm_layers(mag, x, fixed, lam, self.gain(fixed, w), self.kind, self.rho, self.n_iter,
                           self.spectral.window(w, False))  # fmt: skip


class GlaStep(_WindowKernel):
    """(F)GLA on the window in float32: (mag, x, fixed, lam) -> (x, lam) with the dual passed through."""

    def __init__(self, momentum: float, n_iter: int, cfg: StftConfig) -> None:
        super().__init__(cfg, np.float32)
        self.momentum, self.n_iter = np.float32(momentum), int(n_iter)

    def __call__(self, mag, x, fixed, lam):
        mag, x, fixed = self.arrays(mag, x, fixed)
        w = mag.shape[0]
        x = gla_layers(
            mag, x, fixed, self.gain(fixed, w), self.n_iter, self.momentum, self.spectral.window(w)
        )
        return x, lam

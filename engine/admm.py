"""Iterations on a span of W frames (the window-step contract of docs/architecture.md).

``admm_iterations`` and ``gla_iterations`` are the one implementation of ADMM and of (F)GLA: the
offline algorithms (phasefold.engine.algorithms) call them with W = F frames over the padded signal and
``fixed`` = 1 on the padding; the streaming engine calls them on its active window. Samples where
``fixed`` = 1 are returned unchanged. Arithmetic is float64 whatever the input dtypes.

The measurement enters through the magnitude step, spectra [W, K] -> spectra with the measured magnitudes:
by default the projection onto the given magnitudes (each bin's phase kept, its magnitude set); for a mel
measurement engine.mel_gla.MelStep (the linear magnitudes are free: each bin scaled so that the bands move
to the mel). (F)GLA projects with the step; ADMM's prox takes as its target the magnitudes of the step
applied to the current estimate A x (with the default step: the given magnitudes themselves).

For d = 2 the update x = A^H (u e^{i theta} - lambda/rho)^(1/2) needs a complex square root; of its
two values +-s we keep the one nearer the current spectrum A x (the principal root alone would flip
the sign of every bin whose phase lies outside (-pi/2, pi/2] and break the frame-to-frame coherence).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from phasefold.engine.proxes import Prox
from phasefold.engine.stft import StftConfig, analyze, coverage, padded_samples, synthesize

COVERAGE_EPS = 1e-8

#: a magnitude step (module docstring): spectra [W, K] -> spectra [W, K] with the measured magnitudes
MagnitudeStep = Callable[[np.ndarray], np.ndarray]


def _span_setup(
    mag: np.ndarray, x: np.ndarray, fixed: np.ndarray, cfg: StftConfig, bins: bool = True
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The arrays in float64, checked: mag [W, K] (``bins`` False: [W, ...], a step's measurement), x and
    fixed [S]; with the least-squares gain of the free samples."""
    mag = np.asarray(mag, dtype=np.float64)
    x = np.asarray(x, dtype=np.float64)
    fixed = np.asarray(fixed, dtype=np.float64)
    if mag.ndim != 2 or (bins and mag.shape[1] != cfg.n_bins):
        raise ValueError(f"mag must be [W, {cfg.n_bins if bins else 'n'}], not {list(mag.shape)}")
    n_frames = mag.shape[0]
    if x.shape != (cfg.span(n_frames),) or fixed.shape != x.shape:
        raise ValueError(f"x and fixed must hold {cfg.span(n_frames)} samples for {n_frames} frames")
    free_gain = (1.0 - fixed) / np.maximum(coverage(n_frames, cfg), COVERAGE_EPS)
    return mag, x.copy(), fixed, free_gain


def _project(
    x: np.ndarray,
    fixed: np.ndarray,
    free_gain: np.ndarray,
    spectra: np.ndarray,
    cfg: StftConfig,
    inside: slice | None,
) -> np.ndarray:
    """Least-squares synthesis of ``spectra`` on the free samples; committed samples kept. An offline span
    (``inside``: the signal's samples) centred with a ``pad_mode`` other than zeros has its padding made
    again from the new signal, as librosa's stft pads each iterate."""
    x = fixed * x + free_gain * synthesize(spectra, cfg)
    if inside is not None and cfg.pad_mode != "constant":
        signal = x[inside]
        x[: inside.start] = padded_samples(signal, -inside.start, 0, cfg)
        x[inside.stop :] = padded_samples(signal, signal.size, signal.size + x.size - inside.stop, cfg)
    return x


def _root_near(v: np.ndarray, ref: np.ndarray) -> np.ndarray:
    """The square root of v (+s or -s) nearer to ref."""
    s = np.sqrt(v)
    return np.where(np.real(np.conj(s) * ref) < 0, -s, s)


def admm_iterations(
    mag: np.ndarray,
    x: np.ndarray,
    fixed: np.ndarray,
    lam: np.ndarray | None,
    prox: Prox,
    rho: float,
    n_iter: int,
    cfg: StftConfig,
    inside: slice | None = None,
    step: MagnitudeStep | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Run ``n_iter`` ADMM iterations on a span; returns (x [S], lam [2, W, K]) in float64.

    mag: [W, K] measurements r = |X|^d (d = cfg.power); x, fixed: [S] with S = (W - 1) H + N;
    lam: [2, W, K] dual variable (real, imaginary parts) or None for zeros; prox(y, r, rho) -> u.
    ``step``: a magnitude step (module docstring) whose output's magnitudes |step(A x)|^d are the prox's
    target at each iteration; ``mag`` is then its measurement [W, ...] (read for W only). None: r = mag.
    """
    mag, x, fixed, free_gain = _span_setup(mag, x, fixed, cfg, bins=step is None)
    d = cfg.power
    shape = (mag.shape[0], cfg.n_bins)
    if lam is None:
        lam_c = np.zeros(shape, dtype=np.complex128)
    else:
        lam = np.asarray(lam, dtype=np.float64)
        if lam.shape != (2, *shape):
            raise ValueError(f"lam must be [2, {shape[0]}, {shape[1]}], not {list(lam.shape)}")
        lam_c = lam[0] + 1j * lam[1]
    spec = analyze(x, cfg)
    for _ in range(n_iter):
        h = (spec if d == 1.0 else spec * spec) + lam_c / rho
        a = np.abs(h)
        target = mag if step is None else np.abs(step(spec)) ** d
        u = prox(a, target, rho)
        with np.errstate(divide="ignore", invalid="ignore"):
            z = np.where(a > 0, u * h / a, 0.0)
        v = z - lam_c / rho
        if d == 2.0:
            v = _root_near(v, spec)
        x = _project(x, fixed, free_gain, v, cfg, inside)
        spec = analyze(x, cfg)
        lam_c = lam_c + rho * ((spec if d == 1.0 else spec * spec) - z)
    return x, np.stack([lam_c.real, lam_c.imag])


def gla_iterations(
    mag: np.ndarray,
    x: np.ndarray,
    fixed: np.ndarray,
    n_iter: int,
    momentum: float,
    cfg: StftConfig,
    inside: slice | None = None,
    step: MagnitudeStep | None = None,
) -> np.ndarray:
    """Griffin-Lim (momentum 0) or fast Griffin-Lim (Perraudin et al. 2013) on a span; returns x [S].

    Each iteration applies the magnitude step (``step``, module docstring; None: the projection on the
    magnitudes |X| = mag^(1/d), ``projection``) and goes back to consistent signals (least squares on the
    free samples); FGLA extrapolates z = x_t + momentum (x_t - x_{t-1}) and projects z. The momentum starts
    afresh at each call. With a ``step``, ``mag`` is its measurement [W, ...] (read for W only).
    """
    mag, x, fixed, free_gain = _span_setup(mag, x, fixed, cfg, bins=step is None)
    if step is None:
        step = projection(mag, cfg)
    prev = x
    z = x
    for _ in range(n_iter):
        x = _project(prev, fixed, free_gain, step(analyze(z, cfg)), cfg, inside)
        z = x + momentum * (x - prev) if momentum else x
        prev = x
    return prev


def projection(mag: np.ndarray, cfg: StftConfig) -> MagnitudeStep:
    """The default magnitude step: each bin's phase kept (phase 0 where the bin is zero), its magnitude set
    to mag^(1/d) (d = cfg.power)."""
    target = mag if cfg.power == 1.0 else np.sqrt(mag)

    def step(spec: np.ndarray) -> np.ndarray:
        a = np.abs(spec)
        with np.errstate(divide="ignore", invalid="ignore"):
            phase = np.where(a > 0, spec / a, 1.0)
        return target * phase

    return step

"""Offline classical phase retrieval (docs/architecture.md): GLA, FGLA, gradient descent, ADMM.

All start from the measured magnitudes with a phase: a seeded uniform random one, or one given (``init``, the
phase of a noisy mixture, say: ``start_phases``, THE start of every offline method). GLA/FGLA and ADMM run
the span iterations of phasefold.engine.admm over the whole padded signal (W = F, ``fixed`` = 1 on the
padding), so offline and streaming share one implementation.

Objective. With r = measurements, X = A x and c_k = 1 for the DC and Nyquist bins, 2 otherwise,
J(x) = 1/2 sum_{n,k} c_k loss(|X_nk|^d, r_nk): the loss summed over the full Hermitian spectrum,
halved (so, nearly, over the K stored bins). Its gradient, for the inner product in which
``istft`` is the adjoint of ``stft``, is exactly the (d/2) A^H[|X|^(d-2) X g].

Scale. Gradient steps are given scale-free: the step applied is mu0 * sigma^(2 - d beta) with sigma
the RMS of r^(1/d); a beta-divergence is homogeneous of degree beta, so iterates then scale with
the input exactly. Tiny magnitudes are floored at 1e-6 sigma (to the power d) inside g.
"""

from __future__ import annotations

import numpy as np
from phasefold.engine.admm import admm_iterations, gla_iterations
from phasefold.engine.divergences import Divergence
from phasefold.engine.errors import InputError
from phasefold.engine.proxes import Prox
from phasefold.engine.stft import (
    StftConfig,
    adjoint,
    from_span,
    istft,
    pad_signal,
    signal_slice,
    stft,
    window_scale,
)

FLOOR = 1e-6
PUBLISHED_RHO = 0.1

# Scale-free gradient steps mu0 of ``gradient_descent`` per (loss, side, d, nesterov): the best spectral
# convergence after 100 iterations on a 2 s validation excerpt (si1624), over mu0 = 10^k, k = -9..1,
# refined by half decades (`python -m benchmarks.classical_vs_librosa tune-steps --files 1`); the
# validation SC is in the comment. IS and beta = 0.5 barely move from the random start at any stable
# step: their curvature grows as 1/r^2 (resp. r^-1.5) in the quietest bins, which caps the step.
GD_STEPS: dict[tuple[str, str, int, bool], float] = {
    ("l2", "left", 1, False): 3.16,  # SC -26.4 dB
    ("l2", "left", 1, True): 1.0,  # SC -30.6 dB
    ("l2", "left", 2, False): 1e-3,  # SC -10.4 dB
    ("l2", "left", 2, True): 3.16e-4,  # SC -11.5 dB
    ("kl", "left", 1, False): 0.1,  # SC -6.3 dB
    ("kl", "left", 1, True): 0.1,  # SC -11.0 dB
    ("kl", "right", 1, False): 0.1,  # SC -7.6 dB
    ("kl", "right", 1, True): 3.16e-3,  # SC -7.5 dB
    ("kl", "left", 2, False): 0.1,  # SC -14.6 dB
    ("kl", "left", 2, True): 0.1,  # SC -26.3 dB
    ("kl", "right", 2, False): 0.316,  # SC -17.4 dB
    ("kl", "right", 2, True): 0.316,  # SC -30.2 dB
    ("is", "left", 1, False): 1e-8,  # SC -3.8 dB
    ("is", "left", 1, True): 3.16e-7,  # SC -3.8 dB
    ("is", "right", 1, False): 3.16e-9,  # SC -3.8 dB
    ("is", "right", 1, True): 3.16e-10,  # SC -3.8 dB
    ("is", "left", 2, False): 1e-12,  # diverges down to 1e-11; SC -3.8 dB at 1e-12
    ("is", "left", 2, True): 1e-12,  # idem
    ("is", "right", 2, False): 3.16e-10,  # SC -3.8 dB
    ("is", "right", 2, True): 3.16e-10,  # SC -1.8 dB
    ("beta0.5", "left", 1, False): 3.16e-4,  # SC -3.8 dB
    ("beta0.5", "left", 1, True): 1e-3,  # SC -4.5 dB
    ("beta0.5", "right", 1, False): 3.16e-4,  # SC -3.8 dB
    ("beta0.5", "right", 1, True): 3.16e-6,  # SC -3.8 dB
    ("beta0.5", "left", 2, False): 1e-6,  # SC -3.8 dB
    ("beta0.5", "left", 2, True): 3.16e-7,  # SC -3.8 dB
    ("beta0.5", "right", 2, False): 1e-4,  # SC -3.9 dB
    ("beta0.5", "right", 2, True): 1e-6,  # SC -3.8 dB
}


def random_phase_init(
    mag: np.ndarray, cfg: StftConfig, seed: int, length: int, init: np.ndarray | None = None
) -> np.ndarray:
    """x0 = A^H (r^(1/d) e^{i phi}) with phi the start phases (``start_phases``: uniform in [-pi, pi),
    seeded, or ``init``)."""
    phases = start_phases(seed, 0, mag.shape, init)
    return istft(_amplitude(mag, cfg) * np.exp(1j * phases), cfg, length)


def start_phases(
    seed: int, first_frame: int, shape: tuple[int, int], init: np.ndarray | None = None
) -> np.ndarray:
    """Rows ``first_frame`` .. ``first_frame + shape[0]`` of the phases [F, K] an offline method starts from:
    those of ``init`` (radians, checked by engine.inputs.init_phases) where one is given, else the seeded
    uniform ones (``random_phases``)."""
    if init is None:
        return random_phases(seed, first_frame, shape)
    return np.asarray(init[first_frame : first_frame + shape[0]], dtype=np.float64)


def random_phases(seed: int, first_frame: int, shape: tuple[int, int]) -> np.ndarray:
    """Rows ``first_frame`` .. of the seeded uniform phases [F, K] that ``random_phase_init`` draws, without
    drawing the rows before them (the generator is advanced past them)."""
    bits = np.random.PCG64(seed)  # what default_rng(seed) draws from: one 64-bit output per phase
    bits.advance(first_frame * shape[1])
    return np.random.Generator(bits).uniform(-np.pi, np.pi, size=shape)


def _amplitude(mag: np.ndarray, cfg: StftConfig) -> np.ndarray:
    mag = np.asarray(mag, dtype=np.float64)
    return mag if cfg.power == 1.0 else np.sqrt(mag)


def _padded(x: np.ndarray, cfg: StftConfig) -> tuple[np.ndarray, np.ndarray, slice]:
    """The padded span of an offline signal, its ``fixed`` mask (1 on the padding) and the signal slice."""
    span = pad_signal(x, cfg)
    inside = signal_slice(x.shape[-1], cfg)
    fixed = np.ones_like(span)
    fixed[inside] = 0.0
    return span, fixed, inside


def gla(
    mag: np.ndarray,
    cfg: StftConfig,
    n_iter: int,
    seed: int,
    length: int,
    momentum: float = 0.0,
    init: np.ndarray | None = None,
) -> np.ndarray:
    """Griffin-Lim (momentum 0) or fast Griffin-Lim (momentum 0.99) from a random phase (or ``init``)."""
    span, fixed, inside = _padded(random_phase_init(mag, cfg, seed, length, init), cfg)
    return from_span(gla_iterations(mag, span, fixed, n_iter, momentum, cfg, inside), cfg, length)


def admm(
    mag: np.ndarray,
    cfg: StftConfig,
    n_iter: int,
    seed: int,
    length: int,
    prox: Prox,
    rho: float,
    init: np.ndarray | None = None,
) -> np.ndarray:
    """ADMM for phase retrieval with a Bregman loss (its prox given), zero dual start, from a random phase
    (or ``init``)."""
    span, fixed, inside = _padded(random_phase_init(mag, cfg, seed, length, init), cfg)
    x, _ = admm_iterations(mag, span, fixed, None, prox, rho, n_iter, cfg, inside)
    return from_span(x, cfg, length)


def published_rho(div: Divergence, cfg: StftConfig) -> float:
    """rho = 0.1 of the published code, carried over to the configuration's scale.

    The published code uses an unnormalised DFT and an unscaled window, whose coefficients are
    s = sqrt(N sum v^2) / ||w|| times ours (v the unscaled window, w ours: N / sqrt(2 H) for the default
    tight frame, 1 in librosa's convention); for a loss homogeneous of degree beta in r = |X|^d the same
    u-step needs rho * s^(d (2 - beta)) here (quadratic loss: rho unchanged).
    """
    if cfg.tight:  # the same value, written as it always was
        s = cfg.n_fft / np.sqrt(2.0 * cfg.hop)
    else:
        s = np.sqrt(cfg.n_fft) / window_scale(cfg)
    return float(PUBLISHED_RHO * s ** (cfg.power * (2.0 - div.beta)))


def _hermitian_weights(cfg: StftConfig) -> np.ndarray:
    c = np.full(cfg.n_bins, 2.0)
    c[0] = 1.0
    if cfg.n_fft % 2 == 0:  # the Nyquist bin is its own mirror only for an even N
        c[-1] = 1.0
    return c


def _scale(mag: np.ndarray, cfg: StftConfig) -> float:
    sigma = float(np.sqrt(np.mean(_amplitude(mag, cfg) ** 2)))
    if sigma == 0.0:
        raise InputError("the magnitudes are all zero: there is nothing to reconstruct")
    return sigma


def _floored(values: np.ndarray, mag: np.ndarray, cfg: StftConfig) -> np.ndarray:
    return np.maximum(values, (FLOOR * _scale(mag, cfg)) ** cfg.power)


def objective(x: np.ndarray, mag: np.ndarray, cfg: StftConfig, div: Divergence, side: str) -> float:
    """J(x) = 1/2 sum c_k loss(|A x|^d, r) (module docstring)."""
    est = _floored(np.abs(stft(x, cfg)) ** cfg.power, mag, cfg)
    r = _floored(np.asarray(mag, dtype=np.float64), mag, cfg)
    return float(0.5 * np.sum(_hermitian_weights(cfg) * div.loss(est, r, side)))


def gradient(x: np.ndarray, mag: np.ndarray, cfg: StftConfig, div: Divergence, side: str) -> np.ndarray:
    """Gradient of J: (d/2) A^H[|X|^(d-2) X g] with g = loss'(|X|^d)."""
    spec = stft(x, cfg)
    d = cfg.power
    a = np.maximum(np.abs(spec), FLOOR * _scale(mag, cfg))
    est = a**d
    r = _floored(np.asarray(mag, dtype=np.float64), mag, cfg)
    g = div.dloss(est, r, side)
    return (d / 2.0) * adjoint(a ** (d - 2.0) * spec * g, cfg, x.shape[-1])


def gradient_descent(
    mag: np.ndarray,
    cfg: StftConfig,
    n_iter: int,
    seed: int,
    length: int,
    div: Divergence,
    side: str,
    step: float,
    nesterov: bool = False,
    eta: float = 0.99,
    init: np.ndarray | None = None,
) -> np.ndarray:
    """Plain or Nesterov gradient descent on J from a random phase (or ``init``); ``step`` is the scale-free
    mu0.

    Nesterov: q_{t+1} = x_t - mu grad(x_t), x_{t+1} = q_{t+1} + eta (q_{t+1} - q_t).
    """
    mu = step * _scale(mag, cfg) ** (2.0 - cfg.power * div.beta)
    x = random_phase_init(mag, cfg, seed, length, init)
    q_prev = x
    for t in range(n_iter):
        with np.errstate(over="ignore", invalid="ignore"):
            q = x - mu * gradient(x, mag, cfg, div, side)
            x = q + eta * (q - q_prev) if nesterov else q
        q_prev = q
        if not np.all(np.isfinite(x)):
            raise InputError(f"gradient descent diverged after {t + 1} iterations (step too large)")
    return q_prev

"""Window steps whose measurement is a mel spectrogram: (F)GLA and ADMM with the mel step (engine.mel_gla) in
place of the magnitude projection, on the streaming window (docs/architecture.md, the window-step contract
with ``mel`` [W, n_mels], the linear mel B |X|^p of the window's frames, in place of ``mag``).

- (F)GLA: each iteration's magnitude projection (keep the phase, take the target magnitude) becomes the mel
  step: keep each bin's phase and fine structure, scale the bins so that the bands move to the window's mel.
- ADMM: the magnitude target of the prox at each iteration is the mel step applied to the current estimate
  V = A x, r = |V| G, then the usual prox of the loss against r (engine.proxes) and the usual updates.

The linear magnitudes are free. ``mel_window_step`` builds either for a method spec (engine.registry) on a
backend: the compiled twins are engine.compiled.mel_window. Arithmetic here is float64 (the reference).
"""

from __future__ import annotations

import numpy as np
from phasefold.engine import backends
from phasefold.engine.admm import COVERAGE_EPS, _project
from phasefold.engine.errors import InputError
from phasefold.engine.mel import MelConfig
from phasefold.engine.mel_gla import MelStep
from phasefold.engine.proxes import Prox
from phasefold.engine.registry import MethodSpec
from phasefold.engine.runners import WindowStep
from phasefold.engine.stft import StftConfig, analyze, coverage


def _mel_setup(
    mel: np.ndarray, x: np.ndarray, fixed: np.ndarray, step: MelStep, cfg: StftConfig
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """x (a copy) and fixed in float64, the least-squares gain of the free samples; the step aimed at mel."""
    mel = np.asarray(mel, dtype=np.float64)
    x = np.array(x, dtype=np.float64)
    fixed = np.asarray(fixed, dtype=np.float64)
    if mel.ndim != 2:
        raise ValueError(f"mel must be [W, n_mels], not {list(mel.shape)}")
    if x.shape != (cfg.span(mel.shape[0]),) or fixed.shape != x.shape:
        raise ValueError(f"x and fixed must hold {cfg.span(mel.shape[0])} samples for {mel.shape[0]} frames")
    step.aim(mel)
    return x, fixed, (1.0 - fixed) / np.maximum(coverage(mel.shape[0], cfg), COVERAGE_EPS)


def mel_gla_iterations(
    mel: np.ndarray,
    x: np.ndarray,
    fixed: np.ndarray,
    n_iter: int,
    momentum: float,
    step: MelStep,
    cfg: StftConfig,
) -> np.ndarray:
    """engine.admm.gla_iterations with the mel step (``step``, aimed at ``mel`` [W, n_mels] here) in place of
    the magnitude projection; returns x [S]."""
    x, fixed, free_gain = _mel_setup(mel, x, fixed, step, cfg)
    prev = z = x
    for _ in range(n_iter):
        x = _project(prev, fixed, free_gain, step(analyze(z, cfg)), cfg, None)
        z = x + momentum * (x - prev) if momentum else x
        prev = x
    return prev


def mel_admm_iterations(
    mel: np.ndarray,
    x: np.ndarray,
    fixed: np.ndarray,
    lam: np.ndarray | None,
    prox: Prox,
    rho: float,
    n_iter: int,
    step: MelStep,
    cfg: StftConfig,
) -> tuple[np.ndarray, np.ndarray]:
    """engine.admm.admm_iterations (d = 1) whose magnitude target at each iteration is the mel step of the
    current estimate, |V| G (module docstring); returns (x [S], lam [2, W, K])."""
    x, fixed, free_gain = _mel_setup(mel, x, fixed, step, cfg)
    spec = analyze(x, cfg)
    lam_c = np.zeros(spec.shape, np.complex128) if lam is None else lam[0] + 1j * np.asarray(lam[1])
    for _ in range(n_iter):
        target = np.abs(step(spec))
        h = spec + lam_c / rho
        a = np.abs(h)
        u = prox(a, target, rho)
        with np.errstate(divide="ignore", invalid="ignore"):
            z = np.where(a > 0, u * h / a, 0.0)
        x = _project(x, fixed, free_gain, z - lam_c / rho, cfg, None)
        spec = analyze(x, cfg)
        lam_c = lam_c + rho * (spec - z)
    return x, np.stack([lam_c.real, lam_c.imag])


def mel_window_step(spec: MethodSpec, mel: MelConfig, n_iter: int, backend: str = "auto") -> WindowStep:
    """The window step of ``spec`` (gla, fgla, admm-<loss>) with the mel measurement of ``mel``: ``n_iter``
    iterations per call, on ``backend`` (engine.backends; compiled: engine.compiled.mel_window)."""
    from phasefold.engine.algorithms import published_rho

    if spec.family not in ("gla", "admm"):
        raise InputError(f"{spec.name} cannot take a mel spectrogram; with a mel: gla, fgla, admm-<loss>")
    if n_iter < 1:
        raise InputError(f"iterations per step must be at least 1, not {n_iter}")
    cfg = mel.stft
    rho = published_rho(spec.div, cfg) if spec.family == "admm" else 0.0

    def compiled():
        from phasefold.engine.compiled.mel_window import MelAdmmStep, MelGlaStep

        if spec.family == "gla":
            return MelGlaStep(mel, spec.momentum, n_iter)
        return MelAdmmStep(mel, spec.div, spec.side, rho, n_iter)

    def reference():
        step = MelStep(np.zeros((1, mel.n_mels)), mel)
        if spec.family == "gla":

            def gla(m, x, fixed, lam):
                return mel_gla_iterations(m, x, fixed, n_iter, spec.momentum, step, cfg), lam

            return gla
        from phasefold.engine.proxes import make_prox

        prox = make_prox(spec.div, spec.side)
        return lambda m, x, fixed, lam: mel_admm_iterations(m, x, fixed, lam, prox, rho, n_iter, step, cfg)

    fn, used = backends.build(backend, compiled, reference, model=False)
    return WindowStep(fn, spec.name, n_iter, backend=used, dtype=getattr(fn, "dtype", np.float64))

"""Window steps whose measurement is a mel spectrogram: (F)GLA and ADMM with the mel step (engine.mel_gla) in
place of the magnitude projection, on the streaming window (docs/architecture.md, the window-step contract
with ``mel`` [W, n_mels], the linear mel B |X|^p of the window's frames, in place of ``mag``).

- (F)GLA: each iteration's magnitude projection (keep the phase, take the target magnitude) becomes the mel
  step: keep each bin's phase and fine structure, scale the bins so that the bands move to the window's mel.
- ADMM: the magnitude target of the prox at each iteration is the mel step applied to the current estimate
  V = A x, r = |V| G, then the usual prox of the loss against r (engine.proxes) and the usual updates.

The linear magnitudes are free. ``mel_window_step`` builds either for a method spec (engine.registry) on a
backend: the numpy reference is engine.admm's gla_iterations / admm_iterations with the mel step as their
magnitude step (the offline mel methods' loops, engine.mel_gla), the compiled twins
engine.compiled.mel_window.
"""

from __future__ import annotations

import numpy as np
from phasefold.engine import backends
from phasefold.engine.errors import InputError
from phasefold.engine.mel import MelConfig
from phasefold.engine.mel_gla import MelStep
from phasefold.engine.registry import MethodSpec, mel_spec
from phasefold.engine.runners import WindowStep


def mel_window_step(spec: MethodSpec, mel: MelConfig, n_iter: int, backend: str = "auto") -> WindowStep:
    """The window step of ``spec`` (gla, fgla, admm-<loss>) with the mel measurement of ``mel``: ``n_iter``
    iterations per call, on ``backend`` (engine.backends; compiled: engine.compiled.mel_window)."""
    from phasefold.engine.algorithms import published_rho

    mel_spec(spec)
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
        from phasefold.engine.admm import admm_iterations, gla_iterations

        step = MelStep(np.zeros((1, mel.n_mels)), mel)
        if spec.family == "gla":

            def gla(m, x, fixed, lam):
                step.aim(m)
                return gla_iterations(m, x, fixed, n_iter, spec.momentum, cfg, step=step), lam

            return gla
        from phasefold.engine.proxes import make_prox

        prox = make_prox(spec.div, spec.side)

        def admm(m, x, fixed, lam):
            step.aim(m)
            return admm_iterations(m, x, fixed, lam, prox, rho, n_iter, cfg, step=step)

        return admm

    fn, used = backends.build(backend, compiled, reference, model=False)
    return WindowStep(fn, spec.name, n_iter, backend=used, dtype=getattr(fn, "dtype", np.float64))

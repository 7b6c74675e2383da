"""Phase retrieval from a mel spectrogram: fast Griffin-Lim whose magnitude step keeps the mel measurement.

The measurement is m = B |X|^p (engine.mel: B [n_mels, K] the filters, p the power); the linear magnitudes
are free. The magnitude step keeps each bin's phase and fine structure from the current estimate X and
scales the bins so that the bands move to the target: with c = B |X|^p the current mel and
rho_b = m_b / c_b each band's ratio, bin k's power is multiplied by the band-weighted mean of the ratios,
G_k = sum_b B_bk rho_b / sum_b B_bk, so its magnitude by G_k^(1/p). Where a bin's bands all need the same
ratio (a bin under one band, or a band whose neighbours agree) the band then matches exactly; bins under no
band (above fmax, below fmin) are set to zero: the mel says nothing of them. In a = |X|^p the step is one
multiplicative update of Lee and Seung for the KL divergence, a <- a (B^T (m / B a)) / (B^T 1): it never
increases KL(m | B a), so repeating it converges to the bins' powers that fit the mel best in that sense,
with the current spectrum's fine structure as the start. The step is homogeneous: a mel
s times larger gives a spectrogram s^(1/p) times larger, so the level rule holds (a log mel shifted by a
constant gives the same audio, scaled).

The methods (engine.registry.MethodSpec.takes_mel) are the classical ones with this step as their magnitude
step (engine.admm): one implementation each, the linear magnitudes' projection replaced by the mel step.
FGLA (the default, momentum ALPHA) and GLA (no momentum) are Griffin-Lim with the step:
t_n = P_C(P_mel(c_{n-1})), c_n = t_n + alpha (t_n - t_{n-1}), P_C the STFT of the inverse STFT (the
canonical dual, engine.stft.istft), run as engine.admm.gla_iterations on the signal (P_C is linear, so the
extrapolation of spectrograms is that of signals). ADMM (admm-<loss>[-right], d = 1) is
engine.admm.admm_iterations whose prox target at each iteration is the magnitude of the mel step applied to
the current estimate, |A x| G. The signal is the one the preset's STFT frames (its outside padding
included, all free), the STFT's own padding made again from it at each iteration. The start, shared by all:
unit magnitudes with the seeded random phases of every offline method (engine.algorithms.random_phases),
through the mel step twice, to a signal (x_1 = A^+ P_mel(P_mel(e^{i phi}))): a smooth linear spectrogram
that spreads each band's value over its bins, not a least-squares one.
"""

from __future__ import annotations

import numpy as np
from phasefold.engine.admm import admm_iterations, gla_iterations
from phasefold.engine.algorithms import published_rho, random_phases
from phasefold.engine.errors import InputError
from phasefold.engine.mel import ALPHA, TINY, MelConfig, mel_filters
from phasefold.engine.registry import MethodSpec, mel_spec
from phasefold.engine.stft import from_span, istft, pad_signal, signal_slice
from scipy import sparse

#: the mel method run where none is named: measured on the validation split (docs/results.md, "Mel")
DEFAULT_MEL_METHOD = "fgla"


class MelStep:
    """The mel magnitude step (module docstring) for one configuration and target mel [F, n_mels]."""

    def __init__(self, mel: np.ndarray, cfg: MelConfig) -> None:
        bank = mel_filters(cfg)  # [n_mels, K]
        cover = bank.sum(axis=0)
        # sparse: each bin lies under at most two triangles (a tenth of the dense products' time)
        self.bank = sparse.csr_matrix(bank)
        # [K, n_mels]: each bin's weights over its bands, summing to 1 (0 under no band)
        self.spread = sparse.csr_matrix((bank / np.where(cover > 0, cover, 1.0)).T)
        self.power = cfg.power
        self.aim(mel)

    def aim(self, mel: np.ndarray) -> None:
        """Take ``mel`` [F, n_mels] as the target (the stream window's at each step: engine.mel_window)."""
        self.target = mel
        self.tiny = TINY * max(float(np.mean(mel)), np.finfo(np.float64).tiny)

    def gains(self, spec: np.ndarray) -> np.ndarray:
        """The magnitude gains G^(1/p) [F, K] that move ``spec``'s mel to the target."""
        squared = spec.real**2 + spec.imag**2
        current = (self.bank @ (squared if self.power == 2 else squared ** (self.power / 2)).T).T
        ratio = self.target / np.maximum(current, self.tiny)
        gain = (self.spread @ ratio.T).T
        return gain if self.power == 1 else gain ** (1.0 / self.power)

    def __call__(self, spec: np.ndarray) -> np.ndarray:
        return spec * self.gains(spec)


def _start(step: MelStep, cfg: MelConfig, phases: np.ndarray) -> tuple[np.ndarray, np.ndarray, slice, int]:
    """The start of every mel method (module docstring): (span, fixed, the signal's slice in the span, the
    signal's length ``inner``, the preset's outside padding included)."""
    inner = cfg.n_samples(phases.shape[0]) + 2 * cfg.pad
    x = istft(step(step(np.exp(1j * phases))), cfg.stft, inner)
    span = pad_signal(x, cfg.stft)
    inside = signal_slice(inner, cfg.stft)
    fixed = np.ones_like(span)
    fixed[inside] = 0.0
    return span, fixed, inside, inner


def mel_fgla(
    mel: np.ndarray,
    cfg: MelConfig,
    n_iter: int,
    seed: int = 0,
    length: int | None = None,
    alpha: float = ALPHA,
    phases: np.ndarray | None = None,
) -> np.ndarray:
    """A signal whose mel is ``mel`` (linear values B |X|^p [F, n_mels], engine.mel.linear_mel): ``n_iter``
    (fast) Griffin-Lim iterations with the mel step (module docstring; momentum ``alpha``, 0: GLA) from the
    start ``phases`` [F, K] (default: the seeded random phases); ``length`` samples (default
    ``cfg.n_samples(F)``), float64. The numpy reference."""
    step = MelStep(mel, cfg)
    if phases is None:
        phases = random_phases(seed, 0, (mel.shape[0], cfg.stft.n_bins))
    span, fixed, inside, inner = _start(step, cfg, phases)
    x = gla_iterations(mel, span, fixed, n_iter, alpha, cfg.stft, inside, step=step)
    return _cropped(from_span(x, cfg.stft, inner), cfg, mel.shape[0], length)


def mel_admm(
    mel: np.ndarray,
    cfg: MelConfig,
    n_iter: int,
    spec: MethodSpec,
    seed: int = 0,
    length: int | None = None,
    phases: np.ndarray | None = None,
) -> np.ndarray:
    """``mel_fgla``'s signal by ``n_iter`` iterations of ADMM with the loss of ``spec`` (admm-<loss>, d = 1,
    rho at the published scale: engine.algorithms.published_rho) whose prox target is the mel step's
    magnitudes of the current estimate (module docstring). The numpy reference."""
    from phasefold.engine.proxes import make_prox

    step = MelStep(mel, cfg)
    if phases is None:
        phases = random_phases(seed, 0, (mel.shape[0], cfg.stft.n_bins))
    span, fixed, inside, inner = _start(step, cfg, phases)
    prox, rho = make_prox(spec.div, spec.side), published_rho(spec.div, cfg.stft)
    x, _ = admm_iterations(mel, span, fixed, None, prox, rho, n_iter, cfg.stft, inside, step=step)
    return _cropped(from_span(x, cfg.stft, inner), cfg, mel.shape[0], length)


def mel_gla(
    mel: np.ndarray,
    cfg: MelConfig,
    n_iter: int,
    seed: int = 0,
    length: int | None = None,
    backend: str = "auto",
    precision: type = np.float64,
    method: str = DEFAULT_MEL_METHOD,
) -> np.ndarray:
    """The classical mel method ``method`` (gla, fgla, admm-<loss>[-right]: engine.registry.mel_spec; a
    learned mel model runs through engine.mel_methods.run_mel, the one entry of every mel method) on the
    compiled backend where ``backend`` asks for it (engine.backends: "auto" where numba and pyfftw are
    installed and the method has a compiled step; engine.compiled.mel in ``precision``, float32 or
    float64), else the numpy reference (float64: ``mel_fgla``, ``mel_admm``); the output is float64 either
    way."""
    from phasefold.engine import backends

    spec = mel_spec(method)
    if spec.mel_model:
        raise InputError(f"{spec.name} is a mel model: engine.mel_methods.run_mel runs it")
    phases = random_phases(seed, 0, (mel.shape[0], cfg.stft.n_bins))

    def compiled():
        from phasefold.engine.compiled.mel import MelGla

        run = MelGla(cfg, precision, spec)
        inner = cfg.n_samples(mel.shape[0]) + 2 * cfg.pad
        return lambda: _cropped(run(mel, n_iter, phases, inner).astype(np.float64), cfg, mel.shape[0], length)

    def reference():
        if spec.family == "gla":
            return lambda: mel_fgla(mel, cfg, n_iter, length=length, alpha=spec.momentum, phases=phases)
        return lambda: mel_admm(mel, cfg, n_iter, spec, length=length, phases=phases)

    run, _ = backends.build(backend, compiled, reference, model=False)
    return run()


def _cropped(inner: np.ndarray, cfg: MelConfig, n_frames: int, length: int | None) -> np.ndarray:
    """The output of the iterations' signal: the outside padding cut, ``length`` samples (default
    ``cfg.n_samples(n_frames)``), zeros past the end."""
    out = inner[cfg.pad : inner.shape[-1] - cfg.pad]
    n = cfg.n_samples(n_frames) if length is None else length
    if out.shape[-1] >= n:
        return out[:n]
    return np.concatenate([out, np.zeros(n - out.shape[-1])])

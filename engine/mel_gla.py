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

The iterations are the fast Griffin-Lim of Perraudin, Balazs and Sondergaard (2013), with the mel step in
place of the magnitude projection: t_n = P_C(P_mel(c_{n-1})), c_n = t_n + alpha (t_n - t_{n-1}); P_C is the
STFT of the inverse STFT (the canonical dual, engine.stft.istft). The start: unit magnitudes with the seeded
random phases of every offline method (engine.algorithms.random_phases), through the mel step, which spreads
each band's value over its bins (a smooth linear spectrogram, not a least-squares one).
"""

from __future__ import annotations

import numpy as np
from phasefold.engine.algorithms import random_phases
from phasefold.engine.mel import ALPHA, TINY, MelConfig, mel_filters
from phasefold.engine.stft import istft, stft
from scipy import sparse


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
    fast Griffin-Lim iterations with the mel step (module docstring) from the start ``phases`` [F, K]
    (default: the seeded random phases); ``length`` samples (default ``cfg.n_samples(F)``), float64."""
    n_frames = mel.shape[0]
    step = MelStep(mel, cfg)
    inner = cfg.n_samples(n_frames) + 2 * cfg.pad  # the signal the STFT frames, padding included
    if phases is None:
        phases = random_phases(seed, 0, (n_frames, cfg.stft.n_bins))
    spec = step(np.exp(1j * phases))
    previous = None
    for _ in range(n_iter):
        made = stft(istft(step(spec), cfg.stft, inner), cfg.stft)
        if previous is None:
            spec = made
        else:  # t + alpha (t - t_prev), written over t_prev (no temporaries)
            spec = np.subtract(made, previous, out=previous)
            spec *= alpha
            spec += made
        previous = made
    return _cropped(istft(step(spec), cfg.stft, inner), cfg, n_frames, length)


def mel_gla(
    mel: np.ndarray,
    cfg: MelConfig,
    n_iter: int,
    seed: int = 0,
    length: int | None = None,
    backend: str = "auto",
    precision: type = np.float64,
) -> np.ndarray:
    """``mel_fgla`` on the compiled backend where ``backend`` asks for it (engine.backends: "auto" where
    numba and pyfftw are installed; engine.compiled.mel in ``precision``, float32 or float64), else the
    numpy reference (float64); the output is float64 either way."""
    from phasefold.engine import backends

    phases = random_phases(seed, 0, (mel.shape[0], cfg.stft.n_bins))
    if not backends.wants_compiled(backend):
        return mel_fgla(mel, cfg, n_iter, length=length, phases=phases)
    from phasefold.engine.compiled.mel import MelGla

    inner = cfg.n_samples(mel.shape[0]) + 2 * cfg.pad
    out = MelGla(cfg, precision)(mel, n_iter, phases, inner)
    return _cropped(out.astype(np.float64), cfg, mel.shape[0], length)


def _cropped(inner: np.ndarray, cfg: MelConfig, n_frames: int, length: int | None) -> np.ndarray:
    """The output of the iterations' signal: the outside padding cut, ``length`` samples (default
    ``cfg.n_samples(n_frames)``), zeros past the end."""
    out = inner[cfg.pad : inner.shape[-1] - cfg.pad]
    n = cfg.n_samples(n_frames) if length is None else length
    if out.shape[-1] >= n:
        return out[:n]
    return np.concatenate([out, np.zeros(n - out.shape[-1])])

"""Offline reconstruction by method name: the registry's offline runners (engine.registry, engine.runners).

Every method works on measurements r = |X|^d given with their StftConfig (cfg.power = d of the input); a
method with its own d (the ``-d2`` suffix, d = 1 otherwise) converts r to its d first. ``backend``
(engine.backends): ``auto`` runs the compiled step where it exists, ``numpy`` / ``onnxruntime`` the
reference, ``compiled`` insists on the compiled one.
"""

from __future__ import annotations

import numpy as np
from phasefold.engine.errors import InputError
from phasefold.engine.inputs import validate_magnitudes
from phasefold.engine.registry import lookup, offline_names
from phasefold.engine.runners import Method, offline_runner
from phasefold.engine.stft import StftConfig

# Scale-free gradient steps mu0 (phasefold.engine.algorithms) per (loss, side, d, nesterov): the best spectral
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


def method_names() -> list[str]:
    """Every offline method, in listing order: the classical ones, then the exported models."""
    return offline_names()


def get_method(name: str, backend: str = "auto") -> Method:
    """An offline method by name or .onnx path; unknown names raise InputError with the closest matches."""
    return offline_runner(lookup(name), backend)


def reconstruct(
    method: str | Method,
    mag: np.ndarray,
    cfg: StftConfig,
    n_iter: int | None,
    seed: int,
    length: int,
    backend: str = "auto",
) -> np.ndarray:
    """Rebuild ``length`` samples from measurements [F, K] with one method; float64 signal. ``n_iter``
    None: the method's default (engine.runners.Method.iterations)."""
    entry = get_method(method, backend) if isinstance(method, str) else method
    n_iter = entry.iterations if n_iter is None else n_iter
    if n_iter < 0:
        raise InputError(f"the number of iterations must be >= 0, not {n_iter}")
    mag = validate_magnitudes(mag, cfg)
    if length <= 0 or cfg.n_frames(length) != mag.shape[0]:
        raise InputError(f"{mag.shape[0]} frames at hop {cfg.hop} cannot hold a signal of {length} samples")
    y = entry.run(mag, cfg, int(n_iter), int(seed), int(length))  # float32: runners widen it by blocks
    y = np.asarray(y, dtype=np.float64)
    if y.shape != (length,) or not np.all(np.isfinite(y)):
        raise InputError(f"the method returned {y.shape} samples (NaN or wrong length); expected {length}")
    return y

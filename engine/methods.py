"""Offline reconstruction by method name: the registry's offline runners (engine.registry, engine.runners).

Every method works on measurements r = |X|^d given with their StftConfig (cfg.power = d of the input); a
method with its own d (the ``-d2`` suffix, d = 1 otherwise) converts r to its d first. ``backend``
(engine.backends): ``auto`` runs the compiled step where it exists, ``numpy`` / ``onnxruntime`` the
reference, ``compiled`` insists on the compiled one.
"""

from __future__ import annotations

import numpy as np
from phasefold.engine import limits
from phasefold.engine.errors import InputError
from phasefold.engine.inputs import init_phases, validate_magnitudes
from phasefold.engine.registry import lookup, offline_names
from phasefold.engine.runners import Method, offline_runner
from phasefold.engine.stft import StftConfig


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
    init: object = None,
) -> np.ndarray:
    """Rebuild ``length`` samples from measurements [F, K] with one method; float64 signal. ``n_iter``
    None: the method's default (engine.runners.Method.iterations). ``init``: the phase to start from,
    radians or complex [F, K] (engine.inputs.init_phases); None: the seeded random phase."""
    entry = get_method(method, backend) if isinstance(method, str) else method
    n_iter = entry.iterations if n_iter is None else n_iter
    if n_iter < 0:
        raise InputError(f"the number of iterations must be >= 0, not {n_iter}")
    limits.check_iterations(n_iter)
    limits.check_sample_rate(cfg.sample_rate, "magnitudes")
    if np.ndim(mag) == 2:
        limits.check_seconds(np.shape(mag)[0], cfg.sample_rate, "magnitudes", per=cfg.hop, unit="frames")
    mag = validate_magnitudes(mag, cfg)
    if length <= 0 or cfg.n_frames(length) != mag.shape[0]:
        raise InputError(f"{mag.shape[0]} frames at hop {cfg.hop} cannot hold a signal of {length} samples")
    start = ()  # the seeded random phase
    if init is not None:
        if not isinstance(entry, Method):
            raise InputError("a streamed method takes no initial phase (init): it starts each frame itself")
        start = (init_phases(init, mag.shape),)
    # float32: runners widen it by blocks
    y = entry.run(mag, cfg, int(n_iter), int(seed), int(length), *start)
    y = np.asarray(y, dtype=np.float64)
    if y.shape != (length,) or not np.all(np.isfinite(y)):
        raise InputError(f"the method returned {y.shape} samples (NaN or wrong length); expected {length}")
    return y

"""The method registry: name -> (description, callable(mag, cfg, n_iter, seed, length) -> signal).

Built-in entries: ``gla``, ``fgla``, ``admm-<loss>[-right][-d2]`` and
``gd-<loss>[-<side>][-d2][-nesterov]``. Every method works on measurements r = |X|^d given with
their StftConfig (cfg.power = d of the input); a method with its own d (the ``-d2`` suffix, d = 1
otherwise) converts r to its d first. Other packages add entries with ``register``; modules named in
``PROVIDERS`` are imported on the first look-up and call ``register`` at import time (ONNX models
``unfolded-*`` and the like live there, so this module stays numpy-only).
"""

from __future__ import annotations

import difflib
import importlib
from collections.abc import Callable
from dataclasses import replace
from typing import NamedTuple

import numpy as np
from phasefold.engine import algorithms
from phasefold.engine.divergences import Divergence, divergence
from phasefold.engine.errors import InputError
from phasefold.engine.magnitudes import validate_magnitudes
from phasefold.engine.proxes import make_prox
from phasefold.engine.stft import StftConfig

Reconstructor = Callable[[np.ndarray, StftConfig, int, int, int], np.ndarray]


class Method(NamedTuple):
    """A registered reconstruction method."""

    description: str
    run: Reconstructor


METHODS: dict[str, Method] = {}
# modules imported on the first look-up; each registers its methods at import time
PROVIDERS: list[str] = ["phasefold.engine.onnx_model"]  # unfolded-* models (exported ONNX)
_providers_loaded: set[str] = set()

FGLA_MOMENTUM = 0.99
NESTEROV_ETA = 0.99
ADMM_LOSSES = (
    ("l2", "left"),
    ("kl", "left"),
    ("kl", "right"),
    ("is", "left"),
    ("beta0.5", "left"),
    ("beta1.5", "left"),
    ("beta1.5", "right"),
)
GD_LOSSES = ("l2", "kl", "is", "beta0.5")
# Scale-free gradient steps mu0 (phasefold.engine.algorithms) per (loss, side, d, nesterov): the best spectral
# convergence after 100 iterations on a 2 s validation excerpt (si1624), over mu0 = 10^k, k = -9..1,
# refined by half decades (`python benchmarks/classical_vs_librosa.py tune-steps --files 1`); the
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


def register(name: str, description: str, run: Reconstructor, *, replace_existing: bool = False) -> None:
    """Add a method; names are unique unless ``replace_existing``."""
    if name in METHODS and not replace_existing:
        raise ValueError(f"method {name!r} is already registered")
    METHODS[name] = Method(description, run)


def _load_providers() -> None:
    for module in PROVIDERS:
        if module not in _providers_loaded:
            _providers_loaded.add(module)
            importlib.import_module(module)


def method_names() -> list[str]:
    """Every registered name, in registration order."""
    _load_providers()
    return list(METHODS)


def get_method(name: str) -> Method:
    """Look a method up; unknown names raise InputError with the closest matches."""
    _load_providers()
    if name in METHODS:
        return METHODS[name]
    close = difflib.get_close_matches(name, METHODS, n=4, cutoff=0.5)
    hint = f"; did you mean {', '.join(close)}?" if close else ""
    raise InputError(f"unknown method {name!r}{hint} (phasefold reconstruct --list-methods lists them)")


def reconstruct(
    method: str | Method, mag: np.ndarray, cfg: StftConfig, n_iter: int, seed: int, length: int
) -> np.ndarray:
    """Rebuild ``length`` samples from measurements [F, K] with one method; float64 signal."""
    entry = get_method(method) if isinstance(method, str) else method
    if n_iter < 0:
        raise InputError(f"the number of iterations must be >= 0, not {n_iter}")
    mag = validate_magnitudes(mag, cfg)
    if length <= 0 or cfg.n_frames(length) != mag.shape[0]:
        raise InputError(f"{mag.shape[0]} frames at hop {cfg.hop} cannot hold a signal of {length} samples")
    y = entry.run(mag.astype(np.float64), cfg, int(n_iter), int(seed), int(length))
    y = np.asarray(y, dtype=np.float64)
    if y.shape != (length,) or not np.all(np.isfinite(y)):
        raise InputError(f"the method returned {y.shape} samples (NaN or wrong length); expected {length}")
    return y


def with_power(mag: np.ndarray, cfg: StftConfig, d: float) -> tuple[np.ndarray, StftConfig]:
    """Measurements and settings converted to r = |X|^d."""
    if cfg.power == d:
        return mag, cfg
    return np.asarray(mag, dtype=np.float64) ** (d / cfg.power), replace(cfg, power=float(d))


def _gla_method(momentum: float) -> Reconstructor:
    def run(mag: np.ndarray, cfg: StftConfig, n_iter: int, seed: int, length: int) -> np.ndarray:
        return algorithms.gla(mag, cfg, n_iter, seed, length, momentum=momentum)

    return run


def _admm_method(div: Divergence, side: str, d: int) -> Reconstructor:
    prox = make_prox(div, side)

    def run(mag: np.ndarray, cfg: StftConfig, n_iter: int, seed: int, length: int) -> np.ndarray:
        mag, cfg = with_power(mag, cfg, d)
        return algorithms.admm(mag, cfg, n_iter, seed, length, prox, algorithms.published_rho(div, cfg))

    return run


def _gd_method(div: Divergence, side: str, d: int, nesterov: bool) -> Reconstructor:
    step = GD_STEPS[(div.name, side, d, nesterov)]

    def run(mag: np.ndarray, cfg: StftConfig, n_iter: int, seed: int, length: int) -> np.ndarray:
        mag, cfg = with_power(mag, cfg, d)
        return algorithms.gradient_descent(
            mag, cfg, n_iter, seed, length, div, side, step, nesterov=nesterov, eta=NESTEROV_ETA
        )

    return run


_LOSS_WORDS = {"l2": "quadratic", "kl": "Kullback-Leibler", "is": "Itakura-Saito"}


def _loss_words(div: Divergence, side: str) -> str:
    words = _LOSS_WORDS.get(div.name, f"beta = {div.beta:g}")
    if div.beta == 2.0:
        return f"{words} loss"
    return f"{side} {words} loss " + ("D(|Ax|^d | r)" if side == "left" else "D(r | |Ax|^d)")


def _register_builtins() -> None:
    register(
        "gla",
        "Griffin-Lim: alternate projections on magnitudes and consistent spectrograms.",
        _gla_method(0.0),
    )
    register(
        "fgla", f"Fast Griffin-Lim (Perraudin 2013), momentum {FGLA_MOMENTUM}.", _gla_method(FGLA_MOMENTUM)
    )
    for d in (1, 2):
        suffix = "" if d == 1 else "-d2"
        for loss, side in ADMM_LOSSES:
            div = divergence(loss)
            side_tag = "-right" if side == "right" else ""
            register(
                f"admm-{loss}{side_tag}{suffix}",
                f"ADMM, {_loss_words(div, side)}, d = {d}, rho = 0.1 (published scale).",
                _admm_method(div, side, d),
            )
        for loss in GD_LOSSES:
            div = divergence(loss)
            for side in ("left", "right") if div.beta != 2.0 else ("left",):
                side_tag = f"-{side}" if div.beta != 2.0 else ""
                for nesterov in (False, True):
                    kind = "Nesterov-accelerated gradient descent" if nesterov else "gradient descent"
                    register(
                        f"gd-{loss}{side_tag}{suffix}{'-nesterov' if nesterov else ''}",
                        f"{kind[0].upper()}{kind[1:]}, {_loss_words(div, side)}, d = {d}.",
                        _gd_method(div, side, d, nesterov),
                    )


_register_builtins()

"""The methods that run from a mel spectrogram, by name: the one list of them (``MEL_RUNNERS``).

A mel is a measurement, not a method (docs/architecture.md): a method keeps its name and, given a mel, runs
with its magnitude projection replaced by the mel step (engine.mel_gla). ``MEL_RUNNERS`` maps each method
that can take a mel to its runner; ``phasefold evaluate --mel`` runs all of them when no --methods is given,
and any other registry name gets one InputError line saying it cannot take a mel. A method that learns to
take a mel (mel ADMM, a model whose card has a "mel" section) joins by an entry here.

A runner: ``runner(target, cfg, n_iter, seed, length, backend) -> signal`` with ``target`` the linear mel
B |X|^p [F, n_mels] (engine.mel.linear_mel), ``cfg`` its engine.mel.MelConfig, ``n_iter`` the iterations
(None: the method's offline default), ``length`` the samples of the output.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from phasefold.engine.errors import InputError
from phasefold.engine.mel import MelConfig
from phasefold.engine.mel_gla import mel_gla
from phasefold.engine.registry import lookup

MelRunner = Callable[[np.ndarray, MelConfig, "int | None", int, int, str], np.ndarray]


def _fgla(
    target: np.ndarray, cfg: MelConfig, n_iter: int | None, seed: int, length: int, backend: str
) -> np.ndarray:
    iterations = lookup("fgla").iterations if n_iter is None else n_iter
    # float32 as phasefold.mel_to_audio's default output (the same audio as the API gives)
    return mel_gla(target, cfg, iterations, seed=seed, length=length, backend=backend, precision=np.float32)


#: every method that takes a mel, in listing order
MEL_RUNNERS: dict[str, MelRunner] = {"fgla": _fgla}


def mel_method_names() -> list[str]:
    """The methods that take a mel (``evaluate --mel``'s default list)."""
    return list(MEL_RUNNERS)


def run_mel(
    name: str,
    target: np.ndarray,
    cfg: MelConfig,
    n_iter: int | None,
    seed: int,
    length: int,
    backend: str = "auto",
) -> np.ndarray:
    """``length`` samples from the linear mel ``target`` [F, n_mels] with the method ``name`` (float64);
    InputError, one line, for an unknown name (the registry's words) or a method that cannot take a mel."""
    if name not in MEL_RUNNERS:
        lookup(name)  # an unknown name: the registry's line, with the closest names
        raise InputError(
            f"{name} cannot take a mel input; the methods that can: {', '.join(mel_method_names())}"
        )
    if n_iter is not None and n_iter < 0:
        raise InputError(f"the number of iterations must be >= 0, not {n_iter}")
    return MEL_RUNNERS[name](target, cfg, n_iter, seed, length, backend)

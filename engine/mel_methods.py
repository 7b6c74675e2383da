"""THE entry of every method that runs from a mel spectrogram: ``run_mel`` (phasefold.mel_to_audio,
``reconstruct --mel``, ``evaluate --mel`` and the GUI's mel input all call it).

A mel is a measurement, not a method (docs/architecture.md): which methods take a mel is the registry's
(engine.registry: ``MethodSpec.takes_mel``, ``mel_spec``, ``mel_method_names``). The classical ones run with
the mel step as their magnitude step (engine.mel_gla.mel_gla); a learned mel model runs its graph at its
training level (engine.mel_model.mel_model_audio).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from phasefold.engine.errors import InputError
from phasefold.engine.mel import MelConfig
from phasefold.engine.mel_gla import mel_gla
from phasefold.engine.mel_model import mel_model_audio
from phasefold.engine.registry import mel_spec


def run_mel(
    name: str | Path,
    target: np.ndarray,
    cfg: MelConfig,
    n_iter: int | None,
    seed: int,
    length: int | None,
    backend: str = "auto",
    precision: type = np.float32,
) -> np.ndarray:
    """``length`` samples (float64) from the linear mel ``target`` [F, n_mels] (engine.mel.linear_mel) of
    the configuration ``cfg`` by the method ``name`` for ``n_iter`` iterations (None: the method's offline
    default; a mel model: its passes of T layers, ``MethodSpec.passes``); ``backend`` and ``precision``
    as engine.mel_gla.mel_gla for a classical method (float32 by default, as phasefold.mel_to_audio's
    default output: the same audio from every door). InputError, one line, for an unknown name, a
    method that cannot take a mel, or a mel model given another mel than its card's."""
    spec = mel_spec(name, cfg)
    if n_iter is None:
        n_iter = spec.iterations
    if n_iter < 0:
        raise InputError(f"the number of iterations must be >= 0, not {n_iter}")
    if spec.mel_model:
        return mel_model_audio(target, spec.path, seed, length, passes=spec.passes(n_iter))
    return mel_gla(target, cfg, n_iter, seed, length, backend, precision, method=spec.name)

"""The library API behind ``import phasefold``: reconstruct, list methods, load models, the STFT.

Conventions (docs/architecture.md): 22050 Hz, n_fft 1024, periodic sine window scaled to a tight frame,
hop 256 by default (512 works); magnitudes are arrays [frames, n_fft / 2 + 1] of |X| (d = 1), frame n
covering samples [n hop, n hop + n_fft) of the signal padded with n_fft - hop zeros in front.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from phasefold.engine.stft import HOP, N_FFT, SAMPLE_RATE, StftConfig
from phasefold.engine.stft import istft as _istft
from phasefold.engine.stft import stft as _stft


def _config(hop: int, n_fft: int) -> StftConfig:
    from phasefold.engine.errors import InputError

    try:
        return StftConfig(n_fft=int(n_fft), hop=int(hop))
    except ValueError as exc:
        raise InputError(str(exc)) from None


def stft(signal: np.ndarray, hop: int = HOP, n_fft: int = N_FFT) -> np.ndarray:
    """Complex spectrogram [frames, n_fft / 2 + 1] of a 22050 Hz signal [samples] (tight frame, A^H A = I)."""
    return _stft(np.asarray(signal, dtype=np.float64), _config(hop, n_fft))


def istft(spectrogram: np.ndarray, length: int, hop: int = HOP, n_fft: int = N_FFT) -> np.ndarray:
    """The adjoint (and inverse) of ``stft``: ``length`` samples at 22050 Hz from [frames, n_fft / 2 + 1]."""
    return _istft(np.asarray(spectrogram), _config(hop, n_fft), int(length))


def list_methods(streaming: bool = False) -> list[str]:
    """Names of the offline methods (``streaming=False``) or of the streaming engine's methods."""
    if streaming:
        from phasefold.engine.streaming.steps import method_names

        return method_names()
    from phasefold.engine.methods import method_names

    return method_names()


def reconstruct(
    magnitudes: np.ndarray,
    method: str = "unfolded-untied",
    hop: int = HOP,
    iterations: int = 15,
    length: int | None = None,
    seed: int = 0,
) -> np.ndarray:
    """A 22050 Hz signal (float64 [length]) from magnitudes |X| [frames, 513], offline, with one method.

    ``iterations``: iterations of a classical method, or layers of a model (passes = iterations / T,
    at least one). ``length`` defaults to the longest signal the frames hold (frames * hop - n_fft + hop).
    """
    from phasefold.engine.inputs import default_length
    from phasefold.engine.methods import reconstruct as run_method

    mag = np.asarray(magnitudes)
    cfg = _config(hop, N_FFT)
    n = default_length(mag.shape[0], cfg) if length is None and mag.ndim == 2 else length
    return run_method(method, mag, cfg, iterations, seed, int(n if n is not None else 0))


def load_model(path_or_name: str | Path):
    """An exported model (``phasefold.engine.onnx_model.PhaseModel``) by file path or shipped name."""
    from phasefold.engine.onnx_model import load_model as load
    from phasefold.engine.streaming.steps import model_file

    path = model_file(path_or_name)
    if path is None:
        from phasefold.engine.errors import ModelError

        raise ModelError(f"{path_or_name}: neither an .onnx file nor a shipped model")
    return load(path)


__all__ = ["SAMPLE_RATE", "istft", "list_methods", "load_model", "reconstruct", "stft"]

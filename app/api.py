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


#: the defaults ``reconstruct`` had before the registry's (phasefold 0.x): method and iterations
_OLD_METHOD, _OLD_ITERATIONS = "unfolded-untied", 15
_warned: set[str] = set()


def _warn_once(text: str) -> None:
    """A FutureWarning, once per process and text."""
    import warnings

    if text not in _warned:
        _warned.add(text)
        warnings.warn(text, FutureWarning, stacklevel=3)


def _changed_default(method: str | None, iterations: int | None, hop: int) -> None:
    """Warn where a call relies on a default that changed: no ``method`` (was unfolded-untied, 15 layers),
    or no ``iterations`` where the method's own default runs differently from the old 15."""
    from phasefold.engine import registry
    from phasefold.engine.errors import PhasefoldError

    if method is None:
        spec = registry.lookup(registry.DEFAULT_METHOD)
        _warn_once(
            f"phasefold.reconstruct: the default method is now {spec.name!r} ({spec.iterations} iterations), "
            f"it was {_OLD_METHOD!r} ({_OLD_ITERATIONS} layers); pass method={_OLD_METHOD!r} to keep the old "
            "output"
        )
        return
    if iterations is not None:
        return
    try:
        spec = registry.lookup(method)
        if not spec.offline:
            return  # it does not run offline: running it says so
        if spec.family == "model":
            chosen = spec.at_hop(hop)
            changed = chosen.passes(_OLD_ITERATIONS) != chosen.passes(spec.iterations)
        else:
            changed = spec.iterations != _OLD_ITERATIONS
    except PhasefoldError:
        return  # running it says what is wrong
    if changed:
        _warn_once(
            f"phasefold.reconstruct: the default iterations of {spec.name!r} are now its own "
            f"({spec.describe_offline(spec.iterations)}), they were {_OLD_ITERATIONS}; pass "
            f"method={spec.name!r}, iterations={_OLD_ITERATIONS} to keep the old output"
        )


def reconstruct(
    magnitudes: np.ndarray,
    method: str | None = None,
    hop: int = HOP,
    iterations: int | None = None,
    length: int | None = None,
    seed: int = 0,
) -> np.ndarray:
    """A 22050 Hz signal (float64 [length]) from magnitudes |X| [frames, 513], offline, with one method.

    ``method`` None: the registry's default (engine.registry.DEFAULT_METHOD, the CLI's default too).
    ``iterations``: iterations of a classical method, or layers of a model (passes = iterations / T,
    at least one); None: the method's default (MethodSpec.iterations: 100 for a classical method, one pass
    of a model's layers). ``length`` defaults to the longest signal the frames hold (frames * hop - n_fft +
    hop). A call that leaves out a default that changed (``method``; ``iterations`` where the method's own
    differs from the old 15) warns once per process (FutureWarning).
    """
    from phasefold.engine import registry
    from phasefold.engine.inputs import default_length
    from phasefold.engine.methods import reconstruct as run_method

    _changed_default(method, iterations, int(hop))
    mag = np.asarray(magnitudes)
    cfg = _config(hop, N_FFT)
    n = default_length(mag.shape[0], cfg) if length is None and mag.ndim == 2 else length
    name = registry.DEFAULT_METHOD if method is None else method
    return run_method(name, mag, cfg, iterations, seed, int(n if n is not None else 0))


def load_model(path_or_name: str | Path):
    """An exported model (``phasefold.engine.onnx_model.PhaseModel``) by file path or shipped name."""
    from phasefold.engine import registry
    from phasefold.engine.errors import InputError, ModelError
    from phasefold.engine.onnx_model import load_model as load

    try:
        spec = registry.lookup(path_or_name)
    except InputError:
        spec = None
    if spec is None or spec.path is None:
        raise ModelError(f"{path_or_name}: neither an .onnx file nor a shipped model")
    return load(spec.path)


__all__ = ["SAMPLE_RATE", "istft", "list_methods", "load_model", "reconstruct", "stft"]

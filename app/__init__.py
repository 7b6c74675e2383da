"""phasefold: real-time audio from magnitude spectrograms with learned phase retrieval.

The library API (no torch, no Qt):

- ``phasefold.Stream``: the streaming engine (``Stream.open(method)``: L and B a stream-trained model's own,
  else 3 and 1; then
  ``push(frames [k, 513]) -> audio [k * hop]``, ``flush()``, ``reset()``, ``latency_ms``);
- ``phasefold.reconstruct(magnitudes, method=..., hop=..., iterations=...)``: offline reconstruction;
- ``phasefold.load_model(path_or_name)``, ``phasefold.list_methods()``;
- ``phasefold.stft(signal)`` / ``phasefold.istft(spectrogram, length)``: the tight-frame STFT (any other
  configuration by keywords);
- ``phasefold.griffinlim(S, ...)``: a drop-in for ``librosa.griffinlim`` (its signature and layout), with a
  PGHI start by default; ``phasefold.GriffinLim``: torchaudio's ``transforms.GriffinLim`` on numpy arrays;
- ``phasefold.mel_to_audio(M, preset=None, ...)``: audio from a mel spectrogram (librosa's
  ``mel_to_audio`` signature and defaults, or a preset's own log mel: "hifigan", "espnet", "vocos").

- ``phasefold.SAMPLE_RATE``: 22050, the sample rate of the default STFT; ``phasefold.__version__``: the
  version of this package.

The command line is ``phasefold`` (or ``python -m phasefold``); the GUI lives in ``phasefold.gui``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from phasefold._version import __version__

if TYPE_CHECKING:
    from phasefold.api import istft, list_methods, load_model, reconstruct, stft
    from phasefold.dropin import GriffinLim, griffinlim
    from phasefold.engine.streaming import Stream
    from phasefold.mel import mel_to_audio

_LAZY = {
    "Stream": "phasefold.engine.streaming",
    "reconstruct": "phasefold.api",
    "load_model": "phasefold.api",
    "list_methods": "phasefold.api",
    "stft": "phasefold.api",
    "istft": "phasefold.api",
    "griffinlim": "phasefold.dropin",
    "GriffinLim": "phasefold.dropin",
    "mel_to_audio": "phasefold.mel",
    "SAMPLE_RATE": "phasefold.api",
}


def __getattr__(name: str):
    """Import the API on first use, so that ``phasefold --help`` and ``import phasefold`` stay light."""
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'phasefold' has no attribute {name!r}")


__all__ = [
    "GriffinLim",
    "SAMPLE_RATE",
    "Stream",
    "__version__",
    "griffinlim",
    "istft",
    "list_methods",
    "load_model",
    "mel_to_audio",
    "reconstruct",
    "stft",
]

"""Model files the window can stream (checked by the launch options and by the window's Open model...)."""

from __future__ import annotations

from pathlib import Path

from phasefold.engine.errors import InputError


def check_model_file(path: str | Path) -> None:
    """A model file the window can stream: it exists, its card is valid and its STFT is the GUI's."""
    from phasefold.engine.model_card import ModelCard
    from phasefold.engine.stft import StftConfig

    if not Path(path).is_file():
        raise InputError(f"{path}: no such model file")
    cfg = ModelCard.read(path).stft  # ModelError with a clear message for a bad card
    if cfg != StftConfig():
        raise InputError(
            f"{path}: made for an STFT of n_fft {cfg.n_fft}, hop {cfg.hop}; the window streams at "
            f"n_fft {StftConfig().n_fft}, hop {StftConfig().hop} (use `phasefold stream --model` for it)"
        )

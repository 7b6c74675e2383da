"""Spectrogram levels in dB (no Qt here: the streaming worker converts frames before they reach the GUI)."""

from __future__ import annotations

import numpy as np

FLOOR_DB = -150.0


def to_db(mag: np.ndarray, power: float = 1.0) -> np.ndarray:
    """Magnitude frames r = |X|^d to float32 dB of |X| (floored, never -inf)."""
    amp = np.asarray(mag, dtype=np.float64) ** (1.0 / power)
    return (20.0 * np.log10(np.maximum(amp, 10.0 ** (FLOOR_DB / 20.0)))).astype(np.float32)

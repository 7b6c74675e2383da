"""The events a stream's worker posts to the GUI thread (drained by the main window's frame timer)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class FramesEvent:
    """Spectrogram frames in dB: ``which`` is "input" or "output"; frame indices start at ``first``."""

    which: str
    first: int
    db: np.ndarray


@dataclass
class ScoreEvent:
    """STOI / ESTOI of the window ending at ``t`` seconds of the signal."""

    t: float
    stoi: float
    estoi: float


@dataclass
class StatsEvent:
    method: str
    rtf: float
    latency_ms: float
    xruns: int
    seconds: float  # seconds of signal reconstructed so far


@dataclass
class MessageEvent:
    text: str
    error: bool = False


@dataclass
class FinishedEvent:
    """The stream ended: ``completed`` when the whole source was played, else stopped or failed."""

    completed: bool
    text: str

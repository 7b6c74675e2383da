"""The streaming window with mel frames in (``Stream.open(..., mel=...)``): engine.streaming.window's
processor whose window holds the linear mel B |X|^p [W, n_mels] of its frames in place of magnitudes, run by
a mel window step (engine.mel_window: (F)GLA or ADMM with the mel step inside).

A new frame needs amplitudes to start from (its phase comes from the previous frame as for magnitudes:
advanced, or RTPGHI on these amplitudes). ``MEL_STARTS``:

- ``"spread"``: the band values spread over their bins, (sum_b B_bk m_b / c_b / sum_b B_bk)^(1/p) with
  c_b = sum_k B_bk: the mel step applied to a flat spectrum, a smooth spectrum with the frame's mel;
- ``"step"``: the mel step applied to the previous frame's spectrum (its fine structure, the harmonics,
  carried over and scaled to the new frame's bands); the spread where the previous frame is silent.

The running level (engine.level) is measured on the spread amplitudes (an estimate of |X|, so that the
state sits at the level the linear engine keeps), and the mel is scaled by 2^(k p) with the signal. A learned
stream mel model (``reference`` given: its card's training level in mel units, ModelCard.mel_reference_level)
is brought to its level as the offline mel model is (engine.mel_model), with the linear models' causal
estimate: the running maximum of the mel frames' level (their amplitudes' RMS over the bands, the measure of
engine.level.MEL_REFERENCE_LEVEL) gives k against the reference, the mel enters scaled by g^p, g = 2^-k, and
the output leaves divided by g (a power-of-two level change of the mel gives the output scaled bit for bit).
"""

from __future__ import annotations

import numpy as np
from phasefold.engine import backends
from phasefold.engine.level import RunningLevel
from phasefold.engine.mel import MelConfig
from phasefold.engine.mel_gla import MelStep
from phasefold.engine.runners import WindowStep
from phasefold.engine.stft import analyze
from phasefold.engine.streaming.window import WindowProcessor
from phasefold.engine.wording import counted

MEL_STARTS = ("spread", "step")
#: the start a mel stream takes where none is given (chosen by measurement: docs/results.md, "Mel, streamed")
MEL_START = "step"
#: the start a learned stream mel model's new frames take: its training's (training.mel_unfolded's
#: MelStreamUnfolded.new_magnitude, the mel step of unit magnitudes)
MODEL_MEL_START = "spread"


class MelWindowProcessor(WindowProcessor):
    """A window processor fed linear mel frames [b, n_mels] (module docstring)."""

    accepts_phases = False

    def __init__(
        self,
        step: WindowStep,
        mel: MelConfig,
        lookahead: int,
        block: int,
        init: str = "advance",
        silent_start: int = 0,
        seed: int = 0,
        mel_start: str = MEL_START,
        reference: float | None = None,
    ) -> None:
        """``reference``: a learned mel model's training level (module docstring); None for the classical
        mel steps, whose level is measured on the spread amplitudes."""
        if mel_start not in MEL_STARTS:
            raise ValueError(f"unknown mel start {mel_start!r}; choose one of {', '.join(MEL_STARTS)}")
        self.mel = mel
        self.mel_start = mel_start
        self.reference = reference
        self._step = MelStep(np.zeros((1, mel.n_mels)), mel)
        self._ones = np.ones((block, mel.stft.n_bins))
        super().__init__(step, mel.stft, lookahead, block, init, silent_start, seed, compiled_frames=False)
        if step.backend == backends.COMPILED and init == "advance":  # the slide and start in one kernel
            from phasefold.engine.compiled.mel_window import MelNewFrames

            self._fast = MelNewFrames(mel, self._cov, self._cov_old, self.dtype, mel_start == "spread")

    @property
    def power(self) -> float:
        return self.mel.power

    @property
    def width(self) -> int:
        return self.mel.n_mels

    def reset(self) -> None:
        super().reset()
        if self.reference is None:
            self._level = RunningLevel(1.0)  # on the spread amplitudes (_levels_of)
        else:  # on the mel frames themselves, against the model's own level
            self._level = RunningLevel(self.mel.power, self.reference)

    def describe(self) -> str:
        return (
            f"{self.name} with the mel step ({self.mel.n_mels} bands; window of "
            f"{counted(self.n_window, 'frame')}, {counted(self.step.projections, 'projection')} per step, "
            f"{self.init} phase and {self.mel_start} amplitudes for a new frame)"
        )

    def _spread(self, mel: np.ndarray) -> np.ndarray:
        """The spread amplitudes [b, K] of mel frames [b, n_mels] (module docstring)."""
        self._step.aim(mel)
        return self._step.gains(self._ones[: mel.shape[0]])

    def _levels_of(self, mags: np.ndarray) -> np.ndarray:
        return mags if self.reference is not None else self._spread(mags)

    def _measured(self, rows: slice) -> np.ndarray:
        return self._spread(self.mag[rows])  # r = |X| (the mel's STFT has d = 1)

    def _start_amplitudes(self, b: int) -> np.ndarray:
        if self.mel_start == "spread":
            return self._spread(self.mag[-b:])
        cfg = self.cfg
        start = (self.n_window - b - 1) * cfg.hop
        prev = np.abs(analyze(self.x[start : start + cfg.n_fft], cfg))  # [1, K]
        if not prev.any():
            return self._spread(self.mag[-b:])
        self._step.aim(self.mag[-b:])
        return prev * self._step.gains(np.broadcast_to(prev, (b, cfg.n_bins)))


def mel_config(mel: str | MelConfig) -> MelConfig:
    """A mel configuration: a preset's name (engine.mel.PRESETS) or a MelConfig; InputError otherwise."""
    from phasefold.engine.errors import InputError
    from phasefold.engine.mel import PRESETS

    if isinstance(mel, MelConfig):
        if mel.stft.power != 1.0:
            raise InputError("a mel stream runs on the amplitudes |X| (the mel's STFT with power d = 1)")
        return mel
    if isinstance(mel, str) and mel in PRESETS:
        return PRESETS[mel]
    raise InputError(f"mel must be a preset ({', '.join(PRESETS)}) or a MelConfig, not {mel!r}")

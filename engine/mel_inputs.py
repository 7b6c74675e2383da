"""A mel input read from a file, as every door reads it (`reconstruct --mel`, `stream --mel`, the GUI's mel
input): a .npy array in a mel configuration's own layout and log scale, or audio whose mel is computed
first (the recording kept for scoring). A file that does not fit is one InputError line, the same line
wherever it was given."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from phasefold.engine.errors import InputError
from phasefold.engine.inputs import is_magnitude_file, load_audio, sample_format
from phasefold.engine.mel import MelConfig, linear_mel, melspectrogram


@dataclass(frozen=True)
class MelInput:
    """A mel input read by ``read_mel``."""

    mel: np.ndarray  # in the configuration's own layout and log scale
    linear: np.ndarray  # its linear values B |X|^p [frames, n_mels] (engine.mel.linear_mel)
    audio: np.ndarray | None  # the recording the mel was computed from, at the mel's rate; None for a .npy
    sample_format: str | None  # the input file's (engine.inputs.sample_format), "FLOAT" for a .npy array;
    # None where no file was read (the GUI's demo)
    notes: list[str]  # reading the audio: resampled, mixed down


def is_mel_array(path: str | Path) -> bool:
    """A .npy file: read as a mel array (any other file as audio)."""
    return Path(path).suffix.lower() == ".npy"


def read_mel(path: str | Path, cfg: MelConfig) -> MelInput:
    """``path`` read as the mel of ``cfg``: a .npy array in its own layout and log scale, or audio whose mel
    is computed first (engine.mel.melspectrogram, the recording kept for scoring); InputError, one line, for
    an array that does not fit the mel (bands, log scale, axes: engine.mel.linear_mel), a .npz magnitude
    file and a file that cannot be read."""
    path = Path(path)
    if is_magnitude_file(path):
        raise InputError(
            f"{path.name} is a .npz file of linear magnitudes; a mel input is a .npy mel array or audio"
        )
    audio, notes = None, []
    if is_mel_array(path):
        try:
            mel = np.load(path, allow_pickle=False)
        except (OSError, ValueError) as exc:
            raise InputError(f"cannot read {path.name} as a .npy array: {exc}") from None
        fmt = "FLOAT"
    else:
        audio, notes = load_audio(path, cfg.stft.sample_rate)
        mel, fmt = melspectrogram(audio, cfg), sample_format(path)
    linear = linear_mel(mel, cfg, path.name)  # checked here, to be named
    if linear.ndim != 2:
        raise InputError(f"{path.name} holds {linear.ndim} axes; give one mel spectrogram (2 axes)")
    return MelInput(mel, linear, audio, fmt, notes)

"""Audio out: WAV files written atomically, checked first (reading is engine.inputs)."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import soundfile as sf
from phasefold.engine.errors import InputError
from phasefold.engine.outputs import atomic_output, check_output_path
from phasefold.engine.stft import SAMPLE_RATE

SUBTYPES = ("PCM_16", "PCM_24", "FLOAT")
WRITE_BLOCK = 1 << 16  # samples written (and checked) at a time


def write_wav(path: str | Path, x: np.ndarray, sr: int = SAMPLE_RATE, subtype: str = "PCM_16") -> list[str]:
    """Write mono audio atomically (engine.outputs); integer formats are clipped to [-1, 1] first (a note
    says how many samples)."""
    if subtype not in SUBTYPES:
        raise InputError(f"unknown WAV format {subtype!r}; choose one of {', '.join(SUBTYPES)}")
    x = np.asarray(x).reshape(-1)
    if not all(np.all(np.isfinite(x[i : i + WRITE_BLOCK])) for i in range(0, x.size, WRITE_BLOCK)):
        raise InputError("refusing to write audio with NaN or infinite samples")
    path = check_output_path(path, "audio")
    clipped = 0
    with atomic_output(path) as tmp:  # an existing file stays as it was if writing fails (a full disk)
        try:
            with sf.SoundFile(str(tmp), "w", samplerate=sr, channels=1, subtype=subtype, format="WAV") as f:
                for i in range(0, x.size, WRITE_BLOCK):  # in blocks: no second copy of a long signal
                    block = np.asarray(x[i : i + WRITE_BLOCK], dtype=np.float32)
                    if subtype != "FLOAT":
                        over = np.abs(x[i : i + WRITE_BLOCK]) > 1.0
                        clipped += int(np.count_nonzero(over))
                        block = np.clip(block, -1.0, 1.0)
                    f.write(block)
        except (sf.LibsndfileError, RuntimeError, OSError) as exc:
            raise write_error(path, exc) from None
    if clipped:
        return [f"clipped {clipped} samples to [-1, 1] (use a float WAV to keep them)"]
    return []


def write_error(path: str | Path, exc: Exception) -> InputError:
    """The one-line error for a failed audio write, with the system's reason (a full disk, a size limit)."""
    reason = (exc.strerror if isinstance(exc, OSError) else None) or str(exc)
    # libsndfile says only "System error." (code 2); the system's errno holds why
    if isinstance(exc, sf.LibsndfileError) and exc.code == 2 and sf._ffi.errno:
        reason = os.strerror(sf._ffi.errno)
    return InputError(f"{path}: cannot write: {reason}")

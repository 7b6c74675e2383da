"""Output files that are never half-written and never clobber what a run did not finish.

Every output path (audio, JSON, CSV, screenshot) is checked with ``check_output_path`` before the work
starts; the file is then written through ``atomic_output``: to a temporary file beside the target, renamed
over it only when complete. A run that fails (bad input, a full disk, an exception, a signal: the CLI turns
SIGTERM and SIGHUP into an exception, phasefold.exit_signals) leaves an existing file exactly as it was and
no partial file behind; ``discard_partial_outputs`` deletes what an interrupted run was still writing.
Audio is written as WAV by ``write_wav`` (reading is engine.inputs), in the sample format
``output_subtype`` picks: the one asked for, else the input's.
"""

from __future__ import annotations

import os
import secrets
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import soundfile as sf
from phasefold.engine.errors import InputError
from phasefold.engine.stft import SAMPLE_RATE

PART_SUFFIX = ".part"
SUBTYPES = ("PCM_16", "PCM_24", "PCM_32", "FLOAT")
#: the WAV format of an output where there is no input format to follow (the demo, the microphone)
DEFAULT_SUBTYPE = "PCM_16"
#: input sample format (engine.inputs.sample_format: a soundfile subtype) -> the WAV format that keeps its
#: samples: integers over 16 bits keep their width, float stays float (DOUBLE as FLOAT, float32: below a
#: reconstruction's own error), and so do the lossy codecs, whose decoders give float samples; every other
#: format holds 16 bits or fewer (PCM_U8, PCM_S8, ULAW, ALAW, the ADPCMs, GSM) and gives DEFAULT_SUBTYPE
FOLLOWED_SUBTYPES = {
    "PCM_24": "PCM_24",
    "PCM_32": "PCM_32",
    "ALAC_20": "PCM_24",
    "ALAC_24": "PCM_24",
    "ALAC_32": "PCM_32",
    "DWVW_24": "PCM_24",
    "FLOAT": "FLOAT",
    "DOUBLE": "FLOAT",
    "VORBIS": "FLOAT",
    "OPUS": "FLOAT",
    "MPEG_LAYER_I": "FLOAT",
    "MPEG_LAYER_II": "FLOAT",
    "MPEG_LAYER_III": "FLOAT",
}
WRITE_BLOCK = 1 << 16  # samples written (and checked) at a time
#: libsndfile's command that switches the PEAK chunk of float WAVs off (sndfile.h; not in soundfile's API)
SFC_SET_ADD_PEAK_CHUNK = 0x1050


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


#: the permissions an ordinary new file gets here (mkstemp's own are 0600)
FILE_MODE = 0o666 & ~_umask()


def check_output_path(path: str | Path, what: str = "output", inputs: tuple = ()) -> Path:
    """``path`` as a Path, checked before any work: not a folder, its folder exists and can be written,
    an existing file there can be replaced, and it is none of ``inputs`` (InputError otherwise)."""
    path = Path(path)
    if path.is_dir():
        raise InputError(f"{path}: is a folder; give a file name for the {what}")
    parent = path.parent
    if not parent.is_dir():
        if parent.exists():
            raise InputError(f"{path}: {parent} is a file, not a folder")
        raise InputError(f"{path}: the folder {parent} does not exist")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise InputError(f"{path}: cannot write the {what} there (the folder {parent} is not writable)")
    if path.exists() and not os.access(path, os.W_OK):
        raise InputError(f"{path}: the file is read-only")
    for source in inputs:
        if source is None:
            continue
        source = Path(source)
        if path.exists() and source.exists() and os.path.samefile(path, source):
            raise InputError(f"{path}: is also the input; write the {what} to another file")
    return path


_parts: set[Path] = set()  # the temporary files being written (atomic_output), not yet renamed nor deleted
_parts_lock = threading.Lock()


def _new_part(path: Path) -> Path:
    """Create an empty temporary file beside ``path`` (mode 0600), listed in ``_parts`` before it exists:
    an exception raised anywhere in here (a signal) cannot leave an unlisted file behind."""
    for _ in range(100):
        tmp = path.parent / f".{path.name}.{secrets.token_hex(8)}{PART_SUFFIX}"
        with _parts_lock:
            _parts.add(tmp)
        try:
            os.close(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
            return tmp
        except OSError as exc:
            with _parts_lock:
                _parts.discard(tmp)
            if not isinstance(exc, FileExistsError):
                raise InputError(f"{path}: cannot write there ({exc.strerror or exc})") from None
    raise InputError(f"{path}: cannot write there (no free temporary name beside it)")


@contextmanager
def atomic_output(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path beside ``path`` to write; when the block ends without an error it is renamed
    over ``path``, else deleted (an existing file at ``path`` is untouched either way). Until then it is
    listed for ``discard_partial_outputs``."""
    path = Path(path)
    tmp = _new_part(path)
    try:
        yield tmp
        os.chmod(tmp, FILE_MODE)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    finally:
        with _parts_lock:
            _parts.discard(tmp)


def discard_partial_outputs() -> list[Path]:
    """Delete every temporary file ``atomic_output`` is still writing (a run ended by a signal, wherever it
    was); returns them. The targets are untouched: an existing file stays exactly as it was."""
    with _parts_lock:
        parts = sorted(_parts)
        _parts.clear()
    for part in parts:
        part.unlink(missing_ok=True)
    return parts


def check_subtype(subtype: str) -> str:
    """``subtype`` where it is one of SUBTYPES, else InputError naming them."""
    if subtype not in SUBTYPES:
        raise InputError(f"unknown WAV format {subtype!r}; choose one of {', '.join(SUBTYPES)}")
    return subtype


def output_subtype(input_format: str | None, requested: str | None = None) -> str:
    """The WAV sample format (one of SUBTYPES) of an output made from an input in ``input_format``
    (engine.inputs.sample_format; None where the input has none: the demo, the microphone).

    ``requested`` (``--format``) wins; else the input's format is followed (FOLLOWED_SUBTYPES): float in,
    float out (FLOAT, DOUBLE, a .npz magnitude file, a lossy codec), integers of 24 or 32 bits keep their
    width, 16 bits or fewer give PCM_16 (PCM_U8 too: 8 bits would add their own noise); no format gives
    DEFAULT_SUBTYPE (PCM_16).
    """
    if requested is not None:
        return check_subtype(requested)
    if input_format is None:
        return DEFAULT_SUBTYPE
    return FOLLOWED_SUBTYPES.get(input_format, DEFAULT_SUBTYPE)


def write_text(path: str | Path, text: str) -> None:
    """Write a text file (JSON, CSV) atomically; InputError with the reason where it cannot be written."""
    path = Path(path)
    with atomic_output(path) as tmp:
        try:
            tmp.write_text(text)
        except OSError as exc:
            raise InputError(f"{path}: cannot write: {exc.strerror or exc}") from None


class WavWriter:
    """Audio written block by block into an open WAV file (``open_wav``): mono [n] or [n, 1], C channels
    [n, C] (written interleaved); integer formats clipped to [-1, 1] (``clipped`` counts the samples), NaN
    or infinity refused (InputError: the run stops and the temporary file is deleted). ``written`` counts
    the frames (samples per channel)."""

    def __init__(self, f: sf.SoundFile, path: Path, subtype: str) -> None:
        self._f, self._path, self._subtype = f, path, subtype
        self.clipped = 0
        self.written = 0

    def write(self, x: np.ndarray) -> None:
        channels = self._f.channels
        x = np.asarray(x).reshape(-1) if channels == 1 else np.asarray(x).reshape(-1, channels)
        for i in range(0, x.shape[0], WRITE_BLOCK):
            part = x[i : i + WRITE_BLOCK]
            if not np.all(np.isfinite(part)):
                raise InputError("refusing to write audio with NaN or infinite samples")
            block = np.asarray(part, dtype=np.float32)
            if self._subtype != "FLOAT":
                self.clipped += int(np.count_nonzero(np.abs(part) > 1.0))
                block = np.clip(block, -1.0, 1.0)
            try:
                self._f.write(block)
            except (sf.LibsndfileError, RuntimeError, OSError) as exc:
                raise write_error(self._path, exc) from None
            self.written += block.shape[0]

    def notes(self) -> list[str]:
        """What writing changed: the samples clipped."""
        if self.clipped:
            return [f"clipped {self.clipped} samples to [-1, 1] (use a float WAV to keep them)"]
        return []


@contextmanager
def open_wav(
    path: str | Path, sr: int = SAMPLE_RATE, subtype: str = DEFAULT_SUBTYPE, channels: int = 1
) -> Iterator[WavWriter]:
    """A ``WavWriter`` for audio of ``channels`` channels at ``path``, written atomically
    (``atomic_output``): the file appears complete when the block ends without an error, else nothing is
    left (an existing file stays as it was). Output is written as it is made: a long signal is never
    held."""
    check_subtype(subtype)
    path = check_output_path(path, "audio")
    with atomic_output(path) as tmp:  # an existing file stays as it was if writing fails (a full disk)
        try:
            f = sf.SoundFile(str(tmp), "w", samplerate=sr, channels=channels, subtype=subtype, format="WAV")
        except (sf.LibsndfileError, RuntimeError, OSError) as exc:
            raise write_error(path, exc) from None
        try:
            # no PEAK chunk: it holds the time of writing, so the same audio would give different files
            sf._snd.sf_command(f._file, SFC_SET_ADD_PEAK_CHUNK, sf._ffi.NULL, 0)
            yield WavWriter(f, path, subtype)
        finally:
            try:
                f.close()
            except (sf.LibsndfileError, RuntimeError, OSError) as exc:
                raise write_error(path, exc) from None


def write_wav(
    path: str | Path, x: np.ndarray, sr: int = SAMPLE_RATE, subtype: str = DEFAULT_SUBTYPE
) -> list[str]:
    """Write audio atomically (engine.outputs): mono [n], or [n, C] for C channels, in ``subtype`` (SUBTYPES;
    ``output_subtype`` picks it for an input); integer formats are clipped to [-1, 1] first (a note says how
    many samples)."""
    check_subtype(subtype)
    x = np.asarray(x)
    channels = 1 if x.ndim < 2 else x.shape[1]
    x = x.reshape(-1) if channels == 1 else x
    if not all(np.all(np.isfinite(x[i : i + WRITE_BLOCK])) for i in range(0, x.shape[0], WRITE_BLOCK)):
        raise InputError("refusing to write audio with NaN or infinite samples")
    with open_wav(path, sr, subtype, channels) as out:  # in blocks: no second copy of a long signal
        out.write(x)
    return out.notes()


def write_error(path: str | Path, exc: Exception) -> InputError:
    """The one-line error for a failed audio write, with the system's reason (a full disk, a size limit)."""
    reason = (exc.strerror if isinstance(exc, OSError) else None) or str(exc)
    # libsndfile says only "System error." (code 2); the system's errno holds why
    if isinstance(exc, sf.LibsndfileError) and exc.code == 2 and sf._ffi.errno:
        reason = os.strerror(sf._ffi.errno)
    return InputError(f"{path}: cannot write: {reason}")

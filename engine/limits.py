"""Every documented limit on what phasefold reads and runs (docs/limits.md), and the checks that enforce them.

Each check refuses a value beyond its limit with one InputError line that names the value, the limit and
its constant here, ``... (limits.NAME)``; the CLI and the API call the same checks, and they run before
anything is allocated: audio by its header (soundfile's ``sf.info``, engine.blocks.audio_info) before a
sample is read, a .npz file by its zip directory and the headers of its arrays before ``np.load``, L, B
and iteration counts before a processor or a method is built.

- ``check_sample_rate``, ``check_seconds``: the input sample rates and the 24 h of audio.
- ``check_audio_header``: a soundfile header (rate, channels, frames) against the limits and the file size.
- ``check_npz``: a .npz magnitude file's zip directory and array headers, before any array is read.
- ``check_lookahead``, ``check_block``, ``check_iterations``, ``check_step_iterations``, ``check_layers``:
  the settings of a run; ``check_jobs``: the worker processes of a folder run.
"""

from __future__ import annotations

import math
import zipfile
import zlib
from pathlib import Path

import numpy as np
from phasefold.engine.errors import InputError

#: Hz, input audio and a .npz file's sample_rate: 4 kHz (narrow-band telephone speech) to 768 kHz (the
#: highest rate audio converters offer); soxr's work grows with the ratio to 22050 Hz (2**62 Hz hangs it)
SAMPLE_RATES = (4_000, 768_000)
#: seconds of audio an input may hold (samples / rate; STFT frames x hop / rate): a day
MAX_SECONDS = 24 * 3600
#: channels of an input audio file (downmixed to mono): 256 covers microphone arrays and 15th-order
#: ambisonics; libsndfile itself stops at 1024
MAX_CHANNELS = 256
#: samples (frames x channels) a compressed audio file may claim per byte of file: FLAC, the densest
#: format read, stores a constant block of at most 65535 samples in no fewer than 2 bytes per channel
MAX_SAMPLES_PER_BYTE = 32_768
#: bytes of one array in a .npz file, uncompressed (its zip directory says, before decompression): 24 h of
#: float32 magnitudes at 22050 Hz and hop 256 take 0.7 GB, a float32 reference of 24 h 7.6 GB (split
#: longer material into files); a zip bomb claims more
MAX_NPZ_MEMBER_BYTES = 2**31
#: n_fft of a .npz file or of --n-fft: 16 samples to 65536 (3 s at 22050 Hz; the engine's STFT is 1024)
N_FFTS = (16, 65_536)
#: look-ahead L in frames: 64 frames are 0.74 s at hop 256 and 22050 Hz, beyond any real-time use; each
#: window step works on L + B frames
MAX_LOOKAHEAD = 64
#: block size B in frames: 64 frames (0.74 s at hop 256) per step, as L
MAX_BLOCK = 64
#: iterations of an offline run (and model layers run: iterations / T passes): 100x the default 100, 4x
#: the 2500 of the published ADMM code (docs/results.md)
MAX_ITERATIONS = 10_000
#: iterations per stream step (ADMM/(F)GLA per window step, model passes, RTISI-LA per frame): 1000
#: iterations are about 60x the default 15
MAX_STEP_ITERATIONS = 1_000
#: layers T of a model trained (train, train-stream): 100, about 7x the shipped 15; memory and time grow
#: linearly with T
MAX_LAYERS = 100
#: timing rounds of `phasefold bench`: 100 interleaved rounds (the medians settle within a few; the default
#: is 3)
MAX_ROUNDS = 100
#: worker processes of a folder run (`phasefold reconstruct IN_DIR -o OUT_DIR --jobs N`), one thread each:
#: 64 covers the largest common servers' cores; each worker holds its own method and file
MAX_JOBS = 64


def _refuse(what: str, text: str, name: str) -> InputError:
    """The one-line error: ``what: text (limits.NAME)``."""
    return InputError(f"{what}: {text} (limits.{name})")


def _number(value: float) -> str:
    """A whole number as all its digits, another with 6 significant ones."""
    return str(int(value)) if float(value).is_integer() else f"{value:g}"


def _duration(seconds: float) -> str:
    return f"{seconds / 3600:.3g} h" if seconds >= 3600 else f"{seconds:.3g} s"


def check_sample_rate(rate: float, what: str) -> None:
    """InputError where ``rate`` (Hz) is outside SAMPLE_RATES."""
    low, high = SAMPLE_RATES
    if not low <= rate <= high:
        raise _refuse(what, f"sample rate {_number(rate)} Hz is outside {low} to {high} Hz", "SAMPLE_RATES")


def check_n_fft(n_fft: float, what: str) -> None:
    """InputError where ``n_fft`` is outside N_FFTS."""
    if not N_FFTS[0] <= n_fft <= N_FFTS[1]:
        raise _refuse(what, f"n_fft {_number(n_fft)} is outside {N_FFTS[0]} to {N_FFTS[1]}", "N_FFTS")


def check_seconds(count: int, rate: float, what: str, per: int = 1, unit: str = "samples") -> None:
    """InputError where ``count`` units of ``per`` samples each at ``rate`` Hz last more than MAX_SECONDS."""
    seconds = count * per / rate
    if seconds > MAX_SECONDS:
        raise _refuse(
            what,
            f"{count} {unit} at {_number(rate)} Hz are {_duration(seconds)} of audio, more than "
            f"{_duration(MAX_SECONDS)}",
            "MAX_SECONDS",
        )


#: the soundfile formats that compress whatever their subtype says (FLAC reports PCM_16, PCM_24)
_COMPRESSED = ("FLAC", "OGG", "MP3")
#: bytes per sample of the uncompressed soundfile subtypes; any other subtype counts as compressed
_BYTES_PER_SAMPLE = {
    "PCM_S8": 1,
    "PCM_U8": 1,
    "PCM_16": 2,
    "PCM_24": 3,
    "PCM_32": 4,
    "FLOAT": 4,
    "DOUBLE": 8,
    "ULAW": 1,
    "ALAW": 1,
}


def check_audio_header(path: str | Path, info) -> None:
    """Check an audio file's header (``info``: soundfile.info of ``path``) before its samples are read:
    the sample rate (SAMPLE_RATES), the channels (MAX_CHANNELS), the duration (MAX_SECONDS) and the data it
    claims against the file's size: frames x channels x bytes per sample for uncompressed samples,
    MAX_SAMPLES_PER_BYTE for compressed ones. (libsndfile itself reads a WAV whose data chunk claims more
    than the file holds as the samples that are there.)"""
    what = str(path)
    check_sample_rate(info.samplerate, what)
    if info.channels > MAX_CHANNELS:
        raise _refuse(what, f"{info.channels} channels, more than {MAX_CHANNELS}", "MAX_CHANNELS")
    check_seconds(info.frames, info.samplerate, what, unit="frames")
    size = Path(path).stat().st_size
    samples = info.frames * info.channels
    width = None if info.format in _COMPRESSED else _BYTES_PER_SAMPLE.get(info.subtype)
    if width is not None and samples * width > size:
        raise InputError(
            f"{what}: the header claims {info.frames} frames of {info.channels} x {width} bytes, "
            f"{samples * width} bytes, but the file holds {size} (header against file size, docs/limits.md)"
        )
    if width is None and samples > size * MAX_SAMPLES_PER_BYTE:
        raise _refuse(
            what,
            f"the header claims {samples} samples, more than {MAX_SAMPLES_PER_BYTE} per byte of its {size} "
            "bytes can hold",
            "MAX_SAMPLES_PER_BYTE",
        )


def _bad_npz(path: Path, reason: str) -> InputError:
    return InputError(f"{path}: not a valid .npz magnitude file ({reason})")


def _npy_header(zf: zipfile.ZipFile, member: zipfile.ZipInfo, path: Path) -> tuple:
    """Shape, dtype and header bytes of a .npy member, from its header; InputError where its data would exceed
    the member."""
    fmt = np.lib.format
    with zf.open(member) as fp:
        try:
            version = fmt.read_magic(fp)
            if version == (1, 0):
                shape, _, dtype = fmt.read_array_header_1_0(fp)
            elif version == (2, 0):
                shape, _, dtype = fmt.read_array_header_2_0(fp)
            else:
                raise ValueError(f"unsupported .npy version {version}")
        except ValueError as exc:
            raise _bad_npz(path, f"{member.filename}: {str(exc).splitlines()[0]}") from None
        header_bytes = fp.tell()
    if dtype.hasobject:
        raise _bad_npz(path, f"{member.filename} holds Python objects, not numbers")
    claimed = math.prod(shape) * dtype.itemsize
    stored = member.file_size - header_bytes
    if claimed > stored:
        key = member.filename.removesuffix(".npy")
        raise InputError(
            f"{path}: array {key!r} claims shape {list(shape)} of {dtype}, {claimed} bytes, but holds "
            f"{stored} (header against file size, docs/limits.md)"
        )
    return shape, dtype, header_bytes


def _npz_scalar(zf: zipfile.ZipFile, member: zipfile.ZipInfo, header: tuple) -> float | None:
    """The value of a one-number .npy member (``header``: its shape, dtype and header bytes), or None where it
    holds no number: read from its bytes, as np.load would."""
    shape, dtype, header_bytes = header
    if math.prod(shape) != 1 or dtype.kind not in "fiu":
        return None
    with zf.open(member) as fp:
        fp.read(header_bytes)
        return float(np.frombuffer(fp.read(dtype.itemsize), dtype)[0])


def check_npz(path: str | Path, keys: tuple[str, ...]) -> None:
    """Check a .npz magnitude file before any of its arrays ``keys`` is read: every member's uncompressed size
    in the zip directory (MAX_NPZ_MEMBER_BYTES: a zip bomb is refused before decompression), every array's
    header (its shape and dtype against the bytes the member holds), then sample_rate (SAMPLE_RATES), n_fft
    (N_FFTS), the frames of 'magnitudes' and 'init_phase' and the samples of 'reference' (MAX_SECONDS).
    What is not a number where one belongs is left to the reader's own checks
    (engine.inputs.load_magnitudes)."""
    path = Path(path)
    try:
        with zipfile.ZipFile(path) as zf:
            members = {
                m.filename.removesuffix(".npy"): m for m in zf.infolist() if m.filename.endswith(".npy")
            }
            headers = {}
            for key in keys:
                if key not in members:
                    continue
                member = members[key]
                if member.file_size > MAX_NPZ_MEMBER_BYTES:
                    raise _refuse(
                        str(path),
                        f"array {key!r} is {member.file_size} bytes uncompressed, more than "
                        f"{MAX_NPZ_MEMBER_BYTES}",
                        "MAX_NPZ_MEMBER_BYTES",
                    )
                headers[key] = _npy_header(zf, member, path)
            scalars = {
                key: _npz_scalar(zf, members[key], headers[key])
                for key in ("sample_rate", "hop", "n_fft")
                if key in headers
            }
    except (zipfile.BadZipFile, zipfile.LargeZipFile, zlib.error, OSError, EOFError, RuntimeError) as exc:
        raise _bad_npz(path, str(exc)) from None
    rate, hop, n_fft = scalars.get("sample_rate"), scalars.get("hop"), scalars.get("n_fft")
    if rate is not None:
        check_sample_rate(rate, str(path))
    if n_fft is not None:
        check_n_fft(n_fft, str(path))
    if rate is None:
        return
    shapes = {key: header[0] for key, header in headers.items()}
    for key in ("magnitudes", "init_phase"):  # [channels,] frames, bins: frames x hop samples
        shape = shapes.get(key, ())
        if len(shape) == 3:
            _check_at_most(shape[0], MAX_CHANNELS, f"{path}: {key}: channels", "MAX_CHANNELS")
        if hop is not None and hop >= 1 and len(shape) >= 1:
            frames = shape[-2] if len(shape) >= 2 else shape[0]
            check_seconds(frames, rate, f"{path}: {key}", per=int(hop), unit="frames")
    if len(shapes.get("reference", ())) >= 1:  # [channels,] samples
        check_seconds(shapes["reference"][-1], rate, f"{path}: reference")


def _check_at_most(value: int, limit: int, what: str, name: str) -> None:
    if value > limit:
        raise _refuse(what, f"{value} is more than {limit}", name)


def check_lookahead(lookahead: int, what: str = "look-ahead L") -> None:
    """InputError where the look-ahead L (frames) is above MAX_LOOKAHEAD."""
    _check_at_most(lookahead, MAX_LOOKAHEAD, what, "MAX_LOOKAHEAD")


def check_block(block: int, what: str = "block B") -> None:
    """InputError where the block size B (frames) is above MAX_BLOCK."""
    _check_at_most(block, MAX_BLOCK, what, "MAX_BLOCK")


def check_iterations(iterations: int, what: str = "iterations") -> None:
    """InputError where the iterations of an offline run are above MAX_ITERATIONS."""
    _check_at_most(iterations, MAX_ITERATIONS, what, "MAX_ITERATIONS")


def check_step_iterations(iterations: int, what: str = "iterations per step") -> None:
    """InputError where the iterations of one stream step are above MAX_STEP_ITERATIONS."""
    _check_at_most(iterations, MAX_STEP_ITERATIONS, what, "MAX_STEP_ITERATIONS")


def check_layers(layers: int, what: str = "layers") -> None:
    """InputError where the layers T of a model to train are above MAX_LAYERS."""
    _check_at_most(layers, MAX_LAYERS, what, "MAX_LAYERS")


def check_rounds(rounds: int, what: str = "rounds") -> None:
    """InputError where the timing rounds of a benchmark are above MAX_ROUNDS."""
    _check_at_most(rounds, MAX_ROUNDS, what, "MAX_ROUNDS")


def check_jobs(jobs: int, what: str = "--jobs") -> None:
    """InputError where the worker processes of a folder run are above MAX_JOBS."""
    _check_at_most(jobs, MAX_JOBS, what, "MAX_JOBS")


def check_signal_seconds(seconds: float, what: str) -> None:
    """InputError where a signal asked for by its length in seconds (bench --seconds, --soak) is longer than
    MAX_SECONDS."""
    if not seconds <= MAX_SECONDS:
        raise _refuse(what, f"{seconds:g} s is more than {_duration(MAX_SECONDS)}", "MAX_SECONDS")

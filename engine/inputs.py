"""What the engine reads, checked once: audio files, .npz magnitude files (docs/magnitude-files.md), and the
measurements of a clean signal, exact or modified (docs/architecture.md).

- ``load_audio``: any readable audio file (WAV, FLAC, OGG, MP3) -> mono float64 at 22050 Hz, with notes.
- ``sample_format``: the sample format of an input file (PCM_16, PCM_24, FLOAT, ...), which outputs follow.
- ``load_magnitudes`` / ``save_magnitudes`` / ``validate_magnitudes``: the .npz magnitude file and its checks.
- ``init_phases``: a given initial phase (radians or a complex spectrogram) checked against the measurements;
  ``reference_phases``: the phase of a reference recording (``--init-phase-from``).
- ``measure``: THE rule for the measurements of a clean signal: exact r = |A x|^d, or modified (``--snr``:
  white noise at an SNR, then the oracle Wiener mask, ``modified_magnitudes``; refused for a .npz file by
  ``check_modifiable``).
- ``load_measurements``: audio or a .npz file -> measurements, STFT settings, length, clean reference.
- ``resolve_inputs``: the files named on a command line (files, folders, the shared data's splits).
"""

from __future__ import annotations

import math
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

import numpy as np
from phasefold.engine.analysis import analysis_config, option_words
from phasefold.engine.blocks import AudioBlocks, Framer, audio_info
from phasefold.engine.dataset import SPLITS, audio_files, shared_data_dir, split_files
from phasefold.engine.errors import InputError
from phasefold.engine.limits import MAX_CHANNELS, check_npz
from phasefold.engine.stft import SAMPLE_RATE, StftConfig, magnitude, stft


def load_audio(path: str | Path, sample_rate: int = SAMPLE_RATE) -> tuple[np.ndarray, list[str]]:
    """Read an audio file as mono float64 at ``sample_rate``; notes say what was converted (the blocks of
    engine.blocks.AudioBlocks joined: its checks and limits, its samples)."""
    audio = AudioBlocks(path, sample_rate)
    x = np.concatenate([block[:, 0] for block in audio])
    return x, audio.notes


def sample_format(path: str | Path) -> str:
    """The sample format of an input file, as soundfile names it: an audio file's own subtype ('PCM_16',
    'PCM_24', 'PCM_32', 'PCM_U8', 'FLOAT', 'DOUBLE', 'VORBIS', 'MPEG_LAYER_III', ...; FLAC holds integers
    only), 'FLOAT' for a .npz magnitude file (its arrays are float32). engine.outputs.output_subtype maps it
    to the WAV format of the output."""
    path = Path(path)
    if is_magnitude_file(path):
        return "FLOAT"
    return audio_info(path).subtype


def check_audible(path: str | Path, x: np.ndarray) -> None:
    """InputError where the audio is all zeros: there is no magnitude to reconstruct."""
    if not np.any(x):
        raise InputError(f"{path}: the audio is silent; there is no magnitude to reconstruct")


def is_magnitude_file(path: str | Path) -> bool:
    """Whether ``path`` names a .npz magnitude file (docs/magnitude-files.md) rather than audio."""
    return Path(path).suffix.lower() == ".npz"


def check_modifiable(path: str | Path, snr_db: float | None) -> None:
    """InputError where modified magnitudes (``snr_db``) are asked of a .npz file: they are made of audio."""
    if snr_db is not None and is_magnitude_file(path):
        raise InputError("--snr applies to audio inputs; a .npz file holds its magnitudes already")


@dataclass
class MagnitudeFile:
    """Measurements r = |X|^d of F frames, their STFT settings, the signal length, an optional reference;
    a file of C channels holds them with a leading channel dimension ([C, F, K], [C, length])."""

    magnitudes: np.ndarray  # float32 [F, K] or [C, F, K]
    cfg: StftConfig
    length: int
    reference: np.ndarray | None = None  # float32 [length] or [C, length]
    init_phase: np.ndarray | None = None  # float64 [F, K] or [C, F, K] radians: the phase to start from

    @property
    def channels(self) -> int:
        """C: 1 for a file of [F, K] magnitudes."""
        return 1 if self.magnitudes.ndim == 2 else self.magnitudes.shape[0]


def validate_channels(mag: object, cfg: StftConfig, what: str = "magnitudes") -> np.ndarray:
    """``validate_magnitudes`` of [F, K] measurements or of C channels of them [C, F, K] (a multichannel
    .npz file: each channel checked, the line naming it; C at most limits.MAX_CHANNELS)."""
    arr = np.asarray(mag)
    if arr.ndim != 3:
        return validate_magnitudes(arr, cfg, what)
    if not 1 <= arr.shape[0] <= MAX_CHANNELS:
        raise InputError(f"{what}: {arr.shape[0]} channels; 1 to {MAX_CHANNELS} (limits.MAX_CHANNELS)")
    return np.stack([validate_magnitudes(m, cfg, f"{what}: channel {c}") for c, m in enumerate(arr)])


def per_channel(mag: np.ndarray) -> str:
    """' per channel, [C, length]' for C channels of measurements [C, F, K]; '' for [F, K]."""
    return f" per channel, [{mag.shape[0]}, length]" if mag.ndim == 3 else ""


def validate_magnitudes(mag: np.ndarray, cfg: StftConfig, what: str = "magnitudes") -> np.ndarray:
    """Check a [F, K] array of measurements (2-D, K = n_fft/2 + 1, finite, non-negative); as float32 (the
    array itself where it is float32 already), float64 where a value is beyond float32's range (the methods
    scale it to the models' level first: engine.level)."""
    mag = np.asarray(mag)
    if mag.dtype.kind not in "fiu":
        raise InputError(f"{what}: expected real numbers, got dtype {mag.dtype}")
    if mag.ndim != 2:
        raise InputError(f"{what}: expected a 2-D array [frames, {cfg.n_bins}], got shape {list(mag.shape)}")
    if mag.shape[1] != cfg.n_bins:
        raise InputError(
            f"{what}: {mag.shape[1]} bins per frame, but n_fft = {cfg.n_fft} needs {cfg.n_bins} "
            f"(shape must be [frames, {cfg.n_bins}])"
        )
    if mag.shape[0] == 0:
        raise InputError(f"{what}: no frames")
    if not np.all(np.isfinite(mag)):
        raise InputError(f"{what}: {int(np.count_nonzero(~np.isfinite(mag)))} values are NaN or infinite")
    if np.any(mag < 0):
        raise InputError(f"{what}: {int(np.count_nonzero(mag < 0))} values are negative (must be >= 0)")
    if mag.dtype.kind == "f" and mag.dtype.itemsize > 4:
        tiny, big = np.finfo(np.float32).tiny, np.finfo(np.float32).max
        if np.any(mag > big) or np.any((mag > 0) & (mag < tiny)):
            return mag.astype(np.float64, copy=False)
    return mag.astype(np.float32, copy=False)


#: the optional STFT settings of a .npz magnitude file, written where they are not the defaults
#: (engine.stft.StftConfig.to_dict; docs/magnitude-files.md)
STFT_KEYS = ("win_length", "window", "center", "pad_mode", "convention")
#: the arrays of a .npz magnitude file (docs/magnitude-files.md); other members are not read
MAGNITUDE_KEYS = ("magnitudes", "n_fft", "hop", "sample_rate", "power", "length", "reference", "init_phase")
MAGNITUDE_KEYS += STFT_KEYS


def init_phases(init: object, shape: tuple[int, ...], what: str = "init") -> np.ndarray:
    """A given initial phase as radians [F, K] (float32 where it is float32 or complex64, else float64): real
    values are phases in radians, complex ones give their angle (their magnitude is ignored); InputError
    where ``init`` is not an array of numbers of the measurements' ``shape`` or holds NaN or infinite
    values."""
    from phasefold.engine.arguments import number_array

    arr = number_array(init, what, complex_ok=True)
    if arr.shape != tuple(shape):
        raise InputError(
            f"{what}: the initial phase must have the magnitudes' shape {list(shape)}, got {list(arr.shape)}"
        )
    if not np.all(np.isfinite(arr)):
        raise InputError(f"{what}: {int(np.count_nonzero(~np.isfinite(arr)))} values are NaN or infinite")
    phases = np.angle(arr) if arr.dtype.kind == "c" else arr
    return phases if phases.dtype == np.float32 else phases.astype(np.float64)


def reference_phases(path: str | Path, cfg: StftConfig, n_frames: int, channels: int = 1) -> np.ndarray:
    """The phase [F, K] of a reference recording's STFT at ``cfg`` (read as an input is: at cfg.sample_rate,
    block by block), float32 radians, for ``--init-phase-from``; InputError where it has not ``n_frames``
    frames. ``channels`` > 1: the phases [C, F, K] of an input of C channels, from the reference's channel c
    (a mono reference serves every channel). Besides the result (F K 4 bytes per channel), only a block is
    held."""
    audio = AudioBlocks(path, cfg.sample_rate, mixdown=channels == 1)
    own = audio.out_channels
    if own not in (1, channels):
        raise InputError(
            f"--init-phase-from {path}: {own} channels, the input has {channels}: give a recording with as "
            "many channels, or a mono one"
        )
    out = np.empty((own, n_frames, cfg.n_bins), dtype=np.float32)
    framers, made = [Framer(cfg, phase=True) for _ in range(own)], 0

    def blocks():
        for x in audio:
            yield [framer.push(x[:, c]) for c, framer in enumerate(framers)]
        yield [framer.finish() for framer in framers]

    for block in blocks():
        n = block[0].shape[0]
        if made + n <= n_frames:
            for c, phases in enumerate(block):
                out[c, made : made + n] = phases
        made += n
    if made != n_frames:
        raise InputError(
            f"--init-phase-from {path}: {made} frames ({framers[0].length} samples at {cfg.sample_rate} Hz), "
            f"the input has {n_frames}: give a recording of the same length"
        )
    if channels == 1:
        return out[0]
    return np.broadcast_to(out, (channels, n_frames, cfg.n_bins))


def _scalar(data, key: str, path: Path, cast):
    if key not in data:
        raise InputError(f"{path}: missing key {key!r} (see docs/magnitude-files.md)")
    value = np.asarray(data[key])
    if value.size != 1:
        raise InputError(f"{path}: {key!r} must be a single number")
    try:
        return cast(value.reshape(()).item())
    except (TypeError, ValueError):
        raise InputError(f"{path}: {key!r} must be a number, not {value.reshape(()).item()!r}") from None


def _stft_settings(arrays: dict, path: Path) -> dict:
    """The optional STFT settings of a .npz file (STFT_KEYS) as StftConfig.from_dict takes them: a window's
    name or its samples, win_length, center (True or False; absent: phasefold's padding), pad_mode and
    convention; InputError for a value of the wrong kind."""
    out: dict = {}
    if "win_length" in arrays:
        out["win_length"] = _scalar(arrays, "win_length", path, int)
    if "center" in arrays:
        center = np.asarray(arrays["center"])
        if center.size != 1 or center.dtype.kind not in "biu" or center.reshape(()).item() not in (0, 1):
            raise InputError(f"{path}: 'center' must be True or False (absent: phasefold's own padding)")
        out["center"] = bool(center.reshape(()).item())
    for key in ("pad_mode", "convention", "window"):
        if key not in arrays:
            continue
        value = np.asarray(arrays[key])
        if value.dtype.kind == "U" and value.size == 1:
            out[key] = str(value.reshape(()).item())
        elif key == "window" and value.ndim == 1 and value.dtype.kind in "fiu" and np.all(np.isfinite(value)):
            out[key] = value.astype(np.float64).tolist()
        else:
            kind = "a name or an array of finite samples" if key == "window" else "a name"
            raise InputError(f"{path}: {key!r} must be {kind} (see docs/magnitude-files.md)")
    return out


def load_magnitudes(path: str | Path) -> MagnitudeFile:
    """Read and validate a .npz magnitude file."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: no such file")
    if path.stat().st_size == 0:
        raise InputError(f"{path}: the file is empty")
    if not zipfile.is_zipfile(path):
        raise InputError(f"{path}: not a valid .npz magnitude file (not a zip archive of arrays)")
    check_npz(path, MAGNITUDE_KEYS)  # the limits, before an array is read
    try:
        with np.load(path, allow_pickle=False) as data:
            arrays = {k: data[k] for k in data.files if k in MAGNITUDE_KEYS}
    except (ValueError, OSError, zipfile.BadZipFile, EOFError) as exc:
        raise InputError(f"{path}: not a valid .npz magnitude file ({exc})") from None
    if "magnitudes" not in arrays:
        raise InputError(f"{path}: missing key 'magnitudes' (see docs/magnitude-files.md)")
    settings = {
        "n_fft": _scalar(arrays, "n_fft", path, int),
        "hop": _scalar(arrays, "hop", path, int),
        "sample_rate": _scalar(arrays, "sample_rate", path, int),
        "power": _scalar(arrays, "power", path, float),
        **_stft_settings(arrays, path),
    }
    try:
        cfg = StftConfig.from_dict(settings)
    except ValueError as exc:
        raise InputError(f"{path}: bad STFT settings: {exc}") from None
    mag = validate_channels(arrays["magnitudes"], cfg, what=f"{path}")
    n_frames = mag.shape[-2]
    length = _scalar(arrays, "length", path, int) if "length" in arrays else cfg.n_samples(n_frames)
    if length <= 0 or cfg.n_frames(length) != n_frames:
        raise InputError(f"{path}: length {length} does not match {n_frames} frames at hop {cfg.hop}")
    reference = None
    if "reference" in arrays:
        reference = np.asarray(arrays["reference"])
        shape = (*mag.shape[:-2], length)
        if reference.shape != shape or not np.all(np.isfinite(reference)):
            raise InputError(f"{path}: 'reference' must be {length} finite samples" + per_channel(mag))
        reference = reference.astype(np.float32)
    init = None
    if "init_phase" in arrays:
        init = init_phases(arrays["init_phase"], mag.shape, what=f"{path}: 'init_phase'")
    return MagnitudeFile(mag, cfg, int(length), reference, init)


def save_magnitudes(
    path: str | Path,
    magnitudes: np.ndarray,
    cfg: StftConfig,
    length: int | None = None,
    reference: np.ndarray | None = None,
    init_phase: np.ndarray | None = None,
) -> None:
    """Write a .npz magnitude file (validated first): [F, K] magnitudes, or C channels [C, F, K] with the
    reference [C, length]; ``init_phase``: radians or complex of the magnitudes' shape, stored as float32
    radians."""
    mag = validate_channels(magnitudes, cfg)
    length = cfg.n_samples(mag.shape[-2]) if length is None else int(length)
    if cfg.n_frames(length) != mag.shape[-2]:
        raise InputError(f"length {length} does not match {mag.shape[-2]} frames at hop {cfg.hop}")
    extra = {} if reference is None else {"reference": np.asarray(reference, dtype=np.float32)}
    if init_phase is not None:
        extra["init_phase"] = init_phases(init_phase, mag.shape, "init_phase").astype(np.float32)
    settings = {k: v for k, v in cfg.to_dict().items() if k in STFT_KEYS}  # those not the defaults
    np.savez(
        path,
        magnitudes=mag,
        n_fft=cfg.n_fft,
        hop=cfg.hop,
        sample_rate=cfg.sample_rate,
        power=cfg.power,
        length=length,
        **extra,
        **settings,
    )


def modified_magnitudes(x: np.ndarray, cfg: StftConfig, snr_db: float, seed: int) -> np.ndarray:
    """r = (M |X + E|)^d: white noise E at input SNR ``snr_db``, Wiener mask M = |X|^2/(|X|^2+|E|^2)."""
    x = np.asarray(x, dtype=np.float64)
    power = float(np.mean(x**2)) if x.size else 0.0
    if power == 0.0:
        raise InputError("cannot add noise at a given SNR to a silent signal")
    try:  # a huge SNR overflows the power ratio: no noise at all
        ratio = 10.0 ** (snr_db / 10.0)
    except OverflowError:
        ratio = math.inf
    noise = np.random.default_rng(seed).standard_normal(x.size)
    with np.errstate(divide="ignore", over="ignore"):
        scale = np.sqrt(power / (np.mean(noise**2) * ratio))
    if not np.isfinite(scale):
        raise InputError(
            f"an SNR of {snr_db:g} dB makes noise beyond floating-point range; give a larger SNR"
        )
    noise *= scale
    clean, err = stft(x, cfg), stft(noise, cfg)
    p_clean, p_err = np.abs(clean) ** 2, np.abs(err) ** 2
    total = p_clean + p_err
    mask = np.divide(p_clean, total, out=np.zeros_like(total), where=total > 0)
    return (mask * np.abs(clean + err)) ** cfg.power


def measure(
    x: np.ndarray,
    cfg: StftConfig,
    snr_db: float | None = None,
    seed: int = 0,
    exact_dtype: type = np.float64,
) -> np.ndarray:
    """The measurements [F, K] of a clean signal: exact r = |A x|^d (stored as ``exact_dtype``) where
    ``snr_db`` is None, else modified (``modified_magnitudes`` with noise seed ``seed``, float64)."""
    if snr_db is None:
        return magnitude(x, cfg, exact_dtype)
    return modified_magnitudes(x, cfg, snr_db, seed)


def measure_note(snr_db: float) -> str:
    """The note that says measurements were modified."""
    return f"modified magnitudes: white noise at {snr_db:g} dB SNR, oracle Wiener mask"


class Measurements(NamedTuple):
    """What a reconstruction reads from an input file."""

    magnitudes: np.ndarray  # [F, K]
    cfg: StftConfig
    length: int  # samples of the signal to rebuild
    reference: np.ndarray | None  # the clean float64 signal, where the input holds one
    notes: list[str]  # what was converted on reading (downmixed, resampled)
    init_phase: np.ndarray | None = None  # a .npz file's phase to start from, radians [F, K]


def check_file_settings(path: Path, cfg: StftConfig, asked: dict) -> None:
    """InputError where a .npz file's own STFT ``cfg`` differs from a setting given for audio input
    (``asked``: StftConfig keywords, hop, n_fft, window, ...; None: not given)."""
    for key, value in asked.items():
        if value is not None and value != getattr(cfg, key):
            raise InputError(
                f"{path} was made with {key} {getattr(cfg, key)}; {option_words({key: value})} is for audio "
                "input only (a .npz file carries its own STFT)"
            )


def load_measurements(
    path: str | Path,
    hop: int | None,
    snr_db: float | None,
    seed: int,
    n_fft: int | None = None,
    sample_rate: int | None = SAMPLE_RATE,
    mono: bool = True,
    settings: dict | None = None,
) -> Measurements:
    """The measurements of an audio file or of a .npz magnitude file (its own settings: ``hop``, ``n_fft``
    and ``settings`` must agree, ``snr_db`` must be None).

    Audio is read at ``sample_rate`` (None: the file's own; soxr HQ where it differs) and analysed at
    ``n_fft`` and ``hop`` (None: engine.analysis's defaults for the rate, 1024 / 256 at 22050 Hz) with
    ``settings``, StftConfig's other keywords (window, win_length, center, pad_mode, convention:
    engine.analysis.analysis_config), mixed down to one channel (``mono``) or each channel measured
    ([C, F, K] and a reference [C, length] for C > 1 channels); modified at ``snr_db`` with noise seed
    ``seed`` (+ c for channel c): ``measure``."""
    path = Path(path)
    if is_magnitude_file(path):
        mf = load_magnitudes(path)
        check_file_settings(path, mf.cfg, {"hop": hop, "n_fft": n_fft, **(settings or {})})
        check_modifiable(path, snr_db)
        if not np.any(mf.magnitudes):
            raise InputError(f"{path}: the magnitudes are all zero (silent); there is nothing to reconstruct")
        ref = None if mf.reference is None else mf.reference.astype(np.float64)
        return Measurements(mf.magnitudes, mf.cfg, mf.length, ref, [], mf.init_phase)
    audio = AudioBlocks(path, sample_rate, mixdown=mono)
    cfg = analysis_config(audio.sample_rate, n_fft, hop, settings)
    x = np.concatenate(list(audio)).T  # [C, n]
    check_audible(path, x)
    # exact ones float32, as every method takes them (validate_magnitudes): half the memory
    mags = [measure(xc, cfg, snr_db, seed + c, np.float32) for c, xc in enumerate(x)]
    if x.shape[0] == 1:
        return Measurements(mags[0], cfg, x.shape[1], x[0], audio.notes)
    return Measurements(np.stack(mags), cfg, x.shape[1], x, audio.notes)


def resolve_inputs(paths: Sequence[str]) -> list[Path]:
    """The files named by paths: files, the audio and .npz files of folders, and the split names test /
    validation / train of the shared data (engine.dataset)."""
    files: list[Path] = []
    for item in paths:
        path = Path(item)
        if item in SPLITS and not path.exists():
            if shared_data_dir() is None:
                raise InputError(
                    f"'{item}' names a split of the shared data, which is not here "
                    "(expected ../shared/data/timit-sample or $PHASEFOLD_DATA)"
                )
            files.extend(split_files(item))
        elif path.is_dir():
            found = audio_files(path) + sorted(path.rglob("*.npz"))
            if not found:
                raise InputError(f"{path}: no audio or .npz files in this folder")
            files.extend(found)
        elif path.exists():
            files.append(path)
        else:
            raise InputError(f"{path}: no such file or folder (nor a split: {', '.join(SPLITS)})")
    return files

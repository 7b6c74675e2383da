"""Magnitude files (.npz, docs/magnitude-files.md) and modified spectrograms (docs/architecture.md)."""

from __future__ import annotations

import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from phasefold.engine.errors import InputError
from phasefold.engine.stft import StftConfig, stft


@dataclass
class MagnitudeFile:
    """Measurements r = |X|^d of F frames, their STFT settings, the signal length, an optional reference."""

    magnitudes: np.ndarray  # float32 [F, K]
    cfg: StftConfig
    length: int
    reference: np.ndarray | None = None  # float32 [length]


def default_length(n_frames: int, cfg: StftConfig) -> int:
    """Longest signal with ``n_frames`` frames: F H - P."""
    return n_frames * cfg.hop - cfg.pad


def validate_magnitudes(mag: np.ndarray, cfg: StftConfig, what: str = "magnitudes") -> np.ndarray:
    """Check a [F, K] array of measurements (2-D, K = n_fft/2 + 1, finite, non-negative); as float32 (the
    array itself where it is float32 already)."""
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
    return mag.astype(np.float32, copy=False)


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


def load_magnitudes(path: str | Path) -> MagnitudeFile:
    """Read and validate a .npz magnitude file."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: no such file")
    if path.stat().st_size == 0:
        raise InputError(f"{path}: the file is empty")
    if not zipfile.is_zipfile(path):
        raise InputError(f"{path}: not a valid .npz magnitude file (not a zip archive of arrays)")
    try:
        with np.load(path, allow_pickle=False) as data:
            arrays = {k: data[k] for k in data.files}
    except (ValueError, OSError, zipfile.BadZipFile, EOFError) as exc:
        raise InputError(f"{path}: not a valid .npz magnitude file ({exc})") from None
    if "magnitudes" not in arrays:
        raise InputError(f"{path}: missing key 'magnitudes' (see docs/magnitude-files.md)")
    try:
        cfg = StftConfig(
            n_fft=_scalar(arrays, "n_fft", path, int),
            hop=_scalar(arrays, "hop", path, int),
            sample_rate=_scalar(arrays, "sample_rate", path, int),
            power=_scalar(arrays, "power", path, float),
        )
    except ValueError as exc:
        raise InputError(f"{path}: bad STFT settings: {exc}") from None
    if cfg.sample_rate <= 0:
        raise InputError(f"{path}: sample_rate must be positive")
    mag = validate_magnitudes(arrays["magnitudes"], cfg, what=f"{path}")
    n_frames = mag.shape[0]
    length = _scalar(arrays, "length", path, int) if "length" in arrays else default_length(n_frames, cfg)
    if length <= 0 or cfg.n_frames(length) != n_frames:
        raise InputError(f"{path}: length {length} does not match {n_frames} frames at hop {cfg.hop}")
    reference = None
    if "reference" in arrays:
        reference = np.asarray(arrays["reference"])
        if reference.ndim != 1 or reference.size != length or not np.all(np.isfinite(reference)):
            raise InputError(f"{path}: 'reference' must be {length} finite samples")
        reference = reference.astype(np.float32)
    return MagnitudeFile(mag, cfg, int(length), reference)


def save_magnitudes(
    path: str | Path,
    magnitudes: np.ndarray,
    cfg: StftConfig,
    length: int | None = None,
    reference: np.ndarray | None = None,
) -> None:
    """Write a .npz magnitude file (validated first)."""
    mag = validate_magnitudes(magnitudes, cfg)
    length = default_length(mag.shape[0], cfg) if length is None else int(length)
    if cfg.n_frames(length) != mag.shape[0]:
        raise InputError(f"length {length} does not match {mag.shape[0]} frames at hop {cfg.hop}")
    extra = {} if reference is None else {"reference": np.asarray(reference, dtype=np.float32)}
    np.savez(
        path,
        magnitudes=mag,
        n_fft=cfg.n_fft,
        hop=cfg.hop,
        sample_rate=cfg.sample_rate,
        power=cfg.power,
        length=length,
        **extra,
    )


def modified_magnitudes(x: np.ndarray, cfg: StftConfig, snr_db: float, seed: int) -> np.ndarray:
    """r = (M |X + E|)^d: white noise E at input SNR ``snr_db``, Wiener mask M = |X|^2/(|X|^2+|E|^2)."""
    x = np.asarray(x, dtype=np.float64)
    power = float(np.mean(x**2)) if x.size else 0.0
    if power == 0.0:
        raise InputError("cannot add noise at a given SNR to a silent signal")
    noise = np.random.default_rng(seed).standard_normal(x.size)
    noise *= np.sqrt(power / (np.mean(noise**2) * 10.0 ** (snr_db / 10.0)))
    clean, err = stft(x, cfg), stft(noise, cfg)
    p_clean, p_err = np.abs(clean) ** 2, np.abs(err) ** 2
    total = p_clean + p_err
    mask = np.divide(p_clean, total, out=np.zeros_like(total), where=total > 0)
    return (mask * np.abs(clean + err)) ** cfg.power

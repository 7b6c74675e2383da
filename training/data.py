"""Training data: any folder of audio (or the shared TIMIT split) read at the network's sample rate (22050 Hz
by default; TIMIT's own 16 kHz reads it as it is), seeded random excerpts.

Magnitudes are exact (|A x|) or modified (white noise at a random SNR in a range, then the oracle Wiener
mask: ``engine.inputs.modified_magnitudes``). Training excerpts may be augmented: a random speed
(resampling, which moves pitch and tempo together) and a random gain, each drawn per excerpt; validation
is never augmented. Test files of the shared split never reach training.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from fractions import Fraction
from pathlib import Path

import numpy as np
import torch
from phasefold.engine import dataset
from phasefold.engine.errors import InputError
from phasefold.engine.inputs import load_audio, modified_magnitudes
from phasefold.engine.stft import SAMPLE_RATE, StftConfig, stft
from scipy.signal import resample_poly

CONDITIONS = ("exact", "modified")


@dataclass
class DataConfig:
    """Where the audio comes from and how measurements are made."""

    folder: str | None = None  # None: the shared TIMIT sample's train/validation split
    seconds: float = 2.0
    condition: str = "exact"
    snr_db: tuple[float, float] = (5.0, 5.0)  # modified magnitudes: SNR drawn uniformly in this range
    validation_fraction: float = 0.1  # custom folders: share of files held out for validation
    validation_draws: int = 1  # draws of start phase (and noise) per validation utterance, averaged
    speed: tuple[float, float] = (1.0, 1.0)  # training excerpts: speed factor drawn uniformly in this range
    gain_db: tuple[float, float] = (0.0, 0.0)  # training excerpts: gain in dB drawn uniformly in this range

    def __post_init__(self) -> None:
        if self.condition not in CONDITIONS:
            raise InputError(f"condition must be one of {CONDITIONS}, not {self.condition!r}")
        if self.seconds <= 0.5:
            raise InputError("excerpts must last more than 0.5 s (STOI needs 30 frames of 25.6 ms)")
        if self.validation_draws < 1:
            raise InputError("validation draws must be >= 1")
        self.snr_db = tuple(float(s) for s in self.snr_db)
        self.speed = _range("speed", self.speed)
        self.gain_db = _range("gain", self.gain_db)
        if not (MIN_SPEED <= self.speed[0] and self.speed[1] <= MAX_SPEED):
            raise InputError(f"speed factors must lie in [{MIN_SPEED:g}, {MAX_SPEED:g}], not {self.speed}")
        if max(abs(g) for g in self.gain_db) > MAX_GAIN_DB:
            raise InputError(f"gains must lie within +-{MAX_GAIN_DB:g} dB, not {self.gain_db}")

    @property
    def augmented(self) -> bool:
        return self.speed != (1.0, 1.0) or self.gain_db != (0.0, 0.0)

    def to_dict(self) -> dict:
        return asdict(self)

    def describe(self, sample_rate: int = SAMPLE_RATE) -> str:
        src = self.folder or "shared TIMIT sample (train split, 40 files; validation split, 5 files)"
        lo, hi = self.snr_db
        cond = (
            "exact magnitudes"
            if self.condition == "exact"
            else f"modified magnitudes (white noise at {lo:g}..{hi:g} dB SNR + oracle Wiener mask)"
        )
        aug = ""
        if self.augmented:
            aug = (
                f"; training excerpts augmented: speed x{self.speed[0]:g}..{self.speed[1]:g} (resampled), "
                f"gain {self.gain_db[0]:g}..{self.gain_db[1]:g} dB"
            )
        return f"{src}; {self.seconds:g} s excerpts at {sample_rate} Hz; {cond}{aug}"


MIN_SPEED, MAX_SPEED, MAX_GAIN_DB = 0.5, 2.0, 40.0


def _range(name: str, pair) -> tuple[float, float]:
    lo, hi = (float(v) for v in pair)
    if not (np.isfinite(lo) and np.isfinite(hi)) or lo > hi:
        raise InputError(f"{name} range must be two finite numbers LO <= HI, not {pair}")
    return lo, hi


def split_paths(cfg: DataConfig, split: str) -> list[Path]:
    """Files of the 'train' or 'validation' split; the shared split's test files are always excluded."""
    if cfg.folder is None:
        files = dataset.split_files(split)
        if not files:
            raise InputError("shared TIMIT sample not found (../shared/data/timit-sample); pass --data DIR")
        return files
    folder = Path(cfg.folder)
    if not folder.is_dir():
        raise InputError(f"{folder}: {'is a file, not a folder' if folder.exists() else 'no such folder'}")
    files = [f for f in dataset.audio_files(folder) if f.stem not in dataset.TEST]
    if len(files) < 2:
        raise InputError(f"{folder}: at least two audio files are needed (training and validation)")
    order = np.random.default_rng(0).permutation(len(files))
    n_val = max(1, round(cfg.validation_fraction * len(files)))
    held = {int(i) for i in order[:n_val]}
    return [f for i, f in enumerate(files) if (i in held) == (split == "validation")]


def load_signals(paths: list[Path], sample_rate: int = SAMPLE_RATE) -> list[np.ndarray]:
    """The files read as mono signals at ``sample_rate`` (resampled where they are at another rate)."""
    return [load_audio(p, sample_rate)[0] for p in paths]


def measure(x: np.ndarray, stft_cfg: StftConfig, cfg: DataConfig, rng: np.random.Generator) -> np.ndarray:
    """Measurements r of a clean excerpt under the data condition."""
    if cfg.condition == "exact":
        return np.abs(stft(x, stft_cfg)) ** stft_cfg.power
    snr = rng.uniform(*cfg.snr_db)
    return modified_magnitudes(x, stft_cfg, snr, seed=int(rng.integers(2**31)))


class ExcerptSampler:
    """Seeded random excerpts of ``seconds`` from a list of signals, as torch batches."""

    def __init__(self, signals: list[np.ndarray], stft_cfg: StftConfig, cfg: DataConfig, seed: int) -> None:
        if not signals:
            raise InputError("no training audio")
        self.signals, self.stft_cfg, self.cfg = signals, stft_cfg, cfg
        self.length = int(round(cfg.seconds * stft_cfg.sample_rate))
        self.rng = np.random.default_rng(seed)

    def excerpt(self) -> np.ndarray:
        """A random excerpt of ``length`` samples, at a random speed and gain if the data are augmented."""
        x = self.signals[int(self.rng.integers(len(self.signals)))]
        speed = Fraction(1)
        if self.cfg.speed != (1.0, 1.0):  # read speed x as many samples and resample them to the length
            speed = Fraction(float(self.rng.uniform(*self.cfg.speed))).limit_denominator(64)
        need = int(np.ceil(self.length * speed))
        if x.size <= need:
            seg = np.pad(x, (0, need - x.size))
        else:
            start = int(self.rng.integers(x.size - need + 1))
            seg = x[start : start + need]
        if speed != 1:
            seg = resample_poly(seg, speed.denominator, speed.numerator)[: self.length]
            seg = np.pad(seg, (0, self.length - seg.size))
        if self.cfg.gain_db != (0.0, 0.0):
            seg = seg * 10.0 ** (self.rng.uniform(*self.cfg.gain_db) / 20.0)
        return seg

    def batch(self, size: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(clean [B, M], measurements [B, F, K], start phase [B, F, K]) float32."""
        clean, mags = [], []
        for _ in range(size):
            x = self.excerpt()
            while not np.any(x):
                x = self.excerpt()
            clean.append(x)
            mags.append(measure(x, self.stft_cfg, self.cfg, self.rng))
        mag = np.stack(mags)
        phase = self.rng.uniform(-np.pi, np.pi, size=mag.shape)
        f32 = torch.float32
        return (
            torch.tensor(np.stack(clean), dtype=f32),
            torch.tensor(mag, dtype=f32),
            torch.tensor(phase, dtype=f32),
        )

    def state(self) -> dict:
        return self.rng.bit_generator.state

    def set_state(self, state: dict) -> None:
        self.rng.bit_generator.state = state


def validation_set(
    signals: list[np.ndarray], stft_cfg: StftConfig, cfg: DataConfig, seed: int = 0
) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """Fixed (clean, measurements, start phase) triples of whole validation utterances, ``validation_draws``
    draws of each, under engine.evaluation: draw d of utterance i is the protocol's file d n + i (its phase
    seed and, for modified magnitudes, its noise seed; a training SNR range is validated at its middle).
    The first draw is the evaluation protocol's own, whatever the number of draws: what
    `python -m phasefold.training.evaluate --split validation` scores."""
    from phasefold.engine.algorithms import random_phases
    from phasefold.engine.evaluation import EvaluationProtocol

    snr_db = None if cfg.condition == "exact" else (cfg.snr_db[0] + cfg.snr_db[1]) / 2
    protocol = EvaluationProtocol(stft_cfg.hop, snr_db, seed, stft_cfg.n_fft, stft_cfg.sample_rate)
    out = []
    for draw in range(cfg.validation_draws):
        for i, x in enumerate(signals):
            index = draw * len(signals) + i
            mag = protocol.measure(x, index, stft_cfg)
            out.append((x, mag, random_phases(protocol.phase_seed(index), 0, mag.shape)))
    return out

"""Mel spectrograms: the configuration (``MelConfig``), the presets of the tools people use, the filter bank,
the forward transform (audio -> a preset's own mel) and the reading of a mel array back to linear values.

A mel spectrogram is M = log_b(max(B |X|^p, floor)) with X the STFT of the signal (after any padding the
preset does outside the STFT), B [n_mels, K] a bank of triangular filters on the mel scale and p the power;
|X|^p is computed as (max(|X|^2 + add, clamp))^(p / 2), the small terms some tools put inside the square
root. Presets (each as its project's own code computes it):

- ``hifigan``: jik876/hifi-gan meldataset.py ``mel_spectrogram`` with config_v1.json: 22050 Hz, n_fft 1024,
  hop 256, a periodic Hann window of 1024, the signal reflect-padded by (n_fft - hop) / 2 = 384 samples each
  side and framed without centring, |X| = sqrt(|X|^2 + 1e-9), librosa's Slaney filters (80 mels, 0 to
  8000 Hz, Slaney norm), natural log of the mel clamped at 1e-5; [n_mels, frames].
- ``espnet``: ESPnet2's ``LogMelFbank`` (espnet2/tts/feats_extract/log_mel_fbank.py, layers/stft.py,
  layers/log_mel.py) as the 22.05 kHz TTS recipes set it (egs2/ljspeech/tts1: fs 22050, n_fft 1024,
  n_shift 256, tts.sh's fmin 80, fmax 7600, n_mels 80): torch.stft with a periodic Hann, centred and
  reflect-padded; |X| = sqrt(max(|X|^2, 1e-10)); librosa's Slaney filters; log10 of the mel clamped at
  1e-10; [frames, n_mels].
- ``vocos``: gemelo-ai/vocos feature_extractors.py ``MelSpectrogramFeatures`` (its defaults, the 24 kHz
  mel model): torchaudio's MelSpectrogram(24000, n_fft 1024, hop 256, 100 mels, centred, reflect, power 1),
  whose filters are HTK-scale from 0 to 12000 Hz without norm; natural log clamped at 1e-7 (``safe_log``);
  [n_mels, frames].
- ``librosa``: ``librosa.feature.melspectrogram``'s defaults: 22050 Hz, n_fft 2048, hop 512, Hann, centred,
  zero-padded, power 2, 128 Slaney mels with Slaney norm, no log; [n_mels, frames].
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields, replace

import numpy as np
from phasefold.engine import limits
from phasefold.engine.errors import InputError
from phasefold.engine.stft import StftConfig, stft

#: the mel-consistent FGLA's momentum (Perraudin et al.; librosa.griffinlim's default), both backends
ALPHA = 0.99
#: a band's current value is taken as at least this fraction of the mel's mean, so that an empty band
#: gets a finite ratio (relative: the step stays homogeneous), both backends
TINY = 1e-12
SCALES = ("slaney", "htk")
NORMS = ("slaney", None)


@dataclass(frozen=True)
class MelConfig:
    """A mel spectrogram's settings (module docstring): the STFT, the filters, the power, the log."""

    stft: StftConfig
    n_mels: int = 128
    fmin: float = 0.0
    fmax: float | None = None  # None: sample_rate / 2
    scale: str = "slaney"  # mel scale of the filters' edges: "slaney" (librosa's default) or "htk"
    norm: str | None = "slaney"  # "slaney": each triangle divided by its width in Hz (area 1); None
    power: float = 2.0  # p in B |X|^p
    add: float = 0.0  # added to |X|^2 before the power (HiFi-GAN: 1e-9)
    clamp: float = 0.0  # |X|^2 + add floored at this before the power (ESPnet: 1e-10)
    log_base: float | None = None  # None: linear values; math.e or 10.0
    floor: float = 0.0  # the mel clamped at this before the log
    pad: int = 0  # samples of reflect padding each side before the STFT (HiFi-GAN: (n_fft - hop) / 2)
    bands_last: bool = False  # layout [frames, n_mels] (ESPnet) instead of [n_mels, frames]

    def __post_init__(self) -> None:
        nyquist = self.stft.sample_rate / 2
        if self.n_mels < 1:
            raise ValueError(f"n_mels ({self.n_mels}) must be at least 1")
        if not 0 <= self.fmin < self.top <= nyquist:
            raise ValueError(f"the mel bands must lie in 0 <= fmin < fmax <= {nyquist:g} Hz (half the rate)")
        if self.scale not in SCALES:
            raise ValueError(f"mel scale {self.scale!r} is not one of {', '.join(SCALES)}")
        if self.norm not in NORMS:
            raise ValueError(f"mel norm {self.norm!r} is not 'slaney' or None")
        if not self.power > 0:
            raise ValueError(f"power ({self.power}) must be positive")
        if self.log_base is not None and (self.log_base <= 1 or self.floor <= 0):
            raise ValueError("a log mel needs a base above 1 and a positive floor")
        if self.pad < 0 or self.add < 0 or self.clamp < 0 or self.floor < 0:
            raise ValueError("pad, add, clamp and floor must not be negative")

    @property
    def top(self) -> float:
        """The highest frequency of the bands: fmax, or half the sample rate."""
        return self.stft.sample_rate / 2 if self.fmax is None else float(self.fmax)

    @property
    def is_log(self) -> bool:
        return self.log_base is not None

    def to_dict(self) -> dict:
        """The settings as JSON values (a model card's ``mel`` section): the STFT's dict and the mel's own."""
        out = {f.name: getattr(self, f.name) for f in fields(self) if f.name != "stft"}
        return {"stft": self.stft.to_dict(), **out}

    @classmethod
    def from_dict(cls, d: dict) -> MelConfig:
        """The inverse of ``to_dict`` (ValueError, KeyError or TypeError for unusable settings)."""
        rest = {k: v for k, v in d.items() if k != "stft"}
        return cls(stft=StftConfig.from_dict(d["stft"]), **rest)

    def n_samples(self, n_frames: int) -> int:
        """The length of the signal a mel of ``n_frames`` frames is read as: its STFT's
        (engine.stft.StftConfig.n_samples, (F - 1) H + N not centred, (F - 1) H centred) less the mel's own
        padding at both ends."""
        return max(1, self.stft.n_samples(n_frames) - 2 * self.pad)


def _preset_stft(sample_rate: int, n_fft: int, hop: int, center: bool, pad_mode: str) -> StftConfig:
    return StftConfig(
        n_fft=n_fft,
        hop=hop,
        sample_rate=sample_rate,
        window="hann",
        center=center,
        pad_mode=pad_mode,
        convention="librosa",
    )


PRESETS: dict[str, MelConfig] = {
    "hifigan": MelConfig(
        stft=_preset_stft(22050, 1024, 256, center=False, pad_mode="constant"),
        n_mels=80,
        fmin=0.0,
        fmax=8000.0,
        power=1.0,
        add=1e-9,
        log_base=math.e,
        floor=1e-5,
        pad=(1024 - 256) // 2,
    ),
    "espnet": MelConfig(
        stft=_preset_stft(22050, 1024, 256, center=True, pad_mode="reflect"),
        n_mels=80,
        fmin=80.0,
        fmax=7600.0,
        power=1.0,
        clamp=1e-10,
        log_base=10.0,
        floor=1e-10,
        bands_last=True,
    ),
    "vocos": MelConfig(
        stft=_preset_stft(24000, 1024, 256, center=True, pad_mode="reflect"),
        n_mels=100,
        scale="htk",
        norm=None,
        power=1.0,
        log_base=math.e,
        floor=1e-7,
    ),
    "librosa": MelConfig(stft=_preset_stft(22050, 2048, 512, center=True, pad_mode="constant")),
}


#: the STFT's settings ``changed`` takes beside MelConfig's own fields
STFT_SETTINGS = ("sample_rate", "n_fft", "hop", "win_length")
#: the log bases by name (the CLI's --mel-log)
LOG_BASES = {"none": None, "e": math.e, "10": 10.0}
#: the largest power ``changed`` takes (1: magnitude, 2: power; beyond 4 |X|^p overflows float64 for loud
#: audio and underflows for quiet)
MAX_POWER = 4.0


def changed(cfg: MelConfig, **changes: object) -> MelConfig:
    """``cfg`` (a preset) with some settings changed: the STFT's ``sample_rate``, ``n_fft``, ``hop``,
    ``win_length``, or any MelConfig field (n_mels, fmin, fmax, scale, norm, power, log_base, floor, clamp,
    bands_last, ...), checked against engine.limits (sample rate, n_fft), with at most as many bands as
    frequency bins, covering some bin, and a power of at most MAX_POWER. A configuration with outside
    padding (HiFi-GAN's (n_fft - hop) / 2, as its code computes it) keeps that rule for a changed n_fft or
    hop; a linear mel made log (``log_base``) takes the floor given, or 1e-5 (HiFi-GAN's clamp).
    InputError, one line, for unknown names and for settings that do not fit together (fmax above half
    the rate, a hop longer than the window, ...)."""
    own = {f.name for f in fields(MelConfig)} - {"stft"}
    unknown = sorted(set(changes) - own - set(STFT_SETTINGS))
    if unknown:
        raise InputError(f"unknown mel setting {unknown[0]!r}; the settings are {', '.join(sorted(own))}")
    stft_changes = {k: changes.pop(k) for k in STFT_SETTINGS if k in changes}
    if "sample_rate" in stft_changes:
        limits.check_sample_rate(stft_changes["sample_rate"], "mel sample rate")
    if "n_fft" in stft_changes:
        limits.check_n_fft(stft_changes["n_fft"], "mel n_fft")
    if not 0 < changes.get("power", cfg.power) <= MAX_POWER:
        raise InputError(f"mel settings: power {changes['power']:g} is outside (0, {MAX_POWER:g}]")
    try:
        stft_cfg = replace(cfg.stft, **stft_changes)
        if cfg.pad and ("n_fft" in stft_changes or "hop" in stft_changes) and "pad" not in changes:
            changes["pad"] = (stft_cfg.n_fft - stft_cfg.hop) // 2
        if changes.get("log_base") is not None and not cfg.is_log and "floor" not in changes:
            changes["floor"] = 1e-5
        made = replace(cfg, stft=stft_cfg, **changes)
        if made.n_mels > stft_cfg.n_bins:
            raise ValueError(f"{made.n_mels} mel bands are more than the {stft_cfg.n_bins} frequency bins")
        if not np.any(mel_filters(made)):
            raise ValueError(
                f"the bands from {made.fmin:g} to {made.top:g} Hz cover no frequency bin at n_fft "
                f"{stft_cfg.n_fft}"
            )
        return made
    except (TypeError, ValueError) as exc:
        raise InputError(f"mel settings: {exc}") from None


def hz_to_mel(f: np.ndarray | float, scale: str) -> np.ndarray:
    """Frequencies in Hz on the mel scale: HTK's 2595 log10(1 + f / 700), or Slaney's (linear below 1 kHz,
    3 / 200 mel per Hz; logarithmic above, 27 mels per factor 6.4), as librosa.hz_to_mel."""
    f = np.asarray(f, dtype=np.float64)
    if scale == "htk":
        return 2595.0 * np.log10(1.0 + f / 700.0)
    linear = f * 3.0 / 200.0
    return np.where(f >= 1000.0, 15.0 + np.log(np.maximum(f, 1000.0) / 1000.0) * 27.0 / np.log(6.4), linear)


def mel_to_hz(m: np.ndarray, scale: str) -> np.ndarray:
    """The inverse of ``hz_to_mel``."""
    m = np.asarray(m, dtype=np.float64)
    if scale == "htk":
        return 700.0 * (10.0 ** (m / 2595.0) - 1.0)
    return np.where(m >= 15.0, 1000.0 * np.exp(np.log(6.4) / 27.0 * (m - 15.0)), m * 200.0 / 3.0)


def mel_filters(cfg: MelConfig) -> np.ndarray:
    """The filter bank B [n_mels, K] (float64): triangles between n_mels + 2 edges evenly spaced on the mel
    scale from fmin to fmax, on the bins' frequencies k sr / n_fft, divided by their width in Hz / 2 for
    the Slaney norm (librosa.filters.mel; torchaudio's melscale_fbanks for HTK without norm)."""
    edges = mel_to_hz(
        np.linspace(hz_to_mel(cfg.fmin, cfg.scale), hz_to_mel(cfg.top, cfg.scale), cfg.n_mels + 2), cfg.scale
    )
    freqs = np.arange(cfg.stft.n_bins) * cfg.stft.sample_rate / cfg.stft.n_fft
    widths = np.diff(edges)
    ramps = edges[:, None] - freqs[None, :]
    rising = -ramps[:-2] / widths[:-1, None]
    falling = ramps[2:] / widths[1:, None]
    bank = np.maximum(0.0, np.minimum(rising, falling))
    if cfg.norm == "slaney":
        bank *= (2.0 / (edges[2:] - edges[:-2]))[:, None]
    return bank


def power_spectrogram(audio: np.ndarray, cfg: MelConfig) -> np.ndarray:
    """|X|^p [..., F, K] of a signal, the preset's outside padding and small terms included."""
    x = np.asarray(audio, dtype=np.float64)
    if cfg.pad:
        if x.shape[-1] <= cfg.pad:
            raise InputError(
                f"a signal of {x.shape[-1]} samples is too short for {cfg.pad} samples of reflection"
            )
        x = np.pad(x, [(0, 0)] * (x.ndim - 1) + [(cfg.pad, cfg.pad)], mode="reflect")
    try:
        spec = stft(x, cfg.stft)
    except ValueError as exc:
        raise InputError(str(exc)) from None
    squared = spec.real**2 + spec.imag**2 + cfg.add
    if cfg.clamp:
        squared = np.maximum(squared, cfg.clamp)
    return squared if cfg.power == 2 else squared ** (cfg.power / 2)


def melspectrogram(audio: np.ndarray, cfg: MelConfig) -> np.ndarray:
    """A signal's mel spectrogram in the configuration's layout and log scale (module docstring)."""
    mel = power_spectrogram(audio, cfg) @ mel_filters(cfg).T  # [..., F, n_mels]
    if cfg.is_log:
        mel = np.log(np.maximum(mel, cfg.floor)) / np.log(cfg.log_base)
    return mel if cfg.bands_last else np.swapaxes(mel, -1, -2)


def linear_mel(mel: np.ndarray, cfg: MelConfig, what: str = "mel") -> np.ndarray:
    """A mel array in the configuration's layout and scale, checked and read back to linear values
    B |X|^p [..., F, n_mels]; one InputError line for an array that does not fit the configuration."""
    arr = np.asarray(mel)
    if arr.dtype.kind not in "fiu" or arr.ndim < 2:
        raise InputError(
            f"{what} must be an array of numbers with at least 2 dimensions, not {arr.dtype} {arr.shape}"
        )
    arr = arr.astype(np.float64)
    if not cfg.bands_last:
        arr = np.swapaxes(arr, -1, -2)
    layout = "[frames, n_mels]" if cfg.bands_last else "[n_mels, frames]"
    if arr.shape[-1] != cfg.n_mels:
        raise InputError(
            f"{what} has {arr.shape[-1]} bands where {cfg.n_mels} are expected "
            f"(layout {layout}, shape {np.shape(mel)})"
            + ("; it looks transposed" if arr.shape[-2] == cfg.n_mels else "")
        )
    if arr.shape[-2] < 1:
        raise InputError(f"{what} holds no frames")
    # one pass each for the extremes, which every check below reads: a NaN propagates into both, an
    # infinity shows in one (a live stream checks each frame: engine.streaming.core.mel_frames)
    lo, hi = float(np.min(arr)), float(np.max(arr))
    if not (math.isfinite(lo) and math.isfinite(hi)):
        raise InputError(f"{what} holds NaN or infinite values")
    if not cfg.is_log:
        if lo < 0:
            raise InputError(
                f"{what} holds negative values: log values given where linear mel values are expected"
            )
        return arr
    if lo >= 0 and np.median(arr) < LINEAR_MEDIAN * hi:
        raise InputError(
            f"{what} looks like linear mel values (none negative, most near 0) where log values (base "
            f"{cfg.log_base:g}) are expected"
        )
    if hi * math.log(cfg.log_base) > LOG_PEAK:
        raise InputError(f"{what} holds log values up to {hi:g}: too large for a log mel (linear values?)")
    arr *= math.log(cfg.log_base)  # arr is this function's own copy (astype above)
    return np.exp(arr, out=arr)


#: a log mel with no negative value whose median is below this fraction of its largest value is refused as
#: linear values: a linear mel of speech is mostly near zero, a log one (shifted up, even) is not
LINEAR_MEDIAN = 0.05
#: the largest natural-log value a log mel may hold (e^80 = 5.5e34: far above any audio's mel)
LOG_PEAK = 80.0

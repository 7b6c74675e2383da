"""``phasefold.mel_to_audio``: audio from a mel spectrogram, for ``librosa.feature.inverse.mel_to_audio``.

Swapping it in for librosa's is a one-line change: with no preset it takes librosa's arguments and defaults
and reads them as librosa does (M [..., n_mels, frames] of B |X|^power, the STFT and filter keywords). With
a preset (engine.mel.PRESETS: "hifigan", "espnet", "vocos", "librosa") it reads the preset's own layout and
log scale, as that project writes its mel. The method is the mel-consistent fast Griffin-Lim of
engine.mel_gla (the mel measurement kept inside every iteration), not a least-squares linear spectrogram;
it runs on the compiled backend (engine.compiled.mel: float64 where M and ``dtype`` are both float64, else
float32) where numba and pyfftw are installed, else in numpy.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
from phasefold.engine.arguments import number_array, optional_whole, whole
from phasefold.engine.errors import InputError
from phasefold.engine.mel import PRESETS, MelConfig, linear_mel
from phasefold.engine.mel_gla import DEFAULT_MEL_METHOD
from phasefold.engine.mel_methods import run_mel
from phasefold.engine.registry import mel_spec
from phasefold.engine.stft import StftConfig

#: iterations with a preset (the quality the presets are measured at, docs/results.md); librosa's 32
#: without one, as librosa's own default
PRESET_ITERATIONS = 100
LIBROSA_ITERATIONS = 32

#: librosa's defaults of the keywords a preset fixes itself
_LIBROSA_DEFAULTS = {
    "sr": 22050,
    "n_fft": 2048,
    "hop_length": None,
    "win_length": None,
    "window": "hann",
    "center": True,
    "pad_mode": "constant",
    "power": 2.0,
}
_FILTER_KEYWORDS = ("fmin", "fmax", "htk", "norm", "dtype")


def mel_to_audio(
    M: np.ndarray,
    *,
    preset: str | MelConfig | None = None,
    sr: int = 22050,
    n_fft: int = 2048,
    hop_length: int | None = None,
    win_length: int | None = None,
    window: str = "hann",
    center: bool = True,
    pad_mode: str = "constant",
    power: float = 2.0,
    n_iter: int | None = None,
    length: int | None = None,
    dtype: type = np.float32,
    seed: int = 0,
    method: str | None = None,
    **kwargs: object,
) -> np.ndarray:
    """Audio whose mel spectrogram is ``M``.

    Parameters
    ----------
    M : array
        With no preset, librosa's layout [..., n_mels, frames] of linear values B |X|^power (what
        ``librosa.feature.melspectrogram`` returns). With a preset, the preset's own array: "hifigan"
        [n_mels, frames] natural log, "espnet" [frames, n_mels] log10, "vocos" [n_mels, frames] natural
        log, "librosa" as with no preset at librosa's defaults; leading axes are reconstructed one by one.
    preset : str or engine.mel.MelConfig, optional
        "hifigan", "espnet", "vocos" or "librosa" (engine.mel): the STFT, filters, power and log as that
        project computes its mel; or a MelConfig of its own (``engine.mel.changed(PRESETS[name], ...)``: a
        preset with some settings changed); the keywords below (sr .. power, the filter keywords) are then
        left out.
    sr, n_fft, hop_length, win_length, window, center, pad_mode, power
        As ``librosa.feature.inverse.mel_to_audio`` (hop_length None: win_length // 4; window "hann",
        "hamming", "blackman", "boxcar" or "sqrt-hann").
    n_iter : int, optional
        Iterations of the method: 32 (librosa's) with no preset, 100 with one (a mel model: its T layers,
        one pass).
    length : int, optional
        Samples of the output (default: what the frames hold, as librosa).
    dtype : numpy dtype, default float32
        The output's type.
    seed : int, default 0
        The seed of the random start phases.
    method : str, optional
        The phase retrieval method, its magnitude step the mel step (engine.mel_gla): "fgla", "gla" or
        "admm-<loss>[-right]" (d = 1: "admm-l2", "admm-kl", ...), or a learned mel model of the preset's
        mel ("unfolded-mel-untied" with preset="hifigan": one pass of its layers unless ``n_iter`` says;
        ``phasefold.list_methods(mel=True)`` lists them); default DEFAULT_MEL_METHOD ("fgla", the best on
        the validation split: docs/results.md, "Mel"). Another method, or a mel model given another
        preset's mel, raises InputError.
    **kwargs
        The filter bank's keywords, as librosa.filters.mel: fmin (0), fmax (sr / 2), htk (False), norm
        ("slaney" or None).

    Returns
    -------
    array [..., samples]; a log mel shifted by a constant c gives the same audio scaled by
    base^(c / power).

    Raises
    ------
    phasefold.engine.errors.InputError
        one line for an array that does not fit (band count, linear values given to a log preset, NaN) or
        a keyword out of range, or a method that does not take a mel.

    Examples
    --------
    >>> from phasefold.engine.mel import PRESETS, melspectrogram
    >>> x = 0.1 * np.sin(2 * np.pi * 220 * np.arange(22050) / 22050)
    >>> M = melspectrogram(x, PRESETS["hifigan"])  # as HiFi-GAN computes it: natural log, [80, frames]
    >>> M.shape
    (80, 86)
    >>> y = phasefold.mel_to_audio(M, preset="hifigan", n_iter=16)
    >>> y.shape  # 86 frames of 256 samples
    (22016,)
    >>> louder = phasefold.mel_to_audio(M + 1.0, preset="hifigan", n_iter=16)
    >>> float(np.linalg.norm(louder - np.e * y) / np.linalg.norm(np.e * y)) < 1e-4  # float32 rounding
    True
    """
    chosen = DEFAULT_MEL_METHOD if method is None else method
    spec = mel_spec(chosen)  # the method first: an unknown one, or one that takes no mel, in one line
    arr = number_array(M, "M")
    if preset is None:  # librosa's layout [..., n_mels, frames]: read as [..., frames, n_mels]
        if arr.ndim < 2:
            raise InputError(f"M must have at least 2 dimensions [..., n_mels, frames], not {arr.shape}")
        arr = np.swapaxes(arr, -1, -2)
    if arr.ndim >= 2 and 0 in arr.shape[-2:]:
        raise InputError(f"M of shape {arr.shape if preset else np.shape(M)} holds no bands or no frames")
    cfg = _config(
        preset, arr.shape[-1], sr, n_fft, hop_length, win_length, window, center, pad_mode, power, kwargs
    )
    mel_spec(chosen, cfg)  # a mel model given another mel than its own
    lin = linear_mel(arr, replace(cfg, bands_last=True) if preset is None else cfg, "M")
    if n_iter is not None:
        iterations = whole(n_iter, "n_iter", 0)
    else:  # a mel model: one pass of its layers
        iterations = LIBROSA_ITERATIONS if preset is None else None if spec.mel_model else PRESET_ITERATIONS
    n = optional_whole(length, "length", 1)
    lead = lin.shape[:-2]
    flat = lin.reshape(-1, *lin.shape[-2:])
    # float64 only where both the mel and the output are float64; else float32 (a quarter less CPU, the
    # same scores to the printed digits on the test split: docs/results.md "Mel methods")
    wide = arr.dtype == np.float64 and np.dtype(dtype) == np.float64
    precision = np.float64 if wide else np.float32
    seed = whole(seed, "seed")
    out = [run_mel(chosen, m, cfg, iterations, seed, n, precision=precision) for m in flat]
    return np.stack(out).reshape(*lead, -1).astype(dtype)


def _config(
    name: str | MelConfig | None,
    n_mels: int,
    sr: int,
    n_fft: int,
    hop_length: int | None,
    win_length: int | None,
    window: str,
    center: bool,
    pad_mode: str,
    power: float,
    kwargs: dict,
) -> MelConfig:
    """The mel configuration: a preset's, or librosa's keywords read as librosa reads them."""
    unknown = sorted(set(kwargs) - set(_FILTER_KEYWORDS))
    if unknown:
        raise InputError(
            f"unknown keyword {unknown[0]!r}; the filter keywords are {', '.join(_FILTER_KEYWORDS)}"
        )
    if name is not None:
        given = {
            "sr": sr,
            "n_fft": n_fft,
            "hop_length": hop_length,
            "win_length": win_length,
            "window": window,
            "center": center,
            "pad_mode": pad_mode,
            "power": power,
        }
        changed = [k for k, v in given.items() if v != _LIBROSA_DEFAULTS[k]] + [
            k for k in kwargs if k != "dtype"
        ]
        if changed:
            label = repr(name) if isinstance(name, str) else "a MelConfig"
            raise InputError(
                f"preset {label} sets the STFT and the filters itself: leave out {', '.join(changed)}"
            )
        if isinstance(name, MelConfig):
            return name
        if name not in PRESETS:
            raise InputError(f"unknown mel preset {name!r}; choose one of {', '.join(PRESETS)}")
        return PRESETS[name]
    n_fft = whole(n_fft, "n_fft", 2)
    frame = n_fft if win_length is None else whole(win_length, "win_length", 1)
    hop = frame // 4 if hop_length is None else whole(hop_length, "hop_length", 1)
    norm = kwargs.get("norm", "slaney")
    try:
        return MelConfig(
            stft=StftConfig(
                n_fft=n_fft,
                hop=hop,
                sample_rate=whole(sr, "sr", 1),
                win_length=None if win_length is None else frame,
                window=window,
                center=bool(center),
                pad_mode=pad_mode,
                convention="librosa",
            ),
            n_mels=max(1, n_mels),
            fmin=float(kwargs.get("fmin", 0.0)),
            fmax=None if kwargs.get("fmax") is None else float(kwargs["fmax"]),
            scale="htk" if kwargs.get("htk", False) else "slaney",
            norm=norm,
            power=float(power),
        )
    except (ValueError, TypeError) as exc:
        raise InputError(str(exc)) from None

"""Drop-ins: ``phasefold.griffinlim`` for ``librosa.griffinlim`` 0.11, ``GriffinLim`` for torchaudio's class.

The STFT is engine.stft's at librosa's configuration (window as librosa makes it, centred or not, pad mode,
librosa's unnormalised scale), the iterations are engine.admm's (F)GLA span iterations (numpy, float64) or
their compiled twin (FFTW, float32). librosa's momentum update, angles = P(T_t - m / (1 + m) T_{t-1}) on the
rebuilt coefficients T_t = A x_t, is the same iteration as the span iterations' signal-domain FGLA
x_{t+1} = A^+ P(A z_t), z_t = x_t + m (x_t - x_{t-1}): A is linear, so A z_t = (1 + m) (T_t - m / (1 + m)
T_{t-1}), and the phase projection P ignores the positive factor.
"""

from __future__ import annotations

import numbers
import warnings
from collections.abc import Callable
from dataclasses import replace

import numpy as np
from phasefold.engine.arguments import number_array, whole
from phasefold.engine.errors import InputError
from phasefold.engine.stft import StftConfig

#: the start phases ``init`` takes: librosa's two and phasefold's own (the default)
INITS = ("pghi", "random", None)
#: window names librosa (scipy.signal.get_window) and engine.stft both know: passed on by name
_NAMED = ("hann", "hamming", "blackman", "boxcar")


def griffinlim(
    S: np.ndarray,
    *,
    n_iter: int = 32,
    hop_length: int | None = None,
    win_length: int | None = None,
    n_fft: int | None = None,
    window: str | tuple | float | Callable | np.ndarray = "hann",
    center: bool = True,
    dtype: type | np.dtype | None = None,
    length: int | None = None,
    pad_mode: str = "constant",
    momentum: float = 0.99,
    init: str | None = "pghi",
    random_state: int | np.random.RandomState | np.random.Generator | None = None,
) -> np.ndarray:
    """A signal whose STFT magnitudes approximate ``S``: ``librosa.griffinlim`` (librosa 0.11) with a better
    start.

    The signature, the layout (``S`` is [..., n_fft // 2 + 1, frames], librosa's, leading dimensions a
    batch), the output's length, alignment, scale and dtype are librosa's, for magnitudes on librosa's scale
    (``np.abs(librosa.stft(y, ...))``). The one deliberate difference is the default ``init="pghi"``: the
    phase starts from phase gradient heap integration (PGHI, Prusa et al. 2017) of ``S`` instead of random
    phases, and the ``n_iter`` fast Griffin-Lim iterations run on the compiled backend (FFTW, float32)
    where it is installed; at the same ``n_iter`` the result is much closer to the magnitudes and sounds
    better, in less time (docs/results.md). ``init="random"`` or ``init=None`` give librosa's algorithm:
    the same random phases from ``random_state`` (drawn as librosa draws them) or zero phases, then
    librosa's iterations in float64, equal to librosa's output to rounding.

    Parameters
    ----------
    S : np.ndarray
        Non-negative STFT magnitudes [..., n_fft // 2 + 1, frames], as ``np.abs(librosa.stft(y))``.
    n_iter : int, default 32
        Iterations (0: the start phases alone).
    hop_length : int, optional
        Hop in samples; default ``win_length // 4``.
    win_length : int, optional
        Window length in samples (the window centred in the frame); default ``n_fft``.
    n_fft : int, optional
        FFT size; default ``2 * (S.shape[-2] - 1)``. Give it for an odd n_fft.
    window : str, tuple, float, callable or np.ndarray, default "hann"
        As librosa takes it: a name or (name, parameter) tuple or number for ``scipy.signal.get_window``
        (periodic), a function of the length, or the window's ``win_length`` samples.
    center : bool, default True
        Frames centred on n * hop_length (librosa's default) or starting there.
    dtype : numpy dtype, optional
        The output's real dtype; default float32 for float32 (or float16) magnitudes, else float64.
    length : int, optional
        The output's samples (zeros past the frames' end, or cut); default librosa's, hop_length *
        (frames - 1) when centred (plus one for an odd n_fft), n_fft + hop_length * (frames - 1) if not.
    pad_mode : str, default "constant"
        How centred frames pad the signal: "constant", "reflect", "edge" or "symmetric".
    momentum : float, default 0.99
        Fast Griffin-Lim's momentum (0: Griffin-Lim); must be >= 0, above 1 warns (may be unstable).
    init : "pghi", "random" or None, default "pghi"
        The start phases: "pghi" (phasefold's, deterministic), "random" (librosa's default: uniform from
        ``random_state``) or None (zero phases: librosa's choice for resuming).
    random_state : int, np.random.RandomState, np.random.Generator or None
        The generator of ``init="random"``, as librosa: an int seeds a RandomState, None takes
        ``np.random.default_rng()``.

    Returns
    -------
    np.ndarray
        [..., length] in ``dtype``.

    Raises
    ------
    phasefold.engine.errors.InputError
        Magnitudes that are not a real array [..., bins, frames] of finite non-negative numbers, bins that
        do not fit ``n_fft``, a configuration no STFT has, a negative momentum, an unknown ``init``, window
        or ``random_state``.

    Examples
    --------
    >>> sr = 22050
    >>> y = np.sin(2 * np.pi * 440 * np.arange(sr) / sr) * np.hanning(sr)
    >>> S = np.abs(phasefold.stft(y, 512, 2048, window="hann", center=True, convention="librosa")).T
    >>> y_inv = phasefold.griffinlim(S, hop_length=512, n_fft=2048)
    >>> y_inv.shape  # librosa's length: hop * (frames - 1)
    (22016,)
    >>> S2 = np.abs(phasefold.stft(y_inv, 512, 2048, window="hann", center=True, convention="librosa")).T
    >>> bool(np.linalg.norm(S2 - S) < 0.05 * np.linalg.norm(S))
    True
    """
    rng = _generator(random_state)  # checked whatever the start, as librosa does
    if not (init is None or (isinstance(init, str) and init in INITS)):
        raise InputError(f"init must be one of 'pghi', 'random' or None, not {_shown(init)}")
    if not isinstance(momentum, numbers.Real) or isinstance(momentum, bool) or not np.isfinite(momentum):
        raise InputError(f"momentum must be a number, not {_shown(momentum)}")
    if momentum < 0:
        raise InputError(f"momentum must be >= 0, not {momentum}")
    if momentum > 1:
        warnings.warn(f"Griffin-Lim with momentum={momentum} > 1 can be unstable", UserWarning, stacklevel=2)
    mag = _magnitudes(S)
    n_iter = whole(n_iter, "n_iter")
    n_bins, n_frames = mag.shape[-2:]
    n_fft = 2 * (n_bins - 1) if n_fft is None else whole(n_fft, "n_fft", 2)
    if n_fft // 2 + 1 != n_bins:
        raise InputError(f"S has {n_bins} frequency bins; n_fft {n_fft} has {n_fft // 2 + 1}")
    cfg = _config(n_fft, hop_length, win_length, window, center, pad_mode)
    natural = cfg.span(n_frames) - 2 * cfg.pad
    out_length = natural if length is None else whole(length, "length")
    run_length = _run_length(out_length, natural, n_frames, cfg)
    out_dtype = _real_dtype(mag, dtype)

    items = mag.reshape(-1, n_bins, n_frames)
    if init == "random":  # librosa's draws: one uniform per coefficient of S, in S's own layout
        phases = (2.0 * np.pi * rng.random(size=mag.shape)).reshape(items.shape)
    out = np.zeros((items.shape[0], out_length), dtype=out_dtype)
    for i, item in enumerate(items):
        frames = np.ascontiguousarray(item.T, dtype=np.float64)  # [frames, bins]: the engine's layout
        if init == "pghi":
            y = _ours(frames, cfg, n_iter, momentum, run_length)
        else:
            from phasefold.engine.algorithms import gla

            start = np.zeros(frames.shape) if init is None else phases[i].T
            y = gla(frames, cfg, n_iter, 0, run_length, momentum, init=start)
        n = min(out_length, y.size)
        out[i, :n] = y[:n]
    return out.reshape(*mag.shape[:-2], out_length)


def _shown(value: object) -> str:
    """A value in an error line: its repr where short and on one line, else its type's name."""
    text = repr(value)
    return text if len(text) <= 60 and "\n" not in text else type(value).__name__


def _generator(random_state) -> np.random.RandomState | np.random.Generator:
    """librosa's generator of the random start: an int seeds a RandomState, None is default_rng()."""
    if random_state is None:
        return np.random.default_rng()
    if isinstance(random_state, numbers.Integral) and not isinstance(random_state, bool):
        return np.random.RandomState(seed=int(random_state))
    if isinstance(random_state, (np.random.RandomState, np.random.Generator)):
        return random_state
    raise InputError(
        f"random_state must be None, an int, a numpy RandomState or Generator, not {_shown(random_state)}"
    )


def _magnitudes(S) -> np.ndarray:
    mag = number_array(S, "S")
    if mag.ndim < 2:
        raise InputError(f"S must be magnitudes [..., bins, frames], got shape {list(mag.shape)}")
    if mag.shape[-2] < 2 or mag.shape[-1] < 1:
        raise InputError(f"S must hold at least 2 bins and 1 frame, got shape {list(mag.shape)}")
    if not np.all(np.isfinite(mag)):
        raise InputError(f"S: {int(np.count_nonzero(~np.isfinite(mag)))} values are NaN or infinite")
    if np.any(mag < 0):
        raise InputError(f"S holds {int(np.count_nonzero(mag < 0))} negative values: magnitudes are >= 0")
    return mag


def _window(window, win_length: int) -> str | tuple[float, ...]:
    """engine.stft's window for librosa's window specification (librosa.filters.get_window's rules)."""
    import scipy.signal

    if isinstance(window, str) and window in _NAMED:
        return window
    try:
        if callable(window):
            samples = window(win_length)
        elif isinstance(window, (str, tuple)) or np.isscalar(window):
            samples = scipy.signal.get_window(window, win_length, fftbins=True)
        else:
            samples = window
        samples = number_array(samples, "window").astype(np.float64)
    except (ValueError, TypeError) as exc:
        raise InputError(f"window {_shown(window)}: {exc}") from None
    if samples.shape != (win_length,):
        raise InputError(f"the window has shape {list(samples.shape)}, not win_length [{win_length}]")
    return tuple(samples.tolist())


def _config(n_fft: int, hop_length, win_length, window, center, pad_mode) -> StftConfig:
    win_length = n_fft if win_length is None else whole(win_length, "win_length", 1)
    hop = win_length // 4 if hop_length is None else whole(hop_length, "hop_length", 1)
    if hop_length is None and hop < 1:
        raise InputError(f"win_length {win_length} is too short for the default hop (win_length // 4)")
    if not isinstance(center, (bool, np.bool_)):
        raise InputError(f"center must be True or False, not {_shown(center)}")
    name = _window(window, win_length)
    try:
        return StftConfig(
            n_fft=n_fft,
            hop=hop,
            win_length=win_length,
            window=name,
            center=bool(center),
            pad_mode=pad_mode,
            convention="librosa",
        )
    except ValueError as exc:
        raise InputError(str(exc)) from None


def _run_length(out_length: int, natural: int, n_frames: int, cfg: StftConfig) -> int:
    """The samples the iterations run on: ``length`` where its frames are S's (librosa's iterations run at
    it), else librosa's natural length; never past the samples the frames reach."""
    try:
        fits = cfg.n_frames(out_length) == n_frames
    except ValueError:  # shorter than one frame
        fits = False
    reach = cfg.span(n_frames) - cfg.pad
    return min(out_length if fits else natural, reach)


def _real_dtype(mag: np.ndarray, dtype) -> np.dtype:
    """librosa's output dtype: the one asked for, else float32 for float32 or float16 S, else float64."""
    if dtype is not None:
        try:
            out = np.dtype(dtype)
        except TypeError as exc:
            raise InputError(f"dtype {_shown(dtype)}: {exc}") from None
        if out.kind != "f":
            raise InputError(f"dtype must be a real floating type, not {out}")
        return out
    return np.dtype(np.float32) if mag.dtype in (np.float16, np.float32) else np.dtype(np.float64)


def _ours(frames: np.ndarray, cfg: StftConfig, n_iter: int, momentum: float, length: int) -> np.ndarray:
    """phasefold's default: the PGHI start, then (fast) Griffin-Lim on the compiled backend (the numpy
    iterations where it is missing, or for a pad mode other than zeros, which re-pads every iterate)."""
    from phasefold.engine import backends

    if cfg.pad_mode != "constant" or not backends.wants_compiled("auto"):
        from phasefold.engine.algorithms import gla
        from phasefold.engine.pghi import phases

        return gla(frames, cfg, n_iter, 0, length, momentum, init=phases(frames, cfg))
    from phasefold.engine.compiled.pghi import offline_phases
    from phasefold.engine.registry import lookup
    from phasefold.engine.runners import offline_runner

    spec = replace(lookup("fgla"), momentum=float(momentum))
    return offline_runner(spec, backends.COMPILED).run(
        frames, cfg, n_iter, 0, length, offline_phases(frames, cfg)
    )


class GriffinLim:
    """``torchaudio.transforms.GriffinLim``'s constructor and call on numpy arrays (no torch needed):
    ``GriffinLim(n_fft=1024)(specgram)`` reconstructs a waveform [..., time] from a power spectrogram
    [..., n_fft // 2 + 1, frames] (``power`` 2: |X|^2, as torchaudio's Spectrogram makes it).

    It is ``griffinlim`` at torchaudio's settings (centred frames, reflect padding, periodic Hann window,
    hop ``win_length // 2``). As ``griffinlim``, its one deliberate difference is the start:
    ``rand_init=True`` (torchaudio's default, complex phases from torch's generator) starts from PGHI
    here; ``rand_init=False`` (torchaudio's start of ones) is torchaudio's algorithm, to rounding.

    Parameters
    ----------
    n_fft : int, default 400
        FFT size.
    n_iter : int, default 32
        Iterations.
    win_length : int, optional
        Window length; default n_fft.
    hop_length : int, optional
        Hop; default win_length // 2.
    window_fn : callable, optional
        ``window_fn(win_length, **wkwargs)`` gives the window's samples (``torch.hann_window`` works, as
        does any function returning an array); default a periodic Hann window.
    power : float, default 2.0
        The spectrogram's exponent: magnitudes are ``specgram ** (1 / power)``.
    wkwargs : dict, optional
        Keywords for ``window_fn``.
    momentum : float, default 0.99
        Fast Griffin-Lim's momentum, in [0, 1) as torchaudio demands.
    length : int, optional
        The waveform's samples; default hop * (frames - 1).
    rand_init : bool, default True
        True: phasefold's PGHI start; False: torchaudio's start of ones.

    Raises
    ------
    phasefold.engine.errors.InputError
        A momentum outside [0, 1), a power that is not positive, and what ``griffinlim`` refuses (when
        called).

    Examples
    --------
    >>> sr = 16000
    >>> y = np.sin(2 * np.pi * 300 * np.arange(sr) / sr) * np.hanning(sr)
    >>> spec = np.abs(phasefold.stft(y, 200, 400, window="hann", center=True, convention="librosa").T) ** 2
    >>> waveform = phasefold.GriffinLim(n_fft=400)(spec)
    >>> waveform.shape  # hop * (frames - 1)
    (16000,)
    """

    def __init__(
        self,
        n_fft: int = 400,
        n_iter: int = 32,
        win_length: int | None = None,
        hop_length: int | None = None,
        window_fn: Callable | None = None,
        power: float = 2.0,
        wkwargs: dict | None = None,
        momentum: float = 0.99,
        length: int | None = None,
        rand_init: bool = True,
    ) -> None:
        if not isinstance(momentum, numbers.Real) or not 0 <= momentum < 1:
            raise InputError(f"momentum must be in the range [0, 1), not {_shown(momentum)}")
        if not isinstance(power, numbers.Real) or not power > 0:
            raise InputError(f"power must be a positive number, not {_shown(power)}")
        self.n_fft = whole(n_fft, "n_fft", 2)
        self.n_iter = whole(n_iter, "n_iter")
        self.win_length = self.n_fft if win_length is None else whole(win_length, "win_length", 1)
        self.hop_length = self.win_length // 2 if hop_length is None else whole(hop_length, "hop_length", 1)
        if window_fn is None:
            self.window: str | np.ndarray = "hann"
        else:
            samples = window_fn(self.win_length, **(wkwargs or {}))
            self.window = number_array(np.asarray(samples), "window").astype(np.float64)
        self.power, self.momentum = float(power), float(momentum)
        self.length, self.rand_init = length, bool(rand_init)

    def __call__(self, specgram: np.ndarray) -> np.ndarray:
        """The waveform [..., time] of a spectrogram [..., n_fft // 2 + 1, frames] of |X|^power."""
        spec = _magnitudes(specgram)
        return griffinlim(
            spec ** (1.0 / self.power),
            n_iter=self.n_iter,
            hop_length=self.hop_length,
            win_length=self.win_length,
            n_fft=self.n_fft,
            window=self.window,
            center=True,
            length=self.length,
            pad_mode="reflect",
            momentum=self.momentum,
            init="pghi" if self.rand_init else None,
        )

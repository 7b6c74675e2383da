"""The library API behind ``import phasefold``: reconstruct, list methods, load models, the STFT.

Conventions (docs/architecture.md): 22050 Hz, n_fft 1024, periodic sine window scaled to a tight frame,
hop 256 by default (512 works); magnitudes are arrays [frames, n_fft / 2 + 1] of |X| (d = 1), frame n
covering samples [n hop, n hop + n_fft) of the signal padded with n_fft - hop zeros in front.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from phasefold.engine.arguments import number_array, optional_whole, whole
from phasefold.engine.stft import HOP, N_FFT, SAMPLE_RATE, StftConfig
from phasefold.engine.stft import istft as _istft
from phasefold.engine.stft import stft as _stft


def _config(hop: int, n_fft: int, **options) -> StftConfig:
    """The STFT configuration of the keywords (engine.stft.StftConfig), one clear line for a bad one."""
    from phasefold.engine.errors import InputError

    win = options.get("window", "sqrt-hann")
    if not isinstance(win, str):
        win = tuple(float(v) for v in number_array(win, "window").ravel())
    win_length = options.get("win_length")
    try:
        return StftConfig(
            n_fft=whole(n_fft, "n_fft", 1),
            hop=whole(hop, "hop", 1),
            **{
                **options,
                "window": win,
                "win_length": None if win_length is None else whole(win_length, "win_length", 1),
            },
        )
    except ValueError as exc:
        raise InputError(str(exc)) from None


#: what ``stft`` and ``istft`` say of their configuration keywords (one description, both docstrings)
_CONFIG_DOC = """    win_length : int, optional
        Window length in samples (default n_fft), the window centred in the frame with zeros around it.
    window : str or array, default "sqrt-hann"
        "sqrt-hann" (the square root of a periodic Hann), "hann", "hamming", "blackman", "boxcar" (periodic,
        as ``scipy.signal.get_window(name, win_length, fftbins=True)``), or the window's samples.
    center : bool or None, default None
        None: phasefold's frames (n_fft - hop samples of padding in front, every sample covered n_fft / hop
        times); True: frame n centred on sample n hop, the signal padded with n_fft // 2 samples of
        ``pad_mode`` (librosa and torch); False: frame n starts at sample n hop, no padding.
    pad_mode : str, default "constant"
        How a centred signal is padded: "constant" (zeros), "reflect", "edge" or "symmetric" (numpy.pad).
    convention : str, default "tight"
        The spectrogram's scale: "tight" (the window scaled so that sum_n w(t - n hop)^2 is 1 on average,
        orthonormal DFT: a tight frame where the window allows one), "librosa" (the window as it is,
        unnormalised DFT: ``librosa.stft``, ``torch.stft``) or "torch" (``torch.stft(normalized=True)``).
"""


def _finite(arr: np.ndarray, name: str) -> np.ndarray:
    from phasefold.engine.errors import InputError

    if not np.all(np.isfinite(arr)):
        raise InputError(f"{name}: {int(np.count_nonzero(~np.isfinite(arr)))} values are NaN or infinite")
    return arr


def stft(
    signal: np.ndarray,
    hop: int = HOP,
    n_fft: int = N_FFT,
    *,
    win_length: int | None = None,
    window: str | np.ndarray = "sqrt-hann",
    center: bool | None = None,
    pad_mode: str = "constant",
    convention: str = "tight",
) -> np.ndarray:
    """The complex spectrogram of a signal: by default phasefold's tight-frame STFT A (A^H A = I).

    The default window is the periodic sine window (the square root of a periodic Hann) scaled so that
    the frames form a tight frame; frame n covers samples [n hop, n hop + n_fft) of the signal padded
    with n_fft - hop zeros in front and enough zeros at the back that every sample is covered
    n_fft / hop times.
    The keywords give any other STFT: ``phasefold.stft(x, 512, 2048, window="hann", center=True,
    convention="librosa")`` is ``librosa.stft(x).T``.

    Parameters
    ----------
    signal : np.ndarray
        Samples [samples] of a signal at 22050 Hz (``SAMPLE_RATE``); any real dtype.
    hop : int, default 256
        Hop between frames in samples; with phasefold's frames (``center=None``) n_fft must be a multiple
        of it.
    n_fft : int, default 1024
        Frame length and FFT size in samples (odd sizes too).
    {config}
    Returns
    -------
    np.ndarray
        complex128 [frames, n_fft // 2 + 1]: frames = ceil((samples + n_fft - hop) / hop) with phasefold's
        frames, 1 + (samples + 2 (n_fft // 2) - n_fft) // hop centred, 1 + (samples - n_fft) // hop not.

    Raises
    ------
    phasefold.engine.errors.InputError
        A configuration no STFT has (non-positive or non-whole sizes, n_fft not a multiple of hop with
        phasefold's frames, a hop longer than the window, an unknown window, pad mode or convention); a
        signal that is not a 1-D array of real numbers (None, strings, ragged lists,
        complex or boolean values), or holds NaN or infinite samples.

    Examples
    --------
    >>> x = np.sin(2 * np.pi * 440 * np.arange(phasefold.SAMPLE_RATE) / phasefold.SAMPLE_RATE)
    >>> X = phasefold.stft(x)
    >>> X.shape
    (90, 513)
    >>> int(np.argmax(np.abs(X[45])))  # 440 Hz falls in bin 440 / (22050 / 1024) = 20.4
    20
    """
    from phasefold.engine.errors import InputError

    cfg = _config(
        hop,
        n_fft,
        win_length=win_length,
        window=window,
        center=center,
        pad_mode=pad_mode,
        convention=convention,
    )
    x = number_array(signal, "signal")
    if x.ndim != 1:
        raise InputError(f"signal must be 1-D samples [samples], got shape {list(x.shape)}")
    try:
        cfg.n_frames(x.size)
    except ValueError as exc:
        raise InputError(str(exc)) from None
    return _stft(_finite(x.astype(np.float64), "signal"), cfg)


def istft(
    spectrogram: np.ndarray,
    length: int,
    hop: int = HOP,
    n_fft: int = N_FFT,
    *,
    win_length: int | None = None,
    window: str | np.ndarray = "sqrt-hann",
    center: bool | None = None,
    pad_mode: str = "constant",
    convention: str = "tight",
) -> np.ndarray:
    """The inverse of ``stft``: by default its adjoint A^H (the default STFT is a tight frame), for any other
    configuration the canonical dual window (least squares, as ``librosa.istft``).

    Parameters
    ----------
    spectrogram : np.ndarray
        Complex spectrogram [frames, n_fft / 2 + 1], as ``stft`` returns it.
    length : int
        Samples of the signal to return (the signal the frames were computed from).
    hop : int, default 256
        Hop between frames in samples, as given to ``stft``.
    n_fft : int, default 1024
        Frame length in samples, as given to ``stft``.
    {config}
    Returns
    -------
    np.ndarray
        float64 [length]; samples no window reaches (a tail that no frame covers) are zeros.

    Raises
    ------
    phasefold.engine.errors.InputError
        A configuration no STFT has (as ``stft``); a spectrogram that is not a [frames, n_fft / 2 + 1]
        array of numbers or holds NaN or infinite values; a ``length`` that is not a whole number >= 0 or
        more samples than the frames hold.

    Examples
    --------
    >>> x = np.random.default_rng(0).standard_normal(5000)
    >>> y = phasefold.istft(phasefold.stft(x), len(x))
    >>> float(np.max(np.abs(y - x))) < 1e-12
    True
    """
    from phasefold.engine.errors import InputError

    cfg = _config(
        hop,
        n_fft,
        win_length=win_length,
        window=window,
        center=center,
        pad_mode=pad_mode,
        convention=convention,
    )
    spec = number_array(spectrogram, "spectrogram", complex_ok=True)
    if spec.ndim != 2 or spec.shape[1] != cfg.n_bins:
        raise InputError(
            f"spectrogram must have shape [frames, {cfg.n_bins}] (n_fft {cfg.n_fft}), got shape "
            f"{list(spec.shape)}: {spec.shape[-1] if spec.ndim else 0} bins"
        )
    n = whole(length, "length")
    try:
        return _istft(_finite(spec, "spectrogram"), cfg, n)
    except ValueError as exc:
        raise InputError(f"length {n}: {exc}") from None


def list_methods(streaming: bool = False, mel: bool = False) -> list[str]:
    """The names of the methods ``reconstruct`` (offline) or ``Stream.open`` (streaming) run, or with
    ``mel`` those ``mel_to_audio`` runs.

    Classical methods come first (Griffin-Lim, fast Griffin-Lim, ADMM with each Bregman divergence,
    gradient descent offline; RTISI-LA and RTPGHI in the stream), then the exported models found in the
    package and in the folders of ``PHASEFOLD_MODEL_PATH``. ``phasefold reconstruct --list-methods``
    prints them with a line each.

    Parameters
    ----------
    streaming : bool, default False
        False: the offline methods; True: the streaming engine's methods.
    mel : bool, default False
        True: the methods that take a mel offline (``phasefold.mel_to_audio(..., method=)``): fgla, gla,
        admm-l2, admm-kl (any admm-<loss>[-right] also takes one), then the learned mel models (each takes
        only its preset's mel; they take no magnitudes, so they are not among the other lists).

    Returns
    -------
    list of str
        Method names, in listing order.

    Raises
    ------
    phasefold.engine.errors.InputError
        ``streaming`` that is not a bool. Nothing else of its own: a broken model file on the path is
        not listed (a ModelPathWarning names it once) and running it by name raises ModelError saying
        what is wrong with it; a model file named like a built-in method is not offered (the built-in is
        used; a warning names the file).

    Examples
    --------
    >>> names = phasefold.list_methods()
    >>> names[:3]
    ['gla', 'fgla', 'admm-l2']
    >>> "rtisi-la" in phasefold.list_methods(streaming=True), "rtisi-la" in names
    (True, False)
    >>> "unfolded-mel-untied" in phasefold.list_methods(mel=True), "unfolded-mel-untied" in names
    (True, False)
    """
    for flag, value in (("streaming", streaming), ("mel", mel)):
        if not isinstance(value, bool):
            from phasefold.engine.errors import InputError

            raise InputError(f"{flag} must be True or False, not {value!r}")
    if streaming and mel:
        from phasefold.engine.errors import InputError

        raise InputError("mel=True lists the offline mel methods: leave out streaming=True")
    if mel:
        from phasefold.engine.registry import mel_method_names

        return mel_method_names()
    if streaming:
        from phasefold.engine.streaming.steps import method_names

        return method_names()
    from phasefold.engine.methods import method_names

    return method_names()


#: the defaults ``reconstruct`` had before the registry's (phasefold 0.x): method and iterations
_OLD_METHOD, _OLD_ITERATIONS = "unfolded-untied", 15
_warned: set[str] = set()


def _warn_once(text: str) -> None:
    """A FutureWarning, once per process and text."""
    import warnings

    if text not in _warned:
        _warned.add(text)
        warnings.warn(text, FutureWarning, stacklevel=3)


def _changed_default(method: str | None, iterations: int | None, cfg: StftConfig) -> None:
    """Warn where a call relies on a default that changed: no ``method`` (was unfolded-untied, 15 layers),
    or no ``iterations`` where the method's own default runs differently from the old 15. Only at the
    configurations the old release took (22050 Hz, n_fft 1024, its window and framing): any other had no
    old default to change."""
    from phasefold.engine import registry
    from phasefold.engine.errors import PhasefoldError

    if cfg != StftConfig(hop=cfg.hop):
        return
    hop = cfg.hop
    if method is None:
        spec = registry.lookup(registry.DEFAULT_METHOD)
        _warn_once(
            f"phasefold.reconstruct: the default method is now {spec.name!r} ({spec.iterations} iterations), "
            f"it was {_OLD_METHOD!r} ({_OLD_ITERATIONS} layers); pass method={_OLD_METHOD!r} to keep the old "
            "output"
        )
        return
    if iterations is not None:
        return
    try:
        spec = registry.lookup(method)
        if not spec.offline:
            return  # it does not run offline: running it says so
        if spec.family == "model":
            chosen = spec.at_hop(hop)
            changed = chosen.passes(_OLD_ITERATIONS) != chosen.passes(spec.iterations)
        else:
            changed = spec.iterations != _OLD_ITERATIONS
    except PhasefoldError:
        return  # running it says what is wrong
    if changed:
        _warn_once(
            f"phasefold.reconstruct: the default iterations of {spec.name!r} are now its own "
            f"({spec.describe_offline(spec.iterations)}), they were {_OLD_ITERATIONS}; pass "
            f"method={spec.name!r}, iterations={_OLD_ITERATIONS} to keep the old output"
        )


def reconstruct(
    magnitudes: np.ndarray,
    method: str | None = None,
    hop: int = HOP,
    iterations: int | None = None,
    length: int | None = None,
    seed: int = 0,
    init: np.ndarray | None = None,
    *,
    n_fft: int = N_FFT,
    sample_rate: int = SAMPLE_RATE,
    win_length: int | None = None,
    window: str | np.ndarray = "sqrt-hann",
    center: bool | None = None,
    pad_mode: str = "constant",
    convention: str = "tight",
) -> np.ndarray:
    """Rebuild a signal from magnitudes offline: phase retrieval with one method.

    The same call as ``phasefold reconstruct FILE -o OUT`` on the command line: with the same magnitudes,
    method and iterations both give the same samples (up to the output file's sample format).

    Parameters
    ----------
    magnitudes : np.ndarray
        |X| [frames, n_fft / 2 + 1] of ``stft``'s convention (22050 Hz, n_fft 1024), non-negative and finite;
        or a batch of them, [..., frames, n_fft / 2 + 1] (any leading dimensions; each item is rebuilt as
        the 2-D call rebuilds it, with the same ``seed``).
    method : str or None, default None
        A name of ``list_methods()`` or the path of an exported model (.onnx); None: the default method of
        the configuration (``engine.registry.default_method``; at 22050 Hz and n_fft 1024,
        ``engine.registry.DEFAULT_METHOD``: fast Griffin-Lim, 100 iterations, chosen on the validation
        split, README "Default method").
    hop : int, default 256
        Hop of the magnitudes in samples (a model runs at the hops its card lists).
    iterations : int or None, default None
        Iterations of a classical method, or layers of a model (it runs iterations / T passes of its T
        layers, at least one); None: the method's own default (100 for a classical method, one pass of a
        model's layers).
    length : int or None, default None
        Samples to return; None: the longest signal the frames hold (frames * hop - n_fft + hop).
    seed : int, default 0
        Seed of the random initial phase; the same seed gives the same output.
    init : np.ndarray or None, default None
        The phase to start from instead of a random one, [frames, n_fft / 2 + 1] like the magnitudes:
        real values are phases in radians, complex values give their angle (their magnitude is ignored),
        so the complex STFT of a noisy mixture (``stft(noisy)``) can be passed as it is. Every offline
        method starts from it (its iterations, or a model's layers, refine it; 0 iterations return it
        with the magnitudes); for a batch, the magnitudes' shape [..., frames, n_fft / 2 + 1].
        ``phasefold reconstruct --init-phase-from`` and a .npz file's ``init_phase`` give the same.
    n_fft : int, default 1024
        Frame length of the magnitudes in samples (odd sizes too).
    sample_rate : int, default 22050
        Their sample rate (a learned model runs at the rates its card lists; the default method follows the
        configuration: ``engine.registry.default_method``).
    {config}
    Returns
    -------
    np.ndarray
        float64 [length] at ``sample_rate``, time-aligned with the signal the magnitudes came from; for a
        batch, [..., length] (the leading dimensions of ``magnitudes``).

    Raises
    ------
    phasefold.engine.errors.InputError
        Magnitudes that are not an array of real numbers (None, strings, ragged lists), of the wrong
        shape, negative, NaN or infinite (in a batch, the line names the item: ``magnitudes[1, 0]: ...``);
        ``hop``, ``iterations``, ``length`` or ``seed`` that is not a
        whole number in range (``iterations`` at most 10000; magnitudes of at most 24 h: docs/limits.md,
        one line naming the limit); a length the frames cannot hold; an ``init`` that is not an array of
        numbers of the magnitudes' shape, or holds NaN or infinite values; a method that is not a name or
        path, an unknown method (with the closest names); a streaming-only method.
    phasefold.engine.errors.ModelError
        A model file that is missing, corrupt or made for another STFT.

    Warns
    -----
    FutureWarning
        Once per process where a call leaves out a default that changed in this release (``method``, or
        ``iterations`` where the method's own default differs from the old 15): CHANGELOG.md, Migration.

    Examples
    --------
    >>> x = np.random.default_rng(0).standard_normal(phasefold.SAMPLE_RATE) * 0.1
    >>> S = np.abs(phasefold.stft(x))
    >>> y = phasefold.reconstruct(S, method="fgla", iterations=100, length=len(x))
    >>> y.shape, y.dtype
    ((22050,), dtype('float64'))
    >>> bool(np.allclose(np.abs(phasefold.stft(y)), S, atol=0.5 * S.max()))
    True

    Starting from a given phase (after enhancement, say: the enhanced magnitudes with the phase of the
    noisy mixture):

    >>> noisy = x + 0.03 * np.random.default_rng(1).standard_normal(x.size)
    >>> y = phasefold.reconstruct(S, method="fgla", iterations=10, length=len(x), init=phasefold.stft(noisy))
    >>> y.shape
    (22050,)

    A batch, [..., frames, freq] -> [..., samples] (``init``, where given, has the magnitudes' shape):

    >>> batch = np.stack([S, 0.5 * S])  # [2, frames, freq] -> [2, samples]
    >>> phasefold.reconstruct(batch, method="fgla", iterations=10, length=len(x)).shape
    (2, 22050)
    """
    from phasefold.engine import registry
    from phasefold.engine.methods import reconstruct as run_method

    cfg = _config(
        hop,
        n_fft,
        sample_rate=whole(sample_rate, "sample_rate", 1),
        win_length=win_length,
        window=window,
        center=center,
        pad_mode=pad_mode,
        convention=convention,
    )
    if method is not None:
        registry.check_name(method)
    iterations = optional_whole(iterations, "iterations")
    length = optional_whole(length, "length", 1)
    seed = whole(seed, "seed")
    _changed_default(method, iterations, cfg)
    mag = number_array(magnitudes, "magnitudes")
    n = cfg.n_samples(mag.shape[-2]) if length is None and mag.ndim >= 2 else length
    name = registry.default_method(cfg) if method is None else method
    n = int(n if n is not None else 0)
    if mag.ndim <= 2:
        return run_method(name, mag, cfg, iterations, seed, n, init=init)
    if init is not None:
        from phasefold.engine.errors import InputError

        init = number_array(init, "init", complex_ok=True)
        if init.shape != mag.shape:
            raise InputError(
                f"init must have the magnitudes' shape {list(mag.shape)}, got {list(init.shape)}"
            )
    return _batch(
        mag,
        lambda index: run_method(
            name, mag[index], cfg, iterations, seed, n, init=None if init is None else init[index]
        ),
        n,
    )


def _batch(mag: np.ndarray, one, n: int) -> np.ndarray:
    """``one`` (item index -> [n], the 2-D call on ``mag[index]``) over the leading dimensions of ``mag``:
    [..., n]; an error names the item."""
    from phasefold.engine.errors import PhasefoldError

    out = np.zeros((*mag.shape[:-2], n))
    for index in np.ndindex(*mag.shape[:-2]):
        try:
            out[index] = one(index)
        except PhasefoldError as exc:
            raise type(exc)(f"magnitudes[{', '.join(map(str, index))}]: {exc}") from None
    return out


def load_model(path_or_name: str | Path):
    """Load an exported model: its ONNX graph in onnxruntime with its checked model card.

    Parameters
    ----------
    path_or_name : str or pathlib.Path
        A model's name (``list_methods()``: the shipped ones and those on ``PHASEFOLD_MODEL_PATH``) or the
        path of an .onnx file with its card (NAME.json) beside it.

    Returns
    -------
    phasefold.engine.onnx_model.PhaseModel
        The model: ``card`` (the typed model card), ``cfg`` (its STFT), ``step(mag, x, fixed, lam)`` (one
        window step, docs/architecture.md).

    Raises
    ------
    phasefold.engine.errors.ModelError
        Neither a model name nor an .onnx file (any other object included); a card that is missing or
        invalid; a file that is not an ONNX graph; a graph whose sha256 does not match its card.

    Examples
    --------
    >>> model = phasefold.load_model("unfolded-untied")
    >>> model.card.layers, model.cfg.hop
    (15, 256)
    """
    from phasefold.engine import registry
    from phasefold.engine.errors import InputError, ModelError
    from phasefold.engine.onnx_model import load_model as load

    try:
        spec = registry.lookup(path_or_name)
    except InputError:
        spec = None
    if spec is None or spec.path is None:
        raise ModelError(f"{path_or_name}: neither an .onnx file nor a shipped model")
    return load(spec.path)


__all__ = ["SAMPLE_RATE", "istft", "list_methods", "load_model", "reconstruct", "stft"]


for _function in (stft, istft, reconstruct):  # the configuration keywords' one description, in each docstring
    _function.__doc__ = _function.__doc__.replace("    {config}\n", _CONFIG_DOC)

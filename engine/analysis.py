"""The STFT an audio file is analysed at: its own sample rate (or the one asked for), and an n_fft and hop
given or chosen by rate (``phasefold reconstruct --sr --n-fft --hop``).

The rule for the defaults: n_fft is the largest power of two whose frame is no longer than the engine's
frame at 22050 Hz (1024 samples, 46.4 ms), the hop a quarter of it. 22050 Hz keeps 1024 / 256 (its output
is what it was), 16 kHz gets 512 / 128 (32 ms: the 16 kHz models' STFT), 24 kHz 1024 / 256, 44.1 and 48 kHz
2048 / 512, 8 kHz 256 / 64: the frame stays near the same duration, so the time and frequency resolution a
method sees, and the quality it reaches (docs/results.md), does not depend on the rate.
"""

from __future__ import annotations

from phasefold.engine import limits
from phasefold.engine.errors import InputError
from phasefold.engine.stft import HOP, N_FFT, SAMPLE_RATE, StftConfig


def default_n_fft(sample_rate: int) -> int:
    """The largest power of two n with n / sample_rate <= N_FFT / SAMPLE_RATE (at least 16)."""
    n = 16
    while 2 * n * SAMPLE_RATE <= N_FFT * sample_rate:
        n *= 2
    return n


def default_hop(n_fft: int) -> int:
    """A quarter of n_fft (HOP / N_FFT), the overlap of the engine's own STFT."""
    return max(1, n_fft * HOP // N_FFT)


def analysis_config(
    sample_rate: int, n_fft: int | None = None, hop: int | None = None, settings: dict | None = None
) -> StftConfig:
    """The STFT of audio at ``sample_rate``: ``n_fft`` (None: ``default_n_fft``), ``hop`` (None:
    ``default_hop`` of n_fft) and ``settings``, StftConfig's other keywords (window, win_length, center,
    pad_mode, convention: the CLI's, app.commands.options.stft_settings); InputError naming the options
    where the STFT cannot use them."""
    limits.check_sample_rate(sample_rate, "the audio")
    if n_fft is not None:
        limits.check_n_fft(n_fft, "--n-fft")
    settings = settings or {}
    n = default_n_fft(sample_rate) if n_fft is None else n_fft
    h = default_hop(n) if hop is None else hop
    try:
        return StftConfig(n_fft=n, hop=h, sample_rate=int(sample_rate), **settings)
    except ValueError as exc:
        given = option_words({"n_fft": n_fft, "hop": hop, **settings})
        chosen = "" if n_fft is not None and hop is not None else f" (n_fft {n}, hop {h} at {sample_rate} Hz)"
        raise InputError(f"{given or 'the STFT'}{chosen}: {exc}") from None


def option_words(settings: dict) -> str:
    """The settings given (StftConfig keywords; None: not given) as the command-line options that give them:
    '--n-fft 512 --hop 128 --center --no-center'."""
    words = []
    for key, value in settings.items():
        flag = key.replace("_", "-")
        if isinstance(value, bool):
            words.append(f"--{'' if value else 'no-'}{flag}")
        elif value is not None:
            words.append(f"--{flag} {value}")
    return " ".join(words)

"""One module per `phasefold` sub-command; each exposes ``register(subparsers)`` and its ``run(args)``.

The range-checked argparse types below are used by every command's options, so that a value out of range
is refused before any work with one usage line (exit 2); the options the commands share are declared in
phasefold.commands.options."""

import argparse
import math
from collections.abc import Callable
from pathlib import Path


def _int_at_least(minimum: int, maximum: int | None = None) -> Callable[[str], int]:
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"must be >= {minimum}, got {value}")
        if maximum is not None and value > maximum:
            raise argparse.ArgumentTypeError(f"must be <= {maximum}, got {value}")
        return value

    return parse


def _float_where(test: Callable[[float], bool], what: str) -> Callable[[str], float]:
    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
        if not (math.isfinite(value) and test(value)):
            raise argparse.ArgumentTypeError(f"expected {what}, got {text!r}")
        return value

    return parse


positive_int = _int_at_least(1)
non_negative_int = _int_at_least(0)
#: a random seed: numpy and torch take seeds of up to 64 bits (torch.manual_seed refuses more)
seed_int = _int_at_least(0, 2**63 - 1)
#: C, the pieces of the learned activation: each is a break point per layer; more than this is a typo
activation_pieces = _int_at_least(0, 100)
#: torch CPU threads: more than this many is a typo, and torch refuses counts beyond 32 bits
thread_count = _int_at_least(1, 1024)
finite_float = _float_where(lambda v: True, "a finite number")
positive_float = _float_where(lambda v: v > 0, "a finite number > 0")
non_negative_float = _float_where(lambda v: v >= 0, "a finite number >= 0")


def nonempty_text(text: str) -> str:
    """argparse type: a name or a path, refused where it is empty (an empty path would mean the current
    folder, an empty name the default: neither is what was typed)."""
    if not text.strip():
        raise argparse.ArgumentTypeError("expected a name or a path, got an empty value")
    return text


def path_arg(text: str) -> Path:
    """argparse type: a non-empty path (nonempty_text) as a Path."""
    return Path(nonempty_text(text))


def int_list(minimum: int) -> Callable[[str], list[int]]:
    """argparse type: comma-separated whole numbers, each >= ``minimum``."""
    one = _int_at_least(minimum)

    def parse(text: str) -> list[int]:
        values = [one(v) for v in text.split(",") if v.strip()]
        if not values:
            raise argparse.ArgumentTypeError(f"expected comma-separated whole numbers, got {text!r}")
        return values

    return parse


def sample_rate_hz(text: str) -> int:
    """argparse type: a sample rate in Hz within engine.limits.SAMPLE_RATES."""
    from phasefold.engine.limits import SAMPLE_RATES

    return _int_at_least(*SAMPLE_RATES)(text)


def fft_size(text: str) -> int:
    """argparse type: an FFT size within engine.limits.N_FFTS (whether the hop divides it is checked with
    the hop)."""
    from phasefold.engine.limits import N_FFTS

    return _int_at_least(*N_FFTS)(text)


def hop_size(text: str) -> int:
    """argparse type: a hop the engine's STFT serves (a divisor of n_fft, at most n_fft / 2)."""
    from phasefold.engine.stft import StftConfig

    value = positive_int(text)
    n_fft = StftConfig().n_fft
    if n_fft % value or value > n_fft // 2:
        raise argparse.ArgumentTypeError(
            f"the STFT (n_fft {n_fft}) needs a hop dividing {n_fft}, at most {n_fft // 2}; got {value}"
        )
    return value

"""One module per `phasefold` sub-command; each exposes ``register(subparsers)`` and its ``run(args)``.

The range-checked argparse types below are used by every command's options, so that a value out of range
is refused before any work with one usage line (exit 2); the options the commands share are declared in
phasefold.commands.options."""

import argparse
import math
from collections.abc import Callable


def _int_at_least(minimum: int) -> Callable[[str], int]:
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"must be >= {minimum}, got {value}")
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
finite_float = _float_where(lambda v: True, "a finite number")
positive_float = _float_where(lambda v: v > 0, "a finite number > 0")
non_negative_float = _float_where(lambda v: v >= 0, "a finite number >= 0")


def int_list(minimum: int) -> Callable[[str], list[int]]:
    """argparse type: comma-separated whole numbers, each >= ``minimum``."""
    one = _int_at_least(minimum)

    def parse(text: str) -> list[int]:
        values = [one(v) for v in text.split(",") if v.strip()]
        if not values:
            raise argparse.ArgumentTypeError(f"expected comma-separated whole numbers, got {text!r}")
        return values

    return parse


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

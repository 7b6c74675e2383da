"""Checks of the values the public API is handed (``phasefold.reconstruct``, ``stft``, ``istft``,
``Stream.open`` / ``push``): numbers of the right type and arrays of numbers, refused with InputError naming
the argument, before numpy or a compiled kernel sees them (they would raise their own errors)."""

from __future__ import annotations

import numbers

import numpy as np
from phasefold.engine.errors import InputError

#: the largest whole number an argument may take (the compiled kernels count in 32 bits)
MAX_WHOLE = 2**31 - 1


def whole(value: object, name: str, minimum: int = 0) -> int:
    """``value`` as an int: a whole number (not a bool, not a float) in [minimum, MAX_WHOLE]."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise InputError(f"{name} must be a whole number, not {value!r}")
    if not minimum <= value <= MAX_WHOLE:
        raise InputError(f"{name} must be a whole number from {minimum} to {MAX_WHOLE}, not {value}")
    return int(value)


def optional_whole(value: object, name: str, minimum: int = 0) -> int | None:
    """None, or ``value`` as ``whole`` checks it."""
    return None if value is None else whole(value, name, minimum)


def number_array(value: object, name: str, complex_ok: bool = False) -> np.ndarray:
    """``value`` as a numpy array of real (or, where ``complex_ok``, complex) numbers; InputError for anything
    numpy cannot read as one (None, strings, ragged lists, objects, booleans)."""
    try:
        arr = np.asarray(value)
    except ValueError as exc:
        if "inhomogeneous" in str(exc):
            raise InputError(
                f"{name} is ragged (rows of different lengths): an array of numbers is needed"
            ) from None
        raise InputError(f"{name} cannot be read as an array of numbers ({exc})") from None
    except Exception as exc:  # an object's own __array__ may raise anything
        raise InputError(
            f"{name} cannot be read as an array of numbers ({type(exc).__name__}: {exc})"
        ) from None
    kinds = "fiuc" if complex_ok else "fiu"
    if arr.dtype.kind not in kinds:
        what = type(value).__name__ if arr.dtype.kind == "O" and arr.ndim == 0 else f"dtype {arr.dtype}"
        kind = "real or complex numbers" if complex_ok else "real numbers"
        raise InputError(f"{name} must be {kind}, not {what}")
    return arr

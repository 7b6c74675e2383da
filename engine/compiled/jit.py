"""The one numba decorator of the compiled backend: nopython, cached on disk, numpy's error model."""

from __future__ import annotations

import numba

#: compile in nopython mode, cache the machine code on disk, float division by zero gives inf as in numpy
kernel = numba.njit(cache=True, nogil=True, error_model="numpy")

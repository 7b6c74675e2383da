"""FFTW, called from nopython code: the FFT binding of the compiled backend.

Measured on this project's 2-core machine (one thread, CPU time, a [7, 1024] float32 batch, a forward real FFT
and its inverse; `python -m benchmarks.fft_floor --bindings-only`, docs/results.md): FFTW 11.6 us, pocketfft
called from numba through rocket-fft 18.7 us, scipy.fft 29.0 us, numpy.fft 35.0 us. So the kernels call FFTW:
the library that pyfftw ships (or the system's), loaded once with llvmlite so that compiled kernels reach
``fftw(f)_execute`` by name and numba can cache them on disk. A ``Plan`` owns aligned buffers and a forward
and an inverse plan over them; a kernel fills ``frames``, executes ``forward`` and reads ``spec``, or fills
``spec``, executes ``inverse`` and reads ``frames``. Both transforms are unnormalised (scale by 1/sqrt(N) each
way for engine.stft's orthonormal DFT); the inverse ignores the imaginary parts of the DC and Nyquist bins, as
numpy's does, and overwrites ``spec``.

Plans are made with FFTW_ESTIMATE, so that the same input gives bit-identical output on every run:
FFTW_MEASURE times candidate algorithms at run time and may pick a different one at each fresh start (the
algorithms round differently, and a stream's state carries the difference forward: the demo's PESQ moved
between 3.88 and 3.97 from one fresh cache to the next). ESTIMATE picks by a fixed heuristic from the size,
the batch and the alignment of the buffers, and the buffers here always start on a 64-byte boundary, so the
choice is the same on every run on a machine (the SIMD codelets FFTW can use still depend on the CPU). No
wisdom is read or written: wisdom recorded by a MEASURE planner would be used by an ESTIMATE planner too.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import threading
from pathlib import Path

import llvmlite.binding as llvm
import numpy as np
from numba import types
from phasefold.engine.errors import BackendError

FFTW_ESTIMATE = 1 << 6
_PREFIX = {np.dtype(np.float32): "fftwf", np.dtype(np.float64): "fftw"}
_LIBRARY = {"fftwf": "fftw3f", "fftw": "fftw3"}
_planner = threading.Lock()  # FFTW's planner is not thread-safe; executing plans is

#: execute a plan (an address) on the buffers it was made for; one per precision
execute_f32 = types.ExternalFunction("fftwf_execute", types.void(types.uintp))
execute_f64 = types.ExternalFunction("fftw_execute", types.void(types.uintp))


def _candidates(name: str) -> list[str]:
    found: list[str] = []
    try:
        import pyfftw

        pkg = Path(pyfftw.__file__).resolve().parent
        for folder in (pkg.parent / "pyfftw.libs", pkg / ".dylibs", pkg):
            found += sorted(str(p) for p in folder.glob(f"lib{name}[-.]*") if "_omp" not in p.name)
    except ImportError:
        pass
    system = ctypes.util.find_library(name)
    return found + ([system] if system else [])


@functools.lru_cache(maxsize=2)
def library(prefix: str) -> ctypes.CDLL:
    """The FFTW library of one precision ("fftwf" or "fftw"), loaded for ctypes and for compiled code."""
    for path in _candidates(_LIBRARY[prefix]):
        try:
            lib = ctypes.CDLL(path)
            getattr(lib, f"{prefix}_execute")
        except (OSError, AttributeError):
            continue
        llvm.load_library_permanently(path)
        plan_many = [getattr(lib, f"{prefix}_plan_many_dft_r2c"), getattr(lib, f"{prefix}_plan_many_dft_c2r")]
        for fn in plan_many:
            fn.restype = ctypes.c_void_p
            fn.argtypes = [ctypes.c_int, ctypes.POINTER(ctypes.c_int), ctypes.c_int, ctypes.c_void_p,
                           ctypes.c_void_p, ctypes.c_int, ctypes.c_int, ctypes.c_void_p, ctypes.c_void_p,
                           ctypes.c_int, ctypes.c_int, ctypes.c_uint]  # fmt: skip
        destroy = getattr(lib, f"{prefix}_destroy_plan")
        destroy.argtypes, destroy.restype = [ctypes.c_void_p], None
        return lib
    raise BackendError(
        f"the compiled backend needs the FFTW library lib{_LIBRARY[prefix]} (pip install pyfftw)"
    )


def load_libraries() -> None:
    """Load both precisions before any kernel that calls them is compiled or read from the cache."""
    for prefix in _LIBRARY:
        library(prefix)


def aligned(shape: tuple[int, ...], dtype, align: int = 64) -> np.ndarray:
    """A zeroed array whose data starts on an ``align``-byte boundary (FFTW's SIMD code paths)."""
    dtype = np.dtype(dtype)
    n = int(np.prod(shape)) * dtype.itemsize
    raw = np.zeros(n + align, dtype=np.uint8)
    offset = (-raw.ctypes.data) % align
    return raw[offset : offset + n].view(dtype).reshape(shape)


class Plan:
    """A batch of ``frames`` real FFTs of length ``n_fft`` and their inverses, with their own buffers."""

    def __init__(self, n_fft: int, frames: int, dtype=np.float32) -> None:
        dtype = np.dtype(dtype)
        self.prefix = _PREFIX[dtype]
        lib = library(self.prefix)
        k = n_fft // 2 + 1
        self.frames = aligned((frames, n_fft), dtype)
        self.spec = aligned((frames, k), np.complex64 if dtype == np.float32 else np.complex128)
        n = (ctypes.c_int * 1)(n_fft)
        t, s = self.frames.ctypes.data, self.spec.ctypes.data
        with _planner:
            fwd = getattr(lib, f"{self.prefix}_plan_many_dft_r2c")(
                1, n, frames, t, None, 1, n_fft, s, None, 1, k, FFTW_ESTIMATE
            )
            inv = getattr(lib, f"{self.prefix}_plan_many_dft_c2r")(
                1, n, frames, s, None, 1, k, t, None, 1, n_fft, FFTW_ESTIMATE
            )
        if not fwd or not inv:
            raise BackendError(f"FFTW could not plan {frames} transforms of length {n_fft}")
        self.forward, self.inverse = int(fwd), int(inv)
        self._destroy = getattr(lib, f"{self.prefix}_destroy_plan")

    def __del__(self) -> None:
        destroy = getattr(self, "_destroy", None)
        if destroy is not None:
            with _planner:
                destroy(self.forward)
                destroy(self.inverse)

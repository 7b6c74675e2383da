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

Plans are made with FFTW_MEASURE: for a [7, 1024] float32 batch the measured plan's pair takes 12.9 us
against 17.8 us for FFTW_ESTIMATE's (FFTW_PATIENT: 12.5 us for 1.2 s of planning). Measuring takes about
0.2 s per shape, once: the plans found are kept as FFTW wisdom in ``cache_dir()`` and read at the next
start, so a second start plans at once and picks the same algorithms.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import os
import threading
from pathlib import Path

import llvmlite.binding as llvm
import numpy as np
from numba import types
from phasefold.engine.compiled.jit import cache_dir
from phasefold.engine.errors import BackendError

FFTW_MEASURE = 0
_PREFIX = {np.dtype(np.float32): "fftwf", np.dtype(np.float64): "fftw"}
_LIBRARY = {"fftwf": "fftw3f", "fftw": "fftw3"}
_planner = threading.Lock()  # FFTW's planner is not thread-safe; executing plans is

#: execute a plan (an address) on the buffers it was made for; one per precision
execute_f32 = types.ExternalFunction("fftwf_execute", types.void(types.uintp))
execute_f64 = types.ExternalFunction("fftw_execute", types.void(types.uintp))


def _wisdom_file(prefix: str) -> Path:
    return cache_dir() / f"{prefix}-wisdom.txt"


def _save_wisdom(lib: ctypes.CDLL, prefix: str) -> None:
    """Write the planner's wisdom (atomically); a cache folder that cannot be written costs only speed."""
    path = _wisdom_file(prefix)
    tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        if getattr(lib, f"{prefix}_export_wisdom_to_filename")(str(tmp).encode()):
            os.replace(tmp, path)
    except OSError:
        pass
    finally:
        tmp.unlink(missing_ok=True)


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
        for fn in (getattr(lib, f"{prefix}_import_wisdom_from_filename"),
                   getattr(lib, f"{prefix}_export_wisdom_to_filename")):  # fmt: skip
            fn.argtypes, fn.restype = [ctypes.c_char_p], ctypes.c_int
        wisdom = _wisdom_file(prefix)
        if wisdom.is_file():  # an unreadable file returns 0 and is ignored: plans are measured again
            getattr(lib, f"{prefix}_import_wisdom_from_filename")(str(wisdom).encode())
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
                1, n, frames, t, None, 1, n_fft, s, None, 1, k, FFTW_MEASURE
            )
            inv = getattr(lib, f"{self.prefix}_plan_many_dft_c2r")(
                1, n, frames, s, None, 1, k, t, None, 1, n_fft, FFTW_MEASURE
            )
            if fwd and inv:
                _save_wisdom(lib, self.prefix)
        self.frames[:] = 0.0  # measuring wrote into the buffers
        self.spec[:] = 0.0
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

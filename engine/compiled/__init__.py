"""The compiled backend: fused window steps in numba (nopython), FFTs by FFTW (engine.compiled.fftw).

Every kernel here computes the same function as its reference (the ONNX graph of a model, the numpy
iterations of engine.admm, the numpy RTISI-LA and RTPGHI processors), is compiled before the first frame
(cached on disk by numba, so a second start is fast) and is tested against that reference.
``available()`` says whether the packages import; ``require()`` raises one line naming what is missing.
"""

from __future__ import annotations

import functools
import importlib.util

from phasefold.engine.errors import BackendError

PACKAGES = ("numba", "pyfftw")  # pyfftw ships the FFTW library the kernels call
PIP_NAMES = {"numba": "numba", "pyfftw": "pyfftw"}


@functools.lru_cache(maxsize=1)
def missing_packages() -> tuple[str, ...]:
    """The packages of the compiled backend that cannot be imported here."""
    return tuple(p for p in PACKAGES if importlib.util.find_spec(p) is None)


def available() -> bool:
    """Whether the compiled backend can run here."""
    return not missing_packages()


def require() -> None:
    """Raise BackendError naming the missing packages, if any."""
    missing = missing_packages()
    if missing:
        names = " and ".join(PIP_NAMES[m] for m in missing)
        raise BackendError(
            f"the compiled backend needs {names} (pip install {' '.join(PIP_NAMES[m] for m in missing)}); "
            "use --backend onnxruntime or auto"
        )

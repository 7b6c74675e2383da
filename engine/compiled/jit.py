"""The one numba decorator of the compiled backend (nopython, cached on disk, numpy's error model) and
where the backend keeps what it caches.

numba keys a cached kernel on the source of its own file, but a kernel holds the machine code of the
kernels it calls from other files: after an edit of spectral.py, the cached unfolded_layers would still
run the old window loop. So on import the sources of this package are hashed together, and when the hash
differs from the one recorded beside the cached kernels (in numba's cache folder, which every
PHASEFOLD_CACHE_DIR shares), the package's numba cache files are deleted and every kernel compiles afresh
(once).
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import numba

#: compile in nopython mode, cache the machine code on disk, float division by zero gives inf as in numpy
kernel = numba.njit(cache=True, nogil=True, error_model="numpy")


def cache_dir() -> Path:
    """Where the backend's caches live: $PHASEFOLD_CACHE_DIR, else the user's cache folder + phasefold."""
    if os.environ.get("PHASEFOLD_CACHE_DIR"):
        return Path(os.environ["PHASEFOLD_CACHE_DIR"])
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "phasefold"


@kernel
def _probe() -> int:
    """A kernel of this folder, to ask numba where it caches this folder's kernels."""
    return 0


def numba_cache_folder() -> Path:
    """Where numba keeps this package's cached kernels (beside the sources, or its user-wide fallback)."""
    here = Path(__file__).resolve().parent
    return Path(getattr(getattr(_probe, "_cache", None), "_cache_path", here / "__pycache__"))


def refresh_stale_kernels() -> bool:
    """Delete this package's cached kernels if any of its sources changed since the last import (see the
    module docstring); whether it did. A folder that cannot be written costs only a recompilation."""
    sources = sorted(Path(__file__).resolve().parent.glob("*.py"))
    digest = hashlib.sha256(b"".join(p.name.encode() + p.read_bytes() for p in sources)).hexdigest()
    folder = numba_cache_folder()
    stamp = folder / "phasefold-kernels.sha256"  # beside the kernels it describes
    try:
        if stamp.read_text() == digest:
            return False
    except OSError:
        pass
    modules = tuple(f"{p.stem}." for p in sources)
    try:
        for path in folder.glob("*.nb[ic]"):
            if path.name.startswith(modules):
                path.unlink(missing_ok=True)
        stamp.parent.mkdir(parents=True, exist_ok=True)
        stamp.write_text(digest)
    except OSError:
        pass
    return True


refresh_stale_kernels()

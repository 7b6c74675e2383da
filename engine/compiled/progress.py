"""Progress of the compiled backend's kernel compilation, for a caller that shows it (the GUI).

numba compiles a kernel at its first call, and the kernels it calls with it; a cached kernel is read from
disk and compiles nothing. ``reporting_compiles(callback)`` listens to numba's compile events on the
calling thread while the block runs (``Stream.open`` warms a stream's kernels up there) and calls
``callback(CompileProgress)`` when a kernel of this package starts and ends compiling. ``total`` counts
this package's kernels that the kernels compiled so far call and that were not compiled before in this
process; it grows when a further top-level kernel starts. The engine calls no GUI code: the callback is
the caller's.
"""

from __future__ import annotations

import contextlib
import threading
import types
from collections.abc import Callable, Iterator
from dataclasses import dataclass

PACKAGE = __name__.rpartition(".")[0]  # phasefold.engine.compiled


@dataclass(frozen=True)
class CompileProgress:
    """``kernel`` starts compiling (``finished`` False) or has compiled; ``done`` of ``total`` so far."""

    kernel: str
    done: int
    total: int
    finished: bool


def _is_kernel(obj: object) -> bool:
    py_func = getattr(obj, "py_func", None)
    return hasattr(obj, "overloads") and (getattr(py_func, "__module__", None) or "").startswith(PACKAGE)


def _callees(kernel) -> list:
    """This package's kernels that ``kernel``'s code names (globals and closure cells)."""
    func = kernel.py_func
    names: set[str] = set()
    codes = [func.__code__]
    while codes:
        code = codes.pop()
        names.update(code.co_names)
        codes.extend(c for c in code.co_consts if isinstance(c, types.CodeType))
    found = [func.__globals__.get(n) for n in names]
    found += [cell.cell_contents for cell in func.__closure__ or ()]
    return [k for k in found if _is_kernel(k) and k is not kernel]


def pending_kernels(kernel) -> set:
    """``kernel`` and the kernels of this package it calls, directly or not, not yet compiled here."""
    seen, todo = set(), [kernel]
    while todo:
        k = todo.pop()
        if k in seen:
            continue
        seen.add(k)
        todo.extend(_callees(k))
    return {k for k in seen if not k.overloads}


class _Progress:
    """numba compile events of one thread -> CompileProgress (see the module docstring)."""

    def __init__(self, callback: Callable[[CompileProgress], None]) -> None:
        self.callback = callback
        self.thread = threading.get_ident()
        self.expected: set = set()
        self.compiled: set = set()
        self.depth = 0

    def start(self, kernel) -> None:
        if threading.get_ident() != self.thread or not _is_kernel(kernel):
            return
        if self.depth == 0:
            self.expected |= pending_kernels(kernel)
        self.expected.add(kernel)
        self.depth += 1
        self._report(kernel, finished=False)

    def end(self, kernel) -> None:
        if threading.get_ident() != self.thread or not _is_kernel(kernel):
            return
        self.depth -= 1
        self.compiled.add(kernel)
        if self.depth == 0:  # callees read from the disk cache compiled nothing: they are done too
            self.compiled |= self.expected
        self._report(kernel, finished=True)

    def _report(self, kernel, finished: bool) -> None:
        done = len(self.compiled & self.expected)
        self.callback(CompileProgress(kernel.py_func.__name__, done, len(self.expected), finished))


@contextlib.contextmanager
def reporting_compiles(callback: Callable[[CompileProgress], None]) -> Iterator[None]:
    """Call ``callback`` with a CompileProgress whenever this thread compiles a kernel of this package
    inside the block (nothing where numba is not installed)."""
    try:
        from numba.core import event
    except ImportError:
        yield
        return
    progress = _Progress(callback)

    class Listener(event.Listener):
        def on_start(self, ev) -> None:
            progress.start(ev.data["dispatcher"])

        def on_end(self, ev) -> None:
            progress.end(ev.data["dispatcher"])

    with event.install_listener("numba:compile", Listener()):
        yield

"""Which implementation runs a method: the compiled backend or the reference one.

``auto`` (the default) takes the compiled backend where it is available and can build the method, else the
reference; ``compiled`` insists on it (BackendError with the reason otherwise); ``onnxruntime`` and
``numpy`` name the reference: exported models run their ONNX graph in onnxruntime, classical methods their
numpy iterations. A row of ``phasefold bench`` records the backend that actually ran.
"""

from __future__ import annotations

from phasefold.engine import compiled
from phasefold.engine.errors import BackendError, InputError

BACKENDS = ("auto", "compiled", "onnxruntime", "numpy")
COMPILED, ONNXRUNTIME, NUMPY = "compiled", "onnxruntime", "numpy"


def check(backend: str) -> str:
    """A valid backend name (InputError otherwise)."""
    if backend not in BACKENDS:
        raise InputError(f"unknown backend {backend!r}; choose one of {', '.join(BACKENDS)}")
    return backend


def wants_compiled(backend: str) -> bool:
    """Whether to try the compiled backend: ``compiled`` (which must be importable) or ``auto`` (if it is)."""
    check(backend)
    if backend == COMPILED:
        compiled.require()
        return True
    return backend == "auto" and compiled.available()


def reference(model: bool) -> str:
    """The name of the reference backend of a model (onnxruntime) or a classical method (numpy)."""
    return ONNXRUNTIME if model else NUMPY


def build(backend: str, make_compiled, make_reference, model: bool):
    """(runner, backend name): the compiled runner where asked for and buildable, else the reference.

    ``make_compiled`` may raise BackendError (a method or model it cannot build): that is final under
    ``compiled`` and a fall-back under ``auto``."""
    if wants_compiled(backend):
        try:
            return make_compiled(), COMPILED
        except BackendError:
            if backend == COMPILED:
                raise
    return make_reference(), reference(model)

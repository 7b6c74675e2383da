"""Every public name of ``import phasefold`` is documented in numpydoc form, and its examples run.

The sections a reader looks for (Parameters, Returns, Raises, Examples) are checked on every function and on
every public method of the public classes; each Examples section runs as a doctest here, against the shipped
models and the built-in demo signal, so an example that drifts from the code fails the suite.
"""

from __future__ import annotations

import doctest
import inspect

import numpy as np
import phasefold
import pytest

#: the constants: documented in the package docstring (a number has no docstring of its own)
CONSTANTS = ("SAMPLE_RATE", "__version__")
CALLABLES = [name for name in phasefold.__all__ if name not in CONSTANTS]


def _documented(name: str):
    """(qualified name, object) for a public name and, for a class, its public methods and properties."""
    obj = getattr(phasefold, name)
    yield name, obj
    if inspect.isclass(obj):
        for attr, member in vars(obj).items():
            if attr.startswith("_"):
                continue
            if isinstance(member, classmethod | staticmethod):
                member = member.__func__
            if inspect.isfunction(member):
                yield f"{name}.{attr}", member


def _sections(doc: str) -> set[str]:
    """The numpydoc section titles of a docstring (a line underlined with dashes)."""
    lines = [line.strip() for line in doc.splitlines()]
    return {title for title, rule in zip(lines, lines[1:], strict=False) if rule and set(rule) == {"-"}}


def test_constants_are_described_in_the_package_docstring() -> None:
    for name in CONSTANTS:
        assert name in phasefold.__doc__


@pytest.mark.parametrize("name", CALLABLES)
def test_public_names_have_numpydoc_sections(name: str) -> None:
    for qualified, obj in _documented(name):
        doc = inspect.getdoc(obj) or ""
        found = _sections(doc)
        if inspect.isclass(obj):
            assert "Examples" in found, f"{qualified}: no Examples section"
            continue
        signature = inspect.signature(obj)
        takes = [p for p in signature.parameters if p not in ("self", "cls")]
        if takes:
            assert "Parameters" in found, f"{qualified}: no Parameters section"
            for parameter in takes:
                if signature.parameters[parameter].kind not in (inspect.Parameter.VAR_KEYWORD,):
                    assert parameter in doc, f"{qualified}: parameter {parameter!r} is not described"
        if signature.return_annotation not in ("None", None, inspect.Signature.empty):
            assert "Returns" in found, f"{qualified}: no Returns section"
        if qualified in CALLABLES:  # the module-level functions: what they raise, and an example
            assert "Raises" in found, f"{qualified}: no Raises section"
            assert "Examples" in found, f"{qualified}: no Examples section"


@pytest.mark.parametrize("name", CALLABLES)
def test_the_examples_run(name: str) -> None:
    finder, runner = doctest.DocTestFinder(recurse=False), doctest.DocTestRunner(optionflags=doctest.ELLIPSIS)
    ran = 0
    for qualified, obj in _documented(name):
        for test in finder.find(obj, qualified, globs={"phasefold": phasefold, "np": np}):
            result = runner.run(test)
            assert result.failed == 0, f"{qualified}: {result.failed} of {result.attempted} examples failed"
            ran += result.attempted
    assert ran > 0, f"{name} has no example that runs"

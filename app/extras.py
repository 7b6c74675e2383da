"""The optional extras of the package: the modules each one installs, what each command needs of them, and
the one line that names the extra to install where it is missing.

The core install (reconstructing, streaming, the library API) needs none of them; pyproject.toml's
``[project.optional-dependencies]`` lists the same extras with their versions.
"""

from __future__ import annotations

import argparse
import importlib.util

# extra -> the top-level modules it installs that phasefold imports (checked with importlib.util.find_spec)
EXTRAS: dict[str, tuple[str, ...]] = {
    "eval": ("pystoi", "pesq", "matplotlib", "tqdm"),
    "gui": ("PyQt6", "pyqtgraph", "pystoi"),
    "train": ("torch", "onnx"),
}

# command -> the extras it cannot run without ([train] installs [eval] too: model selection scores)
COMMAND_EXTRAS: dict[str, tuple[str, ...]] = {
    "evaluate": ("eval",),
    "divergence": ("eval",),  # draws with matplotlib
    "gui": ("gui",),
    "train": ("train", "eval"),
    "train-stream": ("train", "eval"),
    "export": ("train", "eval"),
}

# (command, option's dest) -> the extra that option needs when it is set
OPTION_EXTRAS: dict[tuple[str, str], str] = {
    ("stream", "score"): "eval",
}


def has_extra(extra: str) -> bool:
    """Whether every module of ``extra`` can be imported here (without importing it)."""
    return all(importlib.util.find_spec(module) is not None for module in EXTRAS[extra])


def install_hint(extra: str) -> str:
    """The command that installs ``extra``."""
    return f"pip install 'phasefold[{extra}]'"


def missing_extra(command: str, args: argparse.Namespace) -> tuple[str, str] | None:
    """The first extra that ``command`` run with ``args`` needs and that is not installed, as (what needs
    it, extra), e.g. ("phasefold gui", "gui") or ("phasefold stream --score", "eval"); None if none."""
    for extra in COMMAND_EXTRAS.get(command, ()):
        if not has_extra(extra):
            return f"phasefold {command}", extra
    for (name, dest), extra in OPTION_EXTRAS.items():
        if name == command and getattr(args, dest, None) and not has_extra(extra):
            return f"phasefold {command} --{dest.replace('_', '-')}", extra
    return None


def extra_of_module(module: str | None) -> str | None:
    """The extra that installs ``module`` (a dotted name; its top level counts), or None for a module of
    the core install."""
    top = (module or "").split(".")[0]
    return next((extra for extra, modules in EXTRAS.items() if top in modules), None)


def needs_line(what: str, extra: str) -> str:
    """The one line printed where an extra is missing."""
    return f"{what} needs the [{extra}] extra: {install_hint(extra)}"

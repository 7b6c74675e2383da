"""Where exported models are found: the ones shipped inside the package, then the user's folders.

A model is NAME.onnx with its card NAME.json beside it. The shipped models live in the package
``phasefold.exported_models`` (the repository's exported_models/ folder, package data in a wheel). Folders
named in the environment variable ``PHASEFOLD_MODEL_PATH`` (separated like PATH) add more; a user model
whose name is already taken by an earlier folder is not offered under that name (its path still works).
"""

from __future__ import annotations

import os
from pathlib import Path

from phasefold.exported_models import MODELS_DIR

ENV_VAR = "PHASEFOLD_MODEL_PATH"


def model_dirs() -> list[Path]:
    """The folders searched for models, in order: the shipped models, then ``PHASEFOLD_MODEL_PATH``."""
    extra = [Path(p).expanduser() for p in os.environ.get(ENV_VAR, "").split(os.pathsep) if p]
    return [MODELS_DIR, *extra]


def model_candidates() -> list[tuple[str, Path]]:
    """(name, NAME.onnx) of every model file with a card in the searched folders, in search order; a name
    may come more than once (engine.registry decides which one is offered, and warns about the others)."""
    found: list[tuple[str, Path]] = []
    for folder in model_dirs():
        try:
            paths = sorted(folder.glob("*.onnx"), key=lambda p: p.stem) if folder.is_dir() else []
            found += [(p.stem, p) for p in paths if p.is_file() and p.with_suffix(".json").is_file()]
        except OSError:  # a folder that cannot be listed offers nothing
            continue
    return found


def model_files() -> dict[str, Path]:
    """name -> NAME.onnx of every model with a card in the searched folders (first folder wins)."""
    found: dict[str, Path] = {}
    for name, path in model_candidates():
        found.setdefault(name, path)
    return found

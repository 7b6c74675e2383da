"""The shared TIMIT sample and its fixed split (docs/architecture.md), read in place, never copied."""

from __future__ import annotations

import os
from pathlib import Path

TEST = ("si1010", "si1024", "si1039", "si1264", "si1364", "si1375", "si1386", "si1474", "si1553", "si1573")
VALIDATION = ("si1624", "si1640", "si1669", "si1894", "si1899")
SPLITS = ("train", "validation", "test")

AUDIO_SUFFIXES = (".wav", ".flac", ".ogg", ".mp3")


def shared_data_dir() -> Path | None:
    """The TIMIT sample: $PHASEFOLD_DATA, else ../shared/data/timit-sample beside the project;
    PHASEFOLD_DATA=none runs as where the data is absent (what the tests do without it)."""
    env = os.environ.get("PHASEFOLD_DATA")
    if env == "none":
        return None
    candidates = [Path(env)] if env else []
    candidates.append(Path(__file__).resolve().parent.parent.parent / "shared" / "data" / "timit-sample")
    for c in candidates:
        if c.is_dir() and any(c.glob("*.wav")):
            return c
    return None


def split_files(split: str, root: Path | None = None) -> list[Path]:
    """Sorted files of one split of the shared sample; empty where the data is absent."""
    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r}; choose one of {', '.join(SPLITS)}")
    root = root or shared_data_dir()
    if root is None:
        return []
    files = sorted(root.glob("*.wav"))
    if split == "test":
        return [f for f in files if f.stem in TEST]
    if split == "validation":
        return [f for f in files if f.stem in VALIDATION]
    return [f for f in files if f.stem not in TEST and f.stem not in VALIDATION]


def audio_files(folder: Path) -> list[Path]:
    """Every audio file below a folder, sorted."""
    return sorted(p for p in Path(folder).rglob("*") if p.suffix.lower() in AUDIO_SUFFIXES)

"""Counts in words, for every text the package prints: "1 frame", "3 frames", "2 passes"."""

from __future__ import annotations


def counted(n: int, singular: str, plural: str | None = None) -> str:
    """``n`` and the word for that many, e.g. counted(1, "frame") -> "1 frame"."""
    return f"{n} {singular if n == 1 else (plural or singular + 's')}"

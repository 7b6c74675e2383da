"""Fixed-size ring buffer of spectrogram columns whose window is always one contiguous array."""

from __future__ import annotations

import numpy as np


class ColumnRing:
    """The last ``capacity`` rows [capacity, width], oldest first, as a C-contiguous view.

    Every row is stored twice (at ``i`` and ``i + capacity``) so that the window starting at the
    write position never wraps: no copy and no ``np.roll`` when the view is drawn.
    """

    def __init__(self, capacity: int, width: int, fill: float = 0.0) -> None:
        if capacity < 1 or width < 1:
            raise ValueError("capacity and width must be positive")
        self.capacity = capacity
        self.width = width
        self.fill = float(fill)
        self._buf = np.full((2 * capacity, width), self.fill, dtype=np.float32)
        self._head = 0
        self.count = 0  # rows pushed since the last clear

    def clear(self) -> None:
        self._buf.fill(self.fill)
        self._head = 0
        self.count = 0

    def push(self, rows: np.ndarray) -> None:
        """Append rows [n, width] (or one row [width])."""
        rows = np.asarray(rows, dtype=np.float32)
        if rows.ndim == 1:
            rows = rows[None, :]
        if rows.ndim != 2 or rows.shape[1] != self.width:
            raise ValueError(f"rows must be [n, {self.width}], got {rows.shape}")
        self.count += rows.shape[0]
        rows = rows[-self.capacity :]
        n, cap = rows.shape[0], self.capacity
        first = min(n, cap - self._head)
        for part, start in ((rows[:first], self._head), (rows[first:], 0)):
            if part.shape[0]:
                self._buf[start : start + part.shape[0]] = part
                self._buf[start + cap : start + cap + part.shape[0]] = part
        self._head = (self._head + n) % cap

    def view(self) -> np.ndarray:
        """The last ``capacity`` rows, oldest first (a view: do not keep it across pushes)."""
        return self._buf[self._head : self._head + self.capacity]

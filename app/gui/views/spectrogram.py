"""Scrolling spectrogram: dB image with fixed levels, a 256-entry colour map, colour bar and axes."""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from phasefold.gui import theme
from phasefold.gui.ring import ColumnRing
from PyQt6.QtGui import QTransform


class SpectrogramView(pg.PlotWidget):
    """The last ``seconds`` of a stream of magnitude frames, newest on the right (``reset`` sets the span:
    the window gives a file's whole length, so that its time axis follows the signal).

    Frames are pushed with their frame index (frame m starts at padded sample m H); ``refresh``
    redraws at most once per call, from a contiguous ring-buffer view (no copy, no auto-levels).
    """

    def __init__(
        self,
        title: str,
        sample_rate: int,
        hop: int,
        n_bins: int,
        seconds: float = 8.0,
        levels: tuple[float, float] = (-80.0, 0.0),
        parent=None,
    ) -> None:
        super().__init__(parent=parent)
        self.sample_rate, self.hop, self.n_bins = sample_rate, hop, n_bins
        self.row_step = sample_rate / 2 / (n_bins - 1)  # Hz per row (a mel view: 1 band per row)
        self.home = (title, sample_rate, hop, n_bins, levels)  # the grid ``regrid()`` goes back to
        self.levels = levels
        self._seconds = seconds
        self.ring = ColumnRing(self._capacity(), n_bins, fill=levels[0])
        self._next_frame = 0  # index of the frame after the newest one in the ring
        self._dirty = True
        self.frames_drawn = 0  # frames pushed that have been drawn (tests read it)

        item = self.getPlotItem()
        item.setTitle(title, color=theme.TEXT, size="11pt")
        item.setLabel("bottom", "time", units="s")
        item.setLabel("left", "frequency", units="Hz")
        item.setMenuEnabled(False)
        item.setMouseEnabled(x=False, y=False)
        item.hideButtons()
        self.image = pg.ImageItem(axisOrder="row-major")
        self.image.setAutoDownsample(False)
        item.addItem(self.image)
        self.colorbar = pg.ColorBarItem(
            values=levels,
            colorMap=pg.colormap.get(theme.COLORMAP),
            label="level (dB)",
            interactive=False,
            width=14,
        )
        self.colorbar.setImageItem(self.image, insert_in=item)
        self.image.setLookupTable(theme.lookup_table())
        self.image.setLevels(levels)
        self.setYRange(0, sample_rate / 2, padding=0)
        self._place()

    @property
    def seconds(self) -> float:
        return self._seconds

    def reset(self, seconds: float | None = None) -> None:
        """Clear the image; ``seconds`` (when given) becomes the span of the time axis."""
        if seconds is not None:
            self._seconds = seconds
            self.ring = ColumnRing(self._capacity(), self.n_bins, fill=self.levels[0])
        else:
            self.ring.clear()
        self._next_frame = 0
        self.frames_drawn = 0
        self._dirty = True

    def _capacity(self) -> int:
        return max(2, int(round(self._seconds * self.sample_rate / self.hop)))

    def push(self, first_frame: int, frames_db: np.ndarray) -> None:
        """Append dB frames [n, K] whose first one has index ``first_frame`` (gaps: floor)."""
        frames_db = np.asarray(frames_db, dtype=np.float32)
        if frames_db.ndim != 2 or frames_db.shape[0] == 0:
            return
        start = max(first_frame, self._next_frame)  # frames already shown (a restart) are dropped
        frames_db = frames_db[start - first_frame :]
        if frames_db.shape[0] == 0:
            return
        gap = start - self._next_frame
        if gap > 0:
            self.ring.push(np.full((min(gap, self.ring.capacity), self.n_bins), self.levels[0], np.float32))
        self.ring.push(frames_db)
        self._next_frame = start + frames_db.shape[0]
        self._dirty = True

    def refresh(self) -> bool:
        """Redraw if new frames arrived; returns whether anything was drawn."""
        if not self._dirty:
            return False
        self.image.setImage(self.ring.view(), autoLevels=False, levels=self.levels)
        self._place()
        self.frames_drawn = self._next_frame
        self._dirty = False
        return True

    def _place(self) -> None:
        dt = self.hop / self.sample_rate
        df = self.row_step
        t_end = self._next_frame * dt  # the ring's last row is the newest frame
        t0 = t_end - self.ring.capacity * dt
        # image pixel (column k = frequency bin, row i = frame) -> (time, frequency)
        self.image.setTransform(QTransform(0.0, df, dt, 0.0, t0, -df / 2))
        shown = self.ring.capacity * dt
        self.setXRange(max(t_end, shown) - shown, max(t_end, shown), padding=0)

    def regrid(
        self,
        title: str | None = None,
        sample_rate: int | None = None,
        hop: int | None = None,
        n_rows: int | None = None,
        levels: tuple[float, float] | None = None,
        mel: bool = False,
    ) -> None:
        """Show frames of another grid (empty until pushed): ``n_rows`` frequency bins of ``sample_rate``
        / ``hop``, or with ``mel`` that many mel bands (the axis counts bands); no argument: the grid it
        was made with."""
        home_title, home_rate, home_hop, home_rows, home_levels = self.home
        self.sample_rate = sample_rate or home_rate
        self.hop = hop or home_hop
        self.n_bins = n_rows or home_rows
        self.levels = levels or home_levels
        self.row_step = 1.0 if mel else self.sample_rate / 2 / (self.n_bins - 1)
        item = self.getPlotItem()
        item.setTitle(title or home_title, color=theme.TEXT, size="11pt")
        if mel:
            item.setLabel("left", "mel band", units=None)
        else:
            item.setLabel("left", "frequency", units="Hz")
        self.colorbar.setLevels(self.levels)
        self.image.setLevels(self.levels)
        self.setYRange(0, self.row_step * (self.n_bins - 1 if not mel else self.n_bins), padding=0)
        self.reset(self._seconds)

    def show_frames(self, frames_db: np.ndarray, seconds: float) -> None:
        """Show a whole spectrogram [F, rows] in dB at once (an offline result) on ``seconds`` of time axis
        (its last frames where it is longer)."""
        self.reset(seconds)
        self.push(0, frames_db)

"""The learned divergence curves f_{r,t}(y) of the selected model beside the quadratic and KL losses."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pyqtgraph as pg
from phasefold.gui import theme
from phasefold.gui.views.legend import OutsideLegend
from PyQt6.QtCore import Qt

REFERENCE_PENS = (
    pg.mkPen("#e8e8e8", width=2, style=Qt.PenStyle.DashLine),
    pg.mkPen("#7fd1b9", width=2, style=Qt.PenStyle.DotLine),
)


class DivergenceView(pg.PlotWidget):
    """Curves y -> f(y) for r = 1: one per layer (untied) or one (tied), and reference losses."""

    def __init__(self, parent=None) -> None:
        super().__init__(parent=parent)
        item = self.getPlotItem()
        item.setTitle("learned divergence f(y | r = 1)", color=theme.TEXT, size="11pt")
        item.setLabel("bottom", "y (estimated magnitude)")
        item.setLabel("left", "f(y)")
        item.showGrid(x=True, y=True, alpha=0.15)
        item.setMenuEnabled(False)
        item.hideButtons()
        item.setContentsMargins(4, 4, 16, 4)
        self.legend = OutsideLegend(item, labelTextColor=theme.TEXT, colCount=2)
        self.note = ""
        self.n_learned = 0  # learned curves shown (tests read it)

    def show_curves(
        self,
        title: str,
        y: np.ndarray,
        learned: Sequence[tuple[str, np.ndarray]],
        references: Sequence[tuple[str, np.ndarray]],
        note: str = "",
    ) -> None:
        """Replace the plot: learned curves coloured by layer, references dashed; ``note`` under the title
        (lines split by <br>). Keep each line short: a title wider than the view widens the plot past it."""
        item = self.getPlotItem()
        item.clear()
        self.legend.clear()
        sub = f"<br><span style='color:{theme.MUTED}; font-size:9pt'>{note}</span>" if note else ""
        item.setTitle(title + sub, color=theme.TEXT, size="11pt")
        cmap = pg.colormap.get("viridis")
        n = len(learned)
        for i, (label, values) in enumerate(learned):
            colour = cmap.map(0.15 + 0.8 * i / max(1, n - 1), mode="qcolor") if n > 1 else theme.ACCENT
            name = label if (n <= 4 or i in (0, n - 1)) else None
            item.plot(y, values, pen=pg.mkPen(colour, width=2), name=name)
        for (label, values), pen in zip(references, REFERENCE_PENS, strict=False):
            item.plot(y, values, pen=pen, name=label)
        finite = [v[np.isfinite(v)] for _, v in (*learned, *references)]
        finite = [v for v in finite if v.size]
        if finite:
            lo = min(float(v.min()) for v in finite)
            hi = max(float(np.percentile(v, 98)) for v in finite)
            ref_top = [float(np.nanmax(v)) for _, v in references if np.isfinite(v).any()]
            if ref_top:  # keep the reference losses readable: steeper learned curves leave the top
                hi = min(hi, 4.0 * max(ref_top))
            item.setYRange(lo - 0.05 * (hi - lo), hi + 0.05 * (hi - lo), padding=0)
        item.setXRange(float(y[0]), float(y[-1]), padding=0.02)
        self.note = note
        self.n_learned = n

"""A plot legend that never hides a curve: in a row of its own under the plot's x axis."""

from __future__ import annotations

import pyqtgraph as pg
from PyQt6.QtCore import Qt

LEGEND_ROW = 4  # pyqtgraph's PlotItem grid: title 0, top axis 1, view box 2, bottom axis 3


class OutsideLegend(pg.LegendItem):
    """A plot's legend in a row of its own under the x axis, never over the data; curves plotted with a
    ``name`` are listed in it (pyqtgraph's own legend floats over the view box and hides curves)."""

    def __init__(self, plot: pg.PlotItem, **options) -> None:
        super().__init__(**options)  # no offset: not anchored inside the plot
        plot.layout.addItem(self, LEGEND_ROW, 1)
        plot.legend = self  # PlotItem.plot(..., name=...) adds to it

    def updateSize(self) -> None:  # noqa: N802 (pyqtgraph override)
        """Ask the plot's layout for the entries' size (the base class would move the legend to 0, 0)."""
        self.layout.activate()
        hint = self.layout.effectiveSizeHint(Qt.SizeHint.PreferredSize)
        self.setMinimumHeight(hint.height())
        self.setMaximumHeight(hint.height())
        self.updateGeometry()

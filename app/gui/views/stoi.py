"""Live STOI and ESTOI of the reconstruction against the reference, drawn over stream time."""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from phasefold.gui import theme
from phasefold.gui.views.legend import OutsideLegend
from PyQt6.QtCore import Qt
from PyQt6.QtWidgets import QHBoxLayout, QLabel, QVBoxLayout, QWidget

MAX_SPAN_S = 30.0  # the time axis shows the last 30 s of a longer stream


class StoiView(QWidget):
    """A time plot of STOI / ESTOI over a sliding window, with the latest values in large type.

    The previous run's trace stays drawn (dashed, with its label) so that two methods compare side by side.
    """

    def __init__(self, window_s: float, parent=None) -> None:
        super().__init__(parent)
        self.window_s = window_s
        self.times: list[float] = []
        self.stoi: list[float] = []
        self.estoi: list[float] = []
        self.label = ""
        self.span_s: float | None = None  # the signal's length when known (reset)
        self.previous: tuple[str, list[float], list[float], list[float]] | None = None
        self._dirty = False

        self.plot = pg.PlotWidget()
        item = self.plot.getPlotItem()
        item.setTitle(f"live intelligibility ({window_s:g} s sliding window)", color=theme.TEXT, size="11pt")
        item.setLabel("bottom", "time", units="s")
        item.setLabel("left", "score")
        item.showGrid(x=True, y=True, alpha=0.15)
        item.setMenuEnabled(False)
        item.hideButtons()
        item.setContentsMargins(4, 4, 16, 4)
        item.setYRange(0.0, 1.02, padding=0)
        item.setXRange(0.0, 2 * window_s, padding=0.02)
        self.legend = OutsideLegend(item, labelTextColor=theme.TEXT, colCount=2)
        dashed = Qt.PenStyle.DashLine
        self.prev_stoi_curve = item.plot([], [], pen=pg.mkPen(theme.SERIES[0], width=1.5, style=dashed))
        self.prev_estoi_curve = item.plot([], [], pen=pg.mkPen(theme.SERIES[1], width=1.5, style=dashed))
        self.stoi_curve, self.estoi_curve = (
            item.plot(
                [],
                [],
                pen=pg.mkPen(colour, width=2),
                name=name,
                symbol="o",
                symbolSize=4,
                symbolBrush=colour,
                symbolPen=None,
            )
            for name, colour in (("STOI", theme.SERIES[0]), ("ESTOI", theme.SERIES[1]))
        )

        self.stoi_label = QLabel("STOI –")
        self.estoi_label = QLabel("ESTOI –")
        for label, colour in ((self.stoi_label, theme.SERIES[0]), (self.estoi_label, theme.SERIES[1])):
            label.setObjectName("metricBig")
            label.setStyleSheet(f"color: {colour};")
        self.window_label = QLabel(f"last {window_s:g} s:")  # the big figures score the last window only
        self.window_label.setObjectName("caption")
        self.caption = QLabel("no reference")
        self.caption.setObjectName("caption")
        top = QHBoxLayout()
        top.setContentsMargins(8, 0, 8, 0)
        top.addWidget(self.window_label)
        top.addWidget(self.stoi_label)
        top.addSpacing(16)
        top.addWidget(self.estoi_label)
        top.addStretch(1)
        top.addWidget(self.caption)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(top)
        layout.addWidget(self.plot, 1)

    def reset(self, caption: str, label: str = "", span_s: float | None = None) -> None:
        """Start a new trace (the current one becomes the dashed previous one) and say what it compares;
        ``span_s``: the signal's length, which the time axis then shows whole (the last 30 s at most)."""
        self.span_s = span_s
        if span_s is not None:
            self.plot.setXRange(max(0.0, span_s - MAX_SPAN_S), span_s, padding=0.02)
        if self.times:
            self.previous = (self.label, list(self.times), list(self.stoi), list(self.estoi))
        self.times.clear()
        self.stoi.clear()
        self.estoi.clear()
        self.label = label
        self.stoi_label.setText("STOI –")
        self.estoi_label.setText("ESTOI –")
        self.caption.setText(caption)
        self.legend.clear()
        self.legend.addItem(self.stoi_curve, f"STOI {label}".strip())
        self.legend.addItem(self.estoi_curve, f"ESTOI {label}".strip())
        if self.previous is not None:
            name, times, stoi, estoi = self.previous
            self.prev_stoi_curve.setData(times, stoi)
            self.prev_estoi_curve.setData(times, estoi)
            self.legend.addItem(self.prev_stoi_curve, f"STOI {name} (previous run)")
            self.legend.addItem(self.prev_estoi_curve, f"ESTOI {name} (previous run)")
        self._dirty = True

    def add(self, t: float, stoi: float, estoi: float) -> None:
        """One measurement at stream time ``t`` (end of its window)."""
        self.times.append(t)
        self.stoi.append(stoi)
        self.estoi.append(estoi)
        self.stoi_label.setText(f"STOI {stoi:.3f}")
        self.estoi_label.setText(f"ESTOI {estoi:.3f}")
        self._dirty = True

    def mean(self) -> tuple[float, float]:
        """Means of the trace so far (nan when empty)."""
        if not self.times:
            return float("nan"), float("nan")
        return float(np.mean(self.stoi)), float(np.mean(self.estoi))

    def mean_text(self) -> str:
        """The trace's means, saying what they are: the mean over the windows so far, not the score of
        the whole signal."""
        s, e = self.mean()
        return f"STOI {s:.3f}, ESTOI {e:.3f} (mean of the {self.window_s:g} s windows so far)"

    def refresh(self) -> bool:
        """Redraw if new points arrived."""
        if not self._dirty:
            return False
        self.stoi_curve.setData(self.times, self.stoi)
        self.estoi_curve.setData(self.times, self.estoi)
        if self.times:
            scores = self.stoi + self.estoi + (self.previous[2] + self.previous[3] if self.previous else [])
            low = min(scores)  # zoom on the scores: 0.05 steps, down to 0
            self.plot.setYRange(max(0.0, np.floor((low - 0.02) * 20) / 20), 1.005, padding=0)
            end = max(self.times[-1], self.window_s, self.span_s or 0.0)
            self.plot.setXRange(max(0.0, end - MAX_SPAN_S), end, padding=0.02)
        self._dirty = False
        return True

    def to_csv(self) -> str:
        """The trace as CSV text: time_s, stoi, estoi."""
        rows = ["time_s,stoi,estoi"]
        points = zip(self.times, self.stoi, self.estoi, strict=True)
        rows += [f"{t:.4f},{s:.6f},{e:.6f}" for t, s, e in points]
        return "\n".join(rows) + "\n"

"""Dark theme for Qt widgets and pyqtgraph plots, and the fixed colour scales of the views."""

from __future__ import annotations

import pyqtgraph as pg
from PyQt6.QtGui import QColor, QPalette
from PyQt6.QtWidgets import QApplication

BACKGROUND = "#1b1d23"
PANEL = "#23262e"
BASE = "#15171c"
TEXT = "#d8dbe2"
MUTED = "#8a8f9c"
ACCENT = "#4fa3ff"
ERROR = "#ff6b6b"
OK = "#6bd68a"
WARN = "#ffc857"
SERIES = ("#4fa3ff", "#ffb347", "#6bd68a", "#ff6b6b", "#c792ea")
COLORMAP = "inferno"

STYLESHEET = f"""
QWidget {{ font-size: 10pt; }}
QGroupBox {{
    border: 1px solid #343845; border-radius: 6px; margin-top: 14px; padding: 8px 6px 6px 6px;
    background: {PANEL};
}}
QGroupBox::title {{
    subcontrol-origin: margin; left: 10px; padding: 0 4px; color: {ACCENT}; font-weight: bold;
}}
QPushButton {{
    background: #2e323d; border: 1px solid #404555; border-radius: 4px; padding: 4px 10px; color: {TEXT};
}}
QPushButton:hover {{ background: #383d4a; }}
QPushButton:checked {{ background: #2b5a8c; border-color: {ACCENT}; }}
QPushButton:disabled {{ color: #5d6270; }}
QComboBox, QSpinBox, QDoubleSpinBox {{
    background: {BASE}; border: 1px solid #404555; border-radius: 4px; padding: 2px 6px; color: {TEXT};
}}
QStatusBar {{ background: {BASE}; color: {TEXT}; }}
QStatusBar QLabel {{ padding: 0 8px; }}
QLabel#metricBig {{ font-size: 15pt; font-weight: bold; }}
QLabel#caption {{ color: {MUTED}; }}
"""


def configure_pyqtgraph() -> None:
    """Global pyqtgraph options: dark plots, row-major images (no transposes), antialiased lines."""
    pg.setConfigOptions(
        background=BACKGROUND,
        foreground=TEXT,
        imageAxisOrder="row-major",
        antialias=True,
    )


def apply(app: QApplication) -> None:
    """Fusion style with a dark palette and the application stylesheet."""
    configure_pyqtgraph()
    app.setStyle("Fusion")
    pal = QPalette()
    roles = {
        QPalette.ColorRole.Window: BACKGROUND,
        QPalette.ColorRole.WindowText: TEXT,
        QPalette.ColorRole.Base: BASE,
        QPalette.ColorRole.AlternateBase: PANEL,
        QPalette.ColorRole.Text: TEXT,
        QPalette.ColorRole.Button: PANEL,
        QPalette.ColorRole.ButtonText: TEXT,
        QPalette.ColorRole.Highlight: ACCENT,
        QPalette.ColorRole.HighlightedText: "#000000",
        QPalette.ColorRole.ToolTipBase: PANEL,
        QPalette.ColorRole.ToolTipText: TEXT,
        QPalette.ColorRole.PlaceholderText: MUTED,
    }
    for role, colour in roles.items():
        pal.setColor(role, QColor(colour))
    pal.setColor(QPalette.ColorGroup.Disabled, QPalette.ColorRole.Text, QColor("#5d6270"))
    pal.setColor(QPalette.ColorGroup.Disabled, QPalette.ColorRole.ButtonText, QColor("#5d6270"))
    app.setPalette(pal)
    app.setStyleSheet(STYLESHEET)


def lookup_table() -> object:
    """The 256-entry colour lookup table of the spectrograms."""
    return pg.colormap.get(COLORMAP).getLookupTable(nPts=256)

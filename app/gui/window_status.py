"""The main window's status bar: the message on the left (red for errors, which also open a non-modal
message box) and the stream's method, RTF, latency, under-runs and GUI frame interval on the right."""

from __future__ import annotations

from phasefold.gui import theme
from PyQt6.QtCore import Qt
from PyQt6.QtWidgets import QLabel, QMessageBox, QSizePolicy, QStatusBar


class StatusBar:
    """Main-window mixin (on a QMainWindow): builds the status bar and shows messages and errors there;
    ``show_error`` records the text in ``last_error`` and keeps its box in ``_message_box`` (both set up by
    the window)."""

    def _build_status_bar(self) -> None:
        bar = QStatusBar()
        self.setStatusBar(bar)
        self.status_label = QLabel()  # a long message wraps onto a second line: never cut off
        self.status_label.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.status_label.setWordWrap(True)
        self.method_label = QLabel("method –")
        self.rtf_label = QLabel("RTF –")
        self.latency_label = QLabel("latency –")
        self.xrun_label = QLabel("xruns 0")
        self.frame_label = QLabel("GUI – ms")
        self.frame_label.setToolTip("median interval between GUI frames (target: the 33 ms timer)")
        bar.addWidget(self.status_label, 1)
        for label in (
            self.method_label,
            self.rtf_label,
            self.latency_label,
            self.xrun_label,
            self.frame_label,
        ):
            label.setSizePolicy(QSizePolicy.Policy.Fixed, QSizePolicy.Policy.Preferred)  # never squeezed
            bar.addPermanentWidget(label)

    def show_status(self, text: str, error: bool = False) -> None:
        self.status_label.setText(text)
        self.status_label.setStyleSheet(f"color: {theme.ERROR if error else theme.TEXT};")

    def show_error(self, text: str) -> None:
        """Status bar in red plus a non-modal message box (the stream and the window keep going)."""
        self.last_error = text
        self.show_status(f"error: {text}", error=True)
        if self._message_box is None:
            self._message_box = QMessageBox(QMessageBox.Icon.Warning, "phasefold", "", parent=self)
            self._message_box.setModal(False)
            self._message_box.setWindowModality(Qt.WindowModality.NonModal)
        self._message_box.setText(text)
        self._message_box.show()

    @property
    def message_box(self) -> QMessageBox | None:
        return self._message_box

"""The main window's File menu and tool bar, and the file dialogs they open (each dialog hands its path
to the window's public action: ``open_file``, ``add_model_file``, ``save_*``)."""

from __future__ import annotations

from pathlib import Path

from PyQt6.QtCore import Qt
from PyQt6.QtGui import QAction, QKeySequence
from PyQt6.QtWidgets import QFileDialog, QToolBar

AUDIO_FILTER = "Audio, magnitudes or mel (*.wav *.flac *.ogg *.mp3 *.npz *.npy);;All files (*)"


class MenuBar:
    """Main-window mixin (on a QMainWindow): the actions of the File menu and tool bar, and their dialogs."""

    def _build_actions(self) -> None:
        bar = QToolBar("main")
        bar.setMovable(False)
        bar.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextOnly)
        self.addToolBar(bar)
        menu = self.menuBar().addMenu("&File")

        def action(text: str, slot, shortcut: str | None = None) -> QAction:
            act = QAction(text, self)
            if shortcut:
                act.setShortcut(QKeySequence(shortcut))
            act.triggered.connect(slot)
            menu.addAction(act)
            bar.addAction(act)
            return act

        self.open_action = action("Open audio…", self._open_dialog, "Ctrl+O")
        self.open_model_action = action("Open model…", self._open_model_dialog, "Ctrl+M")
        self.save_wav_action = action("Save reconstruction (WAV)…", self._save_wav_dialog, "Ctrl+S")
        self.save_png_action = action("Save screenshot (PNG)…", self._save_png_dialog, "Ctrl+P")
        self.save_csv_action = action("Save STOI trace (CSV)…", self._save_csv_dialog)
        menu.addSeparator()
        quit_action = QAction("Quit", self)
        quit_action.setShortcut(QKeySequence("Ctrl+Q"))
        quit_action.triggered.connect(self.close)
        menu.addAction(quit_action)

    def _open_dialog(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Open audio", "", AUDIO_FILTER)
        if path:
            self.open_file(path)

    def _open_model_dialog(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Open an exported model", "", "ONNX model (*.onnx)")
        if path:
            self.add_model_file(path)

    def _save_dialog(self, title: str, suffix: str, filt: str) -> Path | None:
        path, _ = QFileDialog.getSaveFileName(self, title, f"phasefold{suffix}", filt)
        return Path(path) if path else None

    def _save_wav_dialog(self) -> None:
        if (path := self._save_dialog("Save reconstruction", ".wav", "WAV (*.wav)")) is not None:
            self.save_reconstruction(path)

    def _save_png_dialog(self) -> None:
        if (path := self._save_dialog("Save screenshot", ".png", "PNG (*.png)")) is not None:
            self.save_screenshot(path)

    def _save_csv_dialog(self) -> None:
        if (path := self._save_dialog("Save STOI trace", ".csv", "CSV (*.csv)")) is not None:
            self.save_stoi_csv(path)

"""The control panel: source, method, look-ahead / block, transport, output device and volume."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from phasefold.engine.mel import PRESETS
from phasefold.engine.registry import DEFAULT_BLOCK, DEFAULT_LOOKAHEAD
from phasefold.engine.wording import counted
from phasefold.gui.sources import SOURCE_DEMO, SOURCE_FILE, SOURCE_MIC
from PyQt6.QtCore import Qt, pyqtSignal
from PyQt6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QSlider,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)


@dataclass(frozen=True)
class Settings:
    """What the user chose in the panel, read when a stream starts (and live for method/A-B/volume)."""

    source: str  # SOURCE_DEMO | SOURCE_FILE | SOURCE_MIC
    path: Path | None
    snr_db: float | None  # None: exact magnitudes
    method: str
    lookahead: int
    block: int
    device: object  # an output-device key from the device list
    volume: float  # 0..1
    original: bool  # A/B: True plays the original instead of the reconstruction
    mel: str | None = None  # a mel preset (engine.mel.PRESETS): the source is read as that mel, offline


def frames_box(low: int, high: int, value: int) -> QSpinBox:
    """A spin box of a number of frames whose unit follows the count ("1 frame", "3 frames")."""
    box = QSpinBox()
    box.setRange(low, high)

    def unit(n: int) -> None:
        box.setSuffix(counted(n, "frame").removeprefix(str(n)))

    box.valueChanged.connect(unit)
    box.setValue(value)
    unit(value)
    return box


class ControlPanel(QWidget):
    """Widgets only; the main window reads ``settings()`` and listens to the signals."""

    play_clicked = pyqtSignal()
    pause_toggled = pyqtSignal(bool)
    stop_clicked = pyqtSignal()
    open_clicked = pyqtSignal()
    method_changed = pyqtSignal(str)
    live_changed = pyqtSignal()  # volume or A/B

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self._path: Path | None = None

        self.source = QComboBox()
        self.source.addItem("Built-in demo", SOURCE_DEMO)
        self.source.addItem("Audio file", SOURCE_FILE)
        self.source.addItem("Microphone", SOURCE_MIC)
        self.open_button = QPushButton("Open…")
        self.open_button.setToolTip("Choose an audio file (or drop one on the window)")
        self.file_label = QLabel("no file")
        self.file_label.setObjectName("caption")
        self.file_label.setWordWrap(True)
        self.modify = QCheckBox("Modify the spectrogram")
        self.modify.setToolTip("White noise at the input SNR, then the oracle Wiener mask")
        self.snr = QDoubleSpinBox()
        self.snr.setRange(-10.0, 40.0)
        self.snr.setValue(5.0)
        self.snr.setSuffix(" dB")
        self.snr.setEnabled(False)
        src_box = QGroupBox("Source")
        src = QFormLayout(src_box)
        row = QHBoxLayout()
        row.addWidget(self.source, 1)
        row.addWidget(self.open_button)
        src.addRow(row)
        src.addRow(self.file_label)
        src.addRow(self.modify)
        src.addRow("input SNR", self.snr)
        self.mel = QComboBox()
        self.mel.addItem("off: linear magnitudes", None)
        for name in PRESETS:
            self.mel.addItem(name, name)
        self.mel.setToolTip(
            "Read the source as this preset's mel spectrogram (a .npy mel array, or audio whose mel is "
            "computed first) and reconstruct it offline with a method that takes a mel"
        )
        src.addRow("mel input", self.mel)

        self.method = QComboBox()
        self.method.setMinimumContentsLength(16)
        self.lookahead = frames_box(0, 8, DEFAULT_LOOKAHEAD)
        self.block = frames_box(1, 8, DEFAULT_BLOCK)
        method_box = QGroupBox("Method")
        meth = QFormLayout(method_box)
        meth.addRow(self.method)
        meth.addRow("look-ahead L", self.lookahead)
        meth.addRow("block B", self.block)

        self.play_button = QPushButton("▶  Play")
        self.pause_button = QPushButton("❚❚  Pause")
        self.pause_button.setCheckable(True)
        self.stop_button = QPushButton("■  Stop")
        self.ab_button = QPushButton("A/B: hearing the reconstruction")
        self.ab_button.setCheckable(True)
        self.ab_button.setToolTip("Switch to the original signal, time-aligned, and back")
        transport_box = QGroupBox("Transport")
        tr = QVBoxLayout(transport_box)
        buttons = QHBoxLayout()
        for b in (self.play_button, self.pause_button, self.stop_button):
            buttons.addWidget(b)
        tr.addLayout(buttons)
        tr.addWidget(self.ab_button)

        self.device = QComboBox()
        self.volume = QSlider(Qt.Orientation.Horizontal)
        self.volume.setRange(0, 100)
        self.volume.setValue(80)
        self.volume_label = QLabel("80 %")
        out_box = QGroupBox("Output")
        out = QFormLayout(out_box)
        out.addRow(self.device)
        vol = QHBoxLayout()
        vol.addWidget(self.volume, 1)
        vol.addWidget(self.volume_label)
        out.addRow("volume", vol)

        self.session_source = QLabel("–")
        self.session_progress = QLabel("–")
        self.session_latency = QLabel("–")
        self.session_scores = QLabel("–")
        self.compile_bar = QProgressBar()  # shown while a method family's kernels compile (first use)
        self.compile_bar.setTextVisible(False)
        self.compile_bar.setMaximumHeight(8)
        self.compile_bar.hide()
        session_box = QGroupBox("Session")
        sess = QFormLayout(session_box)
        for label, widget in (
            ("source", self.session_source),
            ("progress", self.session_progress),
            ("latency", self.session_latency),
            ("mean scores", self.session_scores),
        ):
            widget.setWordWrap(True)
            sess.addRow(label, widget)
            if widget is self.session_progress:
                sess.addRow(self.compile_bar)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        for box in (src_box, method_box, transport_box, out_box, session_box):
            layout.addWidget(box)
        layout.addStretch(1)
        self.setFixedWidth(290)

        self.play_button.clicked.connect(self.play_clicked)
        self.pause_button.toggled.connect(self.pause_toggled)
        self.stop_button.clicked.connect(self.stop_clicked)
        self.open_button.clicked.connect(self.open_clicked)
        self.method.currentTextChanged.connect(self.method_changed)
        self.modify.toggled.connect(self.snr.setEnabled)
        self.volume.valueChanged.connect(self._volume_changed)
        self.ab_button.toggled.connect(self._ab_toggled)
        self.set_streaming(False)

    def set_methods(self, names: list[str], current: str | None = None) -> None:
        """Fill the method list (keeps the selection when possible)."""
        keep = current or self.method.currentText()
        self.method.blockSignals(True)
        self.method.clear()
        self.method.addItems(names)
        if keep in names:
            self.method.setCurrentText(keep)
        self.method.blockSignals(False)

    def set_devices(self, devices: list[tuple[str, object]], current: object = None) -> None:
        """Fill the output list with (label, key) pairs."""
        self.device.clear()
        for label, key in devices:
            self.device.addItem(label, key)
        if current is not None:
            idx = self.device.findData(current)
            if idx >= 0:
                self.device.setCurrentIndex(idx)

    def set_file(self, path: Path | None) -> None:
        """Remember the chosen audio file and select the file source."""
        self._path = path
        self.file_label.setText(path.name if path else "no file")
        self.file_label.setToolTip(str(path) if path else "")
        if path is not None:
            self.source.setCurrentIndex(self.source.findData(SOURCE_FILE))

    def set_streaming(self, streaming: bool) -> None:
        """Lock what cannot change during a stream (source, L, B, device); method, volume, A/B stay live."""
        locked = (self.source, self.open_button, self.modify, self.mel, self.lookahead, self.block)
        for w in (*locked, self.device):
            w.setEnabled(not streaming)
        self.snr.setEnabled(not streaming and self.modify.isChecked())
        self.play_button.setEnabled(not streaming)
        self.pause_button.setEnabled(streaming)
        self.stop_button.setEnabled(streaming)
        if not streaming:
            self.pause_button.setChecked(False)

    def settings(self) -> Settings:
        return Settings(
            source=self.source.currentData(),
            path=self._path,
            snr_db=self.snr.value() if self.modify.isChecked() else None,
            method=self.method.currentText(),
            lookahead=self.lookahead.value(),
            block=self.block.value(),
            device=self.device.currentData(),
            volume=self.volume.value() / 100.0,
            original=self.ab_button.isChecked(),
            mel=self.mel.currentData(),
        )

    def _volume_changed(self, value: int) -> None:
        self.volume_label.setText(f"{value} %")
        self.live_changed.emit()

    def _ab_toggled(self, on: bool) -> None:
        self.ab_button.setText("A/B: hearing the ORIGINAL" if on else "A/B: hearing the reconstruction")
        self.live_changed.emit()

"""The phasefold main window: controls on the left, live views in the middle and on the right.

This module holds the window's layout, its wiring and its frame timer; the window's other jobs are
mixins, one module each: window_streaming (streams and the worker's events), window_mel (a mel input,
reconstructed offline and played), window_files (files in and out), window_menus (the File menu, tool bar and
dialogs), window_status (the status bar and messages) and window_divergence (the divergence panel's
content).
"""

from __future__ import annotations

import statistics
import threading
import time
from collections import deque
from collections.abc import Callable

from phasefold.engine.registry import default_stream_method
from phasefold.engine.stft import StftConfig
from phasefold.gui import theme
from phasefold.gui.controls import ControlPanel
from phasefold.gui.sources import warm_up
from phasefold.gui.views.divergence import DivergenceView
from phasefold.gui.views.spectrogram import SpectrogramView
from phasefold.gui.views.stoi import StoiView
from phasefold.gui.window_divergence import MethodDivergence
from phasefold.gui.window_files import FileActions
from phasefold.gui.window_mel import MelInput
from phasefold.gui.window_menus import MenuBar
from phasefold.gui.window_status import StatusBar
from phasefold.gui.window_streaming import FRAME_MS, StreamControl
from phasefold.gui.worker import StreamWorker
from PyQt6.QtCore import Qt, QTimer
from PyQt6.QtGui import QKeySequence, QShortcut
from PyQt6.QtWidgets import QMainWindow, QMessageBox, QSplitter

RESIZE_SETTLE_MS = 150  # while the window is being resized the plots repaint once it settles
SPECTRUM_LEVELS = (-90.0, 10.0)  # dB of |X| with the tight-frame STFT (fixed: no auto-levels)


class MainWindow(StreamControl, MelInput, FileActions, MenuBar, StatusBar, MethodDivergence, QMainWindow):
    """Streams a source through a method and shows it live; every action is also a public method."""

    def __init__(self, output: str | None = None, score_window_s: float = 3.0) -> None:
        super().__init__()
        self.setWindowTitle("phasefold: real-time phase retrieval")
        self.resize(1480, 900)
        self.setAcceptDrops(True)
        self.cfg = StftConfig()
        self.score_window_s = score_window_s
        self.worker: StreamWorker | None = None
        self.active_method: str | None = None  # the method list entry the running stream was opened with
        self.backend = "auto"  # engine.backends: which implementation runs the streams
        self.last_error: str | None = None
        self.last_worker: StreamWorker | None = None  # kept after a stream ends: its output can be saved
        self._intervals: deque[float] = deque(maxlen=1800)  # the last minute
        self._last_tick: float | None = None
        self._message_box: QMessageBox | None = None
        self._total_s: float | None = None
        self.streamed_seconds = 0.0  # signal reconstructed by the current or last stream (its own count)
        self._after_stream: tuple[float, Callable[[], None]] | None = None  # after_streaming's
        self._open_loop = None  # the event loop that waits while a stream opens (window_streaming)

        self.controls = ControlPanel()
        grid = (self.cfg.sample_rate, self.cfg.hop, self.cfg.n_bins)
        self.spec_in = SpectrogramView("input magnitudes |X|", *grid, levels=SPECTRUM_LEVELS)
        self.spec_out = SpectrogramView("reconstruction |A y|", *grid, levels=SPECTRUM_LEVELS)
        self.spec_out.setXLink(self.spec_in)
        self.divergence = DivergenceView()
        self.stoi_view = StoiView(score_window_s)

        middle = QSplitter(Qt.Orientation.Vertical)
        middle.addWidget(self.spec_in)
        middle.addWidget(self.spec_out)
        right = QSplitter(Qt.Orientation.Vertical)
        right.addWidget(self.divergence)
        right.addWidget(self.stoi_view)
        main = QSplitter(Qt.Orientation.Horizontal)
        main.addWidget(self.controls)
        main.addWidget(middle)
        main.addWidget(right)
        main.setStretchFactor(1, 3)
        main.setStretchFactor(2, 2)
        main.setSizes([290, 700, 480])
        main.setHandleWidth(6)
        self.setCentralWidget(main)
        # repainting every plot on each step of a live resize costs ~150 ms of GIL-holding Python
        # (pyqtgraph axes): while streaming, the plots wait until the size settles, audio keeps flowing
        self._plots = (middle, right)
        self._resize_settle = QTimer(self)
        self._resize_settle.setSingleShot(True)
        self._resize_settle.setInterval(RESIZE_SETTLE_MS)
        self._resize_settle.timeout.connect(self._resize_settled)

        self._build_actions()
        self._build_status_bar()

        from phasefold.engine.streaming import method_names

        names = method_names(self.cfg)  # the models made for the GUI's STFT (no -hop512 exports)
        self.controls.set_methods(names, default_stream_method(names))
        self._fill_devices(output)
        self.controls.play_clicked.connect(self.start_stream)
        self.controls.play_button.setToolTip("Start streaming (Space)")
        self.controls.pause_button.setToolTip("Hold / resume the stream (Space)")
        self.controls.stop_clicked.connect(self.stop_stream)
        self.controls.pause_toggled.connect(self.pause_stream)
        self.controls.open_clicked.connect(self._open_dialog)
        self.controls.method_changed.connect(self.set_method)
        self.controls.mel.currentIndexChanged.connect(self.mel_preset_changed)
        self.controls.live_changed.connect(self._live_settings)
        self.controls.source.currentIndexChanged.connect(self._source_changed)
        self.set_method(self.controls.method.currentText())

        play_pause = QShortcut(QKeySequence(Qt.Key.Key_Space), self)
        play_pause.activated.connect(self._play_pause)

        threading.Thread(
            target=warm_up, args=(self.cfg.sample_rate,), name="phasefold-warm-up", daemon=True
        ).start()
        self.timer = QTimer(self)
        self.timer.setTimerType(Qt.TimerType.PreciseTimer)
        self.timer.timeout.connect(self._tick)
        self.timer.start(FRAME_MS)
        self.show_status("ready: press Play to stream the built-in demo, or open / drop an audio file")

    # -- the frame timer ---------------------------------------------------------------------------
    def frame_intervals(self) -> list[float]:
        """Intervals between GUI frames (ms) of the current or last stream, the last minute at most."""
        return list(self._intervals)

    def frame_interval_ms(self) -> float:
        """Median interval between GUI frames while streaming (nan before any)."""
        return statistics.median(self._intervals) if self._intervals else float("nan")

    def _tick(self) -> None:
        now = time.perf_counter()
        if self.worker is not None and self._last_tick is not None:
            self._intervals.append(1000.0 * (now - self._last_tick))
        self._last_tick = now
        self._drain()
        self._poll_mel()
        self.spec_in.refresh()
        self.spec_out.refresh()
        self.stoi_view.refresh()
        if self._intervals:
            median = self.frame_interval_ms()
            self.frame_label.setText(f"GUI {median:.0f} ms ({1000.0 / median:.0f} fps)")

    # -- resizing and closing ------------------------------------------------------------------------
    def resizeEvent(self, event) -> None:  # noqa: N802 (Qt override)
        if self.streaming:
            for w in self._plots:
                w.setUpdatesEnabled(False)
            self._resize_settle.start()
        super().resizeEvent(event)

    def _resize_settled(self) -> None:
        for w in self._plots:
            w.setUpdatesEnabled(True)

    @property
    def plots_deferred(self) -> bool:
        """True while a live resize holds the plots' repaints back."""
        return not self._plots[0].updatesEnabled()

    def closeEvent(self, event) -> None:  # noqa: N802 (Qt override)
        if self._open_loop is not None:  # a stream being opened is dropped
            self._open_loop.quit()
        for player in (self.worker, self.mel_playback):
            if player is not None:
                player.stop()
                player.join(5.0)
        self.timer.stop()
        super().closeEvent(event)


def make_app(argv: list[str] | None = None):
    """The QApplication with the phasefold theme (reused when one exists)."""
    from PyQt6.QtWidgets import QApplication

    app = QApplication.instance() or QApplication(argv or ["phasefold"])
    app.setApplicationName("phasefold")
    theme.apply(app)
    return app

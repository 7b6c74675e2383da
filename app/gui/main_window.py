"""The phasefold main window: controls on the left, live views in the middle and on the right."""

from __future__ import annotations

import statistics
import threading
import time
from collections import deque
from pathlib import Path

import numpy as np
from phasefold.engine.errors import InputError, PhasefoldError
from phasefold.engine.stft import StftConfig
from phasefold.gui import theme
from phasefold.gui.controls import ControlPanel
from phasefold.gui.model_files import check_model_file
from phasefold.gui.views.divergence import DivergenceView
from phasefold.gui.views.spectrogram import SpectrogramView
from phasefold.gui.views.stoi import StoiView
from phasefold.gui.worker import (
    SOURCE_FILE,
    SOURCE_MIC,
    FinishedEvent,
    FramesEvent,
    MessageEvent,
    ScoreEvent,
    StatsEvent,
    StreamWorker,
    check_file,
    prepare_source,
    warm_up,
)
from PyQt6.QtCore import Qt, QTimer
from PyQt6.QtGui import QAction, QDragEnterEvent, QDropEvent, QKeySequence, QShortcut
from PyQt6.QtWidgets import (
    QFileDialog,
    QLabel,
    QMainWindow,
    QMessageBox,
    QSizePolicy,
    QSplitter,
    QStatusBar,
    QToolBar,
)

FRAME_MS = 33  # GUI refresh period (~30 fps), independent of the frame rate of the stream
RESIZE_SETTLE_MS = 150  # while the window is being resized the plots repaint once it settles
NULL_SINK = "null"
AUDIO_FILTER = "Audio or magnitudes (*.wav *.flac *.ogg *.mp3 *.npz);;All files (*)"
SPECTRUM_LEVELS = (-90.0, 10.0)  # dB of |X| with the tight-frame STFT (fixed: no auto-levels)


def default_method(names: list[str]) -> str:
    """The method selected at start: the untied model when shipped (the best live scores on the demo at
    L = 3 since its anchoring, docs/results.md), else the tied one, else the first model, else the first
    method."""
    for name in ("unfolded-untied", "unfolded-tied"):
        if name in names:
            return name
    return next((n for n in names if n.startswith("unfolded")), names[0])


class MainWindow(QMainWindow):
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
        self.controls.set_methods(names, default_method(names))
        self._fill_devices(output)
        self.controls.play_clicked.connect(self.start_stream)
        self.controls.play_button.setToolTip("Start streaming (Space)")
        self.controls.pause_button.setToolTip("Hold / resume the stream (Space)")
        self.controls.stop_clicked.connect(self.stop_stream)
        self.controls.pause_toggled.connect(self.pause_stream)
        self.controls.open_clicked.connect(self._open_dialog)
        self.controls.method_changed.connect(self.set_method)
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

    # -- building ---------------------------------------------------------------------------------
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

    def _build_status_bar(self) -> None:
        bar = QStatusBar()
        self.setStatusBar(bar)
        self.status_label = QLabel()
        self.status_label.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
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
            bar.addPermanentWidget(label)

    def _fill_devices(self, output: str | None) -> None:
        from phasefold.engine.streaming.sinks import output_devices

        devices = [("Null sink (no audio)", NULL_SINK)]
        found = output_devices()
        if found:
            devices.insert(0, ("Default output device", "default"))
            devices += [(f"{d['name']} (#{d['index']})", str(d["index"])) for d in found]
        self.controls.set_devices(devices, output if output is not None else devices[0][1])
        if not found:
            self.controls.device.setToolTip("no audio output device found: the stream goes to the null sink")

    # -- public actions ---------------------------------------------------------------------------
    @property
    def streaming(self) -> bool:
        return self.worker is not None

    def open_file(self, path: str | Path, play: bool = False) -> bool:
        """Check that ``path`` is readable audio or a .npz magnitude file for the window's STFT and select
        it as the source; errors show in the window."""
        path = Path(path)
        try:
            notes = check_file(path, self.cfg)
        except PhasefoldError as exc:
            self.show_error(str(exc))
            return False
        self.controls.set_file(path)
        self.show_status(f"selected {path.name}" + (f" ({'; '.join(notes)})" if notes else ""))
        if play:
            if self.streaming:
                self.stop_stream(wait=True)
            self.start_stream()
        return True

    def start_stream(self, sink=None) -> bool:
        """Start streaming with the panel's settings (to ``sink``, an engine sink, instead of the chosen
        output when given); False (and a message) when that is impossible."""
        if self.streaming:
            return False
        from phasefold.engine.streaming import Stream
        from phasefold.engine.streaming.sinks import open_sink

        s = self.controls.settings()
        self.last_error = None
        try:
            source = prepare_source(s.source, self.cfg, s.path, s.snr_db)
            stream = Stream.open(
                s.method, self.cfg, lookahead=s.lookahead, block=s.block, backend=self.backend
            )
            sink, notes = (sink, []) if sink is not None else open_sink(str(s.device), self.cfg.sample_rate)
        except PhasefoldError as exc:
            self.show_error(str(exc))
            return False
        self.worker = StreamWorker(
            source,
            stream,
            sink,
            volume=s.volume,
            original=s.original,
            score_window_s=self.score_window_s,
        )
        self.last_worker = self.worker
        self.active_method = s.method  # the method list's entry the stream runs (a name or a model file)
        for view in (self.spec_in, self.spec_out):
            view.reset()
        has_ref = s.source == SOURCE_MIC or source.reference is not None
        caption = "vs the clean signal" if s.snr_db is None else "vs the clean signal (before noise)"
        no_ref = f"{source.name} holds no reference audio: live STOI cannot score"
        self.stoi_view.reset(caption if has_ref else no_ref, f"{stream.name}, L = {s.lookahead}")
        self._intervals.clear()
        self._last_tick = None  # frame intervals count from the first frame of this stream
        self.latency_label.setText(f"latency {stream.latency_ms:.1f} ms")
        self.method_label.setText(f"method {stream.name}")
        c = self.controls
        total = f"{source.length / self.cfg.sample_rate:.1f} s" if source.length else "live"
        c.session_source.setText(f"{source.name} ({total})")
        c.session_latency.setText(f"{stream.latency_ms:.1f} ms = {stream.latency_samples} samples")
        c.session_progress.setText("starting…")
        c.session_scores.setText("–")
        self._total_s = source.length / self.cfg.sample_rate if source.length else None
        self.controls.set_streaming(True)
        self.controls.pause_button.setEnabled(s.source != SOURCE_MIC)
        self.worker.start()
        extra = "; ".join([*source.notes, *notes])
        extra = f" ({extra})" if extra else ""
        self.show_status(f"streaming {source.name} with {stream.describe()}{extra}")
        return True

    def stop_stream(self, wait: bool = False) -> None:
        """Ask the stream to end; its output stays available for saving."""
        if self.worker is None:
            return
        self.worker.stop()
        if wait:
            self.worker.join(5.0)
            self._drain()

    def _play_pause(self) -> None:
        """Space: start a stream, or hold / resume the running one."""
        if self.worker is None:
            self.start_stream()
        elif self.controls.pause_button.isEnabled():
            self.controls.pause_button.toggle()

    def pause_stream(self, paused: bool) -> None:
        if self.worker is not None:
            self.worker.pause(paused)
            self.show_status("paused" if paused else "streaming")

    def set_method(self, name: str) -> None:
        """Select a method: its divergence is drawn, and a running stream switches to it at the next block."""
        if not name:
            return
        self._show_divergence(name)
        from phasefold.engine.streaming.steps import trained_settings

        trained = trained_settings(name)
        if trained is not None and self.worker is None:  # a stream-trained model runs at its own L and B
            self.controls.lookahead.setValue(trained[0])
            self.controls.block.setValue(trained[1])
            self.show_status(
                f"{Path(name).name} was trained inside the stream: look-ahead set to {trained[0]}, "
                f"block to {trained[1]} (its card's)"
            )
        if self.worker is None or name == self.active_method:
            return
        from phasefold.engine.streaming import Stream

        s = self.controls.settings()
        if trained is not None and trained != (s.lookahead, s.block):
            self.show_error(
                f"{name} was trained at look-ahead {trained[0]}, block {trained[1]}: stop the stream to "
                f"switch to it (this one runs at look-ahead {s.lookahead}, block {s.block})"
            )
            return
        try:
            stream = Stream.open(name, self.cfg, lookahead=s.lookahead, block=s.block, backend=self.backend)
            self.worker.switch(stream)
            self.active_method = name
        except PhasefoldError as exc:
            self.show_error(f"cannot switch to {name}: {exc}")
            self.stop_stream()
            return
        self.show_status(f"switching to {name}…")

    def save_reconstruction(self, path: str | Path) -> bool:
        """Write the reconstruction so far (time-aligned with the input) to a WAV file."""
        from phasefold.engine.audio_io import write_wav

        if self.last_worker is None or self.last_worker.reconstruction().size == 0:
            self.show_error("nothing to save yet: stream something first")
            return False
        try:
            notes = write_wav(path, self.last_worker.reconstruction(), self.cfg.sample_rate)
        except PhasefoldError as exc:
            self.show_error(str(exc))
            return False
        self.show_status(f"saved {Path(path).name}" + (f" ({'; '.join(notes)})" if notes else ""))
        return True

    def save_screenshot(self, path: str | Path) -> bool:
        """Save the whole window as a PNG image (checked first, written beside it and renamed when done)."""
        from phasefold.engine.outputs import atomic_output, check_output_path

        try:
            with atomic_output(check_output_path(path, "screenshot")) as tmp:
                if not self.grab().save(str(tmp), "PNG"):
                    raise InputError(f"{path}: cannot write the PNG file")
        except PhasefoldError as exc:
            self.show_error(str(exc))
            return False
        self.show_status(f"saved {Path(path).name}")
        return True

    def save_stoi_csv(self, path: str | Path) -> bool:
        """Write the live STOI / ESTOI trace as CSV (checked first, written atomically)."""
        from phasefold.engine.outputs import check_output_path, write_text

        try:
            write_text(check_output_path(path, "STOI trace"), self.stoi_view.to_csv())
        except PhasefoldError as exc:
            self.show_error(str(exc))
            return False
        self.show_status(f"saved {Path(path).name} ({len(self.stoi_view.times)} points)")
        return True

    def frame_intervals(self) -> list[float]:
        """Intervals between GUI frames (ms) of the current or last stream, the last minute at most."""
        return list(self._intervals)

    def frame_interval_ms(self) -> float:
        """Median interval between GUI frames while streaming (nan before any)."""
        return statistics.median(self._intervals) if self._intervals else float("nan")

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

    # -- the frame timer ----------------------------------------------------------------------------
    def _tick(self) -> None:
        now = time.perf_counter()
        if self.worker is not None and self._last_tick is not None:
            self._intervals.append(1000.0 * (now - self._last_tick))
        self._last_tick = now
        self._drain()
        self.spec_in.refresh()
        self.spec_out.refresh()
        self.stoi_view.refresh()
        if self._intervals:
            median = self.frame_interval_ms()
            self.frame_label.setText(f"GUI {median:.0f} ms ({1000.0 / median:.0f} fps)")

    def _drain(self, limit: int = 2000) -> None:
        """Apply the worker's events (bounded per frame so a backlog never freezes the window)."""
        worker = self.worker
        if worker is None:
            return
        for _ in range(limit):
            if worker.events.empty():
                break
            ev = worker.events.get()
            if isinstance(ev, FramesEvent):
                (self.spec_in if ev.which == "input" else self.spec_out).push(ev.first, ev.db)
            elif isinstance(ev, ScoreEvent):
                self.stoi_view.add(ev.t, ev.stoi, ev.estoi)
                s, e = self.stoi_view.mean()
                self.controls.session_scores.setText(f"STOI {s:.3f}, ESTOI {e:.3f}")
            elif isinstance(ev, StatsEvent):
                self.method_label.setText(f"method {ev.method}")
                self.rtf_label.setText(f"RTF {ev.rtf:.2f}")
                self.latency_label.setText(f"latency {ev.latency_ms:.1f} ms")
                self.xrun_label.setText(f"xruns {ev.xruns}")
                self.xrun_label.setStyleSheet(f"color: {theme.WARN if ev.xruns else theme.TEXT};")
                total = f" / {self._total_s:.1f} s" if self._total_s else " s"
                self.controls.session_progress.setText(f"{ev.seconds:.1f}{total}")
            elif isinstance(ev, MessageEvent):
                if ev.error:
                    self.show_error(ev.text)
                else:
                    self.show_status(ev.text)
            elif isinstance(ev, FinishedEvent):
                self._finished(ev)
                return

    def _finished(self, ev: FinishedEvent) -> None:
        self.worker = None
        self.controls.set_streaming(False)
        self._last_tick = None
        s, e = self.stoi_view.mean()
        scores = f"; mean STOI {s:.3f}, ESTOI {e:.3f}" if np.isfinite(s) else ""
        if self.last_error is None or ev.completed:
            self.show_status(f"{ev.text}{scores}")

    # -- dialogs, drag and drop, live settings ----------------------------------------------------------
    def _open_dialog(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Open audio", "", AUDIO_FILTER)
        if path:
            self.open_file(path)

    def _open_model_dialog(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Open an exported model", "", "ONNX model (*.onnx)")
        if path:
            self.add_model_file(path)

    def add_model_file(self, path: str | Path) -> bool:
        """Offer an exported model (NAME.onnx with its card) in the method list and select it; an error
        in the window if the file, its card or its STFT does not fit."""
        try:
            check_model_file(path)
        except PhasefoldError as exc:
            self.show_error(f"cannot use {path}: {exc}")
            return False
        name = str(Path(path).resolve())
        c = self.controls
        names = [c.method.itemText(i) for i in range(c.method.count())]
        c.set_methods(names if name in names else [*names, name], current=name)
        self.set_method(name)
        return True

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

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:  # noqa: N802 (Qt override)
        urls = event.mimeData().urls() if event.mimeData().hasUrls() else []
        if urls and urls[0].isLocalFile():
            event.acceptProposedAction()

    def dropEvent(self, event: QDropEvent) -> None:  # noqa: N802 (Qt override)
        urls = event.mimeData().urls()
        if urls and urls[0].isLocalFile():
            event.acceptProposedAction()
            self.open_file(urls[0].toLocalFile(), play=True)

    def _live_settings(self) -> None:
        s = self.controls.settings()
        if self.worker is not None:
            self.worker.set_volume(s.volume)
            self.worker.set_original(s.original)

    def _source_changed(self) -> None:
        if self.controls.source.currentData() == SOURCE_FILE and self.controls.settings().path is None:
            self._open_dialog()

    def _show_divergence(self, name: str) -> None:
        from phasefold.engine import divergence_curves as dc

        refs_u = np.linspace(0.0, 3.0, 400)
        refs = [("quadratic (y - 1)²/2", dc.quadratic(refs_u, 1.0)), ("KL(y | 1)", dc.kl(refs_u, 1.0))]
        from phasefold.engine.streaming.steps import model_file

        model = model_file(name)
        if model is None or not model.is_file():
            note = {
                "admm-l2": "ADMM minimises the quadratic loss (dashed)",
                "admm-kl": "ADMM minimises the KL divergence (dotted)",
                "gla": "Griffin-Lim: the quadratic loss (dashed)",
                "fgla": "fast Griffin-Lim: the quadratic loss (dashed)",
                "rtisi-la": "Griffin-Lim projections: the quadratic loss (dashed)",
            }.get(name, "no divergence: the reference losses only")
            self.divergence.show_curves(f"{name}: classical method", refs_u, [], refs, note=note)
            return
        from phasefold.engine.model_card import ModelCard

        try:
            card = ModelCard.read(model)
            curves = dc.card_curves(card, r=1.0, n=400, span=3.0)
        except (PhasefoldError, KeyError, ValueError, TypeError) as exc:
            self.show_error(f"{name}: cannot draw its divergence: {exc}")
            return
        learned = curves["learned"]
        labels = dc.set_labels(card)
        refs = [("quadratic (y - 1)²/2", curves["quadratic"]), ("KL(y | 1)", curves["kl"])]
        sets = f"{len(learned)} parameter sets" if len(learned) > 1 else "one set for all layers"
        form = ", Griffin-Lim layers (rho = g1 / g2)" if card.gla else ""
        self.divergence.show_curves(
            model.stem,
            curves["u"],
            list(zip(labels, learned, strict=True)),
            refs,
            note=f"learned divergence rho f(y) at r = 1, minimum at 0<br>{card.variant}{form}, {sets}",
        )

    def closeEvent(self, event) -> None:  # noqa: N802 (Qt override)
        if self.worker is not None:
            self.worker.stop()
            self.worker.join(5.0)
        self.timer.stop()
        super().closeEvent(event)


def make_app(argv: list[str] | None = None):
    """The QApplication with the phasefold theme (reused when one exists)."""
    from PyQt6.QtWidgets import QApplication

    app = QApplication.instance() or QApplication(argv or ["phasefold"])
    app.setApplicationName("phasefold")
    theme.apply(app)
    return app

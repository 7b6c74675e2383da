"""The main window's streams: the output devices offered, starting, holding, stopping a stream and
switching its method, and applying the worker's events to the views and the status bar."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from phasefold.engine.errors import PhasefoldError
from phasefold.gui import theme
from phasefold.gui.events import FinishedEvent, FramesEvent, MessageEvent, ScoreEvent, StatsEvent
from phasefold.gui.opening import StreamOpener, compiling_text
from phasefold.gui.sources import SOURCE_MIC, prepare_source
from phasefold.gui.worker import StreamWorker

NULL_SINK = "null"
LIVE_VIEW_S = 8.0  # the spectrograms' time axis for the microphone
MAX_VIEW_S = 20.0  # ... for a file longer than this (it scrolls); a shorter one is shown whole
FRAME_MS = 33  # GUI refresh period (~30 fps), independent of the frame rate of the stream


def view_span(n_frames: int | None, cfg) -> float:
    """Seconds on the spectrograms' time axis: a file's or the demo's whole length (all its frames, up to
    MAX_VIEW_S: a longer one scrolls), LIVE_VIEW_S for the microphone."""
    if n_frames is None:
        return LIVE_VIEW_S
    return min(n_frames * cfg.hop / cfg.sample_rate, MAX_VIEW_S)


class StreamControl:
    """Main-window mixin (on a QMainWindow): runs one ``StreamWorker`` at a time (``self.worker``, None
    when idle; ``self.last_worker`` keeps the last one's output) with the control panel's settings."""

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

    @property
    def streaming(self) -> bool:
        """True while a stream runs, or a mel input is reconstructed or played (window_mel)."""
        return self.worker is not None or self.mel_busy

    def after_streaming(self, seconds: float, callback: Callable[[], None]) -> None:
        """Call ``callback`` once, when the next stream has reconstructed ``seconds`` of signal by its own
        count (the worker's StatsEvent), or when it ends before that."""
        self._after_stream = (seconds, callback)

    def _check_after_stream(self, ended: bool) -> None:
        if self._after_stream is not None and (ended or self.streamed_seconds >= self._after_stream[0]):
            callback = self._after_stream[1]
            self._after_stream = None
            callback()

    @property
    def opening(self) -> bool:
        """True while a stream is being opened (its method's kernels load or compile)."""
        return self._open_loop is not None

    def _open_stream(self, method: str, lookahead: int, block: int):
        """``Stream.open`` on a thread while the window stays live (a nested event loop) and shows the
        compile progress of a method family's first use; the stream, or None when the window closed
        meanwhile. Raises what Stream.open raises."""
        from phasefold.engine.registry import lookup
        from PyQt6.QtCore import QEventLoop, QTimer

        family = lookup(method).family
        opener = StreamOpener(method, self.cfg, lookahead, block, self.backend)
        c = self.controls
        loop, poll = QEventLoop(), QTimer()

        def apply_events() -> None:
            while not opener.events.empty():
                progress = opener.events.get()
                if progress is None:
                    loop.quit()
                    return
                text = compiling_text(family, progress)
                c.compile_bar.setRange(0, progress.total)
                c.compile_bar.setValue(progress.done)
                c.compile_bar.show()
                c.session_progress.setText(f"{text}: {progress.kernel}")
                self.show_status(f"first use of {Path(method).name}: {text}; cached for later starts")

        poll.timeout.connect(apply_events)
        c.session_progress.setText(f"preparing {Path(method).name}…")
        c.method.setEnabled(False)
        self._open_loop = loop
        opener.start()
        poll.start(FRAME_MS)
        try:
            loop.exec()
        finally:
            poll.stop()
            self._open_loop = None
            c.method.setEnabled(True)
            c.compile_bar.hide()
        if opener.error is not None:
            raise opener.error
        return opener.stream

    def start_stream(self, sink=None) -> bool:
        """Start streaming with the panel's settings (to ``sink``, an engine sink, instead of the chosen
        output when given); False (and a message) when that is impossible."""
        if self.streaming or self.opening:
            return False
        from phasefold.engine.streaming.sinks import open_sink

        s = self.controls.settings()
        if s.mel is not None:  # a mel input: reconstructed offline, then played (window_mel)
            return self.start_mel(s, sink)
        self.last_error = None
        self.controls.set_streaming(True)  # nothing can start twice while the stream opens
        try:
            source = prepare_source(s.source, self.cfg, s.path, s.snr_db)
            total = f"{source.length / self.cfg.sample_rate:.1f} s" if source.length else "live"
            self.controls.session_source.setText(f"{source.name} ({total})")  # shown while the stream opens
            stream = self._open_stream(s.method, s.lookahead, s.block)
            if stream is None:  # the window closed while the stream opened
                return False
            sink, notes = (sink, []) if sink is not None else open_sink(str(s.device), self.cfg.sample_rate)
        except PhasefoldError as exc:
            self.controls.set_streaming(False)
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
        self.mel_result = None  # Save writes this stream's output from now on
        self.active_method = s.method  # the method list's entry the stream runs (a name or a model file)
        span = view_span(source.n_frames, self.cfg)
        for view in (self.spec_in, self.spec_out):
            view.regrid()  # the window's own STFT (after a mel input's grid)
            view.reset(span)
        has_ref = s.source == SOURCE_MIC or source.reference is not None
        caption = "vs the clean signal" if s.snr_db is None else "vs the clean signal (before noise)"
        no_ref = f"{source.name} holds no reference audio: live STOI cannot score"
        self._total_s = source.length / self.cfg.sample_rate if source.length else None
        label = f"{stream.name}, L = {s.lookahead}"
        self.stoi_view.reset(caption if has_ref else no_ref, label, self._total_s)
        self._intervals.clear()
        self._last_tick = None  # frame intervals count from the first frame of this stream
        self.latency_label.setText(f"latency {stream.latency_ms:.1f} ms")
        self.method_label.setText(f"method {stream.name}")
        c = self.controls
        c.session_latency.setText(f"{stream.latency_ms:.1f} ms = {stream.latency_samples} samples")
        c.session_progress.setText("starting…")
        c.session_scores.setText("–")
        self.streamed_seconds = 0.0
        self.controls.pause_button.setEnabled(s.source != SOURCE_MIC)
        self.worker.start()
        extra = "; ".join([*source.notes, *notes])
        extra = f" ({extra})" if extra else ""
        self.show_status(f"streaming {source.name} with {stream.describe()}{extra}")
        return True

    def stop_stream(self, wait: bool = False) -> None:
        """Ask the stream (or a mel input's playback) to end; its output stays available for saving."""
        if self.worker is None:
            self.stop_mel(wait)
            return
        self.worker.stop()
        if wait:
            self.worker.join(5.0)
            self._drain()

    def _play_pause(self) -> None:
        """Space: start a stream, or hold / resume the running one."""
        if self.opening:
            return
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
        from phasefold.engine.registry import lookup

        own = lookup(name)
        trained = None if own.lookahead is None else own.stream_settings()
        if trained is not None and self.worker is None:  # a stream-trained model runs at its own L and B
            self.controls.lookahead.setValue(trained[0])
            self.controls.block.setValue(trained[1])
            self.show_status(
                f"{Path(name).name} was trained inside the stream: look-ahead set to {trained[0]}, "
                f"block to {trained[1]} (its card's)"
            )
        if self.worker is None or name == self.active_method:
            return
        s = self.controls.settings()
        if trained is not None and trained != (s.lookahead, s.block):
            self.show_error(
                f"{name} was trained at look-ahead {trained[0]}, block {trained[1]}: stop the stream to "
                f"switch to it (this one runs at look-ahead {s.lookahead}, block {s.block})"
            )
            return
        try:
            stream = self._open_stream(name, s.lookahead, s.block)
            if stream is None or self.worker is None:  # the window closed, or the stream ended meanwhile
                return
            self.worker.switch(stream)
            self.active_method = name
        except PhasefoldError as exc:
            self.show_error(f"cannot switch to {name}: {exc}")
            self.stop_stream()
            return
        self.show_status(f"switching to {name}…")

    def _live_settings(self) -> None:
        s = self.controls.settings()
        for player in (self.worker, self.mel_playback):
            if player is not None:
                player.set_volume(s.volume)
                player.set_original(s.original)

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
                self.controls.session_scores.setText(self.stoi_view.mean_text())
            elif isinstance(ev, StatsEvent):
                self.method_label.setText(f"method {ev.method}")
                self.rtf_label.setText(f"RTF {ev.rtf:.2f}")
                self.latency_label.setText(f"latency {ev.latency_ms:.1f} ms")
                self.xrun_label.setText(f"xruns {ev.xruns}")
                self.xrun_label.setStyleSheet(f"color: {theme.WARN if ev.xruns else theme.TEXT};")
                total = f" / {self._total_s:.1f} s" if self._total_s else " s"
                if not self.opening:  # a switch's compile progress has the line meanwhile
                    self.controls.session_progress.setText(f"{ev.seconds:.1f}{total}")
                self.streamed_seconds = ev.seconds
                self._check_after_stream(ended=False)
            elif isinstance(ev, MessageEvent):
                if ev.error:
                    self.show_error(ev.text)
                else:
                    self.show_status(ev.text)
            elif isinstance(ev, FinishedEvent):
                self._finished(ev)
                self._check_after_stream(ended=True)
                return

    def _finished(self, ev: FinishedEvent) -> None:
        self.worker = None
        self.controls.set_streaming(False)
        self._last_tick = None
        scores = f"; {self.stoi_view.mean_text()}" if self.stoi_view.times else ""
        if self.last_error is None or ev.completed:
            self.show_status(f"{ev.text}{scores}")

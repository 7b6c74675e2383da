"""The main window's mel input: with a mel preset chosen (the panel's "Mel input"), Play reconstructs the
source (the demo, an audio file or a .npy mel array) offline from the preset's mel on a thread
(gui.mel_run), shows the mel as the input view, the reconstruction's spectrogram and its STOI trace, and
plays the reconstruction through the window's sink (gui.playback: the output chosen in the panel, opened at
the mel's rate; Stop ends it, or skips it while the reconstruction still runs)."""

from __future__ import annotations

from pathlib import Path

from phasefold.engine.errors import PhasefoldError
from phasefold.engine.streaming.sinks import Sink
from phasefold.gui.controls import Settings
from phasefold.gui.mel_run import MelResult, MelRun, display_stft
from phasefold.gui.playback import Playback
from phasefold.gui.window_streaming import view_span


def mel_method(chosen: str, preset: str | None = None) -> str:
    """The method a mel input runs: the chosen one where it takes a mel (the ``preset``'s, where given),
    else the first that does."""
    from phasefold.engine.mel import PRESETS
    from phasefold.engine.registry import mel_method_names

    names = mel_method_names(None if preset is None else PRESETS[preset])
    return chosen if chosen in names else names[0]


class MelInput:
    """Main-window mixin (on a QMainWindow): one offline mel reconstruction at a time (``mel_run``, None
    when idle; ``mel_result`` keeps the last one), then its playback (``mel_playback``, None when idle)."""

    mel_run: MelRun | None = None
    mel_result: MelResult | None = None
    mel_playback: Playback | None = None
    _mel_sink: Sink | None = None  # the sink start_stream was given for the next playback, if any
    _mel_play = True  # False once Stop was pressed while the reconstruction runs: it is shown, not played

    @property
    def mel_busy(self) -> bool:
        """True while a mel input is being reconstructed or played."""
        return self.mel_run is not None or self.mel_playback is not None

    def mel_preset_changed(self) -> None:
        """The panel's mel input changed: the method list offers the methods that take that preset's mel
        (engine.registry.mel_method_names: the classical ones, then its mel models) or, with the mel off,
        the stream's methods again; the selected one's divergence is drawn (a mel model's learned curves)."""
        from phasefold.engine.mel import PRESETS
        from phasefold.engine.registry import default_stream_method, mel_method_names
        from phasefold.engine.streaming import method_names

        c = self.controls
        preset = c.mel.currentData()
        if preset is None:
            names = method_names(self.cfg)
            c.set_methods(names, default_stream_method(names))
        else:
            c.set_methods(mel_method_names(PRESETS[preset]), mel_method(c.method.currentText(), preset))
        self.set_method(c.method.currentText())

    def start_mel(self, s: Settings, sink: Sink | None = None) -> bool:
        """Reconstruct the panel's source from the preset ``s.mel`` (Play with a mel preset chosen), then
        play it to ``sink`` (an engine sink at the mel's rate) where given, else to the panel's output."""
        if self.mel_busy:
            return False
        self.last_error = None
        method = mel_method(s.method, s.mel)
        self.mel_run = MelRun(s.source, s.path, s.mel, method, self.score_window_s, self.backend)
        self._mel_sink, self._mel_play = sink, True
        c = self.controls
        c.set_streaming(True)
        c.pause_button.setEnabled(False)
        c.session_progress.setText(f"reconstructing from the {s.mel} mel…")
        self.show_status(f"reconstructing from the {s.mel} mel with {method} (offline), then playing it…")
        self.mel_run.start()
        return True

    def stop_mel(self, wait: bool = False) -> None:
        """Stop: end the playback, or skip it where the reconstruction still runs (its result is shown)."""
        if self.mel_playback is not None:
            self.mel_playback.stop()
            if wait:
                self.mel_playback.join(5.0)
                self._poll_mel()
        elif self.mel_run is not None:
            self._mel_play = False
            self.controls.stop_button.setEnabled(False)
            self.show_status("stopped: the reconstruction is shown when it is done, not played")

    def _poll_mel(self) -> None:
        """From the frame timer: show the mel run's result (or its error) once it is done and start playing
        it; follow the playback and end it."""
        if self.mel_playback is not None:
            self._follow_playback()
            return
        run = self.mel_run
        if run is None or not run.done.is_set():
            return
        self.mel_run = None
        if run.error is not None:
            self.controls.set_streaming(False)
            self._drop_mel_sink()
            exc = run.error
            text = str(exc) if isinstance(exc, PhasefoldError) else f"{type(exc).__name__}: {exc}"
            self.controls.session_progress.setText("–")
            self.show_error(text)
            return
        self._show_mel(run.result)
        if self._mel_play:
            self._play_mel(run.result)
        else:
            self.controls.set_streaming(False)
            self._drop_mel_sink()

    def _drop_mel_sink(self) -> None:
        """Close the sink start_stream was given where nothing is played to it."""
        if self._mel_sink is not None:
            self._mel_sink.close()
            self._mel_sink = None

    def _play_mel(self, r: MelResult) -> None:
        """Play the reconstruction through the given sink or the panel's output, opened at the mel's rate
        (engine.streaming.sinks.open_sink: no sound card falls back to the null sink, and says so)."""
        from phasefold.engine.streaming.sinks import open_sink

        s = self.controls.settings()
        sink, self._mel_sink = self._mel_sink, None
        try:
            sink, notes = (sink, []) if sink is not None else open_sink(str(s.device), r.cfg.stft.sample_rate)
        except PhasefoldError as exc:
            self.controls.set_streaming(False)
            self.show_error(f"cannot play the reconstruction: {exc}")
            return
        self.mel_playback = Playback(r.signal, sink, r.reference, volume=s.volume, original=s.original)
        self.mel_playback.start()
        scores = f"; {self.stoi_view.mean_text()}" if r.trace else ""
        extra = f" ({'; '.join(notes)})" if notes else ""
        self.show_status(
            f"playing {r.name}, reconstructed from the {r.preset} mel with {r.method} in {r.seconds:.1f} s"
            f"{scores}{extra}"
        )

    def _follow_playback(self) -> None:
        p = self.mel_playback
        total = p.signal.size / p.sample_rate
        self.controls.session_progress.setText(f"playing {p.played / p.sample_rate:.1f} / {total:.1f} s")
        if not p.done.is_set():
            return
        self.mel_playback = None
        self.controls.set_streaming(False)
        self.controls.session_progress.setText(f"played {p.played / p.sample_rate:.1f} / {total:.1f} s")
        r = self.mel_result
        if p.error is not None:
            self.show_error(f"playback stopped: {p.error}")
            return
        how = "stopped playing" if p.stopped else "played"
        scores = f"; {self.stoi_view.mean_text()}" if r.trace else ""
        self.show_status(f"{how} {r.name}, reconstructed from the {r.preset} mel with {r.method}{scores}")

    def _show_mel(self, r: MelResult) -> None:
        self.mel_result = r
        stft = r.cfg.stft
        shown = display_stft(r.cfg)
        span = view_span(r.mel_db.shape[0], stft)
        layout = "[frames, n_mels]" if r.cfg.bands_last else "[n_mels, frames]"
        self.spec_in.regrid(
            f"input: {r.preset} mel ({r.cfg.n_mels} bands, {layout})",
            stft.sample_rate,
            stft.hop,
            r.cfg.n_mels,
            r.mel_levels,
            mel=True,
        )
        self.spec_in.show_frames(r.mel_db, span)
        self.spec_out.regrid("reconstruction |A y|", shown.sample_rate, shown.hop, shown.n_bins)
        self.spec_out.show_frames(r.out_db, span)
        total = r.signal.size / stft.sample_rate
        caption = "vs the original audio" if r.reference is not None else r.notes[-1]
        self.stoi_view.reset(caption, f"{r.method} from the {r.preset} mel", total)
        for t, s, e in r.trace:
            self.stoi_view.add(t, s, e)
        c = self.controls
        c.session_source.setText(f"{r.name} ({total:.1f} s)")
        c.session_progress.setText(f"{total:.1f} s reconstructed offline in {r.seconds:.1f} s")
        c.session_latency.setText("offline")
        c.session_scores.setText(self.stoi_view.mean_text() if r.trace else "–")
        self.method_label.setText(f"method {Path(r.method).name} (mel)")
        scores = f"; {self.stoi_view.mean_text()}" if r.trace else ""
        self.show_status(f"reconstructed {r.name} from the {r.preset} mel with {r.method}{scores}")

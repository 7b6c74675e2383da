"""The main window's mel input: with a mel preset chosen (the panel's "Mel input"), Play reconstructs the
source (the demo, an audio file or a .npy mel array) offline from the preset's mel on a thread
(gui.mel_run) and shows the mel as the input view, the reconstruction's spectrogram and its STOI trace."""

from __future__ import annotations

from pathlib import Path

from phasefold.engine.errors import PhasefoldError
from phasefold.gui.controls import Settings
from phasefold.gui.mel_run import MelResult, MelRun, display_stft
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
    when idle; ``mel_result`` keeps the last one)."""

    mel_run: MelRun | None = None
    mel_result: MelResult | None = None

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

    def start_mel(self, s: Settings) -> bool:
        """Reconstruct the panel's source from the preset ``s.mel`` (Play with a mel preset chosen)."""
        if self.mel_run is not None:
            return False
        method = mel_method(s.method, s.mel)
        self.mel_run = MelRun(s.source, s.path, s.mel, method, self.score_window_s, self.backend)
        c = self.controls
        c.set_streaming(True)
        c.pause_button.setEnabled(False)
        c.stop_button.setEnabled(False)
        c.session_progress.setText(f"reconstructing from the {s.mel} mel…")
        self.show_status(f"reconstructing from the {s.mel} mel with {method} (offline)…")
        self.mel_run.start()
        return True

    def _poll_mel(self) -> None:
        """From the frame timer: show the mel run's result (or its error) once it is done."""
        run = self.mel_run
        if run is None or not run.done.is_set():
            return
        self.mel_run = None
        self.controls.set_streaming(False)
        if run.error is not None:
            exc = run.error
            text = str(exc) if isinstance(exc, PhasefoldError) else f"{type(exc).__name__}: {exc}"
            self.controls.session_progress.setText("–")
            self.show_error(text)
            return
        self._show_mel(run.result)

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

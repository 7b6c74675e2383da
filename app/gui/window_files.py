"""The main window's files: choosing the source file (open, drag and drop), adding an exported model to
the method list, and saving the reconstruction (WAV), a screenshot (PNG) and the live STOI trace (CSV)."""

from __future__ import annotations

from pathlib import Path

from phasefold.engine.errors import InputError, PhasefoldError
from phasefold.engine.mel_inputs import is_mel_array
from phasefold.engine.wording import counted
from phasefold.gui.mel_run import check_mel_file
from phasefold.gui.model_files import check_model_file
from phasefold.gui.sources import SOURCE_FILE, check_file
from PyQt6.QtGui import QDragEnterEvent, QDropEvent


class FileActions:
    """Main-window mixin (on a QMainWindow): what goes in and out of the window as files; errors show in
    the window (``show_error``), successes in its status bar."""

    def open_file(self, path: str | Path, play: bool = False) -> bool:
        """Check that ``path`` is readable audio or a .npz magnitude file for the window's STFT and select
        it as the source; errors show in the window."""
        path = Path(path)
        try:
            preset = self.controls.settings().mel
            if preset is not None or is_mel_array(path):
                notes = check_mel_file(path, preset)
            else:
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

    def save_reconstruction(self, path: str | Path) -> bool:
        """Write the last reconstruction to a WAV file: the stream's so far (time-aligned with the input) or,
        where a mel input was reconstructed after it, that one at its preset's rate; in the input file's
        sample format (engine.outputs.output_subtype; PCM_16 for the demo and the microphone)."""
        from phasefold.engine.outputs import output_subtype, write_wav

        if self.mel_result is not None:
            r = self.mel_result
            signal, rate, input_format = r.signal, r.cfg.stft.sample_rate, r.sample_format
        elif self.last_worker is not None:
            signal, rate = self.last_worker.reconstruction(), self.cfg.sample_rate
            input_format = self.last_worker.sample_format
        else:
            signal = None
        if signal is None or signal.size == 0:
            self.show_error("nothing to save yet: stream something first")
            return False
        try:
            notes = write_wav(path, signal, rate, output_subtype(input_format))
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
        self.show_status(f"saved {Path(path).name} ({counted(len(self.stoi_view.times), 'point')})")
        return True

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:  # noqa: N802 (Qt override)
        urls = event.mimeData().urls() if event.mimeData().hasUrls() else []
        if urls and urls[0].isLocalFile():
            event.acceptProposedAction()

    def dropEvent(self, event: QDropEvent) -> None:  # noqa: N802 (Qt override)
        urls = event.mimeData().urls()
        if urls and urls[0].isLocalFile():
            event.acceptProposedAction()
            self.open_file(urls[0].toLocalFile(), play=True)

    def _source_changed(self) -> None:
        if self.controls.source.currentData() == SOURCE_FILE and self.controls.settings().path is None:
            self._open_dialog()

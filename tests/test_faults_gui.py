"""Faults reported against the GUI: .npz magnitude files as input, stream-trained models at their own
look-ahead, and errors while streaming or opening files shown in the window (status bar + non-modal message).
"""

import os

os.environ["QT_QPA_PLATFORM"] = "offscreen"  # before Qt loads

import json
import shutil

import numpy as np
import pytest

pytest.importorskip("pyqtgraph")

from phasefold.cli import main  # noqa: E402
from phasefold.engine.inputs import save_magnitudes  # noqa: E402
from phasefold.engine.stft import StftConfig, magnitude  # noqa: E402
from phasefold.engine.streaming import Stream  # noqa: E402
from phasefold.exported_models import MODELS_DIR  # noqa: E402
from phasefold.gui.app import LaunchOptions, apply_options, check_options  # noqa: E402
from phasefold.gui.main_window import MainWindow  # noqa: E402
from PyQt6.QtWidgets import QFileDialog  # noqa: E402

CFG = StftConfig()
WAIT_MS = 60_000  # generous: CI machines may be busy


@pytest.fixture
def window(make_window):
    return make_window(1.0)


def _one_line(capsys, argv: list[str]) -> str:
    """Run the CLI, expecting exit code 1 and a single line on stderr; returns that line."""
    assert main(argv) == 1
    (line,) = capsys.readouterr().err.strip().splitlines()
    return line


def _shows_error(window: MainWindow, text: str) -> None:
    """``text`` is in the status bar (in red) and in the non-modal message box."""
    assert text in window.last_error and window.status_label.text().startswith("error:")
    box = window.message_box
    assert box is not None and box.isVisible() and not box.isModal() and box.text() == window.last_error


def _nan_from_frame(monkeypatch, first: int) -> None:
    """Streams opened from now on return NaN audio from frame ``first`` on, as a method far outside its
    range would (the engine's level normaliser keeps the shipped models finite at any finite level)."""
    real_open = Stream.open

    def opened(*args, **kwargs):
        stream = real_open(*args, **kwargs)
        process, seen = stream.processor.process, [0]

        def nan_process(mags, phases=None):
            seen[0] += mags.shape[0]
            out = process(mags, phases)
            return out * np.nan if seen[0] > first else out

        stream.processor.process = nan_process
        return stream

    monkeypatch.setattr(Stream, "open", opened)


def _choose_in_dialog(monkeypatch, path) -> None:
    """The next file dialog answers ``path``."""
    monkeypatch.setattr(QFileDialog, "getOpenFileName", staticmethod(lambda *args, **kw: (str(path), "")))


# -- 1: a .npz magnitude file as the GUI's input ------------------------------------------------------------


def test_gui_streams_a_npz_magnitude_file_and_refuses_another_stft(qtbot, window, speech, tmp_path, capsys):
    with_ref, no_ref, hop512 = tmp_path / "with-ref.npz", tmp_path / "no-ref.npz", tmp_path / "hop512.npz"
    save_magnitudes(with_ref, magnitude(speech, CFG), CFG, length=speech.size, reference=speech)
    save_magnitudes(no_ref, magnitude(speech, CFG), CFG, length=speech.size)
    save_magnitudes(hop512, magnitude(speech, StftConfig(hop=512)), StftConfig(hop=512), length=speech.size)
    line = _one_line(capsys, ["gui", "-i", str(hop512)])
    assert line == (
        f"phasefold gui: error: {hop512}: magnitudes of n_fft 1024, hop 512 (22050 Hz, d = 1); the window "
        "streams n_fft 1024, hop 256 (22050 Hz, d = 1) (`phasefold stream -i FILE` takes it)"
    )
    assert "holds its magnitudes already" in _one_line(capsys, ["gui", "-i", str(no_ref), "--snr", "5"])
    check_options(LaunchOptions(input=no_ref))  # accepted on the command line

    c = window.controls
    c.method.setCurrentText("rtpghi")
    assert window.open_file(no_ref)
    assert "no reference audio: live STOI cannot score" in window.status_label.text()
    assert window.start_stream()
    assert "no-ref.npz holds no reference audio: live STOI cannot score" in window.stoi_view.caption.text()
    qtbot.waitUntil(lambda: not window.streaming, timeout=WAIT_MS)
    assert window.last_error is None and "finished" in window.status_label.text()
    assert window.spec_out.frames_drawn > 100 and not window.stoi_view.times  # streamed, nothing scored
    assert window.last_worker.reconstruction().size == speech.size

    assert window.open_file(with_ref) and window.start_stream()  # with a reference, live STOI scores
    qtbot.waitUntil(lambda: not window.streaming, timeout=WAIT_MS)
    assert window.last_error is None and 0.5 < window.stoi_view.stoi[-1] <= 1.0

    c.modify.setChecked(True)  # noise applies to audio, not to magnitudes
    assert not window.start_stream()
    _shows_error(window, "with-ref.npz holds its magnitudes already: noise applies to audio inputs")
    c.modify.setChecked(False)
    assert not window.open_file(hop512)
    _shows_error(window, "hop 512 (22050 Hz, d = 1); the window streams n_fft 1024, hop 256")
    assert c.settings().path == with_ref  # the refused file is not selected


# -- 2: a stream-trained model brings its own look-ahead ----------------------------------------------------


def test_stream_trained_model_runs_at_the_lookahead_of_its_card(qtbot, window, capsys):
    line = _one_line(capsys, ["gui", "-m", "unfolded-stream-l1", "-L", "2"])
    assert line == (
        "phasefold gui: error: unfolded-stream-l1 was trained inside the stream at look-ahead 1, block 1: "
        "leave out -L and -B to take its own (asked: look-ahead 2, block 1)"
    )
    assert "asked: look-ahead 0, block 2" in _one_line(
        capsys, ["demo", "-m", "unfolded-stream-l0", "-B", "2"]
    )

    opts = LaunchOptions(method="unfolded-stream-l1", output="null")  # `phasefold gui -m unfolded-stream-l1`
    check_options(opts)
    assert (opts.lookahead, opts.block) == (1, 1)
    opts = LaunchOptions(method="unfolded-stream-l1", lookahead=1, output="null")  # the model's own -L: fine
    check_options(opts)
    apply_options(window, opts)
    c = window.controls
    assert (c.lookahead.value(), c.block.value()) == (1, 1)
    assert window.start_stream()  # refused before: the window set L = 3
    qtbot.waitUntil(lambda: window.spec_out.frames_drawn > 20, timeout=WAIT_MS)
    assert window.latency_label.text() == "latency 58.0 ms"  # N + 1 H = 1280 samples
    window.stop_stream(wait=True)
    assert window.last_error is None

    opts = LaunchOptions(method="rtpghi")  # other methods keep L = 3, B = 1
    check_options(opts)
    assert (opts.lookahead, opts.block) == (3, 1)

    c.lookahead.setValue(3)
    c.method.setCurrentText("unfolded-stream-l0")  # chosen in the window's method list
    assert (c.lookahead.value(), c.block.value()) == (0, 1)
    assert window.status_label.text() == (
        "unfolded-stream-l0 was trained inside the stream: look-ahead set to 0, block to 1 (its card's)"
    )


# -- 3: errors while streaming and from the window's dialogs show in the window -----------------------------


def test_errors_from_the_stream_and_the_dialogs_reach_the_window(
    qtbot, window, speech, tmp_path, monkeypatch
):
    c = window.controls
    # a method returning NaN in push: the engine's InputError travels from the worker thread to the window
    save_magnitudes(tmp_path / "speech.npz", magnitude(speech, CFG), CFG, length=speech.size)
    c.method.setCurrentText("unfolded-untied")
    real_open = Stream.open
    _nan_from_frame(monkeypatch, 20)
    assert window.open_file(tmp_path / "speech.npz") and window.start_stream()
    qtbot.waitUntil(lambda: not window.streaming, timeout=WAIT_MS)
    _shows_error(window, "unfolded-untied returned NaN or infinite audio at frame ")
    assert window.last_error.endswith("; the stream stops there")
    assert 0 < window.last_worker.reconstruction().size < speech.size  # what came before is kept

    # NaN in flush (the tail after the last frame)

    def nan_tail(*args, **kwargs):
        stream = real_open(*args, **kwargs)
        tail = stream.processor.tail
        stream.processor.tail = lambda: tail() * np.nan
        return stream

    monkeypatch.setattr(Stream, "open", nan_tail)
    save_magnitudes(tmp_path / "short.npz", magnitude(speech[:11025], CFG), CFG, length=11025)
    c.method.setCurrentText("rtpghi")
    assert window.open_file(tmp_path / "short.npz") and window.start_stream()
    qtbot.waitUntil(lambda: not window.streaming, timeout=WAIT_MS)
    _shows_error(window, "rtpghi-1 returned NaN or infinite audio in the tail after frame ")
    monkeypatch.setattr(Stream, "open", real_open)

    # a bad input file chosen with Open audio…
    (tmp_path / "bad.npz").write_text("not an archive")
    _choose_in_dialog(monkeypatch, tmp_path / "bad.npz")
    window.open_action.trigger()
    _shows_error(window, "bad.npz: not a valid .npz magnitude file")
    assert c.settings().path == tmp_path / "short.npz"

    # a model whose card is broken chosen with Open model…
    shutil.copy(MODELS_DIR / "unfolded-stream-l1.onnx", tmp_path / "broken.onnx")
    card = json.loads((MODELS_DIR / "unfolded-stream-l1.json").read_text())
    card["streaming"]["lookahead"] = "one"
    (tmp_path / "broken.json").write_text(json.dumps(card))
    count = c.method.count()
    _choose_in_dialog(monkeypatch, tmp_path / "broken.onnx")
    window.open_model_action.trigger()
    _shows_error(window, "broken.json: streaming.lookahead must be a whole number >= 0, not 'one'")
    assert c.method.count() == count and not window.streaming


# -- files saved from the window: checked first, written atomically -----------------------------------------
def test_files_saved_from_the_window_are_checked_and_never_half_written(window, tmp_path):
    old = tmp_path / "shot.png"
    old.write_bytes(b"yesterday's screenshot")
    for save, name in ((window.save_screenshot, "screenshot"), (window.save_stoi_csv, "STOI trace")):
        assert not save(tmp_path)  # a folder
        _shows_error(window, f"give a file name for the {name}")
        assert not save(tmp_path / "missing" / "x.png")
        _shows_error(window, "does not exist")
    assert window.save_screenshot(old)
    assert old.read_bytes().startswith(b"\x89PNG")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["shot.png"]  # no partial file left


def test_a_scripted_run_that_shows_an_error_exits_non_zero(tmp_path, speech, capsys, monkeypatch):
    """`gui --play --quit-after`: the error shown in the window is also the command's one line, exit 1."""
    save_magnitudes(tmp_path / "speech.npz", magnitude(speech, CFG), CFG, length=speech.size)
    _nan_from_frame(monkeypatch, 20)
    argv = ["gui", "--play", "-i", str(tmp_path / "speech.npz"), "-m", "unfolded-untied", "--quit-after", "4"]
    line = _one_line(capsys, argv)
    assert "the window showed an error" in line and "returned NaN or infinite audio" in line

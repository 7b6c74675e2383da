"""The main window, offscreen: streaming the demo to the null sink, live views, switching methods mid-stream,
pause, saving, and errors shown in the window (status bar + non-modal message)."""

import os

os.environ["QT_QPA_PLATFORM"] = "offscreen"  # before Qt loads

import shutil
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

pytest.importorskip("pyqtgraph")

from phasefold.engine.demo import demo_signal  # noqa: E402
from phasefold.engine.evaluation import spectral_convergence_db, stoi  # noqa: E402
from phasefold.engine.stft import StftConfig, magnitude  # noqa: E402
from phasefold.exported_models import MODELS_DIR  # noqa: E402
from phasefold.gui import theme  # noqa: E402
from phasefold.gui.main_window import MainWindow  # noqa: E402
from PyQt6.QtCore import QMimeData, QPointF, Qt, QUrl  # noqa: E402
from PyQt6.QtGui import QDropEvent  # noqa: E402

FAST = "rtpghi"  # a method fast enough to stream in real time on any CI machine
WAIT_MS = 60_000  # generous: CI machines may be busy


@pytest.fixture
def window(make_window):
    return make_window(1.5)


def _screenshot(window: MainWindow, tmp_path: Path, name: str) -> None:
    """Save a screenshot to the test's folder and, when PHASEFOLD_SCREENSHOT_DIR is set, there too."""
    assert window.save_screenshot(tmp_path / name)
    assert (tmp_path / name).stat().st_size > 10_000
    folder = os.environ.get("PHASEFOLD_SCREENSHOT_DIR")
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True)
        shutil.copy(tmp_path / name, Path(folder) / name)


def _lags(y: np.ndarray, x: np.ndarray, chunk: int = 40) -> list[int]:
    """Per chunk of frames, the frame shift (-2..2) that best matches |STFT y| to |STFT x| (0: aligned)."""
    cfg = StftConfig()
    a, b = np.log(magnitude(y, cfg) + 1e-3), np.log(magnitude(x, cfg) + 1e-3)
    lags = []
    for start in range(2, a.shape[0] - chunk - 2, chunk):
        ref = b[start : start + chunk].ravel()
        if np.ptp(ref) < 5:  # silence: nothing to align
            continue
        corr = [np.corrcoef(a[start + k : start + k + chunk].ravel(), ref)[0, 1] for k in range(-2, 3)]
        lags.append(int(np.argmax(corr)) - 2)
    return lags


def test_lag_check_sees_a_one_hop_slip():
    x = demo_signal()
    y = x.copy()
    y[x.size // 2 :] = x[x.size // 2 - 256 : -256]
    lags = _lags(y, x)
    assert lags[0] == 0 and lags[-1] == 1


def _wait_finished(qtbot, window: MainWindow) -> None:
    qtbot.waitUntil(lambda: not window.streaming, timeout=WAIT_MS)


def test_streams_the_demo_live_and_saves_everything(qtbot, window, tmp_path):
    c = window.controls
    assert c.settings().source == "demo" and c.settings().device == "null"
    c.method.setCurrentText(FAST)
    assert window.start_stream()
    assert window.streaming and not c.play_button.isEnabled() and not c.lookahead.isEnabled()
    # both spectrograms fill, the STOI view receives scores, the status bar shows latency and xruns
    qtbot.waitUntil(
        lambda: window.spec_out.frames_drawn > 100 and len(window.stoi_view.times) >= 2, timeout=WAIT_MS
    )
    assert window.spec_in.frames_drawn >= window.spec_out.frames_drawn
    img_in, img_out = window.spec_in.image.image, window.spec_out.image.image
    assert img_in.dtype == np.float32 and img_in.flags.c_contiguous
    assert np.ptp(img_in) > 30 and np.ptp(img_out) > 30  # speech, not a flat floor
    assert 0.5 < window.stoi_view.stoi[-1] <= 1.0
    assert window.latency_label.text() == "latency 81.3 ms"  # N + L H = 1024 + 3 * 256 samples
    assert window.xrun_label.text() == "xruns 0"
    assert np.isfinite(window.frame_interval_ms()) and "GUI" in window.frame_label.text()
    _screenshot(window, tmp_path, "gui-streaming.png")
    _wait_finished(qtbot, window)
    assert c.play_button.isEnabled() and "finished" in window.status_label.text()

    # the output spectrogram shows frame m where the input shows frame m: same picture, same place
    x = demo_signal()
    n = min(window.spec_in.frames_drawn, window.spec_out.frames_drawn)
    assert n == magnitude(x, StftConfig()).shape[0]
    a, b = window.spec_in.image.image[-60:], window.spec_out.image.image[-60:]
    assert np.corrcoef(a.ravel(), b.ravel())[0, 1] > 0.9

    # saved reconstruction: the input's length and time frame
    assert window.save_reconstruction(tmp_path / "out.wav")
    y, sr = sf.read(tmp_path / "out.wav")
    assert sr == 22050 and y.size == x.size
    assert stoi(x, y, sr) > 0.95 and set(_lags(y, x)) == {0}
    assert spectral_convergence_db(y, magnitude(x, StftConfig()), StftConfig()) < -18
    # STOI trace as CSV: one row per point drawn
    assert window.save_stoi_csv(tmp_path / "stoi.csv")
    rows = (tmp_path / "stoi.csv").read_text().splitlines()
    assert rows[0] == "time_s,stoi,estoi" and len(rows) == len(window.stoi_view.times) + 1
    last = [float(v) for v in rows[-1].split(",")]
    assert last[0] == pytest.approx(x.size / sr, abs=0.02)  # the last window ends with the signal
    assert last[1] == pytest.approx(window.stoi_view.stoi[-1])


def test_switching_methods_mid_stream_keeps_the_output_aligned(qtbot, window, tmp_path):
    c = window.controls
    c.method.setCurrentText(FAST)
    assert window.start_stream()
    qtbot.waitUntil(lambda: window.spec_out.frames_drawn > 60, timeout=WAIT_MS)
    c.method.setCurrentText("unfolded-tied")  # live: the worker switches at the next block
    qtbot.waitUntil(lambda: window.method_label.text() == "method unfolded-tied", timeout=WAIT_MS)
    assert "unfolded-tied" in window.divergence.getPlotItem().titleLabel.text
    assert window.divergence.n_learned == 1  # the tied model's learned curve is drawn
    switched_at = window.spec_out.frames_drawn
    qtbot.waitUntil(lambda: window.spec_out.frames_drawn > switched_at + 20, timeout=WAIT_MS)
    c.method.setCurrentText(FAST)
    qtbot.waitUntil(lambda: window.method_label.text().startswith(f"method {FAST}"), timeout=WAIT_MS)
    _wait_finished(qtbot, window)
    assert window.last_error is None
    # two switches and still every sample in place: a hop too many or too few would show in the lags
    x = demo_signal()
    y = window.last_worker.reconstruction()
    assert y.size == x.size
    assert set(_lags(y, x)) == {0}
    assert spectral_convergence_db(y, magnitude(x, StftConfig()), StftConfig()) < -15
    assert stoi(x, y, 22050) > 0.95


def test_a_stream_trained_model_brings_its_own_lookahead(qtbot, window):
    c = window.controls
    c.lookahead.setValue(3)
    c.method.setCurrentText("unfolded-stream-l1")  # trained at L = 1, B = 1
    assert (c.lookahead.value(), c.block.value()) == (1, 1)
    c.method.setCurrentText(FAST)
    c.lookahead.setValue(3)
    assert window.start_stream()
    qtbot.waitUntil(lambda: window.spec_out.frames_drawn > 20, timeout=WAIT_MS)
    c.method.setCurrentText("unfolded-stream-l1")  # mid-stream at L = 3: refused, the stream goes on
    assert "stop the stream to switch" in window.status_label.text()
    assert window.streaming and c.lookahead.value() == 3
    window.stop_stream(wait=True)


def test_every_divergence_plot_fits_its_view(qtbot, window):
    """A title wider than the view pushed the plot past its right edge (axis and curves cut off): every
    method's curves, learned or not, must fit the view at the window's default size."""
    methods = [window.controls.method.itemText(i) for i in range(window.controls.method.count())]
    assert any(MODELS_DIR.joinpath(m + ".onnx").is_file() for m in methods)
    view = window.divergence
    for method in methods:
        window.controls.method.setCurrentText(method)
        qtbot.wait(1)
        assert view.getPlotItem().geometry().width() <= view.viewport().width(), method


def test_an_exported_model_file_is_offered_streamed_and_drawn(qtbot, window, tmp_path):
    """A user's own export (a copy of a shipped one under another name) joins the method list and streams;
    files that do not fit are refused in the window."""
    src = MODELS_DIR / "unfolded-stream-l1"
    for suffix in (".onnx", ".json", ".golden.npz"):
        shutil.copy(src.with_name(src.name + suffix), tmp_path / ("mine" + suffix))
    c = window.controls
    c.lookahead.setValue(3)
    assert window.add_model_file(tmp_path / "mine.onnx")
    assert c.method.currentText() == str((tmp_path / "mine.onnx").resolve())
    assert (c.lookahead.value(), c.block.value()) == (1, 1)  # its card's look-ahead, as for shipped ones
    assert window.divergence.getPlotItem().titleLabel.text.startswith("mine<br>")
    assert "learned divergence" in window.divergence.note
    assert window.start_stream()
    qtbot.waitUntil(lambda: window.spec_out.frames_drawn > 40, timeout=WAIT_MS)
    assert window.active_method == c.method.currentText()  # the file is what streams
    assert window.method_label.text() == "method unfolded-stream-l1"  # under the name in its card
    window.stop_stream(wait=True)
    assert window.last_error is None
    count = c.method.count()
    assert not window.add_model_file(MODELS_DIR / "unfolded-tied-hop512.onnx")
    assert "hop 512" in window.last_error and c.method.count() == count
    (tmp_path / "broken.onnx").write_bytes(b"not a model")
    assert not window.add_model_file(tmp_path / "broken.onnx")
    assert "broken" in window.last_error and c.method.count() == count


def test_pause_holds_the_stream_and_resume_continues(qtbot, window):
    c = window.controls
    c.method.setCurrentText(FAST)
    window.start_stream()
    qtbot.waitUntil(lambda: window.spec_in.frames_drawn > 40, timeout=WAIT_MS)
    window.activateWindow()
    qtbot.keyClick(window, Qt.Key.Key_Space)  # Space holds the stream
    assert c.pause_button.isChecked() and window.last_worker.paused
    qtbot.wait(400)  # blocks already released (the source runs a little ahead) arrive
    held = window.spec_in.frames_drawn
    qtbot.wait(700)
    assert window.spec_in.frames_drawn == held and window.streaming
    c.pause_button.setChecked(False)
    qtbot.waitUntil(lambda: window.spec_in.frames_drawn > held + 20, timeout=WAIT_MS)
    c.stop_button.click()
    _wait_finished(qtbot, window)
    assert "stopped" in window.status_label.text()
    assert window.last_worker.reconstruction().size > 0  # what was produced is kept


def test_live_resize_defers_plot_repaints_and_the_stream_keeps_going(qtbot, window):
    window.controls.method.setCurrentText(FAST)
    window.resize(1480, 900)
    assert not window.plots_deferred  # not streaming: a resize repaints at once
    window.start_stream()
    qtbot.waitUntil(lambda: window.spec_in.frames_drawn > 20, timeout=WAIT_MS)
    emitted = window.last_worker.reconstruction().size
    for i in range(12):  # a drag: a resize every 40 ms
        window.resize(1200 + 20 * i, 760 + 10 * i)
        qtbot.wait(40)
        assert window.plots_deferred
    assert window.last_worker.reconstruction().size > emitted  # audio kept flowing meanwhile
    qtbot.waitUntil(lambda: not window.plots_deferred, timeout=2_000)  # repainted once it settled
    window.stop_stream(wait=True)


def test_bad_file_dropped_on_the_window_shows_an_error(qtbot, window, tmp_path):
    bad = tmp_path / "notes.wav"
    bad.write_text("this is not audio")
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(bad))])
    drop = QDropEvent(
        QPointF(400, 300),
        Qt.DropAction.CopyAction,
        mime,
        Qt.MouseButton.NoButton,
        Qt.KeyboardModifier.NoModifier,
    )
    window.dropEvent(drop)
    assert "not a readable audio file" in window.last_error
    assert window.status_label.text().startswith("error:")
    box = window.message_box
    assert box is not None and box.isVisible() and not box.isModal()
    assert not window.streaming and window.controls.settings().path is None  # the bad file is not selected
    # a good file dropped next is selected and streamed at once
    good = tmp_path / "tone.wav"
    t = np.arange(22050) / 22050
    sf.write(good, 0.3 * np.sin(2 * np.pi * 440 * t), 22050)
    window.controls.method.setCurrentText(FAST)
    mime.setUrls([QUrl.fromLocalFile(str(good))])
    window.dropEvent(
        QDropEvent(
            QPointF(400, 300),
            Qt.DropAction.CopyAction,
            mime,
            Qt.MouseButton.NoButton,
            Qt.KeyboardModifier.NoModifier,
        )
    )
    assert window.streaming and window.controls.settings().path == good
    _wait_finished(qtbot, window)
    assert window.last_worker.reconstruction().size == 22050


def test_bad_model_mid_stream_stops_cleanly_and_keeps_the_output(qtbot, qapp, tmp_path, monkeypatch):
    models = tmp_path / "models"
    models.mkdir()
    for suffix in (".onnx", ".json"):
        shutil.copy(MODELS_DIR / f"unfolded-tied{suffix}", models / f"broken{suffix}")
    data = (models / "broken.onnx").read_bytes()
    (models / "broken.onnx").write_bytes(data[: len(data) // 2])  # truncated: its sha256 no longer matches
    monkeypatch.setenv("PHASEFOLD_MODEL_PATH", str(models))  # a user folder of models
    theme.apply(qapp)
    window = MainWindow(output="null")
    qtbot.addWidget(window)
    window.show()
    c = window.controls
    assert "broken" in [c.method.itemText(i) for i in range(c.method.count())]
    c.method.setCurrentText(FAST)
    window.start_stream()
    qtbot.waitUntil(lambda: window.spec_out.frames_drawn > 40, timeout=WAIT_MS)
    c.method.setCurrentText("broken")
    assert "broken" in window.last_error and window.message_box.isVisible()
    _wait_finished(qtbot, window)
    assert window.status_label.text().startswith("error:")
    assert window.save_reconstruction(tmp_path / "kept.wav")
    assert sf.info(tmp_path / "kept.wav").frames > 40 * 256
    window.close()


def test_nothing_to_save_before_streaming(window, tmp_path):
    assert not window.save_reconstruction(tmp_path / "none.wav")
    assert "nothing to save" in window.last_error
    assert not (tmp_path / "none.wav").exists()

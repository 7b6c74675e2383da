"""The window with a mel input, offscreen: a .npy mel array and an audio file read as a preset's mel,
reconstructed offline, the mel shown as the input view, the output spectrogram and the STOI trace as for a
linear input; a mel array that does not fit is one error line in the window."""

import os

os.environ["QT_QPA_PLATFORM"] = "offscreen"  # before Qt loads

import shutil
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

pytest.importorskip("pyqtgraph")

import phasefold  # noqa: E402
from phasefold.engine.demo import demo_signal  # noqa: E402
from phasefold.engine.evaluation import stoi  # noqa: E402
from phasefold.engine.mel import PRESETS, melspectrogram  # noqa: E402
from phasefold.engine.streaming.sinks import Sink  # noqa: E402
from phasefold.gui.mel_run import display_stft  # noqa: E402

WAIT_MS = 120_000


def _screenshot(window, tmp_path: Path, name: str) -> None:
    """Save a screenshot to the test's folder and, when PHASEFOLD_SCREENSHOT_DIR is set, there too."""
    assert window.save_screenshot(tmp_path / name)
    assert (tmp_path / name).stat().st_size > 10_000
    folder = os.environ.get("PHASEFOLD_SCREENSHOT_DIR")
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True)
        shutil.copy(tmp_path / name, Path(folder) / name)


def _choose_mel(window, preset: str | None) -> None:
    c = window.controls
    c.mel.setCurrentIndex(c.mel.findData(preset))


def _play_mel(qtbot, window, sink=None):
    """Play with the mel input: the result once reconstructed, after it has played to the end."""
    window.mel_result = None
    assert window.start_stream(sink)
    qtbot.waitUntil(lambda: window.mel_run is None, timeout=WAIT_MS)
    qtbot.waitUntil(lambda: not window.streaming, timeout=WAIT_MS)
    return window.mel_result


class RecordingSink(Sink):
    """Keeps every sample written to it."""

    def __init__(self, sample_rate: int) -> None:
        super().__init__(sample_rate)
        self.blocks: list[np.ndarray] = []

    def write(self, samples: np.ndarray) -> None:
        self.blocks.append(np.array(samples, dtype=np.float32, copy=True))
        self.samples_written += np.size(samples)

    @property
    def played(self) -> np.ndarray:
        return np.concatenate(self.blocks) if self.blocks else np.zeros(0, np.float32)


def test_audio_read_as_a_mel_shows_the_mel_and_scores(qtbot, make_window, tmp_path):
    window = make_window(1.0)
    x = demo_signal(3.0)
    sf.write(tmp_path / "speech.wav", x, 22050, subtype="FLOAT")
    x = sf.read(tmp_path / "speech.wav")[0]  # float32 samples, as the window reads them
    _choose_mel(window, "hifigan")
    assert window.open_file(tmp_path / "speech.wav")
    r = _play_mel(qtbot, window)
    assert r is not None, window.last_error
    cfg = PRESETS["hifigan"]
    mel = melspectrogram(x, cfg)
    # the output is the API's on the same mel (seed 0, the method's default iterations, the input's length)
    np.testing.assert_allclose(
        r.signal, phasefold.mel_to_audio(mel, preset="hifigan", length=x.size), atol=1e-5
    )
    # the input view is the mel: 80 bands, every frame; the output view |A y| at the mel's STFT
    assert window.spec_in.n_bins == 80
    qtbot.waitUntil(lambda: window.spec_in.frames_drawn == mel.shape[1], timeout=5000)
    assert "hifigan mel" in window.spec_in.getPlotItem().titleLabel.text
    np.testing.assert_allclose(r.mel_db, 20 * np.log10(np.exp(mel.T)), rtol=1e-6, atol=1e-6)
    assert window.spec_out.n_bins == display_stft(cfg).n_bins
    assert window.spec_out.frames_drawn == r.out_db.shape[0]
    # the STOI trace: windows of the last second against the original, as the live view scores
    assert len(window.stoi_view.times) >= 4
    t, s, _ = r.trace[-1]
    assert s == pytest.approx(stoi(x[-22050:], r.signal[-22050:], 22050), abs=1e-6)
    assert s > 0.8
    assert window.status_label.text().startswith(
        "played speech.wav, reconstructed from the hifigan mel with fgla"
    )
    _screenshot(window, tmp_path, "mel_input.png")
    # Save writes the mel reconstruction, at the mel's rate, in the input file's format (float)
    assert window.save_reconstruction(tmp_path / "mel_out.wav")
    saved, rate = sf.read(tmp_path / "mel_out.wav")
    assert rate == 22050 and sf.info(tmp_path / "mel_out.wav").subtype == "FLOAT"
    np.testing.assert_array_equal(saved, r.signal.astype(np.float32))
    # back to a linear input: the views take the window's own STFT again, and Save writes that stream
    _choose_mel(window, None)
    window.controls.method.setCurrentText("rtpghi")
    assert window.start_stream()
    assert window.mel_result is None
    assert window.spec_in.n_bins == window.cfg.n_bins and window.spec_out.n_bins == window.cfg.n_bins
    window.stop_stream(wait=True)
    assert window.save_reconstruction(tmp_path / "linear_out.wav")
    assert sf.read(tmp_path / "linear_out.wav")[1] == window.cfg.sample_rate


def test_mel_array_file_and_its_errors(qtbot, make_window, tmp_path):
    window = make_window(1.0)
    mel = melspectrogram(demo_signal(1.5), PRESETS["espnet"])  # ESPnet's layout [frames, 80], log10
    np.save(tmp_path / "mel.npy", mel)
    # a .npy mel with no preset chosen: one line in the window, nothing selected
    assert not window.open_file(tmp_path / "mel.npy")
    assert "mel.npy is a mel array: choose its preset" in window.last_error
    # ... with a preset it does not fit: the preset's line
    _choose_mel(window, "hifigan")
    assert not window.open_file(tmp_path / "mel.npy")
    assert "bands where 80 are expected" in window.last_error and "transposed" in window.last_error
    _choose_mel(window, "espnet")
    assert window.open_file(tmp_path / "mel.npy")
    r = _play_mel(qtbot, window)
    assert r is not None, window.last_error
    np.testing.assert_allclose(r.signal, phasefold.mel_to_audio(mel, preset="espnet"), atol=1e-5)
    assert window.spec_in.n_bins == 80 and not r.trace  # no reference audio: no STOI
    assert "no reference audio" in window.stoi_view.caption.text()


def test_a_mel_preset_offers_its_mel_methods_and_a_mel_models_divergence(qtbot, make_window, tmp_path):
    from phasefold.engine.registry import mel_method_names

    window = make_window(1.0)
    c = window.controls
    x = demo_signal(1.5)
    sf.write(tmp_path / "speech.wav", x, 22050, subtype="FLOAT")
    x = sf.read(tmp_path / "speech.wav")[0]
    _choose_mel(window, "hifigan")
    names = [c.method.itemText(i) for i in range(c.method.count())]
    assert names == mel_method_names(PRESETS["hifigan"]) and "unfolded-mel-untied" in names
    assert c.method.currentText() == "fgla"  # the stream default takes no mel: the first mel method
    c.method.setCurrentText("unfolded-mel-untied")
    assert "unfolded-mel-untied" in window.divergence.getPlotItem().titleLabel.text
    assert window.divergence.n_learned > 1  # the untied mel model's learned curves, one per layer set
    assert window.open_file(tmp_path / "speech.wav")
    r = _play_mel(qtbot, window)
    assert r is not None, window.last_error
    assert r.method == "unfolded-mel-untied"
    want = phasefold.mel_to_audio(
        melspectrogram(x, PRESETS["hifigan"]), preset="hifigan", method="unfolded-mel-untied", length=x.size
    )
    np.testing.assert_allclose(r.signal, want, atol=1e-6)
    _choose_mel(window, "espnet")  # no mel model takes the espnet mel
    assert [c.method.itemText(i) for i in range(c.method.count())] == mel_method_names(PRESETS["espnet"])
    _choose_mel(window, None)  # the stream's methods again
    assert "rtpghi" in [c.method.itemText(i) for i in range(c.method.count())]


def test_bad_mel_files_get_the_clis_line_in_the_window(qtbot, make_window, tmp_path, capsys):
    """The window reads a mel input as `reconstruct --mel` and `stream --mel` do (engine.mel_inputs.read_mel):
    the same bad file gives the same one line in the window as on the command line."""
    from phasefold.cli import main

    x = demo_signal(1.0)
    hifigan = melspectrogram(x, PRESETS["hifigan"])
    np.save(tmp_path / "espnet.npy", melspectrogram(x, PRESETS["espnet"]))  # [frames, 80]: transposed
    np.save(tmp_path / "linear.npy", np.exp(hifigan) * 1e3)  # linear values for a log preset
    np.save(tmp_path / "bands.npy", hifigan[:64])  # 64 bands where 80 are expected
    np.save(tmp_path / "axes.npy", np.stack([hifigan, hifigan]))  # 3 axes
    (tmp_path / "broken.npy").write_bytes(b"not an array")
    (tmp_path / "broken.wav").write_bytes(b"RIFF not audio")
    np.savez(tmp_path / "magnitudes.npz", mag=np.ones((513, 10)))
    window = make_window(1.0)
    _choose_mel(window, "hifigan")
    names = (
        "espnet.npy",
        "linear.npy",
        "bands.npy",
        "axes.npy",
        "broken.npy",
        "broken.wav",
        "magnitudes.npz",
    )
    lines = set()
    for name in names:
        path = tmp_path / name
        for command in ("reconstruct", "stream"):
            argv = [command, str(path)] if command == "reconstruct" else [command, "-i", str(path)]
            argv += ["--mel", "hifigan", "-o", str(tmp_path / "out.wav")]
            assert main(argv) == 1, name
            err = capsys.readouterr().err.strip()
            assert err.count("\n") == 0, err  # one line
            prefix = f"phasefold {command}: error: "
            assert err.startswith(prefix), err
            window.last_error = None
            assert not window.open_file(path)
            assert window.last_error == err[len(prefix) :], name
            assert not (tmp_path / "out.wav").exists()
        lines.add(window.last_error)
        assert path.name in window.last_error
    assert len(lines) == len(names)  # each file's own reason


def test_play_with_a_mel_input_plays_the_reconstruction_and_stop_stops_it(qtbot, make_window, tmp_path):
    window = make_window(1.0)
    c = window.controls
    x = demo_signal(2.0)
    sf.write(tmp_path / "speech.wav", x, 24000, subtype="FLOAT")
    _choose_mel(window, "vocos")  # 24 kHz: the sink runs at the mel's rate
    assert window.open_file(tmp_path / "speech.wav")
    c.volume.setValue(50)
    sink = RecordingSink(24000)
    r = _play_mel(qtbot, window, sink)
    assert r is not None, window.last_error
    # every sample of the reconstruction, in order, at the volume, then the sink is closed
    np.testing.assert_array_equal(sink.played, r.signal.astype(np.float32) * np.float32(0.5))
    assert sink.closed and c.play_button.isEnabled() and not c.stop_button.isEnabled()
    assert window.status_label.text().startswith("played speech.wav, reconstructed from the vocos mel")
    # Stop while it plays: the sink gets a prefix of it, is closed, and nothing more comes
    c.volume.setValue(100)
    sink = RecordingSink(24000)
    assert window.start_stream(sink)
    qtbot.waitUntil(lambda: window.mel_playback is not None, timeout=WAIT_MS)
    assert window.status_label.text().startswith("playing speech.wav, reconstructed from the vocos mel")
    assert c.stop_button.isEnabled() and not c.play_button.isEnabled()
    qtbot.waitUntil(lambda: sink.samples_written > 0, timeout=5000)
    _screenshot(window, tmp_path, "mel_playing.png")
    window.stop_stream(wait=True)
    assert not window.streaming and sink.closed and c.play_button.isEnabled()
    n = sink.samples_written
    assert 0 < n < r.signal.size
    np.testing.assert_array_equal(sink.played, r.signal[:n].astype(np.float32))
    assert window.status_label.text().startswith("stopped playing speech.wav")
    qtbot.wait(300)
    assert sink.samples_written == n
    # Stop while it is still being reconstructed: the result is shown, nothing is played
    sink = RecordingSink(24000)
    assert window.start_stream(sink)
    window.stop_stream()
    qtbot.waitUntil(lambda: not window.streaming, timeout=WAIT_MS)
    assert window.mel_result is not None and sink.samples_written == 0 and sink.closed


def test_playback_plays_the_original_with_a_b():
    from phasefold.gui.playback import Playback

    y, ref = np.linspace(-0.5, 0.5, 3000), np.linspace(0.25, -0.25, 2500)
    for original, want in ((False, y), (True, np.concatenate([ref, np.zeros(500)]))):
        sink = RecordingSink(22050)
        p = Playback(y, sink, ref, volume=1.0, original=original)
        p.start()
        assert p.join(10.0) and p.done.is_set() and p.error is None and sink.closed
        np.testing.assert_array_equal(sink.played, want.astype(np.float32))

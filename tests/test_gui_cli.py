"""`phasefold gui` and `phasefold demo` on the command line: display detection, scripted runs, bad options."""

import os

os.environ["QT_QPA_PLATFORM"] = "offscreen"  # before Qt loads

import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("pyqtgraph")

from phasefold.cli import main  # noqa: E402
from phasefold.gui.app import has_display  # noqa: E402

MODELS = Path(__file__).resolve().parents[1] / "exported_models"


def test_display_detection(monkeypatch):
    monkeypatch.setenv("QT_QPA_PLATFORM", "offscreen")
    assert not has_display()
    monkeypatch.delenv("QT_QPA_PLATFORM")
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    monkeypatch.setenv("DISPLAY", ":0")
    assert has_display() or sys.platform in ("win32", "darwin")
    monkeypatch.delenv("DISPLAY")
    assert has_display() == (sys.platform in ("win32", "darwin"))


def test_demo_without_display_streams_and_prints_a_summary(capsys):
    assert main(["demo", "--method", "rtpghi", "--output", "null"]) == 0  # offscreen: no display
    out = capsys.readouterr()
    assert "no display found" in out.err
    assert "latency 1792 samples = 81.3 ms" in out.out and "under-runs 0" in out.out
    stoi = float(out.out.split(" stoi ")[1].split()[0])
    assert 0.9 < stoi <= 1.0


def test_demo_without_window_streams_a_model_file_and_refuses_a_missing_one(capsys):
    model = MODELS / "unfolded-stream-l1-t3.onnx"
    assert main(["demo", "--no-gui", "-m", str(model), "-L", "1", "--output", "null"]) == 0
    out = capsys.readouterr().out
    assert "unfolded-stream-l1-t3 (window of 5 frames, 3 projections per step" in out
    assert 0.9 < float(out.split(" stoi ")[1].split()[0]) <= 1.0
    assert main(["demo", "--no-gui", "-m", "missing.onnx", "--output", "null"]) == 1
    assert "missing.onnx: no such model file" in capsys.readouterr().err
    hop512 = model.with_name("unfolded-tied-hop512.onnx")  # the demo and the window run at hop 256
    assert main(["demo", "--no-gui", "-m", str(hop512), "--output", "null"]) == 1
    assert "made for an STFT of n_fft 1024, hop 512" in capsys.readouterr().err


def test_gui_scripted_run_saves_a_screenshot(qapp, tmp_path, capsys):
    shot = tmp_path / "window.png"
    code = main(
        [
            "gui",
            "--play",
            "--method",
            "rtpghi",
            "--output",
            "null",
            "--quit-after",
            "2.5",
            "--screenshot",
            str(shot),
        ]
    )
    assert code == 0 and shot.stat().st_size > 10_000
    median = float(capsys.readouterr().out.split("median GUI frame interval ")[1].split()[0])
    assert median > 0


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["gui", "--method", "no-such-method"], "unknown streaming method 'no-such-method'"),
        (["gui", "--method", "unfolded-tied-hop512"], "unknown streaming method 'unfolded-tied-hop512'"),
        (["gui", "--method", "missing.onnx"], "missing.onnx: no such model file"),
        (["gui", "--method", str(MODELS / "unfolded-tied-hop512.onnx")], "hop 512; the window streams at"),
        (["gui", "--lookahead", "12"], "look-ahead must be 0 to 8"),
        (["demo", "--block", "9"], "block size must be 1 to 8"),
    ],
)
def test_bad_options_give_one_line(capsys, argv, message):
    assert main(argv) == 1
    err = capsys.readouterr().err.strip()
    assert message in err and len(err.splitlines()) == 1


def test_bad_input_file_and_no_display_give_one_line(tmp_path):
    bad = tmp_path / "empty.wav"
    bad.write_bytes(b"")
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM")}
    for argv, message in ((["gui", "--input", str(bad)], "the file is empty"), (["gui"], "no display found")):
        proc = subprocess.run(
            [sys.executable, "-m", "phasefold", *argv], capture_output=True, text=True, env=env, timeout=120
        )
        if sys.platform in ("win32", "darwin") and argv == ["gui"]:
            continue
        assert proc.returncode == 1, proc.stderr
        assert message in proc.stderr and len(proc.stderr.strip().splitlines()) == 1


def test_the_stream_description_counts_in_words():
    """'1 projection per step', not '1 projections': the words the GUI and the CLI print."""
    from phasefold.engine.stft import StftConfig
    from phasefold.engine.streaming import make_processor

    text = make_processor("fgla", StftConfig(), 0, 1, iterations=1, backend="numpy").describe()
    assert "1 projection per step" in text, text
    more = make_processor("fgla", StftConfig(), 0, 1, iterations=2, backend="numpy").describe()
    assert "2 projections per step" in more, more

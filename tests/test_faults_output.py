"""Output safety: a failing run leaves existing files as they were, no half-written file, no silent no-op."""

from __future__ import annotations

import os
import resource
import signal
import subprocess
import sys
import time
import wave
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from phasefold.cli import main
from phasefold.engine.demo import demo_signal
from scipy.io import wavfile

OLD_TAKE = b"RIFF yesterday's take, not a real WAV but it must survive"


@pytest.fixture(scope="module")
def audio(tmp_path_factory) -> Path:
    """A folder with speech.wav (1 s), long.wav (4 s), loud.wav (peak 1.0) and silent.wav."""
    folder = tmp_path_factory.mktemp("inputs")
    x = demo_signal(1.0)
    sf.write(str(folder / "speech.wav"), x, 22050, subtype="FLOAT")
    sf.write(str(folder / "long.wav"), demo_signal(4.0), 22050, subtype="FLOAT")
    sf.write(str(folder / "loud.wav"), x / np.abs(x).max(), 22050, subtype="FLOAT")
    sf.write(str(folder / "silent.wav"), np.zeros(22050), 22050)
    return folder


def _cli(argv: list[str], capsys) -> tuple[int, str]:
    """Exit code and stderr of `phasefold ARGV` (argparse's refusals exit 2)."""
    try:
        rc = main([str(a) for a in argv])
    except SystemExit as exc:
        rc = exc.code
    return rc, capsys.readouterr().err


def _one_line_error(err: str, command: str, message: str) -> None:
    lines = [line for line in err.splitlines() if "error:" in line]
    assert len(lines) == 1 and lines[0].startswith(f"phasefold {command}: error: "), err
    assert message in lines[0]
    assert "Traceback" not in err


def _only(folder: Path, *names: str) -> None:
    """Nothing else in ``folder`` (no .part file left behind)."""
    assert sorted(p.name for p in folder.iterdir()) == sorted(names)


def _fail_mid_stream(monkeypatch) -> None:
    from phasefold.engine.errors import InputError
    from phasefold.engine.streaming import Stream

    push = Stream.push

    def failing(self, frames):
        if self.stats.frames_in >= 20:
            raise InputError("frame 20 is broken")
        return push(self, frames)

    monkeypatch.setattr(Stream, "push", failing)


@pytest.mark.parametrize(
    "case, message",
    [
        ("no microphone", "no microphone"),
        ("bad model", "model card"),
        ("snr nan", "finite"),
        ("error mid-stream", "frame 20 is broken"),
    ],
)
def test_1_a_failing_stream_leaves_the_existing_output(audio, tmp_path, capsys, monkeypatch, case, message):
    out = tmp_path / "take1.wav"
    out.write_bytes(OLD_TAKE)
    argv = ["stream", "-i", audio / "speech.wav", "-o", out, "--method", "rtpghi"]
    if case == "no microphone":
        monkeypatch.setitem(sys.modules, "sounddevice", None)  # as without PortAudio or a microphone
        argv[2] = "mic"
    elif case == "bad model":
        (tmp_path / "bad.onnx").write_bytes(b"not a model")
        argv[-2:] = ["--model", tmp_path / "bad.onnx"]
    elif case == "snr nan":
        argv += ["--snr", "nan"]
    else:
        _fail_mid_stream(monkeypatch)
    rc, err = _cli(argv, capsys)
    assert rc in (1, 2) and message in err and "Traceback" not in err
    if rc == 1:
        _one_line_error(err, "stream", message)
    assert out.read_bytes() == OLD_TAKE
    _only(tmp_path, *(["take1.wav", "bad.onnx"] if case == "bad model" else ["take1.wav"]))


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGHUP, signal.SIGINT])
def test_2_sigterm_sighup_and_ctrl_c_end_the_stream_with_a_complete_wav(audio, tmp_path, signum):
    out = tmp_path / "out.wav"
    out.write_bytes(OLD_TAKE)
    proc = subprocess.Popen(
        [sys.executable, "-m", "phasefold", "stream", "-i", str(audio / "long.wav"), "-o", str(out)]
        + ["--realtime", "--method", "rtpghi", "-L", "1", "--format", "PCM_16"],  # `wave` reads PCM only
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        # the signals' defaults, whatever runs the tests (nohup ignores SIGHUP, and the command keeps that)
        preexec_fn=lambda: signal.signal(signal.SIGHUP, signal.SIG_DFL),
    )
    try:
        seen, deadline = b"", time.monotonic() + 60
        while b" s in " not in seen and time.monotonic() < deadline:  # the first status line: streaming
            chunk = os.read(proc.stderr.fileno(), 4096)
            if not chunk:
                break
            seen += chunk
        assert b" s in " in seen, seen
        proc.send_signal(signum)
        stdout, stderr = proc.communicate(timeout=30)
    finally:
        proc.kill()
    assert proc.returncode == 0, stderr
    text = stdout.decode()
    produced = int(text.split("done: ")[1].split(" samples out")[0].split()[-1])
    assert 0 < produced < 4 * 22050  # stopped early, with what was produced
    lead = int(text.split("after ")[1].split(" samples of silence")[0])  # put sample s at the latency
    written = lead + produced
    assert sf.info(str(out)).frames == written
    with wave.open(str(out)) as w:
        assert w.getnframes() == written
    rate, data = wavfile.read(str(out))
    assert rate == 22050 and data.size == written and not np.any(data[:lead])
    _only(tmp_path, "out.wav")


@pytest.mark.parametrize("command", ["reconstruct", "stream"])
def test_3_the_output_may_not_be_the_input(audio, tmp_path, capsys, command):
    source = tmp_path / "a.wav"
    source.write_bytes((audio / "speech.wav").read_bytes())
    before = source.read_bytes()
    argv = (
        ["reconstruct", source, "-o", source, "--iterations", "2"]
        if command == "reconstruct"
        else ["stream", "-i", source, "-o", source, "--method", "rtpghi"]
    )
    rc, err = _cli(argv, capsys)
    assert rc == 1
    _one_line_error(err, command, f"{source}: is also the input; write the audio to another file")
    assert source.read_bytes() == before
    _only(tmp_path, "a.wav")


@pytest.fixture
def file_size_limit():
    """Writes beyond 20 kB fail as on a full disk (EFBIG instead of ENOSPC; the same code path)."""
    previous = signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)

    def limit() -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (20_000, hard))

    yield limit
    resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))
    signal.signal(signal.SIGXFSZ, previous)


@pytest.mark.parametrize("command", ["reconstruct", "stream"])
def test_6_a_full_disk_is_one_line_and_leaves_the_existing_file(
    audio, tmp_path, capsys, file_size_limit, command
):
    out = tmp_path / "out.wav"
    out.write_bytes(OLD_TAKE)
    argv = (
        ["reconstruct", audio / "speech.wav", "-o", out, "--iterations", "2"]
        if command == "reconstruct"
        else ["stream", "-i", audio / "speech.wav", "-o", out, "--method", "rtpghi"]
    )
    assert _cli(argv, capsys)[0] == 0  # compiled and cached before the limit (only the output grows)
    out.write_bytes(OLD_TAKE)
    file_size_limit()
    rc, err = _cli(argv, capsys)
    assert rc == 1
    _one_line_error(err, command, f"{out}: cannot write: File too large")
    assert out.read_bytes() == OLD_TAKE
    _only(tmp_path, "out.wav")


def test_10_stream_says_how_many_samples_it_clipped(audio, tmp_path, capsys):
    out = tmp_path / "loud.wav"
    argv = ["stream", "-i", audio / "loud.wav", "-o", out, "--method", "rtpghi", "--format", "PCM_16"]
    rc, err = _cli(argv, capsys)  # integer samples: a float input would give a float file, unclipped
    assert rc == 0
    note = [line for line in err.splitlines() if "clipped" in line]
    assert len(note) == 1 and note[0].startswith("note: clipped ")
    assert note[0].endswith(f"samples to [-1, 1] in {out}")
    clipped = int(note[0].split()[2])
    y, _ = sf.read(str(out))
    assert 0 < clipped <= np.count_nonzero(np.abs(y) >= 32767 / 32768)


def test_10_stream_refuses_a_silent_input(audio, tmp_path, capsys):
    out = tmp_path / "out.wav"
    out.write_bytes(OLD_TAKE)
    rc, err = _cli(["stream", "-i", audio / "silent.wav", "-o", out, "--method", "rtpghi"], capsys)
    assert rc == 1
    _one_line_error(err, "stream", "silent.wav: the audio is silent; there is no magnitude to reconstruct")
    assert out.read_bytes() == OLD_TAKE


@pytest.mark.parametrize(
    "output, message",
    [
        ("folder", "folder: is a folder; give a file name for the audio"),
        ("x.flac", "x.flac: audio files are written as WAV only; name the output FILE.wav"),
        ("folder/take", "take: audio files are written as WAV only"),
    ],
)
def test_10_stream_never_takes_a_file_name_for_a_device(audio, tmp_path, capsys, output, message):
    (tmp_path / "folder").mkdir()
    argv = ["stream", "-i", audio / "speech.wav", "-o", tmp_path / output, "--method", "rtpghi"]
    rc, err = _cli(argv, capsys)
    assert rc == 1
    _one_line_error(err, "stream", message)
    _only(tmp_path, "folder")
    _only(tmp_path / "folder")


@pytest.fixture
def display(monkeypatch):
    """A display as far as `phasefold demo` and `gui` can tell (Qt renders off screen)."""
    pytest.importorskip("pyqtgraph")
    monkeypatch.setenv("QT_QPA_PLATFORM", "offscreen")
    import phasefold.gui.app

    monkeypatch.setattr(phasefold.gui.app, "has_display", lambda: True)


def test_10_demo_writes_its_output_file_even_with_a_display(display, tmp_path, capsys):
    out = tmp_path / "demo.wav"
    rc, err = _cli(["demo", "-m", "rtpghi", "-o", out], capsys)
    assert rc == 0 and "the output is a file: streaming without the window" in err
    assert sf.info(str(out)).frames > 5 * 22050
    rc, err = _cli(["gui", "-m", "rtpghi", "-o", out], capsys)
    assert rc == 1
    _one_line_error(err, "gui", "the window plays to a sound card")


@pytest.mark.parametrize(
    "argv, message",
    [
        (["gui", "--quit-after", "1"], "cannot write the screenshot there (the folder"),
        (["demo", "--quit-after", "1"], "cannot write the screenshot there (the folder"),
        (["gui"], "--screenshot needs --quit-after"),
        (["demo", "--no-gui", "--quit-after", "1"], "--screenshot needs the window"),
    ],
)
def test_10_a_screenshot_that_cannot_be_written_is_refused_up_front(
    display, tmp_path, capsys, monkeypatch, argv, message
):
    read_only = tmp_path / "ro"
    read_only.mkdir()
    access = os.access
    monkeypatch.setattr(os, "access", lambda p, mode: Path(p) != read_only and access(p, mode))  # root too
    rc, err = _cli([*argv, "-m", "rtpghi", "--screenshot", read_only / "shot.png"], capsys)
    assert rc == 1
    _one_line_error(err, argv[0], message)
    _only(read_only)

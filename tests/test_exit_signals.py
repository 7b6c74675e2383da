"""SIGTERM, SIGHUP and SIGINT end a command with no partial output left and an existing output exactly as it
was, exit status 128 + the signal (issue 30); `stream` ends early with a complete file (tests/
test_faults_output.py); the GUI closes its window."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from phasefold.cli import main
from phasefold.engine.demo import demo_signal
from phasefold.engine.outputs import PART_SUFFIX, atomic_output, discard_partial_outputs
from phasefold.exit_signals import Terminated, calling_on_signals, exit_status, raising_signals

OLD_TAKE = b"RIFF yesterday's take, not a real WAV but it must survive"
SIGNALS = [(signal.SIGTERM, 143), (signal.SIGHUP, 129), (signal.SIGINT, 130)]
IDS = ["SIGTERM", "SIGHUP", "SIGINT"]

# `phasefold reconstruct` in a child process whose WAV writes are slowed (0.3 s a block): the signal comes
# while the .part file is being written, as on a slow disk; everything else is the real command
SLOW_WRITES = textwrap.dedent(
    """
    import sys, time
    import soundfile
    write = soundfile.SoundFile.write

    def slow(self, data):
        time.sleep(0.3)
        return write(self, data)

    soundfile.SoundFile.write = slow
    from phasefold.cli import main
    sys.exit(main(sys.argv[1:]))
    """
)


@pytest.fixture(scope="module")
def inputs(tmp_path_factory) -> Path:
    """long.wav: 10 s at 22050 Hz (4 blocks of writing); long44.wav: 20 s at 44.1 kHz (a note once read)."""
    folder = tmp_path_factory.mktemp("inputs")
    sf.write(folder / "long.wav", demo_signal(10.0), 22050, subtype="FLOAT")
    sf.write(folder / "long44.wav", demo_signal(20.0, sr=44100), 44100, subtype="PCM_16")
    return folder


def _popen(argv: list[str]) -> subprocess.Popen:
    """A child process that starts with the exit signals at their defaults (a test runner started under
    nohup or in the background would pass them on ignored, and ignored they stay)."""

    def defaults() -> None:
        for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            signal.signal(sig, signal.SIG_DFL)

    return subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, preexec_fn=defaults)


def _parts(folder: Path) -> list[Path]:
    return sorted(folder.glob(f"*{PART_SUFFIX}"))


def _wait_for(proc: subprocess.Popen, ready, what: str, seconds: float = 120.0) -> None:
    deadline = time.monotonic() + seconds
    while not ready():
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            out, err = proc.communicate()
            pytest.fail(f"never saw {what} (exit {proc.returncode}): {err.decode()[-2000:]}")
        time.sleep(0.02)


def _ended(proc: subprocess.Popen, signum: int, expected: int) -> str:
    proc.send_signal(signum)
    try:
        _, err = proc.communicate(timeout=60)
    finally:
        proc.kill()
    err = err.decode()
    assert proc.returncode == expected, err
    assert "Traceback" not in err
    said = "interrupted" if signum == signal.SIGINT else f"terminated by {signal.Signals(signum).name}"
    assert err.strip().splitlines()[-1] == f"phasefold reconstruct: {said}"
    return err


@pytest.mark.parametrize("signum, expected", SIGNALS, ids=IDS)
def test_a_signal_while_the_output_is_written_leaves_no_part_file(inputs, tmp_path, signum, expected):
    out = tmp_path / "out.wav"
    out.write_bytes(OLD_TAKE)
    argv = ["reconstruct", str(inputs / "long.wav"), "-o", str(out), "--iterations", "1"]
    proc = _popen([sys.executable, "-c", SLOW_WRITES, *argv])
    _wait_for(proc, lambda: _parts(tmp_path), "the .part file")
    assert proc.poll() is None  # still writing: the signal comes now
    _ended(proc, signum, expected)
    assert out.read_bytes() == OLD_TAKE
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.wav"]


@pytest.mark.parametrize("signum, expected", SIGNALS[:2], ids=IDS[:2])
def test_a_signal_during_a_long_reconstruction_ends_it(inputs, tmp_path, signum, expected):
    """The real command, unmodified: 20 s of audio, 2000 iterations, signalled once the input is read."""
    out = tmp_path / "out.wav"
    out.write_bytes(OLD_TAKE)
    argv = [
        "reconstruct",
        str(inputs / "long44.wav"),
        "-o",
        str(out),
        "--iterations",
        "2000",
        "--sr",
        "22050",
    ]
    proc = _popen([sys.executable, "-m", "phasefold", *argv])
    seen = b""
    while b"resampled" not in seen:  # the note says the input was read (--sr: resampled): the method runs
        chunk = os.read(proc.stderr.fileno(), 4096)
        assert chunk, seen
        seen += chunk
    time.sleep(0.5)
    t0 = time.monotonic()
    _ended(proc, signum, expected)
    assert time.monotonic() - t0 < 30  # long before 2000 iterations of 20 s are done
    assert out.read_bytes() == OLD_TAKE
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.wav"]


def test_a_signal_before_the_stream_runs_drops_its_file(inputs, tmp_path, capsys, monkeypatch):
    """The stream's WAV is open (its .part exists) when SIGTERM comes, before the player runs: in-process,
    a real signal, handled by main's handler."""
    from phasefold.engine.streaming import player

    init = player.Player.__init__

    def signalled(self, *args, **kwargs):
        assert _parts(tmp_path)  # the stream's file is open
        os.kill(os.getpid(), signal.SIGTERM)
        init(self, *args, **kwargs)

    monkeypatch.setattr(player.Player, "__init__", signalled)
    out = tmp_path / "out.wav"
    out.write_bytes(OLD_TAKE)
    before = signal.getsignal(signal.SIGTERM)
    rc = main(["stream", "-i", str(inputs / "long.wav"), "-o", str(out), "-m", "rtpghi"])
    assert rc == 143 and capsys.readouterr().err.strip().endswith("phasefold stream: terminated by SIGTERM")
    assert out.read_bytes() == OLD_TAKE and sorted(p.name for p in tmp_path.iterdir()) == ["out.wav"]
    assert signal.getsignal(signal.SIGTERM) is before  # main restores the handlers it replaced


def test_discard_partial_outputs_removes_what_is_being_written(tmp_path):
    target = tmp_path / "out.json"
    target.write_text("old")
    with pytest.raises(KeyboardInterrupt), atomic_output(target) as tmp:
        tmp.write_text("half")
        assert discard_partial_outputs() == [tmp] and not tmp.exists()
        assert discard_partial_outputs() == []
        raise KeyboardInterrupt
    assert target.read_text() == "old" and sorted(tmp_path.iterdir()) == [target]


def test_a_part_file_is_listed_before_it_exists(tmp_path, monkeypatch):
    """A signal raised as the file is created (here: by os.open itself) cannot leave it unlisted."""
    from phasefold.engine import outputs

    real_open = os.open

    def interrupted(*args, **kwargs):
        os.close(real_open(*args, **kwargs))
        raise Terminated(signal.SIGTERM)

    monkeypatch.setattr(outputs.os, "open", interrupted)
    with pytest.raises(Terminated), atomic_output(tmp_path / "out.wav"):
        pass
    monkeypatch.undo()
    assert len(_parts(tmp_path)) == 1
    discard_partial_outputs()
    assert list(tmp_path.iterdir()) == []


def test_the_handlers_raise_once_respect_ignored_signals_and_are_restored():
    assert [exit_status(Terminated(signal.SIGTERM)), exit_status(Terminated(signal.SIGHUP))] == [143, 129]
    assert exit_status(KeyboardInterrupt()) == 130 and str(Terminated(signal.SIGHUP)) == "SIGHUP"
    previous = signal.signal(signal.SIGHUP, signal.SIG_IGN)  # as under nohup
    try:
        before = signal.getsignal(signal.SIGTERM)
        with pytest.raises(Terminated) as raised, raising_signals():
            os.kill(os.getpid(), signal.SIGHUP)  # ignored: nohup's wish holds
            time.sleep(0.05)
            try:
                os.kill(os.getpid(), signal.SIGTERM)
                time.sleep(1)
            finally:  # the cleanup a signal starts is not cut short by another one
                os.kill(os.getpid(), signal.SIGTERM)
                time.sleep(0.05)
        assert raised.value.signum == signal.SIGTERM
        assert signal.getsignal(signal.SIGTERM) is before
        assert signal.getsignal(signal.SIGHUP) is signal.SIG_IGN
    finally:
        signal.signal(signal.SIGHUP, previous)


def test_calling_on_signals_calls_back_from_the_main_thread_only():
    got: list[int] = []
    previous = signal.signal(signal.SIGHUP, signal.SIG_DFL)  # not as under nohup, whatever runs the tests
    try:
        with calling_on_signals(got.append):
            os.kill(os.getpid(), signal.SIGHUP)
            time.sleep(0.05)
    finally:
        signal.signal(signal.SIGHUP, previous)
    assert got == [signal.SIGHUP]
    seen: list[object] = []
    worker = threading.Thread(target=lambda: seen.append(raising_signals().__enter__()))
    worker.start()
    worker.join()
    assert seen == [None]  # no handler can be set there; nothing changes


def test_the_window_closes_on_sigterm(tmp_path, monkeypatch, capsys):
    """`phasefold gui`: an exception raised in a Qt callback aborts the process, so the window closes and
    the command exits with 143."""
    pytest.importorskip("pyqtgraph")
    monkeypatch.setenv("QT_QPA_PLATFORM", "offscreen")
    import phasefold.gui.app
    from phasefold.gui.main_window import MainWindow

    monkeypatch.setattr(phasefold.gui.app, "has_display", lambda: True)
    show = MainWindow.show

    def shown(self):
        show(self)
        threading.Timer(1.0, os.kill, (os.getpid(), signal.SIGTERM)).start()

    monkeypatch.setattr(MainWindow, "show", shown)
    t0 = time.monotonic()
    assert main(["gui", "-m", "rtpghi", "-o", "null"]) == 143
    assert time.monotonic() - t0 < 60
    assert capsys.readouterr().err.strip().endswith("phasefold gui: terminated by SIGTERM")


def test_a_long_stream_to_a_file_keeps_what_it_made_on_sigterm(inputs, tmp_path):
    """`stream` (unlike reconstruct) ends early with a complete file of what it produced, exit status 0."""
    out = tmp_path / "s.wav"
    argv = ["stream", "-i", str(inputs / "long.wav"), "-o", str(out), "--realtime", "-m", "rtpghi"]
    proc = _popen([sys.executable, "-m", "phasefold", *argv])
    _wait_for(proc, lambda: _parts(tmp_path), "the .part file")
    time.sleep(1.0)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    y, _ = sf.read(out)
    assert 0 < y.size < 10 * 22050 and np.all(np.isfinite(y))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["s.wav"]

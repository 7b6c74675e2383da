"""`phasefold reconstruct IN_DIR -o OUT_DIR`: a folder tree into a folder (phasefold.folder_runs).

The reference for every output is the single-file run of the same input (`phasefold reconstruct FILE -o
X.wav`, unchanged by the folder mode): each output of a folder run has its bytes, with one worker or two.
"""

from __future__ import annotations

import contextlib
import io
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from phasefold.cli import main
from phasefold.engine.demo import demo_signal
from phasefold.engine.inputs import save_magnitudes
from phasefold.engine.stft import SAMPLE_RATE, StftConfig, magnitude
from phasefold.folder_runs import Progress

OPTIONS = ["-m", "fgla", "--iterations", "3"]
#: relative input path -> relative output path
TREE = {"a.wav": "a.wav", "sub/b.flac": "sub/b.wav", "sub/deep/c.npz": "sub/deep/c.wav"}


def _run(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(["reconstruct", *map(str, argv)])
    return code, out.getvalue(), err.getvalue()


def _files(folder: Path) -> dict[str, bytes]:
    return {
        p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()
    }


@pytest.fixture
def tree(tmp_path) -> Path:
    folder = tmp_path / "in"
    (folder / "sub" / "deep").mkdir(parents=True)
    sf.write(folder / "a.wav", demo_signal(0.3), SAMPLE_RATE, subtype="PCM_16")
    sf.write(folder / "sub" / "b.flac", demo_signal(0.4), SAMPLE_RATE, subtype="PCM_16", format="FLAC")
    cfg, x = StftConfig(), demo_signal(0.35)
    save_magnitudes(
        folder / "sub" / "deep" / "c.npz", magnitude(x, cfg).astype(np.float32), cfg, length=x.size
    )
    (folder / "notes.txt").write_text("not an input\n")
    return folder


@pytest.fixture
def singles(tree, tmp_path) -> dict[str, bytes]:
    """The reference: each input through the single-file command."""
    made = {}
    for source, target in TREE.items():
        path = tmp_path / "single.wav"
        code, _, err = _run(tree / source, "-o", path, *OPTIONS)
        assert code == 0, err
        made[target] = path.read_bytes()
    return made


def test_the_tree_is_kept_and_each_file_is_the_single_file_run(tree, singles, tmp_path):
    out = tmp_path / "out"
    code, stdout, stderr = _run(tree, "-o", out, *OPTIONS)
    assert code == 0, stderr
    assert stderr == ""  # no progress bar where stderr is no terminal
    assert _files(out) == singles
    assert f"wrote 3 files under {out}" in stdout


def test_existing_outputs_are_skipped_and_overwrite_redoes_them(tree, singles, tmp_path):
    out = tmp_path / "out"
    assert _run(tree, "-o", out, *OPTIONS)[0] == 0
    (out / "a.wav").write_bytes(b"an older output")
    code, stdout, _ = _run(tree, "-o", out, *OPTIONS)
    assert code == 0
    assert "wrote 0 files" in stdout and "3 skipped" in stdout
    assert (out / "a.wav").read_bytes() == b"an older output"
    code, stdout, _ = _run(tree, "-o", out, *OPTIONS, "--overwrite")
    assert code == 0 and "wrote 3 files" in stdout and "skipped" not in stdout
    assert _files(out) == singles


def test_a_failing_file_is_named_and_the_others_are_written(tree, singles, tmp_path):
    (tree / "sub" / "broken.wav").write_text("this is not audio\n")
    out = tmp_path / "out"
    code, stdout, stderr = _run(tree, "-o", out, *OPTIONS)
    assert code == 1
    lines = stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("phasefold reconstruct: failed: ")
    assert str(tree / "sub" / "broken.wav") in lines[0] and "not a readable audio file" in lines[0]
    assert "1 failed" in stdout
    assert _files(out) == singles  # every other file written; nothing of the broken one, no .part


def test_two_workers_give_the_same_bytes_as_one(tree, singles, tmp_path):
    for jobs in ("1", "2"):
        out = tmp_path / f"out{jobs}"
        code, _, stderr = _run(tree, "-o", out, *OPTIONS, "--jobs", jobs)
        assert code == 0, stderr
        assert _files(out) == singles


def test_an_output_folder_inside_the_input_is_not_walked_into(tree, singles):
    out = tree / "made"
    code, stdout, _ = _run(tree, "-o", out, *OPTIONS)
    assert code == 0 and "wrote 3 files" in stdout
    code, stdout, _ = _run(tree, "-o", out, *OPTIONS)  # its outputs are not inputs of the second run
    assert code == 0 and "wrote 0 files" in stdout and "3 skipped" in stdout
    assert _files(out) == singles


@pytest.mark.parametrize(
    ("output", "words"),
    [
        ("out.wav", ("-o must name an output folder", "out.wav")),
        ("missing/out", ("does not exist",)),
        ("in", ("is the input folder",)),
        (None, ("give the output folder with -o",)),
    ],
)
def test_a_folder_with_a_wrong_output_is_refused_in_one_line(tree, tmp_path, output, words):
    before = sorted(tmp_path.rglob("*"))
    argv = [tree, *OPTIONS] if output is None else [tree, "-o", tmp_path / output, *OPTIONS]
    code, stdout, stderr = _run(*argv)
    assert code == 1 and stdout == ""
    lines = stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("phasefold reconstruct: error: ")
    assert all(word in lines[0] for word in words), lines[0]
    assert sorted(tmp_path.rglob("*")) == before


def test_two_inputs_of_one_output_are_refused(tree, tmp_path):
    sf.write(tree / "a.flac", demo_signal(0.3), SAMPLE_RATE, format="FLAC")
    code, _, stderr = _run(tree, "-o", tmp_path / "out", *OPTIONS)
    assert code == 1
    assert "would both be written to" in stderr and "a.flac" in stderr and "a.wav" in stderr
    assert not (tmp_path / "out").exists()


def test_one_reference_phase_for_a_folder_is_refused(tree, tmp_path):
    """--init-phase-from is the phase of one recording: a folder of inputs cannot share it."""
    code, _, stderr = _run(tree, "-o", tmp_path / "out", *OPTIONS, "--init-phase-from", tree / "a.wav")
    assert code == 1 and len(stderr.splitlines()) == 1
    assert "--init-phase-from is the phase of one recording" in stderr
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("jobs", ["65", "0"])
def test_jobs_out_of_range_are_refused(tree, tmp_path, jobs):
    with pytest.raises(SystemExit) if jobs == "0" else contextlib.nullcontext():
        code, _, stderr = _run(tree, "-o", tmp_path / "out", *OPTIONS, "--jobs", jobs)
        assert code == 1 and "limits.MAX_JOBS" in stderr and "--jobs" in stderr
    assert not (tmp_path / "out").exists()


def test_the_progress_count_without_tqdm_on_a_terminal(monkeypatch):
    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    shown = Terminal()
    monkeypatch.setattr(sys, "stderr", shown)
    monkeypatch.setitem(sys.modules, "tqdm", None)  # not installed
    progress = Progress(2)
    progress.update()
    progress.update()
    progress.close()
    assert shown.getvalue().split("\r")[1:3] == ["0/2 files", "1/2 files"]
    assert "2/2 files" in shown.getvalue()


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads the processes from /proc")
@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_a_signal_leaves_no_part_file_and_no_worker(tmp_path, sig):
    """SIGTERM to the command, or Ctrl-C (SIGINT to its process group), while two workers write."""
    folder = tmp_path / "in"
    folder.mkdir()
    for i in range(3):
        sf.write(folder / f"f{i}.wav", demo_signal(20.0), SAMPLE_RATE, subtype="PCM_16")
    out = tmp_path / "out"
    argv = [sys.executable, "-m", "phasefold", "reconstruct", folder, "-o", out, "-m", "fgla"]
    proc = subprocess.Popen(
        [*map(str, argv), "--iterations", "500", "--jobs", "2"],
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    start = time.monotonic()
    while not list(out.glob(".*.part")) and time.monotonic() - start < 120 and proc.poll() is None:
        time.sleep(0.05)
    assert list(out.glob(".*.part")), "no output was being written"
    if sig == signal.SIGINT:
        os.killpg(proc.pid, sig)
    else:
        proc.send_signal(sig)
    assert proc.wait(60) == 128 + sig
    stderr = proc.stderr.read()
    said = "interrupted" if sig == signal.SIGINT else "terminated by SIGTERM"
    assert stderr.strip() == f"phasefold reconstruct: {said}"
    assert not list(out.rglob("*.part"))
    time.sleep(1)  # the resource tracker ends once the command has
    assert _running_in_group(proc.pid) == [], "a worker outlived the command"


def _running_in_group(pgid: int) -> list[int]:
    """The processes of process group ``pgid`` still running (zombies left to an init that does not reap
    them are not running)."""
    running = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError):
            fields = stat.read_text().rsplit(")", 1)[1].split()
            if int(fields[2]) == pgid and fields[0] != "Z":
                running.append(int(stat.parent.name))
    return running

"""`phasefold reconstruct` in blocks (engine.blocks, engine.file_runs): the file it writes is the one the
whole signal held in memory gives (engine.inputs.load_measurements, engine.methods.reconstruct,
engine.outputs.write_wav), bit for bit, offline and ``--online``; its peak memory does not grow with the
input's length."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import soxr
from phasefold.cli import main
from phasefold.engine.blocks import AudioBlocks, Framer, StreamedFrames
from phasefold.engine.demo import demo_signal
from phasefold.engine.inputs import load_audio, load_measurements, save_magnitudes
from phasefold.engine.methods import get_method, reconstruct
from phasefold.engine.outputs import write_wav
from phasefold.engine.runners import OFFLINE_BLOCK_FRAMES
from phasefold.engine.stft import SAMPLE_RATE, StftConfig, magnitude
from phasefold.engine.streaming.offline import StreamedMethod


def _stereo48(path: Path, seconds: float) -> Path:
    """``seconds`` of the demo speech as a 48 kHz stereo PCM_16 WAV (the right channel delayed, quieter)."""
    x = soxr.resample(demo_signal(min(seconds, 20.0)), SAMPLE_RATE, 48000)
    x = np.tile(x, int(np.ceil(seconds * 48000 / x.size)))[: int(seconds * 48000)]
    sf.write(path, np.stack([x, 0.7 * np.roll(x, 240)], axis=1), 48000, subtype="PCM_16")
    return path


@pytest.fixture(scope="module")
def short_wav(tmp_path_factory) -> Path:
    return _stereo48(tmp_path_factory.mktemp("short") / "short.wav", 3.0)


@pytest.fixture(scope="module")
def long_wav(tmp_path_factory) -> Path:
    """15 s: longer than one segment (1024 frames, 11.9 s at hop 256)."""
    path = _stereo48(tmp_path_factory.mktemp("long") / "long.wav", 15.0)
    assert StftConfig().n_frames(int(15.0 * SAMPLE_RATE)) > OFFLINE_BLOCK_FRAMES
    return path


def test_audio_blocks_are_load_audios_samples(long_wav):
    x, notes = load_audio(long_wav)
    blocks = AudioBlocks(long_wav, block=10007)
    got = np.concatenate(list(blocks))
    assert got.shape == (x.size, 1) and blocks.notes == notes
    np.testing.assert_array_equal(got[:, 0], x)
    native = np.concatenate(list(AudioBlocks(long_wav, sample_rate=None, mixdown=False)))
    np.testing.assert_array_equal(native, sf.read(long_wav, dtype="float64")[0])


@pytest.mark.parametrize("hop", [256, 512])
def test_framer_gives_the_whole_signals_frames(hop):
    cfg = StftConfig(hop=hop)
    x = np.random.default_rng(hop).standard_normal(70001)
    blocks = [x[i : i + 3001] for i in range(0, x.size, 3001)]
    framer = Framer(cfg)
    pushed = [framer.push(block) for block in blocks] + [framer.finish()]
    np.testing.assert_array_equal(np.concatenate(pushed), magnitude(x, cfg))
    framer = Framer(cfg)
    framer.push(x[:10])
    assert framer.finish().shape[0] == cfg.n_frames(10) and framer.length == 10


def test_streamed_frames_let_go_of_what_was_read():
    mag = np.arange(40.0).reshape(20, 2)
    frames = StreamedFrames((mag[i : i + 3] for i in range(0, 20, 3)), 20)
    np.testing.assert_array_equal(frames.get(2, 9), mag[2:9])
    np.testing.assert_array_equal(frames.get(5, 20), mag[5:20])
    with pytest.raises(ValueError, match="let go"):
        frames.get(4, 6)


def _cli(*argv) -> None:
    assert main(["reconstruct", *map(str, argv)]) == 0


def _whole(
    path: Path, out: Path, method, n_iter: int, hop: int | None = None, rate: int | None = None
) -> None:
    """The reference: each channel's whole signal in memory, at the input's rate, then written (resampled
    whole to ``rate`` where given)."""
    mag, cfg, length, _, _, _ = load_measurements(path, hop, None, 0, sample_rate=None, mono=False)
    channels = [mag] if mag.ndim == 2 else list(mag)
    y = np.stack([reconstruct(method, m, cfg, n_iter, 0, length) for m in channels], axis=1)
    if rate is not None and rate != cfg.sample_rate:
        y = soxr.resample(y, cfg.sample_rate, rate, quality="HQ")
    write_wav(out, y, rate or cfg.sample_rate, "PCM_16")


@pytest.mark.parametrize(
    "which, hop",
    [("short_wav", None), ("long_wav", None), ("long_wav", 512)],
    ids=["short", "long", "hop512"],
)
def test_offline_file_run_is_the_whole_signal_run(request, tmp_path, which, hop):
    """One segment (short) and several (long, whose segments read streamed frames): the same bytes."""
    path = request.getfixturevalue(which)
    _cli(path, "-o", tmp_path / "blocks.wav", "--iterations", 5, *(["--hop", hop] if hop else []))
    _whole(path, tmp_path / "whole.wav", get_method("fgla"), 5, hop)
    assert (tmp_path / "blocks.wav").read_bytes() == (tmp_path / "whole.wav").read_bytes()


def test_online_file_run_is_the_whole_signal_stream(tmp_path, long_wav):
    _cli(long_wav, "-o", tmp_path / "blocks.wav", "--online", "--step-iterations", 2, "--lookahead", 2)
    _whole(long_wav, tmp_path / "whole.wav", StreamedMethod.build("fgla", 2, 1, 2), 0)
    assert (tmp_path / "blocks.wav").read_bytes() == (tmp_path / "whole.wav").read_bytes()


def test_a_npz_at_another_rate_is_resampled_as_it_is_written(tmp_path):
    cfg = StftConfig(sample_rate=16000)
    x = soxr.resample(demo_signal(14.0), SAMPLE_RATE, 16000)
    save_magnitudes(tmp_path / "m.npz", magnitude(x, cfg), cfg, x.size)
    run = (tmp_path / "m.npz", "-o", tmp_path / "blocks.wav", "--iterations", 3, "--format", "PCM_16")
    _cli(*run, "--sr", SAMPLE_RATE)
    _whole(tmp_path / "m.npz", tmp_path / "whole.wav", get_method("fgla"), 3, rate=SAMPLE_RATE)
    assert (tmp_path / "blocks.wav").read_bytes() == (tmp_path / "whole.wav").read_bytes()
    _cli(*run)  # at its own rate
    _whole(tmp_path / "m.npz", tmp_path / "whole.wav", get_method("fgla"), 3)
    assert (tmp_path / "blocks.wav").read_bytes() == (tmp_path / "whole.wav").read_bytes()


def test_a_method_that_fails_midway_leaves_nothing(tmp_path, long_wav, monkeypatch):
    """NaN in a later segment: one error, the output written so far deleted, an existing file kept."""
    from phasefold.engine import runners

    real = runners.span_blocks

    def failing(*args, **kwargs):
        for i, y in enumerate(real(*args, **kwargs)):
            yield y if i == 0 else np.full_like(y, np.nan)

    monkeypatch.setattr(runners, "span_blocks", failing)
    out = tmp_path / "out.wav"
    out.write_bytes(b"keep")
    assert main(["reconstruct", str(long_wav), "-o", str(out), "--iterations", "1"]) == 1
    assert out.read_bytes() == b"keep" and sorted(p.name for p in tmp_path.iterdir()) == ["out.wav"]


_PEAK = (
    "import resource, subprocess, sys; r = subprocess.run(sys.argv[1:], capture_output=True); "
    "sys.stderr.buffer.write(r.stderr); "
    "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss); sys.exit(r.returncode)"
)


def _peak_mb(path: Path, out: Path, *options: str) -> float:
    """Peak resident memory (MB) of `phasefold reconstruct` in a fresh process."""
    cmd = [sys.executable, "-m", "phasefold", "reconstruct", str(path), "-o", str(out), *options]
    res = subprocess.run([sys.executable, "-c", _PEAK, *cmd], capture_output=True, text=True)
    assert res.returncode == 0, res.stderr
    return int(res.stdout.strip().splitlines()[-1]) / 1024


@pytest.fixture(scope="module")
def one_and_four_minutes(tmp_path_factory) -> tuple[Path, Path]:
    folder = tmp_path_factory.mktemp("flat")
    return _stereo48(folder / "one.wav", 60.0), _stereo48(folder / "four.wav", 240.0)


@pytest.mark.parametrize(
    "options, slack",
    [
        (("--iterations", "1", "--sr", "22050", "--mono"), 16.0),
        (("--online", "--step-iterations", "1", "--sr", "22050", "--mono"), 16.0),
        (("--iterations", "1"), 32.0),
        (("--online", "--step-iterations", "1"), 16.0),
    ],
    ids=["offline-22050-mono", "online-22050-mono", "offline", "online"],
)
def test_peak_memory_does_not_grow_with_the_length(tmp_path, one_and_four_minutes, options, slack):
    """1 and 4 minutes of 48 kHz stereo, mixed down at 22050 Hz or at its own rate and channels: the longer
    one's peak within ``slack`` MB of the shorter one's (whole signals would differ by over 150 MB: 3
    minutes more at 22050 Hz in float64 is 32 MB, its float32 magnitudes 70 MB, the 48 kHz stereo read
    138 MB; at 48 kHz stereo the float32 magnitudes of both channels alone are 138 MB). Offline at 48 kHz
    stereo, glibc's heap settles higher over the first minutes and then stays (measured 446 / 471 / 473 MB
    at 1 / 4 / 10 minutes, the traced numpy peak 304 MB at both lengths; 381 / 391 MB with
    MALLOC_MMAP_THRESHOLD_=131072): hence its 32 MB."""
    peaks = [_peak_mb(p, tmp_path / "out.wav", *options) for p in one_and_four_minutes]
    assert peaks[1] - peaks[0] < slack, peaks


def test_segments_rebuild_a_long_signal_as_well_as_one_run():
    """30 s (2587 frames: three segments of the shipped 1024) against one run over the whole signal: the
    spectral convergence within 0.3 dB (measured on the test split joined into one signal, 100 iterations:
    -31.03 against -31.02 dB, PESQ 4.324 both; docs/results.md, "Memory (issue 30)")."""
    from phasefold.engine import runners
    from phasefold.engine.evaluation import spectral_convergence_db
    from phasefold.engine.registry import lookup

    cfg = StftConfig()
    x = demo_signal(30.0)
    mag = magnitude(x, cfg)
    step, _ = runners.window_step(lookup("fgla"), cfg, 30)
    whole = runners.run_span(step, mag, cfg, 0, x.size, block=mag.shape[0])
    segments = runners.run_span(step, mag, cfg, 0, x.size)
    assert mag.shape[0] > 2 * OFFLINE_BLOCK_FRAMES
    sc_whole, sc_segments = (spectral_convergence_db(y, mag, cfg) for y in (whole, segments))
    assert abs(sc_segments - sc_whole) < 0.3, (sc_whole, sc_segments)
    assert not np.array_equal(whole, segments)  # the segments did run

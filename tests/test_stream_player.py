"""Player: source -> stream -> sink on a worker thread, callbacks, pacing, errors, pause."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest
from phasefold.engine.errors import InputError
from phasefold.engine.stft import StftConfig, magnitude
from phasefold.engine.streaming import ArraySource, NullSink, Player, Stream, WavSink


def _mag(seconds: float = 0.5) -> tuple[np.ndarray, np.ndarray]:
    t = np.arange(int(seconds * 22050)) / 22050
    x = 0.3 * np.sin(2 * np.pi * 220 * t) * np.sin(2 * np.pi * 3 * t)
    return magnitude(x, StftConfig()), x


def test_worker_thread_callbacks_and_wav_sink(tmp_path):
    import soundfile as sf

    cfg = StftConfig()
    mag, x = _mag()
    frames, samples, stats, done = [], [], [], threading.Event()
    sink = WavSink(tmp_path / "o.wav", cfg.sample_rate)
    player = Player(
        ArraySource(mag, cfg, reference=x),
        Stream.open("rtpghi", cfg, lookahead=1, block=4),
        sink,
        on_frames=frames.append,
        on_samples=samples.append,
        on_stats=stats.append,
        on_finished=lambda s: done.set(),
        stats_interval=0.0,
    )
    player.start()
    assert done.wait(60) and player.join(5)
    assert sum(f.shape[0] for f in frames) == mag.shape[0]
    assert all(f.shape[0] == 4 for f in frames[:-1])
    total = sum(s.size for s in samples)
    assert total == (mag.shape[0] + 1 + cfg.overlap - 1) * cfg.hop
    # B H = 4 H: the file starts with the silence before the first block plays
    assert player.file_lead == 4 * cfg.hop
    assert sink.samples_written == player.file_lead + total == sf.info(str(tmp_path / "o.wav")).frames
    assert stats[-1]["frames_in"] == mag.shape[0] and stats[-1]["latency_ms"] == pytest.approx(
        1000 * 2048 / 22050
    )
    assert player.summary["error"] is None


def test_realtime_pacing_and_stop():
    cfg = StftConfig()
    mag, _ = _mag(2.0)
    player = Player(
        ArraySource(mag, cfg, realtime=True), Stream.open("rtpghi-0", cfg, lookahead=0), NullSink(22050)
    )
    t0 = time.perf_counter()
    player.start()
    time.sleep(0.3)
    player.stop()
    assert player.join(10)
    elapsed = time.perf_counter() - t0
    fed = player.summary["frames_in"]
    assert 0 < fed < mag.shape[0]  # stopped early ...
    assert fed * cfg.hop / cfg.sample_rate <= elapsed + 0.05  # ... and never ran ahead of real time


def test_pause_holds_the_stream():
    cfg = StftConfig()
    mag, _ = _mag(1.0)
    player = Player(
        ArraySource(mag, cfg, realtime=True), Stream.open("rtpghi-0", cfg, lookahead=0), NullSink(22050)
    )
    player.pause()
    player.start()
    time.sleep(0.2)
    assert player.paused and player.stream.stats.frames_in <= 1
    player.resume()
    assert player.join(10) and player.summary["frames_in"] == mag.shape[0]


def test_bad_frame_from_a_source_stops_cleanly():
    cfg = StftConfig()
    mag, _ = _mag()
    mag[20, 5] = np.nan
    errors, samples = [], []
    player = Player(
        ArraySource(mag, cfg),
        Stream.open("rtpghi", cfg, lookahead=1),
        NullSink(22050),
        on_error=errors.append,
        on_samples=samples.append,
    )
    summary = player.run()
    assert isinstance(errors[0], InputError) and "NaN" in summary["error"]
    assert sum(s.size for s in samples) == 20 * cfg.hop  # the frames before the bad one were played


def test_mismatched_settings_are_refused():
    mag, _ = _mag()
    with pytest.raises(InputError, match="hop"):
        Player(
            ArraySource(mag, StftConfig()),
            Stream.open("rtpghi", StftConfig(hop=512), lookahead=1),
            NullSink(22050),
        )
    player = Player(
        ArraySource(mag, StftConfig()), Stream.open("rtpghi", StftConfig(), lookahead=1), NullSink(22050)
    )
    with pytest.raises(InputError, match="same look-ahead"):
        player.switch(Stream.open("rtpghi", StftConfig(), lookahead=2))


def test_switch_to_a_method_without_shared_state_keeps_the_sample_count():
    cfg = StftConfig()
    mag, _ = _mag(1.0)
    out, blocks = [], [0]
    player = Player(
        ArraySource(mag, cfg), Stream.open("rtpghi", cfg, lookahead=2), NullSink(22050), on_samples=out.append
    )
    target = Stream.open("rtisi-la", cfg, lookahead=2, iterations=3)

    def on_frames(frames):
        blocks[0] += 1
        if blocks[0] == 30:
            player.switch(target)

    player.on_frames = on_frames
    player.run()
    y = np.concatenate(out)
    assert player.stream is target and y.size == (mag.shape[0] + 2 + cfg.overlap - 1) * cfg.hop
    # aligned: the switched output is as consistent with the magnitudes as an unswitched RTISI-LA run
    ref = Stream.open("rtisi-la", cfg, lookahead=2, iterations=3)
    alone = np.concatenate([ref.push(mag), ref.flush()])

    def sc(z):  # over frames well after the switch (block 30) and its transient
        z = z[cfg.pad + 2 * cfg.hop :][:22050]
        m = mag[40:80]
        return 20 * np.log10(np.linalg.norm(magnitude(z, cfg)[40:80] - m) / np.linalg.norm(m))

    assert sc(y) < sc(alone) + 3.0
    assert sc(y) < -10.0


def test_missing_portaudio_falls_back_and_says_so(tmp_path, monkeypatch):
    import sys

    from phasefold.engine.errors import DeviceError
    from phasefold.engine.streaming import MicSource, NullSink, WavSink, open_sink

    monkeypatch.setitem(sys.modules, "sounddevice", None)  # import fails as without PortAudio
    sink, notes = open_sink("default", 22050, fallback=tmp_path / "f.wav")
    assert isinstance(sink, WavSink) and "PortAudio is not available" in notes[0] and "f.wav" in notes[0]
    sink.close()
    sink, notes = open_sink("default", 22050)
    assert isinstance(sink, NullSink) and "null sink" in notes[0]
    with pytest.raises(DeviceError, match="no microphone"):
        next(MicSource(StftConfig()).blocks(1))

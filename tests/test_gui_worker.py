"""The GUI's streaming worker without a window: what reaches the sink (A/B, volume), output frames, pacing."""

import time

import numpy as np
import pytest
import soundfile as sf
from phasefold.engine.stft import StftConfig, magnitude
from phasefold.engine.streaming import ArraySource, Stream, WavSink
from phasefold.gui.events import FinishedEvent, FramesEvent
from phasefold.gui.output_track import OutputTrack, SampleBuffer
from phasefold.gui.worker import StreamWorker

CFG = StftConfig()


def _signal(seconds: float = 1.0) -> np.ndarray:
    t = np.arange(int(seconds * CFG.sample_rate)) / CFG.sample_rate
    return 0.4 * np.sin(2 * np.pi * 330 * t) * np.sin(2 * np.pi * 2 * t) + 0.2 * np.sin(2 * np.pi * 1200 * t)


def _run(tmp_path, original: bool, volume: float, lookahead: int = 2):
    x = _signal()
    source = ArraySource(magnitude(x, CFG), CFG, reference=x, name="test")
    stream = Stream.open("rtpghi", CFG, lookahead=lookahead)
    path = tmp_path / f"sink-{original}.wav"
    worker = StreamWorker(
        source, stream, WavSink(path, CFG.sample_rate, subtype="FLOAT"), volume=volume, original=original
    )
    t0 = time.perf_counter()
    worker.start()
    assert worker.join(30)
    events = []
    while not worker.events.empty():
        events.append(worker.events.get())
    played, _ = sf.read(path, dtype="float64")
    return x, worker, events, played, time.perf_counter() - t0


@pytest.mark.parametrize("original", [False, True])
def test_sink_gets_the_reconstruction_or_the_aligned_original_at_the_volume(tmp_path, original):
    x, worker, events, played, _ = _run(tmp_path, original, volume=0.5)
    out = worker.output.buffer.view()
    assert played.size == out.size  # every sample the stream produced reached the sink
    if original:
        offset = CFG.pad + 2 * CFG.hop  # offline sample s is output sample s + P + L H
        expected = np.zeros(out.size)
        expected[offset : offset + x.size] = 0.5 * x
    else:
        expected = 0.5 * out
    np.testing.assert_allclose(played, expected, atol=1e-6)
    assert isinstance(events[-1], FinishedEvent) and events[-1].completed


def test_frames_events_cover_every_frame_once_and_pacing_is_live(tmp_path):
    x, worker, events, _, wall = _run(tmp_path, original=False, volume=1.0)
    n = magnitude(x, CFG).shape[0]
    for which in ("input", "output"):
        firsts = [(e.first, e.db.shape[0]) for e in events if isinstance(e, FramesEvent) and e.which == which]
        covered = [f + i for f, k in firsts for i in range(k)]
        assert covered == list(range(n)), which
    # frames are released at live pace (a quarter second early at most), not as fast as possible
    assert wall > n * CFG.hop / CFG.sample_rate - 0.3
    # output frame m is the reconstruction of input frame m
    out_db = np.concatenate([e.db for e in events if isinstance(e, FramesEvent) and e.which == "output"])
    in_db = np.concatenate([e.db for e in events if isinstance(e, FramesEvent) and e.which == "input"])
    corr = [np.corrcoef(out_db[5 + k : -5 + k].ravel(), in_db[5:-5].ravel())[0, 1] for k in (-2, -1, 0, 1, 2)]
    assert np.argmax(corr) == 2 and corr[2] > 0.9


def test_output_track_frames_match_the_offline_stft():
    rng = np.random.default_rng(1)
    lookahead = 3
    track = OutputTrack(CFG, CFG.pad + lookahead * CFG.hop, lookahead)
    y = rng.standard_normal(40 * CFG.hop)
    frames = []
    for chunk in np.array_split(y, 13):  # uneven chunks, as blocks and the flush deliver them
        got = track.add(chunk)
        if got is not None:
            frames.append(got)
    assert frames[0][0] == 0  # frames before the stream's start are not shown
    assert [f for f, _ in frames] == list(np.cumsum([0] + [m.shape[0] for _, m in frames[:-1]]))
    mags = np.concatenate([m for _, m in frames])
    # output index a = padded index a - L H: frame m of the output is the padded frame m + L
    from phasefold.engine.stft import analyze

    expected = np.abs(analyze(y[: CFG.span(mags.shape[0] + lookahead)].astype(np.float64), CFG))[lookahead:]
    np.testing.assert_allclose(mags, expected, atol=1e-5)


def test_sample_buffer_grows_without_losing_samples():
    buf = SampleBuffer(capacity=4)
    parts = [np.arange(k, dtype=np.float32) for k in (3, 5, 1, 17)]
    for p in parts:
        buf.append(p)
    np.testing.assert_array_equal(buf.view(), np.concatenate(parts))

"""The audio ring (engine.streaming.ring) and the clocked device model built on it, on scripted schedules and
a fake clock: exact under-run counts, every sample in order, wrap-around, a producer waiting while full."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest
from phasefold.engine.stft import StftConfig, magnitude
from phasefold.engine.streaming import (
    ArraySource,
    AudioRing,
    ClockedSink,
    NullSink,
    Player,
    Stream,
    WavSink,
)


class FakeClock:
    """Seconds that pass only in ``sleep`` (or ``advance``); ``on_sleep`` runs after each sleep."""

    def __init__(self, on_sleep=None) -> None:
        self.now = 0.0
        self.sleeps = 0
        self.on_sleep = on_sleep

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds
        self.sleeps += 1
        if self.on_sleep is not None:
            self.on_sleep()

    def advance(self, seconds: float) -> None:
        self.now += seconds


class Reader:
    """The consumer: reads blocks of ``frames``, keeps what it played and how much came from the ring."""

    def __init__(self, ring: AudioRing, frames: int) -> None:
        self.ring = ring
        self.out = np.empty(frames, dtype=np.float32)
        self.played: list[np.ndarray] = []
        self.found: list[int] = []

    def __call__(self, reads: int = 1) -> None:
        for _ in range(reads):
            self.found.append(self.ring.read(self.out))
            self.played.append(self.out.copy())

    @property
    def audio(self) -> np.ndarray:
        return np.concatenate(self.played) if self.played else np.zeros(0, dtype=np.float32)


def ramp(start: int, n: int) -> np.ndarray:
    """Distinct non-zero samples: sample i of the stream is i + 1."""
    return np.arange(start + 1, start + n + 1, dtype=np.float32)


def test_a_steady_producer_counts_no_underrun():
    ring = AudioRing(64, prefill=16)
    reader = Reader(ring, 8)
    ring.write(ramp(0, 16))
    for k in range(20):
        reader()
        ring.write(ramp(16 + 8 * k, 8))
    assert ring.underruns == 0
    np.testing.assert_array_equal(reader.audio, ramp(0, 160))


@pytest.mark.parametrize("stalled", [1, 2, 7])
def test_one_stall_is_one_underrun(stalled):
    # the producer writes 4 blocks and keeps one block ahead, stalls for ``stalled`` callbacks, resumes
    ring = AudioRing(64, prefill=16)
    reader = Reader(ring, 8)
    ring.write(ramp(0, 32))
    reader(4)
    assert ring.underruns == 0
    reader(stalled)  # the ring is empty: each of these reads plays a whole block of zeros
    assert ring.underruns == 1
    ring.write(ramp(32, 32))
    reader(4)
    ring.write(ramp(64, 16))
    reader(2)
    assert ring.underruns == 1
    zeros = np.zeros(8 * stalled, dtype=np.float32)
    np.testing.assert_array_equal(reader.audio, np.concatenate([ramp(0, 32), zeros, ramp(32, 48)]))


def test_two_stalls_are_two_underruns():
    ring = AudioRing(64, prefill=16)
    reader = Reader(ring, 8)
    ring.write(ramp(0, 16))
    reader(2)
    reader(3)  # first stall
    ring.write(ramp(16, 16))
    reader(2)
    reader(1)  # second stall
    ring.write(ramp(32, 8))
    reader(1)
    assert ring.underruns == 2
    assert reader.found == [8, 8, 0, 0, 0, 8, 8, 0, 8]


def test_a_stall_within_the_prefill_counts_nothing():
    ring = AudioRing(64, prefill=24)
    reader = Reader(ring, 8)
    ring.write(ramp(0, 16))  # less than the prefill: the reads play silence and take nothing
    reader(5)
    assert reader.found == [0] * 5 and ring.buffered == 16
    ring.write(ramp(16, 8))
    reader(3)
    assert ring.underruns == 0
    np.testing.assert_array_equal(reader.audio, np.concatenate([np.zeros(40, np.float32), ramp(0, 24)]))


def test_a_partial_block_is_counted_once():
    ring = AudioRing(64, prefill=16)
    reader = Reader(ring, 8)
    ring.write(ramp(0, 19))
    reader(2)
    reader()  # finds 3 of 8: plays them, then 5 zeros, and starts a gap
    assert reader.found[-1] == 3 and ring.underruns == 1
    np.testing.assert_array_equal(reader.played[-1], [17, 18, 19, 0, 0, 0, 0, 0])
    ring.write(ramp(19, 2))
    reader()  # still short (2 of 8): the same gap
    ring.write(ramp(21, 16))
    reader(2)  # served in full: the gap is over
    assert ring.underruns == 1
    ring.write(ramp(37, 5))
    reader()  # short again: a new gap
    assert ring.underruns == 2


def test_a_seeded_schedule_delivers_every_sample_in_order_and_counts_each_gap_once():
    rng = np.random.default_rng(3)
    ring = AudioRing(50, prefill=20)
    reader = Reader(ring, 7)
    written = 0
    counts = []
    for _ in range(3000):
        if rng.random() < 0.5:
            n = int(rng.integers(0, 20))
            n = min(n, ring.capacity - ring.buffered)
            ring.write(ramp(written, n))
            written += n
        else:
            before = ring.underruns
            reader()
            counts.append(ring.underruns - before)
    # the samples found are the stream in order; everything else the reader played is zeros
    found = np.concatenate([p[:n] for p, n in zip(reader.played, reader.found, strict=True)])
    np.testing.assert_array_equal(found, ramp(0, found.size))
    assert all((p[n:] == 0).all() for p, n in zip(reader.played, reader.found, strict=True))
    assert found.size + ring.buffered == written
    # one under-run exactly at the first starved read of each gap (after the prefill), none elsewhere
    starved = [n < 7 for n in reader.found]
    primed = next(i for i, n in enumerate(reader.found) if n > 0)
    expected = [int(i >= primed and s and not (i > primed and starved[i - 1])) for i, s in enumerate(starved)]
    assert counts == expected and set(counts) == {0, 1}
    assert ring.underruns == sum(expected) > 10


def test_wrap_around_at_the_end_of_the_ring():
    ring = AudioRing(10)
    reader = Reader(ring, 7)
    ring.write(ramp(0, 3))
    written = 3
    for _ in range(29):  # 3 in, 4 in, 7 out: positions cross the end of the ring again and again
        for n in (3, 4):
            ring.write(ramp(written, n))
            written += n
        reader()
    np.testing.assert_array_equal(reader.audio, ramp(0, reader.audio.size))
    whole = np.empty(10, dtype=np.float32)  # a read of the whole capacity, across the end, is one copy
    ring.write(ramp(written, 10 - ring.buffered))
    assert ring.consumed % 10 == 3 and ring.read(whole) == 10
    np.testing.assert_array_equal(whole, ramp(reader.audio.size, 10))
    assert ring.underruns == 0


def test_the_producer_waits_while_full():
    ring = AudioRing(16, poll_s=0.01)
    clock = FakeClock()
    ring.clock, ring.sleep = clock, clock.sleep
    reader = Reader(ring, 4)
    clock.on_sleep = reader  # the device reads one block while the producer sleeps
    fulls = []
    ring.write(ramp(0, 40), on_full=lambda: fulls.append(ring.buffered))
    # 16 fit at once; the other 24 go in 4 at a time, one wait each
    assert clock.sleeps == 6 and clock.now == pytest.approx(0.06) and fulls == [16] * 6
    assert ring.buffered == 16 and ring.consumed == 24
    reader(4)
    np.testing.assert_array_equal(reader.audio, ramp(0, 40))


def test_an_exception_from_on_full_ends_the_wait():
    ring = AudioRing(8)

    def dead() -> None:
        raise RuntimeError("the device stopped")

    with pytest.raises(RuntimeError, match="device stopped"):
        ring.write(ramp(0, 9), on_full=dead)
    assert ring.buffered == 8


def test_the_producer_waits_for_a_reader_thread():
    ring = AudioRing(64, prefill=32, poll_s=0.001)
    reader = Reader(ring, 16)
    total = 64 * 20
    stop = threading.Event()

    def consume() -> None:
        while not stop.is_set():
            reader()
            time.sleep(0.0005)

    thread = threading.Thread(target=consume, daemon=True)
    thread.start()
    ring.write(ramp(0, total))  # cannot return before the reader has taken all but one ring's worth
    assert ring.consumed >= total - ring.capacity
    ring.finish()
    assert ring.drain(5.0, lambda: True)
    stop.set()
    thread.join(5.0)
    found = np.concatenate([p[:n] for p, n in zip(reader.played, reader.found, strict=True)])
    np.testing.assert_array_equal(found, ramp(0, total))


def test_the_end_of_the_audio_is_no_underrun_and_drain_waits_on_the_clock():
    ring = AudioRing(64, prefill=32, poll_s=0.01)
    clock = FakeClock()
    ring.clock, ring.sleep = clock, clock.sleep
    reader = Reader(ring, 8)
    ring.write(ramp(0, 12))  # under the prefill
    ring.finish()  # ... but the last samples: they play out, short reads count nothing
    clock.on_sleep = reader
    assert ring.drain(1.0, lambda: True)
    assert reader.found == [8, 4] and ring.underruns == 0 and clock.now == pytest.approx(0.02)
    stuck = AudioRing(64, poll_s=0.01, clock=clock, sleep=clock.sleep)
    stuck.write(ramp(0, 8))
    stuck.finish()
    clock.on_sleep = None
    assert not stuck.drain(0.5, lambda: True) and clock.now == pytest.approx(0.52)  # nobody reads
    assert not stuck.drain(10.0, lambda: False) and clock.now == pytest.approx(0.52)  # the consumer stopped


def test_pause_ends_a_gap_and_waits_for_the_prefill_again():
    ring = AudioRing(64, prefill=16)
    reader = Reader(ring, 8)
    ring.write(ramp(0, 16))
    reader(3)
    assert ring.underruns == 1
    ring.pause()  # the device stopped mid-gap
    ring.write(ramp(16, 8))
    reader(2)  # under the prefill again: silence, nothing taken, nothing counted
    ring.write(ramp(24, 16))
    reader(3)
    assert reader.found == [8, 8, 0, 0, 0, 8, 8, 8] and ring.underruns == 1


def test_underruns_cannot_be_assigned():
    with pytest.raises(AttributeError):
        AudioRing(8).underruns = 3
    with pytest.raises(AttributeError):
        NullSink(22050).underruns = 3
    with pytest.raises(AttributeError):
        ClockedSink(22050).underruns = 3


def test_a_ring_refuses_a_prefill_it_cannot_hold():
    with pytest.raises(ValueError, match="prefill"):
        AudioRing(8, prefill=9)


# -- the clocked device model ------------------------------------------------------------------------

RATE, BLOCK = 16384, 256  # a read every 1/64 s: exact in binary, so the fake clock's sums are exact


def clocked() -> tuple[ClockedSink, FakeClock]:
    clock = FakeClock()
    return ClockedSink(RATE, blocksize=BLOCK, clock=clock, sleep=clock.sleep), clock


def test_the_clocked_device_paces_a_fast_producer_and_plays_everything():
    sink, clock = clocked()
    x = ramp(0, 4 * RATE)  # 4 s written as fast as the ring takes it
    for i in range(0, x.size, 1000):
        sink.write(x[i : i + 1000])
    # the device read about 3.5 s meanwhile (the ring holds 0.5 s): the producer waited that long
    assert 4.0 - 0.5 - 0.05 < clock.now < 4.0 - 0.5 + 0.05
    sink.close()
    assert sink.underruns == 0 and sink.ring.consumed == x.size == sink.samples_written
    assert clock.now == pytest.approx(4.0, abs=BLOCK / RATE)  # played out: 4 s of device time in all


@pytest.mark.parametrize("stall_s", [0.7, 2.0])
def test_a_stalled_producer_starves_the_clocked_device_once(stall_s):
    sink, clock = clocked()
    x = ramp(0, RATE)
    sink.write(x[: RATE // 2])
    sink.write(x[RATE // 2 : RATE // 2 + 2000])
    assert sink.underruns == 0
    clock.advance(stall_s)  # the producer is away for longer than the ring holds
    sink.write(x[RATE // 2 + 2000 :])
    assert sink.underruns == 1
    clock.advance(0.3)  # away for less than the ring holds: the device never runs dry
    sink.write(ramp(RATE, 1000))
    sink.close()
    assert sink.underruns == 1 and sink.min_margin_s == 0.0
    assert sink.ring.consumed == RATE + 1000


def test_a_stall_within_the_clocked_device_prefill_counts_nothing():
    sink, clock = clocked()
    sink.write(ramp(0, 1000))  # under the 0.1 s prefill: the device has not started
    clock.advance(5.0)
    sink.write(ramp(1000, 2000))
    sink.close()
    assert sink.underruns == 0 and sink.ring.consumed == 3000


@pytest.mark.parametrize("stall, expected", [(False, 0), (True, 1)])
def test_a_stall_reaches_the_players_summary(stall, expected):
    # what the CLI and the GUI print as "under-runs" is the device's count: 1 for one stall, 0 without
    cfg = StftConfig()
    x = np.sin(2 * np.pi * 220 * np.arange(2 * cfg.sample_rate) / cfg.sample_rate).astype(np.float32)
    clock = FakeClock()
    sink = ClockedSink(cfg.sample_rate, clock=clock, sleep=clock.sleep)
    frames = [0]

    def on_frames(block: np.ndarray) -> None:
        frames[0] += block.shape[0]
        if stall and frames[0] == 100:
            clock.advance(1.0)  # the worker is away for 1 s, twice what the ring holds

    source = ArraySource(magnitude(x, cfg), cfg)
    player = Player(source, Stream.open("rtpghi", cfg, lookahead=1), sink, on_frames=on_frames)
    summary = player.run()
    assert summary["error"] is None and summary["underruns"] == expected
    assert sink.ring.consumed == sink.samples_written == summary["samples_out"]


def test_file_and_null_sinks_count_no_underruns(tmp_path):
    sinks = [NullSink(22050), WavSink(tmp_path / "o.wav", 22050)]
    for sink in sinks:
        sink.write(np.zeros(1000, dtype=np.float32))
        sink.close()
        assert sink.underruns == 0 and not sink.live

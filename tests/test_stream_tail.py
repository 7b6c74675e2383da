"""A stream's flush past the signal's end: the window's padding, which no frame pins (the overlap sum of
squared windows goes to zero there), comes back as zeros, not as the least-squares division's values
thousands of times the signal's peak (centred Hann frames: up to 1.5e4 times before the fix)."""

import numpy as np
import pytest
from phasefold import Stream
from phasefold.engine.errors import InputError
from phasefold.engine.mel import MelConfig
from phasefold.engine.stft import StftConfig, stft

CENTRED = {
    "hann-librosa": StftConfig(center=True, window="hann", convention="librosa"),
    "sqrt-hann": StftConfig(center=True),
    "hann-reflect": StftConfig(center=True, window="hann", pad_mode="reflect"),
    "hann-hop-n/2": StftConfig(center=True, window="hann", hop=512),
}


def _signal(n: int) -> np.ndarray:
    rng = np.random.default_rng(1)
    t = np.arange(n) / 22050
    return 0.3 * np.sin(2 * np.pi * 220 * t * (1 + 0.3 * t)) + 0.05 * rng.standard_normal(n)


def _streamed(method: str, cfg: StftConfig, x: np.ndarray, backend: str, length=None):
    stream = Stream.open(method, cfg=cfg, lookahead=1, backend=backend, iterations=4)
    mags = np.abs(stft(x, cfg))
    out = np.concatenate([stream.push(f) for f in mags] + [stream.flush(length)]).astype(np.float64)
    return stream, out, mags.shape[0]


@pytest.mark.parametrize("cfg", CENTRED.values(), ids=CENTRED)
@pytest.mark.parametrize(
    ("method", "backend"),
    [
        ("fgla", "numpy"),
        ("fgla", "compiled"),
        ("admm-l2", "numpy"),
        ("admm-l2", "compiled"),
        ("rtisi-la", "numpy"),
    ],
)
def test_a_centred_stream_gives_zeros_past_the_signal_and_stays_at_its_level(cfg, method, backend):
    """Centred frames, no length given: the frames are read as the shortest signal they hold, (F - 1) H
    (the last frame's centre); zeros after it, the samples before it at the signal's level. Given the
    length (22050 samples, F = 87 frames, 34 samples past the last frame's centre): zeros from there."""
    x = _signal(22050)
    peak = np.abs(x).max()
    stream, out, n_frames = _streamed(method, cfg, x, backend)
    end = stream.output_offset + (n_frames - 1) * cfg.hop
    assert stream.signal_samples() == (n_frames - 1) * cfg.hop
    assert out.size > end and not np.any(out[end:])
    assert np.abs(out[:end]).max() < 3 * peak
    stream, out, _ = _streamed(method, cfg, x, backend, length=x.size)
    end = stream.output_offset + x.size
    assert not np.any(out[end:])
    assert np.abs(out[:end]).max() < 3 * peak


@pytest.mark.parametrize("backend", ["numpy", "compiled"])
def test_phasefolds_own_framing_is_unchanged_to_the_longest_signal_and_zeros_after(backend):
    """phasefold's own padding (N - H zeros in front): the frames are read as the longest signal they hold,
    F H - P, so every sample a signal with those frames can have is the stream's; the N - H samples of
    padding after it are zeros (a Blackman window's went to 66 times the peak)."""
    x = _signal(22050)
    for cfg in (StftConfig(), StftConfig(window="blackman", convention="librosa")):
        stream, out, n_frames = _streamed("admm-l2", cfg, x, backend)
        end = stream.output_offset + n_frames * cfg.hop - cfg.pad
        assert out.size == end + cfg.n_fft - cfg.hop
        assert not np.any(out[end:])
        assert np.abs(out[:end]).max() < 3 * np.abs(x).max()


def test_a_length_the_frames_cannot_hold_is_refused_and_the_stream_goes_on():
    x = _signal(5000)
    cfg = CENTRED["hann-librosa"]
    mags = np.abs(stft(x, cfg))
    stream = Stream.open("fgla", cfg=cfg, lookahead=1, backend="numpy")
    stream.push(mags)
    for bad, words in ((x.size + cfg.hop, "cannot hold a signal of"), (0, "from 1"), (2.5, "whole number")):
        with pytest.raises(InputError, match=words):
            stream.flush(bad)
    assert stream.flush(x.size).size > 0  # not flushed by the refusals


@pytest.mark.parametrize(
    "cfg",
    [
        StftConfig(),
        StftConfig(center=True, hop=300),
        StftConfig(center=False, hop=300),
        StftConfig(center=True, n_fft=1023),
    ],
)
def test_the_length_frames_are_read_as_gives_those_frames(cfg):
    for n_frames in (1, 2, 7):
        assert cfg.n_frames(cfg.n_samples(n_frames)) == n_frames


def test_a_mel_of_an_odd_fft_is_read_as_a_signal_with_its_frames():
    mel = MelConfig(stft=StftConfig(n_fft=1023, hop=256, center=True))
    assert [mel.stft.n_frames(mel.n_samples(f)) for f in (2, 5)] == [2, 5]

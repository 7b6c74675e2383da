"""Training excerpts: the plain sampling contract, and augmentation by speed and gain against what they
must do to a sine; bad ranges refused in one line."""

import json

import numpy as np
import pytest

pytest.importorskip("torch")

from phasefold.engine.errors import InputError  # noqa: E402
from phasefold.engine.stft import StftConfig  # noqa: E402
from phasefold.training.data import DataConfig, ExcerptSampler  # noqa: E402

SR = StftConfig().sample_rate


def _sine(freq: float, seconds: float = 5.0, amp: float = 0.5) -> np.ndarray:
    t = np.arange(int(seconds * SR)) / SR
    return (amp * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def _peak_hz(x: np.ndarray) -> float:
    spec = np.abs(np.fft.rfft(x * np.hanning(x.size), 8 * x.size))
    return float(np.argmax(spec)) * SR / (8 * x.size)


def test_plain_excerpts_are_slices_drawn_as_before():
    """Without augmentation an excerpt is the slice the seeded draws name (earlier runs repeat)."""
    signals = [_sine(200.0, 3.0), _sine(300.0, 4.0)]
    sampler = ExcerptSampler(signals, StftConfig(), DataConfig(seconds=1.0), seed=7)
    rng = np.random.default_rng(7)
    for _ in range(5):
        x = signals[int(rng.integers(2))]
        start = int(rng.integers(x.size - SR + 1))
        np.testing.assert_array_equal(sampler.excerpt(), x[start : start + SR])


@pytest.mark.parametrize("speed", [0.8, 0.9, 1.15, 1.25])
def test_speed_moves_a_sine_by_the_drawn_factor_and_keeps_the_length(speed):
    cfg = DataConfig(seconds=1.5, speed=(speed, speed))
    sampler = ExcerptSampler([_sine(440.0)], StftConfig(), cfg, seed=0)
    for _ in range(3):
        y = sampler.excerpt()
        assert y.size == int(round(1.5 * SR))
        assert _peak_hz(y) == pytest.approx(440.0 * speed, abs=1.0)
        # resampling keeps the sine's amplitude away from the edges
        assert np.max(np.abs(y[1000:-1000])) == pytest.approx(0.5, rel=0.02)


def test_speed_range_draws_factors_across_it():
    sampler = ExcerptSampler([_sine(440.0)], StftConfig(), DataConfig(speed=(0.85, 1.15)), seed=3)
    found = [_peak_hz(sampler.excerpt()) / 440.0 for _ in range(12)]
    assert min(found) >= 0.85 - 0.01 and max(found) <= 1.15 + 0.01
    assert max(found) - min(found) > 0.1  # drawn, not fixed


@pytest.mark.parametrize("gain_db", [-12.0, 6.0])
def test_gain_scales_the_excerpt_by_the_drawn_decibels(gain_db):
    cfg = DataConfig(seconds=1.0, gain_db=(gain_db, gain_db))
    y = ExcerptSampler([_sine(440.0)], StftConfig(), cfg, seed=0).excerpt()
    assert np.max(np.abs(y)) == pytest.approx(0.5 * 10 ** (gain_db / 20), rel=1e-3)


@pytest.mark.parametrize(
    "changes, message",
    [
        ({"speed": (1.2, 0.9)}, "LO <= HI"),
        ({"speed": (0.1, 1.0)}, "speed factors must lie"),
        ({"gain_db": (float("nan"), 0.0)}, "finite"),
        ({"gain_db": (-60.0, 0.0)}, "gains must lie"),
    ],
)
def test_bad_augmentation_ranges_are_refused(changes, message):
    with pytest.raises(InputError, match=message):
        DataConfig(**changes)


def test_validation_is_not_augmented():
    """The validation set is the same with and without augmentation of the training excerpts."""
    from phasefold.training.data import validation_set

    signals = [_sine(250.0, 1.0), _sine(330.0, 1.2)]
    plain = validation_set(signals, StftConfig(), DataConfig())
    augmented = validation_set(signals, StftConfig(), DataConfig(speed=(0.9, 1.1), gain_db=(-6.0, 6.0)))
    for a, b in zip(plain, augmented, strict=True):
        for u, v in zip(a, b, strict=True):
            np.testing.assert_array_equal(u, v)


def test_train_stream_records_the_augmentation_and_refuses_a_bad_range(tmp_path, capsys):
    import soundfile as sf
    from phasefold.cli import main

    folder = tmp_path / "audio"
    folder.mkdir()
    for i in range(4):
        sf.write(folder / f"a{i}.wav", _sine(150.0 + 40 * i, 1.5), SR)
    tiny = ["-L", "0", "--layers", "1", "--epochs", "1", "--steps", "1", "--batch", "1"]
    tiny += ["--data", str(folder)]
    out = tmp_path / "run"
    assert main(["train-stream", *tiny, "--speed", "0.9", "1.1", "--gain", "-6", "3", "--out", str(out)]) == 0
    data = json.loads((out / "config.json").read_text())["config"]["data"]
    assert data["speed"] == [0.9, 1.1] and data["gain_db"] == [-6.0, 3.0]
    capsys.readouterr()  # the run's progress bars

    assert main(["train-stream", *tiny, "--speed", "1.1", "0.9", "--out", str(tmp_path / "bad")]) != 0
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "LO <= HI" in err[0]
    assert not (tmp_path / "bad").exists()

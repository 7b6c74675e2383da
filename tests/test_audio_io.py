"""Audio loading and writing: formats, channels, rates, and every kind of bad file."""

import numpy as np
import pytest
import soundfile as sf
from phasefold.engine.errors import InputError
from phasefold.engine.inputs import load_audio
from phasefold.engine.outputs import write_wav


def _tone(freq: float, sr: int, seconds: float = 0.5) -> np.ndarray:
    return 0.3 * np.sin(2 * np.pi * freq * np.arange(int(sr * seconds)) / sr)


def _peak_hz(x: np.ndarray, sr: int) -> float:
    spec = np.abs(np.fft.rfft(x * np.hanning(x.size)))
    return float(np.argmax(spec) * sr / x.size)


@pytest.mark.parametrize("fmt", ["WAV", "FLAC", "OGG", "MP3"])
def test_reads_formats_at_22050(tmp_path, fmt):
    x = _tone(440.0, 22050)
    path = tmp_path / f"tone.{fmt.lower()}"
    sf.write(path, x, 22050, format=fmt)
    y, notes = load_audio(path)
    assert notes == [] and y.dtype == np.float64 and y.ndim == 1
    lossy = fmt in ("OGG", "MP3")
    assert abs(y.size - x.size) <= (1152 if lossy else 0)  # an MP3 frame of padding at most
    n = min(x.size, y.size)
    assert np.max(np.abs(y[:n] - x[:n])) < (0.05 if lossy else 1e-3)


def test_stereo_is_downmixed_with_a_note(tmp_path):
    left, right = _tone(300.0, 22050), _tone(500.0, 22050)
    path = tmp_path / "stereo.wav"
    sf.write(path, np.stack([left, right], axis=1), 22050, subtype="FLOAT")
    y, notes = load_audio(path)
    assert notes == ["downmixed 2 channels to mono"]
    np.testing.assert_allclose(y, 0.5 * (left + right), atol=1e-6)


def test_48k_is_resampled_with_a_note(tmp_path):
    path = tmp_path / "hi.wav"
    sf.write(path, _tone(1000.0, 48000, 1.0), 48000, subtype="FLOAT")
    y, notes = load_audio(path)
    assert notes == ["resampled 48000 Hz -> 22050 Hz"]
    assert y.size == 22050
    assert _peak_hz(y, 22050) == pytest.approx(1000.0, abs=2.0)


def test_write_wav_round_trip_and_clipping(tmp_path):
    x = _tone(220.0, 22050)
    path = tmp_path / "out.wav"
    assert write_wav(path, x) == []
    y, sr = sf.read(path)
    assert sr == 22050 and np.max(np.abs(y - x)) < 1e-4
    loud = np.concatenate([x, [1.5, -2.0]])
    notes = write_wav(path, loud)
    assert len(notes) == 1 and "clipped 2 samples" in notes[0]
    assert np.max(np.abs(sf.read(path)[0])) <= 1.0
    assert write_wav(path, loud, subtype="FLOAT") == []
    np.testing.assert_allclose(sf.read(path)[0], loud, atol=1e-6)


def test_write_errors(tmp_path):
    with pytest.raises(InputError, match="does not exist"):
        write_wav(tmp_path / "nowhere" / "x.wav", np.zeros(10))
    with pytest.raises(InputError, match="NaN"):
        write_wav(tmp_path / "x.wav", np.array([0.0, np.nan]))


@pytest.mark.parametrize(
    ("setup", "message"),
    [
        (lambda p: p.write_bytes(b""), "empty"),
        (lambda p: p.write_text("this is not audio, just a text file\n" * 20), "not a readable audio file"),
        (lambda p: sf.write(p, np.zeros((0, 1)), 22050), "no samples"),
        (lambda p: sf.write(p, np.array([0.0, np.nan, 0.1]), 22050, subtype="FLOAT"), "NaN"),
        (lambda p: p.mkdir(), "folder"),
        (lambda p: None, "no such file"),
    ],
    ids=["empty", "text", "zero-samples", "nan", "folder", "missing"],
)
def test_bad_files_raise_one_line_input_errors(tmp_path, setup, message):
    path = tmp_path / "bad.wav"
    setup(path)
    with pytest.raises(InputError, match=message) as info:
        load_audio(path)
    assert "\n" not in str(info.value)

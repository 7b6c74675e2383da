"""`phasefold reconstruct` as a user runs it: audio and .npz input, --snr, and every kind of bad input."""

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from phasefold.cli import main
from phasefold.engine.demo import demo_signal
from phasefold.engine.evaluation import spectral_convergence_db
from phasefold.engine.inputs import load_magnitudes, save_magnitudes
from phasefold.engine.stft import StftConfig, magnitude

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def clip() -> np.ndarray:
    return demo_signal(1.0)


def _run(capsys, *argv):
    rc = main(["reconstruct", *map(str, argv)])
    out, err = capsys.readouterr()
    return rc, out, err


def _assert_one_line_error(rc, err, *words):
    assert rc == 1
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("phasefold reconstruct: error:"), err
    assert "Traceback" not in err
    for word in words:
        assert word in lines[0]


def test_audio_in_wav_out_same_length(capsys, tmp_path, wav, clip):
    out = tmp_path / "out.wav"
    rc, stdout, _ = _run(capsys, wav, "-o", out, "--method", "fgla", "--iterations", "60")
    assert rc == 0 and "spectral convergence" in stdout
    y, sr = sf.read(out)
    assert sr == 22050 and y.size == clip.size
    cfg = StftConfig()
    assert spectral_convergence_db(y, magnitude(clip, cfg), cfg) < -15.0


def test_npz_in_with_custom_length_and_hop(capsys, tmp_path, clip):
    cfg = StftConfig(hop=512)
    x = clip[:15000]
    npz = tmp_path / "m.npz"
    save_magnitudes(npz, magnitude(x, cfg), cfg, length=x.size, reference=x)
    assert load_magnitudes(npz).length == x.size
    out = tmp_path / "out.wav"
    rc, stdout, _ = _run(capsys, npz, "-o", out, "--method", "admm-kl", "--iterations", "10")
    assert rc == 0 and "hop 512" in stdout
    assert sf.read(out)[0].size == x.size


def test_snr_builds_a_modified_spectrogram(capsys, tmp_path, wav):
    outs = {}
    for snr in (None, "0"):
        out = tmp_path / f"out_{snr}.wav"
        args = [wav, "-o", out, "--iterations", "5", "--format", "FLOAT"] + (["--snr", snr] if snr else [])
        assert _run(capsys, *args)[0] == 0
        outs[snr] = sf.read(out)[0]
    assert not np.allclose(outs[None], outs["0"], atol=1e-3)


def test_stereo_and_48k_inputs_mixed_down_and_resampled_on_request_with_notes(capsys, tmp_path, clip):
    # every channel at its own rate is the default now (tests/test_native.py); --mono and --sr as before
    stereo = tmp_path / "stereo.wav"
    sf.write(stereo, np.stack([clip, 0.5 * clip], axis=1), 22050)
    rc, _, err = _run(capsys, stereo, "-o", tmp_path / "a.wav", "--iterations", "2", "--mono")
    assert rc == 0 and "note: stereo.wav: downmixed 2 channels to mono" in err
    assert sf.info(tmp_path / "a.wav").channels == 1
    hi = tmp_path / "hi.wav"
    sf.write(hi, np.interp(np.arange(48000) * 22050 / 48000, np.arange(clip.size), clip), 48000)
    rc, _, err = _run(capsys, hi, "-o", tmp_path / "b.wav", "--iterations", "2", "--sr", "22050")
    assert rc == 0 and "resampled 48000 Hz -> 22050 Hz" in err
    assert sf.read(tmp_path / "b.wav")[0].size == 22050


def test_list_methods(capsys):
    rc, out, _ = _run(capsys, "--list-methods")
    assert rc == 0
    names = {line.split()[0] for line in out.splitlines()}
    expected = {"gla", "fgla", "admm-l2", "admm-kl", "admm-is", "admm-beta0.5", "gd-kl-left", "gd-l2"}
    assert expected <= names
    assert all(len(line.split(None, 1)) == 2 for line in out.splitlines())  # every name has a description


def _bytes(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def _npz(path: Path, mag, **extra) -> Path:
    cfg = StftConfig()
    fields = dict(magnitudes=mag, n_fft=cfg.n_fft, hop=cfg.hop, sample_rate=cfg.sample_rate, power=1.0)
    fields.update(extra)
    np.savez(path, **fields)
    return path


BAD_INPUTS = {
    "empty file": (lambda p: _bytes(p / "e.wav", b""), ["empty"]),
    "text named .wav": (lambda p: _bytes(p / "t.wav", b"hello, not audio\n" * 50), ["not a readable audio"]),
    "missing file": (lambda p: p / "nope.wav", ["no such file"]),
    "silent audio": (lambda p: sf.write(p / "s.wav", np.zeros(5000), 22050) or p / "s.wav", ["silent"]),
    "nan in npz": (lambda p: _npz(p / "n.npz", np.where(np.eye(20, 513) > 0, np.nan, 1.0)), ["NaN"]),
    "negative in npz": (lambda p: _npz(p / "g.npz", -np.ones((20, 513))), ["negative"]),
    "1-D npz": (lambda p: _npz(p / "d.npz", np.ones(513)), ["2-D"]),
    "wrong bins npz": (lambda p: _npz(p / "w.npz", np.ones((20, 512))), ["513"]),
    "npz without magnitudes": (
        lambda p: np.savez(p / "k.npz", frames=np.ones((3, 513))) or p / "k.npz",
        ["missing key 'magnitudes'"],
    ),
    "npz bad length": (lambda p: _npz(p / "l.npz", np.ones((20, 513)), length=10**6), ["length"]),
    "corrupt npz": (lambda p: _bytes(p / "c.npz", b"PK\x03\x04garbage"), ["npz"]),
}


@pytest.mark.parametrize("case", list(BAD_INPUTS))
def test_bad_input_gives_one_line_error(capsys, tmp_path, case):
    make, words = BAD_INPUTS[case]
    path = make(tmp_path)
    rc, _, err = _run(capsys, path, "-o", tmp_path / "out.wav", "--iterations", "2")
    _assert_one_line_error(rc, err, *words)
    assert not (tmp_path / "out.wav").exists()


@pytest.mark.parametrize(
    ("extra", "words"),
    [
        (["--method", "admm-kll"], ["unknown method", "did you mean"]),
        (["--snr", "5", "-o", "x.npz"], ["must be a .wav"]),
    ],
)
def test_bad_options(capsys, tmp_path, wav, extra, words):
    argv = [wav] + (["-o", tmp_path / "o.wav"] if "-o" not in extra else []) + extra
    rc, _, err = _run(capsys, *argv)
    _assert_one_line_error(rc, err, *words)


def test_npz_rejects_snr_and_other_hop(capsys, tmp_path, clip):
    cfg = StftConfig()
    npz = tmp_path / "m.npz"
    save_magnitudes(npz, magnitude(clip, cfg), cfg)
    _assert_one_line_error(*_run(capsys, npz, "-o", tmp_path / "o.wav", "--snr", "5")[::2], "--snr")
    _assert_one_line_error(*_run(capsys, npz, "-o", tmp_path / "o.wav", "--hop", "512")[::2], "hop 256")


def test_subprocess_errors_are_one_line(tmp_path):
    bad = tmp_path / "notes.wav"
    bad.write_text("this is a text file\n")
    for argv in (
        [str(bad), "-o", str(tmp_path / "o.wav")],
        [str(bad), "-o", str(tmp_path / "o.wav"), "--method", "nonsense"],
    ):
        proc = subprocess.run(
            [sys.executable, "-m", "phasefold", "reconstruct", *argv],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert proc.returncode == 1
        assert proc.stderr.count("\n") == 1 and "error:" in proc.stderr and "Traceback" not in proc.stderr


def test_npz_at_another_rate_keeps_it_and_is_resampled_on_request(capsys, tmp_path, clip):
    cfg = StftConfig(sample_rate=16000)
    x = clip[:16000]
    npz = tmp_path / "m16.npz"
    save_magnitudes(npz, magnitude(x, cfg), cfg, length=x.size)
    out = tmp_path / "out.wav"
    rc, _, err = _run(capsys, npz, "-o", out, "--iterations", "3")
    assert rc == 0 and "resampled" not in err
    y, sr = sf.read(out)
    assert sr == 16000 and y.size == 16000
    rc, _, err = _run(capsys, npz, "-o", out, "--iterations", "3", "--sr", "22050")
    assert rc == 0 and "resampled 16000 Hz -> 22050 Hz" in err
    y, sr = sf.read(out)
    assert sr == 22050 and y.size == 22050

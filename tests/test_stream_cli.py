"""`phasefold stream`, `bench` and the --online flags of reconstruct/evaluate, run as a user would."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
import soundfile as sf
from phasefold.cli import main
from phasefold.engine.inputs import save_magnitudes
from phasefold.engine.stft import StftConfig, magnitude


@pytest.fixture(scope="module")
def wav(tmp_path_factory, request):
    from phasefold.engine.demo import demo_signal

    path = tmp_path_factory.mktemp("audio") / "speech.wav"
    sf.write(str(path), demo_signal(1.0), 22050, subtype="FLOAT")
    return path


def test_stream_file_to_wav_with_scores(wav, tmp_path, capsys):
    out = tmp_path / "out.wav"
    rc = main(
        ["stream", "--input", str(wav), "--output", str(out), "--method", "rtpghi", "-L", "1", "--score"]
    )
    assert rc == 0
    text = capsys.readouterr()
    assert "latency 1280 samples = 58.0 ms" in text.out
    assert "under-runs 0" in text.out and "RTF" in text.out
    scores = dict(zip(*[iter(text.out.split("score:")[1].split())] * 2, strict=True))
    assert float(scores["sc_db"]) < -10 and float(scores["stoi"]) > 0.8
    y, sr = sf.read(str(out))
    cfg = StftConfig()
    # the stream's output after B H samples of silence (the file is the played signal)
    assert sr == 22050 and y.size == (cfg.n_frames(22050) + 1 + cfg.overlap - 1) * cfg.hop + cfg.hop


@pytest.mark.parametrize(
    ("cfg", "lookahead", "block", "lead"),
    [
        (StftConfig(), 0, 1, 256),  # B H with phasefold's own padding
        (StftConfig(), 1, 1, 256),
        (StftConfig(), 3, 1, 256),
        (StftConfig(), 1, 2, 512),
        (StftConfig(center=True, window="hann"), 1, 1, 512),  # N / 2 + (B - 1) H centred
    ],
)
def test_the_streamed_file_is_the_time_aligned_signal_delayed_by_the_printed_latency(
    wav, tmp_path, capsys, cfg, lookahead, block, lead
):
    """`stream -o FILE.wav` writes the played signal: input sample s at file sample s + the printed
    latency N + (L + B - 1) H, where a listener hears it, after ``lead`` samples of silence; cut there it
    is, sample for sample, what `reconstruct --online` writes (the time-aligned signal) for the same
    method, L and B, to its last sample (the stream is given the signal's length: zeros past it, also
    centred, where the frames alone are read as a shorter signal). The input is a magnitude file, so that
    both read the same frames bit for bit."""
    x, _ = sf.read(str(wav))
    npz = tmp_path / "speech.npz"
    save_magnitudes(npz, magnitude(x, cfg).astype(np.float32), cfg, length=x.size)
    common = ["--method", "fgla", "-L", str(lookahead), "-B", str(block), "--backend", "numpy"]
    common += ["--format", "FLOAT"]
    assert main(["reconstruct", str(npz), "-o", str(tmp_path / "online.wav"), "--online", *common]) == 0
    assert main(["stream", "-i", str(npz), "-o", str(tmp_path / "stream.wav"), *common]) == 0
    latency = 1024 + (lookahead + block - 1) * 256
    text = capsys.readouterr().out
    assert f"latency {latency} samples" in text
    assert f"stream.wav: input sample s at sample s + {latency} (the latency), after {lead} samples" in text
    want, _ = sf.read(str(tmp_path / "online.wav"), dtype="float32")
    got, _ = sf.read(str(tmp_path / "stream.wav"), dtype="float32")
    assert np.abs(want).max() > 0.05 and not got[:lead].any() and got[lead : lead + 1024].any()
    np.testing.assert_array_equal(got[latency : latency + want.size], want)
    # past the signal: zeros (at L = 0 by phasefold's padding the last frame's push already returned the
    # rest of its hop, played before the stream could know where the signal ends)
    assert not got[latency + want.size + (256 if lookahead == 0 else 0) :].any()


def test_stream_npz_to_null_and_missing_device_falls_back(wav, tmp_path, capsys):
    x, _ = sf.read(str(wav))
    cfg = StftConfig()
    npz = tmp_path / "m.npz"
    save_magnitudes(npz, magnitude(x, cfg).astype(np.float32), cfg, length=x.size, reference=x)
    assert (
        main(
            ["stream", "--input", str(npz), "--output", "null", "--method", "fgla", "--step-iterations", "2"]
        )
        == 0
    )
    rc = main(
        [
            "stream",
            "--input",
            str(npz),
            "--output",
            "no-such-device-xyz",
            "--method",
            "rtpghi",
            "-L",
            "0",
            "--record",
            str(tmp_path / "fallback.wav"),
        ]
    )
    assert rc == 0
    err = capsys.readouterr().err
    assert "cannot open the audio output" in err and "writing to" in err
    assert sf.info(str(tmp_path / "fallback.wav")).frames > 0


@pytest.mark.parametrize(
    "argv, message",
    [
        (["stream", "--output", "null"], "--input is required"),
        (["stream", "--input", "nope.wav", "--output", "null"], "no such file"),
        (["stream", "--input", "WAV", "--method", "rtisi", "--output", "null"], "unknown streaming method"),
        (["stream", "--input", "WAV", "--method", "rtpghi-1", "-L", "0", "--output", "null"], "look-ahead"),
        (
            ["stream", "--input", "WAV", "--method", "rtpghi", "--step-iterations", "3", "--output", "null"],
            "not iterative",
        ),
        (
            ["stream", "--input", "WAV", "--output", "/no/such/dir/x.wav", "--method", "rtpghi"],
            "does not exist",
        ),
        (["stream", "--input", "mic", "--snr", "5", "--output", "null"], "--snr"),
    ],
)
def test_stream_errors_are_one_line(wav, capsys, argv, message):
    argv = [str(wav) if a == "WAV" else a for a in argv]
    assert main(argv) == 1
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err
    assert err.strip().count("\n") == 0 or "note:" in err


def test_stream_subprocess_bad_model(tmp_path):
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"not a model")
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "phasefold.cli",
            "stream",
            "--input",
            "mic",
            "--model",
            str(bad),
            "--output",
            "null",
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 1
    assert "model card" in proc.stderr and "Traceback" not in proc.stderr


def test_reconstruct_and_evaluate_online(wav, tmp_path, capsys):
    out = tmp_path / "r.wav"
    assert (
        main(
            [
                "reconstruct",
                str(wav),
                "-o",
                str(out),
                "--method",
                "rtisi-la",
                "--online",
                "-L",
                "2",
                "--step-iterations",
                "2",
            ]
        )
        == 0
    )
    y, _ = sf.read(str(out))
    x, _ = sf.read(str(wav))
    assert y.size == x.size  # time-aligned with the input, same length
    assert np.corrcoef(np.abs(y[:-100]), np.abs(x[:-100]))[0, 1] > 0.3
    report = tmp_path / "e.json"
    assert (
        main(
            [
                "evaluate",
                str(wav),
                "--methods",
                "rtpghi,admm-l2",
                "--online",
                "-L",
                "1",
                "--step-iterations",
                "3",
                "--json",
                str(report),
            ]
        )
        == 0
    )
    data = json.loads(report.read_text())
    assert data["config"]["online"]["lookahead"] == 1
    assert set(data["results"]) == {"rtpghi", "admm-l2"}
    assert data["results"]["admm-l2"]["sc_db"] < -10


def test_bench_and_soak(wav, tmp_path, capsys):
    out = tmp_path / "bench.json"
    assert (
        main(
            [
                "bench",
                "--input",
                str(wav),
                "--methods",
                "rtpghi,fgla",
                "--lookahead",
                "0,1",
                "--block",
                "1,2",
                "--seconds",
                "0.5",
                "--step-iterations",
                "1",
                "--json",
                str(out),
            ]
        )
        == 0
    )
    rows = json.loads(out.read_text())["results"]
    assert len(rows) == 16  # two backends
    assert all(r["rtf_cpu"] > 0 and r["rtf_wall"] > 0 and r["latency_ms"] > 46 for r in rows)
    assert "x ref" in capsys.readouterr().out
    soak = tmp_path / "soak.json"
    assert (
        main(
            [
                "bench",
                "--input",
                str(wav),
                "--soak",
                "20",
                "--soak-method",
                "fgla",
                "--step-iterations",
                "1",
                "--lookahead",
                "1",
                "--block",
                "2",
                "--json",
                str(soak),
            ]
        )
        == 0
    )
    s = json.loads(soak.read_text())["soak"]
    assert s["samples_match"] and s["frames_in"] == round(20 * 22050 / 256) // 2 * 2


def test_stream_trained_model_defaults_to_its_own_lookahead(wav, capsys):
    from phasefold.engine.errors import InputError
    from phasefold.engine.model_card import ModelCard
    from phasefold.engine.registry import lookup
    from phasefold.exported_models import MODELS_DIR

    card = ModelCard.read(MODELS_DIR / "unfolded-stream-l1.onnx")
    assert card.streaming.lookahead == 1
    assert lookup("unfolded-stream-l1").stream_settings() == (1, 1)
    with pytest.raises(InputError, match="trained inside the stream at look-ahead 1, block 1"):
        lookup("unfolded-stream-l1").stream_settings(3, None)  # an explicit L other than its own
    assert lookup("admm-l2").stream_settings() == (3, 1)
    assert main(["stream", "--input", str(wav), "--output", "null", "--method", "unfolded-stream-l1"]) == 0
    assert "latency 1280 samples = 58.0 ms" in capsys.readouterr().out  # N + L H with L = 1

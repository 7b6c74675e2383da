"""The mel doors besides the API: `phasefold evaluate --mel`, the --mel-* options of reconstruct and evaluate
(engine.mel.changed), bad mel arrays refused in one line through the API and the CLI, and the level rule (a
log mel shifted by a constant: the same audio, scaled) through the CLI and evaluate."""

from __future__ import annotations

import json
import math
import re

import numpy as np
import pytest
import soundfile as sf

librosa = pytest.importorskip("librosa")

import phasefold  # noqa: E402
from phasefold.cli import main  # noqa: E402
from phasefold.engine.demo import demo_signal  # noqa: E402
from phasefold.engine.errors import InputError  # noqa: E402
from phasefold.engine.evaluation import evaluate, pesq_wb, spectral_convergence_db, stoi  # noqa: E402
from phasefold.engine.mel import PRESETS, changed, mel_filters, melspectrogram  # noqa: E402
from phasefold.engine.mel_methods import run_mel  # noqa: E402
from phasefold.engine.registry import mel_method_names  # noqa: E402
from phasefold.engine.stft import magnitude  # noqa: E402

ITER = 8


@pytest.fixture
def clips(tmp_path):
    """Two 1-second clips of the demo speech at 22050 Hz."""
    folder = tmp_path / "clips"
    folder.mkdir()
    x = demo_signal(2.0)
    for i in range(2):
        sf.write(folder / f"c{i}.wav", x[i * 22050 : (i + 1) * 22050], 22050, subtype="FLOAT")
    return folder


def _cli(capsys, *argv) -> tuple[int, str, str]:
    rc = main([*map(str, argv)])
    out = capsys.readouterr()
    return rc, out.out, out.err


# ---------------------------------------------------------------- engine.mel.changed and the --mel-* options


def test_changed_settings_match_librosa_and_hifigan_code():
    x = demo_signal(1.0)
    cfg = changed(PRESETS["librosa"], n_mels=80, fmax=8000.0, hop=256, n_fft=1024)
    ref = librosa.feature.melspectrogram(y=x, sr=22050, n_fft=1024, hop_length=256, n_mels=80, fmax=8000)
    np.testing.assert_allclose(melspectrogram(x, cfg), ref, rtol=1e-6, atol=1e-9 * ref.max())
    wide = changed(PRESETS["hifigan"], fmax=11025.0)
    np.testing.assert_allclose(
        mel_filters(wide),
        librosa.filters.mel(sr=22050, n_fft=1024, n_mels=80, fmin=0, fmax=11025),
        atol=1e-12,
    )
    # HiFi-GAN's outside padding is (n_fft - hop) / 2 in its code: it follows the sizes
    assert changed(PRESETS["hifigan"], n_fft=2048, hop=512).pad == 768
    assert changed(PRESETS["librosa"], log_base=10.0).floor == 1e-5  # a linear preset made log gets a floor


@pytest.mark.parametrize(
    ("kw", "words"),
    [
        ({"sample_rate": 8000}, "fmax"),  # hifigan's 8000 Hz above half of 8 kHz
        ({"hop": 2048}, "hop"),
        ({"bands": 3}, "unknown mel setting 'bands'"),
        ({"scale": "bark"}, "mel scale"),
        ({"n_mels": 600}, "600 mel bands are more than the 513 frequency bins"),
        ({"fmax": 1.5}, "the bands from 0 to 1.5 Hz cover no frequency bin at n_fft 1024"),
        ({"power": 5.0}, "power 5 is outside"),
        ({"sample_rate": 10**9}, "sample rate"),
        ({"n_fft": 2**30}, "n_fft"),
    ],
)
def test_changed_refuses_in_one_line(kw, words):
    with pytest.raises(InputError, match=words) as info:
        changed(PRESETS["hifigan"], **kw)
    assert "\n" not in str(info.value)


def test_cli_mel_options_reconstruct_what_the_api_does(capsys, tmp_path):
    x = demo_signal(1.0)
    wav = tmp_path / "speech.wav"
    sf.write(wav, x, 22050, subtype="FLOAT")
    options = ["--mel", "librosa", "--mel-n-mels", "80", "--mel-log", "10", "--mel-layout", "frames-mels"]
    cfg = changed(PRESETS["librosa"], n_mels=80, log_base=10.0, bands_last=True)
    mel = melspectrogram(x, cfg)
    assert mel.shape[1] == 80 and np.min(mel) < 0  # [frames, 80], log10
    np.save(tmp_path / "mel.npy", mel)
    rc, out, err = _cli(capsys, "reconstruct", tmp_path / "mel.npy", "-o", tmp_path / "a.wav", *options)
    assert rc == 0, err
    assert "the librosa mel (--mel-n-mels 80 --mel-log 10 --mel-layout frames-mels)" in out
    y, sr = sf.read(tmp_path / "a.wav")
    np.testing.assert_allclose(y, phasefold.mel_to_audio(mel, preset=cfg), atol=1e-6)
    # the same array read at the preset's own settings does not fit: 80 bands of 128, [n_mels, frames]
    rc, out, err = _cli(
        capsys, "reconstruct", tmp_path / "mel.npy", "-o", tmp_path / "b.wav", "--mel", "librosa"
    )
    assert rc == 1 and "bands where 128 are expected" in err and not (tmp_path / "b.wav").exists()


@pytest.mark.parametrize(
    ("extra", "words"),
    [
        (["--mel-n-mels", "80"], "--mel-n-mels changes a mel preset's settings: give --mel PRESET too"),
        (["--mel", "hifigan", "--n-fft", "2048"], "--n-fft does not apply to a mel input.*--mel-n-fft"),
        (["--mel", "hifigan", "--sr", "16000"], "--sr does not apply to a mel input"),
        (["--mel", "hifigan", "--mel-sr", "8000"], "mel settings: the mel bands must lie"),
    ],
)
@pytest.mark.parametrize("command", ["reconstruct", "evaluate"])
def test_cli_mel_option_refusals_are_one_line(capsys, tmp_path, clips, extra, words, command):
    if command == "reconstruct":
        argv = ["reconstruct", clips / "c0.wav", "-o", tmp_path / "a.wav", *extra]
    else:
        argv = ["evaluate", clips, *extra] + ([] if "--mel" in extra else ["--methods", "fgla"])
    rc, out, err = _cli(capsys, *argv)
    assert rc == 1
    assert len(err.strip().splitlines()) == 1
    assert re.search(words, err), err
    assert not (tmp_path / "a.wav").exists()


def test_help_explains_the_mel_options(capsys):
    with pytest.raises(SystemExit):
        main(["reconstruct", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    for flag in ("--mel-n-mels", "--mel-fmax", "--mel-log {none,e,10}", "--mel-layout", "--mel-floor"):
        assert flag in text
    assert "outside padding" in text


# ---------------------------------------------------------------- evaluate --mel


def test_evaluate_mel_scores_each_method_from_the_mel_against_the_original(clips):
    cfg = PRESETS["hifigan"]
    files = sorted(clips.iterdir())
    report = evaluate(["fgla", "gd-l2"], files, iterations=ITER, mel=cfg)
    assert "does not take a mel input" in report["results"]["gd-l2"]["failed"]  # the marked row
    assert report["config"]["mel"]["n_mels"] == 80 and report["config"]["stft"]["center"] is False
    rows = [r for r in report["per_file"] if r["method"] == "fgla"]
    assert len(rows) == 2
    for index, (path, row) in enumerate(zip(files, rows, strict=True)):
        x, _ = sf.read(path)
        # independently: the preset's mel of the file through the public API, seed = file index
        y = phasefold.mel_to_audio(
            melspectrogram(x, cfg), preset="hifigan", n_iter=ITER, seed=index, length=x.size
        )
        assert row["stoi"] == pytest.approx(stoi(x, y, 22050), abs=1e-4)
        assert row["sc_db"] == pytest.approx(
            spectral_convergence_db(y, magnitude(x, cfg.stft), cfg.stft), abs=0.02
        )
    assert report["results"]["fgla"]["stoi"] > 0.8


def test_evaluate_mel_is_level_independent(clips):
    """A log mel shifted by a constant (the files 20 dB louder): the same audio scaled, the same scores."""
    files = sorted(clips.iterdir())
    base = evaluate(["fgla"], files, iterations=ITER, mel=PRESETS["vocos"])
    loud = evaluate(["fgla"], files, iterations=ITER, mel=PRESETS["vocos"], gain_db=20.0)
    for key in ("sc_db", "stoi", "estoi", "pesq"):
        assert loud["results"]["fgla"][key] == pytest.approx(base["results"]["fgla"][key], abs=1e-3)


def test_cli_evaluate_mel_table_and_json(capsys, tmp_path, clips):
    out = tmp_path / "r.json"
    rc, stdout, err = _cli(
        capsys, "evaluate", clips, "--mel", "espnet", "--iterations", ITER, "--json", out
    )  # no --methods: every method that takes a mel
    assert rc == 0, err
    assert "2 files, the espnet mel" in stdout
    espnet = mel_method_names(PRESETS["espnet"])  # the classical ones: no mel model takes the espnet mel
    names = [line.split()[0] for line in stdout.splitlines()[2 : 2 + len(espnet)]]
    assert names == espnet == ["fgla", "gla", "admm-l2", "admm-kl"]
    report = json.loads(out.read_text())
    assert report["config"]["mel"]["log_base"] == 10.0 and report["config"]["mel"]["bands_last"] is True
    # a method that cannot take this mel: its row says so, the others stand
    rc, stdout, err = _cli(
        capsys,
        "evaluate",
        clips,
        "--mel",
        "espnet",
        "--methods",
        "fgla,unfolded-mel-untied",
        "--iterations",
        2,
    )
    assert rc == 1
    assert stdout.startswith("2 files, the espnet mel")  # both files scored by fgla
    assert re.search(r"unfolded-mel-untied\s+failed: unfolded-mel-untied takes only the hifigan mel", stdout)
    assert re.search(r"^fgla\s+-?\d", stdout, re.M)


def test_evaluate_mel_refuses_online_and_npz(capsys, tmp_path, clips):
    rc, _, err = _cli(capsys, "evaluate", clips, "--mel", "hifigan", "--online")
    assert rc == 1 and "--online with --mel" in err
    x = demo_signal(1.0)
    np.savez(tmp_path / "m.npz", magnitudes=magnitude(x, PRESETS["hifigan"].stft), reference=x)
    with pytest.raises(InputError, match="no file could be scored.*linear magnitudes"):
        evaluate(["fgla"], [tmp_path / "m.npz"], iterations=2, mel=PRESETS["hifigan"])
    with pytest.raises(InputError, match="--snr does not apply"):
        evaluate(["fgla"], [clips / "c0.wav"], snr_db=5.0, mel=PRESETS["hifigan"])


def test_mel_entry_names():
    target = np.ones((10, 80))
    with pytest.raises(InputError, match="gd-l2 does not take a mel input: the mel methods are"):
        run_mel("gd-l2", target, PRESETS["hifigan"], 2, 0, 1000)
    with pytest.raises(InputError, match="unknown method"):
        run_mel("fglaa", target, PRESETS["hifigan"], 2, 0, 1000)
    with pytest.raises(InputError, match="iterations must be >= 0"):
        run_mel("fgla", target, PRESETS["hifigan"], -1, 0, 1000)


# ---------------------------------------------------------------- bad mel arrays, through the API and the CLI


def _bad_arrays() -> dict[str, tuple[np.ndarray, str, str]]:
    """name -> (array, preset, words of the one line)."""
    x = demo_signal(1.0)
    hifigan = melspectrogram(x, PRESETS["hifigan"])
    return {
        "linear to log": (np.exp(hifigan), "hifigan", "looks like linear mel values"),
        "log to linear": (
            np.log10(melspectrogram(x, PRESETS["librosa"]) + 1e-10),
            "librosa",
            "negative values",
        ),
        "NaN": (np.where(np.arange(hifigan.shape[1]) == 3, np.nan, hifigan), "hifigan", "NaN"),
        "bands": (hifigan[:64], "hifigan", "64 bands where 80"),
        "empty": (np.zeros((80, 0)), "hifigan", "no frames"),
        "1-D": (hifigan[0], "hifigan", "at least 2 dimensions"),
        "layout": (hifigan, "espnet", "transposed"),
    }


@pytest.mark.parametrize("case", list(_bad_arrays()))
def test_bad_mel_array_is_one_line_through_the_api(case):
    arr, preset, words = _bad_arrays()[case]
    with pytest.raises(InputError, match=words) as info:
        phasefold.mel_to_audio(arr, preset=preset, n_iter=2)
    assert "\n" not in str(info.value)


@pytest.mark.parametrize("case", list(_bad_arrays()))
def test_bad_mel_array_is_one_line_through_the_cli(capsys, tmp_path, case):
    arr, preset, words = _bad_arrays()[case]
    np.save(tmp_path / "mel.npy", arr)
    rc, out, err = _cli(
        capsys, "reconstruct", tmp_path / "mel.npy", "-o", tmp_path / "a.wav", "--mel", preset
    )
    assert rc == 1
    assert len(err.strip().splitlines()) == 1
    assert re.search(words, err), err
    assert not (tmp_path / "a.wav").exists()


# ---------------------------------------------------------------- the level rule through the CLI


@pytest.mark.parametrize(
    ("preset", "shift", "factor"), [("hifigan", 1.5, math.exp(1.5)), ("espnet", -0.4, 10**-0.4)]
)
def test_cli_shifted_log_mel_gives_the_same_audio_scaled(capsys, tmp_path, preset, shift, factor):
    cfg = PRESETS[preset]
    x = demo_signal(1.0) + 0.003 * np.random.default_rng(1).standard_normal(22050)  # no band at the floor
    mel = melspectrogram(x * 2.0, cfg)
    assert np.min(mel) + min(shift, 0) > math.log(cfg.floor, cfg.log_base)  # above the floor either way
    outputs = []
    for name, arr in (("a", mel), ("b", mel + shift)):
        np.save(tmp_path / f"{name}.npy", arr)
        rc, out, err = _cli(
            capsys,
            "reconstruct",
            tmp_path / f"{name}.npy",
            "-o",
            tmp_path / f"{name}.wav",
            "--mel",
            preset,
            "--iterations",
            20,
        )
        assert rc == 0, err
        outputs.append(sf.read(tmp_path / f"{name}.wav")[0])
    a, b = outputs
    # the same audio scaled, to float32's rounding (the default output computes in float32)
    assert np.linalg.norm(b - factor * a) / np.linalg.norm(factor * a) < 1e-4


def test_pesq_refuses_a_silent_estimate_in_one_line():
    """A mel whose bands are empty gives silence: PESQ says so in one line (the pesq library crashed)."""
    with pytest.raises(InputError, match="PESQ cannot score a silent estimate"):
        pesq_wb(demo_signal(1.0), np.zeros(22050), 22050)

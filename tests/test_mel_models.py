"""The learned mel models as registry methods: listed among the mel methods, run by the one mel entry
(engine.mel_gla.mel_gla) through every door (phasefold.mel_to_audio, reconstruct --mel, evaluate --mel), at
their training level (a log mel shifted by a constant: the same audio scaled), and refused in one line where
they do not fit (magnitudes, another preset's mel, a stream model offline)."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import soundfile as sf
from phasefold import api
from phasefold.cli import main
from phasefold.engine import registry
from phasefold.engine.demo import demo_signal
from phasefold.engine.errors import InputError, ModelError
from phasefold.engine.level import MEL_REFERENCE_LEVEL, frame_levels, mel_card_record
from phasefold.engine.mel import PRESETS, linear_mel, melspectrogram
from phasefold.engine.mel_methods import run_mel
from phasefold.engine.mel_model import mel_model_audio, mel_model_names
from phasefold.engine.model_card import ModelCard
from phasefold.engine.runners import offline_runner
from phasefold.exported_models import MEL_MODELS_DIR
from phasefold.mel import mel_to_audio

MODEL = "unfolded-mel-untied"
HIFIGAN = PRESETS["hifigan"]


@pytest.fixture(scope="module")
def speech() -> tuple[np.ndarray, np.ndarray]:
    """One second of the demo speech and its hifigan log mel [80, frames]."""
    x = demo_signal(1.0)
    return x, melspectrogram(x, HIFIGAN)


def test_registry_lists_the_mel_methods_classical_first_then_the_offline_mel_models():
    names = registry.mel_method_names()
    assert names[:4] == ["fgla", "gla", "admm-l2", "admm-kl"]
    offline = [
        n for n in mel_model_names() if ModelCard.read(MEL_MODELS_DIR / f"{n}.onnx").window_frames is None
    ]
    assert names[4:] == offline and MODEL in offline
    assert "unfolded-mel-stream-l3" not in names  # a stream model: not offline
    assert all(registry.mel_spec(n).takes_mel for n in names)
    assert registry.mel_method_names(PRESETS["espnet"]) == names[:4]  # no model takes the espnet mel
    assert MODEL not in registry.specs() and MODEL not in api.list_methods()  # they take no magnitudes
    assert api.list_methods(mel=True) == names
    spec = registry.lookup(MODEL)
    assert spec.mel_model and spec.takes_mel and spec.path == MEL_MODELS_DIR / f"{MODEL}.onnx"
    assert not registry.lookup("unfolded-untied").mel_model


def test_list_methods_marks_the_mel_models(capsys):
    assert main(["reconstruct", "--list-methods"]) == 0
    lines = {line.split()[0]: line for line in capsys.readouterr().out.splitlines()}
    assert "[mel model, offline]" in lines[MODEL] and "hifigan mel only" in lines[MODEL]
    assert "mel model" not in lines["unfolded-untied"]
    with pytest.raises(InputError, match="leave out streaming=True"):
        api.list_methods(streaming=True, mel=True)


def test_every_door_runs_the_same_engine_entry(speech, tmp_path, capsys):
    x, mel = speech
    target = linear_mel(mel, HIFIGAN)
    want = mel_model_audio(target, MODEL, seed=3, length=x.size)  # one pass of its layers, seed 3
    got = mel_to_audio(mel, preset="hifigan", method=MODEL, seed=3, length=x.size, dtype=np.float64)
    np.testing.assert_array_equal(got, want)
    np.testing.assert_array_equal(run_mel(MODEL, target, HIFIGAN, None, 3, x.size), want)
    two = mel_model_audio(target, MODEL, seed=3, length=x.size, passes=2)
    np.testing.assert_array_equal(run_mel(MODEL, target, HIFIGAN, 30, 3, x.size), two)  # 2 x 15
    assert not np.array_equal(two, want)
    np.save(tmp_path / "m.npy", mel)
    out = tmp_path / "y.wav"
    argv = ["reconstruct", tmp_path / "m.npy", "--mel", "hifigan", "--method", MODEL, "-o", out, "--seed", 3]
    assert main([*map(str, argv)]) == 0
    assert f"{MODEL} the mel model from the hifigan mel, 1 pass of 15 layers" in capsys.readouterr().out
    y, sr = sf.read(out, dtype="float64")
    assert sr == 22050
    np.testing.assert_allclose(y, want.astype(np.float32)[: y.size], atol=0, rtol=0)


def test_evaluate_mel_hifigan_runs_the_mel_model(speech, tmp_path, capsys):
    x, mel = speech
    sf.write(tmp_path / "a.wav", x, 22050, subtype="FLOAT")
    out = tmp_path / "r.json"
    argv = ["evaluate", tmp_path / "a.wav", "--mel", "hifigan", "--methods", f"fgla,{MODEL}", "--json", out]
    assert main([*map(str, argv)]) == 0, capsys.readouterr().err
    rows = {r["method"]: r for r in json.loads(out.read_text())["per_file"]}
    xf = sf.read(tmp_path / "a.wav")[0]
    y = mel_to_audio(melspectrogram(xf, HIFIGAN), preset="hifigan", method=MODEL, length=xf.size)
    from phasefold.engine.evaluation import stoi

    assert rows[MODEL]["stoi"] == pytest.approx(stoi(xf, y, 22050), abs=1e-4)


@pytest.mark.parametrize("octaves", [1, -3, 7, -20])
def test_a_power_of_two_in_level_gives_the_output_scaled_bit_for_bit(speech, octaves):
    x, mel = speech
    target = linear_mel(mel, HIFIGAN)
    y = run_mel(MODEL, target, HIFIGAN, None, 0, x.size)
    louder = target * 2.0**octaves  # the linear mel of the signal times 2^octaves, exactly
    np.testing.assert_array_equal(run_mel(MODEL, louder, HIFIGAN, None, 0, x.size), y * 2.0**octaves)
    # through the log mel (exp rounds M + c and its level to the last bit): the same to float64 rounding
    shifted = mel_to_audio(mel + octaves * math.log(2.0), preset="hifigan", method=MODEL, dtype=np.float64)
    want = mel_to_audio(mel, preset="hifigan", method=MODEL, dtype=np.float64) * 2.0**octaves
    np.testing.assert_allclose(shifted, want, rtol=0, atol=1e-13 * np.abs(want).max())


def test_the_level_normalisation_brings_the_mel_to_the_cards_level(speech):
    """Independently of the engine's gain: the mel 40 dB down (not a power of two) gives the same audio
    scaled to float64 rounding; without the normalisation the network sees the quiet mel and rebuilds
    another signal. And the network runs at the card's level: the mel scaled by hand to it, run as it is,
    gives the same output scaled."""
    x, mel = speech
    target = linear_mel(mel, HIFIGAN)
    top = float(frame_levels(target).max())
    assert 0.1 < top / MEL_REFERENCE_LEVEL < 10  # the demo is near the training level
    y = mel_model_audio(target, MODEL, length=x.size)
    quiet = mel_model_audio(target / 100.0, MODEL, length=x.size)
    np.testing.assert_allclose(100.0 * quiet, y, rtol=0, atol=1e-12 * np.abs(y).max())
    raw = mel_model_audio(target / 100.0, MODEL, length=x.size, level=False)
    assert np.linalg.norm(100.0 * raw - y) > 0.1 * np.linalg.norm(y)
    g = MEL_REFERENCE_LEVEL / top
    by_hand = mel_model_audio(target * g, MODEL, length=x.size, level=False) / g
    np.testing.assert_allclose(by_hand, y, rtol=0, atol=1e-12 * np.abs(y).max())


def test_the_untied_mel_card_records_its_level():
    card = ModelCard.read(MEL_MODELS_DIR / f"{MODEL}.onnx")
    assert card.level == mel_card_record() and card.mel_reference_level == MEL_REFERENCE_LEVEL


def test_a_mel_card_with_a_bad_reference_level_is_refused(tmp_path):
    src = MEL_MODELS_DIR / f"{MODEL}.onnx"
    (tmp_path / src.name).write_bytes(src.read_bytes())
    card = json.loads(src.with_suffix(".json").read_text())
    card["level"]["reference_level"] = 0
    (tmp_path / f"{MODEL}.json").write_text(json.dumps(card))
    with pytest.raises(ModelError, match="level.reference_level must be a finite number > 0"):
        ModelCard.read(tmp_path / src.name)


def test_a_mel_model_where_it_does_not_fit_gets_one_line(speech, tmp_path, capsys):
    x, mel = speech
    with pytest.raises(InputError, match=f"{MODEL} is a mel model: it takes only the hifigan mel"):
        api.reconstruct(np.ones((20, 513)), method=MODEL)
    with pytest.raises(InputError, match="is a mel model"):
        offline_runner(registry.lookup(MODEL))
    vocos = melspectrogram(demo_signal(1.0), PRESETS["vocos"])
    with pytest.raises(InputError, match=f"{MODEL} takes only the hifigan mel, not the vocos mel"):
        mel_to_audio(vocos, preset="vocos", method=MODEL)
    with pytest.raises(InputError, match="takes only the hifigan mel, not this mel"):
        mel_to_audio(np.exp(mel), method=MODEL, sr=22050, n_fft=1024, hop_length=256)  # librosa's reading
    with pytest.raises(
        InputError, match=r"stream mel model .*: run it in a stream \(reconstruct --mel hifigan"
    ):
        mel_to_audio(mel, preset="hifigan", method="unfolded-mel-stream-l3")
    with pytest.raises(InputError, match="does not take a mel input: .* and the mel models"):
        mel_to_audio(mel, preset="hifigan", method="unfolded-untied")
    sf.write(tmp_path / "a.wav", x, 22050, subtype="FLOAT")
    np.save(tmp_path / "v.npy", vocos)
    for argv in (
        ["reconstruct", tmp_path / "a.wav", "--method", MODEL, "-o", tmp_path / "b.wav"],
        ["reconstruct", tmp_path / "v.npy", "--mel", "vocos", "--method", MODEL, "-o", tmp_path / "c.wav"],
    ):
        assert main([*map(str, argv)]) == 1
        err = capsys.readouterr().err.strip()
        assert len(err.splitlines()) == 1 and MODEL in err and "hifigan mel" in err
    assert not (tmp_path / "b.wav").exists() and not (tmp_path / "c.wav").exists()


def test_a_mel_stream_names_its_own_methods_in_its_refusals():
    """Stream.open(method, mel=...): an offline mel model and an unknown name are refused with the mel
    streaming methods (the classical ones and the stream mel models), not the magnitude methods."""
    from phasefold.engine.streaming import Stream

    names = registry.mel_method_names(PRESETS["hifigan"], stream=True)
    assert names[: len(registry.MEL_CLASSICAL)] == list(registry.MEL_CLASSICAL)
    assert {"unfolded-mel-stream-l1", "unfolded-mel-stream-l3"} <= set(names) and MODEL not in names
    assert registry.mel_method_names(PRESETS["vocos"], stream=True) == list(registry.MEL_CLASSICAL)
    listing = ", ".join(names)
    with pytest.raises(
        InputError, match=f"{MODEL} is an offline mel method; the mel streaming methods: {listing}$"
    ):
        Stream.open(MODEL, mel="hifigan")
    with pytest.raises(
        InputError, match=rf"unknown mel streaming method 'fglaa'; did you mean fgla.*{listing}"
    ):
        Stream.open("fglaa", mel="hifigan")
    for name in names:
        assert Stream.open(name, mel="hifigan").cfg == PRESETS["hifigan"].stft

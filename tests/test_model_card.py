"""The model card type: every shipped card reads, validates and writes back unchanged."""

import dataclasses
import json

import pytest
from phasefold.engine.errors import ModelError
from phasefold.engine.model_card import ModelCard, StreamTraining
from phasefold.engine.stft import StftConfig
from phasefold.exported_models import MODELS_DIR

SHIPPED_CARDS = sorted(MODELS_DIR.glob("*.json"))


@pytest.mark.parametrize("path", SHIPPED_CARDS, ids=lambda p: p.stem)
def test_a_shipped_card_round_trips(path, tmp_path):
    text = path.read_text()
    card = ModelCard.read(path.with_suffix(".onnx"))
    assert card.to_dict() == json.loads(text)
    assert list(card.to_dict()) == list(json.loads(text))  # the same key order
    card.write(tmp_path / path.with_suffix(".onnx").name)
    assert (tmp_path / path.name).read_text() == text  # byte for byte: the exports' format


def test_unknown_keys_are_kept_and_optional_ones_left_out():
    base = json.loads((MODELS_DIR / "unfolded-tied.json").read_text())
    base.pop("rebuilt")
    card = ModelCard.from_dict({**base, "comment": "hand-made"})
    assert card.rebuilt is None and card.extra == {"comment": "hand-made"}
    assert card.to_dict() == {**base, "comment": "hand-made"}


def test_from_dict_validates_naming_where():
    base = json.loads((MODELS_DIR / "unfolded-stream-l0.json").read_text())
    with pytest.raises(ModelError, match=r"^x\.json: layers must be a whole number >= 1, not 0$"):
        ModelCard.from_dict({**base, "layers": 0}, "x.json")
    with pytest.raises(ModelError, match="missing sha256"):
        ModelCard.from_dict({k: v for k, v in base.items() if k != "sha256"})
    with pytest.raises(ModelError, match="a JSON object is expected"):
        ModelCard.from_dict([base])


def test_layer_form_and_momentum_are_validated():
    base = json.loads((MODELS_DIR / "unfolded-stream-l0.json").read_text())
    with pytest.raises(ModelError, match="layer_form must be one of admm, gla, not 'lstm'"):
        ModelCard.from_dict({**base, "layer_form": "lstm"})
    with pytest.raises(ModelError, match="needs parameters.momentum"):
        ModelCard.from_dict({**base, "layer_form": "gla"})
    layers = base["layers"]
    for bad, message in (([0.9] * (layers + 1), "momentum has shape"), ([1.0] * layers, r"in \[0, 1\)")):
        params = {**base["parameters"], "momentum": bad}
        with pytest.raises(ModelError, match=message):
            ModelCard.from_dict({**base, "layer_form": "gla", "parameters": params})
    good = {**base, "layer_form": "gla", "parameters": {**base["parameters"], "momentum": [0.9] * layers}}
    assert ModelCard.from_dict(good).layer_form == "gla"


@pytest.mark.parametrize("path", SHIPPED_CARDS, ids=lambda p: p.stem)
def test_a_shipped_card_reads_as_typed_frozen_parts(path):
    raw = json.loads(path.read_text())
    card = ModelCard.read(path.with_suffix(".onnx"))
    assert card.stft == StftConfig.from_dict(raw["stft"]) and card.stft.hop == raw["stft"]["hop"]
    assert card.window_frames == raw["interface"]["window_frames"]
    if "streaming" in raw:
        assert isinstance(card.streaming, StreamTraining)
        assert (card.streaming.lookahead, card.streaming.block) == (
            raw["streaming"]["lookahead"],
            raw["streaming"]["block"],
        )
        assert card.positions == raw["parameter_layout"]["positions"]
    else:
        assert card.streaming is None and card.positions == 1
    assert card.gla == (raw.get("layer_form") == "gla")
    for part in (card, card.interface, card.streaming, card.parameter_layout):
        if part is not None:
            with pytest.raises(dataclasses.FrozenInstanceError):
                part.extra = {}


def test_a_changed_card_writes_the_change_in_place(tmp_path):
    path = MODELS_DIR / "unfolded-stream-l1.onnx"
    raw = json.loads(path.with_suffix(".json").read_text())
    card = dataclasses.replace(ModelCard.read(path), metrics={"test": {}})
    assert list(card.to_dict()) == list(raw) and card.to_dict() == {**raw, "metrics": {"test": {}}}
    card.write(tmp_path / "m.onnx")
    assert ModelCard.from_dict(json.loads((tmp_path / "m.json").read_text())) == card


def test_trained_stft_is_validated():
    base = json.loads((MODELS_DIR / "unfolded-tied.json").read_text())
    with pytest.raises(ModelError, match=r"trained_stft\.hop must be a whole number"):
        ModelCard.from_dict({**base, "trained_stft": {**base["trained_stft"], "hop": "256"}})


@pytest.mark.parametrize("path", SHIPPED_CARDS, ids=lambda p: p.stem)
def test_a_shipped_card_says_how_its_level_is_brought_to_the_training_level(path):
    from phasefold.engine.level import REFERENCE_LEVEL, card_record

    level = ModelCard.read(path.with_suffix(".onnx")).level
    assert level == card_record() and level["reference_level"] == REFERENCE_LEVEL
    assert level["normalisation"] == "engine" and level["retrained"] is False


def test_a_card_trained_at_another_level_is_refused():
    base = json.loads((MODELS_DIR / "unfolded-tied.json").read_text())
    other = {**base, "level": {**base["level"], "reference_level": 0.5}}
    with pytest.raises(ModelError, match=r"card\.json: level\.reference_level 0\.5 is not this engine's"):
        ModelCard.from_dict(other, "card.json")
    with pytest.raises(ModelError, match="level must be an object"):
        ModelCard.from_dict({**base, "level": "engine"}, "card.json")


def test_streaming_passes_reads_as_the_default_passes_per_step():
    base = json.loads((MODELS_DIR / "unfolded-stream-l0.json").read_text())
    streaming = {k: v for k, v in base["streaming"].items() if k != "passes"}
    assert ModelCard.from_dict({**base, "streaming": streaming}).stream_passes == 1  # absent: one pass
    card = ModelCard.from_dict({**base, "streaming": {**streaming, "passes": 3}})
    assert card.streaming.passes == 3 and card.stream_passes == 3
    assert card.to_dict()["streaming"]["passes"] == 3
    offline = json.loads((MODELS_DIR / "unfolded-untied.json").read_text())
    assert "streaming" not in offline and ModelCard.from_dict(offline).stream_passes == 1
    for bad in (0, -1, 2.0, "2", None):
        with pytest.raises(
            ModelError, match=r"^x\.json: streaming\.passes must be a whole number >= 1, not "
        ):
            ModelCard.from_dict({**base, "streaming": {**streaming, "passes": bad}}, "x.json")

"""The model card type: every shipped card reads, validates and writes back unchanged."""

import json

import pytest
from phasefold.engine.errors import ModelError
from phasefold.engine.model_card import ModelCard
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

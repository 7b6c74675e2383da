"""Rebuilding a shipped model from its card: the restored network is the card's, the new graph agrees."""

import shutil

import numpy as np
import pytest

pytest.importorskip("torch")

from phasefold.engine.errors import ModelError  # noqa: E402
from phasefold.engine.model_card import ModelCard  # noqa: E402
from phasefold.engine.onnx_model import load_model  # noqa: E402
from phasefold.exported_models import MODELS_DIR  # noqa: E402
from phasefold.training.export import TOLERANCE  # noqa: E402
from phasefold.training.rebuild import network_of, rebuild  # noqa: E402


def _copy(tmp_path, name: str):
    """A shipped model's graph, card and golden pair copied into tmp_path (a rebuild writes in place)."""
    src = MODELS_DIR / f"{name}.onnx"
    for suffix in (".onnx", ".json", ".golden.npz"):
        shutil.copy(src.with_name(name + suffix), tmp_path / (name + suffix))
    return src, tmp_path / src.name


@pytest.mark.parametrize(
    "name", ["unfolded-untied", "unfolded-modified", "unfolded-stream-l1", "unfolded-stream-modified-l1"]
)
def test_network_of_card_restores_every_parameter(name):
    card = ModelCard.read(MODELS_DIR / f"{name}.onnx")
    restored = network_of(card).card_parameters()
    for key, value in card.parameters.items():
        np.testing.assert_allclose(np.asarray(restored[key]), np.asarray(value), rtol=1e-6, atol=1e-12)


@pytest.mark.parametrize("name", ["unfolded-stream-l1", "unfolded-stream-modified-l1"])
def test_rebuilt_model_reproduces_its_golden_pair(tmp_path, name):
    src, copy = _copy(tmp_path, name)
    golden = dict(np.load(src.with_name(src.stem + ".golden.npz")))
    card = rebuild(copy, evaluate=False)
    assert card.rebuilt["from_card_sha256"] == ModelCard.read(src).sha256
    model = load_model(copy)  # the new file matches its new card
    x_out, lam_out = model.step(**{k: golden[k] for k in ("mag", "x", "fixed", "lam")})
    assert np.abs(x_out - golden["x_out"]).max() <= TOLERANCE
    assert np.abs(lam_out - golden["lam_out"]).max() <= 1e-3


def test_anchored_rebuild_projects_the_prox_and_keeps_the_trained_parameters(tmp_path):
    src, copy = _copy(tmp_path, "unfolded-modified")  # a free untied model (with a penalty schedule)
    old = ModelCard.read(src).parameters
    assert not np.allclose(old["g2"], 1.0 - np.asarray(old["g1"]), atol=1e-3)
    card = rebuild(copy, evaluate=False, anchor=True)
    p = card.parameters
    np.testing.assert_allclose(p["g1"], old["g1"], rtol=1e-6)
    np.testing.assert_allclose(p["g2"], 1.0 - np.asarray(old["g1"]), rtol=1e-6)
    assert p["b"] == [2.0] * len(old["b"]) and "anchored" in card.rebuilt
    for key in ("w", "bias", "rho"):
        np.testing.assert_allclose(p[key], old[key], rtol=1e-6)
    assert ModelCard.read(copy).parameters == p  # written beside the new graph
    _, stream = _copy(tmp_path, "unfolded-stream-l1")
    with pytest.raises(ModelError, match="offline models"):
        rebuild(stream, evaluate=False, anchor=True)

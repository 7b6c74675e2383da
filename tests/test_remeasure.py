"""A card's metrics are what training.remeasure measures now: the shipped cards hold figures the engine
reproduces (scores to the card's 4 decimals; the real-time factors are timings and not compared)."""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SCORES = ("sc_db", "stoi", "estoi", "pesq")


@pytest.mark.parametrize("name", ["unfolded-stream-l0-t3", "unfolded-tied-hop512"])
def test_remeasured_metrics_equal_the_shipped_cards(timit_dir, name):
    from phasefold.engine.model_card import ModelCard
    from phasefold.training.remeasure import measured_card

    path = ROOT / "exported_models" / f"{name}.onnx"
    shipped = ModelCard.read(path).metrics["test"]
    measured = measured_card(path).metrics["test"]
    assert list(measured) == list(shipped)
    for condition, scores in shipped.items():
        assert {k: measured[condition][k] for k in SCORES} == {k: scores[k] for k in SCORES}, condition

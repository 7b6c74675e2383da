"""Measure a shipped model's test metrics again and write them into its card (no torch).

    python -m phasefold.training.remeasure exported_models/NAME.onnx ...

A card's metrics are the test-split scores of its ONNX graph run by onnxruntime through the engine
(training.evaluate for offline models, training.stream_eval for streaming ones, at the card's look-ahead
and on the conditions the card lists). When the engine around a model changes what it computes (the
level normaliser of engine.level, say), the metrics are measured again with this; the graph, parameters
and provenance stay as they are.
"""

from __future__ import annotations

import dataclasses
import json
import sys
import time
from pathlib import Path

from phasefold.engine.model_card import ModelCard


def measured_card(model_path: str | Path) -> ModelCard:
    """The card of ``model_path`` with its test metrics measured now (and the seconds they took)."""
    path = Path(model_path)
    card = ModelCard.read(path)
    t0 = time.time()
    if card.streaming is not None:
        from phasefold.training.stream_eval import stream_card_metrics

        conditions = tuple((card.metrics or {}).get("test", {})) or ("exact_hop256",)
        metrics = stream_card_metrics(path, card.streaming.lookahead, conditions)
    else:
        from phasefold.training.evaluate import card_metrics

        metrics = card_metrics(path)
    return dataclasses.replace(card, metrics={**metrics, "seconds": round(time.time() - t0, 1)})


def main(argv: list[str]) -> int:
    import argparse

    parser = argparse.ArgumentParser(prog="python -m phasefold.training.remeasure", description=__doc__)
    parser.add_argument(
        "models", nargs="+", type=Path, help="exported models (.onnx beside their .json card)"
    )
    args = parser.parse_args(argv)
    for path in args.models:
        old = ModelCard.read(path).metrics or {}
        card = measured_card(path)
        card.write(path)
        print(f"{path.name}:", flush=True)
        for cond, scores in card.metrics["test"].items():
            before = old.get("test", {}).get(cond)
            print(f"  {cond}: {json.dumps(scores)}", flush=True)
            print(f"  {' ' * len(cond)}  was {json.dumps(before)}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

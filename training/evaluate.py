"""Test-split scores of exported models and of the baselines, in the conditions of docs/architecture.md.

Everything here runs through the engine (no torch): methods from ``engine.methods`` (FGLA, ADMM-l2 and the
registered ``unfolded-*`` models) or ``engine.onnx_model`` for a given file, measured, started and scored by
``engine.evaluation.evaluate`` (file i: random phase seed i, noise seed 1000 + i, SC against the given
measurements).
A card's metrics run the model by its reference backend (its ONNX graph in onnxruntime), so they do not
depend on whether the compiled backend is installed.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import numpy as np
from phasefold.engine import dataset
from phasefold.engine.backends import ONNXRUNTIME
from phasefold.engine.errors import PhasefoldError
from phasefold.engine.evaluation import CONDITIONS, EvaluationProtocol, evaluate, failure_text
from phasefold.engine.methods import get_method
from phasefold.engine.model_card import ModelCard
from phasefold.engine.stft import StftConfig

KEYS = ("sc_db", "stoi", "estoi", "pesq")


def mean_scores(rows: list[dict[str, float]]) -> dict[str, float]:
    """Means over files of SC / STOI / ESTOI / PESQ, rounded to 4 decimals as the cards print them."""
    return {k: round(float(np.mean([row[k] for row in rows])), 4) for k in KEYS}


def split_report(methods: dict, condition: str, split: str = "test", **options: Any) -> dict:
    """engine.evaluation.evaluate of ``methods`` (label -> name or Method; ``options``: evaluate's) on one
    condition over one split of the TIMIT sample; FileNotFoundError without the sample, PhasefoldError
    where a file is not scored."""
    files = dataset.split_files(split)
    if not files:
        raise FileNotFoundError("shared TIMIT sample not found (../shared/data/timit-sample)")
    protocol = EvaluationProtocol.condition(condition)
    report = evaluate(
        methods,
        files,
        protocol.hop,
        protocol.snr_db,
        n_fft=protocol.n_fft,
        sample_rate=protocol.sample_rate,
        **options,
    )
    if "failures" in report:
        raise PhasefoldError("; ".join(failure_text(f) for f in report["failures"]))
    return report


def score(method, condition: str, n_iter: int = 15, split: str = "test") -> dict[str, float]:
    """Mean SC / STOI / ESTOI / PESQ of one method (registry name or Method) on one condition."""
    label = method if isinstance(method, str) else method.description
    report = split_report({label: method}, condition, split, iterations=n_iter)
    return mean_scores(report["per_file"])


def card_protocol(conditions: list[str] | tuple[str, ...], start: str | None = None) -> str:
    """The card's "protocol" line: the test split and, per condition, engine.evaluation's description."""
    n_files = len(dataset.TEST)
    parts = [f"{c}: {EvaluationProtocol.condition(c).describe(start)}" for c in conditions]
    return f"TIMIT test split ({n_files} files); " + "; ".join(parts)


def condition_names(cfg: StftConfig) -> list[str]:
    """The cards' conditions measured with the STFT settings ``cfg`` (engine.evaluation.CONDITIONS)."""
    return [c for c in CONDITIONS if EvaluationProtocol.condition(c).cfg == cfg]


def card_metrics(model_path: Path) -> dict:
    """Test-split metrics of one exported model for the conditions its STFT serves (its ONNX graph runs)."""
    card = ModelCard.read(model_path)
    method = get_method(str(model_path), ONNXRUNTIME)
    conds = condition_names(card.stft)
    return {
        "test": {c: score(method, c, n_iter=card.layers) for c in conds},
        "protocol": card_protocol(conds) + "; the model's ONNX graph run by onnxruntime",
    }


def main(argv: list[str]) -> int:
    """python -m phasefold.training.evaluate [--split S] [--conditions C,...] METHOD|MODEL.onnx ...

    Prints a JSON table."""
    import argparse

    parser = argparse.ArgumentParser(prog="python -m phasefold.training.evaluate", description=__doc__)
    parser.add_argument(
        "methods", nargs="+", help="registry names (fgla, admm-l2, unfolded-untied) or .onnx files"
    )
    parser.add_argument("--split", choices=("test", "validation"), default="test")
    parser.add_argument(
        "--conditions",
        default=",".join(c for c in CONDITIONS if c.startswith(("exact_hop", "modified"))),
        help="comma-separated (default: the three at 22050 Hz)",
    )
    args = parser.parse_args(argv)
    table = {}
    for name in args.methods:
        table[name] = {}
        for cond in args.conditions.split(","):
            try:
                table[name][cond] = score(name, cond, split=args.split)
            except Exception as exc:  # a model without a hop-512 export, for instance
                table[name][cond] = {"error": str(exc)}
            print(name, cond, table[name][cond], flush=True)
    print(json.dumps(table, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

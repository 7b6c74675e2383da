"""Test-split scores of exported models and of the baselines, in the conditions of docs/architecture.md.

Everything here runs through the engine (no torch): methods from ``engine.methods`` (FGLA, ADMM-l2 and the
registered ``unfolded-*`` models) or ``engine.onnx_model`` for a given file, metrics from ``engine.metrics``.
File i of the split starts from random phase seed i; modified magnitudes use noise seed 1000 + i.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
from phasefold.engine import dataset
from phasefold.engine.audio_io import load_audio
from phasefold.engine.magnitudes import modified_magnitudes
from phasefold.engine.methods import get_method, reconstruct
from phasefold.engine.metrics import evaluate_signal
from phasefold.engine.onnx_model import read_card
from phasefold.engine.stft import StftConfig, magnitude

CONDITIONS = {  # name -> (hop, modified SNR in dB or None)
    "exact_hop256": (256, None),
    "exact_hop512": (512, None),
    "modified_snr5": (256, 5.0),
}
KEYS = ("sc_db", "stoi", "estoi", "pesq")


def condition_inputs(
    condition: str, split: str = "test"
) -> tuple[StftConfig, list[tuple[np.ndarray, np.ndarray]]]:
    """(STFT settings, [(clean, measurements)]) for one condition over one split of the TIMIT sample."""
    hop, snr = CONDITIONS[condition]
    cfg = StftConfig(hop=hop)
    items = []
    for i, f in enumerate(dataset.split_files(split)):
        x = load_audio(f)[0]
        r = magnitude(x, cfg) if snr is None else modified_magnitudes(x, cfg, snr, seed=1000 + i)
        items.append((x, r))
    return cfg, items


def score(method, condition: str, n_iter: int = 15, split: str = "test") -> dict[str, float]:
    """Mean SC / STOI / ESTOI / PESQ of one method (registry name or Method) on one condition."""
    cfg, items = condition_inputs(condition, split)
    if not items:
        raise FileNotFoundError("shared TIMIT sample not found (../shared/data/timit-sample)")
    entry = get_method(method) if isinstance(method, str) else method
    rows = []
    for i, (x, r) in enumerate(items):
        y = reconstruct(entry, r, cfg, n_iter, i, x.size)
        m = evaluate_signal(x, y, cfg, r=r)
        rows.append([m[k] for k in KEYS])
    return {k: round(float(v), 4) for k, v in zip(KEYS, np.mean(rows, axis=0), strict=True)}


def card_metrics(model_path: Path) -> dict:
    """Test-split metrics of one exported model for the conditions its STFT serves."""
    card = read_card(model_path)
    hop = int(card["stft"]["hop"])
    method = get_method(str(model_path))
    conds = [c for c, (h, _) in CONDITIONS.items() if h == hop]
    return {
        "test": {c: score(method, c, n_iter=int(card["layers"])) for c in conds},
        "protocol": "TIMIT test split (10 files), seeded random phase start (seed = file index), "
        "modified: white noise at 5 dB, oracle Wiener mask, noise seed 1000 + index; "
        "metrics from phasefold.engine.metrics against the clean reference",
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
        "--conditions", default=",".join(CONDITIONS), help="comma-separated (default: all three)"
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

"""Iterating an exported network: k = 1..K passes in a row (each starts from the previous x and lambda).

python -m training.iterate OUT.png MODEL.onnx... : SC and PESQ against k on the first test files, with
ADMM-l2 at 15 k iterations for reference (engine only, no torch), under engine.evaluation (exact magnitudes,
hop 256; file i starts from random phase seed i).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
from phasefold.engine.algorithms import admm, random_phase_init
from phasefold.engine.dataset import split_files
from phasefold.engine.evaluation import EvaluationProtocol
from phasefold.engine.onnx_model import load_model
from phasefold.engine.proxes import prox_quadratic
from phasefold.engine.stft import pad_signal

N_FILES = 3


def iterate_model(path: Path, passes: int, protocol: EvaluationProtocol, items) -> list[dict]:
    """Mean metrics after each of ``passes`` passes of the model, over ``items`` [(index, clean, r)]."""
    model = load_model(path)
    cfg, per_k = model.cfg, [[] for _ in range(passes)]
    for i, x, r in items:
        span = pad_signal(random_phase_init(r, cfg, protocol.phase_seed(i), x.size), cfg).astype(np.float32)
        fixed = np.ones_like(span)
        fixed[cfg.pad : cfg.pad + x.size] = 0.0
        lam = np.zeros((2, *r.shape), dtype=np.float32)
        for k in range(passes):
            span, lam = model.step(r, span, fixed, lam)
            per_k[k].append(protocol.scores(x, span[cfg.pad : cfg.pad + x.size].astype(np.float64), r))
    return [{key: float(np.mean([m[key] for m in rows])) for key in rows[0]} for rows in per_k]


def main(argv: list[str]) -> int:
    import argparse

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    parser = argparse.ArgumentParser(
        prog="python -m phasefold.training.iterate",
        description=f"Apply exported networks k = 1..PASSES times in a row on the first {N_FILES} test "
        "files; "
        "plot SC and PESQ against k beside ADMM-l2 at 15 k iterations.",
    )
    parser.add_argument("out", type=Path, help="the plot (PNG)")
    parser.add_argument("models", type=Path, nargs="+", help="exported models (NAME.onnx with their cards)")
    parser.add_argument("--passes", type=int, default=10)
    args = parser.parse_args(argv)
    out, models, passes = args.out, args.models, args.passes
    protocol = EvaluationProtocol.condition("exact_hop256")
    cfg, items = protocol.cfg, list(protocol.items(split_files("test")[:N_FILES]))
    results = {p.stem: iterate_model(p, passes, protocol, items) for p in models}
    ks = np.arange(1, passes + 1)
    admm_rows = []
    for k in ks:
        rows = [
            protocol.scores(
                x, admm(r, cfg, 15 * int(k), protocol.phase_seed(i), x.size, prox_quadratic, 0.1), r
            )
            for i, x, r in items
        ]
        admm_rows.append({key: float(np.mean([m[key] for m in rows])) for key in rows[0]})
    results["admm-l2 (15 k iterations)"] = admm_rows
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.8))
    for name, rows in results.items():
        style = "k--" if name.startswith("admm") else "-o"
        for ax, key in zip(axes, ("sc_db", "pesq"), strict=True):
            ax.plot(ks, [r[key] for r in rows], style, label=name, ms=4)
    for ax, label in zip(
        axes, ("spectral convergence (dB, lower is better)", "PESQ (wide-band)"), strict=True
    ):
        ax.set_xlabel("passes k of the 15-layer network (= 15 k ADMM iterations)")
        ax.set_ylabel(label)
        ax.legend(fontsize=8)
    fig.suptitle(f"Iterating the networks: exact magnitudes, hop 256, {len(items)} TIMIT test files")
    fig.tight_layout()
    fig.savefig(out, dpi=110)
    print(json.dumps(results, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

"""Plain ADMM-l2 (15 iterations) against FGLA for several penalties rho, on the validation split.

    python benchmarks/rho_study.py --condition modified_snr5 --rho 0.03,0.1,0.3,1.0

The trained models start from ADMM-l2 at their rho (``phasefold train --rho``); this is how that start
moves with rho under each condition of training.evaluate (full files, seeded phase, one thread).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--condition", default="modified_snr5", help="exact_hop256, exact_hop512, modified_snr5"
    )
    parser.add_argument("--rho", default="0.03,0.1,0.3,1.0", help="comma-separated penalties")
    parser.add_argument("--split", choices=("test", "validation"), default="validation")
    parser.add_argument("--iterations", type=int, default=15)
    args = parser.parse_args()

    from engine.algorithms import admm, gla
    from engine.metrics import evaluate_signal, one_thread
    from engine.proxes import prox_quadratic
    from training.evaluate import condition_inputs

    cfg, items = condition_inputs(args.condition, args.split)
    if not items:
        raise SystemExit("shared TIMIT sample not found (../shared/data/timit-sample)")

    def mean_scores(rebuild) -> str:
        rows = []
        for i, (x, r) in enumerate(items):
            m = evaluate_signal(x, rebuild(r, i, x.size), cfg, r=r)
            rows.append([m["stoi"], m["estoi"], m["pesq"]])
        s, e, p = np.mean(rows, axis=0)
        return f"STOI {s:.4f}  ESTOI {e:.4f}  PESQ {p:.3f}"

    n = args.iterations
    with one_thread():
        print(f"{args.condition}, {args.split} split, {n} iterations", flush=True)
        print(f"  FGLA              {mean_scores(lambda r, i, m: gla(r, cfg, n, i, m, 0.99))}", flush=True)
        for rho in (float(v) for v in args.rho.split(",")):
            line = mean_scores(lambda r, i, m, rho=rho: admm(r, cfg, n, i, m, prox_quadratic, rho))
            print(f"  ADMM-l2 rho {rho:<5g} {line}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

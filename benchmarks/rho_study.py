"""Plain ADMM-l2 (15 iterations) against FGLA for several penalties rho, on the validation split.

    python -m benchmarks.rho_study --condition modified_snr5 --rho 0.03,0.1,0.3,1.0
    python -m benchmarks.rho_study --condition modified_snr5 --rho 0.3 --schedules 0.1:1,0.03:3

The trained models start from ADMM-l2 at their rho (``phasefold train --rho``, or a schedule with
``--rho-end``); this is how that start moves with rho under each condition of training.evaluate (full
files, seeded phase, one thread). A schedule A:B runs iteration t at the penalty geometric from A to B
(the unscaled dual carried over), as the untrained ``--rho A --rho-end B`` network does.
"""

from __future__ import annotations

import argparse
import sys

import numpy as np


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--condition", default="modified_snr5", help="exact_hop256, exact_hop512, modified_snr5"
    )
    parser.add_argument("--rho", default="0.03,0.1,0.3,1.0", help="comma-separated penalties")
    parser.add_argument("--schedules", default="", help="comma-separated A:B penalty schedules")
    parser.add_argument("--split", choices=("test", "validation"), default="validation")
    parser.add_argument("--iterations", type=int, default=15)
    args = parser.parse_args()

    from phasefold.engine.admm import admm_iterations
    from phasefold.engine.algorithms import _padded, admm, gla, random_phase_init
    from phasefold.engine.evaluation import condition_inputs, evaluate_signal, one_thread
    from phasefold.engine.proxes import prox_quadratic

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
        for spec in filter(None, args.schedules.split(",")):
            start, end = (float(v) for v in spec.split(":"))
            rhos = np.geomspace(start, end, n)

            def scheduled(r, i, m, rhos=rhos):
                x, fixed, inside = _padded(random_phase_init(r, cfg, i, m), cfg)
                lam = None
                for rho in rhos:
                    x, lam = admm_iterations(r, x, fixed, lam, prox_quadratic, rho, 1, cfg)
                return x[inside]

            print(f"  ADMM-l2 rho {spec:<5} {mean_scores(scheduled)}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""How far a streamed score moves under a perturbation far below float32 rounding, per backend.

    python -m benchmarks.stream_chaos                                   # the three rows of docs/results.md
    python -m benchmarks.stream_chaos --rows unfolded-untied:3 --draws 8

Each row (METHOD:LOOKAHEAD) streams the test split (exact magnitudes, hop 256, block 1) on each backend
(the compiled one and the reference: the ONNX graph for a model, numpy for a classical method), once
unperturbed and then ``--draws`` times with the measurements multiplied by (1 + eps n), n standard normal,
eps = ``--eps`` (1e-6 by default). It prints mean SC and PESQ per run, each backend's spread and the
difference of the two backends' means over all the runs: the tolerance a comparison of backends can ask for.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

ROWS = "unfolded-untied:3,admm-l2:3,unfolded-tied:0"


def run_row(method: str, lookahead: int, backend: str, draws: int, eps: float) -> list[tuple[float, float]]:
    """(mean SC, mean PESQ) over the test split of the unperturbed run and each perturbed draw."""
    from phasefold.engine.metrics import evaluate_signal
    from phasefold.engine.streaming import Stream, make_processor
    from phasefold.engine.streaming.offline import run_stream
    from phasefold.training.evaluate import condition_inputs

    cfg, items = condition_inputs("exact_hop256", "test")
    if not items:
        raise SystemExit("the shared TIMIT sample is not here: nothing to measure")
    proc = make_processor(method, cfg, lookahead, 1, backend=backend)
    runs = []
    for draw in range(draws + 1):
        sc, pesq = [], []
        for i, (x, r) in enumerate(items):
            noise = np.random.default_rng(100 * draw + i).standard_normal(r.shape)
            y = run_stream(Stream(proc), r if draw == 0 else r * (1 + eps * noise), x.size)
            m = evaluate_signal(x, y, cfg, r=r)
            sc.append(m["sc_db"])
            pesq.append(m["pesq"])
        runs.append((float(np.mean(sc)), float(np.mean(pesq))))
        label = "unperturbed" if draw == 0 else f"draw {draw}"
        print(
            f"{method} L{lookahead} [{proc.backend}] {label:<11} SC {runs[-1][0]:7.2f} dB  "
            f"PESQ {runs[-1][1]:.3f}",
            flush=True,
        )
    return runs


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rows", default=ROWS, help=f"METHOD:LOOKAHEAD,... (default {ROWS})")
    parser.add_argument("--draws", type=int, default=3, help="perturbed runs per backend (default 3)")
    parser.add_argument("--eps", type=float, default=1e-6, help="relative perturbation (default 1e-6)")
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    report = []
    for row in [r for r in args.rows.split(",") if r]:
        method, _, lookahead = row.partition(":")
        # "onnxruntime" names the reference backend: a model's graph, or numpy for a classical method
        runs = {
            b: run_row(method, int(lookahead or 3), b, args.draws, args.eps)
            for b in ("compiled", "onnxruntime")
        }
        (sc_c, pq_c), (sc_r, pq_r) = (np.array(runs[b]).T for b in ("compiled", "onnxruntime"))
        entry = {
            "row": row,
            "runs": runs,
            "spread_sc_db": {b: float(np.ptp(np.array(runs[b])[:, 0])) for b in runs},
            "spread_pesq": {b: float(np.ptp(np.array(runs[b])[:, 1])) for b in runs},
            "mean_difference_sc_db": float(sc_c.mean() - sc_r.mean()),
            "mean_difference_pesq": float(pq_c.mean() - pq_r.mean()),
        }
        report.append(entry)
        spreads = ", ".join(
            f"{b} {entry['spread_sc_db'][b]:.2f} dB / {entry['spread_pesq'][b]:.3f}" for b in runs
        )
        print(
            f"{row}: spread of the runs (SC / PESQ): {spreads}; compiled - reference over all runs: "
            f"SC {entry['mean_difference_sc_db']:+.2f} dB, PESQ {entry['mean_difference_pesq']:+.4f}",
            flush=True,
        )
    if args.json is not None:
        args.json.write_text(json.dumps(report, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""How far a streamed score moves under a perturbation far below float32 rounding, per backend.

    python -m benchmarks.stream_chaos                                   # the three rows of docs/results.md
    python -m benchmarks.stream_chaos --rows unfolded-untied:3 --draws 8
    python -m benchmarks.stream_chaos --rows admm-l2:8:1,unfolded-stream-l1:1 --backends compiled
    python -m benchmarks.stream_chaos --rows unfolded-stream-modified-l1:1,rtisi-la:1 \\
        --condition modified_snr5

Each row (METHOD:LOOKAHEAD, or METHOD:ITERATIONS:LOOKAHEAD for a classical method's iterations per step)
streams the test split (or ``--split``; ``--condition``, exact magnitudes at hop 256 by default; block 1) on
each backend of ``--backends`` (the compiled one and the reference: the ONNX graph for a model, numpy for a
classical method), once unperturbed and then ``--draws`` times with the measurements multiplied by (1 + eps
n), n standard normal, eps = ``--eps`` (1e-6 by default). It prints the mean scores of each run, each
backend's mean and spread, and, with both backends, the difference of their means over all the runs: the
tolerance a comparison of backends can ask for.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

ROWS = "unfolded-untied:3,admm-l2:3,unfolded-tied:0"
BACKENDS = "compiled,onnxruntime"
METRICS = ("sc_db", "stoi", "estoi", "pesq")


def parse_row(row: str) -> tuple[str, int | None, int]:
    """METHOD[:ITERATIONS]:LOOKAHEAD -> (method, iterations or None, look-ahead)."""
    parts = row.split(":")
    if len(parts) not in (2, 3) or not all(p.isdigit() for p in parts[1:]):
        raise SystemExit(f"row {row!r}: write METHOD:LOOKAHEAD or METHOD:ITERATIONS:LOOKAHEAD")
    iterations = int(parts[1]) if len(parts) == 3 else None
    return parts[0], iterations, int(parts[-1])


def run_row(
    row: str,
    backend: str,
    condition: str,
    draws: int,
    eps: float,
    split: str = "test",
    init: str = "advance",
) -> list[dict[str, float]]:
    """Mean scores over the split of the unperturbed run and of each perturbed draw."""
    from phasefold.engine.evaluation import condition_inputs, evaluate_signal
    from phasefold.engine.streaming import Stream, make_processor
    from phasefold.engine.streaming.offline import run_stream

    method, iterations, lookahead = parse_row(row)
    cfg, items = condition_inputs(condition, split)
    if not items:
        raise SystemExit("the shared TIMIT sample is not here: nothing to measure")
    proc = make_processor(method, cfg, lookahead, 1, iterations=iterations, init=init, backend=backend)
    runs = []
    for draw in range(draws + 1):
        scores = {m: [] for m in METRICS}
        for i, (x, r) in enumerate(items):
            noise = np.random.default_rng(100 * draw + i).standard_normal(r.shape)
            y = run_stream(Stream(proc), r if draw == 0 else r * (1 + eps * noise), x.size)
            found = evaluate_signal(x, y, cfg, r=r)
            for m in METRICS:
                scores[m].append(found[m])
        runs.append({m: float(np.mean(v)) for m, v in scores.items()})
        label = "unperturbed" if draw == 0 else f"draw {draw}"
        last = runs[-1]
        print(
            f"{row} [{proc.backend}] {label:<11} SC {last['sc_db']:7.2f} dB  STOI {last['stoi']:.4f}  "
            f"ESTOI {last['estoi']:.4f}  PESQ {last['pesq']:.3f}",
            flush=True,
        )
    return runs


def summary(runs: list[dict[str, float]]) -> dict[str, dict[str, float]]:
    """Per metric: mean, min and max over the runs."""
    return {
        m: {
            "mean": float(np.mean([r[m] for r in runs])),
            "min": min(r[m] for r in runs),
            "max": max(r[m] for r in runs),
        }
        for m in METRICS
    }


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rows", default=ROWS, help=f"METHOD[:ITERATIONS]:LOOKAHEAD,... (default {ROWS})")
    parser.add_argument("--draws", type=int, default=3, help="perturbed runs per backend (default 3)")
    parser.add_argument("--eps", type=float, default=1e-6, help="relative perturbation (default 1e-6)")
    parser.add_argument(
        "--condition", default="exact_hop256", help="evaluation condition (default exact_hop256)"
    )
    parser.add_argument(
        "--backends",
        default=BACKENDS,
        help=f"comma-separated; 'onnxruntime' names the reference backend (default {BACKENDS})",
    )
    parser.add_argument(
        "--split",
        choices=("train", "validation", "test"),
        default="test",
        help="files to stream (default test; decisions between models are made on validation)",
    )
    parser.add_argument(
        "--init",
        choices=("advance", "rtpghi"),
        default="advance",
        help="the phase start of new frames of a window-step method (default advance)",
    )
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    backends = [b for b in args.backends.split(",") if b]
    report = []
    for row in [r for r in args.rows.split(",") if r]:
        runs = {
            b: run_row(row, b, args.condition, args.draws, args.eps, args.split, args.init) for b in backends
        }
        entry = {
            "row": row,
            "condition": args.condition,
            "split": args.split,
            "init": args.init,
            "runs": runs,
        }
        entry["summary"] = {b: summary(runs[b]) for b in backends}
        for b in backends:
            s = entry["summary"][b]
            print(
                f"{row} [{b}] over {len(runs[b])} runs: "
                + "  ".join(
                    f"{m} {s[m]['mean']:.4f} ({s[m]['min']:.4f} to {s[m]['max']:.4f})" for m in METRICS
                ),
                flush=True,
            )
        if len(backends) == 2:
            first, second = (entry["summary"][b] for b in backends)
            entry["mean_difference"] = {m: first[m]["mean"] - second[m]["mean"] for m in METRICS}
            print(
                f"{row}: {backends[0]} - {backends[1]} over all runs: "
                + ", ".join(f"{m} {entry['mean_difference'][m]:+.4f}" for m in METRICS),
                flush=True,
            )
        report.append(entry)
    if args.json is not None:
        args.json.write_text(json.dumps(report, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())

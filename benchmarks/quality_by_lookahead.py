"""Streaming quality on the shared test split: every method through the same engine, same frames and latency.

    python -m benchmarks.quality_by_lookahead --lookahead 0,1,3 --json docs/stream_quality.json

For each look-ahead L (block 1, hop 256, exact magnitudes) it runs what `phasefold evaluate test --online`
runs (phasefold.engine.evaluation.evaluate on phasefold.engine.streaming.offline.StreamedMethod: the
streaming engine, measured and scored by the evaluation protocol) on the methods below and prints a
markdown table per L. RTISI-LA gets at least the STFT projections per input frame of a 15-layer model at
the same L (its default: ceil(15 W / (L + 1)) iterations per new frame, W = L + N/H); RTPGHI runs variant
(1) (one hop of delay) for L >= 1 and variant (0) at L = 0. ``--inits`` adds the comparison of the phase
start of new frames (phase advance vs RTPGHI) for the window methods.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

DEFAULT = "unfolded-untied,unfolded-tied,admm-l2,rtisi-la,rtpghi"


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--methods", default=DEFAULT)
    parser.add_argument("--lookahead", default="0,1,3")
    parser.add_argument("--block", type=int, default=1)
    parser.add_argument("--split", default="test")
    parser.add_argument("--inits", action="store_true", help="also compare phase starts (advance vs rtpghi)")
    parser.add_argument("--init-methods", default="admm-l2,unfolded-untied")
    parser.add_argument(
        "--backend", default="auto", help="backend of every method: auto, compiled, onnxruntime, numpy"
    )
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()

    from phasefold.engine.evaluation import evaluate
    from phasefold.engine.inputs import resolve_inputs
    from phasefold.engine.streaming import make_processor
    from phasefold.engine.streaming.offline import StreamedMethod

    files = resolve_inputs([args.split])
    if not files:
        print("the shared data is not here: nothing to evaluate", file=sys.stderr)
        return 1
    methods = [m for m in args.methods.split(",") if m]
    report: dict = {"files": [str(f) for f in files], "block": args.block, "runs": []}

    def one(lookahead: int, names: list[str], init: str) -> dict:
        online = {
            n: StreamedMethod.build(n, lookahead, args.block, init=init, backend=args.backend) for n in names
        }
        res = evaluate(online, files, iterations=0, progress=True)  # the exact hop-256 protocol
        for n in names:
            proc = make_processor(n, None, lookahead, args.block, init=init, backend=args.backend)
            res["results"][n]["projections_per_frame"] = proc.projections_per_frame()
            res["results"][n]["name"] = proc.describe()
        return {"lookahead": lookahead, "init": init, "results": res["results"], "per_file": res["per_file"]}

    for lookahead in [int(v) for v in args.lookahead.split(",")] if methods else []:
        run = one(lookahead, methods, "advance")
        report["runs"].append(run)
        print(table(run, args.block), flush=True)
    if args.inits:
        for lookahead in [int(v) for v in args.lookahead.split(",")]:
            for init in ("advance", "rtpghi"):
                run = one(lookahead, [m for m in args.init_methods.split(",") if m], init)
                report["runs"].append(run)
                print(table(run, args.block), flush=True)
    if args.json is not None:
        for run in report["runs"]:
            run.pop("per_file")
        args.json.write_text(json.dumps(report, indent=2) + "\n")
    return 0


def table(run: dict, block: int) -> str:
    lines = [
        f"\nL = {run['lookahead']}, B = {block}, phase start of new frames: {run['init']}\n",
        "| method | SC (dB) | STOI | ESTOI | PESQ | RTF | projections / frame |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in run["results"].values():
        lines.append(
            f"| {r['name']} | {r['sc_db']:.2f} | {r['stoi']:.3f} | {r['estoi']:.3f} | {r['pesq']:.2f} | "
            f"{r['rtf']:.3f} | {r['projections_per_frame']:.0f} |"
        )
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())

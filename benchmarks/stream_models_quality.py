"""Streaming models vs baselines on the test split (exact magnitudes, hop 256), and quality against RTF.

    python -m benchmarks.stream_models_quality --json runs/stream-models.json --plot docs/quality-vs-rtf.png

Rows (each through the streaming engine, block 1, one thread): the shipped streaming models
(exported_models/unfolded-stream-*.onnx at their own look-ahead), the untrained counterpart
(``admm-l2`` with the same iterations per step: the layers study), RTPGHI (variant 0 at L = 0, variant 1
at L >= 1), RTISI-LA at L = 0 and 3, and offline FGLA with 100 iterations; files measured and scored by
phasefold.engine.protocol through phasefold.training.stream_eval. Results already in --json
are kept (delete the file to recompute); ``--only`` restricts to rows whose key contains a string.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def rows() -> dict[str, tuple]:
    """key -> (kind, method, look-ahead, iterations, condition)."""
    out = {
        "rtpghi-0 L0": ("stream", "rtpghi-0", 0, None, "exact_hop256"),
        "rtisi-la L0": ("stream", "rtisi-la", 0, None, "exact_hop256"),
        "rtpghi-1 L1": ("stream", "rtpghi-1", 1, None, "exact_hop256"),
        "rtisi-la L3": ("stream", "rtisi-la", 3, None, "exact_hop256"),
        "fgla-100 offline": ("offline", "fgla", None, 100, "exact_hop256"),
    }
    for t in (1, 2, 3, 5, 15):  # the layers study: untrained ADMM-l2 with t iterations per step at L = 1
        out[f"admm-l2 T{t} L1"] = ("stream", "admm-l2", 1, t, "exact_hop256")
    for lookahead in (0, 3):
        out[f"admm-l2 T3 L{lookahead}"] = ("stream", "admm-l2", lookahead, 3, "exact_hop256")
    out["admm-l2 T3 L1 modified"] = ("stream", "admm-l2", 1, 3, "modified_snr5")
    for path in sorted((ROOT / "exported_models").glob("unfolded-stream-*.onnx")):
        card = json.loads(path.with_suffix(".json").read_text())
        lookahead = int(card["streaming"]["lookahead"])
        name = f"{path.stem} T{card['layers']} L{lookahead}"
        out[name] = ("stream", str(path), lookahead, None, "exact_hop256")
        if "modified" in path.stem:
            out[f"{name} modified"] = ("stream", str(path), lookahead, None, "modified_snr5")
    return out


def plot(results: dict, path: Path) -> None:
    """PESQ against one-thread CPU real-time factor, exact magnitudes."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8, 5))
    for key, r in results.items():
        if key.endswith("modified"):
            continue
        style = "o" if key.startswith("unfolded-stream") else ("s" if key.startswith("admm") else "^")
        ax.scatter(r["rtf_cpu"], r["pesq"], marker=style, s=40)
        ax.annotate(key, (r["rtf_cpu"], r["pesq"]), fontsize=7, xytext=(4, 2), textcoords="offset points")
    ax.axvline(0.05, color="gray", lw=0.8, ls="--")
    ax.text(0.05, ax.get_ylim()[0], " RTF 0.05", fontsize=7, color="gray", va="bottom")
    ax.set_xscale("log")
    ax.set_xlabel("real-time factor (one thread, CPU time / audio time; log scale)")
    ax.set_ylabel("PESQ (wide band), test split")
    ax.set_title(
        "Exact magnitudes, hop 256: circles = streaming models, squares = ADMM-l2, triangles = baselines"
    )
    ax.title.set_fontsize(9)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--json", type=Path, default=ROOT / "runs" / "streaming-quality.json")
    parser.add_argument(
        "--plot", type=Path, default=None, help="draw PESQ against RTF of every row in --json to this file"
    )
    parser.add_argument("--only", default=None, help="compute only rows whose key contains this string")
    parser.add_argument("--split", choices=("test", "validation"), default="test")
    parser.add_argument(
        "--backend", default="auto", help="backend of the streamed rows: auto, compiled, onnxruntime, numpy"
    )
    args = parser.parse_args()

    from phasefold.training.stream_eval import offline_scores, stream_scores

    results = json.loads(args.json.read_text()) if args.json.is_file() else {}
    args.json.parent.mkdir(parents=True, exist_ok=True)
    for key, (kind, method, lookahead, iterations, condition) in rows().items():
        if key in results or (args.only and args.only not in key):
            continue
        if kind == "offline":
            results[key] = offline_scores(method, iterations, condition, split=args.split)
        else:
            results[key] = stream_scores(
                method, lookahead, condition, iterations=iterations, split=args.split, backend=args.backend
            )
        print(f"{key:40s} {json.dumps(results[key])}", flush=True)
        args.json.write_text(json.dumps(results, indent=1))
    print("| method | SC dB | STOI | ESTOI | PESQ | RTF wall | RTF CPU |\n|---|---|---|---|---|---|---|")
    for key, r in results.items():
        print(
            f"| {key} | {r['sc_db']:.2f} | {r['stoi']:.4f} | {r['estoi']:.4f} | {r['pesq']:.3f} | "
            f"{r['rtf']:.3f} | {r['rtf_cpu']:.3f} |"
        )
    if args.plot is not None:  # only when asked: a partial run (--only) would redraw the docs' plot
        plot(results, args.plot)
    return 0


if __name__ == "__main__":
    sys.exit(main())

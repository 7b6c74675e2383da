"""Quality against cost of every streaming method at L = 0, 1 and 3, the Pareto front, and issue 14's checks.

    phasefold bench --methods $(python -m benchmarks.stream_models_quality --list-methods) \\
        --backends compiled --lookahead 0,1,3 --block 1 --json runs/pareto-bench.json
    python -m benchmarks.stream_models_quality --rtf runs/pareto-bench.json --json runs/pareto-quality.json \\
        --plot docs/quality-vs-rtf.png

Rows, each through the streaming engine (block 1, compiled backend unless --backend says otherwise) on the
test split, measured and scored by phasefold.engine.evaluation (phasefold.training.stream_eval):
- at each L: the offline untied model streamed (``unfolded-untied``, all its layers every hop), every
  shipped streaming model made for that L, and the classical methods over a sweep of iterations per step
  (RTISI-LA, ADMM-l2, windowed FGLA; written ``method:iterations``), RTISI-LA at its default iterations
  and RTPGHI (variant 0 at L = 0, 1 at L >= 1);
- on modified magnitudes (5 dB): the modified L = 1 models and the classical methods at L = 1.

Quality comes from one run over the test split; the real-time factor from ``--rtf``, a
``phasefold bench --json`` file (one thread, CPU time, median of interleaved rounds), so that the costs
compared were measured together. Results already in --json are kept (delete the file to recompute).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from phasefold.engine.model_card import ModelCard
from phasefold.engine.stft import HOP, N_FFT

ROOT = Path(__file__).resolve().parents[1]
LOOKAHEADS = (0, 1, 3)
SWEEP = {"rtisi-la": (1, 2, 3, 5, 8), "admm-l2": (1, 2, 3, 5, 8, 10), "fgla": (1, 2, 3, 5, 8, 10)}
CLASSICAL = ("rtisi-la", "rtpghi", "admm-l2", "fgla")
EXACT, MODIFIED = "exact_hop256", "modified_snr5"
SHIPPED = {0: "unfolded-stream-l0", 1: "unfolded-stream-l1", 3: "unfolded-stream-l3"}  # + "-t3" variants
MODIFIED_MODEL = "unfolded-stream-modified-l1"
# issue 14: PESQ within 0.03 of the streamed untied model, at most a third of its RTF, classical + 0.15
PESQ_TOLERANCE, RTF_SHARE, CLASSICAL_MARGIN = 0.03, 1.0 / 3.0, 0.15
RTF_LIMIT = {0: 0.012, 1: 0.015, 3: 0.02}


def stream_models() -> dict[str, int]:
    """Shipped streaming models -> their look-ahead."""
    out = {}
    for path in sorted((ROOT / "exported_models").glob("unfolded-stream-*.onnx")):
        out[path.stem] = ModelCard.read(path).streaming.lookahead
    return out


def classical(lookahead: int) -> list[str]:
    out = [f"{m}:{t}" for m, ts in SWEEP.items() for t in ts]
    return out + ["rtisi-la", "admm-l2:15", "rtpghi-0" if lookahead == 0 else "rtpghi-1"]


def rows() -> dict[str, tuple[str, int, str]]:
    """key -> (method, look-ahead, condition); key = "method L<L>" (+ " modified")."""
    models = stream_models()
    out = {}
    for lookahead in LOOKAHEADS:
        methods = ["unfolded-untied"] + [m for m, lk in models.items() if lk == lookahead]
        for method in methods + classical(lookahead):
            out[f"{method} L{lookahead}"] = (method, lookahead, EXACT)
    modified = [m for m, lk in models.items() if "modified" in m and lk == 1]
    for method in modified + ["rtisi-la", "rtisi-la:5", "rtpghi-1", "admm-l2:3", "fgla:10"]:
        out[f"{method} L1 modified"] = (method, 1, MODIFIED)
    return out


def bench_methods() -> list[str]:
    """Every method of the rows, for `phasefold bench --methods`."""
    return list(dict.fromkeys(method for method, _, _ in rows().values()))


def read_rtf(path: Path | None) -> dict[tuple[str, int], float]:
    """(method, L) -> compiled RTF (CPU time, median of rounds) from a `phasefold bench --json` file."""
    if path is None:
        return {}
    data = json.loads(path.read_text())
    return {
        (r["method"], int(r["lookahead"])): float(r["rtf_cpu"])
        for r in data["results"]
        if int(r["block"]) == 1 and r["backend"] == "compiled"
    }


def family(method: str) -> str:
    return method.split(":")[0].removesuffix("-0").removesuffix("-1")


def pareto(points: list[tuple[float, float, str]], higher_better: bool) -> list[tuple[float, float, str]]:
    """The non-dominated points (cost, value, key), cheapest first: no other point is at most as costly
    and at least as good with one of the two strictly."""
    sign = 1.0 if higher_better else -1.0
    front, best = [], -float("inf")
    for cost, value, key in sorted(points, key=lambda p: (p[0], -sign * p[1])):
        if sign * value > best:
            front.append((cost, value, key))
            best = sign * value
    return front


def checks(results: dict, rtf: dict) -> list[str]:
    """Issue 14's acceptance points, one line each, from the results and the bench's RTF."""
    lines = []
    for lookahead, name in [(lk, n + suffix) for lk, n in SHIPPED.items() for suffix in ("", "-t3")]:
        model, ref = results.get(f"{name} L{lookahead}"), results.get(f"unfolded-untied L{lookahead}")
        cost, ref_cost = rtf.get((name, lookahead)), rtf.get(("unfolded-untied", lookahead))
        if model is None or ref is None or cost is None or ref_cost is None:
            lines.append(f"L = {lookahead}: {name} or unfolded-untied not measured")
            continue
        gap = model["pesq"] - ref["pesq"]
        lines.append(
            f"L = {lookahead}: {name} PESQ {model['pesq']:.3f} vs untied streamed {ref['pesq']:.3f} "
            f"({gap:+.3f}; {'met' if gap >= -PESQ_TOLERANCE else 'missed'}, within {PESQ_TOLERANCE}); "
            f"RTF {cost:.4f} = {cost / ref_cost:.2f}x untied {ref_cost:.4f} "
            f"({'met' if cost <= RTF_SHARE * ref_cost else 'missed'}, <= 1/3) and "
            f"{'met' if cost <= RTF_LIMIT[lookahead] else 'missed'} against {RTF_LIMIT[lookahead]}"
        )
        for fam in CLASSICAL:
            within = [
                (r["pesq"], key)
                for key, r in results.items()
                if key.endswith(f" L{lookahead}")
                and family(key.rsplit(" ", 1)[0]) == fam
                and rtf.get((key.rsplit(" ", 1)[0], lookahead), float("inf")) <= cost
            ]
            if not within:
                lines.append(f"    {fam}: no iteration count measured within RTF {cost:.4f}")
                continue
            best, key = max(within)
            verdict = "met" if model["pesq"] - best >= CLASSICAL_MARGIN else "missed"
            lines.append(
                f"    {fam}: best within its RTF {key} PESQ {best:.3f}; margin {model['pesq'] - best:+.3f} "
                f"({verdict}, >= {CLASSICAL_MARGIN})"
            )
    mod, base = results.get(f"{MODIFIED_MODEL} L1 modified"), results.get("rtisi-la L1 modified")
    if mod and base:
        wins = {m: mod[m] > base[m] for m in ("stoi", "estoi", "pesq")}
        better = ", ".join(k for k, v in wins.items() if v) or "none"
        lines.append(
            f"modified, L = 1: {MODIFIED_MODEL} STOI/ESTOI/PESQ {mod['stoi']:.4f}/{mod['estoi']:.4f}/"
            f"{mod['pesq']:.3f} vs RTISI-LA {base['stoi']:.4f}/{base['estoi']:.4f}/{base['pesq']:.3f}: "
            f"{'met' if all(wins.values()) else 'missed'} ({better} better)"
        )
    return lines


def plot(results: dict, rtf: dict, path: Path) -> None:
    """PESQ (top) and SC (bottom) against compiled RTF at each L, exact magnitudes, Pareto fronts marked."""
    import matplotlib
    import matplotlib.ticker

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    colours = {"unfolded": "tab:red", "rtisi-la": "tab:blue", "rtpghi": "tab:green", "admm-l2": "tab:orange",
               "fgla": "tab:purple"}  # fmt: skip
    fig, axes = plt.subplots(2, len(LOOKAHEADS), figsize=(15, 8.5), squeeze=False)
    for col, lookahead in enumerate(LOOKAHEADS):
        pts = []
        for key, r in results.items():
            method, tag = key.rsplit(" ", 1) if not key.endswith("modified") else (None, None)
            if tag != f"L{lookahead}" or (method, lookahead) not in rtf:
                continue
            pts.append((rtf[(method, lookahead)], r, method))
        for row, (metric, higher, label) in enumerate(
            (
                ("pesq", True, "PESQ (wide band)"),
                ("sc_db", False, "spectral convergence (dB, lower is better)"),
            )
        ):
            ax = axes[row][col]
            for cost, r, method in pts:
                fam = "unfolded" if method.startswith("unfolded") else family(method)
                shipped = method in SHIPPED.values()
                ax.scatter(cost, r[metric], color=colours[fam], marker="*" if shipped else "o",
                           s=160 if shipped else 22, zorder=3)  # fmt: skip
                text = method.removeprefix("unfolded-") if ":" not in method else method.split(":")[1]
                ax.annotate(text, (cost, r[metric]), fontsize=6.5 if ":" not in method else 5.5,
                            xytext=(3, 2), textcoords="offset points")  # fmt: skip
            front = pareto([(c, r[metric], m) for c, r, m in pts], higher)
            ax.step([p[0] for p in front], [p[1] for p in front], where="post", color="black", lw=0.9,
                    label="Pareto front")  # fmt: skip
            ax.scatter(
                [p[0] for p in front], [p[1] for p in front], facecolors="none", edgecolors="black", s=70
            )
            ax.axvline(RTF_LIMIT[lookahead], color="gray", lw=0.8, ls="--")
            ax.set_xscale("log")
            ax.xaxis.set_major_locator(
                matplotlib.ticker.FixedLocator([0.001, 0.002, 0.005, 0.01, 0.02, 0.05])
            )
            ax.xaxis.set_major_formatter(matplotlib.ticker.FormatStrFormatter("%g"))
            ax.xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
            ax.grid(alpha=0.3)
            if row == 0:
                ax.set_title(f"L = {lookahead} (latency {N_FFT + HOP * lookahead} samples)", fontsize=10)
            if row == 1:
                ax.set_xlabel("RTF, compiled backend (one thread, CPU time / audio time; log)")
            if col == 0:
                ax.set_ylabel(label)
    handles = [plt.Line2D([], [], color=c, marker="o", ls="", label=f) for f, c in colours.items()]
    handles += [plt.Line2D([], [], color="k", marker="*", ls="", ms=10, label="shipped stream model"),
                plt.Line2D([], [], color="k", lw=0.9, label="Pareto front"),
                plt.Line2D([], [], color="gray", ls="--", lw=0.8, label="issue 14 RTF limit")]  # fmt: skip
    fig.legend(handles=handles, loc="lower center", ncol=len(handles), fontsize=8)
    fig.suptitle(
        "Test split, exact magnitudes, hop 256, block 1: quality against cost (small numbers: iterations per "
        "step of the classical sweeps; hollow circles: the Pareto front)"
    )
    fig.tight_layout(rect=(0, 0.04, 1, 0.97))
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--json", type=Path, default=ROOT / "runs" / "pareto-quality.json")
    parser.add_argument("--rtf", type=Path, default=None, help="a `phasefold bench --json` file (compiled)")
    parser.add_argument("--plot", type=Path, default=None, help="draw quality against RTF to this file")
    parser.add_argument("--only", default=None, help="compute only rows whose key contains this string")
    parser.add_argument("--split", choices=("test", "validation"), default="test")
    parser.add_argument("--backend", default="compiled", help="backend of the rows (default compiled)")
    parser.add_argument("--list-methods", action="store_true", help="print the rows' methods for bench")
    args = parser.parse_args()
    if args.list_methods:
        print(",".join(bench_methods()))
        return 0

    from phasefold.training.stream_eval import stream_scores

    results = json.loads(args.json.read_text()) if args.json.is_file() else {}
    args.json.parent.mkdir(parents=True, exist_ok=True)
    table = rows()  # reads the shipped models' cards: once
    for key, (method, lookahead, condition) in table.items():
        if key in results or (args.only and args.only not in key):
            continue
        name, _, iters = method.partition(":")
        results[key] = stream_scores(
            name, lookahead, condition, iterations=int(iters) if iters else None, split=args.split,
            backend=args.backend,
        )  # fmt: skip
        print(f"{key:40s} {json.dumps(results[key])}", flush=True)
        args.json.write_text(json.dumps(results, indent=1))
    rtf = read_rtf(args.rtf)
    print("| method | L | condition | SC dB | STOI | ESTOI | PESQ | RTF (bench) |")
    print("|---|---|---|---|---|---|---|---|")
    for key, r in results.items():
        method, lookahead, condition = table.get(key, (key, -1, "?"))
        cost = rtf.get((method, lookahead))
        shown = "-" if cost is None else f"{cost:.4f}"
        print(
            f"| {method} | {lookahead} | {condition} | {r['sc_db']:.2f} | {r['stoi']:.4f} | "
            f"{r['estoi']:.4f} | {r['pesq']:.3f} | {shown} |"
        )
    for line in checks(results, rtf):
        print(line)
    if args.plot is not None:
        plot(results, rtf, args.plot)
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Long offline reconstructions: peak memory, and the block-wise result against the whole-signal one.

    python -m benchmarks.offline_memory --minutes 10                    # peak memory of phasefold reconstruct
    python -m benchmarks.offline_memory --quality --block 128            # blocks against the whole signal
    python -m benchmarks.offline_memory --quality --concatenated --block 1024 --margin 32   # one long signal

``--minutes``: writes that much of the built-in demo to a temporary WAV and runs ``phasefold reconstruct``
on it once per method in a child process, reporting the child's peak resident memory (ru_maxrss) and the
wall time. ``--quality``: on the test split, every method rebuilt over the whole signal and in blocks of
``--block`` frames (engine.runners.run_span; the shipped block, engine.runners.OFFLINE_BLOCK_FRAMES, is
longer than any test file, so a small block forces seams), with mean SC and PESQ of both and their difference;
with ``--concatenated`` the split's files joined into one signal (43.6 s), rebuilt whole and in segments.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

METHODS = "fgla,admm-l2,unfolded-untied"


def peak_memory(methods: list[str], minutes: float, iterations: int) -> list[dict]:
    """Peak resident memory (MB) and wall seconds of `phasefold reconstruct` on ``minutes`` of the demo."""
    import soundfile as sf
    from phasefold.engine.demo import demo_signal
    from phasefold.engine.stft import SAMPLE_RATE

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        wav = Path(tmp) / "long.wav"
        sf.write(wav, demo_signal(60.0 * minutes).astype(np.float32), SAMPLE_RATE, subtype="PCM_16")
        for method in methods:
            cmd = [
                sys.executable,
                "-m",
                "phasefold",
                "reconstruct",
                str(wav),
                "-o",
                str(Path(tmp) / "out.wav"),
                "--method",
                method,
                "--iterations",
                str(iterations),
            ]
            code = (
                "import resource, subprocess, sys; r = subprocess.run(sys.argv[1:]); "
                "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss); sys.exit(r.returncode)"
            )
            t0 = time.perf_counter()
            res = subprocess.run([sys.executable, "-c", code, *cmd], capture_output=True, text=True)
            if res.returncode != 0:
                raise SystemExit(f"{method}: {res.stderr.strip().splitlines()[-1]}")
            row = {
                "method": method,
                "minutes": minutes,
                "iterations": iterations,
                "peak_mb": int(res.stdout.strip().splitlines()[-1]) / 1024,
                "wall_s": time.perf_counter() - t0,
            }
            rows.append(row)
            print(
                f"{method:<18} {minutes:g} min: peak resident memory {row['peak_mb']:7.1f} MB, "
                f"wall {row['wall_s']:6.1f} s",
                flush=True,
            )
    return rows


def block_quality(
    methods: list[str], block: int, margin: int, iterations: int, concatenated: bool = False
) -> list[dict]:
    """Mean SC / PESQ on the test split over the whole signal and in blocks, per method (``concatenated``:
    the split as one signal)."""
    from phasefold.engine import runners
    from phasefold.engine.evaluation import condition_inputs, evaluate_signal
    from phasefold.engine.inputs import measure
    from phasefold.engine.registry import lookup

    cfg, items = condition_inputs("exact_hop256", "test")
    if not items:
        raise SystemExit("the shared TIMIT sample is not here: nothing to measure")
    if concatenated:
        x = np.concatenate([x for x, _ in items])
        items = [(x, measure(x, cfg, exact_dtype=np.float32))]
    rows = []
    for method in methods:
        spec = lookup(method)
        step, _ = runners.window_step(spec, cfg, spec.passes(iterations))
        scores = {"whole": [], "blocks": []}
        for i, (x, r) in enumerate(items):
            for key, size in (("whole", r.shape[0]), ("blocks", block)):
                y = runners.run_span(step, r, cfg, i, x.size, block=size, margin=margin)
                m = evaluate_signal(x, y, cfg, r=r)
                scores[key].append([m["sc_db"], m["pesq"]])
        (sc_w, pq_w), (sc_b, pq_b) = (np.mean(scores[k], axis=0) for k in ("whole", "blocks"))
        row = {
            "method": method,
            "block": block,
            "margin": margin,
            "concatenated": concatenated,
            "sc_whole": sc_w,
            "sc_blocks": sc_b,
            "pesq_whole": pq_w,
            "pesq_blocks": pq_b,
        }
        rows.append(row)
        print(
            f"{method:<18} whole SC {sc_w:7.2f} dB PESQ {pq_w:.3f} | blocks of {block}: SC {sc_b:7.2f} dB "
            f"PESQ {pq_b:.3f} | difference SC {sc_b - sc_w:+.2f} dB PESQ {pq_b - pq_w:+.3f}",
            flush=True,
        )
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--methods", default=METHODS, help=f"comma-separated (default {METHODS})")
    parser.add_argument("--minutes", type=float, default=None, help="peak memory on this much audio")
    parser.add_argument("--quality", action="store_true", help="blocks against the whole signal, test split")
    parser.add_argument("--concatenated", action="store_true", help="--quality on the split as one signal")
    parser.add_argument("--block", type=int, default=128, help="frames per block for --quality (default 128)")
    parser.add_argument("--margin", type=int, default=32, help="margin frames for --quality (default 32)")
    parser.add_argument("--iterations", type=int, default=100, help="iterations (default 100)")
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    methods = [m for m in args.methods.split(",") if m]
    report: dict = {}
    if args.minutes is not None:
        report["memory"] = peak_memory(methods, args.minutes, args.iterations)
    if args.quality:
        report["quality"] = block_quality(
            methods, args.block, args.margin, args.iterations, args.concatenated
        )
    if not report:
        parser.error("ask for --minutes N and/or --quality")
    if args.json is not None:
        args.json.write_text(json.dumps(report, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Where the time of one streaming step goes: engine overhead vs the model, and the model's ONNX ops.

    python benchmarks/stream_profile.py --method unfolded-untied --lookahead 3 --block 1

Streams --seconds of the demo utterance through the engine on one thread and reports the per-frame
time (thread CPU time, robust on a busy machine) split into the window step (the model or algorithm)
and the engine around it (sliding, phase start, fixed mask, casts). For ONNX models it then re-runs
the step with onnxruntime's profiler and sums the node times per operator type.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--method", default="unfolded-untied")
    parser.add_argument("--lookahead", "-L", type=int, default=3)
    parser.add_argument("--block", "-B", type=int, default=1)
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()

    from phasefold.engine.demo import demo_signal
    from phasefold.engine.metrics import one_thread
    from phasefold.engine.stft import StftConfig, magnitude
    from phasefold.engine.streaming import Stream, make_processor

    cfg = StftConfig()
    mag = magnitude(demo_signal(args.seconds), cfg)
    report: dict = {"method": args.method, "lookahead": args.lookahead, "block": args.block}
    with one_thread():
        proc = make_processor(args.method, cfg, args.lookahead, args.block)
        step_time = [0.0]
        inner = proc.step.fn

        def timed(*a):
            t0 = time.thread_time()
            out = inner(*a)
            step_time[0] += time.thread_time() - t0
            return out

        proc.step.fn = timed
        stream = Stream(proc)
        stream.push(mag[: 8 * args.block])  # warm-up
        stream.reset()
        step_time[0] = 0.0
        for i in range(0, mag.shape[0], args.block):
            stream.push(mag[i : i + args.block])
        n = stream.stats.frames_in
        total_ms = 1000 * stream.stats.cpu_s / n  # thread CPU time: robust on a busy machine
        step_ms = 1000 * step_time[0] / n
        report.update(
            frames=n,
            ms_per_frame=total_ms,
            step_ms_per_frame=step_ms,
            engine_ms_per_frame=total_ms - step_ms,
            rtf=stream.stats.rtf_cpu,
            rtf_wall=stream.stats.rtf,
            hop_ms=1000 * cfg.hop / cfg.sample_rate,
            window_frames=proc.n_window,
        )
        print(
            f"{proc.describe()}: {total_ms:.2f} ms per frame (RTF {stream.stats.rtf_cpu:.3f}, CPU time; "
            f"a hop lasts "
            f"{report['hop_ms']:.2f} ms): window step {step_ms:.2f} ms, "
            f"engine around it {total_ms - step_ms:.2f} ms"
        )
        model = proc.step.model
        if model is not None:
            report["ops"] = _onnx_ops(model, proc, args)
            total = sum(report["ops"].values())
            print("onnxruntime node time per operator type (one thread):")
            for op, us in sorted(report["ops"].items(), key=lambda kv: -kv[1])[:8]:
                print(f"  {op:<12} {us / 1000:8.2f} ms per step  {100 * us / total:5.1f} %")
    if args.json is not None:
        args.json.write_text(json.dumps(report, indent=2) + "\n")
    return 0


def _onnx_ops(model, proc, args) -> dict[str, float]:
    """Mean microseconds per step spent in each operator type (onnxruntime profiling)."""
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    opts.inter_op_num_threads = 1
    opts.enable_profiling = True
    opts.profile_file_prefix = str(Path(tempfile.gettempdir()) / "phasefold-ort-profile")
    sess = ort.InferenceSession(str(model.path), opts, providers=["CPUExecutionProvider"])
    w, k, s = proc.n_window, proc.cfg.n_bins, proc.cfg.span(proc.n_window)
    rng = np.random.default_rng(0)
    feeds = {
        "mag": np.abs(rng.standard_normal((w, k))).astype(np.float32),
        "x": rng.standard_normal(s).astype(np.float32),
        "fixed": np.zeros(s, np.float32),
        "lam": np.zeros((2, w, k), np.float32),
    }
    n_runs = 50
    for _ in range(n_runs):
        sess.run(None, feeds)
    path = sess.end_profiling()
    events = json.loads(Path(path).read_text())
    Path(path).unlink()
    per_op: dict[str, float] = defaultdict(float)
    for e in events:
        if e.get("cat") == "Node" and e["name"].endswith("_kernel_time"):
            per_op[e["args"]["op_name"]] += e["dur"] / n_runs
    return dict(per_op)


if __name__ == "__main__":
    sys.exit(main())

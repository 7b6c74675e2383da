"""`phasefold bench`: real-time factor (one thread) and latency of every streaming method; memory soak.

Every method streams the same frames (the built-in demo utterance, or --input) through the same engine
for each look-ahead L and block size B. RTF = compute time / audio time, on one thread (BLAS/OpenMP
pools capped, onnxruntime sessions with one intra-op thread), by wall clock and by the thread's CPU time
(what a machine with a free core would see; on a busy machine the wall figure includes waiting for a
core). Machines are noisy: compare the ratios to the reference method of the same run ("x ref").

``--soak SECONDS`` streams that much simulated audio (frames looped) through one method and samples
the resident memory (psutil) as it goes; it checks that samples out = frames in x H exactly.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

DEFAULT_METHODS = "rtpghi,rtisi-la,admm-l2,admm-kl,fgla,unfolded-tied,unfolded-untied"


def _int_list(text: str) -> list[int]:
    try:
        return [int(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers, not {text!r}") from None


def register(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--methods",
        default=DEFAULT_METHODS,
        help=f"comma-separated streaming methods or model paths (default {DEFAULT_METHODS})",
    )
    parser.add_argument(
        "--lookahead", "-L", type=_int_list, default=[0, 1, 3], help="look-aheads L (default 0,1,3)"
    )
    parser.add_argument("--block", "-B", type=_int_list, default=[1, 4], help="block sizes B (default 1,4)")
    parser.add_argument("--hop", type=int, default=256, help="STFT hop (default 256)")
    parser.add_argument("--seconds", type=float, default=4.0, help="seconds of audio per run (default 4)")
    parser.add_argument("--input", type=Path, default=None, help="audio file to stream (default: the demo)")
    parser.add_argument("--iterations", type=int, default=None, help="iterations per step (method default)")
    parser.add_argument("--reference", default="rtpghi", help="method the ratios refer to (default rtpghi)")
    parser.add_argument("--json", type=Path, default=None, help="write the results as JSON")
    parser.add_argument(
        "--soak",
        type=float,
        default=None,
        metavar="SECONDS",
        help="memory soak: stream this many seconds of simulated audio through --soak-method",
    )
    parser.add_argument("--soak-method", default="unfolded-untied", help="method of the soak")
    parser.add_argument(
        "--profile", action="store_true", help="cProfile the first configuration of each method"
    )
    parser.set_defaults(run=run)


def _frames(args):
    import numpy as np
    from phasefold.engine.stft import StftConfig, magnitude

    cfg = StftConfig(hop=args.hop)
    if args.input is not None:
        from phasefold.engine.audio_io import load_audio

        x, _ = load_audio(args.input)
    else:
        from phasefold.engine.demo import demo_signal

        x = demo_signal(args.seconds)
    x = x[: int(args.seconds * cfg.sample_rate)]
    return cfg, np.ascontiguousarray(magnitude(x, cfg))


def bench(args, cfg, mag) -> list[dict]:
    """One row per (method, L, B): RTF, ms per frame, latency, projections per frame."""
    from phasefold.engine.errors import InputError
    from phasefold.engine.streaming import Stream, make_processor

    rows = []
    methods = [m.strip() for m in args.methods.split(",") if m.strip()]
    for method in methods:
        for lookahead in args.lookahead:
            for block in args.block:
                iters = None if method.startswith("rtpghi") else args.iterations
                try:
                    proc = make_processor(method, cfg, lookahead, block, iterations=iters)
                except InputError as exc:
                    print(f"skip {method} L={lookahead} B={block}: {exc}", file=sys.stderr)
                    continue
                stream = Stream(proc)
                stream.push(mag[: 4 * block])  # warm-up (sessions, caches), not timed
                stream.reset()
                if args.profile and lookahead == args.lookahead[-1] and block == args.block[0]:
                    _profile(stream, mag, method)
                    stream.reset()
                wall0 = time.perf_counter()
                for i in range(0, mag.shape[0], block):
                    stream.push(mag[i : i + block])
                stream.flush()
                wall = time.perf_counter() - wall0
                s = stream.stats
                rows.append(
                    {
                        "method": stream.name,
                        "lookahead": lookahead,
                        "block": block,
                        "rtf": s.rtf,
                        "rtf_cpu": s.rtf_cpu,
                        "cpu_ms_per_frame": 1000 * s.cpu_s / s.frames_in,
                        "ms_per_frame": s.ms_per_frame,
                        "latency_ms": stream.latency_ms,
                        "latency_samples": stream.latency_samples,
                        "projections_per_frame": proc.projections_per_frame(),
                        "frames": s.frames_in,
                        "wall_s": wall,
                        "describe": proc.describe(),
                    }
                )
                print(
                    f"  {stream.name:<16} L={lookahead} B={block}  RTF {s.rtf:6.3f}  "
                    f"{s.ms_per_frame:7.2f} ms/frame",
                    file=sys.stderr,
                )
    return rows


def _profile(stream, mag, method: str) -> None:
    import cProfile
    import pstats

    prof = cProfile.Profile()
    prof.enable()
    stream.push(mag)
    prof.disable()
    print(f"profile of {method} ({stream.describe()}):", file=sys.stderr)
    pstats.Stats(prof, stream=sys.stderr).sort_stats("tottime").print_stats(8)


def format_rows(rows: list[dict], reference: str) -> str:
    """RTF by wall clock and by thread CPU time (robust on a busy machine); ratios use the CPU figures."""
    ref = {(r["lookahead"], r["block"]): r["rtf_cpu"] for r in rows if r["method"].startswith(reference)}
    width = max([len("method"), *(len(r["method"]) for r in rows)])
    lines = [
        f"{'method':<{width}}  {'L':>2} {'B':>2}  {'RTF wall':>8}  {'RTF cpu':>7}  {'cpu ms/frame':>12}  "
        f"{'latency ms':>10}  {'proj/frame':>10}  {'x ref':>6}"
    ]
    for r in rows:
        base = ref.get((r["lookahead"], r["block"]))
        ratio = f"{r['rtf_cpu'] / base:6.2f}" if base else "     -"
        lines.append(
            f"{r['method']:<{width}}  {r['lookahead']:>2} {r['block']:>2}  {r['rtf']:>8.3f}  "
            f"{r['rtf_cpu']:>7.3f}  {r['cpu_ms_per_frame']:>12.2f}  {r['latency_ms']:>10.1f}  "
            f"{r['projections_per_frame']:>10.0f}  {ratio}"
        )
    return "\n".join(lines)


def soak(method: str, seconds: float, cfg, mag, lookahead: int = 3, block: int = 1, iterations=None) -> dict:
    """Stream ``seconds`` of looped frames; resident memory sampled; exact sample count checked."""
    import numpy as np
    import psutil
    from phasefold.engine.streaming import Stream

    proc = psutil.Process()
    stream = Stream.open(method, cfg, lookahead=lookahead, block=block, iterations=iterations)
    n_total = int(round(seconds * cfg.sample_rate / cfg.hop)) // block * block
    loop = mag[: (mag.shape[0] // block) * block]
    n_out, pushed = 0, 0
    samples, t0 = [], time.perf_counter()
    warm = min(n_total // 20, 2000)
    rss0 = None
    while pushed < n_total:
        for i in range(0, loop.shape[0], block):
            if pushed >= n_total:
                break
            n_out += stream.push(loop[i : i + block]).size
            pushed += loop[i : i + block].shape[0]
            if rss0 is None and pushed >= warm:
                rss0 = proc.memory_info().rss
        samples.append((pushed, proc.memory_info().rss, time.perf_counter() - t0))
        if len(samples) % 50 == 0:
            print(
                f"  soak {pushed}/{n_total} frames, RSS {samples[-1][1] / 1e6:.1f} MB, "
                f"{samples[-1][2]:.0f} s",
                file=sys.stderr,
            )
    tail = stream.flush().size
    rss = np.array([s[1] for s in samples], dtype=float)
    return {
        "method": stream.name,
        "lookahead": lookahead,
        "block": block,
        "seconds_of_audio": pushed * cfg.hop / cfg.sample_rate,
        "frames_in": pushed,
        "samples_out": n_out,
        "tail_samples": tail,
        "samples_match": n_out == pushed * cfg.hop and tail == stream.processor.tail_hops * cfg.hop,
        "rss_after_warmup_mb": (rss0 or rss[0]) / 1e6,
        "rss_end_mb": rss[-1] / 1e6,
        "rss_max_mb": rss.max() / 1e6,
        "rss_growth_mb": (rss[-1] - (rss0 or rss[0])) / 1e6,
        "wall_s": time.perf_counter() - t0,
        "rtf": stream.stats.rtf,
    }


def run(args: argparse.Namespace) -> int:
    from phasefold.engine.errors import InputError
    from phasefold.engine.metrics import one_thread

    if args.json is not None and not args.json.parent.is_dir():
        raise InputError(f"{args.json}: the folder {args.json.parent} does not exist")
    if args.seconds <= 0:
        raise InputError("--seconds must be positive")
    report: dict = {
        "config": {
            "hop": args.hop,
            "seconds": args.seconds,
            "threads": 1,
            "input": str(args.input) if args.input else "built-in demo",
        }
    }
    with one_thread():
        cfg, mag = _frames(args)
        if args.soak is not None:
            result = soak(
                args.soak_method, args.soak, cfg, mag, args.lookahead[-1], args.block[0], args.iterations
            )
            report["soak"] = result
            print(
                f"soak: {result['method']} L={result['lookahead']} B={result['block']}: "
                f"{result['seconds_of_audio']:.0f} s of audio ({result['frames_in']} frames) in "
                f"{result['wall_s']:.0f} s (RTF {result['rtf']:.3f}); samples out match frames in: "
                f"{result['samples_match']}; RSS {result['rss_after_warmup_mb']:.1f} MB after warm-up -> "
                f"{result['rss_end_mb']:.1f} MB at the end (growth {result['rss_growth_mb']:+.2f} MB, "
                f"max {result['rss_max_mb']:.1f} MB)"
            )
        else:
            rows = bench(args, cfg, mag)
            report["results"] = rows
            print(
                f"{mag.shape[0]} frames ({mag.shape[0] * cfg.hop / cfg.sample_rate:.1f} s), hop {cfg.hop}, "
                f"one thread; 'x ref' = RTF cpu / RTF cpu of {args.reference} at the same L, B"
            )
            print(format_rows(rows, args.reference))
    if args.json is not None:
        args.json.write_text(json.dumps(report, indent=2) + "\n")
        print(f"wrote {args.json}")
    return 0

"""`phasefold bench`: real-time factor (one thread) and latency of every streaming method; memory soak.

Every method streams the same frames (the built-in demo utterance, or --input) through the same engine
for each look-ahead L, block size B and backend (``--backends compiled,onnxruntime``: the compiled kernels
and the reference, i.e. the ONNX graph in onnxruntime for models and numpy for classical methods). RTF =
compute time / audio time on one thread (BLAS/OpenMP pools capped, onnxruntime sessions with one intra-op
thread), by the thread's CPU time and by wall clock beside it; each figure is the median of ``--rounds``
interleaved rounds (every configuration once per round), processors built (and compiled) before the first
round. "x ref" is a row's CPU RTF over the reference backend's for the same method, L and B.
``NAME:ITER`` in --methods sets one method's iterations (``rtisi-la:5``).

``--soak SECONDS`` streams that much simulated audio (frames looped) through one method and samples
the resident memory (psutil) as it goes, with its growth per minute of audio; it checks that samples out
= frames in x H exactly. Offline memory: ``python -m benchmarks.offline_memory``.
"""

from __future__ import annotations

import argparse
import json
import sys
import time

from phasefold.commands import hop_size, int_list, nonempty_text, path_arg, positive_float, positive_int
from phasefold.commands.options import (
    add_step_iterations_argument,
    check_iteration_options,
    refuse_offline_iterations,
)
from phasefold.engine.stft import HOP

DEFAULT_METHODS = "rtpghi,rtisi-la,admm-l2,admm-kl,fgla,unfolded-tied,unfolded-untied"


def _backend_list(text: str) -> list[str]:
    from phasefold.engine.backends import BACKENDS

    names = [v.strip() for v in text.split(",") if v.strip()]
    bad = [n for n in names if n not in BACKENDS]
    if bad or not names:
        raise argparse.ArgumentTypeError(f"backends are {', '.join(BACKENDS)}, not {text!r}")
    return names


def register(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--methods",
        type=nonempty_text,
        default=DEFAULT_METHODS,
        help=f"comma-separated streaming methods or model paths (default {DEFAULT_METHODS})",
    )
    parser.add_argument(
        "--lookahead", "-L", type=int_list(0), default=[0, 1, 3], help="look-aheads L (default 0,1,3)"
    )
    parser.add_argument("--block", "-B", type=int_list(1), default=[1, 4], help="block sizes B (default 1,4)")
    parser.add_argument("--hop", type=hop_size, default=HOP, help=f"STFT hop (default {HOP})")
    parser.add_argument(
        "--seconds", type=positive_float, default=4.0, help="seconds of audio per run (default 4)"
    )
    parser.add_argument(
        "--input", type=path_arg, default=None, help="audio file to stream (default: the demo)"
    )
    add_step_iterations_argument(parser)
    refuse_offline_iterations(parser)
    parser.add_argument(
        "--backends",
        type=_backend_list,
        default=["compiled", "onnxruntime"],
        help="comma-separated backends to compare (default compiled,onnxruntime; see --backend elsewhere)",
    )
    parser.add_argument(
        "--rounds", type=positive_int, default=3, help="interleaved timing rounds, median (default 3)"
    )
    parser.add_argument("--json", type=path_arg, default=None, help="write the results as JSON")
    parser.add_argument(
        "--soak",
        type=positive_float,
        default=None,
        metavar="SECONDS",
        help="memory soak: stream this many seconds of simulated audio through --soak-method",
    )
    parser.add_argument(
        "--soak-method",
        type=nonempty_text,
        default=None,
        help="method of the soak (default: the registry's stream default)",
    )
    parser.add_argument(
        "--profile", action="store_true", help="cProfile the first configuration of each method"
    )
    parser.set_defaults(run=run)


def _frames(args):
    import numpy as np
    from phasefold.engine.stft import StftConfig, magnitude

    cfg = StftConfig(hop=args.hop)
    if args.input is not None:
        from phasefold.engine.inputs import load_audio

        x, _ = load_audio(args.input)
    else:
        from phasefold.engine.demo import demo_signal

        x = demo_signal(args.seconds)
    x = x[: int(args.seconds * cfg.sample_rate)]
    return cfg, np.ascontiguousarray(magnitude(x, cfg))


def _configs(args, cfg):
    """[(method, L, B, processor)] of every configuration that builds (built now), and
    {method: {reason: number of configurations}} of those that do not."""
    from phasefold.engine.errors import PhasefoldError
    from phasefold.engine.streaming import make_processor

    out, skipped = [], {}
    for item in [m.strip() for m in args.methods.split(",") if m.strip()]:
        method, _, iters = item.partition(":")
        if iters and not iters.isdigit():
            skipped[item] = {f"the iterations after ':' must be a whole number, not {iters!r}": 1}
            continue
        iterations = int(iters) if iters else (None if method.startswith("rtpghi") else args.step_iterations)
        for lookahead in args.lookahead:
            for block in args.block:
                for backend in args.backends:
                    try:
                        proc = make_processor(
                            method, cfg, lookahead, block, iterations=iterations, backend=backend
                        )
                    except PhasefoldError as exc:
                        reasons = skipped.setdefault(item, {})
                        reasons[str(exc)] = reasons.get(str(exc), 0) + 1
                        continue
                    out.append((item, lookahead, block, proc))
    return out, skipped


def _time(proc, mag) -> tuple[float, float, int]:
    """(cpu seconds, wall seconds, frames) of one pass of the frames through a fresh stream."""
    from phasefold.engine.streaming import Stream

    stream = Stream(proc)
    block = proc.block
    wall0 = time.perf_counter()
    for i in range(0, mag.shape[0], block):
        stream.push(mag[i : i + block])
    stream.flush()
    wall = time.perf_counter() - wall0
    return stream.stats.cpu_s, wall, stream.stats.frames_in


def bench(args, cfg, mag) -> list[dict]:
    """One row per (method, L, B, backend): median CPU and wall RTF over interleaved rounds, latency."""
    import numpy as np
    from phasefold.engine.errors import InputError
    from phasefold.engine.streaming import Stream

    configs, skipped = _configs(args, cfg)
    if not configs:
        reasons = "; ".join(f"{item}: {reason}" for item, by in skipped.items() for reason in by)
        raise InputError(f"none of the methods could be built: {reasons or '--methods names none'}")
    total = len(args.lookahead) * len(args.block) * len(args.backends)
    for item, by in skipped.items():
        for reason, count in by.items():
            print(
                f"phasefold bench: skipped {item} ({count} of {total} configurations): {reason}",
                file=sys.stderr,
            )
    for item, lookahead, block, proc in configs:  # warm-up (sessions, caches), not timed
        Stream(proc).push(mag[: 4 * block])
        if args.profile and lookahead == args.lookahead[-1] and block == args.block[0]:
            _profile(Stream(proc), mag, item)
    times: list[list[tuple[float, float, int]]] = [[] for _ in configs]
    for r in range(args.rounds):
        for i, (_, _, _, proc) in enumerate(configs):
            times[i].append(_time(proc, mag))
        print(f"  round {r + 1}/{args.rounds} done", file=sys.stderr)
    audio_s = mag.shape[0] * cfg.hop / cfg.sample_rate
    rows = []
    for (item, lookahead, block, proc), runs in zip(configs, times, strict=True):
        cpu = np.array([c for c, _, _ in runs])
        wall = np.array([w for _, w, _ in runs])
        frames = runs[0][2]
        stream = Stream(proc)
        rows.append(
            {
                "method": item,
                "name": proc.name,
                "backend": proc.backend,
                "lookahead": lookahead,
                "block": block,
                "rtf_cpu": float(np.median(cpu)) / audio_s,
                "rtf_wall": float(np.median(wall)) / audio_s,
                "ms_per_frame": 1000 * float(np.median(cpu)) / frames,
                "rtf_cpu_rounds": [float(c) / audio_s for c in cpu],
                "rtf_wall_rounds": [float(w) / audio_s for w in wall],
                "latency_ms": stream.latency_ms,
                "latency_samples": stream.latency_samples,
                "projections_per_frame": proc.projections_per_frame(),
                "frames": frames,
                "describe": proc.describe(),
            }
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


def format_rows(rows: list[dict]) -> str:
    """RTF by thread CPU time (median of the rounds) with wall clock beside it; "x ref" = CPU RTF over the
    reference backend's (onnxruntime for models, numpy for classical methods) for the same configuration."""
    ref = {
        (r["method"], r["lookahead"], r["block"]): r["rtf_cpu"]
        for r in rows
        if r["backend"] in ("onnxruntime", "numpy")
    }
    width = max([len("method"), *(len(r["method"]) for r in rows)])
    lines = [
        f"{'method':<{width}}  {'backend':<11}  {'L':>2} {'B':>2}  {'RTF cpu':>7}  {'RTF wall':>8}  "
        f"{'cpu ms/frame':>12}  {'latency ms':>10}  {'proj/frame':>10}  {'x ref':>6}"
    ]
    for r in rows:
        base = ref.get((r["method"], r["lookahead"], r["block"]))
        ratio = f"{r['rtf_cpu'] / base:6.2f}" if base else "     -"
        lines.append(
            f"{r['method']:<{width}}  {r['backend']:<11}  {r['lookahead']:>2} {r['block']:>2}  "
            f"{r['rtf_cpu']:>7.4f}  {r['rtf_wall']:>8.4f}  {r['ms_per_frame']:>12.3f}  "
            f"{r['latency_ms']:>10.1f}  {r['projections_per_frame']:>10.0f}  {ratio}"
        )
    return "\n".join(lines)


def soak(
    method: str,
    seconds: float,
    cfg,
    mag,
    lookahead: int | None = None,
    block: int | None = None,
    iterations=None,
) -> dict:
    """Stream ``seconds`` of looped frames; resident memory sampled; exact sample count checked. L and B
    None: the method's own (Stream.open)."""
    import numpy as np
    import psutil
    from phasefold.engine.streaming import Stream

    proc = psutil.Process()
    stream = Stream.open(method, cfg, lookahead=lookahead, block=block, iterations=iterations)
    lookahead, block = stream.lookahead, stream.block
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
        "rss_growth_mb_per_minute": (rss[-1] - (rss0 or rss[0]))
        / 1e6
        / (pushed * cfg.hop / cfg.sample_rate / 60),
        "wall_s": time.perf_counter() - t0,
        "rtf": stream.stats.rtf,
    }


def run(args: argparse.Namespace) -> int:
    from phasefold.engine import limits
    from phasefold.engine.errors import InputError
    from phasefold.engine.evaluation import one_thread
    from phasefold.engine.outputs import check_output_path, write_text

    if args.json is not None:
        check_output_path(args.json, "JSON results", inputs=(args.input,))
    if args.seconds <= 0:
        raise InputError("--seconds must be positive")
    if args.rounds < 1:
        raise InputError("--rounds must be at least 1")
    limits.check_signal_seconds(args.seconds, "--seconds")
    limits.check_rounds(args.rounds, "--rounds")
    if args.soak is not None:
        limits.check_signal_seconds(args.soak, "--soak")
    check_iteration_options(args, "bench")
    if args.soak_method is not None and args.soak is None:
        raise InputError("--soak-method applies to the memory soak: add --soak SECONDS")
    report: dict = {
        "config": {
            "hop": args.hop,
            "seconds": args.seconds,
            "threads": 1,
            "rounds": args.rounds,
            "backends": args.backends,
            "input": str(args.input) if args.input else "built-in demo",
        }
    }
    with one_thread():
        cfg, mag = _frames(args)
        if args.soak is not None:
            from phasefold.engine.registry import DEFAULT_STREAM_METHOD

            method = args.soak_method or DEFAULT_STREAM_METHOD
            result = soak(
                method, args.soak, cfg, mag, args.lookahead[-1], args.block[0], args.step_iterations
            )
            report["soak"] = result
            print(
                f"soak: {result['method']} L={result['lookahead']} B={result['block']}: "
                f"{result['seconds_of_audio']:.0f} s of audio ({result['frames_in']} frames) in "
                f"{result['wall_s']:.0f} s (RTF {result['rtf']:.3f}); samples out match frames in: "
                f"{result['samples_match']}; RSS {result['rss_after_warmup_mb']:.1f} MB after warm-up -> "
                f"{result['rss_end_mb']:.1f} MB at the end (growth {result['rss_growth_mb']:+.2f} MB, "
                f"{result['rss_growth_mb_per_minute']:+.3f} MB per minute of audio; max "
                f"{result['rss_max_mb']:.1f} MB)"
            )
        else:
            rows = bench(args, cfg, mag)
            report["results"] = rows
            print(
                f"{mag.shape[0]} frames ({mag.shape[0] * cfg.hop / cfg.sample_rate:.1f} s), hop {cfg.hop}, "
                f"one thread, median of {args.rounds} interleaved rounds; 'x ref' = RTF cpu / RTF cpu of the "
                "reference backend"
            )
            print(format_rows(rows))
    if args.json is not None:
        write_text(args.json, json.dumps(report, indent=2) + "\n")
        print(f"wrote {args.json}")
    return 0

"""Where the time of one streaming step goes: the engine around the window step, and the step's sections.

    python -m benchmarks.stream_profile --method unfolded-untied --lookahead 3 --block 1 --backend compiled

Streams --seconds of the demo utterance through the engine on one thread and reports the per-frame CPU
time (``time.thread_time``) split into the window step (the model or algorithm) and the engine around it
(slide, phase start, fixed mask, casts). For a model on the compiled backend it then times the step's
sections with a thread-CPU clock read inside one compiled run of the same layer loop as
engine.compiled.unfolded.unfolded_layers (not a tracing profiler), on the window state captured from the
stream, and sets the step against the cost of its FFTs alone (the same FFTW plans, executed as often as
the step executes them).
"""

from __future__ import annotations

import argparse
import ctypes
import json
import sys
import time
from pathlib import Path

import numpy as np
from phasefold.engine.model_card import ModelCard

SECTIONS = ("state", "window", "fft forward", "prox", "fft inverse", "overlap-add", "primal", "dual")
CLOCK_THREAD_CPUTIME_ID = 3  # Linux


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--method", default="unfolded-untied")
    parser.add_argument("--lookahead", "-L", type=int, default=3)
    parser.add_argument("--block", "-B", type=int, default=1)
    parser.add_argument("--backend", default="auto", help="auto, compiled, onnxruntime or numpy")
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--repeats", type=int, default=500, help="timed runs of the captured step")
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()

    from phasefold.engine.demo import demo_signal
    from phasefold.engine.evaluation import one_thread
    from phasefold.engine.stft import StftConfig, magnitude
    from phasefold.engine.streaming import Stream, make_processor

    cfg = StftConfig()
    mag = magnitude(demo_signal(args.seconds), cfg)
    report: dict = {"method": args.method, "lookahead": args.lookahead, "block": args.block}
    with one_thread():
        proc = make_processor(args.method, cfg, args.lookahead, args.block, backend=args.backend)
        step = getattr(proc, "step", None)
        report["backend"] = proc.backend
        stream = Stream(proc)
        step_time = [0.0]
        captured: list = []
        if step is not None:
            inner = step.fn

            def timed(*a):
                if len(captured) < 1 and stream.stats.frames_in > mag.shape[0] // 2:
                    captured.append(tuple(np.array(v, dtype=np.float32) for v in a))
                t0 = time.thread_time()
                out = inner(*a)
                step_time[0] += time.thread_time() - t0
                return out

            step.fn = timed
        for i in range(0, mag.shape[0], args.block):
            stream.push(mag[i : i + args.block])
        n = stream.stats.frames_in
        total_ms = 1000 * stream.stats.cpu_s / n
        step_ms = 1000 * step_time[0] / n
        report.update(
            frames=n,
            ms_per_frame=total_ms,
            rtf=stream.stats.rtf_cpu,
            rtf_wall=stream.stats.rtf,
            hop_ms=1000 * cfg.hop / cfg.sample_rate,
        )
        line = (
            f"{proc.describe()} [{proc.backend}]: {total_ms:.3f} ms per frame, "
            f"RTF {stream.stats.rtf_cpu:.4f} "
            f"(CPU time; wall {stream.stats.rtf:.4f}; a hop lasts {report['hop_ms']:.2f} ms)"
        )
        if step is not None:
            report.update(step_ms_per_frame=step_ms, engine_ms_per_frame=total_ms - step_ms)
            line += f": window step {step_ms:.3f} ms, engine around it {total_ms - step_ms:.3f} ms"
        print(line)
        if step is not None and step.backend == "compiled" and step.card is not None and captured:
            if step.card.gla:  # the section timers follow the ADMM layer loop
                print("  (a Griffin-Lim-form model: its sections are not timed; the total above is)")
            else:
                report["sections"] = _compiled_sections(step.card, cfg, captured[0], args.repeats)
    if args.json is not None:
        args.json.write_text(json.dumps(report, indent=2) + "\n")
    return 0


def _compiled_sections(card: ModelCard, cfg, inputs: tuple, repeats: int) -> dict:
    """Microseconds per step in each section, the fused step and its FFTs alone; printed as a table."""
    import numba
    from phasefold.engine.compiled import spectral, unfolded
    from phasefold.engine.compiled.unfolded import UnfoldedStep

    libc = ctypes.CDLL(None)
    clock_gettime = libc.clock_gettime
    clock_gettime.argtypes = (ctypes.c_int, ctypes.c_void_p)
    clock_gettime.restype = ctypes.c_int

    @numba.njit
    def now(ts):
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, ts.ctypes.data)
        return ts[0] * 1_000_000_000 + ts[1]

    @numba.njit
    def timed_layers(mag, x, fixed, lam, win, cov, hop, frames, spec, forward, inverse,
                     sets, g1, bm1, g2d, wts, brk, rho, ns, ts):  # fmt: skip
        """unfolded_layers with the thread-CPU clock read around each section; ns[i] += its time."""
        t = now(ts)
        x, free, ls, z, shift, shift_set, syn, work = unfolded.layer_state(x, fixed, lam, cov, rho[0])
        t1 = now(ts)
        ns[0] += t1 - t
        spectral.window_into(x, win, hop, frames)
        t2 = now(ts)
        spectral.execute(forward, True)
        t3 = now(ts)
        ns[1] += t2 - t1
        ns[2] += t3 - t2
        for layer in range(sets.shape[0]):
            t0 = now(ts)
            unfolded.prox_layer(layer, mag, sets, g1, bm1, g2d, wts, brk, spec, ls, z, shift, shift_set, work)
            t1 = now(ts)
            spectral.execute(inverse, True)
            t2 = now(ts)
            spectral.overlap_add(frames, win, hop, syn)
            t3 = now(ts)
            unfolded.primal_update(x, fixed, syn, free)
            t4 = now(ts)
            spectral.window_into(x, win, hop, frames)
            t5 = now(ts)
            spectral.execute(forward, True)
            t6 = now(ts)
            last = layer + 1 == sets.shape[0]
            scale = np.float32(1.0) if last else np.float32(rho[layer] / rho[layer + 1])
            unfolded.dual_update(spec, ls, z, scale)
            t7 = now(ts)
            ns[3] += t1 - t0
            ns[4] += t2 - t1
            ns[5] += t3 - t2
            ns[6] += t4 - t3
            ns[1] += t5 - t4
            ns[2] += t6 - t5
            ns[7] += t7 - t6
        t0 = now(ts)
        lam_out = unfolded.dual_out(ls, rho[sets.shape[0] - 1])
        ns[7] += now(ts) - t0
        return x, lam_out

    @numba.njit
    def clock_cost(n, ts):
        """Nanoseconds of one clock read (the back-to-back difference), to subtract from each section."""
        total = 0
        for _ in range(n):
            a = now(ts)
            total += now(ts) - a
        return total / n

    @numba.njit
    def fft_only(frames, forward, inverse, n_forward, n_inverse, scale):
        """The step's FFTs alone: n_forward forward and n_inverse inverse executions of its plans."""
        for i in range(n_forward):
            spectral.execute(forward, True)
            if i < n_inverse:
                spectral.execute(inverse, True)
                frames *= scale  # keep the unnormalised round trips bounded

    step = UnfoldedStep(card, cfg)
    mag, x, fixed, lam = inputs
    w = mag.shape[0]
    cov, sets = step._window_arrays(w)
    plan = step.spectral.plan(w)
    spec32 = plan.spec.view(np.float32)
    layers = step.layers
    ts = np.zeros(2, dtype=np.int64)

    def args_of(ns):
        return (mag, x, fixed, lam, step.spectral.win, cov, cfg.hop, plan.frames, spec32, plan.forward,
                plan.inverse, sets, step.g1, step.bm1, step.g2d, step.wts, step.brk, step.rho,
                ns, ts)  # fmt: skip

    x_ref, lam_ref = step(mag, x, fixed, lam)
    x_t, lam_t = timed_layers(*args_of(np.zeros(len(SECTIONS), dtype=np.int64)))
    assert np.array_equal(x_t, x_ref) and np.array_equal(lam_t, lam_ref), "the timed loop differs"
    clock_cost(10, ts)
    plan.frames[:] = np.random.default_rng(0).standard_normal(plan.frames.shape)
    fft_only(plan.frames, plan.forward, plan.inverse, 1, 1, np.float32(1.0 / cfg.n_fft))

    rounds = 5
    ns = np.zeros(len(SECTIONS), dtype=np.int64)
    fused, ffts, clock = [], [], []
    for _ in range(rounds):  # interleaved: fused step, instrumented step, FFTs alone
        t0 = time.thread_time()
        for _ in range(repeats):
            step(mag, x, fixed, lam)
        fused.append((time.thread_time() - t0) / repeats * 1e6)
        for _ in range(repeats):
            timed_layers(*args_of(ns))
        clock.append(clock_cost(1000, ts))
        t0 = time.thread_time()
        for _ in range(repeats):
            fft_only(plan.frames, plan.forward, plan.inverse, layers + 1, layers, np.float32(1.0 / cfg.n_fft))
        ffts.append((time.thread_time() - t0) / repeats * 1e6)
    # intervals timed per section, each holding about one clock read
    reads = np.array([1, 1 + layers, 1 + layers, layers, layers, layers, layers, layers + 1])
    per_step = ns / (rounds * repeats) - reads * float(np.median(clock))
    per_step_us = np.maximum(per_step, 0.0) / 1000
    fused_us, fft_us = float(np.median(fused)), float(np.median(ffts))
    total = float(per_step_us.sum())
    print(f"compiled step of {card.name} on a window of {w} frames, {layers} layers, median of {rounds} "
          f"rounds of {repeats} steps, thread CPU time:")  # fmt: skip
    print(f"  {'section':<13} {'us/step':>8} {'share':>7}")
    for name, us in zip(SECTIONS, per_step_us, strict=True):
        print(f"  {name:<13} {us:8.1f} {100 * us / total:6.1f} %")
    print(f"  {'sum':<13} {total:8.1f}   (clock read {np.median(clock):.0f} ns, subtracted per section)")
    print(f"  fused step    {fused_us:8.1f}   (engine.compiled.unfolded.unfolded_layers, no clock reads)")
    print(f"  FFTs alone    {fft_us:8.1f}   ({layers + 1} forward + {layers} inverse executions of the same "
          f"FFTW plans): the step costs {fused_us / fft_us:.2f}x its FFTs")  # fmt: skip
    return {
        "window_frames": w,
        "layers": layers,
        "us_per_step": dict(zip(SECTIONS, per_step_us.round(2).tolist(), strict=True)),
        "fused_step_us": fused_us,
        "fft_only_us": fft_us,
        "clock_read_ns": float(np.median(clock)),
    }


if __name__ == "__main__":
    sys.exit(main())

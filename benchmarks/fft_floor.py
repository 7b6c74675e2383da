"""The floor of a window step on this machine: its FFTs alone, and the least an array-op step costs.

    python -m benchmarks.fft_floor                       # the shipped models' settings
    python -m benchmarks.fft_floor --cases 15x7,5x5
    python -m benchmarks.fft_floor --bindings-only       # only the FFT bindings table

The bindings table times the FFT pair of a [W, N] batch (a window step's transforms of one layer) in every
binding within reach of compiled code here: FFTW through the compiled backend's plans (engine.compiled.fftw,
called from a numba kernel), pocketfft from numba through rocket-fft where that package is installed, and
scipy.fft and numpy.fft from Python. This is how the compiled backend's FFT binding was chosen.

Each layer of an unfolded (or ADMM) window step analyses and synthesises the W frames of the window once.
The first table times scipy's pocketfft (rfft + irfft of [W, N], one thread, float32 and float64), the
fastest FFT at hand, and prints the per-frame time and RTF that the FFTs alone would cost for T layers,
with nothing else of the step counted. No implementation of the step can be faster on this machine.

The second table adds what any step written with array operations (numpy, or onnxruntime nodes) must
also pay: the layer's other array operations (``OPS_PER_LAYER``: the fewest elementwise operations a
layer needs between its two transforms, for C = 3 pieces), each at the cost of the cheapest such
operation measured on the window's arrays here (numpy and an onnxruntime node, whichever is cheaper),
and the engine's least per-frame bookkeeping (the phase start of the new frame: one frame's rfft +
irfft and ``OPS_PER_FRAME`` operations). The engine as it is (an identity window step streamed through
``phasefold.engine.streaming``) is timed beside it. Compare with `phasefold bench`.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import scipy.fft
from phasefold.engine.stft import StftConfig

PIECES = 3
#: the fewest array operations of one layer besides its rfft and irfft (spectra [W, K], spans [S])
OPS_PER_LAYER = {
    "h = A x + lambda / rho": 1,
    "a = |h|": 1,
    "s = g1 a + g2 r^(b-1)/(b-1) (the r term once per step)": 2,
    "APL: per piece subtract, clip, multiply-add": 3 * PIECES,
    "z = h u / a": 2,
    "v = z - lambda / rho": 1,
    "synthesis window": 1,
    "overlap-add of N/H chunks (N/H - 1 adds)": 3,
    "x = committed part + gain * overlap-add": 2,
    "analysis window (framing is a view)": 1,
    "dual: lambda += rho (A x - z)": 2,
}
#: per frame besides one frame's rfft + irfft: angle, phase advance, polar, window, insert, slide x and
#: lambda, emit
OPS_PER_FRAME = 8


def _median_seconds(fn, repeats: int, inner: int = 50) -> float:
    """Median thread CPU time of one call of ``fn``."""
    for _ in range(200):  # warm-up: plan caches, clock ramp
        fn()
    times = []
    for _ in range(repeats):
        t = time.thread_time()
        for _ in range(inner):
            fn()
        times.append((time.thread_time() - t) / inner)
    return float(np.median(times))


def binding_pairs(frames: int, n_fft: int, dtype) -> dict[str, object]:
    """name -> a callable computing the rfft + irfft of a [frames, n_fft] batch, one binding each."""
    import numba
    from phasefold.engine.compiled import fftw, spectral

    rng = np.random.default_rng(0)
    a = rng.standard_normal((frames, n_fft)).astype(dtype)
    out = {
        "scipy.fft": lambda: scipy.fft.irfft(
            scipy.fft.rfft(a, axis=1, workers=1), n=n_fft, axis=1, workers=1
        ),
        "numpy.fft": lambda: np.fft.irfft(np.fft.rfft(a, axis=1), n=n_fft, axis=1),
    }
    plan = fftw.Plan(n_fft, frames, dtype)
    plan.frames[:] = a
    single = np.dtype(dtype) == np.float32
    scale = np.asarray(1.0 / n_fft, dtype)

    @numba.njit
    def fftw_pair(frames_buf, forward, inverse, single, scale):
        spectral.execute(forward, single)
        spectral.execute(inverse, single)
        frames_buf *= scale

    out["FFTW plan from numba (the backend's)"] = lambda: fftw_pair(
        plan.frames, plan.forward, plan.inverse, single, scale
    )
    try:
        import rocket_fft  # noqa: F401  (registers np.fft for numba)
    except ImportError:
        return out

    @numba.njit
    def rocket_pair(x):
        return np.fft.irfft(np.fft.rfft(x), n_fft)

    out["pocketfft from numba (rocket-fft)"] = lambda: rocket_pair(a)
    return out


def bindings_table(frames: int, cfg: StftConfig, repeats: int) -> None:
    print(f"FFT pair (rfft + irfft) of a [{frames}, {cfg.n_fft}] batch, one thread, median thread CPU time:")
    print(f"{'binding':<42} {'float32 us':>10} {'float64 us':>10}")
    rows: dict[str, dict] = {}
    for dtype in (np.float32, np.float64):
        for name, fn in binding_pairs(frames, cfg.n_fft, dtype).items():
            rows.setdefault(name, {})[np.dtype(dtype).name] = 1e6 * _median_seconds(fn, repeats)
    for name, by_dtype in rows.items():
        cells = [f"{by_dtype[d]:10.1f}" if d in by_dtype else f"{'-':>10}" for d in ("float32", "float64")]
        print(f"{name:<42} {' '.join(cells)}")
    print()


def fft_pair_seconds(frames: int, n_fft: int, dtype, repeats: int) -> float:
    """Median time of rfft + irfft over ``frames`` frames of ``n_fft`` samples, one thread."""
    a = np.random.default_rng(0).standard_normal((frames, n_fft)).astype(dtype)
    return _median_seconds(
        lambda: scipy.fft.irfft(scipy.fft.rfft(a, axis=1, workers=1), n=n_fft, axis=1, workers=1), repeats
    )


def op_seconds(frames: int, cfg: StftConfig, repeats: int) -> float:
    """The cheapest elementwise operation on a window's arrays: numpy, or one onnxruntime node."""
    from benchmarks.onnx_op_costs import binary, cost, near_one

    rng = np.random.default_rng(0)
    spec = (rng.standard_normal((frames, cfg.n_bins)) + 1j).astype(np.complex64)
    real = rng.standard_normal((frames, cfg.n_bins)).astype(np.float32)
    span = rng.standard_normal(cfg.span(frames)).astype(np.float32)
    numpy_ops = [lambda: spec + spec, lambda: real * real, lambda: span * span]
    x = near_one(2, frames, cfg.n_bins)  # a spectrum as [re | im], as the exported graphs hold it
    per_node = 1e-6 * cost(binary("Mul"), x, {"k": near_one(2, frames, cfg.n_bins)})
    return min([per_node] + [_median_seconds(op, repeats) for op in numpy_ops])


def engine_seconds(lookahead: int, cfg: StftConfig, seconds: float = 3.0) -> float:
    """Per-frame thread time of the streaming engine around an identity window step (B = 1)."""
    from phasefold.engine.demo import demo_signal
    from phasefold.engine.evaluation import one_thread
    from phasefold.engine.runners import WindowStep
    from phasefold.engine.stft import magnitude
    from phasefold.engine.streaming import Stream
    from phasefold.engine.streaming.window import WindowProcessor

    mag = magnitude(demo_signal(seconds), cfg)
    step = WindowStep(lambda m, x, f, lam: (x, lam), "identity", 0)
    with one_thread():
        stream = Stream(WindowProcessor(step, cfg, lookahead, 1))
        for frame in mag[:50]:  # warm-up
            stream.push(frame)
        stream.reset()
        for frame in mag:
            stream.push(frame)
    return stream.stats.cpu_s / stream.stats.frames_in


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--cases",
        default="15x7,3x5,5x5,20x7",
        help="comma-separated LAYERSxWINDOW cases (default: the untied model at L = 3 and "
        "the stream models at L = 1 and L = 3)",
    )
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--bindings-window", type=int, default=7, help="W of the bindings table (default 7)")
    parser.add_argument("--bindings-only", action="store_true", help="print only the FFT bindings table")
    args = parser.parse_args()
    cfg = StftConfig()
    bindings_table(args.bindings_window, cfg, args.repeats)
    if args.bindings_only:
        return
    budget = cfg.hop / cfg.sample_rate
    print(f"hop {cfg.hop}, n_fft {cfg.n_fft}: {1e3 * budget:.2f} ms of audio per frame")
    print(f"{'layers x W':>11} {'dtype':>8} {'us/layer':>9} {'ms/frame':>9} {'RTF floor':>10}")
    cases = [tuple(int(v) for v in case.split("x")) for case in args.cases.split(",")]
    windows = sorted({w for _, w in cases})
    per_layer = {  # the cost of a layer's transforms depends on W only
        (frames, dtype): fft_pair_seconds(frames, cfg.n_fft, dtype, args.repeats)
        for frames in windows
        for dtype in (np.float32, np.float64)
    }
    for layers, frames in cases:
        case = f"{layers}x{frames}"
        for dtype in (np.float32, np.float64):
            layer = per_layer[frames, dtype]
            step = layers * layer
            print(
                f"{case:>11} {np.dtype(dtype).name:>8} {1e6 * layer:9.1f} {1e3 * step:9.3f} "
                f"{step / budget:10.3f}"
            )

    n_ops = sum(OPS_PER_LAYER.values())
    op = {w: op_seconds(w, cfg, args.repeats) for w in windows}
    frame_fft = fft_pair_seconds(1, cfg.n_fft, np.float32, args.repeats)
    bookkeeping = frame_fft + OPS_PER_FRAME * min(op.values())
    engine = {w: engine_seconds(w - cfg.overlap, cfg) for w in windows}
    print(
        f"\nstack floor (float32): FFTs + {n_ops} array operations per layer + the least bookkeeping "
        f"per frame ({1e3 * bookkeeping:.3f} ms: one frame's FFT pair + {OPS_PER_FRAME} operations)"
    )
    print(
        f"{'layers x W':>11} {'op us':>6} {'FFT ms':>7} {'ops ms':>7} {'floor ms':>9} {'RTF floor':>10} "
        f"{'engine ms':>10}"
    )
    for layers, frames in cases:
        fft_ms = 1e3 * layers * per_layer[frames, np.float32]
        ops_ms = 1e3 * layers * n_ops * op[frames]
        floor = fft_ms + ops_ms + 1e3 * bookkeeping
        print(
            f"{f'{layers}x{frames}':>11} {1e6 * op[frames]:6.2f} {fft_ms:7.3f} {ops_ms:7.3f} {floor:9.3f} "
            f"{floor / (1e3 * budget):10.3f} {1e3 * engine[frames]:10.3f}"
        )
    print("engine ms: the streaming engine as it is around an identity step (its own work per frame)")


if __name__ == "__main__":
    main()

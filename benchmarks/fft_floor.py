"""The arithmetic floor of a window step: what the FFTs alone of T layers over W frames cost on this machine.

    python benchmarks/fft_floor.py                       # the shipped models' settings
    python benchmarks/fft_floor.py --layers 15 --window 7

Each layer of an unfolded (or ADMM) window step analyses and synthesises the W frames of the window once.
This times scipy's pocketfft (rfft + irfft of [W, N], one thread, float32 and float64), the fastest FFT at
hand, and prints the per-frame time and RTF that the FFTs alone would cost for T layers, with nothing else
of the step (prox, framing, overlap-add, the engine) counted. An implementation of the step cannot be
faster than this on the same machine; compare it with `phasefold bench`.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import scipy.fft

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from engine.stft import StftConfig  # noqa: E402


def fft_pair_seconds(frames: int, n_fft: int, dtype, repeats: int) -> float:
    """Median time of rfft + irfft over ``frames`` frames of ``n_fft`` samples, one thread."""
    a = np.random.default_rng(0).standard_normal((frames, n_fft)).astype(dtype)
    for _ in range(200):  # warm-up: plan caches, clock ramp
        scipy.fft.irfft(scipy.fft.rfft(a, axis=1, workers=1), n=n_fft, axis=1, workers=1)
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        for _ in range(50):
            scipy.fft.irfft(scipy.fft.rfft(a, axis=1, workers=1), n=n_fft, axis=1, workers=1)
        times.append((time.perf_counter() - t) / 50)
    return float(np.median(times))


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
    args = parser.parse_args()
    cfg = StftConfig()
    budget = cfg.hop / cfg.sample_rate
    print(f"hop {cfg.hop}, n_fft {cfg.n_fft}: {1e3 * budget:.2f} ms of audio per frame")
    print(f"{'layers x W':>11} {'dtype':>8} {'us/layer':>9} {'ms/frame':>9} {'RTF floor':>10}")
    cases = [tuple(int(v) for v in case.split("x")) for case in args.cases.split(",")]
    per_layer = {  # the cost of a layer's transforms depends on W only
        (frames, dtype): fft_pair_seconds(frames, cfg.n_fft, dtype, args.repeats)
        for frames in sorted({w for _, w in cases})
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


if __name__ == "__main__":
    main()

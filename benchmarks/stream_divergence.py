"""How fast a tiny perturbation grows inside a stream: the frame-by-frame distance of a perturbed run from the
unperturbed one.

    python -m benchmarks.stream_divergence --method unfolded-stream-l1 --backend compiled
    python -m benchmarks.stream_divergence --method admm-l2 --backend numpy --files 2

For each of the first ``--files`` files of the test split (exact magnitudes, hop 256, block 1, the method's
own look-ahead), the measurements from frame j0 on (a third of the way through the file's loud frames, so
that the perturbation starts inside speech) are multiplied by (1 + eps n), n standard normal, and the
stream is run again. Per frame after j0 it prints ``level/divergence``: the clean frame's energy relative
to the file's loudest frame, and the energy of the difference of the two outputs relative to the clean
frame's energy, both in dB. A divergence near +3 dB means the two outputs are unrelated there.
"""

from __future__ import annotations

import argparse
import sys

import numpy as np


def frame_energies(s: np.ndarray, hop: int, n: int) -> np.ndarray:
    """Energy of each of the first n hops of s."""
    return np.square(s[: n * hop].astype(np.float64)).reshape(n, hop).sum(axis=1)


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--method", default="unfolded-stream-l1")
    parser.add_argument("--backend", default="compiled")
    parser.add_argument("--files", type=int, default=3)
    parser.add_argument("--frames", type=int, default=45, help="frames printed after j0 (default 45)")
    parser.add_argument("--eps", type=float, default=1e-7)
    args = parser.parse_args()

    from phasefold.engine.evaluation import condition_inputs
    from phasefold.engine.streaming import Stream, make_processor
    from phasefold.engine.streaming.offline import run_stream

    cfg, items = condition_inputs("exact_hop256", "test")
    if not items:
        raise SystemExit("the shared TIMIT sample is not here: nothing to measure")
    proc = make_processor(args.method, cfg, backend=args.backend)
    hop = cfg.hop
    for i, (x, r) in enumerate(items[: args.files]):
        n = x.size // hop
        clean = frame_energies(x, hop, n)
        level = 10 * np.log10(clean / clean.max() + 1e-30)
        loud = np.flatnonzero(level > -10)
        j0 = int(loud[len(loud) // 3])
        noise = np.random.default_rng(i).standard_normal(r.shape)
        noise[: j0 + 2] = 0.0  # frames up to j0 (the padding's two frames first) unperturbed
        y0 = run_stream(Stream(proc), r, x.size)
        y1 = run_stream(Stream(proc), r * (1 + args.eps * noise), x.size)
        divergence = 10 * np.log10(frame_energies(y0 - y1, hop, n) / np.maximum(clean, 1e-30) + 1e-30)
        print(f"file {i}, {args.method} [{proc.backend}]: perturbed from frame {j0}; level/divergence (dB)")
        cells = [f"{level[j]:4.0f}/{divergence[j]:4.0f}" for j in range(j0, min(n, j0 + args.frames))]
        for k in range(0, len(cells), 15):
            print("  " + " ".join(cells[k : k + 15]))
    return 0


if __name__ == "__main__":
    sys.exit(main())

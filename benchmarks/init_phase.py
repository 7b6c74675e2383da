"""A given initial phase against the random start: the phase of the noisy mixture (white noise at an SNR)
as ``reconstruct(init=)`` of the clean magnitudes.

    python -m benchmarks.init_phase                                  # test split, 5 dB, fgla and admm-l2
    python -m benchmarks.init_phase --snr 0 --methods fgla:30,fgla:100,unfolded-untied:15

Each file of the split is rebuilt from its exact magnitudes (hop 256) by every ``method:iterations``, from
random phase seed i (file i) and from the phase of the file plus white noise at ``--snr`` dB (noise seed
i); the table gives the mean spectral convergence against the clean magnitudes of both starts, the mean
gain and the number of files where the given phase did better.
"""

from __future__ import annotations

import argparse

import numpy as np
from phasefold.engine.dataset import split_files
from phasefold.engine.evaluation import spectral_convergence_db
from phasefold.engine.inputs import load_audio
from phasefold.engine.methods import reconstruct
from phasefold.engine.stft import StftConfig, magnitude, stft


def noisy(x: np.ndarray, snr_db: float, seed: int) -> np.ndarray:
    """``x`` plus white noise at ``snr_db`` (noise seed ``seed``)."""
    noise = np.random.default_rng(seed).standard_normal(x.size)
    return x + noise * np.sqrt(np.mean(x**2) / (np.mean(noise**2) * 10 ** (snr_db / 10)))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--methods", default="fgla:30,fgla:100,admm-l2:30", help="method:iterations,...")
    parser.add_argument("--split", default="test", choices=("test", "validation", "train"))
    parser.add_argument("--snr", type=float, default=5.0, help="SNR of the noisy mixture in dB (5)")
    args = parser.parse_args(argv)
    files = split_files(args.split)
    if not files:
        parser.error("the shared TIMIT sample is absent")
    cfg = StftConfig()
    print(f"{len(files)} files of the {args.split} split, noisy phase at {args.snr:g} dB SNR")
    print(f"{'method':<20} {'random SC':>10} {'noisy SC':>10} {'gain':>7} {'better':>7}")
    for item in args.methods.split(","):
        name, n_iter = item.split(":")
        rows = []
        for i, path in enumerate(files):
            x, _ = load_audio(path)
            mag = magnitude(x, cfg)
            init = stft(noisy(x, args.snr, i), cfg)
            rand = reconstruct(name, mag, cfg, int(n_iter), i, x.size)
            given = reconstruct(name, mag, cfg, int(n_iter), i, x.size, init=init)
            rows.append([spectral_convergence_db(y, mag, cfg) for y in (rand, given)])
        r = np.array(rows)
        better = int(np.sum(r[:, 1] < r[:, 0]))
        print(
            f"{item:<20} {r[:, 0].mean():>10.2f} {r[:, 1].mean():>10.2f} "
            f"{(r[:, 0] - r[:, 1]).mean():>7.2f} {better:>4}/{len(files)}"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

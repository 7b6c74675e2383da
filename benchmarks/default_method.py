"""The offline cost of the candidates for the default method: CPU real-time factor on one thread.

    python -m benchmarks.default_method                       # the README's candidates, validation split
    python -m benchmarks.default_method --candidates fgla:100,fgla:150 --split test --rounds 5

Each candidate (``method:iterations``) rebuilds every file of the split from its exact magnitudes (hop 256,
file i from random phase seed i, as ``phasefold evaluate`` does). The rounds are interleaved (round 1 of
every candidate, then round 2, ...) after one untimed warm-up run of each (compilation and FFT plans are not
charged), and the median over the rounds of (thread CPU time / audio time) is printed beside the wall-clock
figure. The scores of the same candidates come from ``phasefold evaluate SPLIT --methods M --iterations N``.
"""

from __future__ import annotations

import argparse
import statistics
import time

from phasefold.engine.dataset import split_files
from phasefold.engine.evaluation import one_thread
from phasefold.engine.inputs import load_audio
from phasefold.engine.methods import get_method, reconstruct
from phasefold.engine.stft import StftConfig, magnitude

CANDIDATES = "fgla:50,fgla:100,fgla:150,fgla:200,admm-l2:100,unfolded-untied:15,unfolded-tied:15"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--candidates", default=CANDIDATES, help=f"method:iterations,... ({CANDIDATES})")
    parser.add_argument("--split", default="validation", help="test, validation or train (validation)")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved timing rounds, median (3)")
    args = parser.parse_args(argv)

    cfg = StftConfig()
    files = split_files(args.split)
    if not files:
        parser.error("the shared TIMIT sample is not there (../shared/data/timit-sample)")
    signals = [load_audio(f, cfg.sample_rate)[0] for f in files]
    mags = [magnitude(x, cfg) for x in signals]
    audio_s = sum(x.size for x in signals) / cfg.sample_rate
    candidates = []
    for item in args.candidates.split(","):
        name, _, iterations = item.partition(":")
        candidates.append((int(iterations), get_method(name)))
    cpu: dict[str, list[float]] = {item: [] for item in args.candidates.split(",")}
    wall: dict[str, list[float]] = {item: [] for item in cpu}
    with one_thread():
        for n_iter, method in candidates:  # warm-up: compile and plan outside the timing
            reconstruct(method, mags[0], cfg, n_iter, 0, signals[0].size)
        for _ in range(args.rounds):
            for (n_iter, method), key in zip(candidates, cpu, strict=True):
                t0, c0 = time.perf_counter(), time.thread_time()
                for i, (x, mag) in enumerate(zip(signals, mags, strict=True)):
                    reconstruct(method, mag, cfg, n_iter, i, x.size)
                cpu[key].append((time.thread_time() - c0) / audio_s)
                wall[key].append((time.perf_counter() - t0) / audio_s)
    print(f"{len(files)} files of the {args.split} split, {audio_s:.1f} s of audio, {args.rounds} rounds")
    print(f"{'candidate':24s} {'CPU RTF':>8s} {'wall RTF':>9s}  CPU RTF per round")
    for key in cpu:
        rounds = ", ".join(f"{v:.4f}" for v in cpu[key])
        print(f"{key:24s} {statistics.median(cpu[key]):8.4f} {statistics.median(wall[key]):9.4f}  {rounds}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""The classical candidates for the default method at other STFT configurations: scores and CPU cost.

    python -m benchmarks.default_by_config                                  # 16 kHz 512/128, 48 kHz 2048/512
    python -m benchmarks.default_by_config --configs 16000:512:128 --candidates fgla:100,admm-l2:100

Each file of the split is read at the configuration's rate (mono; TIMIT is 16 kHz, other rates resampled
with soxr HQ as ``phasefold reconstruct --sr`` does), measured exactly (|A x|) and rebuilt by every candidate
(``method:iterations``) from random phase seed i for file i, as ``phasefold evaluate`` does; SC against the
measurements, STOI / ESTOI / PESQ (wide band, at 16 kHz) against the clean signal, CPU real-time factor on
one thread (thread CPU time / audio time, after one untimed warm-up run of each candidate). The table gives
the means over the files. engine.registry.default_method picks the classical default of a configuration
from these figures (docs/results.md, "The default method at other configurations").
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from phasefold.engine.dataset import split_files
from phasefold.engine.evaluation import evaluate_signal, one_thread
from phasefold.engine.inputs import load_audio
from phasefold.engine.methods import get_method, reconstruct
from phasefold.engine.stft import StftConfig, magnitude

CONFIGS = "16000:512:128,48000:2048:512"
CANDIDATES = "gla:100,fgla:100,admm-l2:100"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--configs", default=CONFIGS, help=f"rate:n_fft:hop,... ({CONFIGS})")
    parser.add_argument("--candidates", default=CANDIDATES, help=f"method:iterations,... ({CANDIDATES})")
    parser.add_argument("--split", default="test", help="test, validation or train (test)")
    args = parser.parse_args(argv)

    files = split_files(args.split)
    if not files:
        parser.error("the shared TIMIT sample is not there (../shared/data/timit-sample)")
    print(f"{len(files)} files of the {args.split} split; means over the files")
    head = f"{'SC dB':>7s} {'STOI':>6s} {'ESTOI':>6s} {'PESQ':>5s} {'CPU RTF':>8s}"
    print(f"{'configuration':22s} {'candidate':14s} {head}")
    for item in args.configs.split(","):
        rate, n_fft, hop = (int(v) for v in item.split(":"))
        cfg = StftConfig(n_fft=n_fft, hop=hop, sample_rate=rate)
        signals = [load_audio(f, rate)[0] for f in files]
        mags = [magnitude(x, cfg) for x in signals]
        audio_s = sum(x.size for x in signals) / rate
        for candidate in args.candidates.split(","):
            name, _, iterations = candidate.partition(":")
            method, n_iter = get_method(name), int(iterations)
            scores, cpu = [], 0.0
            with one_thread():
                reconstruct(method, mags[0], cfg, n_iter, 0, signals[0].size)  # warm-up: compile, plan
                for i, (x, mag) in enumerate(zip(signals, mags, strict=True)):
                    c0 = time.thread_time()
                    y = reconstruct(method, mag, cfg, n_iter, i, x.size)
                    cpu += time.thread_time() - c0
                    scores.append(evaluate_signal(x, y, cfg, mag))
            mean = {k: float(np.mean([s[k] for s in scores])) for k in scores[0]}
            print(
                f"{rate} Hz {n_fft}/{hop:<10d} {candidate:14s} {mean['sc_db']:7.1f} {mean['stoi']:6.3f} "
                f"{mean['estoi']:6.3f} {mean['pesq']:5.2f} {cpu / audio_s:8.4f}",
                flush=True,
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

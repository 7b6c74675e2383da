"""Classical phase retrieval against librosa.griffinlim, the gradient-step tuning, and the RTF check.

    python -m benchmarks.classical_vs_librosa table [--out DIR]      # evaluate, JSON per condition
    python -m benchmarks.classical_vs_librosa markdown [--out DIR]   # the tables of docs/results.md
    python -m benchmarks.classical_vs_librosa tune-steps            # GD step sizes (validation split)
    python -m benchmarks.classical_vs_librosa rtf                   # FGLA / ADMM RTF on a 4-second file

``table`` evaluates every condition of phasefold.engine.evaluation (the model cards' protocol: file i
starts from random phase seed i, noise seed 1000 + i, SC against the given measurements) with its
``evaluate`` (what ``phasefold evaluate`` runs), and adds a ``librosa-gla`` method (librosa.griffinlim,
100 iterations or as asked, momentum 0.99, random init) on OUR STFT: the signal is padded as
phasefold.engine.stft pads it and librosa runs with center=False, our window, n_fft and hop, so its STFT
is ours times sqrt(N) (checked on every file). librosa stays a benchmark/test dependency; the product
never imports it.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
from phasefold.engine import algorithms, methods
from phasefold.engine.dataset import split_files
from phasefold.engine.divergences import divergence
from phasefold.engine.errors import InputError
from phasefold.engine.evaluation import (
    CONDITIONS,
    Stopwatch,
    evaluate,
    format_table,
    one_thread,
    real_time_factor,
    spectral_convergence_db,
)
from phasefold.engine.inputs import load_audio
from phasefold.engine.stft import N_FFT, SAMPLE_RATE, StftConfig, magnitude, pad_signal, window

ROOT = Path(__file__).resolve().parent.parent

LIBROSA_MOMENTUM = 0.99
#: the conditions compared with librosa: the cards' conditions at 22050 Hz, n_fft 1024
LIBROSA_CONDITIONS = {k: v for k, v in CONDITIONS.items() if v[2:] == (N_FFT, SAMPLE_RATE)}


def librosa_gla(mag: np.ndarray, cfg: StftConfig, n_iter: int, seed: int, length: int) -> np.ndarray:
    """librosa.griffinlim (fast GLA, momentum 0.99) on our STFT: same window, hop, n_fft and padding."""
    import librosa

    amp = mag if cfg.power == 1.0 else np.sqrt(mag)
    span = cfg.span(mag.shape[0])
    y = librosa.griffinlim(
        (amp * np.sqrt(cfg.n_fft)).T,
        n_iter=n_iter,
        hop_length=cfg.hop,
        win_length=cfg.n_fft,
        n_fft=cfg.n_fft,
        window=window(cfg),
        center=False,
        length=span,
        momentum=LIBROSA_MOMENTUM,
        init="random",
        random_state=seed,
    )
    return y[cfg.pad : cfg.pad + length]


def check_librosa_stft(x: np.ndarray, cfg: StftConfig) -> float:
    """Largest relative gap between librosa's STFT magnitudes (our settings) and ours times sqrt(N)."""
    import librosa

    ours = magnitude(x, cfg) * np.sqrt(cfg.n_fft)
    theirs = np.abs(
        librosa.stft(
            pad_signal(x, cfg),
            n_fft=cfg.n_fft,
            hop_length=cfg.hop,
            win_length=cfg.n_fft,
            window=window(cfg),
            center=False,
        )
    ).T
    return float(np.max(np.abs(theirs - ours)) / np.max(ours))


def cmd_table(args: argparse.Namespace) -> None:
    extra = {"librosa-gla": methods.Method("librosa.griffinlim on our STFT (momentum 0.99)", librosa_gla)}
    files = split_files(args.split)
    if not files:
        raise SystemExit("the shared data is not here (../shared/data/timit-sample or $PHASEFOLD_DATA)")
    for f in files:
        gap = check_librosa_stft(load_audio(f)[0], StftConfig())
        assert gap < 1e-6, f"librosa STFT differs from ours on {f.name}: {gap}"
    args.out.mkdir(parents=True, exist_ok=True)
    entries = {name: extra.get(name, name) for name in (m.strip() for m in args.methods.split(","))}
    for label, (hop, snr, *_) in LIBROSA_CONDITIONS.items():
        for n_iter in args.iterations:
            report = evaluate(
                entries, files, hop=hop, snr_db=snr, iterations=n_iter, seed=args.seed, progress=True
            )
            path = args.out / f"{label}_it{n_iter}.json"
            path.write_text(json.dumps(report, indent=2) + "\n")
            print(f"\n{label}, {n_iter} iterations ({len(files)} {args.split} files) -> {path}")
            print(format_table(report), flush=True)


def cmd_markdown(args: argparse.Namespace) -> None:
    """Print the tables of docs/results.md from the JSON reports written by ``table``."""
    for label in LIBROSA_CONDITIONS:
        reports = {}
        for path in sorted(args.out.glob(f"{label}_it*.json")):
            reports[int(path.stem.rsplit("_it", 1)[1])] = json.loads(path.read_text())
        if not reports:
            continue
        first = next(iter(reports.values()))["config"]
        print(f"\n### {first['condition']}, hop {first['stft']['hop']} ({len(first['files'])} test files)\n")
        print("| method | iterations | SC (dB) | STOI | ESTOI | PESQ | RTF (wall) | RTF (CPU) |")
        print("|---|---:|---:|---:|---:|---:|---:|---:|")
        for n_iter in sorted(reports):
            for name, r in reports[n_iter]["results"].items():
                print(
                    f"| {name} | {n_iter} | {r['sc_db']:.2f} | {r['stoi']:.3f} | {r['estoi']:.3f} | "
                    f"{r['pesq']:.2f} | {r['rtf']:.3f} | {r['rtf_cpu']:.3f} |"
                )


def gd_configs() -> list[tuple[str, str, int, bool]]:
    """Every (loss, side, d, nesterov) of the registered gradient-descent methods."""
    out = []
    for loss in methods.GD_LOSSES:
        sides = ("left",) if divergence(loss).beta == 2.0 else ("left", "right")
        out += [(loss, side, d, nest) for d in (1, 2) for side in sides for nest in (False, True)]
    return out


def cmd_tune(args: argparse.Namespace) -> None:
    cfg = StftConfig()
    clips = [
        load_audio(f)[0][: int(args.seconds * cfg.sample_rate)]
        for f in split_files("validation")[: args.files]
    ]

    def score(conf: tuple[str, str, int, bool], mu0: float) -> float:
        loss, side, d, nest = conf
        scs = []
        for x in clips:
            r = magnitude(x, cfg)
            mag, cfg_d = methods.with_power(r, cfg, d)
            try:
                y = algorithms.gradient_descent(
                    mag,
                    cfg_d,
                    args.iterations,
                    0,
                    x.size,
                    divergence(loss),
                    side,
                    mu0,
                    nesterov=nest,
                    eta=methods.NESTEROV_ETA,
                )
            except InputError:
                return float("inf")
            scs.append(spectral_convergence_db(y, r, cfg))
        return float(np.mean(scs))

    steps = {}
    for conf in gd_configs():
        coarse = {e: score(conf, 10.0**e) for e in range(-9, 2)}
        best = min(coarse, key=coarse.get)
        fine = {e: coarse[e] for e in coarse}
        fine.update({e: score(conf, 10.0**e) for e in (best - 0.5, best + 0.5)})
        best = min(fine, key=fine.get)
        steps[conf] = (10.0**best, fine[best])
        print(f"{conf}: mu0 = 1e{best:g}, SC {fine[best]:.2f} dB", flush=True)
    print("\nGD_STEPS = {")
    for (loss, side, d, nest), (mu0, sc) in steps.items():
        print(f'    ("{loss}", "{side}", {d}, {nest}): {mu0:.3g},  # SC {sc:.1f} dB')
    print("}")


def cmd_rtf(args: argparse.Namespace) -> None:
    cfg = StftConfig()
    files = split_files("test")
    if files:
        x = np.concatenate([load_audio(f)[0] for f in files])[: 4 * cfg.sample_rate]
        source = "the first 4 s of the concatenated test split"
    else:
        from phasefold.engine.demo import demo_signal

        x, source = demo_signal(4.0), "the built-in demo signal"
    r = magnitude(x, cfg)
    seconds = x.size / cfg.sample_rate
    print(f"RTF at {args.iterations} iterations on one thread, {source} ({seconds:.1f} s), hop 256")
    with one_thread():
        for name in args.methods.split(","):
            walls, cpus = [], []
            for _ in range(args.repeats):
                with Stopwatch() as sw:
                    methods.reconstruct(name, r, cfg, args.iterations, 0, x.size)
                walls.append(sw.wall)
                cpus.append(sw.cpu)
            rtf = real_time_factor(min(walls), x.size, cfg.sample_rate)
            rtf_cpu = real_time_factor(min(cpus), x.size, cfg.sample_rate)
            print(f"{name:<10} RTF {rtf:.3f} (best of {args.repeats}, wall), CPU-time RTF {rtf_cpu:.3f}")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    sub = parser.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("table", help="evaluate the results-table methods and librosa-gla on a split")
    p.add_argument("--split", default="test")
    p.add_argument(
        "--methods", default="gla,fgla,admm-l2,admm-kl,gd-l2-nesterov,gd-kl-left-nesterov,librosa-gla"
    )
    p.add_argument("--iterations", type=lambda s: [int(v) for v in s.split(",")], default=[15, 100])
    p.add_argument(
        "--seed", type=int, default=0, help="file i: phase seed SEED + i (default 0: the protocol)"
    )
    p.add_argument("--out", type=Path, default=ROOT / "runs" / "results")
    p.set_defaults(func=cmd_table)
    p = sub.add_parser("markdown", help="print the docs/results.md tables from the JSON reports of `table`")
    p.add_argument("--out", type=Path, default=ROOT / "runs" / "results")
    p.set_defaults(func=cmd_markdown)
    p = sub.add_parser("tune-steps", help="grid-search the scale-free GD steps on validation excerpts")
    p.add_argument("--files", type=int, default=2)
    p.add_argument("--seconds", type=float, default=2.0)
    p.add_argument("--iterations", type=int, default=100)
    p.set_defaults(func=cmd_tune)
    p = sub.add_parser("rtf", help="one-thread RTF of methods on a 4-second file")
    p.add_argument("--methods", default="fgla,admm-l2,admm-kl")
    p.add_argument("--iterations", type=int, default=100)
    p.add_argument("--repeats", type=int, default=3)
    p.set_defaults(func=cmd_rtf)
    args = parser.parse_args()
    args.func(args)


if __name__ == "__main__":
    main()

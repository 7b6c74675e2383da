"""phasefold.griffinlim against librosa.griffinlim on librosa's own magnitudes (issue 31's acceptance).

    python -m benchmarks.griffinlim_vs_librosa [--split test] [--rounds 3] [--iterations 32]
    python -m benchmarks.griffinlim_vs_librosa --candidates [--split validation]

``--candidates`` scores the iterations griffinlim's default could run after its PGHI start (how it was
chosen, on the validation split): the PGHI phase alone, GLA, FGLA, ADMM-l2 and ADMM-kl at the same n_iter
(engine's offline runners, compiled backend), beside librosa.griffinlim's random start; no timing.

For each configuration (n_fft 1024 / hop 256 and librosa's defaults 2048 / 512) and each file of the split
(read at 22050 Hz, as ``phasefold evaluate`` reads them, float32 as librosa.load gives them): S =
abs(librosa.stft(y, n_fft=n_fft, hop_length=hop)) (centred, Hann, librosa's scale), then
librosa.griffinlim(S, n_iter=32, hop_length=hop, n_fft=n_fft, random_state=i) (file i) and
phasefold.griffinlim with the same arguments (its default start). Printed per configuration, as means over
the files: spectral convergence against S (dB, with librosa's STFT), STOI, PESQ-WB, the RMS of phasefold's
output over librosa's, the lag against the original (``lag_errors``: the shift that brings the STFT
magnitudes closest to S, over all files together and the largest of one file), whether the lengths are
librosa's, and the CPU time (time.thread_time, one thread: NUMBA_NUM_THREADS, OMP, MKL and OpenBLAS threads
1) and wall time of all files: the median of ``--rounds`` rounds, each round timing both functions on every
file in turn (interleaved), after one untimed call that compiles (or loads) the kernels.
"""

from __future__ import annotations

import os

for _var in ("NUMBA_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
    os.environ[_var] = "1"  # before numpy and numba are imported: one thread everywhere

import argparse  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402

CONFIGS = ((1024, 256), (2048, 512))
RATE = 22050


#: the shifts ``lag_errors`` tries: every one within 8 samples, then powers of two up to half a hop of 512
LAGS = (*range(-8, 9), *(sign * 2**e for e in range(4, 9) for sign in (-1, 1)))


def shifted(y: np.ndarray, k: int) -> np.ndarray:
    """y advanced by k samples (delayed for k < 0), zeros where it has none, the same length."""
    out = np.zeros_like(y)
    if k >= 0:
        out[: y.size - k] = y[k:]
    else:
        out[-k:] = y[: y.size + k]
    return out


def lag_errors(y: np.ndarray, S: np.ndarray, n_fft: int, hop: int) -> dict[int, float]:
    """For each shift k of ``LAGS`` within half a hop: || |STFT(y advanced by k)| - S ||^2 / ||S||^2.

    The lag of an output against the original is the shift with the least error: the magnitudes pin the
    time alignment, while a waveform cross-correlation says nothing here (the phases, and so the waveform's
    fine structure, are the algorithm's own; it peaks at pitch periods)."""
    return {
        k: 10.0 ** (spectral_convergence(shifted(y, k), S, n_fft, hop) / 10.0)
        for k in LAGS
        if abs(k) <= hop // 2
    }


def spectral_convergence(y: np.ndarray, S: np.ndarray, n_fft: int, hop: int) -> float:
    import librosa

    rebuilt = np.abs(librosa.stft(y, n_fft=n_fft, hop_length=hop))
    return float(20.0 * np.log10(np.linalg.norm(rebuilt - S) / np.linalg.norm(S)))


def timed(fn, *args, **kwargs) -> tuple[np.ndarray, float, float]:
    """(output, thread CPU seconds, wall seconds) of one call."""
    t0, c0 = time.perf_counter(), time.thread_time()
    out = fn(*args, **kwargs)
    return out, time.thread_time() - c0, time.perf_counter() - t0


def measure(split: str, rounds: int, n_iter: int) -> list[dict]:
    import librosa
    import phasefold
    from phasefold.engine.dataset import split_files
    from phasefold.engine.evaluation import one_thread, pesq_wb, stoi
    from phasefold.engine.inputs import load_audio

    files = split_files(split)
    if not files:
        raise SystemExit(f"no {split} files: the shared data folder is missing")
    signals = [load_audio(f, RATE)[0].astype(np.float32) for f in files]
    rows = []
    with one_thread():
        for n_fft, hop in CONFIGS:
            mags = [np.abs(librosa.stft(y, n_fft=n_fft, hop_length=hop)) for y in signals]
            kw = dict(n_iter=n_iter, hop_length=hop, n_fft=n_fft)
            runs = {
                "librosa": lambda S, i, kw=kw: librosa.griffinlim(S, random_state=i, **kw),
                "phasefold": lambda S, i, kw=kw: phasefold.griffinlim(S, **kw),
            }
            runs["phasefold"](mags[0], 0)  # compile (or load) the kernels: not timed
            cpu = {name: [] for name in runs}
            wall = {name: [] for name in runs}
            outs: dict[str, list[np.ndarray]] = {}
            for _ in range(rounds):
                totals = {name: [0.0, 0.0] for name in runs}
                for i, S in enumerate(mags):
                    for name, fn in runs.items():
                        y, c, w = timed(fn, S, i)
                        totals[name][0] += c
                        totals[name][1] += w
                        outs.setdefault(name, [None] * len(mags))[i] = y
                for name in runs:
                    cpu[name].append(totals[name][0])
                    wall[name].append(totals[name][1])
            scores = {name: [] for name in runs}
            for name in runs:
                for y, S, ref in zip(outs[name], mags, signals, strict=True):
                    n = min(y.size, ref.size)
                    scores[name].append(
                        (
                            spectral_convergence(y, S, n_fft, hop),
                            stoi(ref[:n], y[:n], RATE),
                            pesq_wb(ref[:n].astype(np.float64), y[:n].astype(np.float64), RATE),
                            lag_errors(y, S, n_fft, hop),
                        )
                    )
            rms = [
                float(np.sqrt(np.mean(a.astype(np.float64) ** 2) / np.mean(b.astype(np.float64) ** 2)))
                for a, b in zip(outs["phasefold"], outs["librosa"], strict=True)
            ]
            same_length = all(
                a.shape == b.shape for a, b in zip(outs["phasefold"], outs["librosa"], strict=True)
            )
            for name in runs:
                errors = [row[3] for row in scores[name]]
                s = np.array([row[:3] for row in scores[name]])
                lags = [min(e, key=e.get) for e in errors]
                total = {k: sum(e[k] for e in errors) for k in errors[0]}
                rows.append(
                    {
                        "config": f"{n_fft} / {hop}",
                        "function": name,
                        "sc_db": float(s[:, 0].mean()),
                        "stoi": float(s[:, 1].mean()),
                        "pesq": float(s[:, 2].mean()),
                        "lag": min(total, key=total.get),  # over all files: a systematic shift
                        "max_abs_lag": int(np.abs(lags).max()),
                        "rms_ratio": (float(np.mean(rms)), float(min(rms)), float(max(rms)))
                        if name == "phasefold"
                        else None,
                        "same_length": same_length,
                        "cpu_s": float(np.median(cpu[name])),
                        "wall_s": float(np.median(wall[name])),
                    }
                )
    return rows


#: the candidates of ``--candidates``: name -> (registry method, iterations: None for n_iter)
CANDIDATES = {
    "PGHI alone": ("fgla", 0),
    "PGHI + GLA": ("gla", None),
    "PGHI + FGLA (the default)": ("fgla", None),
    "PGHI + ADMM-l2": ("admm-l2", None),
    "PGHI + ADMM-kl": ("admm-kl", None),
}


def candidates(split: str, n_iter: int) -> str:
    """The ``--candidates`` table: mean SC, STOI and PESQ per configuration and candidate."""
    import librosa
    from phasefold.engine.compiled.pghi import offline_phases
    from phasefold.engine.dataset import split_files
    from phasefold.engine.evaluation import pesq_wb, stoi
    from phasefold.engine.inputs import load_audio
    from phasefold.engine.registry import lookup
    from phasefold.engine.runners import offline_runner
    from phasefold.engine.stft import StftConfig

    lines = ["| n_fft / hop | start + iterations | SC (dB) | STOI | PESQ |", "|---|---|---|---|---|"]
    signals = [load_audio(f, RATE)[0].astype(np.float32) for f in split_files(split)]
    for n_fft, hop in CONFIGS:
        cfg = StftConfig(n_fft=n_fft, hop=hop, window="hann", center=True, convention="librosa")
        scores: dict[str, list[tuple[float, float, float]]] = {}
        for i, y in enumerate(signals):
            S = np.abs(librosa.stft(y, n_fft=n_fft, hop_length=hop))
            frames = np.ascontiguousarray(S.T, dtype=np.float64)
            start = offline_phases(frames, cfg)
            theirs = librosa.griffinlim(S, n_iter=n_iter, hop_length=hop, n_fft=n_fft, random_state=i)
            outs = {"librosa (random start + FGLA)": theirs}
            length = theirs.size
            for name, (method, iterations) in CANDIDATES.items():
                runner = offline_runner(lookup(method), "compiled")
                k = n_iter if iterations is None else iterations
                outs[name] = runner.run(frames, cfg, k, 0, length, start).astype(np.float32)
            for name, out in outs.items():
                n = min(out.size, y.size)
                scores.setdefault(name, []).append(
                    (
                        spectral_convergence(out, S, n_fft, hop),
                        stoi(y[:n], out[:n], RATE),
                        pesq_wb(y[:n].astype(np.float64), out[:n].astype(np.float64), RATE),
                    )
                )
        for name, rows in scores.items():
            sc, st, pq = np.mean(rows, axis=0)
            lines.append(f"| {n_fft} / {hop} | {name} | {sc:.2f} | {st:.3f} | {pq:.3f} |")
    return (
        "\n".join(lines) + f"\n\n(means over {len(signals)} files of the {split} split, {n_iter} iterations)"
    )


def markdown(rows: list[dict], n_files: int, n_iter: int) -> str:
    lines = [
        f"| n_fft / hop | function ({n_iter} iterations) | SC (dB) | STOI | PESQ | RMS / librosa's (mean, "
        "min-max) | lag (all files; largest of one) | librosa's length | CPU s | wall s |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        rms = "1" if r["rms_ratio"] is None else "{:.3f} ({:.3f}-{:.3f})".format(*r["rms_ratio"])
        length = "yes" if r["same_length"] else "NO"
        lines.append(
            f"| {r['config']} | {r['function']} | {r['sc_db']:.2f} | {r['stoi']:.3f} | {r['pesq']:.3f} "
            f"| {rms} | {r['lag']} ({r['max_abs_lag']}) | {length} | {r['cpu_s']:.3f} | {r['wall_s']:.3f} |"
        )
    return (
        "\n".join(lines) + f"\n\n(means over {n_files} files; CPU and wall: all files, median of the rounds)"
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--split", default="test", choices=("test", "validation", "train"))
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--iterations", type=int, default=32)
    parser.add_argument("--candidates", action="store_true", help="score the starts and iterations instead")
    args = parser.parse_args(argv)
    from phasefold.engine.dataset import split_files

    if args.candidates:
        from phasefold.engine.evaluation import one_thread

        with one_thread():
            print(candidates(args.split, args.iterations))
        return

    rows = measure(args.split, args.rounds, args.iterations)
    print(markdown(rows, len(split_files(args.split)), args.iterations))


if __name__ == "__main__":
    main()

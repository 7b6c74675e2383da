"""Mel spectrograms streamed: the mel stream methods at look-ahead L (issue 32), quality and CPU.

    python -m benchmarks.mel_stream --split validation        # the candidates (the choice is made here)
    python -m benchmarks.mel_stream --split test --rows fgla:4:step --draws 4
    NUMBA_NUM_THREADS=1 OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 \\
        python -m benchmarks.mel_stream --split test

Each row METHOD:ITERATIONS:START (START: the new frame's start amplitudes, engine.streaming.mel.MEL_STARTS)
opens ``Stream.open(METHOD, mel=PRESET, lookahead=L, iterations=ITERATIONS, mel_start=START)`` once
(compiled and warmed up there: compilation is excluded) and feeds it each file's mel (audio read at the
preset's rate, its mel computed as the preset's project computes it: engine.mel.melspectrogram, the
preset's layout and log scale) one frame at a time, as a live source would, then flushes; the output is cut
at ``output_offset``. Scores against the original (engine.evaluation: PESQ-WB, STOI, ESTOI, SC in dB on the
preset's linear magnitudes): the unperturbed run, then ``--draws`` runs with the log mel shifted by eps n
(n standard normal per value, eps ``--eps``: the linear mel times about 1 + eps n, far below float32's
rounding), because a streamed score moves with the rounding; the table gives the mean over the draws and the
spread (largest minus smallest) of the per-draw means. CPU: time.thread_time of the calling thread around
the whole push-and-flush loop (the per-frame input checks included), over the seconds of audio, the median of
``--rounds`` rounds that interleave the rows (BLAS pools limited to one thread; run with the environment
above for numba and FFTW); wall-clock the same way beside it.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

ROWS = "fgla:3:step,fgla:4:step,fgla:4:spread,fgla:5:step,gla:4:step,admm-l2:2:step,admm-l2:2:spread"
METRICS = ("pesq", "stoi", "estoi", "sc_db")


def parse_row(row: str) -> tuple[str, int, str]:
    """METHOD:ITERATIONS:START -> (method, iterations, start)."""
    parts = row.split(":")
    if len(parts) != 3 or not parts[1].isdigit():
        raise SystemExit(f"row {row!r}: write METHOD:ITERATIONS:START (START: step or spread)")
    return parts[0], int(parts[1]), parts[2]


def streamed(stream, mel: np.ndarray, length: int, bands_last: bool) -> tuple[np.ndarray, float, float]:
    """(the aligned output, thread CPU seconds, wall seconds) of one mel fed frame by frame."""
    frames = mel if bands_last else mel.T
    stream.reset()
    c0, t0 = time.thread_time(), time.perf_counter()
    parts = [stream.push(frame) for frame in frames]
    parts.append(stream.flush())
    cpu, wall = time.thread_time() - c0, time.perf_counter() - t0
    out = np.concatenate(parts)
    y = np.zeros(length)
    got = out[stream.output_offset : stream.output_offset + length]
    y[: got.size] = got
    return y, cpu, wall


def run(
    preset: str, split: str, rows: list[str], lookahead: int, draws: int, eps: float, rounds: int
) -> dict:
    from phasefold.engine.dataset import split_files
    from phasefold.engine.evaluation import estoi, one_thread, pesq_wb, spectral_convergence_db, stoi
    from phasefold.engine.inputs import load_audio
    from phasefold.engine.mel import PRESETS, melspectrogram
    from phasefold.engine.stft import magnitude
    from phasefold.engine.streaming import Stream

    cfg = PRESETS[preset]
    sr = cfg.stft.sample_rate
    files = split_files(split)
    if not files:
        raise SystemExit("the shared TIMIT sample is not here: nothing to measure")
    items = []
    for path in files:
        x, _ = load_audio(path, sr)
        items.append((x, melspectrogram(x, cfg), magnitude(x, cfg.stft)))
    audio_s = sum(x.size for x, _, _ in items) / sr
    streams = {}
    for row in rows:
        method, iterations, start = parse_row(row)
        streams[row] = Stream.open(
            method, mel=preset, lookahead=lookahead, iterations=iterations, mel_start=start
        )

    def scores(x, y, r):
        return {
            "pesq": pesq_wb(x, y, sr),
            "stoi": stoi(x, y, sr),
            "estoi": estoi(x, y, sr),
            "sc_db": spectral_convergence_db(y, r, cfg.stft),
        }

    cpu: dict[str, list[float]] = {row: [] for row in rows}
    wall: dict[str, list[float]] = {row: [] for row in rows}
    runs: dict[str, list[dict]] = {row: [] for row in rows}
    for k in range(rounds):  # the rows interleaved, so that a slow moment of the machine hits all of them
        for row in rows:
            c_total = w_total = 0.0
            per_file = []
            for x, mel, r in items:
                with one_thread():
                    y, c, w = streamed(streams[row], mel, x.size, cfg.bands_last)
                c_total, w_total = c_total + c, w_total + w
                if k == 0:
                    per_file.append(scores(x, y, r))
            cpu[row].append(c_total / audio_s)
            wall[row].append(w_total / audio_s)
            if k == 0:
                runs[row].append({m: float(np.mean([s[m] for s in per_file])) for m in METRICS})
    for row in rows:
        for draw in range(1, draws + 1):
            per_file = []
            for i, (x, mel, r) in enumerate(items):
                noise = np.random.default_rng(1000 * draw + i).standard_normal(mel.shape)
                # the linear mel times about (1 + eps n): a shift of the log values, or the product itself
                shifted = mel * (1.0 + eps * noise)
                if cfg.is_log:
                    shifted = mel + eps * noise / np.log(cfg.log_base)
                y, _, _ = streamed(streams[row], shifted, x.size, cfg.bands_last)
                per_file.append(scores(x, y, r))
            runs[row].append({m: float(np.mean([s[m] for s in per_file])) for m in METRICS})
    table = {}
    for row in rows:
        summary = {}
        for m in METRICS:
            values = [run[m] for run in runs[row]]
            summary[m] = float(np.mean(values))
            summary[m + "_spread"] = float(np.max(values) - np.min(values))
        summary["unperturbed_pesq"] = runs[row][0]["pesq"]
        summary["rtf_cpu"] = float(np.median(cpu[row]))
        summary["rtf_wall"] = float(np.median(wall[row]))
        summary["describe"] = streams[row].describe()
        table[row] = summary
    return {
        "preset": preset,
        "split": split,
        "files": len(files),
        "audio_s": audio_s,
        "lookahead": lookahead,
        "draws": draws,
        "eps": eps,
        "rounds": rounds,
        "rows": table,
        "runs": runs,
    }


def markdown(result: dict) -> str:
    lines = [
        f"{result['preset']} mel streamed, L = {result['lookahead']}, {result['split']} split "
        f"({result['files']} files, {result['audio_s']:.1f} s); means over the unperturbed run and "
        f"{result['draws']} draws (eps {result['eps']:g}), spread = largest - smallest per-draw mean; "
        f"CPU and wall RTF: median of {result['rounds']} interleaved rounds, one thread",
        "",
        "| method : iterations per step : start | PESQ | spread | unperturbed | STOI | ESTOI | SC (dB) "
        "| CPU RTF | wall RTF |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for row, s in result["rows"].items():
        lines.append(
            f"| {row} | {s['pesq']:.3f} | {s['pesq_spread']:.3f} | {s['unperturbed_pesq']:.3f} | "
            f"{s['stoi']:.4f} | {s['estoi']:.4f} | {s['sc_db']:.2f} | {s['rtf_cpu']:.4f} | "
            f"{s['rtf_wall']:.4f} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", default="hifigan")
    parser.add_argument("--split", default="validation")
    parser.add_argument("--rows", default=ROWS, help=f"METHOD:ITERATIONS:START,... (default {ROWS})")
    parser.add_argument("--lookahead", type=int, default=3)
    parser.add_argument("--draws", type=int, default=3)
    parser.add_argument("--eps", type=float, default=1e-6)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args(argv)
    rows = args.rows.split(",")
    result = run(args.preset, args.split, rows, args.lookahead, args.draws, args.eps, args.rounds)
    print(markdown(result))
    if args.json is not None:
        args.json.write_text(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()

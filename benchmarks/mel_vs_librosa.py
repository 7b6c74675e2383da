"""Mel spectrograms in: phasefold's mel methods against librosa's mel_to_audio (issue 32).

    python -m benchmarks.mel_vs_librosa [--preset hifigan] [--split validation|test]
        [--methods fgla:32 fgla:100 ...] [--librosa 32 ...] [--reference 32 ...] [--json FILE]

Each file of the split is read at the preset's rate, its mel computed as the preset's project computes it
(engine.mel.melspectrogram, in the preset's layout and log), and reconstructed by
``phasefold.mel_to_audio(M, preset=..., method=..., n_iter=...)`` (``--methods``: METHOD:ITERATIONS, the mel
methods of engine.mel_gla; METHOD:ITERATIONS:float32 casts the mel to float32 first), by
``librosa.feature.inverse.mel_to_audio(n_iter=...)``'s two steps
(mel_to_stft, griffinlim) given the same mel as linear values with the matching STFT and filters (its
output cropped by the preset's outside padding) and by the issue's bar, a plain-numpy mel-consistent fast
Griffin-Lim on librosa's STFT and filters (``reference_fgla``: no phasefold code); file i starts from random
phases of seed i in all. Scores against the original: PESQ-WB, STOI, ESTOI,
SC (dB, on the preset's linear STFT magnitudes), the lag (samples, by cross-correlation of fine-hop
magnitude spectrograms within +-512, with the preset's own n_fft window, and with a 256-sample window)
and the CPU seconds per second of audio: time.thread_time on one
thread (BLAS pools limited here; run with NUMBA_NUM_THREADS=1 OMP_NUM_THREADS=1 MKL_NUM_THREADS=1
OPENBLAS_NUM_THREADS=1), compilation excluded (every method runs once before the timing), the median of
three rounds that interleave the methods. Prints a markdown table (means over files, median lag).
librosa stays a benchmark/test dependency.
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import phasefold
from phasefold.engine.dataset import split_files
from phasefold.engine.evaluation import estoi, one_thread, pesq_wb, spectral_convergence_db, stoi
from phasefold.engine.inputs import load_audio
from phasefold.engine.mel import PRESETS, MelConfig, linear_mel, melspectrogram
from phasefold.engine.mel_gla import DEFAULT_MEL_METHOD
from phasefold.engine.stft import StftConfig, magnitude
from phasefold.mel import PRESET_ITERATIONS

MAX_LAG = 512
#: timed rounds per file (the median is reported)
ROUNDS = 3
#: the hop (samples) of the spectrograms the lag is measured on: its resolution
LAG_HOP = 4


def librosa_inverse(mel: np.ndarray, cfg: MelConfig, n_iter: int, length: int, seed: int = 0) -> np.ndarray:
    """librosa.feature.inverse.mel_to_audio on the preset's mel (linear values), its STFT and filters."""
    import librosa

    lin = np.swapaxes(linear_mel(mel, cfg), -1, -2)  # [n_mels, frames]
    # mel_to_audio's own two steps, so that its random start can be seeded (mel_to_audio draws it unseeded)
    spec = librosa.feature.inverse.mel_to_stft(
        lin,
        sr=cfg.stft.sample_rate,
        n_fft=cfg.stft.n_fft,
        power=cfg.power,
        fmin=cfg.fmin,
        fmax=cfg.top,
        htk=cfg.scale == "htk",
        norm=cfg.norm,
    )
    y = librosa.griffinlim(
        spec,
        n_iter=n_iter,
        hop_length=cfg.stft.hop,
        win_length=cfg.stft.frame_length,
        n_fft=cfg.stft.n_fft,
        window="hann",
        center=bool(cfg.stft.center),
        dtype=np.float64,
        pad_mode=cfg.stft.pad_mode,
        length=length + 2 * cfg.pad,
        random_state=seed,
    )
    return y[cfg.pad : cfg.pad + length]


def reference_fgla(mel: np.ndarray, cfg: MelConfig, n_iter: int, length: int, seed: int = 0) -> np.ndarray:
    """The issue's bar, written out in plain numpy on librosa's STFT and filters (no phasefold code): fast
    Griffin-Lim (momentum 0.99) whose projection keeps each bin's phase and fine structure and scales the
    bins so that each band moves to the target mel (gain = band-weighted mean of target / current mel),
    from random phases; the preset's outside padding is part of the signal iterated on, then cut."""
    import librosa

    st = cfg.stft
    bank = librosa.filters.mel(sr=st.sample_rate, n_fft=st.n_fft, n_mels=cfg.n_mels, fmin=cfg.fmin,
                               fmax=cfg.top, htk=cfg.scale == "htk", norm=cfg.norm)  # fmt: skip
    cover = bank.sum(axis=0)
    spread = (bank / np.where(cover > 0, cover, 1.0)).T  # [K, n_mels]: each bin's weights over its bands
    target = np.swapaxes(linear_mel(mel, cfg), -1, -2)  # [n_mels, frames]
    tiny = 1e-12 * target.mean()
    inner = length + 2 * cfg.pad
    kw = {"hop_length": st.hop, "win_length": st.frame_length, "n_fft": st.n_fft, "window": "hann",
          "center": bool(st.center)}  # fmt: skip

    def project(spec: np.ndarray) -> np.ndarray:
        gain = spread @ (target / np.maximum(bank @ np.abs(spec) ** cfg.power, tiny))
        return spec * gain ** (1.0 / cfg.power)

    def consistent(spec: np.ndarray) -> np.ndarray:
        y = librosa.istft(spec, length=inner, **kw)
        return librosa.stft(y, pad_mode=st.pad_mode, **kw)[:, : target.shape[1]]

    rng = np.random.default_rng(seed)
    spec = project(np.exp(2j * np.pi * rng.random((st.n_bins, target.shape[1]))))
    previous = None
    for _ in range(n_iter):
        made = consistent(project(spec))
        spec = made if previous is None else made + 0.99 * (made - previous)
        previous = made
    y = librosa.istft(project(spec), length=inner, **kw)
    return y[cfg.pad : cfg.pad + length]


def lag(ref: np.ndarray, est: np.ndarray, n_fft: int) -> int:
    """The shift (samples, a multiple of LAG_HOP) that best aligns ``est``'s magnitude spectrogram with
    ``ref``'s (Hann window of ``n_fft``, hop LAG_HOP, every bin's frames cross-correlated and summed):
    positive where ``est`` comes late. Magnitudes, not waveforms: a reconstruction's phase is its own.

    The window sets what is compared. With the mel's own n_fft it is the timing the mel measures (a
    shifted output moves it by the shift). A 256-sample window (11.6 ms at 22.05 kHz) resolves the pitch
    pulses, whose place within each period no mel of 1024-sample frames fixes: there it also reads the
    pulses' offset, which moves with the start phases (docs/results.md, "Alignment")."""
    from scipy.signal import fftconvolve

    n = min(ref.size, est.size)
    cfg = StftConfig(n_fft=n_fft, hop=LAG_HOP, window="hann", center=True, convention="librosa")
    a, b = (magnitude(v[:n], cfg) for v in (est, ref))
    a, b = a - a.mean(axis=0), b - b.mean(axis=0)
    corr = fftconvolve(a, b[::-1], mode="full", axes=0).sum(axis=1)  # index F - 1 is no shift
    reach = MAX_LAG // LAG_HOP
    middle = b.shape[0] - 1
    return (int(np.argmax(corr[middle - reach : middle + reach + 1])) - reach) * LAG_HOP


Method = Callable[[np.ndarray, MelConfig, int, int], np.ndarray]


def row_label(method: str, n_iter: int, single: bool) -> str:
    """A phasefold row's label; the default method at the presets' default iterations says so."""
    default = " (default)" if (method, n_iter) == (DEFAULT_MEL_METHOD, PRESET_ITERATIONS) else ""
    return f"phasefold {method}, {n_iter} it.{default}{', float32 mel' if single else ''}"


def methods(
    name: str, ours: list[str], librosa_its: list[int], reference_its: list[int]
) -> dict[str, Method]:
    """label -> (mel, configuration, length, seed) -> signal. ``ours``: METHOD:ITERATIONS[:float32] (the
    mel cast to float32, as the projects' torch code writes it: mel_to_audio then computes in float32)."""
    rows: dict[str, Method] = {}
    for row in ours:
        method, n_iter, *single = row.split(":")
        dtype = np.float32 if single == ["float32"] else np.float64
        rows[row_label(method, int(n_iter), dtype == np.float32)] = (
            lambda m, c, n, i, method=method, k=int(n_iter), dtype=dtype: phasefold.mel_to_audio(
                m.astype(dtype), preset=name, method=method, n_iter=k, length=n, seed=i
            )
        )
    for k in reference_its:
        rows[f"plain-numpy mel-consistent FGLA (the issue's bar), {k} it."] = lambda m, c, n, i, k=k: (
            reference_fgla(m, c, k, n, seed=i)
        )
    for k in librosa_its:
        rows[f"librosa mel_to_audio, {k} it."] = lambda m, c, n, i, k=k: librosa_inverse(m, c, k, n, seed=i)
    return rows


def run(name: str, split: str, candidates: dict[str, Method]) -> dict:
    cfg = PRESETS[name]
    sr = cfg.stft.sample_rate
    rows: dict[str, list[dict]] = {}
    warm = melspectrogram(np.random.default_rng(0).standard_normal(sr // 2), cfg)
    for method in candidates.values():  # compile (or load the compiled kernels) before any timing
        method(warm, cfg, sr // 2, 0)
    for i, path in enumerate(split_files(split)):
        x, _ = load_audio(path, sr)
        mel = melspectrogram(x, cfg)
        r = magnitude(x, cfg.stft)
        times: dict[str, list[float]] = {}
        outputs: dict[str, np.ndarray] = {}
        for _ in range(ROUNDS):  # the methods interleaved, so that a slow moment of the machine hits all
            for label, method in candidates.items():
                with one_thread():
                    t0 = time.thread_time()
                    outputs[label] = np.asarray(method(mel, cfg, x.size, i), dtype=np.float64)
                    times.setdefault(label, []).append(time.thread_time() - t0)
        for label, y in outputs.items():
            cpu = float(np.median(times[label]))
            rows.setdefault(label, []).append(
                {
                    "file": path.stem,
                    "pesq": pesq_wb(x, y, sr),
                    "stoi": stoi(x, y, sr),
                    "estoi": estoi(x, y, sr),
                    "sc_db": spectral_convergence_db(y, r, cfg.stft),
                    "lag": lag(x, y, cfg.stft.n_fft),
                    "lag_256": lag(x, y, 256),
                    "cpu_per_second": cpu * sr / x.size,
                }
            )
    return {
        "preset": name,
        "split": split,
        "files": len(split_files(split)),
        "n_fft": cfg.stft.n_fft,
        "methods": rows,
    }


def table(report: dict) -> str:
    lines = [
        f"`{report['preset']}` mel, {report['split']} split ({report['files']} files), one thread:",
        "",
        f"| method | PESQ | STOI | ESTOI | SC (dB) | median lag ({report['n_fft']} window) | "
        "median lag (256 window) | CPU s per s of audio |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for label, rows in report["methods"].items():

        def mean(key: str, rows: list[dict] = rows) -> float:
            return float(np.mean([row[key] for row in rows]))

        def median(key: str, rows: list[dict] = rows) -> int:
            return int(np.median([row[key] for row in rows]))

        lines.append(
            f"| {label} | {mean('pesq'):.2f} | {mean('stoi'):.3f} | {mean('estoi'):.3f} | "
            f"{mean('sc_db'):.1f} | {median('lag')} | {median('lag_256')} | {mean('cpu_per_second'):.3f} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--preset", choices=[p for p in PRESETS if p != "librosa"], default="hifigan")
    parser.add_argument("--split", default="validation", choices=["validation", "test"])
    parser.add_argument(
        "--methods",
        nargs="+",
        default=[f"{DEFAULT_MEL_METHOD}:32", f"{DEFAULT_MEL_METHOD}:{PRESET_ITERATIONS}"],
        metavar="METHOD:ITERATIONS[:float32]",
        help="phasefold mel methods (gla, fgla, admm-<loss>), their iterations, float32: the mel in float32",
    )
    parser.add_argument("--librosa", nargs="*", type=int, default=[32], metavar="N",
                        help="librosa mel_to_audio rows, by n_iter")  # fmt: skip
    parser.add_argument("--reference", nargs="*", type=int, default=[], metavar="N",
                        help="plain-numpy mel-consistent FGLA rows (the issue's bar)")  # fmt: skip
    parser.add_argument("--json", type=Path, help="write the per-file scores here")
    args = parser.parse_args()
    report = run(args.preset, args.split, methods(args.preset, args.methods, args.librosa, args.reference))
    if args.json:
        args.json.write_text(json.dumps(report, indent=1))
    print(table(report))


if __name__ == "__main__":
    main()

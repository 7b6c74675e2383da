"""`phasefold evaluate`: score methods on files (SC, STOI, ESTOI, PESQ-WB, real-time factor).

Real-time factors are measured on one thread: the whole run sits inside phasefold.engine.metrics.one_thread()
(threadpoolctl caps the BLAS/OpenMP pools; numpy's FFT is single-threaded), only the reconstruction
is timed. ``rtf`` uses wall-clock time; ``rtf_cpu`` uses the process CPU time of the same call, and
``cpu_per_wall`` (their ratio) checks the setting: above 1 would mean extra threads, below 1 means the
process was waiting for a core (a busy machine), in which case ``rtf_cpu`` is the better estimate.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from phasefold.commands.reconstruct import DEFAULT_ITERATIONS, finite_float, non_negative_int

METRICS = ("sc_db", "stoi", "estoi", "pesq", "rtf")


def register(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "paths",
        nargs="+",
        metavar="PATH",
        help="audio files, .npz files with a reference, folders, or test/validation/train",
    )
    parser.add_argument(
        "--methods", required=True, help="comma-separated method names (see reconstruct --list-methods)"
    )
    parser.add_argument(
        "--hop", type=int, default=None, help="STFT hop for audio input: 256 (default) or 512"
    )
    parser.add_argument(
        "--snr",
        type=finite_float,
        default=None,
        metavar="DB",
        help="modified magnitudes: white noise at this SNR, then the oracle Wiener mask",
    )
    parser.add_argument(
        "--iterations",
        type=non_negative_int,
        default=DEFAULT_ITERATIONS,
        help=f"iterations of every method (default {DEFAULT_ITERATIONS})",
    )
    parser.add_argument("--seed", type=int, default=0, help="seed of the initial phase and the noise")
    parser.add_argument(
        "--json", type=Path, default=None, metavar="OUT.json", help="also write the results as JSON"
    )
    from phasefold.commands import add_backend_argument
    from phasefold.commands.stream import add_online_arguments

    add_online_arguments(parser)
    add_backend_argument(parser)
    parser.set_defaults(run=run)


def resolve_inputs(paths: list[str]) -> list[Path]:
    """Files from files, folders and the split names test / validation / train of the shared data."""
    from phasefold.engine.dataset import SPLITS, audio_files, shared_data_dir, split_files
    from phasefold.engine.errors import InputError

    files: list[Path] = []
    for item in paths:
        path = Path(item)
        if item in SPLITS and not path.exists():
            if shared_data_dir() is None:
                raise InputError(
                    f"'{item}' names a split of the shared data, which is not here "
                    "(expected ../shared/data/timit-sample or $PHASEFOLD_DATA)"
                )
            files.extend(split_files(item))
        elif path.is_dir():
            found = audio_files(path) + sorted(path.rglob("*.npz"))
            if not found:
                raise InputError(f"{path}: no audio or .npz files in this folder")
            files.extend(found)
        elif path.exists():
            files.append(path)
        else:
            raise InputError(f"{path}: no such file or folder (nor a split: {', '.join(SPLITS)})")
    return files


def parse_methods(text: str, backend: str = "auto") -> list[str]:
    """Split and check a comma-separated method list (unknown names raise InputError)."""
    from phasefold.engine.errors import InputError
    from phasefold.engine.methods import get_method

    names = [n.strip() for n in text.split(",") if n.strip()]
    if not names:
        raise InputError("--methods is empty; give comma-separated names")
    for name in names:
        get_method(name, backend)
    return names


def evaluate_methods(
    files: list[Path],
    methods: list[str],
    hop: int | None = None,
    snr_db: float | None = None,
    n_iter: int = DEFAULT_ITERATIONS,
    seed: int = 0,
    progress: bool = True,
    online=None,
    backend: str = "auto",
) -> dict:
    """Run every method on every file (same magnitudes and initial phase); means and per-file scores.

    ``online``: name -> engine.methods.Method for names that are not registry methods (the streamed
    runners of --online, a benchmark's own method)."""
    import numpy as np
    from phasefold.commands.reconstruct import load_measurements
    from phasefold.engine.errors import InputError
    from phasefold.engine.methods import reconstruct
    from phasefold.engine.metrics import Stopwatch, evaluate_signal, one_thread, real_time_factor
    from tqdm import tqdm

    per_file: list[dict] = []
    cfg_seen = None
    bar = tqdm(total=len(files) * len(methods), disable=not progress, file=sys.stderr, unit="run")
    with one_thread(), bar:
        for path in files:
            mag, cfg, length, ref, notes = load_measurements(path, hop, snr_db, seed)
            if ref is None:
                raise InputError(f"{path}: a .npz file needs a 'reference' signal to be scored")
            if cfg_seen is not None and cfg != cfg_seen:
                raise InputError(f"{path}: STFT settings {cfg.to_dict()} differ from the other files'")
            cfg_seen = cfg
            for note in notes:
                bar.write(f"phasefold evaluate: note: {path.name}: {note}", file=sys.stderr)
            for name in methods:
                bar.set_description(f"{path.stem} {name}")
                with Stopwatch() as watch:
                    entry = online.get(name, name) if online else name
                    y = reconstruct(entry, mag, cfg, n_iter, seed, length, backend=backend)
                scores = evaluate_signal(ref, y, cfg)
                per_file.append(
                    {
                        "file": str(path),
                        "method": name,
                        **scores,
                        "rtf": real_time_factor(watch.wall, length, cfg.sample_rate),
                        "rtf_cpu": real_time_factor(watch.cpu, length, cfg.sample_rate),
                        "seconds": watch.wall,
                        "cpu_per_wall": watch.cpu / max(watch.wall, 1e-12),
                        "duration": length / cfg.sample_rate,
                    }
                )
                bar.update()
    results = {}
    for name in methods:
        rows = [row for row in per_file if row["method"] == name]
        keys = (*METRICS, "rtf_cpu", "cpu_per_wall")
        results[name] = {key: float(np.mean([row[key] for row in rows])) for key in keys}
        results[name]["n_files"] = len(rows)
    config = {
        "stft": None if cfg_seen is None else cfg_seen.to_dict(),
        "snr_db": snr_db,
        "iterations": n_iter,
        "seed": seed,
        "methods": methods,
        "files": [str(p) for p in files],
        "threads": 1,
        "condition": "exact magnitudes"
        if snr_db is None
        else f"modified magnitudes, {snr_db:g} dB white noise + oracle Wiener mask",
        "means": "arithmetic means over files (SC of the dB values)",
    }
    return {"config": config, "results": results, "per_file": per_file}


def format_table(report: dict) -> str:
    """The results as an aligned text table."""
    names = list(report["results"])
    width = max([len("method"), *map(len, names)])
    head = f"{'SC (dB)':>8}  {'STOI':>6}  {'ESTOI':>6}  {'PESQ':>5}  {'RTF':>7}  files"
    lines = [f"{'method':<{width}}  {head}"]
    for name in names:
        r = report["results"][name]
        lines.append(
            f"{name:<{width}}  {r['sc_db']:>8.2f}  {r['stoi']:>6.3f}  {r['estoi']:>6.3f}  "
            f"{r['pesq']:>5.2f}  {r['rtf']:>7.3f}  {r['n_files']:>5}"
        )
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    from phasefold.engine.errors import InputError

    if args.online:  # streaming engine: its own method names (rtisi-la, rtpghi, models, admm-*, fgla ...)
        from phasefold.commands.stream import online_method

        methods = [n.strip() for n in args.methods.split(",") if n.strip()]
        online = {name: online_method(name, args) for name in methods}
    else:
        methods, online = parse_methods(args.methods, args.backend), None
    files = resolve_inputs(args.paths)
    if not files:
        raise InputError("no files to evaluate")
    if args.json is not None and not args.json.parent.is_dir():
        raise InputError(f"{args.json}: the folder {args.json.parent} does not exist")
    report = evaluate_methods(
        files, methods, args.hop, args.snr, args.iterations, args.seed, online=online, backend=args.backend
    )
    report["config"]["backend"] = args.backend
    if online:
        report["config"]["online"] = {
            "lookahead": args.lookahead,
            "block": args.block,
            "step_iterations": args.step_iterations,
            "init": args.init,
        }
    cond = report["config"]["condition"]
    print(
        f"{len(files)} files, {cond}, hop {report['config']['stft']['hop']}, {args.iterations} iterations, "
        "RTF on one thread"
    )
    print(format_table(report))
    if args.json is not None:
        args.json.write_text(json.dumps(report, indent=2) + "\n")
        print(f"wrote {args.json}")
    return 0

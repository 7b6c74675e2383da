"""`phasefold evaluate`: score methods on files (SC, STOI, ESTOI, PESQ-WB, real-time factor).

Files are measured, started and scored by phasefold.engine.protocol, the protocol of the model cards: file i
starts from random phase seed i (plus --seed), --snr noise has seed 1000 + i, SC is measured against the
given measurements. A model runs one pass of its layers by default, as its card's metrics were run;
``--backend onnxruntime`` runs its graph, which computed the cards' figures.

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

from phasefold.commands import finite_float, hop_size, non_negative_int

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
        "--hop", type=hop_size, default=None, help="STFT hop for audio input: 256 (default) or 512"
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
        default=None,
        help="iterations of every method (default 100; an unfolded model runs its T layers once, as in its "
        "card's metrics)",
    )
    parser.add_argument(
        "--seed",
        type=non_negative_int,
        default=0,
        help="file i starts from random phase seed SEED + i; --snr noise seed 1000 + SEED + i (default 0: "
        "the model cards' protocol)",
    )
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
    n_iter: int | None = None,
    seed: int = 0,
    progress: bool = True,
    online=None,
    backend: str = "auto",
) -> dict:
    """Run every method on every file under engine.protocol's protocol (the model cards' for seed 0); means
    and per-file scores.

    Audio files are measured at ``hop`` (default 256), modified with ``snr_db``; a .npz file gives its own
    measurements. ``online``: name -> engine.methods.Method for names that are not registry methods (the
    streamed runners of --online, a benchmark's own method). A file that cannot be loaded or scored
    (PhasefoldError) is left out of every method's means and listed under ``failures``; InputError when no
    file is scored."""
    import numpy as np
    from phasefold.commands.reconstruct import check_audible, load_measurements
    from phasefold.engine.audio_io import load_audio
    from phasefold.engine.errors import InputError, PhasefoldError
    from phasefold.engine.methods import reconstruct
    from phasefold.engine.metrics import Stopwatch, check_duration, one_thread, real_time_factor
    from phasefold.engine.protocol import EvaluationProtocol
    from phasefold.engine.stft import HOP
    from tqdm import tqdm

    try:
        protocol = EvaluationProtocol(hop or HOP, snr_db, seed)
    except ValueError as exc:
        raise InputError(f"--hop {hop}: {exc}") from None

    per_file: list[dict] = []
    failures: list[dict] = []
    cfg_seen = None
    bar = tqdm(total=len(files) * len(methods), disable=not progress, file=sys.stderr, unit="run")
    with one_thread(), bar:
        for index, path in enumerate(files):
            rows, name = [], None
            try:
                if path.suffix.lower() == ".npz":  # given measurements
                    mag, cfg, length, ref, notes = load_measurements(path, hop, snr_db, 0)
                else:
                    ref, notes = load_audio(path)
                    check_audible(path, ref)
                    mag, cfg, length = protocol.measure(ref, index), protocol.cfg, ref.size
                if ref is None:
                    raise InputError(f"{path}: a .npz file needs a 'reference' signal to be scored")
                if cfg_seen is not None and cfg != cfg_seen:
                    raise InputError(f"{path}: STFT settings {cfg.to_dict()} differ from the other files'")
                check_duration(length, cfg.sample_rate)
                for note in notes:
                    bar.write(f"phasefold evaluate: note: {path.name}: {note}", file=sys.stderr)
                for name in methods:
                    bar.set_description(f"{path.stem} {name}")
                    with Stopwatch() as watch:
                        entry = online.get(name, name) if online else name
                        y = reconstruct(
                            entry, mag, cfg, n_iter, protocol.phase_seed(index), length, backend=backend
                        )
                    scores = protocol.scores(ref, y, mag, cfg)
                    rows.append(
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
            except PhasefoldError as exc:  # the file is left out of every method's means
                reason = str(exc).removeprefix(f"{path}: ")
                failures.append({"file": str(path), "method": name, "error": reason})
                bar.update((index + 1) * len(methods) - bar.n)
                continue
            cfg_seen = cfg
            per_file.extend(rows)
    if not per_file:
        raise InputError("no file could be scored: " + "; ".join(_failure_text(f) for f in failures))
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
        "protocol": protocol.describe(),
        "means": "arithmetic means over files (SC of the dB values)",
    }
    report = {"config": config, "results": results, "per_file": per_file}
    if failures:
        report["failures"] = failures
    return report


def _failure_text(failure: dict) -> str:
    method = f" ({failure['method']})" if failure["method"] else ""
    return f"{failure['file']}{method}: {failure['error']}"


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
    """Score every file it can; exit 1 where a file could not be scored (one line each, also in the JSON)."""
    from phasefold.engine.errors import InputError
    from phasefold.engine.outputs import check_output_path, write_text

    if args.json is not None:
        check_output_path(args.json, "JSON report", inputs=tuple(args.paths))
    if args.online:  # streaming engine: its own method names (rtisi-la, rtpghi, models, admm-*, fgla ...)
        from phasefold.commands.stream import online_method

        methods = [n.strip() for n in args.methods.split(",") if n.strip()]
        online = {name: online_method(name, args) for name in methods}
    else:
        methods, online = parse_methods(args.methods, args.backend), None
    files = resolve_inputs(args.paths)
    if not files:
        raise InputError("no files to evaluate")
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
    failures = report.get("failures", [])
    cond = report["config"]["condition"]
    print(
        f"{len(files) - len(failures)} files, {cond}, hop {report['config']['stft']['hop']}, "
        f"{'default' if args.iterations is None else args.iterations} iterations, RTF on one thread"
    )
    print(format_table(report))
    if args.json is not None:
        write_text(args.json, json.dumps(report, indent=2) + "\n")
        print(f"wrote {args.json}")
    for failure in failures:
        print(f"phasefold evaluate: not scored: {_failure_text(failure)}", file=sys.stderr)
    return 1 if failures else 0

"""`phasefold evaluate`: score methods on files (SC, STOI, ESTOI, PESQ-WB, real-time factor).

Argument parsing and printing; the work is phasefold.engine.evaluation.evaluate, the protocol of the model
cards: file i starts from random phase seed i (plus --seed), --snr noise has seed 1000 + i, SC is measured
against the given measurements. A model runs one pass of its layers by default, as its card's metrics were
run; ``--backend onnxruntime`` runs its graph, which computed the cards' figures.

Real-time factors are measured on one thread: the whole run sits inside engine.evaluation.one_thread()
(threadpoolctl caps the BLAS/OpenMP pools; numpy's FFT is single-threaded), only the reconstruction
is timed. ``rtf`` uses wall-clock time; ``rtf_cpu`` uses the process CPU time of the same call, and
``cpu_per_wall`` (their ratio) checks the setting: above 1 would mean extra threads, below 1 means the
process was waiting for a core (a busy machine), in which case ``rtf_cpu`` is the better estimate.
"""

from __future__ import annotations

import argparse
import json
import sys

from phasefold.commands import finite_float, nonempty_text, path_arg, seed_int
from phasefold.commands.mel_input import add_mel_argument, mel_config, mel_words, refuse_linear_stft
from phasefold.commands.options import (
    add_backend_argument,
    add_iterations_argument,
    add_online_arguments,
    add_rate_arguments,
    add_stft_arguments,
    check_analysis_options,
    check_iteration_options,
    stft_settings,
)


def register(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "paths",
        nargs="+",
        type=nonempty_text,
        metavar="PATH",
        help="audio files, .npz files with a reference, folders, or test/validation/train",
    )
    parser.add_argument(
        "--methods",
        type=nonempty_text,
        default=None,
        help="comma-separated method names (see reconstruct --list-methods); with --mel, default every "
        "method that takes that mel: fgla, gla, admm-l2, admm-kl and the mel models made for it",
    )
    add_rate_arguments(parser, "the audio files are read and measured at")
    parser.add_argument(
        "--snr",
        type=finite_float,
        default=None,
        metavar="DB",
        help="modified magnitudes: white noise at this SNR, then the oracle Wiener mask",
    )
    parser.add_argument(
        "--gain",
        type=finite_float,
        default=0.0,
        metavar="DB",
        help="scale every clean signal by DB decibels before it is measured and scored (the input level; "
        "default 0: the file's own)",
    )
    add_iterations_argument(parser)
    parser.add_argument(
        "--seed",
        type=seed_int,
        default=0,
        help="file i starts from random phase seed SEED + i; --snr noise seed 1000 + SEED + i (default 0: "
        "the model cards' protocol)",
    )
    parser.add_argument(
        "--json", type=path_arg, default=None, metavar="OUT.json", help="also write the results as JSON"
    )
    add_stft_arguments(parser)
    add_online_arguments(parser)
    add_backend_argument(parser)
    add_mel_argument(parser)
    parser.set_defaults(run=run)


def parse_methods(text: str, backend: str = "auto") -> list[str]:
    """Split and check a comma-separated method list (unknown names raise InputError)."""
    from phasefold.engine.methods import get_method

    names = _method_list(text)
    for name in names:
        get_method(name, backend)
    return names


def _method_list(text: str) -> list[str]:
    """The names of a comma-separated --methods list: InputError where it names none or an unknown method
    (with --mel, a known method that cannot take the mel gets a failed row as it runs)."""
    from phasefold.engine.errors import InputError
    from phasefold.engine.registry import lookup

    names = [n.strip() for n in text.split(",") if n.strip()]
    if not names:
        raise InputError("--methods is empty; give comma-separated names")
    for name in names:
        lookup(name)
    return names


def _offline_words(name: str, cfg, n_iter: int | None) -> str:
    """What an offline run of ``name`` at ``cfg`` runs, in words (its default where ``n_iter`` is None)."""
    from phasefold.engine.registry import lookup

    spec = lookup(name)
    return spec.at_config(cfg).describe_offline(spec.iterations if n_iter is None else n_iter)


def run(args: argparse.Namespace) -> int:
    """Score every file it can; exit 1 where a file could not be scored (one line each, also in the JSON)."""
    from phasefold.engine.errors import InputError
    from phasefold.engine.evaluation import evaluate, failure_text, format_table
    from phasefold.engine.inputs import resolve_inputs
    from phasefold.engine.outputs import check_output_path, write_text
    from phasefold.engine.stft import StftConfig

    if args.json is not None:
        check_output_path(args.json, "JSON report", inputs=tuple(args.paths))
    check_iteration_options(args, "evaluate")
    check_analysis_options(args)
    mel = mel_config(args)
    if mel is not None:
        from phasefold.engine.registry import mel_method_names

        refuse_linear_stft(args)
        if args.online:
            raise InputError("--online with --mel: evaluate scores the mel methods offline")
        methods = mel_method_names(mel) if args.methods is None else _method_list(args.methods)
    elif args.methods is None:
        raise InputError("give --methods NAME[,NAME...] (see reconstruct --list-methods)")
    elif args.online:  # streaming engine: its own method names (rtisi-la, rtpghi, models, admm-*, fgla ...)
        from phasefold.commands.options import streamed_method

        names = [n.strip() for n in args.methods.split(",") if n.strip()]
        methods = {name: streamed_method(name, args, iterate_all=False) for name in names}
    else:
        methods = parse_methods(args.methods, args.backend)
    files = resolve_inputs(args.paths)
    if not files:
        raise InputError("no files to evaluate")
    report = evaluate(
        methods,
        files,
        args.hop,
        args.snr,
        args.iterations,
        args.seed,
        args.backend,
        progress=True,
        gain_db=args.gain,
        n_fft=args.n_fft,
        sample_rate=args.sr,
        stft=stft_settings(args),
        mel=mel,
    )
    report["config"]["backend"] = args.backend
    cfg = StftConfig.from_dict(report["config"]["stft"])
    if mel is not None:
        ran = f"each method from {mel_words(args)}, its mel step in place of the magnitude projection"
    elif args.online:
        ran_by = {name: entry.describe(cfg) for name, entry in methods.items()}
        report["config"]["online"] = {
            "lookahead": args.lookahead,
            "block": args.block,
            "step_iterations": args.step_iterations,
            "init": args.init,
            "ran": ran_by,
        }
        ran = "; ".join(ran_by.values())
    else:
        ran = ", ".join(f"{name}: {_offline_words(name, cfg, args.iterations)}" for name in methods)
    failures = report.get("failures", [])
    cond = report["config"]["condition"] if mel is None else mel_words(args)
    stft = f"hop {cfg.hop}"
    if (cfg.sample_rate, cfg.n_fft) != (StftConfig().sample_rate, StftConfig().n_fft):
        stft = f"{cfg.sample_rate} Hz, n_fft {cfg.n_fft}, {stft}"
    scored = len({row["file"] for row in report["per_file"]})  # a failed method is no unscored file
    print(f"{scored} files, {cond}, {stft}, RTF on one thread")
    print(format_table(report))
    print(f"ran: {ran}")
    if args.json is not None:
        write_text(args.json, json.dumps(report, indent=2) + "\n")
        print(f"wrote {args.json}")
    for failure in failures:
        print(f"phasefold evaluate: not scored: {failure_text(failure)}", file=sys.stderr)
    return 1 if failures else 0

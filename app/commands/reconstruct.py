"""`phasefold reconstruct`: rebuild a waveform from magnitudes (audio or .npz) with one method; a folder of
them into a folder (phasefold.folder_runs: the tree kept, ``--jobs`` worker processes).

``prepare`` checks the options and builds the method once; ``reconstruct_one`` runs it on one file
(engine.file_runs.reconstruct_file), for a single file here and for every file of a folder run.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import TextIO

from phasefold.commands import finite_float, path_arg, positive_int, seed_int
from phasefold.commands.mel_input import add_mel_argument, mel_config, reconstruct_mel
from phasefold.commands.options import (
    add_analysis_arguments,
    add_backend_argument,
    add_format_argument,
    add_iterations_argument,
    add_method_argument,
    add_online_arguments,
    add_stft_arguments,
    check_analysis_options,
    check_iteration_options,
    stft_settings,
)


def register(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "input",
        nargs="?",
        type=path_arg,
        help="audio (wav, flac, ogg, mp3: its phase is discarded) or a .npz magnitude file; or a folder of "
        "them (then -o names an output folder: OUT_DIR/<the same relative path>.wav)",
    )
    parser.add_argument(
        "-o",
        "--output",
        type=path_arg,
        help="output WAV file (at the input's sample rate, or --sr; its channels, or one with --mono; same "
        "length as the input; in the input's sample format: --format); for a folder input, the output folder",
    )
    add_method_argument(parser, per_config=True)
    add_iterations_argument(parser)
    add_analysis_arguments(parser)
    parser.add_argument(
        "--snr",
        type=finite_float,
        default=None,
        metavar="DB",
        help="audio input only: white noise at this SNR, then the oracle Wiener mask",
    )
    parser.add_argument(
        "--seed", type=seed_int, default=0, help="seed of the random initial phase and the noise"
    )
    parser.add_argument(
        "--init-phase-from",
        type=path_arg,
        default=None,
        metavar="AUDIO",
        help="start the method from the phase of this recording's STFT at the input's settings (the noisy "
        "mixture of a separated or enhanced signal, say) instead of a random phase; it must give as many "
        "frames as the input; offline methods only (not with --online)",
    )
    add_format_argument(parser)
    add_stft_arguments(parser)
    parser.add_argument("--list-methods", action="store_true", help="list the method names and exit")
    add_online_arguments(parser)
    add_backend_argument(parser)
    parser.add_argument(
        "--jobs",
        type=positive_int,
        default=1,
        metavar="N",
        help="folder input: N worker processes, one thread each (default 1; at most limits.MAX_JOBS, 64)",
    )
    parser.add_argument(
        "--overwrite",
        action="store_true",
        help="folder input: reconstruct the files whose output exists too (default: skip them)",
    )
    add_mel_argument(parser)
    parser.set_defaults(run=run)


def list_methods(out: TextIO | None = None) -> None:
    """Print every method name with its one-line description; the mel models last, marked "mel model" (they
    take only their preset's mel: ``--mel PRESET --method NAME``)."""
    from phasefold.engine.registry import mel_model_specs, specs

    out = out or sys.stdout
    listed = {**specs(), **mel_model_specs()}
    width = max(len(n) for n in listed)
    for name, spec in listed.items():
        where = (
            "offline and streaming"
            if spec.offline and spec.streaming
            else "offline"
            if spec.offline
            else "streaming"
        )
        if spec.mel_model:
            where = f"mel model, {where}"
        print(f"{name:<{width}}  [{where}] {spec.description}", file=out)


def _note(text: str) -> None:
    print(f"phasefold reconstruct: note: {text}", file=sys.stderr)


@dataclass
class Prepared:
    """What every file of a run shares: the options and the methods built so far, by name (``build``): the
    one named with --method, built before any file is read, or each configuration's default
    (engine.registry.default_method), built for the first file at that configuration."""

    args: argparse.Namespace
    built: dict = field(default_factory=dict)

    def build(self, name: str) -> object:
        """The method built, once per name: an offline runner, or a streamed one with --online."""
        from phasefold.commands.options import streamed_method
        from phasefold.engine.registry import lookup
        from phasefold.engine.runners import offline_runner

        if name not in self.built:
            if self.args.online:  # through the streaming engine; the output stays time-aligned with the input
                self.built[name] = streamed_method(name, self.args)
            else:
                self.built[name] = offline_runner(lookup(name), self.args.backend)
        return self.built[name]

    def name_at(self, cfg) -> str:
        """The method a file at ``cfg`` runs: --method, else the configuration's default."""
        from phasefold.engine.registry import default_method

        return self.args.method or default_method(cfg, streaming=self.args.online)


def prepare(args: argparse.Namespace) -> Prepared:
    """Check the per-file options of ``args`` (one InputError line) and build the method named, if any."""
    from phasefold.engine.errors import InputError

    check_iteration_options(args, "reconstruct")
    check_analysis_options(args)
    stft_settings(args)  # --pad-mode without --center is refused before any file is read
    if args.online and args.init_phase_from is not None:
        raise InputError(
            "--init-phase-from starts an offline method; the streamed ones (--online) do not take it"
        )
    prepared = Prepared(args)
    if args.method is not None:
        prepared.build(args.method)
    return prepared


@dataclass
class Done:
    """One file reconstructed: what ran (in words), its STFT settings and the run
    (engine.file_runs.FileRun)."""

    ran: str
    cfg: object
    run: object


def reconstruct_one(
    args: argparse.Namespace,
    prepared: Prepared,
    source: Path,
    output: Path,
    note: Callable[[str], None],
) -> Done:
    """Reconstruct ``source`` into the WAV file ``output`` with the options of ``args``; ``note`` gets each
    note as it comes (reading: resampled, downmixed; writing: clipped)."""
    from phasefold.engine.errors import InputError
    from phasefold.engine.file_runs import open_measurements, reconstruct_file
    from phasefold.engine.inputs import is_magnitude_file, sample_format
    from phasefold.engine.outputs import output_subtype
    from phasefold.engine.registry import lookup

    measured = open_measurements(
        source,
        args.hop,
        args.snr,
        args.seed,
        args.init_phase_from,
        args.n_fft,
        args.sr,
        args.mono,
        stft_settings(args),
    )
    cfg = measured.cfg
    name = prepared.name_at(cfg)
    chosen = lookup(name).at_config(cfg)  # a model made for another STFT: one line naming its own
    method = prepared.build(name)
    if args.online and measured.init is not None:
        note(f"{source.name}: its 'init_phase' is not used by a streamed method (--online)")
    subtype = output_subtype(sample_format(source), args.format)
    for text in measured.notes:
        note(f"{source.name}: {text}")
    iterations = method.iterations if args.iterations is None else args.iterations
    if iterations < 0:
        raise InputError(f"the number of iterations must be >= 0, not {iterations}")
    ran = method.describe(cfg) if args.online else f"{name}, {chosen.describe_offline(iterations)}"
    if args.method is None:
        ran += " (the default at this configuration)"
    if not args.online and (args.init_phase_from is not None or measured.init is not None):
        ran += f", from the phase of {(args.init_phase_from or source).name}"
    rate = args.sr if is_magnitude_file(source) else None  # audio is analysed at --sr already
    done = reconstruct_file(measured, output, method, iterations, args.seed, subtype, rate)
    for text in done.notes:
        note(text)
    return Done(ran, cfg, done)


def run(args: argparse.Namespace) -> int:
    from phasefold.engine.errors import InputError
    from phasefold.engine.limits import check_jobs
    from phasefold.engine.outputs import check_output_path

    if args.list_methods:
        list_methods()
        return 0
    check_jobs(args.jobs)
    mel_config(args)  # refuses a --mel-* option without --mel
    if args.mel is not None:
        return reconstruct_mel(args)
    if args.input is None:
        raise InputError("give an INPUT file (audio or .npz) and -o OUT.wav, or --list-methods")
    if args.input.is_dir():
        from phasefold.folder_runs import run_folder

        if args.init_phase_from is not None:
            raise InputError(
                "--init-phase-from is the phase of one recording: give one INPUT file, not a folder"
            )
        return run_folder(args, prepare, reconstruct_one)
    if args.output is None:
        raise InputError("give the output file with -o OUT.wav")
    # a folder is named as one; the output may be neither input
    check_output_path(args.output, "audio", inputs=(args.input, args.init_phase_from))
    if args.output.suffix.lower() != ".wav":
        raise InputError(f"the output must be a .wav file, not {args.output.name!r}")
    prepared = prepare(args)

    from phasefold.engine.evaluation import real_time_factor
    from phasefold.engine.registry import describe_stft
    from phasefold.engine.stft import SAMPLE_RATE, StftConfig

    one = reconstruct_one(args, prepared, args.input, args.output, _note)
    done, cfg = one.run, one.cfg
    rtf = real_time_factor(done.wall, done.length, cfg.sample_rate)
    own = StftConfig()  # phasefold's own STFT at 22050 Hz: only the hop is said
    plain = all(getattr(cfg, f.name) == getattr(own, f.name) for f in fields(cfg) if f.name != "hop")
    stft = f"hop {cfg.hop}" if plain else describe_stft(cfg)
    sound = f"{done.seconds:.2f} s" + (
        "" if done.sample_rate == SAMPLE_RATE else f" at {done.sample_rate} Hz"
    )
    if done.channels > 1:
        sound += f", {done.channels} channels"
    sc = f"spectral convergence {done.sc_db:.1f} dB"
    if done.channels > 1:
        sc += " (" + " / ".join(f"{v:.1f}" for v in done.channel_sc_db) + " per channel)"
    print(f"wrote {args.output} ({sound}): {one.ran}, {stft}, {done.wall:.2f} s (RTF {rtf:.3f}), {sc}")
    return 0

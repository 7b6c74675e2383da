"""The options every command declares the same way: method, iterations, look-ahead, block, step
iterations, phase start, backend, WAV format, the STFT's window and framing; and the checks that refuse one
where it does not apply.

One idea, one option: ``--iterations`` counts the iterations of an offline run over the whole signal
(reconstruct, evaluate); ``--step-iterations`` counts those of one stream step (ADMM/(F)GLA iterations per
window step, model passes, RTISI-LA iterations per frame: reconstruct and evaluate with ``--online``,
stream, bench). Each is refused with one line (InputError) where it does not apply. Defaults come from the
registry (engine.registry): the help says what they are, None means the method's own.
"""

from __future__ import annotations

import argparse

from phasefold.commands import non_negative_int, nonempty_text, positive_int

#: the options of the streaming window (flag, attribute): refused without --online where there is one
STREAM_OPTIONS = (
    ("--lookahead", "lookahead"),
    ("--block", "block"),
    ("--step-iterations", "step_iterations"),
    ("--init", "init"),
)


def add_method_argument(target, streaming: bool = False, per_config: bool = False) -> None:
    """--method / -m: a method name or an exported model file (default: the registry's; ``per_config``:
    the configuration's, engine.registry.default_method)."""
    from phasefold.engine import registry

    default = registry.DEFAULT_STREAM_METHOD if streaming else registry.DEFAULT_METHOD
    if per_config:
        default = (
            f"per configuration: {default} at 22050 Hz with n_fft 1024 and hop 256 or 512 and at 16 kHz "
            f"with 512 / 128 (with --online there: {registry.MEASURED_STREAM_DEFAULTS[(16000, 512, 128)]}); "
            f"elsewhere a learned model whose card lists the configuration, else {registry.CLASSICAL_DEFAULT}"
        )
    target.add_argument(
        "--method",
        "-m",
        type=nonempty_text,
        default=None,
        help=f"method name or exported model file NAME.onnx (default {default}); see --list-methods",
    )


def add_analysis_arguments(parser: argparse.ArgumentParser, live: bool = False) -> None:
    """--sr, --mono, --n-fft and --hop: the rate, channels and STFT audio is analysed at (engine.analysis);
    a .npz file carries its own. ``live`` (stream): the rate defaults to the engine's 22050 Hz and there is
    no --mono (a stream is one channel)."""
    group = parser.add_argument_group("analysis of audio input (a .npz file carries its own)")
    if live:
        rate = (
            "analyse and play at RATE Hz (default 22050, the shipped models' rate): a file is resampled "
            "first (soxr, HQ), the microphone opened at RATE"
        )
    else:
        rate = (
            "analyse (and write) at RATE Hz: the audio is resampled first (soxr, HQ); default the input's "
            "own rate. For a .npz file, the output is resampled to RATE"
        )
    group.add_argument("--sr", type=positive_int, default=None, metavar="RATE", help=rate)
    if not live:
        group.add_argument(
            "--mono", action="store_true", help="mix the channels down to one first (default: every channel)"
        )
    add_size_arguments(group)


def check_analysis_options(args: argparse.Namespace) -> None:
    """Refuse, with one InputError line naming the limit (engine.limits), --sr and --n-fft beyond theirs."""
    from phasefold.engine import limits

    if args.sr is not None:
        limits.check_sample_rate(args.sr, "--sr")
    if args.n_fft is not None:
        limits.check_n_fft(args.n_fft, "--n-fft")


def add_iterations_argument(target) -> None:
    """--iterations: iterations of an offline run (default: the method's own)."""
    from phasefold.engine import registry

    target.add_argument(
        "--iterations",
        type=non_negative_int,
        default=None,
        help="iterations over the whole signal (default: the method's own, "
        f"{registry.OFFLINE_ITERATIONS} for a classical method; a model runs its T layers once, and N means "
        "round(N / T) passes); streamed runs take --step-iterations",
    )


def add_step_iterations_argument(target) -> None:
    """--step-iterations: iterations of one stream step (default: the method's own)."""
    from phasefold.engine import registry

    target.add_argument(
        "--step-iterations",
        type=positive_int,
        default=None,
        help=f"iterations per window step (ADMM/(F)GLA, default {registry.STEP_ITERATIONS}), model passes "
        "per step (default: the card's streaming.passes, else 1), RTISI-LA iterations per frame (default: "
        f"as many STFT projections per frame as a {registry.STEP_ITERATIONS}-iteration window step); RTPGHI "
        "is not iterative",
    )


def add_lookahead_block_arguments(target, many: bool = False) -> None:
    """--lookahead / -L and --block / -B (``many``: comma-separated lists, as bench sweeps them)."""
    from phasefold.commands import int_list
    from phasefold.engine import registry

    own = "a stream-trained model's own, else"
    target.add_argument(
        "--lookahead",
        "-L",
        type=int_list(0) if many else non_negative_int,
        default=None,
        help=f"look-ahead{'s' if many else ''} L in frames (default: {own} {registry.DEFAULT_LOOKAHEAD})",
    )
    target.add_argument(
        "--block",
        "-B",
        type=int_list(1) if many else positive_int,
        default=None,
        help=f"block size B in frames (default: {own} {registry.DEFAULT_BLOCK})",
    )


def add_init_argument(target) -> None:
    """--init: the phase start of new frames for window methods."""
    from phasefold.engine.streaming.window import INITS

    target.add_argument(
        "--init",
        choices=INITS,
        default=None,
        help=f"phase start of new frames for window methods (default {INITS[0]})",
    )


def add_stream_arguments(target) -> None:
    """--lookahead, --block, --step-iterations and --init: the settings of a streaming window."""
    add_lookahead_block_arguments(target)
    add_step_iterations_argument(target)
    add_init_argument(target)


def add_online_arguments(parser: argparse.ArgumentParser) -> None:
    """--online and the streaming window's settings, for the offline commands (reconstruct, evaluate)."""
    group = parser.add_argument_group("streaming (--online)")
    group.add_argument(
        "--online",
        action="store_true",
        help="run the method through the streaming engine (frame by frame, fixed latency)",
    )
    add_stream_arguments(group)


def add_backend_argument(parser: argparse.ArgumentParser) -> None:
    """--backend: which implementation runs the methods (engine.backends)."""
    parser.add_argument(
        "--backend",
        choices=("auto", "compiled", "onnxruntime", "numpy"),
        default="auto",
        help="auto (default): the compiled kernels where available, else the reference; compiled: insist on "
        "them; onnxruntime / numpy: the reference (models run their ONNX graph, classical methods numpy)",
    )


def add_format_argument(target, what: str = "WAV sample format") -> None:
    """--format: the sample format of the WAV files a command writes (engine.outputs.SUBTYPES; default:
    the input's, engine.outputs.output_subtype)."""
    from phasefold.engine.outputs import DEFAULT_SUBTYPE, SUBTYPES

    target.add_argument(
        "--format",
        choices=SUBTYPES,
        default=None,
        help=f"{what} (default: the input's: FLOAT for float audio, ogg, mp3 and .npz files, PCM_24 / "
        f"PCM_32 for 24 / 32-bit integers, else {DEFAULT_SUBTYPE})",
    )


def refuse_offline_iterations(target) -> None:
    """--iterations declared only to be refused with one line where the count is per stream step."""
    target.add_argument("--iterations", type=non_negative_int, default=None, help=argparse.SUPPRESS)


def check_iteration_options(args: argparse.Namespace, command: str) -> None:
    """Refuse, with one InputError line, an option that does not apply: --iterations where a stream runs
    (give --step-iterations), the streaming window's settings without --online (where there is one)."""
    from phasefold.engine.errors import InputError

    streamed = getattr(args, "online", True)
    if streamed and getattr(args, "iterations", None) is not None:
        where = "with --online the" if hasattr(args, "online") else f"{command} streams: its"
        raise InputError(
            f"{where} iteration count is per stream step: give --step-iterations "
            f"{args.iterations} (--iterations counts iterations over the whole signal, offline)"
        )
    check_limits(args)
    if not streamed:
        for flag, attr in STREAM_OPTIONS:
            if getattr(args, attr, None) is not None:
                raise InputError(
                    f"{flag} applies to streamed runs only: add --online"
                    + (" (offline, the count is --iterations)" if attr == "step_iterations" else "")
                )


def check_limits(args: argparse.Namespace) -> None:
    """Refuse, with one InputError line naming the limit (engine.limits), an iteration count, look-ahead or
    block above its documented limit, before any input is read (the engine checks them again)."""
    from phasefold.engine import limits

    checks = (
        ("iterations", "--iterations", limits.check_iterations),
        ("step_iterations", "--step-iterations", limits.check_step_iterations),
        ("lookahead", "--lookahead", limits.check_lookahead),
        ("block", "--block", limits.check_block),
    )
    for attr, flag, check in checks:
        value = getattr(args, attr, None)
        for one in value if isinstance(value, list) else () if value is None else (value,):
            check(one, flag)


def add_rate_arguments(parser: argparse.ArgumentParser, what: str) -> None:
    """--sr (also spelt --sample-rate), --n-fft and --hop of the STFT ``what`` (train, train-stream,
    evaluate): a fixed rate, default the engine's 22050 Hz, and n_fft and hop by rate as reconstruct's
    (``rate_stft``, engine.analysis.analysis_config)."""
    group = parser.add_argument_group(f"STFT {what}")
    group.add_argument(
        "--sr",
        "--sample-rate",
        dest="sr",
        type=positive_int,
        default=None,
        metavar="RATE",
        help=f"sample rate {what} (audio at another rate is resampled first, soxr HQ; default 22050)",
    )
    add_size_arguments(group)


def add_size_arguments(group) -> None:
    """--n-fft and --hop, their defaults by rate (engine.analysis.analysis_config), for every command."""
    group.add_argument(
        "--n-fft",
        type=positive_int,
        default=None,
        metavar="N",
        help="FFT size: default the largest power of two no longer than 46.4 ms (1024 samples at 22050 Hz "
        "and 24 kHz, 512 at 16 kHz, 2048 at 44.1 and 48 kHz)",
    )
    group.add_argument(
        "--hop",
        type=positive_int,
        default=None,
        metavar="H",
        help="STFT hop: default n_fft / 4 (256 at 22050 Hz, 128 at 16 kHz); with phasefold's own framing a "
        "divisor of n_fft, at most n_fft / 2; with --center / --no-center any hop up to the window length",
    )


def rate_stft(args: argparse.Namespace, settings: dict | None = None):
    """The StftConfig of ``add_rate_arguments``' --sr, --n-fft and --hop (and ``settings``, StftConfig's
    other keywords): engine.analysis.analysis_config at --sr or 22050 Hz; InputError naming the options the
    STFT cannot use."""
    from phasefold.engine.analysis import analysis_config
    from phasefold.engine.stft import SAMPLE_RATE

    check_analysis_options(args)
    return analysis_config(args.sr or SAMPLE_RATE, args.n_fft, args.hop, settings)


def streamed_method(name: str, args: argparse.Namespace, iterate_all: bool = True):
    """An engine.streaming.offline.StreamedMethod running ``name`` with the --online settings of ``args``.

    ``iterate_all`` False: --step-iterations applies to the methods that iterate and RTPGHI (not
    iterative) runs as it is, for a list of methods (evaluate); True: RTPGHI refuses it (one method)."""
    from phasefold.engine.streaming.offline import StreamedMethod
    from phasefold.engine.streaming.steps import stream_spec
    from phasefold.engine.streaming.window import INITS

    spec = stream_spec(name)
    iterations = None if not iterate_all and spec.family == "rtpghi" else args.step_iterations
    return StreamedMethod.build(
        spec,
        args.lookahead,
        args.block,
        iterations,
        init=args.init or INITS[0],
        backend=getattr(args, "backend", "auto"),
    )


#: the STFT settings of audio input given by ``add_stft_arguments`` (engine.stft.StftConfig's keywords)
STFT_SETTINGS = ("window", "win_length", "center", "pad_mode", "convention")


def add_stft_arguments(target) -> None:
    """The STFT of audio input besides its size, hop and rate: --window, --win-length, --center /
    --no-center, --pad-mode, --convention (engine.stft.StftConfig); left out: phasefold's own (a tight
    sqrt-Hann frame, N - H zeros in front). A .npz file carries its own."""
    from phasefold.engine.stft import CONVENTIONS, PAD_MODES, WINDOWS

    group = target.add_argument_group(
        "STFT of audio input (default: phasefold's tight sqrt-Hann frame; a .npz file carries its own)"
    )
    group.add_argument(
        "--window",
        choices=WINDOWS,
        default=None,
        help="analysis window (periodic, as scipy and librosa make them; default sqrt-hann)",
    )
    group.add_argument(
        "--win-length",
        type=positive_int,
        default=None,
        metavar="N",
        help="window length, centred in the frame with zeros around it (default: n_fft)",
    )
    group.add_argument(
        "--center",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="frames centred at n H with n_fft // 2 samples of --pad-mode in front, as librosa and torch "
        "(--center), or starting at n H with no padding (--no-center); default: phasefold's own framing "
        "(n_fft - hop zeros in front, a hop dividing n_fft)",
    )
    group.add_argument(
        "--pad-mode",
        choices=PAD_MODES,
        default=None,
        help="how --center pads the signal's ends (default constant: zeros)",
    )
    group.add_argument(
        "--convention",
        choices=CONVENTIONS,
        default=None,
        help="the magnitudes' scale: tight (default: orthonormal, a tight frame), librosa (librosa.stft and "
        "torch.stft: the window as it is, unnormalised DFT) or torch (torch.stft(normalized=True))",
    )


def stft_settings(args: argparse.Namespace) -> dict:
    """The STFT settings given by ``add_stft_arguments`` as StftConfig keywords (those left out are not
    there); InputError for --pad-mode without --center (it pads centred frames only)."""
    from phasefold.engine.errors import InputError

    given = {k: getattr(args, k) for k in STFT_SETTINGS if getattr(args, k, None) is not None}
    if "pad_mode" in given and given.get("center") is not True:
        raise InputError(f"--pad-mode {given['pad_mode']} pads centred frames: add --center")
    return given

"""`phasefold stream`: run the streaming engine from a file, a magnitude file, a mel spectrogram (--mel) or
the microphone."""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

from phasefold.commands import finite_float, nonempty_text, path_arg, positive_float
from phasefold.commands.mel_input import add_mel_argument, mel_config, mel_words, refuse_linear_stft
from phasefold.commands.options import (
    add_analysis_arguments,
    add_backend_argument,
    add_format_argument,
    add_method_argument,
    add_stft_arguments,
    add_stream_arguments,
    check_analysis_options,
    check_iteration_options,
    refuse_offline_iterations,
    stft_settings,
)


def register(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--input",
        "-i",
        type=nonempty_text,
        help="audio file, .npz magnitude file, or 'mic'; with --mel: a .npy mel array or an audio file",
    )
    parser.add_argument(
        "--output",
        "-o",
        type=nonempty_text,
        default="default",
        help="'default' (sound card), a device name/index, FILE.wav, or 'null' (default: default); "
        "FILE.wav holds the played signal: input sample s at sample s + the printed latency, where a "
        "listener hears it (`reconstruct --online` writes the time-aligned signal)",
    )
    what = parser.add_mutually_exclusive_group()
    add_method_argument(what, streaming=True)
    what.add_argument("--model", type=path_arg, help="an exported model (.onnx with its .json card)")
    add_stream_arguments(parser)
    add_analysis_arguments(parser, live=True)
    refuse_offline_iterations(parser)
    parser.add_argument(
        "--realtime",
        action="store_true",
        help="release frames at real-time pace (files; live output is paced by the device)",
    )
    parser.add_argument(
        "--snr", type=finite_float, default=None, help="modify the magnitudes: white noise at this SNR (dB)"
    )
    parser.add_argument(
        "--seconds", type=positive_float, default=None, help="stop the microphone after this many seconds"
    )
    parser.add_argument(
        "--record",
        type=path_arg,
        default=None,
        help="also write what a live output plays to this WAV (and fall back to it without a device)",
    )
    parser.add_argument(
        "--score", action="store_true", help="score the output against the input (files only)"
    )
    parser.add_argument(
        "--list-methods",
        action="store_true",
        help="list the streaming methods and exit (with --mel PRESET: those that take that mel)",
    )
    add_format_argument(parser, "sample format of the WAV files written (-o FILE.wav, --record)")
    add_stft_arguments(parser)
    add_backend_argument(parser)
    add_mel_argument(parser, streamed=True)
    parser.set_defaults(run=run)


def _source(args, cfg, settings: dict):
    """The source of ``args.input``: audio measured at ``cfg`` (``settings``: the STFT options given, which
    a .npz file's own STFT must agree with)."""
    from phasefold.engine.errors import InputError
    from phasefold.engine.inputs import (
        check_audible,
        check_file_settings,
        check_modifiable,
        is_magnitude_file,
    )
    from phasefold.engine.streaming import AudioFileSource, MicSource, NpzSource

    if args.input is None:
        raise InputError("--input is required (an audio file, a .npz magnitude file or 'mic')")
    if args.input == "mic":
        if args.snr is not None:
            raise InputError("--snr needs a clean file input, not the microphone")
        return MicSource(cfg, max_seconds=args.seconds)
    path = Path(args.input)
    check_modifiable(path, args.snr)
    if is_magnitude_file(path):
        source = NpzSource(path, realtime=args.realtime)
        check_file_settings(path, source.cfg, {"hop": args.hop, "n_fft": args.n_fft, **settings})
        return source
    source = AudioFileSource(path, cfg, realtime=args.realtime, snr_db=args.snr)
    check_audible(path, source.reference)
    return source


def _mel_stream(args, mel):
    """(the source of ``args.input`` read as the mel ``mel`` (engine.mel_inputs.read_mel), the mel stream
    of --method or --model (a mel method: engine.registry.mel_spec) or the mel stream default, its
    description)."""
    from phasefold.commands.mel_online import open_mel_stream
    from phasefold.engine.errors import InputError
    from phasefold.engine.mel_inputs import read_mel
    from phasefold.engine.registry import mel_spec, mel_stream_default
    from phasefold.engine.streaming import MelSource

    if args.snr is not None:
        raise InputError("--snr does not apply to a mel input (--mel): the mel is the measurement")
    refuse_linear_stft(args)
    if args.input is None:
        raise InputError("--input is required (with --mel: a .npy mel array or an audio file)")
    if args.input == "mic":
        raise InputError(
            "--mel streams a .npy mel array or the mel of an audio file, not the microphone (the preset's "
            "mel of live audio is not computed frame by frame)"
        )
    named = args.model if args.model is not None else args.method
    spec = mel_spec(mel_stream_default(mel.stft)[0] if named is None else named, mel, stream=True)
    path = Path(args.input)
    read = read_mel(path, mel)
    source = MelSource(read.mel, mel, realtime=args.realtime, reference=read.audio, name=path.name)
    source.notes, source.sample_format = read.notes, read.sample_format
    stream = open_mel_stream(args, spec, mel)
    default = " (the mel stream's default)" if named is None else ""
    return source, stream, f"{stream.describe()}{default}, from {mel_words(args)}"


def _magnitude_stream(args, settings: dict):
    """(the source of ``args.input`` (magnitudes), the stream of --method, --model or the default at its
    configuration, its description)."""
    from phasefold.engine.analysis import analysis_config
    from phasefold.engine.stft import SAMPLE_RATE
    from phasefold.engine.streaming import Stream, make_processor
    from phasefold.engine.streaming.steps import stream_spec
    from phasefold.engine.streaming.window import INITS

    source = _source(args, analysis_config(args.sr or SAMPLE_RATE, args.n_fft, args.hop, settings), settings)
    spec = stream_spec(args.model if args.model is not None else (args.method or _default(source.cfg)))
    if args.model is None:  # a model named, made for another STFT: one line naming its configurations
        spec.at_config(source.cfg)  # (a --model file is loaded first: its card's own errors come first)
    stream = Stream(
        make_processor(
            spec,
            source.cfg,
            args.lookahead,
            args.block,
            iterations=args.step_iterations,
            init=args.init or INITS[0],
            backend=args.backend,
        )
    )
    n_iter = spec.step_iterations_at(stream.cfg, stream.lookahead, stream.block, args.step_iterations)
    return source, stream, f"{stream.describe()}; {spec.describe_step(n_iter)}"


def _default(cfg) -> str:
    """The stream's method where none is named: DEFAULT_STREAM_METHOD where it runs at ``cfg``, else the
    configuration's default stream method (engine.registry.default_method)."""
    from phasefold.engine.registry import DEFAULT_STREAM_METHOD, default_method, lookup

    if lookup(DEFAULT_STREAM_METHOD).runs_at(cfg):
        return DEFAULT_STREAM_METHOD
    return default_method(cfg, streaming=True)


def _check_record(args: argparse.Namespace) -> None:
    """--record: a .wav file, and only where the output is a sound card (a file output holds the audio
    already; the null output plays nothing), so that it is never silently left unwritten."""
    from phasefold.engine.errors import InputError
    from phasefold.engine.outputs import check_output_path
    from phasefold.engine.streaming.sinks import names_file

    if args.record is None:
        return
    check_output_path(args.record, "recording", inputs=(args.input,))
    if args.record.suffix.lower() != ".wav":
        raise InputError(f"--record {args.record}: the recording must be a .wav file")
    if args.output == "null" or names_file(args.output):
        raise InputError(
            f"--record records what a sound card plays; -o {args.output} is not a sound card "
            "(a file output holds the audio already)"
        )


def _status(stats: dict, end: str = "\r") -> None:
    print(
        f"  {stats['audio_s']:7.2f} s in  RTF {stats['rtf']:.3f} ({stats['ms_per_frame']:.2f} ms/frame)  "
        f"latency {stats['latency_ms']:.1f} ms  under-runs {stats['underruns']}   ",
        end=end,
        file=sys.stderr,
        flush=True,
    )


def run(args: argparse.Namespace) -> int:
    import numpy as np
    from phasefold.engine.errors import InputError
    from phasefold.engine.evaluation import one_thread
    from phasefold.engine.outputs import check_output_path, output_subtype
    from phasefold.engine.registry import mel_method_names
    from phasefold.engine.streaming import Player, method_names, open_sink
    from phasefold.exit_signals import calling_on_signals

    mel = mel_config(args)  # refuses a --mel-* option without --mel
    if args.list_methods:
        for name in method_names() if mel is None else mel_method_names(mel, stream=True):
            print(name)
        return 0
    check_iteration_options(args, "stream")
    _check_record(args)
    if args.seconds is not None and args.input != "mic":
        raise InputError("--seconds stops the microphone (--input mic); a file streams to its end")
    check_analysis_options(args)
    settings = stft_settings(args)
    # a mel is read and computed outside one_thread, as `reconstruct --mel` computes it: the mel filters'
    # product, threaded or not, is the same bit for bit there and here
    opened = None if mel is None else _mel_stream(args, mel)
    with one_thread():
        source, stream, how = _magnitude_stream(args, settings) if opened is None else opened
        source.check()
        for note in source.notes:
            print(f"note: {note}", file=sys.stderr)
        if args.record is not None:
            check_output_path(args.record, "recording", inputs=(args.input,))
        subtype = output_subtype(source.sample_format, args.format)
        sink, notes = open_sink(
            args.output, stream.cfg.sample_rate, fallback=args.record, inputs=(args.input,), subtype=subtype
        )
        for note in notes:
            print(f"note: {note}", file=sys.stderr)
        temp_record = None
        try:  # until the player runs: an error or a signal drops the files opened
            record = args.record
            if sink.live and record is None:
                fd, name = tempfile.mkstemp(prefix="phasefold-live-", suffix=".wav")
                os.close(fd)
                record = temp_record = Path(name)
            produced: list[np.ndarray] = []
            print(f"phasefold stream: {source.name} -> {sink.describe()}", file=sys.stderr)
            print(f"  {how}", file=sys.stderr)
            player = Player(
                source,
                stream,
                sink,
                record_path=record if sink.live else None,
                record_subtype=subtype,
                on_samples=produced.append if args.score else None,
                on_stats=_status,
                stats_interval=0.5,
            )
            # Ctrl-C, SIGTERM and SIGHUP end the stream cleanly (flushed, files complete), with the summary
            with calling_on_signals(lambda signum: player.stop()):
                summary = player.run()
        except BaseException:
            sink.discard()
            if temp_record is not None:
                temp_record.unlink(missing_ok=True)
            raise
    _status(summary, end="\n")
    print(
        f"done: {summary['frames_in']} frames in, {summary['samples_out']} samples out, "
        f"{summary['audio_s']:.2f} s of audio, compute {summary['compute_s']:.2f} s "
        f"(RTF {summary['rtf']:.3f}), "
        f"latency {summary['latency_samples']} samples = {summary['latency_ms']:.1f} ms, "
        f"under-runs {summary['underruns']}, wall {summary['wall_s']:.2f} s"
    )
    if player.error is not None and player.recorder is not None:
        raise type(player.error)(f"{player.error}; the audio played so far is in {record}")
    if temp_record is not None:
        temp_record.unlink(missing_ok=True)
    if player.error is not None:
        raise player.error
    for out in (sink, player.recorder if temp_record is None else None):
        if getattr(out, "path", None) is not None:  # a file: the played signal
            print(
                f"{out.path}: input sample s at sample s + {summary['latency_samples']} (the latency), "
                f"after {player.file_lead} samples of silence"
            )
        if out is not None and out.clipped:
            print(f"note: clipped {out.clipped} samples to [-1, 1] in {out.path}", file=sys.stderr)
    if args.score:
        _score(source, stream, np.concatenate(produced) if produced else np.zeros(0))
    return 0


def _score(source, stream, out) -> None:
    """The scores of the stream's output ``out`` against the source's reference: cut at the stream's offset
    (a mel stream's as `reconstruct --mel --online` cuts it); SC against the source's measurements, or a mel
    source's against the reference's magnitudes at the mel's STFT (as `evaluate --mel` scores)."""
    from phasefold.engine.evaluation import evaluate_signal

    if source.reference is None:
        print("score: the input holds no reference audio", file=sys.stderr)
        return
    from phasefold.engine.streaming.offline import mel_signal, offline_signal

    if stream.mel is None:
        y, r = offline_signal(stream, out, source.reference.size), source.frames
    else:
        y, r = mel_signal(stream, out, source.reference.size), None
    scores = evaluate_signal(source.reference, y, stream.cfg, r=r)
    print("score: " + "  ".join(f"{k} {v:.3f}" for k, v in scores.items()))

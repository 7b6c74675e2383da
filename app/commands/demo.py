"""`phasefold demo`: the built-in demo in the GUI where a display exists, else streamed with a summary."""

from __future__ import annotations

import argparse
import sys


def register(parser: argparse.ArgumentParser) -> None:
    from phasefold.commands.gui import add_window_arguments

    add_window_arguments(parser)
    parser.add_argument(
        "--no-gui",
        action="store_true",
        help="stream without a window (the default where no display exists) and print a summary",
    )
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from phasefold.commands.gui import check_window_files
    from phasefold.engine.errors import InputError
    from phasefold.engine.streaming.sinks import names_file
    from phasefold.extras import has_extra, needs_line
    from phasefold.gui.app import LaunchOptions, check_options, has_display, launch

    to_file = args.output is not None and names_file(args.output)  # the window plays to a device only
    windowed = not args.no_gui and not to_file and has_display()
    if windowed and not has_extra("gui"):
        print(needs_line("phasefold demo: streaming without the window, which", "gui"), file=sys.stderr)
        windowed = False
    opts = LaunchOptions(
        method=args.method,
        lookahead=args.lookahead,
        block=args.block,
        output=args.output,
        snr=args.snr,
        play=True,
        quit_after=args.quit_after,
        screenshot=args.screenshot,
        backend=args.backend,
    )
    check_options(opts)
    if windowed:
        check_window_files(args.output, args.screenshot, args.quit_after)
        return launch(opts)
    if args.screenshot is not None:
        raise InputError("--screenshot needs the window (a display, no --no-gui, no file as --output)")
    if to_file and not args.no_gui:
        print("phasefold demo: the output is a file: streaming without the window", file=sys.stderr)
    elif not args.no_gui and not has_display():
        print("phasefold demo: no display found: streaming without the window", file=sys.stderr)
    return headless(opts)


def headless(opts) -> int:
    """Stream the demo through the engine to the chosen sink and print latency, RTF and scores."""
    import numpy as np
    from phasefold.engine.evaluation import evaluate_signal
    from phasefold.engine.registry import default_stream_method
    from phasefold.engine.stft import StftConfig
    from phasefold.engine.streaming import Player, Stream, aligned, method_names, open_sink
    from phasefold.extras import has_extra, needs_line
    from phasefold.gui.sources import SOURCE_DEMO, prepare_source

    cfg = StftConfig()
    method = opts.method or default_stream_method(method_names())
    source = prepare_source(SOURCE_DEMO, cfg, snr_db=opts.snr)
    stream = Stream.open(method, cfg, lookahead=opts.lookahead, block=opts.block, backend=opts.backend)
    sink, notes = open_sink(opts.output or "null", cfg.sample_rate)
    source.realtime = sink.live
    for note in [*source.notes, *notes]:
        print(f"note: {note}", file=sys.stderr)
    print(f"phasefold demo: {source.name} ({source.length / cfg.sample_rate:.1f} s) -> {sink.describe()}")
    print(f"  {stream.describe()}")
    produced: list[np.ndarray] = []
    summary = Player(source, stream, sink, on_samples=produced.append).run()
    if summary["error"]:
        print(f"phasefold demo: stopped: {summary['error']}", file=sys.stderr)
        return 1
    y = aligned(stream, np.concatenate(produced), source.length)
    print(
        f"  RTF {summary['rtf']:.3f} ({summary['ms_per_frame']:.2f} ms/frame), latency "
        f"{summary['latency_ms']:.1f} ms, under-runs {summary['underruns']}"
    )
    if has_extra("eval"):
        scores = evaluate_signal(source.reference, y, cfg, r=source.frames)
        print("  scores vs the demo signal: " + "  ".join(f"{k} {v:.3f}" for k, v in scores.items()))
    else:
        print(f"  {needs_line('scoring against the demo signal', 'eval')}")
    if getattr(sink, "path", None) is not None:
        print(
            f"  wrote {sink.path}: the output as it would play, "
            f"{stream.output_offset} samples of delay in front"
        )
    elif not sink.live:
        print("  (no audio played: use --output default where a sound card exists, or `phasefold gui`)")
    return 0

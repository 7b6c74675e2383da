"""`phasefold gui`: the desktop application (live spectrograms, learned divergences, live STOI)."""

from __future__ import annotations

import argparse
from pathlib import Path

from phasefold.commands import finite_float, nonempty_text, path_arg, positive_float
from phasefold.commands.options import (
    add_backend_argument,
    add_lookahead_block_arguments,
    add_method_argument,
)


def add_window_arguments(parser: argparse.ArgumentParser) -> None:
    """Options shared by `phasefold gui` and `phasefold demo`."""
    add_method_argument(parser, streaming=True)
    add_lookahead_block_arguments(parser)
    parser.add_argument(
        "--output",
        "-o",
        type=nonempty_text,
        default=None,
        help="audio output: 'default', a device index, or 'null' (default: the first one listed)",
    )
    parser.add_argument(
        "--snr", type=finite_float, default=None, help="modify the magnitudes: input SNR in dB"
    )
    parser.add_argument(
        "--quit-after",
        type=positive_float,
        default=None,
        metavar="SECONDS",
        help="close the window after this many seconds of streamed signal (with --play: counted by the "
        "stream, not the clock, and at the latest when the stream ends; without: wall time); scripted "
        "runs, prints the seconds streamed and the GUI frame interval",
    )
    parser.add_argument(
        "--screenshot", type=path_arg, default=None, help="with --quit-after: save a PNG of the window first"
    )
    add_backend_argument(parser)


def check_window_files(output: str | None, screenshot: Path | None, quit_after: float | None) -> None:
    """Refuse up front what the window would silently not write: a file as --output (the window plays to
    a sound card) and a --screenshot without --quit-after or where it cannot be written."""
    from phasefold.engine.errors import InputError
    from phasefold.engine.outputs import check_output_path
    from phasefold.engine.streaming.sinks import names_file

    if output is not None and names_file(output):
        raise InputError(
            f"{output}: the window plays to a sound card ('default', a device index or 'null'), not a file; "
            "`phasefold stream -o FILE.wav` writes one"
        )
    if screenshot is not None:
        if quit_after is None:
            raise InputError("--screenshot needs --quit-after SECONDS (it is taken as the window closes)")
        check_output_path(screenshot, "screenshot")  # a folder is named as one
        if screenshot.suffix.lower() != ".png":
            raise InputError(f"--screenshot {screenshot}: the screenshot is a PNG image: give NAME.png")


def register(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--input",
        "-i",
        type=path_arg,
        default=None,
        help="audio file or .npz magnitude file to open as the source",
    )
    parser.add_argument("--play", action="store_true", help="start streaming at once")
    add_window_arguments(parser)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from phasefold.gui.app import LaunchOptions, launch

    check_window_files(args.output, args.screenshot, args.quit_after)
    return launch(
        LaunchOptions(
            input=args.input,
            method=args.method,
            lookahead=args.lookahead,
            block=args.block,
            output=args.output,
            snr=args.snr,
            play=args.play,
            quit_after=args.quit_after,
            screenshot=args.screenshot,
            backend=args.backend,
        )
    )

"""`phasefold reconstruct mel.npy|speech.wav --mel PRESET --online`: the mel fed to the streaming engine frame
by frame, as a live source would feed it (``Stream.open(method, mel=PRESET)``: engine.streaming.mel), the
output cut at the stream's offset so that it is time-aligned with the mel's signal
(engine.streaming.offline.mel_signal). ``phasefold stream --mel PRESET`` plays the same stream to a sink.

The method is --method (gla, fgla, admm-<loss>) or the measured mel stream default
(engine.registry.mel_stream_default), with --lookahead, --block, --step-iterations, --init and --backend as
for any stream.
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np

#: the options of `reconstruct` a mel input takes with --online (the streaming window's)
ONLINE_OPTIONS = ("online", "method", "lookahead", "block", "step_iterations", "init", "backend")


def open_mel_stream(args: argparse.Namespace, method, mel, seed: int = 0):
    """``Stream.open(method, mel=mel)`` with the CLI's window options (--lookahead, --block,
    --step-iterations, --init, --backend): the mel stream of `reconstruct --online` and `stream --mel`."""
    from phasefold.engine.streaming import Stream
    from phasefold.engine.streaming.window import INITS

    return Stream.open(
        method,
        mel=mel,
        lookahead=args.lookahead,
        block=args.block,
        iterations=args.step_iterations,
        init=args.init or INITS[0],
        seed=seed,
        backend=args.backend,
    )


def stream_mel(args: argparse.Namespace, mel: np.ndarray, cfg, length: int | None) -> tuple[np.ndarray, str]:
    """(the ``length`` samples (default: the mel's own) streamed from ``mel`` in the layout and log scale
    of the mel configuration ``cfg``, the stream's description)."""
    import numpy as np
    from phasefold.engine.errors import InputError
    from phasefold.engine.registry import mel_stream_default
    from phasefold.engine.streaming.offline import mel_signal

    if args.iterations is not None:
        raise InputError("--iterations is the offline count; with --online give --step-iterations (per step)")
    stream = open_mel_stream(args, args.method or mel_stream_default(cfg.stft)[0], cfg, args.seed)
    frames = mel if cfg.bands_last else np.swapaxes(mel, 0, 1)
    out = np.concatenate([stream.push(frame) for frame in frames] + [stream.flush()])
    y = mel_signal(stream, out, length)
    default = " (the mel stream's default)" if args.method is None else ""
    return y, f"{stream.describe()}{default}"

"""A whole spectrogram through the streaming engine, with output time-aligned to the input."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from phasefold.engine.errors import InputError
from phasefold.engine.runners import Method
from phasefold.engine.stft import StftConfig
from phasefold.engine.streaming.core import Stream
from phasefold.engine.streaming.steps import default_settings, make_processor


def run_stream(stream: Stream, mag: np.ndarray, length: int) -> np.ndarray:
    """Push every frame, flush, and cut the ``length`` samples aligned with the offline signal."""
    cfg = stream.cfg
    out = np.concatenate([stream.push(mag), stream.flush()])
    start = cfg.pad + stream.delay_samples
    if out.size < start + length:
        raise InputError(f"{mag.shape[0]} frames at hop {cfg.hop} cannot hold a signal of {length} samples")
    return out[start : start + length].astype(np.float64)


def reconstruct_online(
    method_or_model: str | Path,
    mag: np.ndarray,
    cfg: StftConfig,
    length: int,
    lookahead: int = 3,
    block: int = 1,
    iterations: int | None = None,
    init: str = "advance",
    seed: int = 0,
    backend: str = "auto",
) -> np.ndarray:
    """Rebuild ``length`` samples from measurements [F, K] frame by frame, as a live stream would.

    Sample s of the result is offline sample s (the engine's L H delay and the P padding removed).
    """
    mag = np.asarray(mag, dtype=np.float64)
    if mag.ndim != 2 or mag.shape[1] != cfg.n_bins:
        raise InputError(f"magnitudes must be [frames, {cfg.n_bins}], not {list(mag.shape)}")
    if length <= 0 or cfg.n_frames(length) != mag.shape[0]:
        raise InputError(f"{mag.shape[0]} frames at hop {cfg.hop} cannot hold a signal of {length} samples")
    stream = Stream(
        make_processor(
            method_or_model,
            cfg,
            lookahead,
            block,
            iterations=iterations,
            init=init,
            seed=seed,
            backend=backend,
        )
    )
    return run_stream(stream, mag, length)


def streamed_method(
    name: str | Path,
    lookahead: int | None = None,
    block: int | None = None,
    iterations: int | None = None,
    init: str = "advance",
    backend: str = "auto",
) -> Method:
    """An offline engine.runners.Method running ``name`` through the streaming engine (``reconstruct_online``:
    output aligned with the input): L and B default to a stream-trained model's own, else (3, 1);
    ``iterations`` per window step (ignored by RTPGHI, which does not iterate). The processor is built once
    here, so that unknown names and bad settings fail before any file is read."""
    iterations = None if str(name).startswith("rtpghi") else iterations
    lookahead, block = default_settings(name, lookahead, block)
    make_processor(name, None, lookahead, block, iterations=iterations, init=init, backend=backend)

    def run(mag: np.ndarray, cfg: StftConfig, n_iter: int, seed: int, length: int) -> np.ndarray:
        return reconstruct_online(
            name, mag, cfg, length, lookahead, block, iterations, init, seed, backend=backend
        )

    return Method(f"{name} streamed (look-ahead {lookahead}, block {block})", run)

"""A whole spectrogram through the streaming engine, with output time-aligned to the input: the one place
that cuts a stream's output to the offline signal (``aligned``, from Stream.output_offset)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from phasefold.engine.errors import InputError
from phasefold.engine.registry import MethodSpec
from phasefold.engine.stft import StftConfig, signal_slice
from phasefold.engine.streaming.core import Stream
from phasefold.engine.streaming.steps import make_processor, stream_spec


def aligned(stream: Stream, out: np.ndarray, length: int) -> np.ndarray:
    """The ``length`` samples of a stream's output ``out`` (everything it returned from its first push)
    that match the offline signal: out[output_offset : output_offset + length] (Stream.output_offset);
    fewer where the output is shorter."""
    start = stream.output_offset
    return out[start : start + length]


def offline_signal(stream: Stream, out: np.ndarray, length: int) -> np.ndarray:
    """The ``length`` samples of the offline signal in a stream's whole output ``out`` (``aligned``), float64,
    zeros on a tail that no frame covers (as offline: frames not centred stop at the last whole frame);
    InputError where the output is shorter than the frames cover."""
    cfg = stream.cfg
    covered = signal_slice(length, cfg)
    y = aligned(stream, out, covered.stop - covered.start)
    if y.size < covered.stop - covered.start:
        frames = stream.stats.frames_in
        raise InputError(f"{frames} frames at hop {cfg.hop} cannot hold a signal of {length} samples")
    full = np.zeros(length)
    full[: y.size] = y
    return full


def mel_signal(stream: Stream, out: np.ndarray, length: int | None = None) -> np.ndarray:
    """The ``length`` samples (None: the mel's own signal, engine.mel.MelConfig.n_samples of the frames
    pushed) of a mel stream's whole output ``out`` aligned with the mel's signal (``aligned``), float64,
    zeros where the output is shorter."""
    n = stream.mel.n_samples(stream.stats.frames_in) if length is None else length
    y = np.zeros(n)
    got = aligned(stream, out, n)
    y[: got.size] = got
    return y


def run_stream(stream: Stream, mag: np.ndarray, length: int) -> np.ndarray:
    """Push every frame, flush, and cut the ``length`` samples aligned with the offline signal
    (``offline_signal``)."""
    return offline_signal(stream, np.concatenate([stream.push(mag), stream.flush(length)]), length)


def reconstruct_online(
    method_or_model: str | Path | MethodSpec,
    mag: np.ndarray,
    cfg: StftConfig,
    length: int,
    lookahead: int | None = None,
    block: int | None = None,
    iterations: int | None = None,
    init: str = "advance",
    seed: int = 0,
    backend: str = "auto",
) -> np.ndarray:
    """Rebuild ``length`` samples from measurements [F, K] frame by frame, as a live stream would.

    Sample s of the result is offline sample s (Stream.output_offset removed). ``lookahead`` / ``block``
    None: the method's own (engine.streaming.steps.make_processor).
    """
    mag = np.asarray(mag, dtype=np.float64)
    if mag.ndim != 2 or mag.shape[1] != cfg.n_bins:
        raise InputError(f"magnitudes must be [frames, {cfg.n_bins}], not {list(mag.shape)}")
    if length <= 0 or cfg.n_frames(length) != mag.shape[0]:
        raise InputError(f"{mag.shape[0]} frames at hop {cfg.hop} cannot hold a signal of {length} samples")
    stream = open_stream(method_or_model, cfg, lookahead, block, iterations, init, seed, backend)
    return run_stream(stream, mag, length)


def open_stream(
    method_or_model: str | Path | MethodSpec,
    cfg: StftConfig,
    lookahead: int | None = None,
    block: int | None = None,
    iterations: int | None = None,
    init: str = "advance",
    seed: int = 0,
    backend: str = "auto",
) -> Stream:
    """A fresh stream of a method at ``cfg`` (engine.streaming.steps.make_processor's settings)."""
    processor = make_processor(
        method_or_model, cfg, lookahead, block, iterations=iterations, init=init, seed=seed, backend=backend
    )
    return Stream(processor)


@dataclass(frozen=True)
class StreamedMethod:
    """A streaming method as an offline runner (engine.runners.Method's ``run``, ``iterations`` and
    ``description``): every signal goes through a fresh stream at fixed look-ahead and block, aligned.

    ``iterations`` (per step) None: the spec's default; the offline iteration count given to ``run`` does
    not apply (``describe`` says what runs per step)."""

    spec: MethodSpec
    lookahead: int
    block: int
    step_iterations: int | None = None
    init: str = "advance"
    backend: str = "auto"
    iterations: int = 0  # the offline count run() is given: not used by a stream

    @classmethod
    def build(
        cls,
        method: str | Path | MethodSpec,
        lookahead: int | None = None,
        block: int | None = None,
        step_iterations: int | None = None,
        init: str = "advance",
        backend: str = "auto",
    ) -> StreamedMethod:
        """Look the method up and build its processor once now, so that an unknown name or a bad setting
        fails before any file is read; L and B as MethodSpec.stream_settings."""
        spec = stream_spec(method)
        lookahead, block = spec.stream_settings(lookahead, block)
        make_processor(spec, None, lookahead, block, iterations=step_iterations, init=init, backend=backend)
        return cls(spec, lookahead, block, step_iterations, init, backend)

    @property
    def description(self) -> str:
        return self.describe(self.spec.cfg or StftConfig())

    def describe(self, cfg: StftConfig) -> str:
        """What runs at ``cfg``: the method, look-ahead, block and iterations per step."""
        n_iter = self.spec.step_iterations_at(cfg, self.lookahead, self.block, self.step_iterations)
        return (
            f"{self.spec.name} streamed (look-ahead {self.lookahead}, block {self.block}, "
            f"{self.spec.describe_step(n_iter)})"
        )

    def open(self, cfg: StftConfig, seed: int = 0) -> Stream:
        """A fresh stream of this method and its settings at ``cfg`` (what ``run`` pushes a signal through;
        a file is pushed block by block: engine.file_runs)."""
        return open_stream(
            self.spec, cfg, self.lookahead, self.block, self.step_iterations, self.init, seed, self.backend
        )

    def run(self, mag: np.ndarray, cfg: StftConfig, n_iter: int, seed: int, length: int) -> np.ndarray:
        del n_iter  # the per-step count is the stream's (step_iterations)
        return reconstruct_online(
            self.spec,
            mag,
            cfg,
            length,
            self.lookahead,
            self.block,
            self.step_iterations,
            self.init,
            seed,
            backend=self.backend,
        )

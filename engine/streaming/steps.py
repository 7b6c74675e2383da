"""Every method of the streaming engine, built by name: window steps (ADMM, (F)GLA, exported models),
RTISI-LA and RTPGHI, all behind the same FrameProcessor interface, frames and latency.

A name is looked up once in the registry (engine.registry); its MethodSpec gives the defaults (look-ahead
and block: a stream-trained model's own, else 3 and 1; iterations per step: MethodSpec.step_iterations_at)
and engine.runners builds its window step for a backend (engine.backends: ``auto`` takes the compiled one
where it exists). ``iterations`` means: per window step for ADMM/(F)GLA, passes of the model per step for
exported models, iterations per new frame for RTISI-LA; RTPGHI is not iterative.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from phasefold.engine import backends, limits, registry
from phasefold.engine.arguments import MAX_WHOLE, optional_whole, whole
from phasefold.engine.errors import BackendError, InputError
from phasefold.engine.mel import MelConfig
from phasefold.engine.mel_window import mel_window_step
from phasefold.engine.runners import window_step
from phasefold.engine.stft import StftConfig
from phasefold.engine.streaming.base import FrameProcessor
from phasefold.engine.streaming.mel import MEL_START, MODEL_MEL_START, MelWindowProcessor, mel_config
from phasefold.engine.streaming.pghi import RtpghiProcessor
from phasefold.engine.streaming.rtisi import RtisiLaProcessor
from phasefold.engine.streaming.window import INITS, WindowProcessor


def method_names(cfg: StftConfig | None = None) -> list[str]:
    """Every method the streaming engine runs by name; with ``cfg``, only the models made for that STFT."""
    return registry.streaming_names(cfg)


def stream_spec(method: str | Path | registry.MethodSpec) -> registry.MethodSpec:
    """The spec of a streaming method by name, .onnx path or spec (InputError for an offline-only one)."""
    spec = (
        method
        if isinstance(method, registry.MethodSpec)
        else registry.lookup(method, among=method_names(), what="streaming method")
    )
    if not spec.streaming:
        raise InputError(f"{spec.name} is an offline method; streaming methods: {', '.join(method_names())}")
    return spec


def _realtime_processor(spec, cfg, lookahead, block, iterations, seed, backend) -> FrameProcessor:
    """RTISI-LA or RTPGHI, compiled where asked for and available; ``iterations`` as resolved by the spec."""
    if spec.family == "rtpghi":
        if spec.causal is False and lookahead < 1:
            raise InputError("rtpghi-1 has one hop of delay: it needs a look-ahead of at least 1")

        def compiled():
            from phasefold.engine.compiled.pghi import CompiledRtpghiProcessor

            return CompiledRtpghiProcessor(cfg, lookahead, block, causal=spec.causal, seed=seed)

        def reference():
            return RtpghiProcessor(cfg, lookahead, block, causal=spec.causal, seed=seed)

    else:

        def compiled():
            from phasefold.engine.compiled.rtisi import CompiledRtisiLaProcessor

            return CompiledRtisiLaProcessor(cfg, lookahead, block, n_iter=iterations)

        def reference():
            return RtisiLaProcessor(cfg, lookahead, block, n_iter=iterations)

    def compiled_or_reason():
        if cfg.power != 1.0:
            raise BackendError("the compiled backend runs d = 1 magnitudes only; use --backend numpy or auto")
        return compiled()

    proc, used = backends.build(backend, compiled_or_reason, reference, model=False)
    proc.backend = used
    return proc


def make_processor(
    method: str | Path | registry.MethodSpec,
    cfg: StftConfig | None = None,
    lookahead: int | None = None,
    block: int | None = None,
    iterations: int | None = None,
    init: str = "advance",
    silent_start: int = 0,
    seed: int = 0,
    threads: int = 1,
    backend: str = "auto",
    mel: str | MelConfig | None = None,
    mel_start: str | None = None,
) -> FrameProcessor:
    """A ready processor for a method name, model path or spec with look-ahead L and block size B.

    ``lookahead`` / ``block`` None: the settings a model trained inside the stream was trained at (its
    card's ``streaming`` entry), else L = 3 and B = 1 (MethodSpec.stream_settings: another setting for a
    stream-trained model raises InputError naming its own). ``iterations`` None: the spec's default per step
    (MethodSpec.step_iterations_at). ``backend``: engine.backends; the processor's ``backend`` attribute
    says which one runs it. ``mel`` (a preset's name or an engine.mel.MelConfig): the frames are that mel's
    linear values B |X|^p [n_mels] (engine.streaming.mel; ``cfg`` None or the mel's STFT), run by the mel
    window step of gla, fgla or admm-<loss> (engine.mel_window), each new frame starting from ``mel_start``'s
    amplitudes (None: engine.streaming.mel.MEL_START); ``iterations`` None there: the measured mel
    default's (engine.registry.mel_stream_default). A learned stream mel model (its card's mel only) runs
    its window step on onnxruntime at its own L and B, new frames started as in training ("spread"), at its
    training level (engine.streaming.mel).
    It is warmed up (``warm_up``).
    """
    backends.check(backend)
    if cfg is not None and not isinstance(cfg, StftConfig):
        raise InputError(f"cfg must be a phasefold.engine.stft.StftConfig or None, not {cfg!r}")
    lookahead = optional_whole(lookahead, "look-ahead L", -MAX_WHOLE)  # the types; the ranges below
    block = optional_whole(block, "block B", -MAX_WHOLE)
    iterations = optional_whole(iterations, "iterations per step", -MAX_WHOLE)
    seed = whole(seed, "seed")
    mel_cfg = None if mel is None else mel_config(mel)
    if mel_cfg is None:
        spec = stream_spec(method)
        spec.check_magnitudes()
    else:
        if cfg is not None and cfg != mel_cfg.stft:
            raise InputError("cfg must be None or the mel's own STFT (mel.stft) for a mel stream")
        cfg = mel_cfg.stft
        spec = stream_spec(registry.mel_spec(method, mel_cfg, stream=True))
    lookahead, block = spec.stream_settings(lookahead, block)
    if lookahead < 0:
        raise InputError(f"look-ahead must be 0 or more frames, not {lookahead}")
    if block < 1:
        raise InputError(f"block size must be at least 1 frame, not {block}")
    limits.check_lookahead(lookahead)
    limits.check_block(block)
    if iterations is not None:
        limits.check_step_iterations(iterations)
    if cfg is not None:
        limits.check_sample_rate(cfg.sample_rate, "cfg")
    if init not in INITS:
        raise InputError(f"unknown phase initialisation {init!r}; choose one of {', '.join(INITS)}")
    if spec.family in ("rtpghi", "rtisi"):
        cfg = cfg or StftConfig()
        n_iter = spec.step_iterations_at(cfg, lookahead, block, iterations)
        proc = _realtime_processor(spec, cfg, lookahead, block, n_iter, seed, backend)
        warm_up(proc)
        return proc
    if spec.family not in ("gla", "admm", "model"):
        raise InputError(
            f"{spec.name!r} is not a window-step method; streaming methods: {', '.join(method_names())}"
        )
    if mel_cfg is not None and spec.mel_model:
        proc = _mel_model_processor(spec, mel_cfg, lookahead, block, iterations, init, silent_start, seed,
                                    mel_start, backend, threads)  # fmt: skip
        warm_up(proc)
        return proc
    if mel_cfg is not None:
        mel_start = MEL_START if mel_start is None else mel_start
        n_iter = registry.mel_stream_default(cfg)[1] if iterations is None else iterations
        try:
            proc = MelWindowProcessor(
                mel_window_step(spec, mel_cfg, n_iter, backend), mel_cfg, lookahead, block, init=init,
                silent_start=silent_start, seed=seed, mel_start=mel_start,
            )  # fmt: skip
        except ValueError as exc:
            raise InputError(str(exc)) from None
        proc.backend = proc.step.backend
        warm_up(proc)
        return proc
    n_iter = spec.step_iterations_at(cfg or spec.cfg or StftConfig(), lookahead, block, iterations)
    step, cfg = window_step(spec, cfg, n_iter, backend, threads)
    try:
        proc = WindowProcessor(
            step,
            cfg,
            lookahead,
            block,
            init=init,
            silent_start=silent_start,
            seed=seed,
            compiled_frames=step.backend == backends.COMPILED,
        )
    except ValueError as exc:
        raise InputError(str(exc)) from None
    proc.backend = step.backend
    warm_up(proc)
    return proc


def _mel_model_processor(
    spec, mel_cfg, lookahead, block, iterations, init, silent_start, seed, mel_start, backend, threads
) -> MelWindowProcessor:
    """The window processor of a stream mel model (make_processor's checks done; the compiled backend is
    refused by engine.onnx_model.load_compiled: a mel model runs on onnxruntime only)."""
    if mel_start not in (None, MODEL_MEL_START):
        raise InputError(
            f"{spec.name} was trained with new frames from the {MODEL_MEL_START!r} start, not {mel_start!r}"
        )
    n_iter = spec.step_iterations_at(mel_cfg.stft, lookahead, block, iterations)
    step, _ = window_step(spec, mel_cfg.stft, n_iter, backend, threads)
    try:
        proc = MelWindowProcessor(
            step, mel_cfg, lookahead, block, init=init, silent_start=silent_start, seed=seed,
            mel_start=MODEL_MEL_START, reference=spec.card.mel_reference_level,
        )  # fmt: skip
    except ValueError as exc:
        raise InputError(str(exc)) from None
    proc.backend = step.backend
    return proc


def warm_up(processor: FrameProcessor) -> None:
    """Run two blocks of silence and the tail through a processor, then reset it: compiled code is loaded and
    FFT plans are made now, before the first frame, never inside the audio path (what ``Stream.push`` and
    ``Stream.flush`` would call, without a Stream)."""
    processor.reset()
    silence = np.zeros((processor.block, processor.width))
    processor.process(silence.copy(), None)
    processor.process(silence.copy(), None)
    processor.tail()
    processor.reset()

"""Every method of the streaming engine, built by name: window steps (ADMM, (F)GLA, exported models),
RTISI-LA and RTPGHI, all behind the same FrameProcessor interface, frames and latency.

Names and specs come from the one registry (engine.registry); engine.runners builds the window steps for a
backend (engine.backends: ``auto`` takes the compiled one where it exists). ``iterations`` means: per
window step for ADMM/(F)GLA (default 15, the layers of the shipped models), passes of the model per step
for exported models (default 1), iterations per new frame for RTISI-LA (default: as many STFT projections
per input frame as a 15-iteration window step at the same L and B).
"""

from __future__ import annotations

import math
from pathlib import Path

from phasefold.engine import backends, registry
from phasefold.engine.errors import BackendError, InputError
from phasefold.engine.runners import WindowStep, window_step
from phasefold.engine.stft import StftConfig
from phasefold.engine.streaming.base import FrameProcessor
from phasefold.engine.streaming.core import warm_up
from phasefold.engine.streaming.pghi import RtpghiProcessor
from phasefold.engine.streaming.rtisi import RtisiLaProcessor
from phasefold.engine.streaming.window import INITS, WindowProcessor

DEFAULT_ITERATIONS = 15
DEFAULT_LOOKAHEAD = 3
CLASSICAL = registry.STREAMING_CLASSICAL


def shipped_models() -> list[str]:
    """Names of the models found (engine.catalog: the shipped ones and the user's folders)."""
    return sorted(registry.model_specs())


def method_names(cfg: StftConfig | None = None) -> list[str]:
    """Every method the streaming engine runs by name; with ``cfg``, only the models made for that STFT."""
    return registry.streaming_names(cfg)


def model_file(method: str | Path) -> Path | None:
    """The .onnx file behind a method: a path to one, or a model's name; None for other methods."""
    if Path(method).suffix == ".onnx":
        return Path(method)
    spec = registry.model_specs().get(str(method))
    return spec.path if spec is not None else None


def trained_settings(method: str | Path) -> tuple[int, int] | None:
    """(L, B) a stream-trained model was trained at (its card's ``streaming``), None for other methods."""
    path = model_file(method)
    if path is None or not path.is_file():
        return None
    card = registry.model_spec(path).card
    trained = card.streaming if card else None  # a broken card: its loading says what is wrong
    return (trained.lookahead, trained.block) if trained else None


def default_settings(method: str | Path, lookahead: int | None, block: int | None) -> tuple[int, int]:
    """(L, B) with None filled from a stream-trained model's card, else (3, 1)."""
    trained = trained_settings(method) or (DEFAULT_LOOKAHEAD, 1)
    return (trained[0] if lookahead is None else lookahead, trained[1] if block is None else block)


def _spec(method: str | Path) -> registry.MethodSpec:
    spec = registry.lookup(method, among=method_names(), what="streaming method")
    if not spec.streaming:
        raise InputError(f"{spec.name} is an offline method; streaming methods: {', '.join(method_names())}")
    return spec


def make_step(
    method: str | Path,
    cfg: StftConfig | None = None,
    iterations: int | None = None,
    threads: int = 1,
    backend: str = "auto",
) -> tuple[WindowStep, StftConfig]:
    """The window step of an iterative method or model, and the STFT settings it runs at."""
    if iterations is not None and iterations < 1:
        raise InputError(f"iterations per window step (model passes) must be at least 1, not {iterations}")
    spec = _spec(method)
    if spec.kind not in ("gla", "admm", "model"):
        raise InputError(
            f"{spec.name!r} is not a window-step method; streaming methods: {', '.join(method_names())}"
        )
    return window_step(spec, cfg, iterations, backend, threads, DEFAULT_ITERATIONS)


def _realtime_processor(spec, cfg, lookahead, block, iterations, seed, backend) -> FrameProcessor:
    """RTISI-LA or RTPGHI, compiled where asked for and available."""
    if spec.kind == "rtpghi":
        if iterations is not None:
            raise InputError("RTPGHI is not iterative: --iterations does not apply")
        if spec.causal is False and lookahead < 1:
            raise InputError("rtpghi-1 has one hop of delay: it needs a look-ahead of at least 1")

        def compiled():
            from phasefold.engine.compiled.pghi import CompiledRtpghiProcessor

            return CompiledRtpghiProcessor(cfg, lookahead, block, causal=spec.causal, seed=seed)

        def reference():
            return RtpghiProcessor(cfg, lookahead, block, causal=spec.causal, seed=seed)

    else:
        if iterations is None:
            n_window = lookahead + cfg.overlap + block - 1
            iterations = math.ceil(DEFAULT_ITERATIONS * n_window / (block * (lookahead + 1)))
        if iterations < 1:
            raise InputError(f"RTISI-LA needs at least 1 iteration per frame, not {iterations}")

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
    method: str | Path,
    cfg: StftConfig | None = None,
    lookahead: int | None = 3,
    block: int | None = 1,
    iterations: int | None = None,
    init: str = "advance",
    silent_start: int = 0,
    seed: int = 0,
    threads: int = 1,
    backend: str = "auto",
) -> FrameProcessor:
    """A ready processor for a method name or model path with look-ahead L and block size B.

    ``lookahead`` / ``block`` None: the settings a model trained inside the stream was trained at (its
    card's ``streaming`` entry), else L = 3 and B = 1. ``backend``: engine.backends; the processor's
    ``backend`` attribute says which one runs it. It is warmed up (engine.streaming.core.warm_up).
    """
    backends.check(backend)
    if lookahead is None or block is None:
        lookahead, block = default_settings(method, lookahead, block)
    if lookahead < 0:
        raise InputError(f"look-ahead must be 0 or more frames, not {lookahead}")
    if block < 1:
        raise InputError(f"block size must be at least 1 frame, not {block}")
    if init not in INITS:
        raise InputError(f"unknown phase initialisation {init!r}; choose one of {', '.join(INITS)}")
    spec = _spec(method)
    if spec.kind in ("rtpghi", "rtisi"):
        proc = _realtime_processor(spec, cfg or StftConfig(), lookahead, block, iterations, seed, backend)
        warm_up(proc)
        return proc
    step, cfg = make_step(method, cfg, iterations, threads=threads, backend=backend)
    trained = step.card.streaming if step.card is not None else None
    if trained is not None and (trained.lookahead, trained.block) != (lookahead, block):
        raise InputError(
            f"{step.name} was trained inside the stream at look-ahead {trained.lookahead}, block "
            f"{trained.block}; run it with those settings "
            f"(asked: look-ahead {lookahead}, block {block})"
        )
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

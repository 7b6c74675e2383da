"""What a method spec (engine.registry) builds for a backend (engine.backends): its window step and its
offline runner.

A window step follows the contract of docs/architecture.md, (mag [W, K], x [S], fixed [S], lam [2, W, K]) ->
(x, lam); the offline run of every window-step method is that step over the whole padded signal (W = F,
``fixed`` = 1 on the padding, a seeded random phase start or a given one, zero dual), so offline and
streaming share one implementation per backend. Gradient descent is offline only and has no compiled step.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import replace
from typing import NamedTuple

import numpy as np
from phasefold.engine import backends
from phasefold.engine.blocks import ArrayFrames, Frames, MappedFrames
from phasefold.engine.errors import BackendError, InputError, ModelError
from phasefold.engine.model_card import ModelCard
from phasefold.engine.registry import OFFLINE_ITERATIONS, MethodSpec, describe_stft
from phasefold.engine.stft import StftConfig, from_span, pad_signal

Reconstructor = Callable[[np.ndarray, StftConfig, int, int, int], np.ndarray]
StepFn = Callable[[np.ndarray, np.ndarray, np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]
NESTEROV_ETA = 0.99
#: offline window methods run over blocks of at most this many frames (about 12 s at hop 256), so that the
#: memory of a long reconstruction does not grow with it beyond the signal (run_span)
OFFLINE_BLOCK_FRAMES = 1024
OFFLINE_MARGIN_FRAMES = 32


class Method(NamedTuple):
    """An offline runner: run(mag [F, K], cfg, n_iter, seed, length, init=None) -> signal [length];
    ``iterations``: its default n_iter (the spec's: MethodSpec.iterations). ``segments`` (the registry's
    methods): the same reconstruction over measurements read by ranges of frames, segments(frames
    (engine.blocks.Frames), cfg, n_iter, seed, length, k, init=None) -> the signal's samples in blocks, in
    order, with k the level's shift of the whole measurements (engine.level.level_shift, from a first pass
    over them); None: only ``run``. ``init``: the start phases [F, K] in radians (engine.inputs.init_phases)
    in place of the seeded random ones (engine.algorithms.start_phases)."""

    description: str
    run: Reconstructor
    iterations: int = OFFLINE_ITERATIONS
    segments: Callable[..., Iterator[np.ndarray]] | None = None


class WindowStep:
    """A window-step function with its name, backend and cost in STFT projections of the window per call."""

    def __init__(
        self,
        fn: StepFn,
        name: str,
        projections: int,
        window_frames: int | None = None,
        backend: str = backends.NUMPY,
        card: ModelCard | None = None,
        dtype: type = np.float64,
    ) -> None:
        self.fn = fn
        self.name = name
        self.projections = projections
        self.window_frames = window_frames  # a model that pins W says so here
        self.backend = backend
        self.card = card  # an exported model's card
        # precision of the window state the step takes and returns: a model runs in float32 (its graph and
        # its compiled step), so the window keeps float32 state and nothing is converted per step
        self.dtype = np.dtype(dtype)

    def __call__(self, mag, x, fixed, lam):
        return self.fn(mag, x, fixed, lam)


def with_power(mag: np.ndarray, cfg: StftConfig, d: float) -> tuple[np.ndarray, StftConfig]:
    """Measurements and settings converted to r = |X|^d."""
    if cfg.power == d:
        return mag, cfg
    return np.asarray(mag, dtype=np.float64) ** (d / cfg.power), replace(cfg, power=float(d))


def _classical_step(spec: MethodSpec, cfg: StftConfig, n_iter: int, backend: str) -> WindowStep:
    from phasefold.engine.algorithms import published_rho

    def compiled():
        from phasefold.engine.compiled.admm import AdmmStep, GlaStep

        if spec.family == "gla":
            return GlaStep(spec.momentum, n_iter, cfg)
        return AdmmStep(spec.div, spec.side, published_rho(spec.div, cfg), n_iter, cfg)

    def reference():
        from phasefold.engine.admm import admm_iterations, gla_iterations

        if spec.family == "gla":
            return lambda mag, x, fixed, lam: (gla_iterations(mag, x, fixed, n_iter, spec.momentum, cfg), lam)
        from phasefold.engine.proxes import make_prox

        prox, rho = make_prox(spec.div, spec.side), published_rho(spec.div, cfg)
        return lambda mag, x, fixed, lam: admm_iterations(mag, x, fixed, lam, prox, rho, n_iter, cfg)

    fn, used = backends.build(backend, compiled, reference, model=False)
    return WindowStep(fn, spec.name, n_iter, backend=used, dtype=getattr(fn, "dtype", np.float64))


def _model_step(spec: MethodSpec, passes: int, backend: str, threads: int) -> tuple[WindowStep, StftConfig]:
    from phasefold.engine.onnx_model import cached_model, load_compiled

    path = spec.path
    if path is None or not path.is_file():
        raise ModelError(f"{path}: no such model file")

    def compiled():
        return load_compiled(path)

    def reference():
        return cached_model(path, threads)

    runner, used = backends.build(backend, compiled, reference, model=True)
    if used == backends.COMPILED:
        card, cfg, layers, pinned = runner.card, runner.cfg, runner.layers, runner.window_frames

        def fn(mag, x, fixed, lam):
            for _ in range(passes):
                x, lam = runner(mag, x, fixed, lam)
            return x, lam

    else:
        card, cfg, layers, pinned = runner.card, runner.cfg, runner.card.layers, runner.window_frames

        def fn(mag, x, fixed, lam):
            x32, lam32 = (np.ascontiguousarray(a, dtype=np.float32) for a in (x, lam))
            mag32, fixed32 = (np.ascontiguousarray(a, dtype=np.float32) for a in (mag, fixed))
            for _ in range(passes):
                x32, lam32 = runner.step(mag32, x32, fixed32, lam32)
            return x32, lam32

    name, cost = card.name, layers * passes
    return WindowStep(fn, name, cost, pinned, backend=used, card=card, dtype=np.float32), cfg


def window_step(
    spec: MethodSpec,
    cfg: StftConfig | None = None,
    iterations: int | None = None,
    backend: str = "auto",
    threads: int = 1,
) -> tuple[WindowStep, StftConfig]:
    """The window step of an iterative method or model, and the STFT settings it runs at.

    ``iterations``: per step for ADMM and (F)GLA, passes of the T layers for a model; None: the spec's
    ``step_iterations``."""
    backends.check(backend)
    n_iter = spec.step_iterations if iterations is None else iterations
    if spec.family == "model":
        step, model_cfg = _model_step(spec, n_iter, backend, threads)
        if cfg is not None and cfg != model_cfg:
            raise InputError(
                f"{step.name} works at {describe_stft(model_cfg)}, d = {model_cfg.power:g}; "
                f"the input has {describe_stft(cfg)}, d = {cfg.power:g}"
            )
        return step, model_cfg
    if spec.family not in ("gla", "admm"):
        raise InputError(f"{spec.name!r} is not a window-step method")
    if n_iter < 1:
        raise InputError(f"iterations per step must be at least 1, not {n_iter}")
    cfg = cfg or StftConfig()
    return _classical_step(spec, cfg, n_iter, backend), cfg


def run_span(
    step: StepFn,
    mag: np.ndarray,
    cfg: StftConfig,
    seed: int,
    length: int,
    block: int = OFFLINE_BLOCK_FRAMES,
    margin: int = OFFLINE_MARGIN_FRAMES,
    init: np.ndarray | None = None,
) -> np.ndarray:
    """``span_blocks`` over measurements held whole: the ``length`` samples, float64."""
    return collect(span_blocks(step, ArrayFrames(mag), cfg, seed, length, block, margin, init), length)


def collect(blocks: Iterable[np.ndarray], length: int) -> np.ndarray:
    """The ``length`` samples of a signal given in blocks, as one float64 array."""
    out = np.empty(length)
    n = 0
    for y in blocks:
        out[n : n + y.size] = y
        n += y.size
    if n != length:
        raise InputError(f"the method returned {n} samples; expected {length}")
    return out


def span_blocks(
    step: StepFn,
    frames: Frames,
    cfg: StftConfig,
    seed: int,
    length: int,
    block: int = OFFLINE_BLOCK_FRAMES,
    margin: int = OFFLINE_MARGIN_FRAMES,
    init: np.ndarray | None = None,
) -> Iterator[np.ndarray]:
    """A window step over the padded signal from a seeded random phase, or from ``init`` (the start phases
    [F, K]: engine.algorithms.start_phases): the ``length`` samples, float64, in blocks as they are made
    final (the frames are read in order: engine.blocks).

    Up to ``block`` frames it runs once over the whole signal. A longer signal is rebuilt in segments of
    ``block`` frames, so that memory does not grow with it: each segment runs the step over its frames
    with the samples already final held fixed (as the streaming engine holds committed samples), its first
    frames' estimate and dual carried over from the segment before it (a warm start), and makes final the
    samples more than ``margin`` frames from its end. Each segment's frames beyond the previous segment
    start from their rows of the start phases."""
    from phasefold.engine.algorithms import random_phase_init

    n_frames = frames.n_frames
    if n_frames <= block:
        mag = np.asarray(frames.get(0, n_frames), dtype=np.float64)
        span = pad_signal(random_phase_init(mag, cfg, seed, length, init), cfg)
        fixed = np.ones_like(span)
        fixed[cfg.pad : cfg.pad + length] = 0.0
        x, _ = step(mag, span, fixed, np.zeros((2, *mag.shape)))
        yield from_span(np.asarray(x, dtype=np.float64), cfg, length)
        return
    if block <= margin + cfg.overlap:
        raise ValueError(f"a block of {block} frames cannot keep a margin of {margin} frames")
    signal = slice(cfg.pad, cfg.pad + length)  # the signal's samples in the padded span
    kept, kept_start = np.zeros(0), 0  # the final samples [kept_start, final) the next segment holds fixed
    final, start, x_prev, lam_prev, prev_start = 0, 0, None, None, 0
    while True:
        stop = min(n_frames, start + block)
        x, lam = _block_start(frames, cfg, seed, start, stop, x_prev, lam_prev, prev_start, init)
        fixed = np.zeros_like(x)
        offset = start * cfg.hop
        x[: final - offset] = kept[offset - kept_start :]
        fixed[: final - offset] = 1.0
        fixed[: max(0, cfg.pad - offset)] = 1.0  # the front padding
        fixed[cfg.pad + length - offset :] = 1.0  # the back padding
        x, lam = step(np.asarray(frames.get(start, stop), dtype=np.float64), x, fixed, lam)
        x, lam = np.asarray(x, dtype=np.float64), np.asarray(lam, dtype=np.float64)
        done = cfg.span(n_frames) if stop == n_frames else (stop - margin) * cfg.hop
        # samples whose frames all lie at least ``margin`` from the segment's end are final
        made = x[final - offset : done - offset]  # samples [final, done)
        lo, hi = max(final, signal.start), min(done, signal.stop)
        if hi > lo:
            yield made[lo - final : hi - final]
        if stop == n_frames:
            if signal.stop > done:  # frames not centred stop before the signal's end: zeros, as offline
                yield np.zeros(signal.stop - max(done, signal.start))
            return
        next_start = done // cfg.hop - cfg.overlap + 1  # the first frame that covers a sample not yet final
        kept = np.concatenate([kept, made])[next_start * cfg.hop - kept_start :]
        kept_start = next_start * cfg.hop
        final, x_prev, lam_prev, prev_start, start = done, x, lam, start, next_start


def _block_start(frames, cfg, seed, start, stop, x_prev, lam_prev, prev_start, init):
    """The starting span and dual of frames [start, stop): the start phases' rows (the same phases as over
    the whole signal: seeded random ones or ``init``'s), with the previous segment's estimate and dual
    where the segments overlap."""
    from phasefold.engine.algorithms import start_phases
    from phasefold.engine.stft import synthesize

    amp = np.asarray(frames.get(start, stop), dtype=np.float64)
    amp = amp if cfg.power == 1.0 else np.sqrt(amp)
    x = synthesize(amp * np.exp(1j * start_phases(seed, start, amp.shape, init)), cfg)
    lam = np.zeros((2, *amp.shape))
    if x_prev is not None:
        shift = (start - prev_start) * cfg.hop
        # the previous segment's last pad samples lack the frames after it: they start as the new frames give
        shared = x_prev.shape[0] - shift - cfg.pad
        x[:shared] = x_prev[shift : shift + shared]
        frames_shared = lam_prev.shape[1] - (start - prev_start)
        lam[:, :frames_shared] = lam_prev[:, start - prev_start :]
    return x, lam


def offline_runner(spec: MethodSpec, backend: str = "auto") -> Method:
    """The offline reconstruction of a method (InputError for a streaming-only one), on measurements scaled
    to the models' level by a power of two and its output scaled back (engine.level): every method is
    level-equivariant, bit for bit for power-of-two gains, and no finite input overflows its float32 steps.
    ``run`` takes the measurements whole, ``segments`` by ranges of frames (engine.blocks)."""
    from phasefold.engine.level import level_shift, normalised

    entry = _offline_runner(spec, backend)
    segments = normalised(entry.segments)

    def run(mag, cfg, n_iter, seed, length, init=None):
        k = level_shift(mag, cfg.power)
        return collect(segments(ArrayFrames(mag), cfg, n_iter, seed, length, k, init), length)

    return entry._replace(run=run, segments=segments)


def _whole(frames: Frames) -> np.ndarray:
    """Every frame at once: for what has no segmented form (gradient descent, zero iterations)."""
    return frames.get(0, frames.n_frames)


def _powered(frames: Frames, cfg: StftConfig, d: float) -> tuple[Frames, StftConfig]:
    """``with_power`` on each range of frames read."""
    if cfg.power == d:
        return frames, cfg
    return MappedFrames(frames, lambda m: with_power(m, cfg, d)[0]), replace(cfg, power=float(d))


def _offline_runner(spec: MethodSpec, backend: str) -> Method:
    """The method's runner before the level's normalisation: ``segments`` (frames, cfg, n_iter, seed,
    length, init=None) yields the signal in order; ``run`` is left to offline_runner."""
    from phasefold.engine.algorithms import random_phase_init

    backends.check(backend)
    spec.check_magnitudes()
    if not spec.offline:
        if spec.problem is not None:
            raise ModelError(spec.problem)  # what is wrong with the model's card
        raise InputError(f"{spec.name} runs only in the streaming engine: use --online (phasefold stream)")
    if spec.family == "gd":
        if backend == backends.COMPILED:
            raise BackendError(
                f"{spec.name}: gradient descent has no compiled step; use --backend numpy or auto"
            )
        from phasefold.engine.algorithms import GD_STEPS, gradient_descent

        mu0 = GD_STEPS[(spec.div.name, spec.side, spec.power, spec.nesterov)]

        def gd_segments(frames, cfg, n_iter, seed, length, init=None):  # the whole signal: one segment
            mag, cfg = with_power(np.asarray(_whole(frames), dtype=np.float64), cfg, spec.power)
            yield gradient_descent(mag, cfg, n_iter, seed, length, spec.div, spec.side, mu0,
                                   nesterov=spec.nesterov, eta=NESTEROV_ETA, init=init)  # fmt: skip

        return Method(spec.description, None, spec.iterations, gd_segments)
    if spec.family == "model":

        def model_segments(frames, cfg, n_iter, seed, length, init=None):
            chosen = spec.at_config(cfg)
            frames, model_cfg = _powered(frames, cfg, 1.0)
            if n_iter == 0:  # as for every window method: zero iterations is the phase start
                yield random_phase_init(_whole(frames), model_cfg, seed, length, init)
                return
            step, _ = window_step(chosen, model_cfg, chosen.passes(n_iter), backend)
            yield from span_blocks(step, frames, model_cfg, seed, length, init=init)

        return Method(spec.description, None, spec.iterations, model_segments)

    def window_segments(frames, cfg, n_iter, seed, length, init=None):
        frames, cfg = _powered(frames, cfg, spec.power)
        if n_iter == 0:
            yield random_phase_init(_whole(frames), cfg, seed, length, init)
            return
        step, _ = window_step(spec, cfg, n_iter, backend)
        yield from span_blocks(step, frames, cfg, seed, length, init=init)

    return Method(spec.description, None, spec.iterations, window_segments)

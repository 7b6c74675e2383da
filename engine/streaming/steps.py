"""Every method of the streaming engine, built by name: window steps (ADMM, (F)GLA, ONNX models),
RTISI-LA and RTPGHI, all behind the same FrameProcessor interface, frames and latency.

Names: ``admm-<loss>[-right]`` (engine.admm with engine.proxes, rho as engine.algorithms.published_rho),
``gla``, ``fgla`` (engine.admm.gla_iterations, momentum 0 / 0.99), ``rtisi-la``, ``rtpghi`` (variant (1),
one hop of delay, when L >= 1, else variant (0)), ``rtpghi-0``, ``rtpghi-1``, the shipped models
``unfolded-*`` (exported_models/NAME.onnx) or a path to any exported .onnx model.

``iterations`` means: per window step for ADMM/(F)GLA (default 15, the layers of the shipped models),
passes of the model per step for ONNX models (default 1), iterations per new frame for RTISI-LA (default:
as many STFT projections per input frame as a 15-iteration window step at the same L and B).
"""

from __future__ import annotations

import functools
import math
from pathlib import Path

import numpy as np
from phasefold.engine.catalog import find_model, model_files
from phasefold.engine.errors import InputError, ModelError
from phasefold.engine.stft import StftConfig
from phasefold.engine.streaming.base import FrameProcessor
from phasefold.engine.streaming.pghi import RtpghiProcessor
from phasefold.engine.streaming.rtisi import RtisiLaProcessor
from phasefold.engine.streaming.window import INITS, WindowProcessor, WindowStep

DEFAULT_ITERATIONS = 15
DEFAULT_LOOKAHEAD = 3
FGLA_MOMENTUM = 0.99
CLASSICAL = (
    "admm-l2",
    "admm-kl",
    "admm-kl-right",
    "admm-is",
    "gla",
    "fgla",
    "rtisi-la",
    "rtpghi",
    "rtpghi-0",
    "rtpghi-1",
)


def shipped_models() -> list[str]:
    """Names of the shipped models and the user's (engine.catalog: NAME.onnx with its NAME.json card)."""
    return sorted(model_files())


def method_names(cfg: StftConfig | None = None) -> list[str]:
    """Every method the streaming engine runs by name; with ``cfg``, only the models made for that STFT."""
    files = model_files()
    models = sorted(files)
    if cfg is not None:
        from phasefold.engine.onnx_model import model_stft

        def serves(name: str) -> bool:
            try:
                return model_stft(files[name]) == cfg
            except ModelError:  # a broken card: not offered (loading it would say why)
                return False

        models = [m for m in models if serves(m)]
    return list(CLASSICAL) + models


def model_file(method: str | Path) -> Path | None:
    """The .onnx file behind a method: a path to one, or a shipped model's name; None for other methods."""
    p = Path(method)
    if p.suffix == ".onnx":
        return p
    return find_model(str(method))


def trained_settings(method: str | Path) -> tuple[int, int] | None:
    """(L, B) a stream-trained model was trained at (its card's ``streaming``), None for other methods."""
    from phasefold.engine.onnx_model import read_card

    path = model_file(method)
    if path is None or not path.is_file():
        return None
    try:
        trained = read_card(path).get("streaming")
    except ModelError:
        return None  # the model's own loading reports what is wrong with its card
    return (int(trained["lookahead"]), int(trained.get("block", 1))) if trained else None


def default_settings(method: str | Path, lookahead: int | None, block: int | None) -> tuple[int, int]:
    """(L, B) with None filled from a stream-trained model's card, else (3, 1)."""
    trained = trained_settings(method) or (DEFAULT_LOOKAHEAD, 1)
    return (trained[0] if lookahead is None else lookahead, trained[1] if block is None else block)


def admm_step(name: str, cfg: StftConfig, iterations: int) -> WindowStep:
    """ADMM with a Bregman loss on the window (phasefold.engine.admm.admm_iterations)."""
    from phasefold.engine.admm import admm_iterations
    from phasefold.engine.algorithms import published_rho
    from phasefold.engine.divergences import divergence
    from phasefold.engine.proxes import make_prox

    parts = name[len("admm-") :].split("-")
    side = "right" if parts[-1] == "right" else "left"
    if side == "right":
        parts = parts[:-1]
    try:
        if len(parts) != 1:
            raise ValueError(name)
        div = divergence(parts[0])
    except ValueError:
        raise InputError(
            f"unknown ADMM method {name!r}; use admm-<loss>[-right] with loss l2, kl, is or betaB"
        ) from None
    try:
        prox = make_prox(div, side)
    except ValueError as exc:
        raise InputError(f"{name}: {exc}") from None
    rho = published_rho(div, cfg)

    def fn(mag, x, fixed, lam):
        return admm_iterations(mag, x, fixed, lam, prox, rho, iterations, cfg)

    return WindowStep(fn, name, iterations)


def gla_step(name: str, cfg: StftConfig, iterations: int) -> WindowStep:
    """(Fast) Griffin-Lim on the window (phasefold.engine.admm.gla_iterations); the dual is passed through."""
    from phasefold.engine.admm import gla_iterations

    momentum = FGLA_MOMENTUM if name == "fgla" else 0.0

    def fn(mag, x, fixed, lam):
        return gla_iterations(mag, x, fixed, iterations, momentum, cfg), lam

    return WindowStep(fn, name, iterations)


@functools.lru_cache(maxsize=8)
def _load_model(path: str, threads: int, mtime_ns: int):
    """Sessions are stateless (the state travels in the tensors), so streams share one per model file."""
    from phasefold.engine.onnx_model import load_model

    return load_model(path, threads=threads)


def model_step(path: str | Path, passes: int = 1, threads: int = 1) -> tuple[WindowStep, StftConfig]:
    """An exported model's window step (phasefold.engine.onnx_model) run ``passes`` times per call."""
    model = _load_model(
        str(Path(path).resolve()), threads, Path(path).stat().st_mtime_ns if Path(path).exists() else 0
    )

    def fn(mag, x, fixed, lam):
        mag32 = np.ascontiguousarray(mag, dtype=np.float32)
        x32 = np.ascontiguousarray(x, dtype=np.float32)
        fixed32 = np.ascontiguousarray(fixed, dtype=np.float32)
        lam32 = np.ascontiguousarray(lam, dtype=np.float32)
        for _ in range(passes):
            x32, lam32 = model.step(mag32, x32, fixed32, lam32)
        return x32, lam32

    step = WindowStep(fn, model.name, int(model.card["layers"]) * passes, model.window_frames)
    step.model = model
    return step, model.cfg


def make_step(
    method: str | Path, cfg: StftConfig | None = None, iterations: int | None = None, threads: int = 1
) -> tuple[WindowStep, StftConfig]:
    """The window step of an iterative method or model, and the STFT settings it runs at."""
    path = model_file(method)
    if path is not None:
        step, model_cfg = model_step(path, passes=iterations or 1, threads=threads)
        if cfg is not None and cfg != model_cfg:
            raise InputError(
                f"{step.name} works at n_fft {model_cfg.n_fft}, hop {model_cfg.hop}, "
                f"d = {model_cfg.power:g}; "
                f"the input has n_fft {cfg.n_fft}, hop {cfg.hop}, d = {cfg.power:g}"
            )
        return step, model_cfg
    cfg = cfg or StftConfig()
    name = str(method)
    n_iter = DEFAULT_ITERATIONS if iterations is None else iterations
    if n_iter < 1:
        raise InputError(f"iterations per step must be at least 1, not {n_iter}")
    if name.startswith("admm-"):
        return admm_step(name, cfg, n_iter), cfg
    if name in ("gla", "fgla"):
        return gla_step(name, cfg, n_iter), cfg
    raise InputError(f"{name!r} is not a window-step method; streaming methods: {', '.join(method_names())}")


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
) -> FrameProcessor:
    """A ready processor for a method name or model path with look-ahead L and block size B.

    ``lookahead`` / ``block`` None: the settings a model trained inside the stream was trained at (its
    card's ``streaming`` entry), else L = 3 and B = 1.
    """
    if lookahead is None or block is None:
        lookahead, block = default_settings(method, lookahead, block)
    if lookahead < 0:
        raise InputError(f"look-ahead must be 0 or more frames, not {lookahead}")
    if block < 1:
        raise InputError(f"block size must be at least 1 frame, not {block}")
    if init not in INITS:
        raise InputError(f"unknown phase initialisation {init!r}; choose one of {', '.join(INITS)}")
    name = str(method)
    if name in ("rtpghi", "rtpghi-0", "rtpghi-1"):
        if iterations is not None:
            raise InputError("RTPGHI is not iterative: --iterations does not apply")
        causal = {"rtpghi": None, "rtpghi-0": True, "rtpghi-1": False}[name]
        if causal is False and lookahead < 1:
            raise InputError("rtpghi-1 has one hop of delay: it needs a look-ahead of at least 1")
        return RtpghiProcessor(cfg or StftConfig(), lookahead, block, causal=causal, seed=seed)
    if name == "rtisi-la":
        cfg = cfg or StftConfig()
        if iterations is None:
            n_window = lookahead + cfg.overlap + block - 1
            iterations = math.ceil(DEFAULT_ITERATIONS * n_window / (block * (lookahead + 1)))
        if iterations < 1:
            raise InputError(f"RTISI-LA needs at least 1 iteration per frame, not {iterations}")
        return RtisiLaProcessor(cfg, lookahead, block, n_iter=iterations)
    if model_file(method) is None and name not in CLASSICAL and not name.startswith("admm-"):
        import difflib

        close = difflib.get_close_matches(name, method_names(), n=3, cutoff=0.5)
        hint = f"; did you mean {', '.join(close)}?" if close else ""
        raise InputError(f"unknown streaming method {name!r}{hint} (choose from {', '.join(method_names())})")
    step, cfg = make_step(method, cfg, iterations, threads=threads)
    trained = (step.model.card.get("streaming") or {}) if step.model is not None else {}
    if "lookahead" in trained and (trained["lookahead"], trained.get("block", 1)) != (lookahead, block):
        raise InputError(
            f"{step.name} was trained inside the stream at look-ahead {trained['lookahead']}, block "
            f"{trained.get('block', 1)}; run it with those settings "
            f"(asked: look-ahead {lookahead}, block {block})"
        )
    try:
        return WindowProcessor(step, cfg, lookahead, block, init=init, silent_start=silent_start, seed=seed)
    except ValueError as exc:
        raise InputError(str(exc)) from None

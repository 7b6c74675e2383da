"""Test-split scores through the streaming engine (no torch): quality and one-thread real-time factor.

Every method (a streaming model, ``admm-l2`` with T iterations per step, RTISI-LA, RTPGHI) runs through
``phasefold.engine.streaming`` on the same frames, look-ahead and block (1); offline FGLA runs through
``engine.methods``. Quality from ``engine.metrics`` against the clean reference; the real-time factor is
compute time / audio time under ``engine.metrics.one_thread()``, wall clock and process CPU time (on a busy
machine the CPU figure is the better estimate of the cost).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from phasefold.engine.metrics import Stopwatch, evaluate_signal, one_thread
from phasefold.engine.streaming import Stream, make_processor
from phasefold.engine.streaming.offline import run_stream
from phasefold.training.evaluate import KEYS, condition_inputs


def stream_scores(
    method: str | Path,
    lookahead: int,
    condition: str = "exact_hop256",
    iterations: int | None = None,
    split: str = "test",
    backend: str = "auto",
) -> dict[str, float]:
    """Mean SC / STOI / ESTOI / PESQ and the one-thread RTF (wall, CPU) of a streaming method."""
    cfg, items = condition_inputs(condition, split)
    if not items:
        raise FileNotFoundError("shared TIMIT sample not found (../shared/data/timit-sample)")
    processor = make_processor(method, cfg, lookahead, 1, iterations=iterations, backend=backend)
    return _timed_scores(cfg, items, lambda i, x, r: run_stream(Stream(processor), r, x.size))


def offline_scores(method: str, n_iter: int, condition: str = "exact_hop256", split: str = "test") -> dict:
    """Mean scores and one-thread RTF of an offline method of engine.methods (file i: phase seed i)."""
    from phasefold.engine.methods import get_method, reconstruct

    cfg, items = condition_inputs(condition, split)
    entry = get_method(method)
    return _timed_scores(cfg, items, lambda i, x, r: reconstruct(entry, r, cfg, n_iter, i, x.size))


def _timed_scores(cfg, items, rebuild) -> dict[str, float]:
    """Mean scores over ``items`` [(clean, r)] of ``rebuild(i, clean, r) -> signal``, timed on one thread
    (only the rebuilding is timed, not the scoring)."""
    rows, wall, cpu, audio = [], 0.0, 0.0, 0.0
    for i, (x, r) in enumerate(items):
        with one_thread(), Stopwatch() as sw:
            y = rebuild(i, x, r)
        wall, cpu, audio = wall + sw.wall, cpu + sw.cpu, audio + x.size / cfg.sample_rate
        m = evaluate_signal(x, y, cfg, r=r)
        rows.append([m[k] for k in KEYS])
    out = {k: round(float(v), 4) for k, v in zip(KEYS, np.mean(rows, axis=0), strict=True)}
    out.update(rtf=round(wall / audio, 4), rtf_cpu=round(cpu / audio, 4))
    return out


def stream_card_metrics(model_path: Path, lookahead: int, conditions: tuple[str, ...]) -> dict:
    """Card metrics of a streaming model: test-split scores through the engine at its look-ahead."""
    return {
        "test": {c: stream_scores(model_path, lookahead, c) for c in conditions},
        "protocol": f"TIMIT test split (10 files) through the streaming engine (look-ahead {lookahead}, "
        "block 1, "
        "phase-advance start); modified: white noise at 5 dB, oracle Wiener mask, noise seed 1000 + index; "
        "metrics from engine.metrics against the clean reference; rtf = one-thread compute / audio time",
    }

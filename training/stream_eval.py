"""Test-split scores through the streaming engine (no torch): quality and one-thread real-time factor.

Every method (a streaming model, ``admm-l2`` with T iterations per step, RTISI-LA, RTPGHI) runs through
``phasefold.engine.streaming`` on the same frames, look-ahead and block (1). Files are measured and scored
by ``engine.evaluation.evaluate`` (noise seed 1000 + i, SC against the given measurements, the rest against
the clean reference); the real-time factor is compute time / audio time on one thread, wall clock and
process CPU time (on a busy machine the CPU figure is the better estimate of the cost). A card's metrics
run the model by its reference backend (its ONNX graph in onnxruntime).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from phasefold.engine.backends import ONNXRUNTIME
from phasefold.engine.evaluation import EvaluationProtocol
from phasefold.engine.stft import StftConfig
from phasefold.engine.streaming import FrameProcessor, Stream, make_processor
from phasefold.engine.streaming.offline import run_stream
from phasefold.training.evaluate import card_protocol, mean_scores, split_report


def stream_scores(
    method: str | Path,
    lookahead: int,
    condition: str = "exact_hop256",
    iterations: int | None = None,
    split: str = "test",
    backend: str = "auto",
) -> dict[str, float]:
    """Mean SC / STOI / ESTOI / PESQ and the one-thread RTF (wall, CPU: compute over audio time, summed
    over the files) of a streaming method."""
    protocol = EvaluationProtocol.condition(condition)
    processor = make_processor(method, protocol.cfg, lookahead, 1, iterations=iterations, backend=backend)
    report = split_report({str(method): processor}, condition, split, runner=_run_stream)
    rows = report["per_file"]
    audio = sum(row["duration"] for row in rows)
    out = mean_scores(rows)
    out.update(
        rtf=round(sum(row["seconds"] for row in rows) / audio, 4),
        rtf_cpu=round(sum(row["rtf_cpu"] * row["duration"] for row in rows) / audio, 4),
    )
    return out


def _run_stream(
    processor: FrameProcessor,
    mag: np.ndarray,
    cfg: StftConfig,
    n_iter: int | None,
    seed: int,
    length: int,
    backend: str,
) -> np.ndarray:
    """engine.evaluation.evaluate's runner for a stream: the measurements as the protocol made them (float64)
    through a fresh Stream (the processor's own iterations; it does not draw a start phase)."""
    return run_stream(Stream(processor), mag, length)


def stream_card_metrics(model_path: Path, lookahead: int, conditions: tuple[str, ...]) -> dict:
    """Card metrics of a streaming model: test-split scores through the engine at its look-ahead and its
    card's passes per step."""
    from phasefold.engine.model_card import ModelCard

    passes = ModelCard.read(model_path).stream_passes
    per_step = f"{passes} passes of the model per step, " if passes != 1 else ""
    start = f"the streaming engine (look-ahead {lookahead}, block 1, {per_step}phase-advance start)"
    return {
        "test": {c: stream_scores(model_path, lookahead, c, backend=ONNXRUNTIME) for c in conditions},
        "protocol": card_protocol(conditions, start)
        + "; the model's ONNX graph run by onnxruntime; rtf = one-thread compute / audio time",
    }

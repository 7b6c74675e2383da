"""Test-split scores through the streaming engine (no torch): quality and one-thread real-time factor.

Every method (a streaming model, ``admm-l2`` with T iterations per step, RTISI-LA, RTPGHI) runs through
``phasefold.engine.streaming`` on the same frames, look-ahead and block (1). Files are measured and
scored by ``engine.protocol`` (noise seed 1000 + i, SC against the given measurements, the rest against
the clean reference); the real-time factor is compute time / audio time under
``engine.metrics.one_thread()``, wall clock and process CPU time (on a busy machine the CPU figure is the
better estimate of the cost). A card's metrics run the model by its reference backend (its ONNX graph in
onnxruntime).
"""

from __future__ import annotations

from pathlib import Path

from phasefold.engine import dataset
from phasefold.engine.backends import ONNXRUNTIME
from phasefold.engine.metrics import Stopwatch, one_thread
from phasefold.engine.protocol import EvaluationProtocol
from phasefold.engine.streaming import Stream, make_processor
from phasefold.engine.streaming.offline import run_stream
from phasefold.training.evaluate import card_protocol, mean_scores


def stream_scores(
    method: str | Path,
    lookahead: int,
    condition: str = "exact_hop256",
    iterations: int | None = None,
    split: str = "test",
    backend: str = "auto",
) -> dict[str, float]:
    """Mean SC / STOI / ESTOI / PESQ and the one-thread RTF (wall, CPU) of a streaming method."""
    protocol = EvaluationProtocol.condition(condition)
    processor = make_processor(method, protocol.cfg, lookahead, 1, iterations=iterations, backend=backend)
    return _timed_scores(protocol, split, lambda i, x, r: run_stream(Stream(processor), r, x.size))


def _timed_scores(protocol: EvaluationProtocol, split: str, rebuild) -> dict[str, float]:
    """Mean scores over the split's files of ``rebuild(i, clean, r) -> signal``, timed on one thread
    (only the rebuilding is timed, not the scoring)."""
    files = dataset.split_files(split)
    if not files:
        raise FileNotFoundError("shared TIMIT sample not found (../shared/data/timit-sample)")
    rows, wall, cpu, audio = [], 0.0, 0.0, 0.0
    for i, x, r in protocol.items(files):
        with one_thread(), Stopwatch() as sw:
            y = rebuild(i, x, r)
        wall, cpu, audio = wall + sw.wall, cpu + sw.cpu, audio + x.size / protocol.cfg.sample_rate
        rows.append(protocol.scores(x, y, r))
    out = mean_scores(rows)
    out.update(rtf=round(wall / audio, 4), rtf_cpu=round(cpu / audio, 4))
    return out


def stream_card_metrics(model_path: Path, lookahead: int, conditions: tuple[str, ...]) -> dict:
    """Card metrics of a streaming model: test-split scores through the engine at its look-ahead."""
    start = f"the streaming engine (look-ahead {lookahead}, block 1, phase-advance start)"
    return {
        "test": {c: stream_scores(model_path, lookahead, c, backend=ONNXRUNTIME) for c in conditions},
        "protocol": card_protocol(conditions, start)
        + "; the model's ONNX graph run by onnxruntime; rtf = one-thread compute / audio time",
    }

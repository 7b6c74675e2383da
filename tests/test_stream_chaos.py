"""benchmarks.stream_chaos: each row streams with the phase start it is asked for (``--init``)."""

from __future__ import annotations

import numpy as np
import pytest
from phasefold.engine import evaluation
from phasefold.engine.stft import StftConfig, magnitude
from phasefold.engine.streaming import Stream, make_processor
from phasefold.engine.streaming.offline import run_stream

from benchmarks import stream_chaos

CFG = StftConfig()


@pytest.fixture
def one_file(monkeypatch):
    """A 0.3-s two-tone file as the split, scored by the signal itself (its sum of squares and its first
    samples), so that the benchmark's runs can be compared with streams run here."""
    t = np.arange(int(0.3 * CFG.sample_rate)) / CFG.sample_rate
    x = 0.3 * np.sin(2 * np.pi * 440 * t) + 0.2 * np.sin(2 * np.pi * 1250 * t * (1 + t))
    r = magnitude(x, CFG)
    monkeypatch.setattr(evaluation, "condition_inputs", lambda condition, split="test": (CFG, [(x, r)]))

    def signature(x, y, cfg, r=None):
        return {"sc_db": float(np.sum(y.astype(np.float64) ** 2)), "stoi": float(y[1000]), "estoi": 0.0,
                "pesq": float(y[2000])}  # fmt: skip

    monkeypatch.setattr(evaluation, "evaluate_signal", signature)
    return x, r


def _direct(x, r, init):
    proc = make_processor("fgla", CFG, 1, 1, iterations=2, init=init, backend="numpy")
    y = run_stream(Stream(proc), r, x.size)
    return float(np.sum(y.astype(np.float64) ** 2)), float(y[2000])


@pytest.mark.parametrize("init", ["advance", "rtpghi"])
def test_a_row_streams_with_the_start_it_is_given(one_file, init):
    x, r = one_file
    runs = stream_chaos.run_row("fgla:2:1", "numpy", "exact_hop256", 0, 1e-7, "test", init)
    assert (runs[0]["sc_db"], runs[0]["pesq"]) == _direct(x, r, init)


def test_the_two_starts_stream_differently(one_file):
    advance = stream_chaos.run_row("fgla:2:1", "numpy", "exact_hop256", 0, 1e-7, "test", "advance")
    rtpghi = stream_chaos.run_row("fgla:2:1", "numpy", "exact_hop256", 0, 1e-7, "test", "rtpghi")
    assert advance[0]["sc_db"] != rtpghi[0]["sc_db"]

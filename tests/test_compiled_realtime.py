"""Compiled RTISI-LA and RTPGHI (numba, FFTW) against the numpy processors.

The FFTs round differently from numpy's: one RTISI-LA frame agrees to about 1e-15, a whole stream (chaotic in
the last bit) by the magnitudes it reaches; RTPGHI's phases are the same bit for bit and its samples agree to
rounding."""

from __future__ import annotations

import numpy as np
import pytest
from phasefold.engine.compiled.pghi import CompiledRtpghiProcessor, integrate_compiled
from phasefold.engine.compiled.rtisi import CompiledRtisiLaProcessor
from phasefold.engine.demo import demo_signal
from phasefold.engine.stft import StftConfig, magnitude
from phasefold.engine.streaming import pghi
from phasefold.engine.streaming.pghi import RtpghiProcessor
from phasefold.engine.streaming.rtisi import RtisiLaProcessor
from phasefold.engine.streaming.steps import make_processor

CFG = StftConfig()


@pytest.fixture(scope="module")
def mags() -> np.ndarray:
    return magnitude(demo_signal(2.0), CFG)


def _stream(proc, mags: np.ndarray, block: int) -> np.ndarray:
    out = [proc.process(mags[i : i + block]) for i in range(0, mags.shape[0], block)]
    return np.concatenate([*out, proc.tail()])


def test_any_fft_size_runs_compiled():
    cfg = StftConfig(n_fft=896, hop=224)  # 7 * 128: FFTW plans any length
    assert make_processor("rtisi-la", cfg, 0, 1, backend="auto").backend == "compiled"
    r = magnitude(demo_signal(1.0), cfg)
    ref, fast = RtpghiProcessor(cfg, 0, 1, causal=True), CompiledRtpghiProcessor(cfg, 0, 1, causal=True)
    np.testing.assert_allclose(_stream(fast, r, 1), _stream(ref, r, 1), rtol=0, atol=1e-6)


def _relative_magnitude_error(a: np.ndarray, b: np.ndarray, cfg: StftConfig) -> float:
    ma, mb = magnitude(a, cfg), magnitude(b, cfg)
    return float(np.linalg.norm(ma - mb) / np.linalg.norm(ma))


@pytest.mark.parametrize("lookahead", [0, 1, 3])
@pytest.mark.parametrize("block", [1, 2])
@pytest.mark.parametrize("n_iter", [1, 4, 9])
def test_rtisila_matches_numpy(mags, lookahead, block, n_iter):
    ref = RtisiLaProcessor(CFG, lookahead, block, n_iter)
    fast = CompiledRtisiLaProcessor(CFG, lookahead, block, n_iter)
    for i in range(0, 8, block):  # the first frames, before rounding differences can grow: to rounding
        ref.process(mags[40 + i : 40 + i + block])
        fast.process(mags[40 + i : 40 + i + block])
    np.testing.assert_allclose(fast._y, ref._y, rtol=0, atol=1e-12)
    ref.reset()
    fast.reset()
    expected, got = _stream(ref, mags, block), _stream(fast, mags, block)
    assert np.abs(expected).max() > 0.1
    assert _relative_magnitude_error(expected, got, CFG) < 0.05  # the whole stream: the same magnitudes
    assert fast.projections_per_frame() == ref.projections_per_frame()
    assert fast.describe() == ref.describe()


@pytest.mark.parametrize(
    "cfg", [StftConfig(power=2.0), StftConfig(n_fft=768, hop=192), StftConfig(n_fft=512, hop=128)]
)
def test_rtisila_matches_numpy_other_settings_and_float32_input(cfg):
    r = magnitude(demo_signal(1.0), cfg).astype(np.float32)
    ref, fast = RtisiLaProcessor(cfg, 1, 2, 3), CompiledRtisiLaProcessor(cfg, 1, 2, 3)
    expected = _stream(ref, r, 2)
    assert _relative_magnitude_error(expected, _stream(fast, r, 2), cfg) < 0.05


@pytest.mark.parametrize("causal,lookahead", [(True, 0), (True, 1), (True, 3), (False, 1), (False, 3)])
@pytest.mark.parametrize("block", [1, 2])
def test_rtpghi_matches_numpy(mags, causal, lookahead, block):
    ref = RtpghiProcessor(CFG, lookahead, block, causal=causal, seed=3)
    fast = CompiledRtpghiProcessor(CFG, lookahead, block, causal=causal, seed=3)
    expected, got = _stream(ref, mags, block), _stream(fast, mags, block)
    assert np.abs(expected).max() > 0.1
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-6)
    np.testing.assert_array_equal(fast._pghi.phase, ref._pghi.phase)
    assert fast._pghi.rng.random() == ref._pghi.rng.random()  # the same random draws were taken


@pytest.mark.parametrize("causal", [True, False])
def test_rtpghi_matches_numpy_with_silence_power_2_and_float32(causal):
    cfg = StftConfig(power=2.0)
    r = magnitude(demo_signal(1.0), cfg).astype(np.float32)
    r[20:40] = 0.0  # digital silence: every bin below tolerance, then the heap restarts from scratch
    r[60:63, 100:] = 0.0
    ref = RtpghiProcessor(cfg, 1, 2, causal=causal)
    fast = CompiledRtpghiProcessor(cfg, 1, 2, causal=causal)
    np.testing.assert_allclose(_stream(fast, r, 2), _stream(ref, r, 2), rtol=0, atol=1e-6)


def _integration_case(seed: int, silent_prev: bool):
    rng = np.random.default_rng(seed)
    k = CFG.n_bins
    logs_cur = np.round(rng.normal(-3.0, 2.0, k), 1)  # coarse values: many exact ties
    logs_cur[rng.choice(k, 40, replace=False)] = -40.0  # below tolerance: random phase
    if silent_prev:
        logs_prev = np.full(k, np.log(np.finfo(float).tiny))
    else:
        logs_prev = np.round(rng.normal(-3.0, 2.0, k), 1)
        logs_prev[rng.choice(k, 60, replace=False)] = -45.0
        logs_prev[:5] = logs_prev.max()  # ties at the top of the heap
    logs_nm2 = np.round(rng.normal(-3.0, 2.0, k), 1)
    return (
        logs_prev,
        logs_cur,
        pghi.time_gradient(logs_prev, CFG),
        pghi.time_gradient(logs_cur, CFG),
        pghi.freq_gradient(logs_nm2, logs_prev, logs_cur, CFG, causal=True),
        rng.uniform(-50.0, 50.0, k),
    )


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("silent_prev", [False, True])
def test_heap_integration_equals_heapq(seed, silent_prev):
    args = _integration_case(seed, silent_prev)
    rng_ref, rng_fast = np.random.default_rng(seed), np.random.default_rng(seed)
    expected = pghi.integrate(*args, rng_ref)
    phase_prev = args[-1].copy()
    got = integrate_compiled(*args, rng_fast)
    np.testing.assert_array_equal(got, expected)
    np.testing.assert_array_equal(args[-1], phase_prev)  # the previous phase is left alone
    assert rng_fast.random() == rng_ref.random()


def test_heap_integration_with_a_loose_tolerance():
    args = _integration_case(11, False)
    expected = pghi.integrate(*args, np.random.default_rng(1), tol=1e-2)
    np.testing.assert_array_equal(integrate_compiled(*args, np.random.default_rng(1), tol=1e-2), expected)


@pytest.mark.parametrize(
    "make",
    [
        lambda: CompiledRtisiLaProcessor(CFG, 1, 2, 4),
        lambda: CompiledRtpghiProcessor(CFG, 0, 2, causal=True),
        lambda: CompiledRtpghiProcessor(CFG, 1, 2, causal=False),
    ],
)
def test_reset_reproduces_the_first_output(mags, make):
    proc = make()
    first = _stream(proc, mags[:60], 2)
    proc.process(mags[60:64])  # leave state behind
    proc.reset()
    np.testing.assert_array_equal(_stream(proc, mags[:60], 2), first)

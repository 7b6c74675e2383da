"""The metrics module against independent references (direct pystoi/pesq calls, closed forms)."""

import numpy as np
import pytest
import soxr
from phasefold.engine.errors import InputError
from phasefold.engine.evaluation import (
    Stopwatch,
    estoi,
    evaluate_signal,
    one_thread,
    pesq_wb,
    real_time_factor,
    spectral_convergence_db,
    stoi,
)
from phasefold.engine.stft import StftConfig, magnitude


def test_spectral_convergence_closed_forms(speech):
    cfg = StftConfig()
    r = magnitude(speech, cfg)
    # |A(a x)| - |A x| = (a - 1)|A x|, so SC = 20 log10 |a - 1|
    assert spectral_convergence_db(0.5 * speech, r, cfg) == pytest.approx(20 * np.log10(0.5), abs=1e-9)
    assert spectral_convergence_db(-speech, r, cfg) < -250  # the sign (a global phase) is invisible
    rng = np.random.default_rng(0)
    other = rng.standard_normal(speech.size) * 0.01
    direct = np.linalg.norm(magnitude(other, cfg) - r) / np.linalg.norm(r)
    assert spectral_convergence_db(other, r, cfg) == pytest.approx(20 * np.log10(direct), rel=1e-12)
    with pytest.raises(InputError, match="frames"):
        spectral_convergence_db(speech[:5000], r, cfg)
    with pytest.raises(InputError, match="silent"):
        spectral_convergence_db(speech, np.zeros_like(r), cfg)


def test_stoi_and_estoi_match_pystoi(speech):
    from pystoi import stoi as reference

    rng = np.random.default_rng(1)
    noisy = speech + 0.02 * rng.standard_normal(speech.size)
    assert stoi(speech, noisy, 22050) == pytest.approx(reference(speech, noisy, 22050, extended=False))
    assert estoi(speech, noisy, 22050) == pytest.approx(reference(speech, noisy, 22050, extended=True))
    assert stoi(speech, speech, 22050) == pytest.approx(1.0, abs=1e-6)
    assert stoi(speech, noisy, 22050) < 0.99


def test_pesq_wideband_resamples_to_16k():
    from pesq import pesq as reference
    from phasefold.engine.demo import demo_signal

    ref16 = demo_signal(3.0, sr=16000)
    rng = np.random.default_rng(2)
    deg16 = ref16 + 0.01 * rng.standard_normal(ref16.size)
    direct = reference(16000, ref16, deg16, "wb")
    assert pesq_wb(ref16, deg16, 16000) == pytest.approx(direct, abs=1e-9)
    ref22 = soxr.resample(ref16, 16000, 22050)
    deg22 = soxr.resample(deg16, 16000, 22050)
    assert pesq_wb(ref22, deg22, 22050) == pytest.approx(direct, abs=0.1)
    assert pesq_wb(ref22, ref22, 22050) > 4.5 > direct


def test_evaluate_signal_and_errors(speech):
    cfg = StftConfig()
    scores = evaluate_signal(speech, 0.9 * speech, cfg)
    assert set(scores) == {"sc_db", "stoi", "estoi", "pesq"}
    assert scores["sc_db"] == pytest.approx(-20.0, abs=1e-9)
    with pytest.raises(InputError, match="differ in length"):
        evaluate_signal(speech, speech[:-1], cfg)
    with pytest.raises(InputError, match="NaN"):
        stoi(speech, np.full(speech.size, np.nan), 22050)
    with pytest.raises(InputError, match="PESQ"):
        pesq_wb(np.zeros(32000), np.zeros(32000), 16000)


def test_one_thread_limits_blas_pools():
    from threadpoolctl import threadpool_info

    with one_thread():
        assert all(pool["num_threads"] == 1 for pool in threadpool_info())


def test_stopwatch_and_rtf():
    with Stopwatch() as sw:
        sum(i * i for i in range(200000))
    assert sw.wall > 0 and sw.cpu > 0
    assert real_time_factor(0.5, 22050, 22050) == pytest.approx(0.5)
    with pytest.raises(InputError):
        real_time_factor(1.0, 0, 22050)

"""RTPGHI (Průša & Søndergaard): phase gradients against the true STFT phase, heap integration, quality."""

from __future__ import annotations

import numpy as np
import pytest
from phasefold.engine.stft import StftConfig, istft, stft
from phasefold.engine.streaming import Stream, pghi

SR = 22050


def _speechlike(n: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(n) / SR
    f0 = 120 + 40 * np.sin(2 * np.pi * 0.8 * t)
    phase = 2 * np.pi * np.cumsum(f0) / SR
    env = 0.3 + 0.7 * np.sin(2 * np.pi * 2.5 * t) ** 2
    return 0.2 * env * sum(np.sin(h * phase) / h for h in range(1, 15)) + 0.005 * rng.standard_normal(n)


def _wrap(a):
    return np.angle(np.exp(1j * a))


def test_time_gradient_matches_the_phase_advance_of_a_sinusoid():
    cfg = StftConfig()
    f0_bin = 40.3
    x = np.cos(2 * np.pi * f0_bin * np.arange(SR) / cfg.n_fft + 0.3)
    spec = stft(x, cfg)
    tgrad = pghi.time_gradient(pghi.log_magnitude(np.abs(spec[30]), cfg), cfg)
    true = np.angle(spec[31] / spec[30])  # the STFT's own phase advance (exactly 2 pi f0 H / N)
    for k in (40, 41):  # the two bins around the peak
        assert abs(_wrap(tgrad[k] - true[k])) < 0.3
    # without the log-magnitude term the estimate would be off by pi/2 per bin of distance
    assert abs(_wrap(2 * np.pi * cfg.hop * 41 / cfg.n_fft - true[41])) > 1.0


def test_frequency_gradient_locates_an_impulse():
    cfg = StftConfig()
    x = np.zeros(SR)
    t0 = 10037
    x[t0] = 1.0
    spec = stft(x, cfg)
    p = t0 + cfg.pad
    n = (p - cfg.n_fft // 2) // cfg.hop  # frame whose centre is just before the impulse
    logs = [pghi.log_magnitude(np.abs(spec[i]), cfg) for i in (n - 1, n, n + 1)]
    fgrad = pghi.freq_gradient(*logs, cfg, causal=False)  # centred: at the middle frame n
    centred = spec[n] * (-1.0) ** np.arange(cfg.n_bins)  # DFT about the window centre
    true = np.angle(centred[1:] / centred[:-1])
    assert np.allclose(true[50:400], 2 * np.pi * (n * cfg.hop + cfg.n_fft // 2 - p) / cfg.n_fft)
    np.testing.assert_allclose(fgrad[50:400], true[50:400], atol=0.06)
    # the backward difference (variant 0) estimates the gradient at the newest frame n + 1, less well
    causal = pghi.freq_gradient(*logs, cfg, causal=True)
    true_next = 2 * np.pi * ((n + 1) * cfg.hop + cfg.n_fft // 2 - p) / cfg.n_fft
    np.testing.assert_allclose(causal[50:400], true_next, atol=0.4)
    assert np.abs(causal[100] - true_next) > np.abs(fgrad[100] - true[100])


def test_heap_integration_follows_a_chirp_and_randomises_silent_bins():
    cfg = StftConfig()
    t = np.arange(SR) / SR
    x = np.cos(2 * np.pi * (500 * t + 300 * t**2))
    spec = stft(x, cfg)
    n = 40
    logs = [pghi.log_magnitude(np.abs(spec[i]), cfg) for i in (n - 1, n, n + 1)]
    tg = [pghi.time_gradient(v, cfg) for v in logs]
    fgrad = pghi.freq_gradient(*logs, cfg, causal=False)
    prev = pghi.to_centred(np.angle(spec[n - 1]))
    rng = np.random.default_rng(0)
    phase = pghi.from_centred(pghi.integrate(logs[0], logs[1], tg[0], tg[1], fgrad, prev, rng))
    strong = np.abs(spec[n]) > 0.3 * np.abs(spec[n]).max()
    assert strong.sum() >= 2
    err = _wrap(phase - np.angle(spec[n]))[strong]
    assert np.abs(err).max() < 0.5
    # bins below tol * max get a random phase: a frame with one loud bin keeps every phase finite
    loud = np.full(cfg.n_bins, np.log(1e-12))
    loud[100] = 0.0
    out = pghi.integrate(loud, loud, tg[0], tg[1], fgrad, prev, rng, tol=1e-6)
    assert np.all(np.isfinite(out))
    assert out[100] == pytest.approx(prev[100] + 0.5 * (tg[0][100] + tg[1][100]))


def test_one_hop_of_delay_beats_no_delay_on_speech():
    cfg = StftConfig()
    x = _speechlike(3 * SR)
    mag = np.abs(stft(x, cfg))

    def sc(name, lookahead):
        s = Stream.open(name, cfg, lookahead=lookahead)
        out = np.concatenate([s.push(mag), s.flush()])
        y = out[cfg.pad + lookahead * cfg.hop :][: x.size]
        return 20 * np.log10(np.linalg.norm(np.abs(stft(y, cfg)) - mag) / np.linalg.norm(mag))

    sc0, sc1 = sc("rtpghi-0", 0), sc("rtpghi-1", 1)
    # baseline: the same magnitudes with random phases, overlap-added once
    rand = np.exp(2j * np.pi * np.random.default_rng(0).random(mag.shape))
    y = istft(mag * rand, cfg, x.size)
    sc_random = 20 * np.log10(np.linalg.norm(np.abs(stft(y, cfg)) - mag) / np.linalg.norm(mag))
    assert sc1 < sc0 - 1.0
    assert sc0 < sc_random - 5.0

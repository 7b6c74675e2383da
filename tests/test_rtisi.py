"""RTISI-LA against a direct transcription of the algorithm (Zhu, Beauregard, Wyse 2007 / ltfat rtisila)."""

from __future__ import annotations

import numpy as np
from phasefold.engine.stft import StftConfig, stft, window
from phasefold.engine.streaming import Stream
from phasefold.engine.streaming.rtisi import asymmetric_windows


def _reference_rtisila(mag: np.ndarray, cfg: StftConfig, lookahead: int, n_iter: int) -> np.ndarray:
    """Slow RTISI-LA: a list of per-frame contributions; every overlay sums the overlapping frames."""
    n, h, r = cfg.n_fft, cfg.hop, cfg.overlap
    w = window(cfg)
    # analysis windows of the newest frame: overlap of the synthesis windows of the frames after it
    first = sum(np.concatenate([np.zeros(j * h), w[: n - j * h]]) for j in range(1, r))
    later = first + w
    n_frames = mag.shape[0]
    total = n_frames + lookahead
    contrib = np.zeros((total, n))
    targets = np.vstack([mag, np.zeros((lookahead, cfg.n_bins))])
    out = np.zeros((total + r - 1) * h)

    def overlay(j: int) -> np.ndarray:
        seg = np.zeros(n)
        for i in range(max(0, j - r + 1), min(total, j + r)):
            off = (i - j) * h
            if off >= 0:
                seg[off:] += contrib[i, : n - off]
            else:
                seg[: n + off] += contrib[i, -off:]
        return seg

    for m in range(total):  # frame m arrives (frames past the end are silent)
        for it in range(n_iter):
            for j in range(m, m - lookahead - 1, -1):
                if j < 0:
                    continue
                win = (first if it == 0 else later) if j == m else w
                spec = np.fft.rfft(overlay(j) * win, norm="ortho")
                a = np.abs(spec)
                unit = np.where(a > 0, spec / np.where(a > 0, a, 1), 1.0)
                contrib[j] = np.fft.irfft(targets[j] * unit, n=n, norm="ortho") * w
    for i in range(total):
        out[i * h : i * h + n] += contrib[i]
    return out


def _speechlike(n: int) -> np.ndarray:
    t = np.arange(n) / 22050
    phase = 2 * np.pi * np.cumsum(130 + 25 * np.sin(2 * np.pi * t)) / 22050
    return 0.2 * sum(np.sin(k * phase) / k for k in range(1, 10)) * (0.4 + np.sin(2 * np.pi * 2 * t) ** 2)


def test_asymmetric_windows():
    cfg = StftConfig()
    first, later = asymmetric_windows(cfg)
    np.testing.assert_allclose(later - first, window(cfg))
    assert np.all(first[: cfg.hop] == 0.0)  # no later frame reaches the first hop of the newest frame


def test_streaming_rtisila_equals_the_direct_transcription():
    cfg = StftConfig()
    mag = np.abs(stft(_speechlike(4000), cfg))
    lookahead, n_iter = 2, 3
    s = Stream.open("rtisi-la", cfg, lookahead=lookahead, iterations=n_iter)
    out = np.concatenate([s.push(mag), s.flush()])
    ref = _reference_rtisila(mag, cfg, lookahead, n_iter)
    # hop j of the padded signal is output at j + L, once frame j + L has arrived; the reference goes on
    # with silent frames past the end, so compare the hops emitted while the stream's frames arrived
    delay = lookahead * cfg.hop
    n_final = (mag.shape[0] - lookahead) * cfg.hop
    assert np.abs(ref[:n_final]).max() > 0.1
    np.testing.assert_allclose(out[delay : delay + n_final], ref[:n_final], atol=2e-6)


def test_look_ahead_improves_consistency():
    cfg = StftConfig()
    x = _speechlike(2 * 22050)
    mag = np.abs(stft(x, cfg))

    def sc(lookahead: int) -> float:
        s = Stream.open("rtisi-la", cfg, lookahead=lookahead, iterations=4)
        out = np.concatenate([s.push(mag), s.flush()])
        y = out[cfg.pad + lookahead * cfg.hop :][: x.size]
        return 20 * np.log10(np.linalg.norm(np.abs(stft(y, cfg)) - mag) / np.linalg.norm(mag))

    assert sc(3) < sc(0) - 2.0

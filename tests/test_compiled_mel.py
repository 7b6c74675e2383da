"""The compiled mel-consistent FGLA (engine.compiled.mel) against the numpy reference (engine.mel_gla).

Tolerance (relative L2 error of the output): float64 to 1e-10 (rounding only: the same iteration in
another order of sums); float32 to 2e-4 after 30 iterations (float32 rounding, about 1e-7 a step,
compounded by the momentum: 1e-5 measured on every preset).
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import phasefold
import pytest
from phasefold.engine.mel import PRESETS, linear_mel, melspectrogram
from phasefold.engine.mel_gla import mel_fgla, mel_gla

pytest.importorskip("numba")
pytest.importorskip("pyfftw")

# every pad the STFT does: none (hifigan: outside reflection only), reflect, zeros, edge
CONFIGS = {
    "hifigan": PRESETS["hifigan"],
    "espnet": PRESETS["espnet"],
    "librosa": PRESETS["librosa"],
    "vocos-edge": replace(PRESETS["vocos"], stft=replace(PRESETS["vocos"].stft, pad_mode="edge")),
}


def voiced(sr: int, seconds: float = 0.6) -> np.ndarray:
    t = np.arange(int(seconds * sr)) / sr
    rng = np.random.default_rng(3)
    return 0.1 * np.sin(2 * np.pi * 180 * t * (1 + 0.4 * t)) + 0.01 * rng.standard_normal(t.size)


def relative_error(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.linalg.norm(a - b) / np.linalg.norm(b))


@pytest.mark.parametrize("name", CONFIGS)
@pytest.mark.parametrize(("n_iter", "precision", "rtol"), [(0, np.float64, 1e-10), (30, np.float64, 1e-10),
                                                           (30, np.float32, 2e-4)])  # fmt: skip
def test_compiled_equals_numpy(name, n_iter, precision, rtol):
    cfg = CONFIGS[name]
    mel = linear_mel(melspectrogram(voiced(cfg.stft.sample_rate), cfg), cfg)
    ref = mel_fgla(mel, cfg, n_iter, seed=2, length=7000)
    out = mel_gla(mel, cfg, n_iter, seed=2, length=7000, backend="compiled", precision=precision)
    assert out.shape == ref.shape == (7000,)
    assert relative_error(out, ref) < rtol


def test_mel_to_audio_runs_compiled_in_the_input_precision():
    """phasefold.mel_to_audio: the compiled step in float64 where the mel and the output are float64, else
    in float32 (a float64 mel with the default float32 output included)."""
    cfg = PRESETS["hifigan"]
    mel = melspectrogram(voiced(cfg.stft.sample_rate), cfg)
    lin = linear_mel(mel, cfg)
    for dtype in (np.float32, np.float64):
        y = phasefold.mel_to_audio(mel.astype(dtype), preset="hifigan", n_iter=10, dtype=np.float64)
        expected = mel_gla(linear_mel(mel.astype(dtype), cfg), cfg, 10, backend="compiled", precision=dtype)
        np.testing.assert_array_equal(y, expected)
    narrow = phasefold.mel_to_audio(mel.astype(np.float64), preset="hifigan", n_iter=10)
    expected = mel_gla(lin, cfg, 10, backend="compiled", precision=np.float32)
    np.testing.assert_array_equal(narrow, expected.astype(np.float32))
    numpy_ref = mel_fgla(lin, cfg, 10)
    assert relative_error(phasefold.mel_to_audio(mel, preset="hifigan", n_iter=10, dtype=np.float64),
                          numpy_ref) < 1e-10  # fmt: skip


@pytest.mark.parametrize("n_fft", [256, 1024])
@pytest.mark.parametrize("shift", [-20, 0, 12])
def test_benchmark_lag_reads_a_known_shift(n_fft, shift):
    """benchmarks.mel_vs_librosa.lag: a copy of audio with onsets delayed by d samples reads d, at either
    window (the lag measured on the mel's own window is a measure, not a constant)."""
    from benchmarks.mel_vs_librosa import lag

    rng = np.random.default_rng(5)
    onsets = np.zeros(22050)
    onsets[rng.choice(22050 - 2000, 12, replace=False)] = rng.uniform(0.5, 1.0, 12)
    envelope = np.convolve(onsets, np.exp(-np.arange(2000) / 300.0))[:22050]  # struck, decaying notes
    x = envelope * rng.standard_normal(22050)
    late = np.zeros_like(x)
    if shift >= 0:
        late[shift:] = x[: x.size - shift]
    else:
        late[:shift] = x[-shift:]
    assert lag(x, late, n_fft) == shift


@pytest.mark.parametrize("name", ["hifigan", "espnet"])
@pytest.mark.parametrize("n_frames", [1, 2, 5])
def test_short_mels_equal_numpy(name, n_frames):
    """A mel of a few frames (spans shorter than the padding's reach): the compiled kernel and numpy agree,
    and the numpy backend of mel_gla is mel_fgla from the same seed."""
    cfg = PRESETS[name]
    mel = np.random.default_rng(n_frames).uniform(0.01, 1.0, (n_frames, cfg.n_mels))
    ref = mel_fgla(mel, cfg, 12, seed=4)
    np.testing.assert_array_equal(mel_gla(mel, cfg, 12, seed=4, backend="numpy"), ref)
    out = mel_gla(mel, cfg, 12, seed=4, backend="compiled")
    # a centred frame alone holds one sample, about 1e-27: rounding noise, hence the absolute tolerance
    np.testing.assert_allclose(out, ref, rtol=1e-9, atol=1e-12 * np.max(mel))


@pytest.mark.parametrize("name", ["hifigan", "espnet", "vocos-edge"])
@pytest.mark.parametrize("method", ["gla", "admm-l2", "admm-kl", "admm-kl-right", "admm-is"])
def test_compiled_mel_methods_equal_numpy(name, method):
    """GLA and ADMM with the mel step (engine.mel_gla: gla_iterations / admm_iterations with MelStep) on the
    compiled kernels equal the numpy reference to rounding (float64), from the same seed. ADMM at 6
    iterations: at a reflect-padded edge (the padding made again from the signal after each least-squares
    step, not itself a projection) its rounding differences grow about 5-fold an iteration (espnet,
    admm-l2: 1e-13 after 8 iterations, 1e-9 after 16, 5e-5 after 20, measured), bounded, in both."""
    cfg = CONFIGS[name]
    mel = linear_mel(melspectrogram(voiced(cfg.stft.sample_rate), cfg), cfg)
    n_iter = 20 if method == "gla" else 6
    ref = mel_gla(mel, cfg, n_iter, seed=2, length=7000, backend="numpy", method=method)
    out = mel_gla(mel, cfg, n_iter, seed=2, length=7000, backend="compiled", method=method)
    assert out.shape == ref.shape == (7000,)
    assert relative_error(out, ref) < 1e-9


def test_compiled_mel_admm_float32():
    """float32 ADMM-l2 with the mel step: the float64 reference to float32 rounding (2e-4, as FGLA)."""
    cfg = PRESETS["hifigan"]
    mel = linear_mel(melspectrogram(voiced(cfg.stft.sample_rate), cfg), cfg)
    ref = mel_gla(mel, cfg, 30, seed=1, backend="numpy", method="admm-l2")
    out = mel_gla(mel, cfg, 30, seed=1, backend="compiled", precision=np.float32, method="admm-l2")
    assert relative_error(out, ref) < 2e-4


def test_numerical_prox_runs_in_numpy_under_auto():
    """A loss whose prox is numerical (beta = 0.5) has no compiled mel step: auto runs numpy, compiled says
    so in one line."""
    from phasefold.engine.errors import BackendError

    cfg = PRESETS["hifigan"]
    mel = np.random.default_rng(0).uniform(0.01, 1.0, (6, cfg.n_mels))
    ref = mel_gla(mel, cfg, 3, backend="numpy", method="admm-beta0.5")
    np.testing.assert_array_equal(mel_gla(mel, cfg, 3, backend="auto", method="admm-beta0.5"), ref)
    with pytest.raises(BackendError, match="closed-form proxes only"):
        mel_gla(mel, cfg, 3, backend="compiled", method="admm-beta0.5")

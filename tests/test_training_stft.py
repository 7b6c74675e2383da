import numpy as np
import pytest

torch = pytest.importorskip("torch")

from phasefold.engine import stft as E  # noqa: E402
from phasefold.training import stft as T  # noqa: E402


@pytest.mark.parametrize(
    "settings", [{"hop": 256}, {"hop": 512}, {"n_fft": 512, "hop": 128, "sample_rate": 16000}]
)
@pytest.mark.parametrize("length", [1000, 22050 + 77])
def test_torch_stft_equals_engine_stft(settings, length):
    cfg = E.StftConfig(**settings)
    rng = np.random.default_rng(length)
    x = rng.standard_normal(length).astype(np.float32)
    ref = E.stft(x, cfg)
    got = T.stft(torch.from_numpy(x), cfg).numpy()
    assert got.shape == ref.shape
    np.testing.assert_allclose(got, ref, atol=2e-6 * np.abs(ref).max())
    y = (rng.standard_normal(ref.shape) + 1j * rng.standard_normal(ref.shape)).astype(np.complex64)
    np.testing.assert_allclose(
        T.istft(torch.from_numpy(y), cfg, length).numpy(), E.istft(y, cfg, length), atol=2e-5
    )


@pytest.mark.parametrize("settings", [{}, {"n_fft": 512, "hop": 128, "sample_rate": 16000}])
def test_window_helpers_match_and_batch(settings):
    cfg = E.StftConfig(**settings)
    rng = np.random.default_rng(3)
    span = rng.standard_normal((2, cfg.span(6))).astype(np.float32)
    spec = T.analyze(torch.from_numpy(span), cfg)
    np.testing.assert_allclose(spec.numpy(), E.analyze(span, cfg), atol=1e-5)
    np.testing.assert_allclose(T.synthesize(spec, cfg).numpy(), E.synthesize(spec.numpy(), cfg), atol=1e-5)
    np.testing.assert_allclose(T.coverage(6, cfg).numpy(), E.coverage(6, cfg), atol=1e-7)
    fixed = T.fixed_mask(1000, cfg).numpy()
    assert fixed.size == cfg.span(cfg.n_frames(1000)) and fixed.sum() == fixed.size - 1000
    assert not fixed[cfg.pad : cfg.pad + 1000].any()

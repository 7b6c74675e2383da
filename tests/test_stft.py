import numpy as np
import pytest
from phasefold.engine.stft import StftConfig, analyze, coverage, istft, stft, synthesize, window


def _inner(a: np.ndarray, b: np.ndarray, cfg: StftConfig) -> float:
    """Real inner product of half spectra induced by the full Hermitian spectrum."""
    c = np.full(cfg.n_bins, 2.0)
    c[0] = c[-1] = 1.0
    return float(np.sum(c * np.real(np.conj(a) * b)))


@pytest.mark.parametrize("hop", [256, 512])
def test_window_is_tight(hop):
    cfg = StftConfig(hop=hop)
    cov = coverage(12, cfg)
    interior = cov[cfg.pad : cov.size - cfg.pad]
    np.testing.assert_allclose(interior, 1.0, atol=1e-12)
    assert window(cfg).shape == (1024,)


@pytest.mark.parametrize("hop", [256, 512])
@pytest.mark.parametrize("length", [1, 1000, 22050, 22050 + 123])
def test_adjoint_identity(hop, length):
    cfg = StftConfig(hop=hop)
    rng = np.random.default_rng(hop + length)
    x = rng.standard_normal(length)
    n_frames = cfg.n_frames(length)
    y = rng.standard_normal((n_frames, cfg.n_bins)) + 1j * rng.standard_normal((n_frames, cfg.n_bins))
    lhs = _inner(stft(x, cfg), y, cfg)
    rhs = float(np.dot(x, istft(y, cfg, length)))
    assert lhs == pytest.approx(rhs, rel=1e-10, abs=1e-9)


@pytest.mark.parametrize("hop", [256, 512])
def test_perfect_reconstruction_and_frame_count(hop):
    cfg = StftConfig(hop=hop)
    rng = np.random.default_rng(0)
    x = rng.standard_normal(5000)
    spec = stft(x, cfg)
    assert spec.shape == (cfg.n_frames(5000), 513)
    np.testing.assert_allclose(istft(spec, cfg, x.size), x, atol=1e-12)
    # A^H A = I also means the frame preserves energy (Parseval with the Hermitian weights)
    assert _inner(spec, spec, cfg) == pytest.approx(float(x @ x), rel=1e-12)


def test_window_analysis_synthesis_is_adjoint():
    cfg = StftConfig()
    rng = np.random.default_rng(1)
    span = rng.standard_normal(cfg.span(7))
    y = rng.standard_normal((7, cfg.n_bins)) + 1j * rng.standard_normal((7, cfg.n_bins))
    assert _inner(analyze(span, cfg), y, cfg) == pytest.approx(float(span @ synthesize(y, cfg)), rel=1e-10)


def test_rejects_bad_settings():
    with pytest.raises(ValueError):
        StftConfig(hop=300)
    with pytest.raises(ValueError):
        StftConfig(power=3)
    with pytest.raises(ValueError):
        istft(np.zeros((3, 513), complex), StftConfig(), 100000)

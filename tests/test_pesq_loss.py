"""phasefold.training.pesq_loss: its resampler and IIR stand-in against scipy, its ranking against the real
wide-band PESQ (the `pesq` package), its gradient, and its zero for an unchanged signal."""

import numpy as np
import pytest
import scipy.signal as ss

torch = pytest.importorskip("torch")

from phasefold.engine.demo import demo_signal  # noqa: E402
from phasefold.training import pesq_loss as pl  # noqa: E402
from phasefold.training.stoi import resample  # noqa: E402

SR = 22050


def _mos(clean: torch.Tensor, est: torch.Tensor) -> torch.Tensor:
    """[B] MOS-like estimate, torch-pesq's mos(): P.862.2's mapping of 4.5 - disturbance, in (1, 5)."""
    mos = 4.5 - pl.pesq_disturbance(clean, est, SR)
    return 0.999 + 4.0 / (1.0 + torch.exp(-1.3669 * mos + 3.8224))


def _noisy(x: np.ndarray, snr_db: float, rng: np.random.Generator) -> np.ndarray:
    return x + np.sqrt(np.mean(x**2) / 10 ** (snr_db / 10)) * rng.standard_normal(x.size)


def test_resampler_equals_scipy_resample_poly():
    x = np.random.default_rng(0).standard_normal((2, 9001))
    want = ss.resample_poly(x, 320, 441, axis=-1)
    got = resample(torch.from_numpy(x), SR, 16000, design="scipy")
    assert got.shape == want.shape
    np.testing.assert_allclose(got.numpy(), want, rtol=0, atol=1e-12)
    got32 = resample(torch.from_numpy(x).float(), SR, 16000, design="scipy")
    np.testing.assert_allclose(got32.numpy(), want, rtol=0, atol=1e-5)
    with pytest.raises(ValueError, match="design"):
        resample(torch.from_numpy(x), SR, 16000, design="sinc")


@pytest.mark.parametrize("coefficients", [pl.POWER_FILTER, pl.PRE_FILTER], ids=["band-pass", "pre-emphasis"])
def test_fft_iir_equals_scipy_lfilter(coefficients):
    """The FFT-domain filter equals lfilter over the whole signal, edges included (zero initial state):
    to 1e-9 of the output's peak in float64 (3e-11 and 2e-14 seen), 1e-5 in float32 (3e-7 seen)."""
    b, a = coefficients
    x = np.random.default_rng(1).standard_normal((2, 12345))
    want = ss.lfilter(b, a, x, axis=-1)
    peak = np.abs(want).max()
    got = pl.iir_filter(torch.from_numpy(x), b, a).numpy()
    assert np.abs(got - want).max() < 1e-9 * peak
    got32 = pl.iir_filter(torch.from_numpy(x).float(), b, a).numpy()
    assert np.abs(got32 - want).max() < 1e-5 * peak


def _calibration_signals(source: str, request) -> list[np.ndarray]:
    """Three utterances: TIMIT validation files, or three 3-second excerpts of the built-in demo."""
    from phasefold.engine.demo import demo_signal
    from phasefold.engine.inputs import load_audio

    if source == "demo":
        full = demo_signal(9.0)
        return [full[k * 3 * SR : (k + 1) * 3 * SR] for k in range(3)]
    timit_dir = request.getfixturevalue("timit_dir")
    files = [timit_dir / f"{name}.wav" for name in ("si1624", "si1640", "si1669")]
    if not all(f.exists() for f in files):
        pytest.skip("validation files si1624, si1640, si1669 not in the shared TIMIT sample")
    return [load_audio(f)[0] for f in files]


@pytest.mark.parametrize(
    "source, max_error",
    [
        # observed on si1624, si1640, si1669: Spearman 0.986, surrogate MOS within 0.075 of PESQ on
        # average, 0.17 at most (P.862.2 mapping of torch-pesq, no time alignment)
        ("timit", 0.35),
        # observed on the demo (runs without the shared data): Spearman 0.977, 0.076 on average, 0.42 at most
        ("demo", 0.5),
    ],
)
def test_ranks_degradations_as_the_real_wideband_pesq(source, max_error, request):
    """White noise at 0/10/20/30 dB SNR and Griffin-Lim with 3 and 30 iterations, scored by the real
    wide-band PESQ (1.0 .. 3.7) and by the surrogate: same ranking, MOS close on average."""
    from pesq import pesq
    from phasefold.engine.algorithms import gla
    from phasefold.engine.stft import StftConfig, magnitude
    from scipy.stats import spearmanr

    cfg = StftConfig()
    real, surrogate, mos = [], [], []
    for x in _calibration_signals(source, request):
        rng = np.random.default_rng(0)
        degraded = [_noisy(x, snr, rng) for snr in (0, 10, 20, 30)]
        degraded += [gla(magnitude(x, cfg), cfg, n_iter, 0, x.size) for n_iter in (3, 30)]
        ref16 = ss.resample_poly(x, 320, 441)
        real += [pesq(16000, ref16, ss.resample_poly(y, 320, 441), "wb") for y in degraded]
        clean = torch.from_numpy(np.tile(x, (len(degraded), 1)))
        est = torch.from_numpy(np.stack(degraded))
        surrogate += pl.pesq_disturbance(clean, est, SR).tolist()
        mos += _mos(clean, est).tolist()
    real, surrogate, mos = np.array(real), np.array(surrogate), np.array(mos)
    assert np.ptp(real) > 2.0  # the degradations span the scale, so the ranking means something
    assert spearmanr(-surrogate, real).statistic > 0.9
    assert np.mean(np.abs(mos - real)) < 0.15 and np.max(np.abs(mos - real)) < max_error


def test_gradient_matches_finite_differences():
    """Directional derivatives of the batch loss in float64 (gradcheck's fast mode), 0.4 s excerpts
    (the surrogate needs 20 frames, 0.34 s at 16 kHz)."""
    x = torch.from_numpy(demo_signal(0.4))
    rng = np.random.default_rng(2)
    clean = torch.stack([x, x])
    est = torch.from_numpy(np.stack([_noisy(x.numpy(), 20, rng), _noisy(x.numpy(), 5, rng)])).requires_grad_()
    with torch.random.fork_rng():
        torch.manual_seed(0)
        assert torch.autograd.gradcheck(lambda e: pl.pesq_loss(clean, e, SR), (est,), fast_mode=True)
    pl.pesq_loss(clean, est, SR).backward()
    assert torch.isfinite(est.grad).all() and est.grad.abs().sum() > 0
    with pytest.raises(ValueError, match="too short"):
        pl.pesq_loss(clean[:, :7000], est[:, :7000], SR)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_an_unchanged_signal_scores_below_every_degradation(dtype):
    from phasefold.engine.algorithms import gla
    from phasefold.engine.stft import StftConfig, magnitude

    x = demo_signal(1.5)
    rng = np.random.default_rng(3)
    cfg = StftConfig()
    lowpass = ss.sosfilt(ss.butter(4, 3000, fs=SR, output="sos"), x)
    degraded = [_noisy(x, 40, rng), _noisy(x, 10, rng), lowpass, gla(magnitude(x, cfg), cfg, 30, 0, x.size)]
    clean = torch.tensor(np.tile(x, (len(degraded) + 1, 1)), dtype=dtype)
    est = torch.tensor(np.stack([x, *degraded]), dtype=dtype).requires_grad_()
    d = pl.pesq_disturbance(clean, est, SR)
    assert d.shape == (len(degraded) + 1,)
    assert d[0] < 1e-12 and bool((d[1:] > 1e-3).all())
    assert d[1] < d[2]  # 40 dB SNR is better than 10 dB
    # items of a batch are independent; a gain change is invisible (the level alignment)
    alone = pl.pesq_disturbance(clean[2:3], est[2:3].detach(), SR)
    assert float(alone[0]) == pytest.approx(float(d[2].detach()), rel=1e-4)
    assert float(pl.pesq_disturbance(clean[:1], 0.5 * clean[:1], SR)[0]) < 1e-6
    m = _mos(clean, est.detach())
    assert float(m[0]) == pytest.approx(4.644, abs=1e-3) and bool((m[1:] < m[0]).all())
    pl.pesq_loss(clean, est, SR).backward()  # finite at the unchanged item too (zero disturbance)
    assert torch.isfinite(est.grad).all()

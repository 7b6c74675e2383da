import numpy as np
import pytest
from pystoi import stoi as pystoi_stoi

torch = pytest.importorskip("torch")

from phasefold.engine.dataset import split_files  # noqa: E402
from phasefold.engine.demo import demo_signal  # noqa: E402
from phasefold.engine.stft import StftConfig, istft, stft  # noqa: E402
from phasefold.training.stoi import resample, stoi  # noqa: E402

#: the built-in speech-like demo runs everywhere (CI without the shared data); TIMIT where it is present
SOURCES = ("demo", "timit")


def _speech(source: str = "timit") -> np.ndarray:
    if source == "demo":
        return demo_signal(3.0)
    files = split_files("validation")
    if not files:
        pytest.skip("shared TIMIT sample not found (../shared/data/timit-sample)")
    import soundfile as sf
    import soxr

    x, sr = sf.read(files[0])
    return soxr.resample(x, sr, 22050)


def test_resampler_matches_pystoi():
    from pystoi.utils import resample_oct

    x = np.random.default_rng(0).standard_normal(9000)
    np.testing.assert_allclose(
        resample(torch.from_numpy(x), 22050).numpy(), resample_oct(x, 10000, 22050), atol=1e-12
    )


@pytest.mark.parametrize("source", SOURCES)
def test_matches_pystoi_on_real_and_degraded_speech(source):
    x = _speech(source)
    rng = np.random.default_rng(1)
    cfg = StftConfig()
    random_phase = istft(
        np.abs(stft(x, cfg)) * np.exp(2j * np.pi * rng.random((cfg.n_frames(x.size), 513))), cfg, x.size
    )
    noise = np.std(x) * rng.standard_normal(x.size)
    cases = [x, x + 0.3 * noise, x + 2 * noise, random_phase]
    values = []
    for y in cases:
        ref = pystoi_stoi(x, y, 22050)
        got = stoi(torch.from_numpy(x), torch.from_numpy(y), 22050).item()
        assert got == pytest.approx(ref, abs=1e-6)
        values.append(ref)
    assert values[0] > values[1] > values[2]  # the cases really are degraded, so the match is not trivial


@pytest.mark.parametrize("source", SOURCES)
def test_gradient_ascent_improves_stoi(source):
    x = torch.from_numpy(_speech(source)[:30000])
    noise = torch.randn(x.shape, generator=torch.Generator().manual_seed(0))
    y = (x + 0.5 * x.std() * noise).requires_grad_()
    s0 = stoi(x, y, 22050)
    s0.backward()
    assert torch.isfinite(y.grad).all() and y.grad.abs().sum() > 0
    y1 = (y + 1e-3 * y.grad / y.grad.abs().max()).detach()
    assert pystoi_stoi(x.numpy(), y1.numpy(), 22050) > s0.item()
    batch = stoi(torch.stack([x, x]), torch.stack([y.detach(), x]), 22050)
    assert batch.shape == (2,) and batch[1].item() == pytest.approx(1.0, abs=1e-9)

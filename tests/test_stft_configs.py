"""Every STFT configuration (issue 31): engine.stft against librosa's stft/istft, scipy's COLA/NOLA checks,
torch's normalised convention, its own adjoint, and the offline Griffin-Lim against librosa.griffinlim."""

import itertools

import librosa
import numpy as np
import pytest
import scipy.signal
from phasefold.engine import algorithms
from phasefold.engine.stft import (
    StftConfig,
    adjoint,
    coverage,
    istft,
    magnitude,
    stft,
    window,
    window_samples,
)

N_FFTS = (511, 512, 1024, 2048)
WINDOWS = ("sqrt-hann", "hann", "hamming", "blackman", "boxcar")
CENTERS = (True, False)


def _librosa_window(name: str, length: int):
    """What librosa is given for one of our windows (it has no sqrt-hann: the array)."""
    return np.sqrt(scipy.signal.get_window("hann", length, fftbins=True)) if name == "sqrt-hann" else name


def _signal(n: int, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal(n)


@pytest.mark.parametrize("name", WINDOWS)
@pytest.mark.parametrize("length", (511, 512, 1024))
def test_named_windows_are_scipys_periodic_windows(name, length):
    expected = _librosa_window(name, length)
    if isinstance(expected, str):
        expected = scipy.signal.get_window(expected, length, fftbins=True)
    np.testing.assert_allclose(window_samples(name, length), expected, atol=1e-15)


GRID = list(itertools.product(N_FFTS, (4, 2), WINDOWS, CENTERS))


@pytest.mark.parametrize(("n_fft", "parts", "name", "center"), GRID)
def test_stft_and_istft_equal_librosas(n_fft, parts, name, center):
    hop = n_fft // parts
    win_length = n_fft if name == "boxcar" else (3 * n_fft) // 4
    cfg = StftConfig(
        n_fft=n_fft, hop=hop, win_length=win_length, window=name, center=center, convention="librosa"
    )
    x = _signal(3 * n_fft + 37, n_fft + hop)
    lw = _librosa_window(name, win_length)
    expected = librosa.stft(x, n_fft=n_fft, hop_length=hop, win_length=win_length, window=lw, center=center)
    spec = stft(x, cfg)
    assert spec.shape == expected.T.shape
    np.testing.assert_allclose(spec, expected.T, atol=1e-12 * np.abs(expected).max())
    np.testing.assert_allclose(magnitude(x, cfg), np.abs(expected.T), atol=1e-12 * np.abs(expected).max())
    back = librosa.istft(
        expected, hop_length=hop, win_length=win_length, n_fft=n_fft, window=lw, center=center, length=x.size
    )
    ours = istft(spec, cfg, x.size)
    # samples that no frame sees but through a window's rounding residue are noise in both: left out
    seen = _seen(cfg, x.size)
    np.testing.assert_allclose(ours[seen], back[seen], atol=1e-9)
    np.testing.assert_allclose(ours[seen], x[seen], atol=1e-9)  # and the inverse is exact where NOLA holds


def _seen(cfg: StftConfig, length: int) -> np.ndarray:
    """The signal's samples whose sum of squared windows is above 1e-20 of the largest."""
    n_frames = cfg.n_frames(length)
    cov = coverage(n_frames, cfg)
    seen = np.zeros(length, dtype=bool)
    inside = cov[cfg.pad : cfg.pad + length]
    seen[: inside.size] = inside > 1e-20 * cov.max()
    return seen


@pytest.mark.parametrize("pad_mode", ["constant", "reflect", "edge", "symmetric"])
@pytest.mark.parametrize("n_fft", [511, 1024])
def test_centred_padding_modes_equal_librosas(pad_mode, n_fft):
    cfg = StftConfig(
        n_fft=n_fft, hop=n_fft // 4, window="hann", center=True, pad_mode=pad_mode, convention="librosa"
    )
    for length in (n_fft // 2 + 3, 5 * n_fft + 11):  # shorter than a frame and long
        x = _signal(length, length)
        expected = librosa.stft(x, n_fft=n_fft, hop_length=n_fft // 4, pad_mode=pad_mode)
        np.testing.assert_allclose(stft(x, cfg), expected.T, atol=1e-12 * np.abs(expected).max())
        np.testing.assert_allclose(magnitude(x, cfg), np.abs(expected.T), atol=1e-12 * np.abs(expected).max())


@pytest.mark.parametrize(("n_fft", "parts", "name"), list(itertools.product(N_FFTS, (4, 2), WINDOWS)))
def test_tight_convention_is_a_tight_frame_exactly_where_scipy_says_cola(n_fft, parts, name):
    hop = n_fft // parts
    cfg = StftConfig(n_fft=n_fft, hop=hop, window=name, center=True)
    w2 = window_samples(name, n_fft) ** 2
    cola = scipy.signal.check_COLA(w2, n_fft, n_fft - hop)
    assert scipy.signal.check_NOLA(w2, n_fft, n_fft - hop)
    interior = coverage(20, cfg)[n_fft : n_fft + 5 * hop]  # whole periods
    assert np.mean(interior) == pytest.approx(1.0, rel=1e-12)  # the tight convention's unit mean
    assert bool(np.allclose(interior, 1.0, atol=1e-10)) == cola


@pytest.mark.parametrize(("n_fft", "center"), [(512, None), (511, True), (512, True), (511, False)])
def test_adjoint_for_any_configuration(n_fft, center):
    hop = 128 if center is None else 100
    cfg = StftConfig(
        n_fft=n_fft, hop=hop, window="hamming", win_length=400, center=center, convention="librosa"
    )
    rng = np.random.default_rng(n_fft)
    x = rng.standard_normal(3000)
    n_frames = cfg.n_frames(x.size)
    y = rng.standard_normal((n_frames, cfg.n_bins)) + 1j * rng.standard_normal((n_frames, cfg.n_bins))
    c = algorithms._hermitian_weights(cfg)
    lhs = float(np.sum(c * np.real(np.conj(stft(x, cfg)) * y)))
    assert lhs == pytest.approx(float(x @ adjoint(y, cfg, x.size)), rel=1e-10)


@pytest.mark.parametrize("n_fft", [511, 1024])
def test_conventions_scale_to_librosa_and_torch(n_fft):
    torch = pytest.importorskip("torch")
    hop = n_fft // 4
    x = _signal(4000, 3)
    spectra = {
        conv: stft(x, StftConfig(n_fft=n_fft, hop=hop, window="hann", center=True, convention=conv))
        for conv in ("tight", "librosa", "torch")
    }
    tensor = torch.from_numpy(x)
    kw = dict(
        n_fft=n_fft,
        hop_length=hop,
        window=torch.hann_window(n_fft, dtype=torch.float64),
        center=True,
        pad_mode="constant",
        return_complex=True,
    )
    np.testing.assert_allclose(spectra["librosa"], torch.stft(tensor, **kw).numpy().T, atol=1e-9)
    np.testing.assert_allclose(
        spectra["torch"], torch.stft(tensor, normalized=True, **kw).numpy().T, atol=1e-9
    )
    # tight: A^H A is the coverage (diagonal): |A x|^2 = sum coverage x^2 (Parseval, Hermitian weights)
    cfg = StftConfig(n_fft=n_fft, hop=hop, window="hann", center=True)
    c = algorithms._hermitian_weights(cfg)
    inner = coverage(cfg.n_frames(x.size), cfg)[cfg.pad : cfg.pad + x.size]
    assert float(np.sum(c * np.abs(spectra["tight"]) ** 2)) == pytest.approx(
        float(np.sum(inner * x * x)), rel=1e-10
    )
    # the tight convention's Hann: scaled by sqrt(H / sum hann^2), sum hann^2 = 3 N / 8
    np.testing.assert_allclose(
        window(cfg), scipy.signal.get_window("hann", n_fft) * np.sqrt(8 * hop / (3 * n_fft)), rtol=1e-12
    )


@pytest.mark.parametrize("pad_mode", ["constant", "reflect"])
@pytest.mark.parametrize(
    ("n_fft", "hop", "name"), [(512, 128, "hann"), (511, 100, "hamming"), (1024, 512, "boxcar")]
)
def test_offline_griffin_lim_is_librosas(pad_mode, n_fft, hop, name):
    """GLA from the zero phase (librosa's init=None) over the span iterations equals librosa.griffinlim."""
    cfg = StftConfig(n_fft=n_fft, hop=hop, window=name, center=True, pad_mode=pad_mode, convention="librosa")
    x = _signal(6000, 5)
    mag = magnitude(x, cfg)
    expected = librosa.griffinlim(
        mag.T,
        n_iter=6,
        hop_length=hop,
        n_fft=n_fft,
        window=name,
        pad_mode=pad_mode,
        momentum=0.0,
        init=None,
        length=x.size,
    )
    ours = algorithms.gla(mag, cfg, 6, seed=0, length=x.size, init=np.zeros(mag.shape))
    np.testing.assert_allclose(ours, expected, atol=1e-9 * np.abs(expected).max())


def test_rejects_what_no_stft_can_be():
    with pytest.raises(ValueError, match="win_length"):
        StftConfig(n_fft=512, hop=128, win_length=600)
    with pytest.raises(ValueError, match="longer than the window"):
        StftConfig(n_fft=512, hop=300, win_length=256, center=True)
    with pytest.raises(ValueError, match="multiple of hop"):
        StftConfig(n_fft=512, hop=100)
    with pytest.raises(ValueError, match="window"):
        StftConfig(window="kaiser")
    with pytest.raises(ValueError, match="samples"):
        StftConfig(n_fft=16, hop=4, window=(1.0,) * 15)
    with pytest.raises(ValueError, match="convention"):
        StftConfig(convention="matlab")
    with pytest.raises(ValueError, match="pad_mode"):
        StftConfig(center=True, pad_mode="wrap")
    with pytest.raises(ValueError, match="shorter than one frame"):
        StftConfig(n_fft=512, hop=128, center=False).n_frames(100)


def test_records_keep_the_default_and_carry_the_rest():
    assert StftConfig().to_dict() == {"n_fft": 1024, "hop": 256, "sample_rate": 22050, "power": 1.0}
    cfg = StftConfig(
        n_fft=16,
        hop=4,
        window=tuple(np.hanning(16)),
        center=True,
        pad_mode="reflect",
        convention="torch",
        win_length=16,
    )
    assert StftConfig.from_dict(cfg.to_dict()) == cfg
    assert (
        StftConfig.from_dict(
            {"n_fft": 1024, "hop": 256, "sample_rate": 22050, "window": "sqrt-hann-periodic-tight"}
        )
        == StftConfig()
    )


def test_the_public_stft_takes_the_configuration():
    import phasefold
    from phasefold.engine.errors import InputError

    x = _signal(9000, 11)
    keywords = dict(window="hann", center=True, convention="librosa")
    spec = phasefold.stft(x, 512, 2048, **keywords)
    np.testing.assert_allclose(spec, librosa.stft(x).T, atol=1e-12 * np.abs(spec).max())
    np.testing.assert_allclose(phasefold.istft(spec, x.size, 512, 2048, **keywords), x, atol=1e-10)
    array_window = phasefold.stft(x, 512, 2048, window=scipy.signal.get_window("hann", 2048), center=True)
    np.testing.assert_allclose(
        array_window, phasefold.stft(x, 512, 2048, window="hann", center=True), atol=1e-12
    )
    for bad, word in [
        ({"window": "kaiser"}, "window"),
        ({"convention": "x"}, "convention"),
        ({"win_length": 4096}, "win_length"),
    ]:
        with pytest.raises(InputError, match=word):
            phasefold.stft(x, 512, 2048, **bad)
    with pytest.raises(InputError, match="shorter than one frame"):
        phasefold.stft(x[:100], 512, 2048, center=False)


def test_reconstruct_takes_the_configuration():
    """phasefold.reconstruct of librosa's magnitudes (librosa's STFT, scale and framing) gives the signal's
    level and length back, and a learned model at another configuration is refused in one line."""
    import phasefold
    from phasefold.engine.errors import InputError

    t = np.arange(16000) / 16000
    x = 0.3 * np.sin(2 * np.pi * 200 * t * (1 + t)) + 0.01 * _signal(t.size, 2)
    keywords = dict(hop=512, n_fft=2048, window="hann", center=True, convention="librosa", sample_rate=16000)
    mag = np.abs(librosa.stft(x)).T
    y = phasefold.reconstruct(mag, method="fgla", iterations=50, length=x.size, **keywords)
    assert y.shape == x.shape
    assert np.std(y) == pytest.approx(np.std(x), rel=0.05)
    sc = np.linalg.norm(np.abs(librosa.stft(y)).T - mag) / np.linalg.norm(mag)
    assert sc < 0.1
    with pytest.raises(InputError, match="unfolded-untied runs at"):
        phasefold.reconstruct(mag, method="unfolded-untied", **keywords)

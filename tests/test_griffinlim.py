"""phasefold.griffinlim as a drop-in for librosa.griffinlim (librosa 0.11, the reference): its configurations
(hop, win_length, odd and even n_fft, Hann and rectangular windows, centring, pad modes), momentum, starts,
random states, dtypes, lengths and batch dimensions; its own PGHI start (engine.pghi, compiled and numpy);
bad input as one clear line."""

import librosa
import numpy as np
import phasefold
import pytest
from phasefold.engine.compiled.pghi import offline_phases
from phasefold.engine.errors import InputError
from phasefold.engine.pghi import phases
from phasefold.engine.stft import StftConfig, magnitude
from phasefold.engine.streaming.pghi import CG_SINE, gamma

SR = 22050


@pytest.fixture(scope="module")
def chirp() -> np.ndarray:
    return librosa.chirp(fmin=110, fmax=5000, length=SR // 4, sr=SR)


def _stft_keywords(kw: dict) -> dict:
    """The keywords librosa.stft shares with griffinlim."""
    return {
        k: v
        for k, v in kw.items()
        if k in ("n_fft", "hop_length", "win_length", "window", "center", "pad_mode")
    }


#: configurations in the words of librosa's grid: hop, win_length, odd/even n_fft, windows, centring, padding
CONFIGS = [
    {},
    {"hop_length": 256},
    {"win_length": 512},
    {"n_fft": 1025},
    {"window": "rect"},
    {"center": False},
    {"pad_mode": "reflect"},
    {"n_fft": 1023, "hop_length": 300, "win_length": 900, "window": "hamming", "center": False},
    {"hop_length": 512, "win_length": 512},
]


@pytest.mark.parametrize("kw", CONFIGS)
@pytest.mark.parametrize("init", ["random", None])
@pytest.mark.parametrize("momentum", [0.0, 0.99])
def test_librosas_starts_give_librosas_output(chirp, kw, init, momentum):
    S = np.abs(librosa.stft(chirp, **_stft_keywords({"n_fft": 1024, **kw})))
    args = dict(n_iter=4, momentum=momentum, init=init, random_state=7, **kw)
    if "n_fft" in kw:
        args["n_fft"] = kw["n_fft"]
    expected = librosa.griffinlim(S, **args)
    ours = phasefold.griffinlim(S, **args)
    assert ours.shape == expected.shape and ours.dtype == expected.dtype == np.float64
    np.testing.assert_allclose(ours, expected, atol=1e-9 * np.abs(expected).max())


@pytest.mark.parametrize(
    "random_state",
    [3, np.random.RandomState(5), np.random.default_rng(5)],
    ids=["int", "RandomState", "Generator"],
)
def test_random_states_draw_as_librosa(chirp, random_state):
    S = np.abs(librosa.stft(chirp, n_fft=512))
    twin = random_state if isinstance(random_state, int) else _twin(random_state)
    expected = librosa.griffinlim(S, n_iter=2, init="random", random_state=twin)
    ours = phasefold.griffinlim(S, n_iter=2, init="random", random_state=random_state)
    np.testing.assert_allclose(ours, expected, atol=1e-9 * np.abs(expected).max())


def _twin(rng):
    """A generator in the same state as ``rng`` (librosa and phasefold each draw from their own)."""
    if isinstance(rng, np.random.Generator):
        twin = np.random.default_rng()
        twin.bit_generator.state = rng.bit_generator.state
        return twin
    twin = np.random.RandomState()
    twin.set_state(rng.get_state())
    return twin


def test_without_a_random_state_each_call_draws_afresh(chirp):
    S = np.abs(librosa.stft(chirp, n_fft=512))
    a, b = (phasefold.griffinlim(S, n_iter=1, init="random") for _ in range(2))
    assert not np.allclose(a, b)


@pytest.mark.parametrize("init", ["pghi", "random", None])
def test_float32_magnitudes_give_float32_and_dtype_is_obeyed(chirp, init):
    S32 = np.abs(librosa.stft(chirp.astype(np.float32), n_fft=512))
    ours = phasefold.griffinlim(S32, n_iter=3, init=init, random_state=0)
    assert ours.dtype == librosa.griffinlim(S32, n_iter=1).dtype == np.float32
    assert (
        phasefold.griffinlim(S32, n_iter=1, init=init, random_state=0, dtype=np.float64).dtype == np.float64
    )
    if init != "pghi":  # librosa's iterations in float64, rounded: librosa's own float64 result
        expected = librosa.griffinlim(S32.astype(np.float64), n_iter=3, init=init, random_state=0)
        np.testing.assert_allclose(ours, expected, atol=1e-6 * np.abs(expected).max())


@pytest.mark.parametrize("center", [True, False])
@pytest.mark.parametrize("extra", [-100, 0, 5, 3000])
@pytest.mark.parametrize("init", ["pghi", "random"])
def test_length(chirp, center, extra, init):
    S = np.abs(librosa.stft(chirp, n_fft=512, center=center))
    natural = librosa.griffinlim(S, n_iter=0, center=center).size
    length = natural + extra
    ours = phasefold.griffinlim(S, n_iter=2, center=center, length=length, init=init, random_state=1)
    assert ours.shape == (length,)
    try:
        expected = librosa.griffinlim(
            S, n_iter=2, center=center, length=length, init="random", random_state=1
        )
    except ValueError:  # librosa fails where the length holds other frames than S; phasefold fits it
        cut = min(length, natural)
        run = phasefold.griffinlim(S, n_iter=2, center=center, init=init, random_state=1)
        np.testing.assert_allclose(ours[:cut], run[:cut], atol=1e-6 * np.abs(run).max())
        np.testing.assert_array_equal(ours[cut:], 0.0)
        return
    assert ours.shape == expected.shape
    if init == "random":
        np.testing.assert_allclose(ours, expected, atol=1e-9 * np.abs(expected).max())


@pytest.mark.parametrize("init", ["pghi", "random", None])
def test_batch_dimensions_lead(chirp, init):
    ys = np.stack([chirp, 0.5 * chirp[::-1], np.roll(chirp, 700)]).reshape(3, 1, -1)
    S = np.abs(librosa.stft(ys, n_fft=512))  # [3, 1, 257, frames]
    ours = phasefold.griffinlim(S, n_iter=3, init=init, random_state=2)
    assert ours.shape == (3, 1, librosa.griffinlim(S[0, 0], n_iter=0).size)
    if init == "pghi":
        for i in range(3):
            np.testing.assert_allclose(ours[i, 0], phasefold.griffinlim(S[i, 0], n_iter=3), rtol=0, atol=1e-7)
    else:  # librosa draws the whole batch's phases at once, in S's layout
        expected = librosa.griffinlim(S, n_iter=3, init=init, random_state=2)
        np.testing.assert_allclose(ours, expected, atol=1e-9 * np.abs(expected).max())


@pytest.mark.parametrize(
    "window",
    [("kaiser", 8.0), np.hamming, np.blackman(1024), "hamming"],
    ids=["tuple", "callable", "array", "name"],
)
def test_windows_as_librosa_takes_them(chirp, window):
    S = np.abs(librosa.stft(chirp, n_fft=1024, window=window))
    expected = librosa.griffinlim(S, n_iter=3, window=window, init=None)
    ours = phasefold.griffinlim(S, n_iter=3, window=window, init=None)
    np.testing.assert_allclose(ours, expected, atol=1e-9 * np.abs(expected).max())


@pytest.mark.parametrize(("n_fft", "hop"), [(1024, 256), (2048, 512)])
def test_the_default_start_beats_librosas_at_the_same_iterations(speech, n_fft, hop):
    """The one deliberate difference: a PGHI start, then fast Griffin-Lim; closer to the magnitudes than
    librosa's random start at the same n_iter, at librosa's length and scale."""
    y = speech.astype(np.float32)
    S = np.abs(librosa.stft(y, n_fft=n_fft, hop_length=hop))
    theirs = librosa.griffinlim(S, n_iter=16, hop_length=hop, n_fft=n_fft, random_state=0)
    ours = phasefold.griffinlim(S, n_iter=16, hop_length=hop, n_fft=n_fft)
    assert ours.shape == theirs.shape and ours.dtype == theirs.dtype

    def sc(x):
        rebuilt = np.abs(librosa.stft(x, n_fft=n_fft, hop_length=hop))
        return 20 * np.log10(np.linalg.norm(rebuilt - S) / np.linalg.norm(S))

    assert sc(ours) < sc(theirs) - 3.0
    assert np.sqrt(np.mean(ours**2) / np.mean(theirs**2)) == pytest.approx(1.0, abs=0.05)
    np.testing.assert_array_equal(ours, phasefold.griffinlim(S, n_iter=16, hop_length=hop, n_fft=n_fft))


def test_pghi_start_alone_is_close_and_reflect_padding_runs(speech):
    S = np.abs(librosa.stft(speech, n_fft=1024, hop_length=256))
    rand = phasefold.griffinlim(S, n_iter=0, hop_length=256, init="random", random_state=0)
    ours = phasefold.griffinlim(S, n_iter=0, hop_length=256)

    def sc(x):
        return np.linalg.norm(np.abs(librosa.stft(x, n_fft=1024, hop_length=256)) - S) / np.linalg.norm(S)

    assert sc(ours) < 0.25 * sc(rand)
    reflect = phasefold.griffinlim(S, n_iter=2, hop_length=256, pad_mode="reflect")  # numpy iterations
    assert reflect.shape == ours.shape and np.all(np.isfinite(reflect))


@pytest.mark.parametrize("kw", [{}, {"n_fft": 511, "hop": 128, "window": "hamming", "center": True}])
def test_compiled_pghi_equals_the_reference(speech, kw):
    cfg = StftConfig(
        **{"n_fft": 512, "hop": 128, "window": "hann", "center": True, **kw}, convention="librosa"
    )
    r = magnitude(speech[:6000], cfg)
    r[:, 40:60] = 0.0  # a silent band: random phases below the tolerance
    np.testing.assert_array_equal(offline_phases(r, cfg), phases(r, cfg))


def test_gamma_is_ltfats_for_named_windows():
    for name, cg in (("hann", 0.25645), ("hamming", 0.29794), ("blackman", 0.17954)):
        assert gamma(StftConfig(n_fft=1024, hop=256, window=name, center=True)) == pytest.approx(
            cg * 1024**2, rel=0.02
        )
    assert gamma(StftConfig()) == CG_SINE * 1024**2  # the default's constant, as it was


def test_zero_magnitudes_give_silence():
    assert np.all(phasefold.griffinlim(np.zeros((33, 3))) == 0.0)


def test_momentum_above_one_warns():
    with pytest.warns(UserWarning, match="momentum"):
        phasefold.griffinlim(np.ones((33, 4)), momentum=2, n_iter=1)


@pytest.mark.parametrize(
    ("S", "kw", "words"),
    [
        (-np.ones((33, 4)), {}, "negative"),
        (np.full((33, 4), np.nan), {}, "NaN"),
        (np.ones(33), {}, "bins, frames"),
        (np.ones((33, 4)), {"n_fft": 100}, "n_fft 100"),
        (np.ones((33, 4)), {"init": "garbage"}, "init"),
        (np.ones((33, 4)), {"init": np.zeros((33, 4))}, "init"),
        (np.ones((33, 4)), {"random_state": "garbage"}, "random_state"),
        (np.ones((33, 4)), {"random_state": np.zeros((40, 40))}, "random_state"),
        (np.ones((33, 4)), {"momentum": -1}, "momentum"),
        (np.ones((33, 4)), {"window": "nonsense"}, "window"),
        (np.ones((33, 4)), {"pad_mode": "wrap"}, "pad_mode"),
        (np.ones((33, 4)), {"dtype": np.int16}, "dtype"),
        (np.ones((33, 4)), {"hop_length": 0}, "hop_length"),
        (np.ones((33, 4)), {"n_iter": -1}, "n_iter"),
        ("text", {}, "S"),
    ],
)
def test_bad_input_is_one_clear_line(S, kw, words):
    with pytest.raises(InputError, match=words) as caught:
        phasefold.griffinlim(S, **kw)
    assert "\n" not in str(caught.value)


def _torchaudio_griffinlim(spec, window, n_fft, hop, win_length, power, n_iter, momentum, length):
    """torchaudio.functional.griffinlim with rand_init=False (torchaudio 2.x), in torch: the reference."""
    import torch

    specgram = torch.from_numpy(spec).pow(1 / power)
    angles = torch.ones(specgram.shape, dtype=torch.complex128)
    tprev = torch.tensor(0.0, dtype=torch.float64)
    alpha = momentum / (1 + momentum)
    kw = dict(n_fft=n_fft, hop_length=hop, win_length=win_length, window=window)
    for _ in range(n_iter):
        inverse = torch.istft(specgram * angles, length=length, **kw)
        rebuilt = torch.stft(inverse, center=True, pad_mode="reflect", return_complex=True, **kw)
        angles = rebuilt - tprev * alpha if momentum else rebuilt
        angles = angles / (angles.abs() + 1e-16)
        tprev = rebuilt
    return torch.istft(specgram * angles, length=length, **kw).numpy()


@pytest.mark.parametrize(("n_fft", "win_length", "momentum"), [(400, None, 0.99), (512, 300, 0.0)])
def test_torchaudio_style_class_is_torchaudios_algorithm(speech, n_fft, win_length, momentum):
    import torch

    wl = win_length or n_fft
    window = torch.hann_window(wl, dtype=torch.float64)
    spec = np.abs(librosa.stft(speech, n_fft=n_fft, hop_length=wl // 2, win_length=wl)) ** 2
    ours = phasefold.GriffinLim(
        n_fft=n_fft, n_iter=4, win_length=win_length, window_fn=torch.hann_window,
        wkwargs={"dtype": torch.float64}, momentum=momentum, rand_init=False,
    )(spec)  # fmt: skip
    expected = _torchaudio_griffinlim(spec, window, n_fft, wl // 2, wl, 2.0, 4, momentum, None)
    assert ours.shape == expected.shape
    np.testing.assert_allclose(ours, expected, atol=1e-9 * np.abs(expected).max())
    pghi = phasefold.GriffinLim(n_fft=n_fft, win_length=win_length, n_iter=4)(spec)  # the default start
    assert pghi.shape == expected.shape


def test_torchaudio_style_class_refuses_what_torchaudio_refuses():
    with pytest.raises(InputError, match="momentum"):
        phasefold.GriffinLim(momentum=1.0)
    with pytest.raises(InputError, match="power"):
        phasefold.GriffinLim(power=0)

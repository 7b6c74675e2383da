"""A given initial phase (issue 31, item 5): ``phasefold.reconstruct(..., init=)``, a .npz file's
``init_phase`` and ``phasefold reconstruct --init-phase-from``, for every offline method.

The independent reference is the signal itself: from its true phase the tight frame's synthesis A^H gives
it back exactly (0 iterations), and iterations of a method that projects onto consistent spectrograms keep
it (it is a fixed point)."""

from __future__ import annotations

import numpy as np
import phasefold
import pytest
import soundfile as sf
from phasefold.cli import main
from phasefold.engine import runners
from phasefold.engine.demo import demo_signal
from phasefold.engine.errors import InputError
from phasefold.engine.evaluation import spectral_convergence_db
from phasefold.engine.inputs import load_audio, load_measurements, save_magnitudes
from phasefold.engine.methods import reconstruct as run_method
from phasefold.engine.registry import lookup
from phasefold.engine.stft import SAMPLE_RATE, StftConfig, magnitude

CFG = StftConfig()


@pytest.fixture(scope="module")
def clip() -> np.ndarray:
    return demo_signal(1.0)


def _noisy(x: np.ndarray, snr_db: float, seed: int = 7) -> np.ndarray:
    """``x`` plus white noise at ``snr_db``."""
    noise = np.random.default_rng(seed).standard_normal(x.size)
    return x + noise * np.sqrt(np.mean(x**2) / (np.mean(noise**2) * 10 ** (snr_db / 10)))


def _sc(y: np.ndarray, x: np.ndarray) -> float:
    return spectral_convergence_db(y, magnitude(x, CFG), CFG)


@pytest.mark.parametrize("method", phasefold.list_methods())
def test_zero_iterations_from_the_true_phase_give_the_signal_back(method, clip):
    """Every offline method starts from the given phase: at 0 iterations its output is A^H(|X| e^{i phase}),
    the signal up to the float32 rounding of the measurements."""
    spec = lookup(method)
    cfg = spec.cfg if spec.cfg is not None else CFG  # a model at its own STFT (hop, n_fft, rate)
    X = phasefold.stft(clip, hop=cfg.hop, n_fft=cfg.n_fft)
    kw = {"method": method, "iterations": 0, "length": clip.size, "hop": cfg.hop, "n_fft": cfg.n_fft}
    kw["sample_rate"] = cfg.sample_rate
    given = phasefold.reconstruct(np.abs(X), init=X, **kw)
    random = phasefold.reconstruct(np.abs(X), **kw)
    assert np.max(np.abs(given - clip)) < 1e-6 * np.max(np.abs(clip))
    assert np.max(np.abs(random - clip)) > 0.1 * np.max(np.abs(clip))


@pytest.mark.parametrize("backend", ["numpy", "compiled"])
@pytest.mark.parametrize("method", ["fgla", "admm-l2", "gla", "admm-kl"])
def test_few_iterations_from_the_true_phase_keep_the_signal(method, backend, clip):
    pytest.importorskip("numba") if backend == "compiled" else None
    X = phasefold.stft(clip)
    entry = runners.offline_runner(lookup(method), backend)
    given = run_method(entry, np.abs(X), CFG, 5, 0, clip.size, init=np.angle(X))
    random = run_method(entry, np.abs(X), CFG, 5, 0, clip.size)
    assert _sc(given, clip) < -60.0
    assert _sc(random, clip) > -30.0


@pytest.mark.parametrize("method", ["gd-l2", "gd-l2-nesterov", "unfolded-untied", "unfolded-tied"])
def test_gradient_descent_and_models_start_from_the_given_phase(method, clip):
    """A few iterations (one pass of a model's layers) from the true phase stay far closer to the signal
    than from a random phase."""
    X = phasefold.stft(clip)
    n = 15 if method.startswith("unfolded") else 3
    given = phasefold.reconstruct(np.abs(X), method=method, iterations=n, length=clip.size, init=X)
    random = phasefold.reconstruct(np.abs(X), method=method, iterations=n, length=clip.size)
    assert _sc(given, clip) < _sc(random, clip) - 10.0


def test_a_complex_init_gives_its_angle_and_a_level_shift_keeps_it(clip):
    """Complex init: its magnitude is ignored. A loud input (the level's shift k != 0) starts the same."""
    X = phasefold.stft(clip)
    S = np.abs(X)
    a = phasefold.reconstruct(S, method="fgla", iterations=3, length=clip.size, init=np.angle(X))
    b = phasefold.reconstruct(S, method="fgla", iterations=3, length=clip.size, init=7.0 * X)
    np.testing.assert_array_equal(a, b)
    loud = phasefold.reconstruct(S * 2.0**12, method="fgla", iterations=0, length=clip.size, init=X)
    np.testing.assert_allclose(loud, clip * 2.0**12, atol=1e-6 * 2.0**12)


def test_segments_start_their_new_frames_from_their_rows_of_the_given_phase(speech):
    """A long input rebuilt in segments (engine.runners.span_blocks): each segment's new frames start
    from their own rows of the given phase, its first part from the previous segment's samples that all
    their frames covered, so from the true phase the seams stay near the signal."""
    X = phasefold.stft(speech)
    mag = np.abs(X)
    step, _ = runners.window_step(lookup("fgla"), CFG, 10, "numpy")
    assert mag.shape[0] > 3 * 40  # several segments of 40 frames

    def run(init):
        y = runners.run_span(step, mag, CFG, 0, speech.size, block=40, margin=8, init=init)
        return spectral_convergence_db(y, mag, CFG)

    shifted = np.roll(np.angle(X), 40, axis=0)  # the rows of other frames
    assert run(np.angle(X)) < -50.0 < -30.0 < min(run(None), run(shifted))


@pytest.mark.parametrize("method", ["fgla", "admm-l2"])
def test_backends_agree_for_the_same_init(method, clip):
    pytest.importorskip("numba")
    X = phasefold.stft(clip)
    init = np.angle(phasefold.stft(_noisy(clip, 5.0)))
    outs = {
        b: run_method(runners.offline_runner(lookup(method), b), np.abs(X), CFG, 5, 0, clip.size, init=init)
        for b in ("numpy", "compiled")
    }
    random = run_method(runners.offline_runner(lookup(method), "numpy"), np.abs(X), CFG, 5, 0, clip.size)
    scale = np.max(np.abs(outs["numpy"]))
    assert np.max(np.abs(outs["compiled"] - outs["numpy"])) < 1e-4 * scale
    assert np.max(np.abs(random - outs["numpy"])) > 0.1 * scale  # the init is what they share


@pytest.mark.parametrize("method", ["fgla", "admm-l2"])
def test_the_noisy_phase_beats_the_random_start_on_timit(method, timit_dir):
    """White noise at 5 dB SNR: its phase starts closer than a random one; after 30 iterations the
    spectral convergence against the clean magnitudes is far better (17 to 24 dB on the test split's mean:
    benchmarks.init_phase)."""
    x, _ = load_audio(sorted(timit_dir.glob("si1010.wav"))[0])
    X = phasefold.stft(x)
    init = phasefold.stft(_noisy(x, 5.0))
    given = phasefold.reconstruct(np.abs(X), method=method, iterations=30, length=x.size, init=init)
    random = phasefold.reconstruct(np.abs(X), method=method, iterations=30, length=x.size)
    assert _sc(given, x) < _sc(random, x) - 10.0


@pytest.mark.parametrize(
    ("init", "words"),
    [
        (np.zeros((3, 513)), ("shape", "[3, 513]")),
        (np.zeros((44, 512)), ("shape", "[44, 512]")),
        (np.full((44, 513), np.nan), ("NaN",)),
        (np.full((44, 513), np.inf), ("infinite",)),
        ("phase", ("real or complex numbers",)),
    ],
)
def test_a_bad_init_is_refused_in_one_line(init, words):
    S = np.ones((44, 513))
    with pytest.raises(InputError) as err:
        phasefold.reconstruct(S, method="fgla", iterations=2, init=init)
    assert "\n" not in str(err.value)
    for word in words:
        assert word in str(err.value)


def _cli(capsys, *argv):
    rc = main(["reconstruct", *map(str, argv)])
    out, err = capsys.readouterr()
    return rc, out, err


def _one_line(rc, err, *words):
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert rc == 1 and len(lines) == 1 and lines[0].startswith("phasefold reconstruct: error:"), err
    for word in words:
        assert word in lines[0], lines[0]


def test_the_cli_and_the_npz_field_give_the_api_output(capsys, tmp_path, clip):
    clean, noisy = tmp_path / "clean.wav", tmp_path / "noisy.wav"
    sf.write(clean, clip, SAMPLE_RATE, subtype="FLOAT")
    sf.write(noisy, _noisy(clip, 5.0), SAMPLE_RATE, subtype="FLOAT")
    mag, cfg, length, _, _, _ = load_measurements(clean, None, None, 0)
    init = phasefold.stft(load_audio(noisy)[0])
    api = phasefold.reconstruct(mag, method="fgla", iterations=5, length=length, init=init)
    random = phasefold.reconstruct(mag, method="fgla", iterations=5, length=length)

    out = tmp_path / "cli.wav"
    argv = ["-o", out, "-m", "fgla", "--iterations", "5", "--format", "FLOAT"]
    rc, stdout, _ = _cli(capsys, clean, *argv, "--init-phase-from", noisy)
    assert rc == 0 and "from the phase of noisy.wav" in stdout
    cli = sf.read(out)[0]
    np.testing.assert_allclose(cli, api, atol=1e-6)
    assert np.max(np.abs(random - api)) > 0.05 * np.max(np.abs(api))

    npz = tmp_path / "m.npz"
    save_magnitudes(npz, mag, cfg, length=length, init_phase=init)
    from_file = phasefold.reconstruct(
        mag, method="fgla", iterations=5, length=length, init=np.angle(init).astype(np.float32)
    )
    assert _cli(capsys, npz, *argv)[0] == 0
    np.testing.assert_allclose(sf.read(out)[0], from_file, atol=1e-6)
    np.testing.assert_allclose(from_file, api, atol=1e-4)


def test_the_cli_refuses_a_bad_reference_in_one_line(capsys, tmp_path, clip):
    clean, short = tmp_path / "clean.wav", tmp_path / "short.wav"
    sf.write(clean, clip, SAMPLE_RATE, subtype="FLOAT")
    sf.write(short, clip[:10000], SAMPLE_RATE, subtype="FLOAT")
    out = tmp_path / "out.wav"
    rc, _, err = _cli(capsys, clean, "-o", out, "-m", "fgla", "--init-phase-from", short)
    _one_line(rc, err, "--init-phase-from", "frames", "same length")
    rc, _, err = _cli(capsys, clean, "-o", out, "-m", "fgla", "--init-phase-from", tmp_path / "none.wav")
    _one_line(rc, err, "no such file")
    rc, _, err = _cli(capsys, clean, "-o", out, "-m", "fgla", "--online", "--init-phase-from", clean)
    _one_line(rc, err, "--init-phase-from", "--online")
    assert not out.exists()

    npz = tmp_path / "m.npz"
    save_magnitudes(npz, magnitude(clip, CFG), CFG, length=clip.size, init_phase=phasefold.stft(clip))
    rc, _, err = _cli(capsys, npz, "-o", out, "-m", "fgla", "--init-phase-from", clean)
    _one_line(rc, err, "init_phase", "--init-phase-from")
    bad = tmp_path / "bad.npz"
    np.savez(bad, magnitudes=magnitude(clip, CFG), n_fft=1024, hop=256, sample_rate=22050, power=1.0,
             init_phase=np.zeros((3, 513)))  # fmt: skip
    rc, _, err = _cli(capsys, bad, "-o", out, "-m", "fgla")
    _one_line(rc, err, "init_phase", "shape")


def test_a_streamed_method_refuses_an_init_and_online_notes_the_npz_field(capsys, tmp_path, clip):
    from phasefold.engine.streaming.offline import StreamedMethod

    X = phasefold.stft(clip)
    with pytest.raises(InputError, match="streamed method takes no initial phase"):
        run_method(StreamedMethod.build("fgla"), np.abs(X), CFG, 2, 0, clip.size, init=X)
    npz = tmp_path / "m.npz"
    save_magnitudes(npz, np.abs(X), CFG, length=clip.size, init_phase=X)
    rc, _, err = _cli(capsys, npz, "-o", tmp_path / "o.wav", "-m", "fgla", "--online")
    assert rc == 0 and "'init_phase' is not used by a streamed method" in err

"""Classical algorithms: GLA consistency, ADMM descent, span contract, the method registry, librosa."""

import importlib.util

import numpy as np
import pytest
from phasefold.engine import methods
from phasefold.engine.admm import admm_iterations, gla_iterations
from phasefold.engine.algorithms import _padded, objective, published_rho, random_phase_init
from phasefold.engine.divergences import IS, KL, QUADRATIC, Divergence
from phasefold.engine.errors import InputError
from phasefold.engine.evaluation import spectral_convergence_db
from phasefold.engine.proxes import make_prox
from phasefold.engine.stft import StftConfig, magnitude, stft


def _weighted_distance(x: np.ndarray, mag: np.ndarray, cfg: StftConfig) -> float:
    """|| |A x| - r || in the Hermitian-weighted norm in which A is a tight frame."""
    c = np.full(cfg.n_bins, 2.0)
    c[0] = c[-1] = 1.0
    return float(np.sqrt(np.sum(c * (np.abs(stft(x, cfg)) - mag) ** 2)))


def test_gla_inconsistency_never_increases(speech):
    """Griffin-Lim's theorem: the distance to the magnitude set falls at every iteration."""
    cfg = StftConfig()
    mag = magnitude(speech, cfg)
    span, fixed, inside = _padded(random_phase_init(mag, cfg, 0, speech.size), cfg)
    dist = [_weighted_distance(span[inside], mag, cfg)]
    for _ in range(25):
        span = gla_iterations(mag, span, fixed, 1, 0.0, cfg)
        dist.append(_weighted_distance(span[inside], mag, cfg))
    assert np.all(np.diff(dist) <= 1e-12 * dist[0])
    assert (
        spectral_convergence_db(span[inside], mag, cfg)
        < spectral_convergence_db(random_phase_init(mag, cfg, 0, speech.size), mag, cfg) - 8.0
    )


def test_fgla_is_faster_than_gla(speech):
    cfg = StftConfig()
    mag = magnitude(speech, cfg)
    sc = {
        name: spectral_convergence_db(methods.reconstruct(name, mag, cfg, 30, 1, speech.size), mag, cfg)
        for name in ("gla", "fgla")
    }
    assert sc["fgla"] < sc["gla"] - 3.0


@pytest.mark.parametrize(("div", "side"), [(KL, "left"), (QUADRATIC, "left"), (KL, "right")])
def test_admm_objective_goes_down(speech, div, side):
    cfg = StftConfig()
    mag = magnitude(speech, cfg)
    span, fixed, inside = _padded(random_phase_init(mag, cfg, 0, speech.size), cfg)
    prox, rho = make_prox(div, side), published_rho(div, cfg)
    values = [objective(span[inside], mag, cfg, div, side)]
    lam = None
    for n in (5, 15, 30):
        span, lam = admm_iterations(mag, span, fixed, lam, prox, rho, n, cfg)
        values.append(objective(span[inside], mag, cfg, div, side))
    assert np.all(np.diff(values) < 0), values
    assert values[-1] < 0.1 * values[0]


@pytest.mark.parametrize("d", [1.0, 2.0])
@pytest.mark.parametrize(
    ("div", "side"),
    [(QUADRATIC, "left"), (KL, "left"), (KL, "right"), (IS, "left"), (Divergence(0.5), "left")],
)
def test_true_signal_is_a_fixed_point(speech, d, div, side):
    """Started at the true signal with lambda = 0, ADMM and GLA stay there (u = r, z = A x)."""
    cfg = StftConfig(power=d)
    x = speech[:8000]
    mag = magnitude(x, cfg)
    span, fixed, inside = _padded(x, cfg)
    out, lam = admm_iterations(mag, span, fixed, None, make_prox(div, side), 0.5, 3, cfg)
    np.testing.assert_allclose(out, span, atol=1e-9)
    assert np.max(np.abs(lam)) < 1e-8
    np.testing.assert_allclose(gla_iterations(mag, span, fixed, 3, 0.99, cfg), span, atol=1e-9)


def test_committed_samples_never_change():
    cfg = StftConfig()
    rng = np.random.default_rng(5)
    n_frames = 7
    span = rng.standard_normal(cfg.span(n_frames))
    fixed = (rng.random(span.size) < 0.4).astype(np.float32)
    mag = np.abs(rng.standard_normal((n_frames, cfg.n_bins)))
    lam = rng.standard_normal((2, n_frames, cfg.n_bins)).astype(np.float32)
    prox = make_prox(KL, "left")
    out, lam_out = admm_iterations(mag, span.astype(np.float32), fixed, lam, prox, 0.3, 4, cfg)
    assert lam_out.shape == (2, n_frames, cfg.n_bins)
    np.testing.assert_array_equal(out[fixed == 1], span.astype(np.float32)[fixed == 1])
    assert not np.allclose(out[fixed == 0], span[fixed == 0])
    out = gla_iterations(mag, span, fixed, 4, 0.99, cfg)
    np.testing.assert_array_equal(out[fixed == 1], span[fixed == 1])
    with pytest.raises(ValueError, match="lam must be"):
        admm_iterations(mag, span, fixed, lam[:, :3], make_prox(KL, "left"), 0.3, 1, cfg)


def test_power_spectrogram_admm_converges(speech):
    cfg = StftConfig(power=2.0)
    r = magnitude(speech, cfg)
    y = methods.reconstruct("admm-l2-d2", r, cfg, 30, 0, speech.size)
    x0 = random_phase_init(r, cfg, 0, speech.size)
    assert spectral_convergence_db(y, r, cfg) < spectral_convergence_db(x0, r, cfg) - 10.0


def test_random_phase_start_is_seeded(speech):
    cfg = StftConfig()
    mag = magnitude(speech, cfg)
    a, b, c = (random_phase_init(mag, cfg, s, speech.size) for s in (4, 4, 5))
    np.testing.assert_array_equal(a, b)
    assert not np.allclose(a, c)


def test_every_builtin_method_runs():
    from phasefold.engine.demo import demo_signal

    cfg = StftConfig()
    x = demo_signal(0.5)
    mag = magnitude(x, cfg)
    start = spectral_convergence_db(random_phase_init(mag, cfg, 0, x.size), mag, cfg)
    builtin = [n for n in methods.method_names() if n in ("gla", "fgla") or n.startswith(("admm-", "gd-"))]
    assert len(builtin) >= 40
    for name in builtin:
        y = methods.reconstruct(name, mag, cfg, 5, 0, x.size)
        assert y.shape == x.shape and np.all(np.isfinite(y)), name
        if not name.startswith("gd-"):  # gradient descent: see the next test
            assert spectral_convergence_db(y, mag, cfg) < start, name


@pytest.mark.parametrize("name", ["gd-l2-nesterov", "gd-kl-right-d2-nesterov", "gd-kl-left-d2-nesterov"])
def test_best_gradient_descent_variants_converge(speech, name):
    """With the steps tuned on TIMIT validation, the best GD variants also work on the demo signal."""
    cfg = StftConfig()
    mag = magnitude(speech, cfg)
    y = methods.reconstruct(name, mag, cfg, 100, 0, speech.size)
    assert spectral_convergence_db(y, mag, cfg) < -15.0


def test_registry_errors():
    cfg = StftConfig()
    mag = np.ones((10, cfg.n_bins))
    with pytest.raises(InputError, match="did you mean .*admm-kl"):
        methods.get_method("admm-kll")
    with pytest.raises(InputError, match="cannot hold"):
        methods.reconstruct("gla", mag, cfg, 2, 0, 10**6)
    with pytest.raises(InputError, match="iterations"):
        methods.reconstruct("gla", mag, cfg, -1, 0, 1000)
    with pytest.raises(InputError, match="runs only in the streaming engine"):
        methods.get_method("rtisi-la")


def test_registry_lists_without_registering_at_import():
    """One registry: the offline list and the streaming list come from the same specs, and importing the
    engine registers nothing (a method object is passed to reconstruct directly)."""
    from phasefold.engine import registry
    from phasefold.engine.streaming import steps

    specs = registry.specs()
    assert methods.method_names() == [n for n, s in specs.items() if s.offline]
    assert set(steps.method_names()) <= set(specs) | set(registry.STREAMING_CLASSICAL)
    assert not hasattr(methods, "register") and not hasattr(methods, "METHODS")

    def scaled_gla(mag, cfg, n_iter, seed, length):
        return 0.5 * methods.get_method("gla").run(mag, cfg, n_iter, seed, length)

    cfg = StftConfig()
    x = np.sin(np.arange(5000) * 0.05)
    mag = magnitude(x, cfg)
    y = methods.reconstruct(methods.Method("half GLA", scaled_gla), mag, cfg, 2, 0, x.size)
    np.testing.assert_allclose(y, 0.5 * methods.reconstruct("gla", mag, cfg, 2, 0, x.size))


def test_fgla_matches_librosa_griffinlim(speech):
    """Our FGLA and librosa.griffinlim on the same STFT reach the same consistency (independent code)."""
    pytest.importorskip("librosa")
    bench = importlib.import_module("benchmarks.classical_vs_librosa")
    cfg = StftConfig()
    assert bench.check_librosa_stft(speech, cfg) < 1e-9
    mag = magnitude(speech, cfg)
    ours = spectral_convergence_db(methods.reconstruct("fgla", mag, cfg, 60, 0, speech.size), mag, cfg)
    theirs = spectral_convergence_db(bench.librosa_gla(mag, cfg, 60, 0, speech.size), mag, cfg)
    assert abs(ours - theirs) < 2.0, (ours, theirs)

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from phasefold.engine.algorithms import admm  # noqa: E402
from phasefold.engine.proxes import prox_quadratic  # noqa: E402
from phasefold.engine.stft import StftConfig, magnitude  # noqa: E402
from phasefold.training.unfolded import G1_MIN, NetConfig, UnfoldedADMM  # noqa: E402


def _signal(n: int = 9000) -> np.ndarray:
    t = np.arange(n) / 22050
    rng = np.random.default_rng(0)
    return 0.1 * np.sin(2 * np.pi * (200 + 300 * t) * t) * np.hanning(n) + 0.01 * rng.standard_normal(n)


@pytest.mark.parametrize("variant", ["tied", "untied"])
@pytest.mark.parametrize("hop", [256, 512])
def test_untrained_network_is_admm_l2(variant, hop):
    """The untrained network is the engine's ADMM with the quadratic loss: T iterations, same start."""
    cfg = StftConfig(hop=hop)
    x = _signal()
    mag = magnitude(x, cfg)
    layers, seed = 6, 3
    ref = admm(mag, cfg, layers, seed, x.size, prox_quadratic, 0.1)
    net = UnfoldedADMM(NetConfig(variant=variant, layers=layers, stft=cfg.to_dict()))
    phase = np.random.default_rng(seed).uniform(-np.pi, np.pi, size=mag.shape)  # engine's random start
    with torch.no_grad():
        got64 = net.double().reconstruct(torch.from_numpy(mag), x.size, torch.from_numpy(phase)).numpy()
        got32 = net.float().reconstruct(
            torch.from_numpy(mag).float(), x.size, torch.from_numpy(phase).float()
        )
    np.testing.assert_allclose(got64, ref, atol=1e-5 * np.abs(ref).max())  # float32 parameters
    np.testing.assert_allclose(got32.numpy(), ref, atol=1e-5 * np.abs(ref).max())
    assert (
        np.abs(ref - admm(mag, cfg, layers - 1, seed, x.size, prox_quadratic, 0.1)).max() > 1e-4
    )  # non-trivial


def test_untrained_network_with_a_penalty_schedule_is_admm_l2_with_that_schedule():
    """rho_end: layer t runs ADMM-l2 at its own penalty; the reference is the engine's ADMM run one
    iteration at a time with the unscaled dual carried between penalties."""
    from phasefold.engine.admm import admm_iterations
    from phasefold.engine.algorithms import _padded, random_phase_init

    cfg = StftConfig()
    x = _signal()
    mag = magnitude(x, cfg)
    layers, seed = 5, 2
    net_cfg = NetConfig(variant="untied", layers=layers, rho=0.1, rho_end=1.0, stft=cfg.to_dict())
    rhos = net_cfg.rho_schedule()
    assert rhos[0] == pytest.approx(0.1) and rhos[-1] == pytest.approx(1.0)
    span, fixed, inside = _padded(random_phase_init(mag, cfg, seed, x.size), cfg)
    ref, lam = span, None
    for rho in rhos:
        ref, lam = admm_iterations(mag, ref, fixed, lam, prox_quadratic, rho, 1, cfg)
    ref = ref[inside]
    net = UnfoldedADMM(net_cfg).double()
    assert sorted(net.card_parameters()) == ["b", "bias", "g1", "g2", "rho", "w"]
    phase = np.random.default_rng(seed).uniform(-np.pi, np.pi, size=mag.shape)
    with torch.no_grad():
        got = net.reconstruct(torch.from_numpy(mag), x.size, torch.from_numpy(phase)).numpy()
    np.testing.assert_allclose(got, ref, atol=1e-5 * np.abs(ref).max())
    constant = admm(mag, cfg, layers, seed, x.size, prox_quadratic, 0.1)
    assert np.abs(ref - constant).max() > 1e-3 * np.abs(ref).max()  # the schedule changes the result
    with pytest.raises(ValueError, match="untied"):
        NetConfig(variant="tied", rho_end=1.0)


def test_prox_is_monotone_for_any_raw_parameters_and_projection_keeps_gradients():
    net = UnfoldedADMM(NetConfig(variant="untied", layers=3))
    with torch.no_grad():  # infeasible raw values: the forward pass must still give an increasing F
        net.g1.fill_(-1.0)
        net.g2.fill_(-2.0)
        net.b.fill_(0.5)
        net.w.uniform_(-2.0, 2.0)
    y = torch.linspace(0, 0.1, 2001)
    r = torch.full_like(y, 0.01)
    for t in range(3):
        assert (torch.diff(net.prox(y, r, t)) > 0).all()
    net.project_()
    p = net.constrained()
    assert (
        (p["g1"] >= G1_MIN).all() and (p["w"] <= 0).all() and (p["g2"] >= 0).all() and (p["bias"] > 0).all()
    )
    fresh = UnfoldedADMM(NetConfig(variant="tied", layers=2))  # w = 0 on its bound: gradients still flow
    mag = torch.rand(1, StftConfig().n_frames(2000), 513) * 0.01
    phase = torch.rand(mag.shape) * 6.28
    fresh.reconstruct(mag, 2000, phase).square().sum().backward()
    for name, param in fresh.named_parameters():  # break points move once a slope is non-zero
        assert (param.grad.abs().sum() > 0) == (name != "log_break"), name
    with torch.no_grad():
        fresh.w.fill_(-0.1)
    fresh.zero_grad()
    fresh.reconstruct(mag, 2000, phase).square().sum().backward()
    assert fresh.log_break.grad.abs().sum() > 0


def test_untied_with_equal_layers_equals_tied():
    tied = UnfoldedADMM(NetConfig(variant="tied", layers=3))
    untied = UnfoldedADMM(NetConfig(variant="untied", layers=3))
    with torch.no_grad():
        tied.w.fill_(-0.2)
        tied.g1.fill_(0.2)
        for name, p in untied.named_parameters():
            p.copy_(getattr(tied, name).expand_as(p))
    assert untied.w.shape == (3, 3) and tied.w.shape == (1, 3)
    mag = torch.rand(2, StftConfig().n_frames(1800), 513) * 0.01
    phase = torch.rand(mag.shape) * 6.28
    with torch.no_grad():
        torch.testing.assert_close(tied.reconstruct(mag, 1800, phase), untied.reconstruct(mag, 1800, phase))


def test_anchored_prox_keeps_the_measured_magnitude_and_starts_as_admm_l2():
    """Anchored: F(r, r) = r for any raw values (the divergence is smallest at y = r); only g1, the pieces
    and the break points learn; untrained, it is ADMM-l2 like the free network."""
    cfg = StftConfig()
    x = _signal()
    mag = torch.from_numpy(magnitude(x, cfg))
    phase = torch.from_numpy(np.random.default_rng(1).uniform(-np.pi, np.pi, size=mag.shape))
    free = UnfoldedADMM(NetConfig(variant="untied", layers=4)).double()
    net = UnfoldedADMM(NetConfig(variant="untied", layers=4, anchored=True)).double()
    with torch.no_grad():
        ref = free.reconstruct(mag, x.size, phase).numpy()  # g2 = 1 - g1 rounds unlike 1 / (1 + rho)
        np.testing.assert_allclose(
            net.reconstruct(mag, x.size, phase).numpy(), ref, atol=1e-6 * np.abs(ref).max()
        )
        net.g1.copy_(torch.tensor([-1.0, 0.3, 0.9, 5.0]))  # out of range at both ends
        net.g2.fill_(0.2)  # ignored: g2 = 1 - g1
        net.b.fill_(3.0)  # ignored: b = 2
        net.w.uniform_(-1.0, 0.0)
    r = torch.logspace(-1.5, 1, 50, dtype=torch.float64)  # above the break points
    y = torch.linspace(0, 3, 3001, dtype=torch.float64)
    for t in range(4):
        np.testing.assert_allclose(net.prox(r, r, t).detach().numpy(), r.numpy(), rtol=1e-12)
        assert (torch.diff(net.prox(y, torch.full_like(y, 0.5), t)) > 0).all()
    p = net.constrained()
    assert (p["g1"] > 0).all() and (p["g1"] < 1).all() and torch.equal(p["b"], torch.full_like(p["b"], 2.0))
    net.reconstruct(mag, x.size, phase).square().sum().backward()
    assert net.g2.grad is None and net.b.grad is None and net.g1.grad.abs().sum() > 0
    # free networks do not keep r: a learned shrinkage (g1 + g2 < 1) moves F(r, r) below r
    with torch.no_grad():
        free.g2.fill_(0.8)
    assert (free.prox(r, r, 0) < 0.9 * r).all()

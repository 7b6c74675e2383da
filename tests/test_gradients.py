"""Gradients against finite differences: the divergences' derivatives and the objective's gradient."""

import numpy as np
import pytest
from phasefold.engine.algorithms import gradient, gradient_descent, objective, random_phase_init
from phasefold.engine.divergences import IS, KL, QUADRATIC, Divergence, divergence
from phasefold.engine.stft import StftConfig, magnitude

DIVS = [QUADRATIC, KL, IS, Divergence(0.5), Divergence(1.5), Divergence(3.0)]


@pytest.mark.parametrize("div", DIVS, ids=lambda d: d.name)
@pytest.mark.parametrize("side", ["left", "right"])
def test_loss_derivatives(div, side):
    u = np.linspace(0.2, 3.0, 15)
    r = 0.9
    h = 1e-6
    fd1 = (div.loss(u + h, r, side) - div.loss(u - h, r, side)) / (2 * h)
    np.testing.assert_allclose(div.dloss(u, r, side), fd1, rtol=1e-6, atol=1e-8)
    fd2 = (div.dloss(u + h, r, side) - div.dloss(u - h, r, side)) / (2 * h)
    np.testing.assert_allclose(div.d2loss(u, r, side), fd2, rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("div", DIVS, ids=lambda d: d.name)
def test_divergence_is_the_bregman_form(div):
    """The closed forms equal psi(p) - psi(q) - psi'(q)(p - q) of the generator."""
    p = np.array([0.1, 0.5, 1.0, 2.5])
    q = np.array([0.3, 0.5, 2.0, 1.0])
    bregman = div.psi(p) - div.psi(q) - div.dpsi(q) * (p - q)
    np.testing.assert_allclose(div.value(p, q), bregman, rtol=1e-10, atol=1e-12)
    assert div.value(q, q) == pytest.approx(np.zeros(4), abs=1e-14)


@pytest.mark.parametrize("loss", ["l2", "kl", "is", "beta0.5"])
@pytest.mark.parametrize("side", ["left", "right"])
@pytest.mark.parametrize("d", [1.0, 2.0])
def test_objective_gradient_vs_finite_differences(loss, side, d):
    cfg = StftConfig(power=d)
    rng = np.random.default_rng(7)
    x = rng.standard_normal(3000) * 0.1
    target = rng.standard_normal(3000) * 0.1
    mag = magnitude(target, cfg)
    div = divergence(loss)
    g = gradient(x, mag, cfg, div, side)
    for k in range(3):
        v = rng.standard_normal(x.size)
        eps = 1e-6 * np.linalg.norm(x) / np.linalg.norm(v)
        plus, minus = objective(x + eps * v, mag, cfg, div, side), objective(x - eps * v, mag, cfg, div, side)
        fd = (plus - minus) / (2 * eps)
        assert float(g @ v) == pytest.approx(fd, rel=2e-5), (k, float(g @ v), fd)


def test_gradient_step_two_on_quadratic_is_griffin_lim(speech):
    """For the quadratic d = 1 loss, x - 2 grad J(x) = A^H(r e^{i angle(Ax)}): one GLA iteration."""
    from phasefold.engine.stft import istft, stft

    cfg = StftConfig()
    mag = magnitude(speech, cfg)
    x = random_phase_init(mag, cfg, 0, speech.size)
    spec = stft(x, cfg)
    gla_step = istft(mag * np.exp(1j * np.angle(spec)), cfg, x.size)
    # equal up to the 1e-6 sigma floor on |Ax| inside the gradient (phasefold.engine.algorithms)
    step = x - 2.0 * gradient(x, mag, cfg, QUADRATIC, "left")
    np.testing.assert_allclose(step, gla_step, atol=1e-5 * np.max(np.abs(gla_step)))


@pytest.mark.parametrize("nesterov", [False, True])
def test_gradient_descent_lowers_the_objective(speech, nesterov):
    cfg = StftConfig()
    mag = magnitude(speech, cfg)
    x0 = random_phase_init(mag, cfg, 3, speech.size)
    y = gradient_descent(mag, cfg, 30, 3, speech.size, QUADRATIC, "left", 1.0, nesterov=nesterov)
    assert objective(y, mag, cfg, QUADRATIC, "left") < 0.5 * objective(x0, mag, cfg, QUADRATIC, "left")

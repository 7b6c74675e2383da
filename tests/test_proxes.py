"""Every prox against a numerical argmin of its own objective D(.)/rho + (u - y)^2 / 2."""

import itertools

import numpy as np
import pytest
from phasefold.engine.divergences import IS, KL, QUADRATIC, Divergence
from phasefold.engine.proxes import (
    lambertw_exp,
    make_prox,
    numerical_prox,
    prox_is_left,
    prox_kl_left,
    prox_kl_right,
    prox_quadratic,
)
from scipy.optimize import minimize_scalar

YS = (1e-3, 0.05, 0.7, 3.0, 12.0)
RS = (1e-3, 0.3, 2.0, 8.0)
RHOS = (0.1, 1.0, 4.5, 30.0)
CASES = [
    (QUADRATIC, "left"),
    (QUADRATIC, "right"),
    (KL, "left"),
    (KL, "right"),
    (IS, "left"),
    (Divergence(0.5), "left"),
    (Divergence(1.5), "left"),
    (Divergence(1.5), "right"),
    (Divergence(3.0), "left"),
    (Divergence(1.2), "right"),
]


def _objective(div, side, y, r, rho):
    return lambda u: float(div.loss(np.array(u), np.array(r), side)) / rho + 0.5 * (u - y) ** 2


def _argmin(div, side, y, r, rho) -> float:
    """Bounded Brent search on [0, max(y, r) + 1], which holds the minimiser (see phasefold.engine.proxes)."""
    f = _objective(div, side, y, r, rho)
    hi = max(y, r) + 1.0
    options = {"xatol": 1e-12 * hi, "maxiter": 2000}
    res = minimize_scalar(f, bounds=(1e-300, hi), method="bounded", options=options)
    return float(res.x)


@pytest.mark.parametrize(("div", "side"), CASES, ids=lambda v: getattr(v, "name", v))
def test_prox_matches_numerical_argmin(div, side):
    prox = make_prox(div, side)
    grid = list(itertools.product(YS, RS, RHOS))
    y = np.array([g[0] for g in grid])
    r = np.array([g[1] for g in grid])
    for rho in RHOS:
        sel = np.array([g[2] == rho for g in grid])
        u = prox(y[sel], r[sel], rho)
        for ui, yi, ri in zip(u, y[sel], r[sel], strict=True):
            f = _objective(div, side, yi, ri, rho)
            ref = _argmin(div, side, yi, ri, rho)
            # the prox is at least as good as the search, and at the same point
            assert f(ui) <= f(ref) + 1e-10 * (1.0 + abs(f(ref))), (yi, ri, rho, ui, ref)
            assert ui == pytest.approx(ref, rel=1e-4, abs=1e-9), (yi, ri, rho)


@pytest.mark.parametrize(
    ("closed", "div", "side"),
    [
        (prox_quadratic, QUADRATIC, "left"),
        (prox_kl_left, KL, "left"),
        (prox_kl_right, KL, "right"),
        (prox_is_left, IS, "left"),
    ],
)
def test_closed_forms_agree_with_newton(closed, div, side):
    rng = np.random.default_rng(3)
    y = np.abs(rng.standard_normal(5000)) * rng.choice([1e-3, 1.0, 10.0], 5000)
    r = np.abs(rng.standard_normal(5000)) * rng.choice([1e-4, 1.0, 5.0], 5000)
    for rho in (0.1, 4.5, 200.0):
        newton = numerical_prox(div, side, y, r, rho)
        np.testing.assert_allclose(closed(y, r, rho), newton, rtol=1e-9, atol=1e-14)


def test_lambertw_of_exp_matches_scipy():
    from scipy.special import lambertw

    rng = np.random.default_rng(11)
    s = np.concatenate(
        [
            rng.uniform(-700, -20, 2000),
            rng.uniform(-20, 1, 2000),
            rng.uniform(1, 700, 2000),
            [-20.0, 1.0, 0.0],
        ]
    )
    ref = lambertw(np.exp(s)).real
    np.testing.assert_allclose(lambertw_exp(s), ref, rtol=1e-13, atol=0)
    big = np.array([800.0, 1e4, 1e8])  # e^s overflows: check w + log w = s instead
    w = lambertw_exp(big)
    np.testing.assert_allclose(w + np.log(w), big, rtol=1e-14)
    np.testing.assert_array_equal(lambertw_exp(np.array([-np.inf, -1000.0])), [0.0, 0.0])


def test_kl_left_large_arguments_do_not_overflow():
    # rho * y far above log(max float): the Lambert W is evaluated in the log domain
    y = np.array([800.0, 5e3, 1e5])
    r = np.array([1.0, 0.5, 2.0])
    rho = 1.0
    u = prox_kl_left(y, r, rho)
    assert np.all(np.isfinite(u))
    np.testing.assert_allclose(u, numerical_prox(KL, "left", y, r, rho), rtol=1e-12)


def test_zero_measurements():
    y = np.array([0.0, 0.5, 2.0])
    r = np.zeros(3)
    np.testing.assert_array_equal(prox_kl_left(y, r, 1.0), 0.0)  # D(u | 0) infinite for u > 0
    np.testing.assert_array_equal(prox_is_left(y, r, 1.0), 0.0)
    np.testing.assert_allclose(prox_kl_right(y, r, 1.0), np.maximum(y - 1.0, 0.0))  # (u - y) + 1/rho = 0
    np.testing.assert_allclose(prox_quadratic(y, r, 0.5), y / 3.0)


def test_fixed_point_at_measurements():
    """With y = r the measurements are already optimal: every prox returns r."""
    r = np.array([1e-3, 0.2, 1.0, 7.0])
    for div, side in CASES:
        np.testing.assert_allclose(make_prox(div, side)(r, r, 0.7), r, rtol=1e-10)


def test_nonconvex_right_prox_is_refused():
    with pytest.raises(ValueError, match="not convex"):
        make_prox(IS, "right")
    with pytest.raises(ValueError, match="not convex"):
        make_prox(Divergence(0.5), "right")

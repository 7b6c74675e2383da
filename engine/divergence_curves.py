"""Learned divergences of unfolded-ADMM models in closed form (docs/architecture.md), numpy only.

Layer t's prox is F(y, r) = APL(g1 y + g2 s(r)), s(r) = r^(b-1)/(b-1),
APL(v) = max(v, 0) + sum_c w_c max(bias_c - v, 0). Where F is strictly increasing it is the prox of

    f_r(u) = (1/g1) (APL^{-1}(u) - g2 s(r)) u - u^2/2 - (1/g1) Atilde(APL^{-1}(u))   (+ constant)

with Atilde(v) = max(v, 0)^2/2 - sum_c (w_c/2) max(bias_c - v, 0)^2 an antiderivative of APL: indeed
f_r'(u) = F^{-1}(u) - u, i.e. u = F(y) solves u - y + f_r'(u) = 0. The ADMM u-step is the prox of
D(. | r)/rho, so rho f_r is the learned divergence on the scale of the losses (for the untrained model,
rho f_r(u) = (u - r)^2 / 2 exactly). ``parameters`` is the model card's object of that name.
"""

from __future__ import annotations

import numpy as np
from phasefold.engine.model_card import ModelCard

R_FLOOR = 1e-12  # as in the network: r is floored before r^(b - 1)
PROJECTION_G1 = 1e-9  # a Griffin-Lim layer's g1 = 0 (the projection) is drawn as this limit


def layer_parameters(parameters: dict, index: int) -> dict[str, np.ndarray]:
    """Parameter set ``index`` (0 for tied models, layer t for untied ones) as arrays."""
    return {
        "g1": float(parameters["g1"][index]),
        "g2": float(parameters["g2"][index]),
        "b": float(parameters["b"][index]),
        "w": np.asarray(parameters["w"][index], dtype=np.float64),
        "bias": np.asarray(parameters["bias"][index], dtype=np.float64),
    }


def apl(v: np.ndarray, w: np.ndarray, bias: np.ndarray) -> np.ndarray:
    """APL(v) = max(v, 0) + sum_c w_c max(bias_c - v, 0)."""
    v = np.asarray(v, dtype=np.float64)
    pieces = np.maximum(bias[:, None] - v.reshape(-1)[None, :], 0.0)
    return (np.maximum(v, 0.0).reshape(-1) + w @ pieces).reshape(v.shape)


def apl_antiderivative(v: np.ndarray, w: np.ndarray, bias: np.ndarray) -> np.ndarray:
    """Atilde(v) with Atilde' = APL (closed form, piecewise quadratic)."""
    v = np.asarray(v, dtype=np.float64)
    pieces = np.maximum(bias[:, None] - v.reshape(-1)[None, :], 0.0) ** 2
    return (0.5 * np.maximum(v, 0.0).reshape(-1) ** 2 - 0.5 * (w @ pieces)).reshape(v.shape)


def apl_inverse(u: np.ndarray, w: np.ndarray, bias: np.ndarray) -> np.ndarray:
    """APL^{-1} on [APL(0), inf), where APL is increasing with slope >= 1 (NaN below APL(0))."""
    u = np.asarray(u, dtype=np.float64)
    knots = np.unique(np.concatenate([[0.0], bias[bias > 0]]))
    values = apl(knots, w, bias)
    top_v, top_u = knots[-1], values[-1]
    inner = np.interp(u, values, knots)
    out = np.where(u > top_u, top_v + (u - top_u), inner)  # slope 1 beyond the last break point
    return np.where(u < values[0], np.nan, out)


def s_of_r(r: np.ndarray | float, b: float) -> np.ndarray:
    return np.exp((b - 1.0) * np.log(np.maximum(np.asarray(r, dtype=np.float64), R_FLOOR))) / (b - 1.0)


def prox(y: np.ndarray, r: np.ndarray | float, p: dict) -> np.ndarray:
    """F(y, r) of one parameter set (numpy mirror of the network's prox)."""
    return apl(p["g1"] * np.asarray(y, dtype=np.float64) + p["g2"] * s_of_r(r, p["b"]), p["w"], p["bias"])


def learned_f(u: np.ndarray, r: float, p: dict) -> np.ndarray:
    """f_r(u) (up to a constant): the function whose prox is F(., r); NaN outside the range of F."""
    u = np.asarray(u, dtype=np.float64)
    v = apl_inverse(u, p["w"], p["bias"])
    v = np.where(v < p["g2"] * s_of_r(r, p["b"]), np.nan, v)  # u < F(0, r): not reached from y >= 0
    g1 = p["g1"]
    return (
        (v - p["g2"] * s_of_r(r, p["b"])) * u / g1
        - 0.5 * u**2
        - apl_antiderivative(v, p["w"], p["bias"]) / g1
    )


def learned_divergence(u: np.ndarray, r: float, p: dict, rho: float) -> np.ndarray:
    """rho f_r(u) shifted so that its minimum over ``u`` is 0: the learned loss on the losses' scale."""
    d = rho * learned_f(u, r, p)
    return d - np.nanmin(d)


def quadratic(u: np.ndarray, r: float) -> np.ndarray:
    return 0.5 * (np.asarray(u, dtype=np.float64) - r) ** 2


def kl(u: np.ndarray, r: float) -> np.ndarray:
    """KL(u | r) = u log(u / r) - u + r (0 log 0 = 0)."""
    u = np.asarray(u, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(u > 0, u * np.log(u / r), 0.0) - u + r


def set_penalty(card: ModelCard, index: int) -> float:
    """The penalty rho under which parameter set ``index`` is a loss's prox.

    ADMM layers: the card's rho, or its layer's entry of a penalty schedule ("rho", one per layer; with a
    parameter layout, set = layer * positions + position). Layers of the Griffin-Lim form
    (``layer_form`` "gla") have no penalty: their magnitude step F = APL(g1 y + g2 s(r)) is the prox of
    rho f_r with rho = g1 / g2 (for b = 2 and no pieces, rho f_r = (u - r)^2 / 2, as for ADMM-l2); the
    untrained g1 = 0, the projection u = r, is taken at g1 = PROJECTION_G1."""
    params = card.parameters
    if card.gla:
        return max(float(params["g1"][index]), PROJECTION_G1) / float(params["g2"][index])
    if "rho" not in params:
        return float(card.rho)
    return float(params["rho"][index // card.positions])


def card_curves(card: ModelCard, r: float = 1.0, n: int = 400, span: float = 3.0) -> dict:
    """u grid and the learned divergence of every parameter set of a model card at measurement r."""
    params = card.parameters
    u = np.linspace(0.0, span * r, n)
    sets = []
    for i in range(len(params["g1"])):
        p = layer_parameters(params, i)
        p["g1"] = max(p["g1"], PROJECTION_G1)  # a Griffin-Lim layer's projection (set_penalty)
        sets.append(learned_divergence(u, r, p, set_penalty(card, i)))
    return {"u": u, "learned": sets, "quadratic": quadratic(u, r), "kl": kl(u, r)}


def set_labels(card: ModelCard) -> list[str]:
    """A label per parameter set of a card: "tied (all layers)", "layer t" or, for streaming models whose
    parameters also depend on the frame's position in the window, "layer t, frame p"."""
    n, positions = len(card.parameters["g1"]), card.positions
    if n == 1:
        return ["tied (all layers)"]
    return [
        f"layer {i // positions + 1}" + (f", frame {i % positions + 1}" if positions > 1 else "")
        for i in range(n)
    ]

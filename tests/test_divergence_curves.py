import dataclasses

import numpy as np
import pytest
from phasefold.engine import divergence_curves as dc
from phasefold.engine.model_card import ModelCard, ParameterLayout
from phasefold.exported_models import MODELS_DIR

ACTIVE = {
    "g1": 0.3,
    "g2": 0.8,
    "b": 1.6,
    "w": np.array([-0.4, -0.2, -0.7]),
    "bias": np.array([0.4, 0.9, 1.5]),
}


def _card(**changes) -> ModelCard:
    """A shipped card with parameters, penalty, layout or form replaced: what a drawing reads."""
    return dataclasses.replace(ModelCard.read(MODELS_DIR / "unfolded-tied.onnx"), **changes)


@pytest.mark.parametrize("r", [0.3, 1.0])
def test_closed_form_is_the_function_whose_prox_is_F(r):
    """argmin_u (u - y)^2/2 + f_r(u) over a fine grid returns F(y, r) (independent numerical check)."""
    f0 = float(dc.prox(0.0, r, ACTIVE))
    u = np.linspace(f0, f0 + 6.0, 600_001)
    f = dc.learned_f(u, r, ACTIVE)
    assert np.all(np.isfinite(f))
    for y in (0.0, 0.05, 0.3, 0.8, 1.7, 3.0):
        objective = 0.5 * (u - y) ** 2 + f
        assert u[np.argmin(objective)] == pytest.approx(float(dc.prox(y, r, ACTIVE)), abs=2e-5)


def test_untrained_parameters_give_the_quadratic_loss():
    rho = 0.1
    p = {
        "g1": rho / (1 + rho),
        "g2": 1 / (1 + rho),
        "b": 2.0,
        "w": np.zeros(3),
        "bias": np.array([1e-4, 1e-3, 1e-2]),
    }
    u = np.linspace(1.0 / (1 + rho), 3.0, 500)
    np.testing.assert_allclose(
        dc.learned_divergence(u, 1.0, p, rho), dc.quadratic(u, 1.0) - dc.quadratic(u, 1.0).min(), atol=1e-9
    )
    np.testing.assert_allclose(dc.prox(u, 1.0, p), (1.0 + rho * u) / (1 + rho), rtol=1e-12)


def test_a_penalty_schedule_card_scales_each_layer_by_its_own_rho():
    """An untrained schedule network's layer t is the prox of the quadratic loss at rho_t: every curve of
    its card is the quadratic loss (a single rho for all layers would not give that)."""
    torch = pytest.importorskip("torch")
    from phasefold.training.unfolded import NetConfig, UnfoldedADMM

    net = UnfoldedADMM(NetConfig(variant="untied", layers=4, rho=0.1, rho_end=3.0))
    card = _card(rho=0.1, parameters=net.card_parameters())
    assert torch.tensor(card.parameters["rho"]).max() > 2.9
    curves = dc.card_curves(card, r=1.0, span=3.0)
    for d in curves["learned"]:
        ok = np.isfinite(d)
        q = curves["quadratic"][ok]
        np.testing.assert_allclose(d[ok], q - q.min(), atol=1e-6)


def test_a_schedule_with_a_parameter_layout_takes_each_sets_layer_penalty():
    """A stream model started from a schedule model (--init) has one rho per layer and sets per (layer,
    position): set i takes layer i // positions's rho, and every untrained curve is the quadratic loss."""
    pytest.importorskip("torch")
    from phasefold.training.stream_unfolded import StreamNetConfig, StreamUnfolded

    net = StreamUnfolded(StreamNetConfig(lookahead=1, layers=3, rho=0.1, rho_end=2.0))
    layout = ParameterLayout(layers=3, positions=net.positions)
    card = _card(rho=0.1, parameters=net.card_parameters(), parameter_layout=layout)
    assert len(card.parameters["g1"]) == 3 * net.positions and len(card.parameters["rho"]) == 3
    curves = dc.card_curves(card, r=1.0, span=3.0)
    assert len(curves["learned"]) == 3 * net.positions
    for d in curves["learned"]:
        ok = np.isfinite(d)
        q = curves["quadratic"][ok]
        np.testing.assert_allclose(d[ok], q - q.min(), atol=1e-6)


def test_a_griffin_lim_layer_is_drawn_at_the_penalty_that_makes_it_a_prox():
    """A "gla" layer F(y) = g1 y + (1 - g1) r (b = 2, no pieces) is the prox of the quadratic loss at
    rho = g1 / g2, and the untrained projection (g1 = 0) is its limit."""
    params = {
        "g1": [0.0, 0.004],
        "g2": [1.0, 0.996],
        "b": [2.0, 2.0],
        "w": [[0.0], [0.0]],
        "bias": [[0.1], [0.1]],
    }
    card = _card(rho=0.1, layer_form="gla", parameters=params)
    assert dc.set_penalty(card, 1) == pytest.approx(0.004 / 0.996)
    curves = dc.card_curves(card, r=1.0, span=3.0)
    for d in curves["learned"]:
        ok = np.isfinite(d) & (curves["u"] >= 0.99)
        q = curves["quadratic"][ok]
        np.testing.assert_allclose(d[ok], q - q.min(), atol=1e-4)


def test_apl_inverse_and_antiderivative():
    v = np.linspace(0.0, 3.0, 3001)
    a = dc.apl(v, ACTIVE["w"], ACTIVE["bias"])
    np.testing.assert_allclose(dc.apl_inverse(a, ACTIVE["w"], ACTIVE["bias"]), v, atol=1e-12)
    anti = dc.apl_antiderivative(v, ACTIVE["w"], ACTIVE["bias"])
    np.testing.assert_allclose(np.gradient(anti, v)[1:-1], a[1:-1], atol=2e-3)
    assert np.isnan(dc.apl_inverse(np.array([a[0] - 0.1]), ACTIVE["w"], ACTIVE["bias"]))[0]
    assert dc.kl(np.array([1.0]), 1.0)[0] == 0.0


def test_numpy_prox_matches_the_network():
    torch = pytest.importorskip("torch")
    from phasefold.training.unfolded import NetConfig, UnfoldedADMM

    net = UnfoldedADMM(NetConfig(variant="untied", layers=2))
    with torch.no_grad():
        net.w.uniform_(-0.5, 0.0)
        net.b.fill_(1.7)
        net.g1.fill_(0.4)
    y = torch.linspace(0, 0.05, 200, dtype=torch.float64)
    r = torch.full_like(y, 0.004)
    for t in range(2):
        p = dc.layer_parameters(net.card_parameters(), t)
        ref = net.double().prox(y, r, t).detach().numpy()
        np.testing.assert_allclose(dc.prox(y.numpy(), r.numpy(), p), ref, rtol=1e-10, atol=1e-14)


def test_cli_draws_the_shipped_model(tmp_path):
    from phasefold.cli import main

    out = tmp_path / "curves.png"
    assert main(["divergence", "unfolded-tied", "-o", str(out), "--r", "1", "0.01"]) == 0
    assert out.stat().st_size > 10_000
    assert main(["divergence", str(tmp_path / "nope.onnx"), "-o", str(out)]) == 1


def test_parameter_sets_are_labelled_by_layer_and_frame_position():
    from phasefold.engine.divergence_curves import set_labels

    assert set_labels(ModelCard.read(MODELS_DIR / "unfolded-tied.onnx")) == ["tied (all layers)"]
    untied = set_labels(ModelCard.read(MODELS_DIR / "unfolded-untied.onnx"))
    assert untied[0] == "layer 1" and untied[-1] == "layer 15" and len(untied) == 15
    stream = set_labels(ModelCard.read(MODELS_DIR / "unfolded-stream-l1-t3.onnx"))  # 3 layers x 5 frames
    assert (stream[0], stream[6], stream[-1]) == ("layer 1, frame 1", "layer 2, frame 2", "layer 3, frame 5")

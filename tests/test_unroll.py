"""A tied model unrolled for streaming: the same network as the tied one run for more layers."""

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from phasefold.engine.errors import InputError  # noqa: E402
from phasefold.engine.model_card import ModelCard  # noqa: E402
from phasefold.engine.stft import StftConfig, analyze  # noqa: E402
from phasefold.exported_models import MODELS_DIR  # noqa: E402
from phasefold.training.rebuild import network_of  # noqa: E402
from phasefold.training.unroll import unrolled  # noqa: E402


def test_unrolled_tied_model_is_the_tied_network_with_more_layers():
    card = ModelCard.read(MODELS_DIR / "unfolded-tied.onnx")
    layers, lookahead = 20, 3
    stream = unrolled(card, layers, lookahead).double()
    tied = network_of(card).double()
    cfg = StftConfig()
    w = stream.scfg.window_frames
    rng = np.random.default_rng(0)
    s = cfg.span(w)
    truth = 0.02 * rng.standard_normal(s)
    mag = torch.from_numpy(np.abs(analyze(truth, cfg)))
    x = torch.from_numpy(truth + 0.01 * rng.standard_normal(s))
    fixed = torch.zeros(s, dtype=torch.float64)
    fixed[: cfg.pad] = 1.0
    lam = torch.zeros(2, w, cfg.n_bins, dtype=torch.float64)
    with torch.no_grad():
        got = stream.step_real(mag, x, fixed, lam)
        lam_c = torch.complex(lam[0], lam[1])
        want_x, want_lam = tied(mag, x, fixed, lam_c, layers=layers)  # 20 > its 15: the same prox again
    # 1e-6: the streaming network holds its coverage as a float32 buffer (one layer fewer differs by 5e-3)
    np.testing.assert_allclose(got[0].numpy(), want_x.numpy(), rtol=0, atol=1e-6)
    np.testing.assert_allclose(got[1][0].numpy(), want_lam.real.numpy(), rtol=0, atol=1e-6)


def test_only_an_offline_tied_model_unrolls():
    with pytest.raises(InputError, match="only an offline tied model"):
        unrolled(ModelCard.read(MODELS_DIR / "unfolded-untied.onnx"), 20, 3)
    with pytest.raises(InputError, match="only an offline tied model"):
        unrolled(ModelCard.read(MODELS_DIR / "unfolded-stream-l3-t20.onnx"), 20, 3)

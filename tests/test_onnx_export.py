"""The exported graph against independent references: PyTorch in float64 and the engine's numpy ADMM."""

import numpy as np
import pytest

torch = pytest.importorskip("torch")
ort = pytest.importorskip("onnxruntime")

from phasefold.engine.admm import admm_iterations  # noqa: E402
from phasefold.engine.proxes import prox_quadratic  # noqa: E402
from phasefold.engine.stft import StftConfig, analyze  # noqa: E402
from phasefold.training.export import LAM_TOLERANCE, TOLERANCE  # noqa: E402
from phasefold.training.onnx_graph import build_model  # noqa: E402
from phasefold.training.unfolded import NetConfig, UnfoldedADMM  # noqa: E402


def _session(model):
    so = ort.SessionOptions()
    so.intra_op_num_threads = 1
    return ort.InferenceSession(model.SerializeToString(), so, providers=["CPUExecutionProvider"])


def _window(cfg: StftConfig, w: int, seed: int) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    s = cfg.span(w)
    truth = rng.standard_normal(s) * np.hanning(s) * 0.05
    fixed = np.zeros(s, np.float32)
    fixed[: cfg.pad] = 1.0
    return {
        "mag": np.abs(analyze(truth, cfg)).astype(np.float32),
        "x": (truth + 0.02 * rng.standard_normal(s)).astype(np.float32),
        "fixed": fixed,
        "lam": (1e-3 * rng.standard_normal((2, w, cfg.n_bins))).astype(np.float32),
    }


SIXTEEN_K = {"n_fft": 512, "hop": 128, "sample_rate": 16000}  # the 16 kHz models' STFT


def _perturbed_net(
    hop: int, variant: str, layers: int, rho_end: float | None = None, stft: dict | None = None
) -> UnfoldedADMM:
    settings = StftConfig(**(stft or {"hop": hop})).to_dict()
    net = UnfoldedADMM(NetConfig(variant=variant, layers=layers, stft=settings, rho_end=rho_end))
    gen = torch.Generator().manual_seed(3)
    with torch.no_grad():
        for p in [net.g1, net.g2, net.b] + ([net.log_rho] if rho_end else []):
            p.mul_(1.0 + 0.2 * torch.rand(p.shape, generator=gen))
        net.w.copy_(-0.3 * torch.rand(net.w.shape, generator=gen))
    net.project_()
    return net


@pytest.mark.parametrize(
    "hop, rho_end, stft", [(256, None, None), (512, None, None), (256, 1.0, None), (128, None, SIXTEEN_K)]
)
def test_graph_matches_pytorch_in_float64(hop, rho_end, stft):
    net = _perturbed_net(hop, "untied", 4, rho_end, stft)
    cfg = net.stft_cfg
    sess = _session(build_model(net.card_parameters(), "untied", 4, net.cfg.rho, cfg))
    for w, seed in ((cfg.overlap + 3, 0), (19, 1)):  # W is a dynamic axis
        case = _window(cfg, w, seed)
        with torch.no_grad():
            ref = net.double().step_real(*(torch.from_numpy(case[k].astype(np.float64)) for k in case))
        got = sess.run(None, case)
        assert np.abs(got[0] - ref[0].numpy()).max() <= TOLERANCE
        assert np.abs(got[1] - ref[1].numpy()).max() <= LAM_TOLERANCE


@pytest.mark.parametrize("stft", [{}, SIXTEEN_K], ids=["22050-1024-256", "16000-512-128"])
def test_untrained_graph_is_engine_admm_l2(stft):
    """Independent reference: numpy's FFT and phasefold.engine.admm, not the graph's own DFT."""
    cfg = StftConfig(**stft)
    net = UnfoldedADMM(NetConfig(variant="tied", layers=5, stft=cfg.to_dict()))
    sess = _session(build_model(net.card_parameters(), "tied", 5, 0.1, cfg, cov_eps=1e-8))
    case = _window(cfg, 9, 2)
    x, lam = admm_iterations(
        case["mag"].astype(np.float64),
        case["x"].astype(np.float64),
        case["fixed"],
        case["lam"].astype(np.float64),
        prox_quadratic,
        0.1,
        5,
        cfg,
    )
    got_x, got_lam = sess.run(None, case)
    # the last samples are barely covered (coverage floor 1e-8) and large: relative there
    np.testing.assert_allclose(got_x, x, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(got_lam, lam, rtol=1e-4, atol=1e-5)


def test_graph_with_a_penalty_schedule_is_engine_admm_l2_at_those_penalties():
    cfg = StftConfig()
    net = UnfoldedADMM(NetConfig(variant="untied", layers=4, rho=0.1, rho_end=2.0))
    params = net.card_parameters()
    sess = _session(build_model(params, "untied", 4, 0.1, cfg, cov_eps=1e-8))
    case = _window(cfg, 9, 4)
    x, lam = case["x"].astype(np.float64), case["lam"].astype(np.float64)
    for rho in params["rho"]:
        x, lam = admm_iterations(
            case["mag"].astype(np.float64), x, case["fixed"], lam, prox_quadratic, rho, 1, cfg
        )
    got_x, got_lam = sess.run(None, case)
    np.testing.assert_allclose(got_x, x, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(got_lam, lam, rtol=1e-4, atol=1e-5)


def test_a_card_records_a_start_model_without_the_machines_paths(tmp_path):
    """training_record's recipe: an --init inside the project as a project path, outside it as the file's
    name, a relative one as given; the checkpoint's own config is left as it was."""
    from phasefold.exported_models import MEL_MODELS_DIR
    from phasefold.training.export import training_record

    inside = MEL_MODELS_DIR / "unfolded-mel-stream-l3.onnx"
    for given, recorded in (
        (str(inside.resolve()), "exported_models/mel/unfolded-mel-stream-l3.onnx"),
        (str(tmp_path / "elsewhere" / "m.onnx"), "m.onnx"),
        ("runs/a/m.onnx", "runs/a/m.onnx"),
    ):
        ck = {"config": {"init": given, "lr": 1e-3}, "epoch": 2}
        assert training_record(ck)["recipe"] == {"init": recorded, "lr": 1e-3}
        assert ck["config"]["init"] == given
    assert training_record({"config": {"init": None}, "epoch": 0})["recipe"] == {"init": None}

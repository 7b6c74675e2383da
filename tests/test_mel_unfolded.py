"""The mel networks (training.mel_unfolded): the torch mel step against the engine's and against finite
differences, the untrained network against an independent numpy mel-ADMM-l2, the ONNX export's parity and
the engine's offline runner, the card's mel section."""

import json
import math
from dataclasses import replace

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from phasefold.engine.errors import InputError, ModelError  # noqa: E402
from phasefold.engine.mel import PRESETS, MelConfig, linear_mel, melspectrogram  # noqa: E402
from phasefold.engine.mel_gla import MelStep as EngineMelStep  # noqa: E402
from phasefold.engine.model_card import ModelCard  # noqa: E402
from phasefold.engine.stft import StftConfig, analyze, coverage, synthesize  # noqa: E402
from phasefold.training.mel_unfolded import MelStep, MelStreamUnfolded, MelUnfoldedADMM  # noqa: E402
from phasefold.training.stream_unfolded import StreamNetConfig  # noqa: E402
from phasefold.training.unfolded import COV_EPS, NetConfig  # noqa: E402

HIFIGAN = PRESETS["hifigan"]
#: a small mel of hifigan's kind (Hann, unnormalised DFT, frames not centred, outside reflect padding)
SMALL = MelConfig(
    stft=StftConfig(n_fft=128, hop=32, sample_rate=8000, window="hann", center=False, convention="librosa"),
    n_mels=12,
    fmax=3500.0,
    power=1.0,
    log_base=math.e,
    floor=1e-5,
    pad=48,
)


def _speechlike(n: int, sr: int) -> np.ndarray:
    t = np.arange(n) / sr
    rng = np.random.default_rng(0)
    return 0.1 * np.sin(2 * np.pi * (150 + 200 * t) * t) * np.hanning(n) + 0.005 * rng.standard_normal(n)


def _mel(cfg: MelConfig, frames: int) -> tuple[np.ndarray, int]:
    n = cfg.n_samples(frames)
    return linear_mel(melspectrogram(_speechlike(n, cfg.stft.sample_rate), cfg), cfg), n


@pytest.mark.parametrize("cfg", [HIFIGAN, replace(SMALL, power=2.0)], ids=["hifigan", "power2"])
def test_torch_mel_step_is_the_engines(cfg):
    rng = np.random.default_rng(1)
    mel, _ = _mel(cfg, 6)
    spec = rng.standard_normal((6, cfg.stft.n_bins)) + 1j * rng.standard_normal((6, cfg.stft.n_bins))
    spec[2, 5:40] = 0.0  # bands with nothing in them: the floor
    want = EngineMelStep(mel, cfg).gains(spec)
    got = MelStep(cfg).double().gains(torch.as_tensor(np.abs(spec)), torch.as_tensor(mel)).numpy()
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=0)
    assert np.ptp(want) > 0.1  # non-trivial gains


def test_mel_step_gradient_matches_finite_differences():
    step = MelStep(SMALL).double()
    rng = np.random.default_rng(2)
    a = torch.tensor(rng.uniform(0.1, 1.0, (2, SMALL.stft.n_bins)), requires_grad=True)
    mel = torch.tensor(rng.uniform(0.1, 1.0, (2, SMALL.n_mels)), requires_grad=True)
    assert torch.autograd.gradcheck(step, (a, mel), eps=1e-6, atol=1e-7, rtol=1e-5, fast_mode=True)
    p2 = MelStep(replace(SMALL, power=2.0)).double()
    assert torch.autograd.gradcheck(p2, (a, mel), eps=1e-6, atol=1e-7, rtol=1e-5, fast_mode=True)


def _numpy_mel_admm_l2(mel, cfg: MelConfig, phase, layers: int, rho: float) -> np.ndarray:
    """Independent reference: ADMM-l2 whose prox target is the engine's mel step of the current estimate,
    from the mel FGLA's start, on the inner signal (all samples free), padding cut."""
    st, n_frames = cfg.stft, mel.shape[0]
    step = EngineMelStep(mel, cfg)
    cov = np.maximum(coverage(n_frames, st), COV_EPS)
    x = synthesize(step(np.exp(1j * phase)), st) / cov
    lam = np.zeros((n_frames, st.n_bins), dtype=complex)
    for _ in range(layers):
        h = analyze(x, st) + lam / rho
        a = np.abs(h)
        u = (a * step.gains(h) + rho * a) / (1.0 + rho)
        z = h * u / a
        x = synthesize(z - lam / rho, st) / cov
        lam = lam + rho * (analyze(x, st) - z)
    return x[cfg.pad : x.size - cfg.pad]


@pytest.mark.parametrize("cfg", [SMALL, HIFIGAN], ids=["small", "hifigan"])
def test_untrained_mel_network_is_mel_admm_l2(cfg):
    frames, layers = 20, 4
    mel, n = _mel(cfg, frames)
    phase = np.random.default_rng(3).uniform(-np.pi, np.pi, (frames, cfg.stft.n_bins))
    net = MelUnfoldedADMM(NetConfig(variant="untied", layers=layers, stft=cfg.stft.to_dict()), cfg).double()
    with torch.no_grad():
        got = net.reconstruct(torch.as_tensor(mel), n, torch.as_tensor(phase)).numpy()
    want = _numpy_mel_admm_l2(mel, cfg, phase, layers, 0.1)
    assert got.shape == (n,)
    np.testing.assert_allclose(got, want, atol=1e-5 * np.abs(want).max())
    fewer = _numpy_mel_admm_l2(mel, cfg, phase, layers - 1, 0.1)
    assert np.abs(want - fewer).max() > 1e-3 * np.abs(want).max()  # the layers do something


def test_a_mel_network_needs_its_mels_stft():
    with pytest.raises(ValueError, match="mel configuration's STFT"):
        MelUnfoldedADMM(NetConfig(layers=2), HIFIGAN)
    with pytest.raises(ValueError, match="mel configuration's STFT"):
        MelStreamUnfolded(StreamNetConfig(layers=2), HIFIGAN)


def test_stream_mel_network_starts_new_frames_from_the_mel():
    net = MelStreamUnfolded(StreamNetConfig(lookahead=1, layers=2, stft=SMALL.stft.to_dict()), SMALL).double()
    mel, n = _mel(SMALL, 12)
    new = net.new_magnitude(torch.as_tensor(mel[None, 3:4]))[0, 0].numpy()
    want = np.abs(EngineMelStep(mel[3:4], SMALL)(np.ones((1, SMALL.stft.n_bins), dtype=complex)))[0]
    np.testing.assert_allclose(new, want, rtol=1e-12)
    with torch.no_grad():
        y = net.reconstruct(torch.as_tensor(mel), n)
    assert y.shape == (n,) and torch.isfinite(y).all() and y.abs().max() > 0


@pytest.fixture(scope="module")
def exported(tmp_path_factory, timit_dir):
    """An offline mel network with moved parameters, exported (verified against float64 PyTorch)."""
    from phasefold.training.export import export_network

    net = MelUnfoldedADMM(NetConfig(variant="untied", layers=3, stft=HIFIGAN.stft.to_dict()), HIFIGAN)
    with torch.no_grad():
        net.g1.mul_(1.5)
        net.b.add_(0.3)
        net.w.fill_(-0.2)
    out = tmp_path_factory.mktemp("mel") / "m.onnx"
    return net, out, export_network(net, out)


def test_export_writes_a_mel_model(exported):
    from phasefold.engine.onnx_model import load_model

    _, out, card = exported
    assert card.mel == HIFIGAN.to_dict() and card.mel_config == HIFIGAN
    assert card.inputs[0] == "mel" and card.interface.inputs["mel"] == ["W", 80]
    assert max(card.verification["max_abs_diff"][k] for k in ("random_w7", "random_w40")) < 1e-4
    model = load_model(out)
    assert model.width == 80
    with np.load(out.with_name(card.golden)) as golden:
        assert "mel" in golden and "mag" not in golden
    with pytest.raises(InputError, match=r"mel must be \[W, 80\]"):
        model.step(
            np.zeros((7, 513), np.float32),
            *(np.zeros(s, np.float32) for s in ((2560,), (2560,))),
            np.zeros((2, 7, 513), np.float32),
        )


def test_engine_runs_the_mel_model_as_pytorch(exported):
    from phasefold.engine.algorithms import random_phases
    from phasefold.engine.mel_model import mel_model_audio

    net, out, _ = exported
    mel, n = _mel(HIFIGAN, 40)
    got = mel_model_audio(mel, out, seed=4, length=n, level=False)  # the network at the mel's own level
    phase = torch.as_tensor(random_phases(4, 0, (40, 513)))
    with torch.no_grad():
        want = net.double().reconstruct(torch.as_tensor(mel), n, phase).numpy()
    net.float()
    assert got.shape == (n,)
    np.testing.assert_allclose(got, want, atol=2e-3 * np.abs(want).max())  # float32 graph, 3 layers
    with pytest.raises(InputError, match="must be"):
        mel_model_audio(mel[:, :40], out)


def test_mel_models_are_found_by_name_or_path():
    from phasefold.engine.mel_model import mel_model_names, mel_model_path
    from phasefold.exported_models import MEL_MODELS_DIR

    for name in mel_model_names():
        assert mel_model_path(name) == MEL_MODELS_DIR / f"{name}.onnx"
        assert ModelCard.read(mel_model_path(name)).mel is not None
    with pytest.raises(InputError, match="is not a mel model"):
        mel_model_path("unfolded-untied")  # a magnitude model's name is not a mel model's


def test_engine_mel_runner_refuses_a_magnitude_model():
    from phasefold.engine.mel_model import mel_model_audio
    from phasefold.exported_models import MODELS_DIR

    linear = MODELS_DIR / "unfolded-untied.onnx"
    with pytest.raises(ModelError, match="not a mel model"):
        mel_model_audio(np.ones((10, 80)), linear)


def test_card_mel_section_must_match_its_stft(exported):
    _, out, card = exported
    d = card.to_dict()
    assert ModelCard.from_dict(json.loads(json.dumps(d))) == card  # round trip
    bad = {**d, "mel": {**d["mel"], "stft": {**d["mel"]["stft"], "hop": 128}}}
    with pytest.raises(ModelError, match="is not the card's stft"):
        ModelCard.from_dict(bad)
    no_mel = {k: v for k, v in d.items() if k != "mel"}
    with pytest.raises(ModelError, match="window 'hann'"):  # a magnitude model keeps the engine's window
        ModelCard.from_dict(no_mel)


def test_stream_export_writes_a_pinned_mel_model(tmp_path, timit_dir):
    from phasefold.engine.onnx_model import load_model
    from phasefold.training.stream_export import export_stream

    cfg = StreamNetConfig(lookahead=1, layers=1, stft=HIFIGAN.stft.to_dict(), cov_eps=COV_EPS)
    net = MelStreamUnfolded(cfg, HIFIGAN)
    with torch.no_grad():
        net.g1.mul_(1.5)
    card = export_stream(net, tmp_path / "s.onnx")
    assert card.mel == HIFIGAN.to_dict() and card.window_frames == 5 and card.streaming.lookahead == 1
    assert card.interface.inputs["mel"] == [5, 80] and card.level is None
    assert max(card.verification["max_abs_diff"][k] for k in ("random", "speech_stream")) < 1e-4
    assert load_model(tmp_path / "s.onnx").width == 80


def test_a_mel_stream_run_fine_tunes_a_shipped_stream_model():
    """--init of a mel stream run: the shipped stream model's parameters are the start (its card's values,
    read back), its untrained start is still mel-ADMM-l2; an offline or linear model is refused."""
    from phasefold.engine.level import MEL_REFERENCE_LEVEL
    from phasefold.engine.mel_model import mel_model_path
    from phasefold.engine.registry import lookup
    from phasefold.training.mel_train import MelStreamTrainConfig

    path = str(mel_model_path("unfolded-mel-stream-l3"))
    card = ModelCard.read(path)
    cfg = MelStreamTrainConfig(lookahead=3, layers=card.layers, init=path)
    got = cfg.network(start=True).card_parameters()
    for key in ("g1", "g2", "b", "w", "bias"):
        np.testing.assert_allclose(got[key], card.parameters[key], rtol=1e-6, atol=1e-7)
    assert cfg.network(start=True).level == (MEL_REFERENCE_LEVEL, 1.0)  # the engine's causal level
    assert MelStreamTrainConfig(lookahead=3, layers=2, normalise=False).network(start=True).level is None
    fresh = cfg.network(start=False).card_parameters()
    assert not np.allclose(fresh["g1"], card.parameters["g1"])
    assert (
        fresh == MelStreamTrainConfig(lookahead=3, layers=card.layers).network(start=True).card_parameters()
    )
    for other in (str(mel_model_path("unfolded-mel-untied")), str(lookup("unfolded-stream-l3").path)):
        with pytest.raises(InputError, match="fine-tunes a stream model of the 'hifigan' mel"):
            MelStreamTrainConfig(lookahead=3, layers=card.layers, init=other)

"""The PyTorch streaming loop mirrors the engine's Stream; its gradients; the pinned-window export."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from phasefold.engine.admm import admm_iterations  # noqa: E402
from phasefold.engine.errors import InputError  # noqa: E402
from phasefold.engine.proxes import prox_quadratic  # noqa: E402
from phasefold.engine.stft import StftConfig, magnitude  # noqa: E402
from phasefold.engine.streaming import Stream, make_processor  # noqa: E402
from phasefold.engine.streaming.offline import run_stream  # noqa: E402
from phasefold.training import stft as tstft  # noqa: E402
from phasefold.training.stream_unfolded import StreamNetConfig, StreamUnfolded, stream_reconstruct  # noqa: E402

CFG = StftConfig()


def _signal(n: int, seed: int = 0) -> np.ndarray:
    """Voiced-like test signal (harmonics with vibrato) over a noise floor, so no bin is near zero."""
    rng = np.random.default_rng(seed)
    t = np.arange(n) / CFG.sample_rate
    f0 = 140.0 * (1.0 + 0.05 * np.sin(2 * np.pi * 3.0 * t))
    phase = 2 * np.pi * np.cumsum(f0) / CFG.sample_rate
    x = sum(np.sin(h * phase) / h for h in range(1, 12)) * 0.05 * (1.2 + np.sin(2 * np.pi * 2.0 * t))
    return x + 1e-3 * rng.standard_normal(n)


def _admm_l2_net(lookahead: int, layers: int) -> StreamUnfolded:
    """The untrained network in float64 with exact ADMM-l2 values (float32 init rounded to double is not)."""
    net = StreamUnfolded(StreamNetConfig(lookahead=lookahead, layers=layers)).double()
    rho = net.cfg.rho
    with torch.no_grad():
        net.g1.fill_(rho / (1.0 + rho))
        net.g2.fill_(1.0 / (1.0 + rho))
    net.win = tstft.window(CFG, torch.float64)
    return net


def _window_state(seed: int, w: int = 5) -> tuple[np.ndarray, ...]:
    """A window's (mag, x, fixed, lam [2, W, K]) at L = 1: speech-like magnitudes, a random estimate, the
    emitted samples fixed and a small dual."""
    rng = np.random.default_rng(seed)
    s = CFG.span(w)
    fixed = np.zeros(s)
    fixed[: 3 * CFG.hop] = 1.0
    x = 0.05 * rng.standard_normal(s)
    return magnitude(_signal(s), CFG)[3 : 3 + w], x, fixed, 1e-3 * rng.standard_normal((2, w, CFG.n_bins))


def test_untrained_step_is_engine_admm_l2():
    mag, x, fixed, lam = _window_state(1)
    ref_x, ref_lam = admm_iterations(mag, x, fixed, lam, prox_quadratic, 0.1, 3, CFG)
    net = _admm_l2_net(1, 3)
    with torch.no_grad():
        got_x, got_lam = net.step_real(*(torch.as_tensor(a) for a in (mag, x, fixed, lam)))
    assert np.abs(got_x.numpy() - ref_x).max() <= 1e-9 * np.abs(ref_x).max()
    assert np.abs(got_lam.numpy() - ref_lam).max() <= 1e-9 * np.abs(ref_lam).max()
    assert np.array_equal(got_x.numpy()[fixed == 1], x[fixed == 1])  # committed samples untouched


@pytest.mark.parametrize("lookahead", [0, 1, 3])
def test_torch_loop_equals_engine_stream(lookahead):
    """Same frames through engine.Stream(admm-l2, T = 2) and the torch loop: slide, start, fix, emit, tail.

    Short stream (12 frames): the streaming recursion is chaotic, a 1e-13 relative perturbation of the
    input grows to 1e-2 after ~80 hops, so two implementations that round differently only agree over a
    short horizon (docs/streaming-training.md).
    """
    n = 12 * CFG.hop - CFG.pad
    x = _signal(n, seed=lookahead)
    r = magnitude(x, CFG)
    # the numpy step: float64 like the torch loop (the compiled one runs in float32)
    ref = run_stream(Stream.open("admm-l2", CFG, lookahead=lookahead, iterations=2, backend="numpy"), r, n)
    with torch.no_grad():
        got = stream_reconstruct(_admm_l2_net(lookahead, 2), torch.as_tensor(r), n, lookahead, CFG).numpy()
    assert got.shape == ref.shape
    assert np.abs(got - ref).max() <= 1e-5 * np.abs(ref).max()  # the engine emits float32


def test_truncation_keeps_values_and_position_gradient_matches_finite_differences():
    n = 8 * CFG.hop - CFG.pad
    r = torch.as_tensor(magnitude(_signal(n, seed=3), CFG))
    net = _admm_l2_net(1, 2)
    with torch.no_grad():
        assert torch.equal(
            stream_reconstruct(net, r, n, 1, CFG), stream_reconstruct(net, r, n, 1, CFG, truncate=3)
        )
    # the window step's gradient w.r.t. one (layer, position) parameter, against central differences
    w, rng = net.scfg.window_frames, np.random.default_rng(5)
    s = CFG.span(w)
    mag = torch.as_tensor(magnitude(_signal(s, seed=6), CFG)[2 : 2 + w])
    x0 = torch.as_tensor(0.05 * rng.standard_normal(s))
    fixed = torch.zeros(s, dtype=torch.float64)
    fixed[: 3 * CFG.hop] = 1.0
    lam = torch.zeros(w, CFG.n_bins, dtype=torch.complex128)
    probe = torch.as_tensor(rng.standard_normal(s))

    def objective() -> torch.Tensor:
        return (net(mag, x0, fixed, lam)[0] * probe).sum()

    net.zero_grad()
    objective().backward()
    eps = 1e-6
    for t, pos in ((0, 4), (1, 2)):
        with torch.no_grad():
            base = net.g2[t, pos].item()
            net.g2[t, pos] = base + eps
            up = objective().item()
            net.g2[t, pos] = base - eps
            down = objective().item()
            net.g2[t, pos] = base
        fd = (up - down) / (2 * eps)
        assert abs(fd) > 1e-6
        assert abs(net.g2.grad[t, pos].item() - fd) <= 1e-5 * abs(fd)


def test_export_runs_in_the_engine_and_pins_its_lookahead(tmp_path, monkeypatch):
    from phasefold.engine import level
    from phasefold.training.stream_export import export_stream

    # the network has no level normaliser: parity
    monkeypatch.setattr(level, "shift", lambda _level, reference=0.0: 0)

    net = StreamUnfolded(StreamNetConfig(lookahead=0, layers=1))
    with torch.no_grad():  # a position-dependent, non-trivial prox, so parity means something
        net.g2.mul_(torch.linspace(0.8, 1.2, net.positions))
        net.w.fill_(-0.3)
    path = tmp_path / "unfolded-stream-test.onnx"
    card = export_stream(net, path)
    assert card.window_frames == 4 and card.streaming.lookahead == 0
    assert max(card.verification["max_abs_diff"].values()) <= 1e-4
    n = 6 * CFG.hop - CFG.pad  # float32 on both sides: short, the recursion amplifies rounding differences
    r = magnitude(_signal(n, seed=4), CFG)
    ref = run_stream(Stream(make_processor(path, CFG, lookahead=0)), r, n)
    with torch.no_grad():
        got = stream_reconstruct(net.float(), torch.as_tensor(r, dtype=torch.float32), n, 0, CFG).numpy()
    assert np.abs(got - ref).max() <= 1e-3 * np.abs(ref).max()
    with pytest.raises(InputError, match="look-ahead"):
        make_processor(path, CFG, lookahead=1)


def test_a_streaming_run_is_exported_from_the_shared_checkpoint_format(tmp_path):
    import soundfile as sf
    from phasefold.training.data import DataConfig
    from phasefold.training.export import load_run
    from phasefold.training.run_folder import load_checkpoint
    from phasefold.training.stream_export import export_stream_run
    from phasefold.training.stream_train import StreamTrainConfig
    from phasefold.training.train import train

    folder = tmp_path / "audio"
    folder.mkdir()
    for i in range(10):
        sf.write(folder / f"a{i}.wav", _signal(int(1.2 * CFG.sample_rate), seed=i), CFG.sample_rate)
    data = DataConfig(folder=str(folder), seconds=0.8, validation_fraction=0.2)
    cfg = StreamTrainConfig(lookahead=0, layers=1, pieces=1, data=data, epochs=1, steps_per_epoch=1, batch=1)
    run = tmp_path / "run"
    train(cfg, run, progress=False)
    card = export_stream_run(run, tmp_path / "m.onnx", evaluate=False)
    best = torch.load(run / "best.pt", weights_only=False)
    selected = card.training["selected"]
    assert selected == {"epoch": best["epoch"], "validation": best["val"], "untrained": best["val_init"]}
    assert card.training["recipe"] == cfg.to_dict() and card.streaming.lookahead == 0
    with pytest.raises(InputError, match="not a checkpoint of phasefold train "):
        load_run(run)  # the offline export refuses a streaming run, and the other way round
    offline = {**best, "mode": "offline"}
    torch.save(offline, tmp_path / "offline.pt")
    with pytest.raises(InputError, match="not a checkpoint of phasefold train-stream"):
        load_checkpoint(tmp_path / "offline.pt", StreamTrainConfig)
    # best.pt of a run from before the shared format: the network under "stream_net", no "mode"
    legacy = {k: v for k, v in best.items() if k not in ("mode", "net")} | {"stream_net": best["net"]}
    torch.save(legacy, tmp_path / "legacy.pt")
    net, _ = load_checkpoint(tmp_path / "legacy.pt", StreamTrainConfig)
    for k, v in net.state_dict().items():
        assert torch.equal(v, best["model"][k]), k


@pytest.mark.parametrize("lookahead,layers", [(0, 3), (1, 3), (3, 4)])
def test_the_cards_layer_schedule_counts_what_the_engine_does(lookahead, layers):
    """Count, in the engine's own stream, the layers each frame gets before its first sample is emitted
    and before it leaves the window, and compare with the schedule the card states."""
    from phasefold.engine.streaming.window import layer_schedule

    cfg, h = CFG, CFG.hop
    proc = make_processor("admm-l2", cfg, lookahead, 1, iterations=layers, backend="numpy")
    n_frames, seen = 20, {}
    for m in range(n_frames):
        proc.process(np.ones((1, cfg.n_bins)))
        first = proc.frames_in - proc.n_window  # padded frame index of the window's oldest frame
        emitted = (first + cfg.overlap - 1) * h  # padded index of the first sample emitted by this step
        for frame in range(max(0, first), m + 1):
            counts = seen.setdefault(frame, {"steps": 0, "before_first_emission": None})
            counts["steps"] += 1
            if counts["before_first_emission"] is None and emitted == frame * h:
                counts["before_first_emission"] = counts["steps"] * layers
    schedule = layer_schedule(layers, lookahead, cfg.overlap)
    frame = 2  # a frame that has entered, been emitted and left the window
    assert seen[frame]["before_first_emission"] == schedule["layers_before_first_emission"]
    assert seen[frame]["steps"] * layers == schedule["layers_when_committed"]
    if (lookahead, layers) == (3, 4):  # the example: 16 layers before the first sample, 28 in all
        assert (schedule["layers_before_first_emission"], schedule["layers_when_committed"]) == (16, 28)


def test_fixed_b_keeps_b_at_two_while_the_rest_learns_and_the_compiled_step_takes_no_power(tmp_path):
    from phasefold.engine.compiled.unfolded import build_step
    from phasefold.training.stream_export import export_stream

    net = StreamUnfolded(StreamNetConfig(lookahead=0, layers=2, fixed_b=True))
    assert not net.b.requires_grad and net.g2.requires_grad
    opt = torch.optim.Adam(net.parameters(), lr=1e-2)
    n = 6 * CFG.hop - CFG.pad
    r = torch.as_tensor(magnitude(_signal(n, seed=2), CFG), dtype=torch.float32)
    g2_before = net.g2.detach().clone()
    y = stream_reconstruct(net, r, n, 0, CFG)
    (y.square().mean() + 1e-3 * net.constrained()["b"].sum()).backward()
    opt.step()
    assert bool((net.constrained()["b"] == 2.0).all()) and bool((net.b == 2.0).all())
    assert not torch.equal(net.g2.detach(), g2_before)
    card = export_stream(net, tmp_path / "unfolded-stream-b2.onnx")
    assert set(np.ravel(card.parameters["b"])) == {2.0}
    step = build_step(card, CFG)
    assert np.all(step.bm1 == 1.0)  # the kernel's power-free path (g2 r instead of g2 r^(b-1)/(b-1))


def test_a_stream_start_from_an_offline_model_is_that_model_and_exports_its_penalties(tmp_path):
    """--init: every window position takes the offline model's layer; the window step then equals the
    offline network's (penalty schedule and coverage floor included), and the export keeps the schedule
    for onnxruntime (parity asserted by the export) and for the compiled step (its golden pair)."""
    from pathlib import Path

    from phasefold.engine.model_card import ModelCard
    from phasefold.engine.onnx_model import load_compiled
    from phasefold.training.rebuild import network_of
    from phasefold.training.stream_export import export_stream
    from phasefold.training.stream_train import settings_of_start

    path = Path(__file__).resolve().parents[1] / "exported_models" / "unfolded-modified.onnx"
    card = ModelCard.read(path)
    start = settings_of_start(path, 1)
    assert start["rho_end"] is not None and start["layers"] == card.layers
    assert (start["n_fft"], start["hop"], start["sample_rate"]) == (card.stft.n_fft, card.stft.hop, 22050)
    cfg = {k: v for k, v in start.items() if k not in ("hop", "n_fft", "sample_rate")}  # the run's STFT
    net = StreamUnfolded(StreamNetConfig(lookahead=1, **cfg))
    net.start_from(card.parameters)
    offline = network_of(card).double()
    net = net.double()
    w, rng = net.scfg.window_frames, np.random.default_rng(3)
    s = CFG.span(w)
    mag = magnitude(_signal(s), CFG)[3 : 3 + w]
    x = 0.05 * rng.standard_normal(s)
    fixed = np.zeros(s)
    fixed[: 3 * CFG.hop] = 1.0
    lam = 1e-3 * (rng.standard_normal((w, CFG.n_bins)) + 1j * rng.standard_normal((w, CFG.n_bins)))
    args = [torch.as_tensor(a) for a in (mag, x, fixed, lam)]
    with torch.no_grad():
        got_x, got_lam = net(*args)
        ref_x, ref_lam = offline(*args)
    assert torch.allclose(got_x, ref_x, rtol=0, atol=1e-9 * float(ref_x.abs().max()))
    assert torch.allclose(got_lam, ref_lam, rtol=0, atol=1e-9 * float(ref_lam.abs().max()))
    exported = export_stream(net.float(), tmp_path / "unfolded-stream-start.onnx")
    assert np.allclose(exported.parameters["rho"], card.parameters["rho"], rtol=1e-6)
    step = load_compiled(tmp_path / "unfolded-stream-start.onnx")  # refused unless it meets the golden pair
    assert np.allclose(step.rho, card.parameters["rho"], rtol=1e-6)


def _fgla_net(lookahead: int, layers: int, momentum: float = 0.99) -> StreamUnfolded:
    """The untrained "gla" network in float64, its momentum exactly ``momentum``."""
    net = StreamUnfolded(StreamNetConfig(lookahead=lookahead, layers=layers, form="gla", fixed_b=True))
    net = net.double()
    with torch.no_grad():
        net.momentum.fill_(momentum)
    net.win = tstft.window(CFG, torch.float64)
    return net


def test_untrained_gla_step_is_engine_fgla_and_its_parameters_matter():
    from phasefold.engine.admm import gla_iterations

    mag, x, fixed, lam = _window_state(2)
    args = [torch.as_tensor(a) for a in (mag, x, fixed, lam)]
    with torch.no_grad():
        got_x, got_lam = _fgla_net(1, 4).step_real(*args)
        slower_x, _ = _fgla_net(1, 4, momentum=0.5).step_real(*args)
    ref_x = gla_iterations(mag, x, fixed, 4, 0.99, CFG)
    assert np.abs(got_x.numpy() - ref_x).max() <= 1e-9 * np.abs(ref_x).max()
    np.testing.assert_array_equal(got_lam.numpy(), lam)  # no dual: lam passes through
    assert np.array_equal(got_x.numpy()[fixed == 1], x[fixed == 1])
    assert np.abs(slower_x.numpy() - ref_x).max() > 1e-3 * np.abs(ref_x).max()
    with pytest.raises(ValueError, match="fixed_b"):
        StreamNetConfig(form="gla")


def test_torch_gla_loop_equals_engine_fgla_stream():
    n = 12 * CFG.hop - CFG.pad
    x = _signal(n, seed=5)
    r = magnitude(x, CFG)
    ref = run_stream(Stream.open("fgla", CFG, lookahead=1, iterations=3, backend="numpy"), r, n)
    with torch.no_grad():
        got = stream_reconstruct(_fgla_net(1, 3), torch.as_tensor(r), n, 1, CFG).numpy()
    assert np.abs(got - ref).max() <= 1e-5 * np.abs(ref).max()


def test_a_gla_network_learns_exports_and_runs_on_both_backends(tmp_path):
    """A "gla" network's prox and momentum take gradients; its export carries layer_form and the momentum,
    passes parity with PyTorch (asserted by the export) and the compiled step meets the golden pair."""
    from phasefold.engine.onnx_model import load_compiled, load_model
    from phasefold.training.stream_export import export_stream

    net = StreamUnfolded(StreamNetConfig(lookahead=0, layers=2, form="gla", fixed_b=True))
    n = 6 * CFG.hop - CFG.pad
    r = torch.as_tensor(magnitude(_signal(n, seed=6), CFG), dtype=torch.float32)
    stream_reconstruct(net, r, n, 0, CFG).square().mean().backward()
    assert float(net.momentum.grad.abs().sum()) > 0 and float(net.g1.grad.abs().sum()) > 0
    with torch.no_grad():  # a non-trivial prox and momentum, so that parity means something
        net.g1.fill_(0.05)
        net.w.fill_(-0.3)
        net.momentum.copy_(torch.tensor([0.9, 0.5]))
    path = tmp_path / "unfolded-stream-gla.onnx"
    card = export_stream(net, path)
    assert card.gla and np.allclose(card.parameters["momentum"], [0.9, 0.5])
    assert max(card.verification["max_abs_diff"].values()) <= 1e-4
    compiled = load_compiled(path)  # refused unless it reproduces the golden pair
    graph = load_model(path)
    w, s = 4, CFG.span(4)
    rng = np.random.default_rng(7)
    inputs = (
        np.abs(rng.standard_normal((w, CFG.n_bins))).astype(np.float32),
        (0.05 * rng.standard_normal(s)).astype(np.float32),
        np.zeros(s, np.float32),
        (1e-3 * rng.standard_normal((2, w, CFG.n_bins))).astype(np.float32),
    )
    x_c, lam_c = compiled(*inputs)
    x_g, lam_g = graph.step(*inputs)
    assert np.abs(x_c - x_g).max() <= 1e-4 * np.abs(x_g).max()
    np.testing.assert_array_equal(lam_c, inputs[3])
    np.testing.assert_array_equal(lam_g, inputs[3])


def test_a_stream_model_starts_from_its_own_parameters_per_position():
    """--init of a stream model (a fine-tuning): form, b and positions are the model's, every (layer,
    position) set is taken as it is, and the window step is the shipped model's (training.rebuild)."""
    from pathlib import Path

    from phasefold.engine.model_card import ModelCard
    from phasefold.training.rebuild import network_of
    from phasefold.training.stream_train import settings_of_start

    models = Path(__file__).resolve().parents[1] / "exported_models"
    assert settings_of_start(models / "unfolded-stream-modified-l1-t3b.onnx", 1)["fixed_b"] is False
    with pytest.raises(InputError, match="a stream model for L = 1"):
        settings_of_start(models / "unfolded-stream-l1-t3.onnx", 3)
    path = models / "unfolded-stream-l1-t3.onnx"
    card = ModelCard.read(path)
    start = settings_of_start(path, 1)
    assert (start["fixed_b"], start["position"], start["form"]) == (True, True, "admm")
    assert (start["n_fft"], start["hop"], start["sample_rate"]) == (1024, 256, 22050)
    at16 = settings_of_start(models / "unfolded-stream-16k-l3.onnx", 3)  # its STFT, checked by train-stream
    assert (at16["n_fft"], at16["hop"], at16["sample_rate"], at16["form"]) == (512, 128, 16000, "admm")
    stft = ("hop", "n_fft", "sample_rate")  # the run's STFT, not the network's
    net = StreamUnfolded(StreamNetConfig(lookahead=1, **{k: v for k, v in start.items() if k not in stft}))
    net.start_from(card.parameters)
    restored = net.card_parameters()
    for name, value in card.parameters.items():
        assert np.allclose(restored[name], value, rtol=1e-6, atol=1e-9), name
    assert not net.b.requires_grad  # b = 2 stays frozen
    mag, x, fixed, lam = _window_state(4)
    args = [torch.as_tensor(a) for a in (mag, x, fixed, lam[0] + 1j * lam[1])]
    with torch.no_grad():
        got, ref = net.float()(*args)[0], network_of(card)(*args)[0]  # the rebuild is float32
    assert torch.equal(got, ref)


def test_the_probe_runs_a_shadow_that_leaves_the_stream_as_it_is():
    """stream_reconstruct's probe: the first half of the doubled batch is the plain stream; the shadow's
    state is moved by a relative 1e-6 at every truncation point, so it differs, by little over few frames."""
    n = 10 * CFG.hop - CFG.pad
    r = torch.as_tensor(magnitude(_signal(n, seed=7), CFG))
    net = _admm_l2_net(1, 2)
    torch.manual_seed(0)
    with torch.no_grad():
        plain = stream_reconstruct(net, r, n, 1, CFG, truncate=3)
        both = stream_reconstruct(net, torch.stack([r, r]), n, 1, CFG, truncate=3, probe=1e-6)
        with pytest.raises(ValueError, match="probe needs truncate"):
            stream_reconstruct(net, torch.stack([r, r]), n, 1, CFG, probe=1e-6)
    assert torch.allclose(both[0], plain, rtol=0, atol=1e-12 * float(plain.abs().max()))
    apart = float((both[1] - both[0]).norm() / both[0].norm())
    assert 1e-9 < apart < 1e-3

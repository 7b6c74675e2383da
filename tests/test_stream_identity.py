"""An identity model through the streaming engine returns its input exactly (asteroid-style OLA test).

The model is a real ONNX graph built here with onnx.helper that implements the window-step interface
as one Griffin-Lim projection (frames -> window -> DFT matrices -> keep phase, force ``mag`` -> inverse
DFT -> overlap-add / coverage on the free samples). Fed the true complex frames of a signal (their
phase starts the new frames), every window the engine builds is already consistent with ``mag``, so
the projection is the identity and the output must be the padded input delayed by L H samples:
any slip of the sliding, the fixed mask, the least-squares start or the emission shows up here.
"""

from __future__ import annotations

import numpy as np
import pytest
from phasefold.engine.model_card import Interface, ModelCard, StreamTraining
from phasefold.engine.onnx_model import sha256_of
from phasefold.engine.stft import StftConfig, pad_signal, stft, window
from phasefold.engine.streaming import Stream, make_processor

onnx = pytest.importorskip("onnx")
from onnx import TensorProto, helper, numpy_helper  # noqa: E402


def build_projection_model(path, cfg: StftConfig, **card_extra) -> None:
    """Write path (.onnx) and its model card: one GLA projection on a window of dynamic W."""
    n, h, k, r = cfg.n_fft, cfg.hop, cfg.n_bins, cfg.overlap
    t = np.arange(n)
    f = np.arange(k)
    ang = 2.0 * np.pi * np.outer(t, f) / n
    c = np.full(k, 2.0)
    c[0] = c[-1] = 1.0
    inits = {
        "win": window(cfg).astype(np.float32),
        "win2": (window(cfg) ** 2).astype(np.float32),
        "dft_re": (np.cos(ang) / np.sqrt(n)).astype(np.float32),
        "dft_im": (-np.sin(ang) / np.sqrt(n)).astype(np.float32),
        "idft_re": (c[:, None] * np.cos(ang.T) / np.sqrt(n)).astype(np.float32),
        "idft_im": (-c[:, None] * np.sin(ang.T) / np.sqrt(n)).astype(np.float32),
        "hop_shape": np.array([-1, h], dtype=np.int64),
        "piece_shape": np.array([0, r, h], dtype=np.int64),
        "flat": np.array([-1], dtype=np.int64),
        "zero_axis": np.array([0], dtype=np.int64),
        "one_axis": np.array([1], dtype=np.int64),
        "tiny": np.array(1e-20, dtype=np.float32),
        "eps": np.array(1e-8, dtype=np.float32),
        "one": np.array(1.0, dtype=np.float32),
        "zero": np.array(0.0, dtype=np.float32),
    }
    nodes = [helper.make_node("Reshape", ["x", "hop_shape"], ["hops"])]
    for j in range(r):
        end = j - (r - 1) if j < r - 1 else np.iinfo(np.int64).max
        inits[f"start{j}"] = np.array([j], dtype=np.int64)
        inits[f"end{j}"] = np.array([end], dtype=np.int64)
        nodes.append(helper.make_node("Slice", ["hops", f"start{j}", f"end{j}", "zero_axis"], [f"part{j}"]))
    nodes += [
        helper.make_node("Concat", [f"part{j}" for j in range(r)], ["frames"], axis=1),
        helper.make_node("Mul", ["frames", "win"], ["fw"]),
        helper.make_node("MatMul", ["fw", "dft_re"], ["re"]),
        helper.make_node("MatMul", ["fw", "dft_im"], ["im"]),
        helper.make_node("Mul", ["re", "re"], ["re2"]),
        helper.make_node("Mul", ["im", "im"], ["im2"]),
        helper.make_node("Add", ["re2", "im2"], ["pow"]),
        helper.make_node("Sqrt", ["pow"], ["amp"]),
        helper.make_node("Greater", ["amp", "zero"], ["nonzero"]),
        helper.make_node("Max", ["amp", "tiny"], ["den"]),
        helper.make_node("Div", ["mag", "den"], ["gain"]),
        helper.make_node("Mul", ["re", "gain"], ["zr0"]),
        helper.make_node("Mul", ["im", "gain"], ["zi0"]),
        helper.make_node("Where", ["nonzero", "zr0", "mag"], ["zr"]),
        helper.make_node("Where", ["nonzero", "zi0", "zero"], ["zi"]),
        helper.make_node("MatMul", ["zr", "idft_re"], ["tr"]),
        helper.make_node("MatMul", ["zi", "idft_im"], ["ti"]),
        helper.make_node("Add", ["tr", "ti"], ["td"]),
        helper.make_node("Mul", ["td", "win"], ["out_frames"]),
        helper.make_node("Shape", ["out_frames"], ["frames_shape"]),
        helper.make_node("Expand", ["win2", "frames_shape"], ["cov_frames"]),
    ]
    for src in ("out_frames", "cov_frames"):
        nodes.append(helper.make_node("Reshape", [src, "piece_shape"], [f"{src}_p"]))
        for j in range(r):
            inits[f"pads{j}"] = np.array([j, 0, r - 1 - j, 0], dtype=np.int64)
            inits[f"idx{j}"] = np.array(j, dtype=np.int64)
            nodes.append(helper.make_node("Gather", [f"{src}_p", f"idx{j}"], [f"{src}_g{j}"], axis=1))
            nodes.append(helper.make_node("Pad", [f"{src}_g{j}", f"pads{j}"], [f"{src}_s{j}"]))
        nodes.append(helper.make_node("Sum", [f"{src}_s{j}" for j in range(r)], [f"{src}_ola"]))
        nodes.append(helper.make_node("Reshape", [f"{src}_ola", "flat"], [f"{src}_flat"]))
    nodes += [
        helper.make_node("Max", ["cov_frames_flat", "eps"], ["cov"]),
        helper.make_node("Div", ["out_frames_flat", "cov"], ["ls"]),
        helper.make_node("Sub", ["one", "fixed"], ["free"]),
        helper.make_node("Mul", ["free", "ls"], ["new_part"]),
        helper.make_node("Mul", ["fixed", "x"], ["kept"]),
        helper.make_node("Add", ["kept", "new_part"], ["x_out"]),
        helper.make_node("Identity", ["lam"], ["lam_out"]),
    ]
    f32 = TensorProto.FLOAT
    graph = helper.make_graph(
        nodes,
        "gla_projection",
        [
            helper.make_tensor_value_info("mag", f32, ["W", k]),
            helper.make_tensor_value_info("x", f32, ["S"]),
            helper.make_tensor_value_info("fixed", f32, ["S"]),
            helper.make_tensor_value_info("lam", f32, [2, "W", k]),
        ],
        [
            helper.make_tensor_value_info("x_out", f32, ["S"]),
            helper.make_tensor_value_info("lam_out", f32, [2, "W", k]),
        ],
        initializer=[numpy_helper.from_array(v, name) for name, v in inits.items()],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    onnx.checker.check_model(model)
    path.write_bytes(model.SerializeToString())
    ModelCard(
        name="gla-projection",
        variant="tied",
        layers=1,
        pieces=0,
        rho=0.1,
        stft=cfg,
        interface=Interface(
            inputs={"mag": ["W", k], "x": ["S"], "fixed": ["S"], "lam": [2, "W", k]},
            outputs={"x_out": ["S"], "lam_out": [2, "W", k]},
        ),
        parameters={"g1": [], "g2": [], "b": [], "w": [], "bias": []},
        sha256=sha256_of(path),
        **card_extra,
    ).write(path)


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    folder = tmp_path_factory.mktemp("models")
    out = {}
    for hop in (256, 512):
        path = folder / f"projection-{hop}.onnx"
        build_projection_model(path, StftConfig(hop=hop))
        out[hop] = path
    return out


def _signal(n: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(n) / 22050
    return 0.3 * np.sin(2 * np.pi * 220 * t * (1 + 0.5 * t)) + 0.05 * rng.standard_normal(n)


@pytest.mark.parametrize("hop", [256, 512])
@pytest.mark.parametrize("lookahead", [0, 1, 3])
@pytest.mark.parametrize("block", [1, 4])
def test_identity_model_returns_input_exactly(models, hop, lookahead, block):
    cfg = StftConfig(hop=hop)
    x = _signal(9000, hop + lookahead + block)
    spec = stft(x, cfg)  # frames of the padded signal
    stream = Stream(make_processor(models[hop], cfg, lookahead, block))
    out = np.concatenate(
        [stream.push(spec[i : i + 3]) for i in range(0, spec.shape[0], 3)] + [stream.flush()]
    )
    padded = pad_signal(x, cfg)
    delay = lookahead * hop
    assert out.size == padded.size + delay
    np.testing.assert_array_equal(out[:delay], 0.0)
    np.testing.assert_allclose(out[delay:], padded, atol=2e-5 * np.abs(x).max())
    # offline sample s sits at output index s + P + L H
    np.testing.assert_allclose(
        out[cfg.pad + delay : cfg.pad + delay + x.size], x, atol=2e-5 * np.abs(x).max()
    )


def test_identity_breaks_without_true_phase(models):
    """From magnitudes alone (phase-advance start) the same model does not return the input."""
    cfg = StftConfig()
    x = _signal(9000, 1)
    stream = Stream(make_processor(models[256], cfg, 1, 1))
    out = np.concatenate([stream.push(np.abs(stft(x, cfg))), stream.flush()])
    err = np.abs(out[cfg.pad + cfg.hop : cfg.pad + cfg.hop + x.size] - x).max()
    assert err > 0.05


def test_player_switch_mid_stream_keeps_alignment(models):
    """Switching between two streams mid-stream (primed from the last frames) still returns the input."""
    from phasefold.engine.streaming import ArraySource, NullSink, Player

    cfg = StftConfig()
    x = _signal(12000, 7)
    spec = stft(x, cfg)
    first = Stream(make_processor(models[256], cfg, 2, 2))
    second = Stream(make_processor(models[256], cfg, 2, 2))
    out, n_blocks = [], [0]
    player = Player(ArraySource(spec, cfg), first, NullSink(cfg.sample_rate), on_samples=out.append)

    def on_frames(frames):
        n_blocks[0] += 1
        if n_blocks[0] == 10:
            player.switch(second)

    player.on_frames = on_frames
    summary = player.run()
    assert player.stream is second and summary["error"] is None
    y = np.concatenate(out)
    np.testing.assert_allclose(y[2 * cfg.hop :], pad_signal(x, cfg), atol=2e-5 * np.abs(x).max())


def test_model_trained_in_the_stream_runs_only_at_its_settings(tmp_path):
    from phasefold.engine.errors import InputError

    cfg = StftConfig()
    path = tmp_path / "trained-l1.onnx"
    build_projection_model(path, cfg, streaming=StreamTraining(lookahead=1, block=1))
    assert make_processor(path, cfg, 1, 1).n_window == 5
    with pytest.raises(InputError, match="look-ahead 1, block 1"):
        make_processor(path, cfg, 3, 1)

"""Nothing lost, nothing wrong with exit code 0: option ranges, model cards and NaN audio."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from phasefold.cli import main
from phasefold.engine.errors import InputError, ModelError
from phasefold.engine.inputs import save_magnitudes
from phasefold.engine.onnx_model import load_model, sha256_of
from phasefold.engine.runners import WindowStep
from phasefold.engine.stft import StftConfig, magnitude
from phasefold.engine.streaming import Stream, make_processor
from phasefold.engine.streaming.window import WindowProcessor
from phasefold.exported_models import MODELS_DIR

CFG = StftConfig()


@pytest.fixture(scope="module")
def clip() -> np.ndarray:
    from phasefold.engine.demo import demo_signal

    return demo_signal(0.5)


@pytest.fixture
def npz(tmp_path, clip) -> Path:
    path = tmp_path / "in.npz"
    save_magnitudes(path, magnitude(clip, CFG).astype(np.float32), CFG, length=clip.size)
    return path


def _error_lines(err: str, command: str) -> list[str]:
    assert "Traceback" not in err, err
    return [ln for ln in err.splitlines() if ln.startswith(f"phasefold {command}: error:")]


def _usage_error(capsys, argv: list[str]) -> str:
    """argparse's refusal: exit 2, a usage and one error line; the error line."""
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    assert exit_info.value.code == 2
    (line,) = _error_lines(capsys.readouterr().err, argv[0])
    return line


def _copy_model(tmp_path: Path, name: str, edit=None) -> Path:
    """A copy of a shipped model (graph, card, golden pair) in tmp_path, its card edited by ``edit``."""
    src = MODELS_DIR / f"{name}.onnx"
    dst = tmp_path / f"{name}.onnx"
    shutil.copy(src, dst)
    card = json.loads(src.with_suffix(".json").read_text())
    shutil.copy(src.with_name(card["golden"]), tmp_path / card["golden"])
    if edit is not None:
        edit(card)
    dst.with_suffix(".json").write_text(json.dumps(card))
    return dst


# -- 7: option ranges, checked by argparse before any work -------------------------------------------------


def test_stream_refuses_negative_model_passes_and_writes_nothing(capsys, tmp_path, npz):
    out = tmp_path / "out.wav"
    argv = [
        "stream",
        "-i",
        str(npz),
        "-o",
        str(out),
        "--method",
        "unfolded-untied",
        "--step-iterations",
        "-1",
    ]
    line = _usage_error(capsys, argv)
    assert line == "phasefold stream: error: argument --step-iterations: must be >= 1, got -1"
    assert not out.exists()


def test_evaluate_online_refuses_negative_step_iterations_and_writes_nothing(capsys, tmp_path, wav):
    out = tmp_path / "scores.json"
    argv = ["evaluate", str(wav), "--methods", "unfolded-untied", "--online", "--step-iterations", "-1"]
    line = _usage_error(capsys, [*argv, "--json", str(out)])
    assert line == "phasefold evaluate: error: argument --step-iterations: must be >= 1, got -1"
    assert not out.exists()


def test_reconstruct_refuses_hop_zero_and_leaves_an_existing_output_untouched(capsys, tmp_path, wav):
    out = tmp_path / "out.wav"
    out.write_bytes(b"keep me")
    line = _usage_error(capsys, ["reconstruct", str(wav), "-o", str(out), "--hop", "0"])
    assert line == "phasefold reconstruct: error: argument --hop: must be >= 1, got 0"
    # a hop the STFT cannot use with the input's n_fft: one line once the rate (and so n_fft) is known
    assert main(["reconstruct", str(wav), "-o", str(out), "--hop", "300"]) == 1
    lines = capsys.readouterr().err.strip().splitlines()
    assert lines == [
        "phasefold reconstruct: error: --hop 300 (n_fft 1024, hop 300 at 22050 Hz): n_fft (1024) must be a "
        "multiple of hop (300) with phasefold's own framing; centre the frames (center=True or False) for "
        "any other hop"
    ]
    assert out.read_bytes() == b"keep me"


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["stream", "--block", "0"], "argument --block/-B: must be >= 1, got 0"),
        (["stream", "-L", "-1"], "argument --lookahead/-L: must be >= 0, got -1"),
        (["stream", "--seconds", "0"], "argument --seconds: expected a finite number > 0, got '0'"),
        (["stream", "--snr", "nan"], "argument --snr: expected a finite number, got 'nan'"),
        (["reconstruct", "--step-iterations", "0"], "argument --step-iterations: must be >= 1, got 0"),
        (["reconstruct", "--iterations", "-1"], "argument --iterations: must be >= 0, got -1"),
        (["reconstruct", "--seed", "-1"], "argument --seed: must be >= 0, got -1"),
        (["evaluate", "x", "--methods", "fgla", "--hop", "0"], "argument --hop: must be >= 1, got 0"),
        (["bench", "--rounds", "0"], "argument --rounds: must be >= 1, got 0"),
        (["bench", "-L", "0,-1"], "argument --lookahead/-L: must be >= 0, got -1"),
        (["bench", "--hop", "0"], "argument --hop: must be >= 1, got 0"),
        (["bench", "--step-iterations", "0"], "argument --step-iterations: must be >= 1, got 0"),
        (["bench", "--seconds", "-4"], "argument --seconds: expected a finite number > 0, got '-4'"),
        (["gui", "--lookahead", "-1"], "argument --lookahead/-L: must be >= 0, got -1"),
        (["demo", "--block", "0"], "argument --block/-B: must be >= 1, got 0"),
        (["demo", "--snr", "inf"], "argument --snr: expected a finite number, got 'inf'"),
        (
            ["divergence", "m", "-o", "x.png", "--r", "0"],
            "argument --r: expected a finite number > 0, got '0'",
        ),
        (
            ["train-stream", "--out", "r", "--lookahead", "-1"],
            "argument --lookahead/-L: must be >= 0, got -1",
        ),
        (["train", "--out", "r", "--threads", "0"], "argument --threads: must be >= 1, got 0"),
    ],
)
def test_every_ranged_option_is_checked_by_argparse(capsys, argv, message):
    assert _usage_error(capsys, argv) == f"phasefold {argv[0]}: error: {message}"


def test_the_engine_refuses_zero_or_negative_passes_for_api_users():
    for iterations in (0, -1):
        with pytest.raises(InputError, match=f"must be at least 1, not {iterations}"):
            make_processor("unfolded-untied", iterations=iterations)
        with pytest.raises(InputError, match=f"must be at least 1, not {iterations}"):
            make_processor("fgla", iterations=iterations)


def test_zero_offline_iterations_of_a_model_is_the_phase_start(capsys, tmp_path, wav):
    outs = {}
    for method in ("unfolded-untied", "fgla"):
        out = tmp_path / f"{method}.wav"
        assert main(["reconstruct", str(wav), "-o", str(out), "--method", method, "--iterations", "0"]) == 0
        outs[method] = sf.read(out)[0]
    capsys.readouterr()
    np.testing.assert_array_equal(outs["unfolded-untied"], outs["fgla"])  # not one silent pass of T layers


# -- 8: NaN or infinite audio out of a method ---------------------------------------------------------------


def test_a_jump_to_1e30_streams_finite_audio_at_its_scale():
    """Magnitudes of 1e30 made the untied model return NaN (issue 16's test of this message); the level
    normalisation (engine.level, issue 30) rescales the window when the level jumps, so the stream goes on
    at the new scale. A method that returns NaN is still named with its frame (the tests below)."""
    stream = Stream.open("unfolded-untied", lookahead=3, block=1)
    mag = np.ones((12, CFG.n_bins))
    mag[8:] = 1e30
    out = np.concatenate([stream.push(mag[i]) for i in range(12)] + [stream.flush()])
    assert np.all(np.isfinite(out)) and 1e27 < np.abs(out).max() < 1e33


def _nan_after(frame: int) -> WindowProcessor:
    """A window processor whose step returns NaN once its window holds frame ``frame``."""
    seen = [0]

    def fn(mag, x, fixed, lam):
        seen[0] += 1
        return (x * np.nan if seen[0] > frame else x), lam

    return WindowProcessor(WindowStep(fn, "nan-step", 1), CFG, lookahead=1, block=2)


def test_a_step_returning_nan_raises_in_push_and_flush():
    stream = Stream(_nan_after(2))  # blocks of 2: the third block (frames 4 and 5) fails
    mag = np.ones((8, CFG.n_bins))
    first = stream.push(mag[:4])
    assert first.size == 4 * CFG.hop and np.all(np.isfinite(first))
    with pytest.raises(InputError, match=r"nan-step returned NaN or infinite audio at frames 4 to 5 \("):
        stream.push(mag[4:6])
    stream = Stream(_nan_after(1))
    stream.push(mag[:2])
    with pytest.raises(InputError, match="nan-step returned NaN or infinite audio at frame 2 "):
        stream.push(mag[2])  # a partial block is processed by flush
        stream.flush()


def test_stream_command_rebuilds_magnitudes_of_1e30(capsys, tmp_path):
    """The command stopped with "returned NaN or infinite audio at frame 20" here before the level
    normalisation (issue 30); a float WAV now holds the samples at their scale."""
    mag = np.ones((40, CFG.n_bins), dtype=np.float32)
    mag[20:] = 1e30
    src = tmp_path / "big.npz"
    save_magnitudes(src, mag, CFG)
    out = tmp_path / "out.wav"
    rc = main(["stream", "-i", str(src), "-o", str(out), "--method", "unfolded-untied", "--format", "FLOAT"])
    assert rc == 0, capsys.readouterr().err
    written = sf.read(out, dtype="float32")[0]
    assert np.all(np.isfinite(written)) and 1e27 < np.abs(written).max() < 1e33


# -- 9: model cards validated in full when the model is loaded ----------------------------------------------


def _set(path: str, value):
    def edit(card):
        *keys, last = path.split(".")
        target = card
        for key in keys:
            target = target[key]
        target[last] = value

    return edit


@pytest.mark.parametrize(
    ("name", "edit", "message"),
    [
        (
            "unfolded-stream-l0",
            _set("layers", "fifteen"),
            "layers must be a whole number >= 1, not 'fifteen'",
        ),
        (
            "unfolded-stream-l0",
            _set("streaming.lookahead", "zero"),
            "streaming.lookahead must be a whole number >= 0, not 'zero'",
        ),
        (
            "unfolded-stream-l0",
            _set("stft.hop", 512),
            "interface.inputs.x is [1792], but stft (n_fft 1024, hop 512) needs [2560]",
        ),
        ("unfolded-stream-l0", _set("rho", -0.1), "rho must be a finite number > 0, not -0.1"),
        (
            "unfolded-stream-l0",
            _set("streaming.passes", 0),
            "streaming.passes must be a whole number >= 1, not 0",
        ),
        (
            "unfolded-stream-l0",
            _set("streaming.passes", "two"),
            "streaming.passes must be a whole number >= 1, not 'two'",
        ),
        (
            "unfolded-stream-l0",
            _set("streaming.passes", True),
            "streaming.passes must be a whole number >= 1, not True",
        ),
        (
            "unfolded-stream-l0",
            _set("streaming.passes", 1001),
            "streaming.passes 1001 is above the limit of 1000 passes per stream step (MAX_STEP_ITERATIONS)",
        ),
        (
            "unfolded-stream-l0",
            _set("parameters.g1", [1.0]),
            "parameters.g1 has shape [1]; untied 8 layers need 32 finite values (one per parameter set)",
        ),
        (
            "unfolded-untied",
            _set("stft.hop", 512),
            "stft (n_fft 1024, hop 512) or interface.window_frames (None) does not match the graph: "
            "its golden pair unfolded-untied.golden.npz has mag [7, 513] and x [2560] "
            "(S = (W - 1) hop + n_fft = 4096 at the card's STFT)",
        ),
    ],
)
def test_an_edited_card_is_refused_in_one_line_naming_file_and_field(
    capsys, tmp_path, npz, name, edit, message
):
    path = _copy_model(tmp_path, name, edit)
    card = str(path.with_suffix(".json"))
    with pytest.raises(ModelError) as error:
        load_model(path)
    assert str(error.value) == f"{card}: {message}"
    out = tmp_path / "out.wav"
    rc = main(["stream", "-i", str(npz), "-o", str(out), "--model", str(path)])
    (line,) = _error_lines(capsys.readouterr().err, "stream")
    assert rc == 1 and line == f"phasefold stream: error: {card}: {message}"
    assert not out.exists()


def _streamed(capsys, model: Path, npz: Path, out: Path, *options: str) -> np.ndarray:
    argv = ["stream", "-i", str(npz), "-o", str(out), "--model", str(model), "--format", "FLOAT", *options]
    assert main(argv) == 0, capsys.readouterr().err
    return sf.read(out, dtype="float32")[0]


def test_a_cards_passes_are_its_default_passes_per_stream_step(capsys, tmp_path, npz):
    """A card with streaming.passes 2 streams as its graph does with --step-iterations 2, bit for bit;
    --step-iterations still overrides it; without the key a model runs one pass."""
    from phasefold.engine.registry import model_spec

    def passes(n):
        def edit(card):
            card["streaming"].pop("passes", None)
            if n is not None:
                card["streaming"]["passes"] = n

        return edit

    (tmp_path / "one").mkdir()
    (tmp_path / "two").mkdir()
    one = _copy_model(tmp_path / "one", "unfolded-stream-l1", passes(None))
    two = _copy_model(tmp_path / "two", "unfolded-stream-l1", passes(2))
    assert (model_spec(one).step_iterations, model_spec(two).step_iterations) == (1, 2)
    default_two = _streamed(capsys, two, npz, tmp_path / "a.wav")
    asked_two = _streamed(capsys, one, npz, tmp_path / "b.wav", "--step-iterations", "2")
    default_one = _streamed(capsys, one, npz, tmp_path / "c.wav")
    asked_one = _streamed(capsys, two, npz, tmp_path / "d.wav", "--step-iterations", "1")
    np.testing.assert_array_equal(default_two, asked_two)
    np.testing.assert_array_equal(asked_one, default_one)
    assert np.abs(default_two - default_one).max() > 1e-3  # two passes are not one


def test_a_graph_with_the_wrong_output_shape_is_refused_when_loaded(capsys, tmp_path, wav):
    onnx = pytest.importorskip("onnx")
    from onnx import TensorProto, helper

    f = TensorProto.FLOAT
    graph = helper.make_graph(
        [
            helper.make_node("Identity", ["mag"], ["x_out"]),
            helper.make_node("Identity", ["lam"], ["lam_out"]),
        ],
        "g",
        [
            helper.make_tensor_value_info("mag", f, ["W", 513]),
            helper.make_tensor_value_info("x", f, ["S"]),
            helper.make_tensor_value_info("fixed", f, ["S"]),
            helper.make_tensor_value_info("lam", f, [2, "W", 513]),
        ],
        [
            helper.make_tensor_value_info("x_out", f, ["W", 513]),
            helper.make_tensor_value_info("lam_out", f, None),
        ],
    )
    path = _copy_model(tmp_path, "unfolded-untied")
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), str(path))
    card = json.loads(path.with_suffix(".json").read_text())
    card["sha256"] = sha256_of(path)
    path.with_suffix(".json").write_text(json.dumps(card))
    message = f"{path}: the graph returns x_out of shape [7, 513], the contract needs [2560]"
    with pytest.raises(ModelError) as error:
        load_model(path)
    assert str(error.value) == message
    out = tmp_path / "out.wav"
    argv = ["reconstruct", str(wav), "-o", str(out), "--method", str(path), "--backend", "onnxruntime"]
    assert main(argv) == 1
    (line,) = _error_lines(capsys.readouterr().err, "reconstruct")
    assert line == f"phasefold reconstruct: error: {message}"
    assert not out.exists()

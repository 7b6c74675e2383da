"""One description of each method (engine.registry): the same default from every door, a stream-trained
model's own settings, the stream's output offset, one option per idea and reports that say what ran."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pytest
import soundfile as sf
from phasefold.cli import main
from phasefold.engine import registry
from phasefold.engine.errors import InputError
from phasefold.engine.evaluation import spectral_convergence_db
from phasefold.engine.stft import SAMPLE_RATE, StftConfig, magnitude
from phasefold.exported_models import MODELS_DIR

STREAM_MODELS = sorted(
    p.stem for p in MODELS_DIR.glob("*.json") if json.loads(p.read_text()).get("streaming") is not None
)


@pytest.fixture(scope="module")
def clip() -> np.ndarray:
    from phasefold.engine.demo import demo_signal

    return demo_signal(1.0)


@pytest.fixture
def fresh_warnings(monkeypatch):
    """phasefold.reconstruct's warnings as in a new process (each warns once per process)."""
    from phasefold import api

    monkeypatch.setattr(api, "_warned", set())


def _one_error_line(capsys, argv, *words) -> str:
    assert main([str(a) for a in argv]) == 1
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "Traceback" not in err, err
    for word in words:
        assert word in err, err
    return err


# -- 2: one default ------------------------------------------------------------------------------------


def test_cli_and_api_give_the_same_default_audio(timit_dir, tmp_path, fresh_warnings):
    """`phasefold reconstruct f.wav -o y.wav --format FLOAT` and phasefold.reconstruct(|stft(x)|) run the
    same method with the same iterations: the same samples to float32 rounding, for a 22050 Hz file."""
    import phasefold
    import soxr

    x16, sr = sf.read(timit_dir / "si2183.wav", dtype="float64")
    x = soxr.resample(x16, sr, SAMPLE_RATE, quality="HQ")[:SAMPLE_RATE]
    src = tmp_path / "x.wav"
    sf.write(src, x, SAMPLE_RATE, subtype="FLOAT")
    x, _ = sf.read(src, dtype="float64")  # the samples the command reads
    out = tmp_path / "y.wav"
    assert main(["reconstruct", str(src), "-o", str(out), "--format", "FLOAT"]) == 0
    y_cli, sr_out = sf.read(out, dtype="float64")
    with pytest.warns(FutureWarning, match="pass method='unfolded-untied' to keep the old output"):
        y_api = phasefold.reconstruct(np.abs(phasefold.stft(x)), length=len(x))
    assert sr_out == SAMPLE_RATE and y_cli.shape == y_api.shape == x.shape
    np.testing.assert_allclose(y_cli, y_api, rtol=0, atol=1e-6 * np.abs(y_api).max())


def test_the_default_method_and_iterations_come_from_the_registry(clip, fresh_warnings):
    import phasefold
    from phasefold.engine.methods import reconstruct

    cfg = StftConfig()
    mag = magnitude(clip, cfg)
    spec = registry.lookup(registry.DEFAULT_METHOD)
    assert (registry.DEFAULT_METHOD, spec.iterations) == ("fgla", registry.OFFLINE_ITERATIONS)
    with pytest.warns(FutureWarning):
        y = phasefold.reconstruct(mag, length=clip.size)
    np.testing.assert_array_equal(y, reconstruct("fgla", mag, cfg, 100, 0, clip.size))


def test_changed_defaults_warn_once_per_process_and_explicit_calls_do_not(clip, fresh_warnings):
    import phasefold

    mag = np.abs(phasefold.stft(clip))
    with pytest.warns(FutureWarning) as caught:
        phasefold.reconstruct(mag, length=clip.size)
    (text,) = [str(w.message) for w in caught]
    assert "'fgla'" in text and "'unfolded-untied'" in text and "pass method=" in text
    with pytest.warns(FutureWarning, match=r"pass method='gla', iterations=15 to keep the old output"):
        phasefold.reconstruct(mag, method="gla", length=clip.size)  # was 15 iterations, now 100
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        phasefold.reconstruct(mag, length=clip.size)  # warned already in this process
        phasefold.reconstruct(mag, method="gla", length=clip.size)
        phasefold.reconstruct(mag, method="admm-l2", iterations=3, length=clip.size)  # all explicit
        phasefold.reconstruct(mag, method="unfolded-tied", length=clip.size)  # 15 layers: as before


def test_no_changed_default_is_announced_where_there_was_no_old_default(clip, fresh_warnings):
    """A configuration the old release did not take (16 kHz, n_fft 512) had no default to change."""
    import phasefold

    mag = np.abs(phasefold.stft(clip, hop=128, n_fft=512))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        phasefold.reconstruct(mag, hop=128, n_fft=512, sample_rate=16000, iterations=2, length=clip.size)
        phasefold.reconstruct(mag, method="gla", hop=128, n_fft=512, sample_rate=16000, length=clip.size)


# -- 1: one description, read once ----------------------------------------------------------------------


def test_the_spec_owns_the_defaults():
    fgla, rtisi, rtpghi = (registry.lookup(n) for n in ("fgla", "rtisi-la", "rtpghi"))
    cfg = StftConfig()
    assert (fgla.iterations, fgla.step_iterations_at(cfg, 3, 1)) == (100, 15)
    assert rtisi.step_iterations_at(cfg, 3, 1) == 27  # 15 x (3 + 4 + 0) / (1 x 4), rounded up
    assert rtpghi.step_iterations_at(cfg, 3, 1) is None
    with pytest.raises(InputError, match="not iterative"):
        rtpghi.step_iterations_at(cfg, 3, 1, 5)
    untied = registry.lookup("unfolded-untied")
    assert (untied.iterations, untied.step_iterations, untied.lookahead) == (15, 1, None)
    assert untied.at_hop(512).name == "unfolded-untied-hop512" and untied.at_hop(256) is untied
    assert untied.describe_offline(30) == "2 passes of 15 layers"
    assert (
        "numpy" in registry.lookup("gd-l2").backends and "compiled" not in registry.lookup("gd-l2").backends
    )


# -- 4: Stream.open(name) with no other argument -----------------------------------------------------------


@pytest.mark.parametrize("name", STREAM_MODELS)
def test_every_shipped_stream_model_opens_with_its_own_settings(name):
    import phasefold

    card = json.loads((MODELS_DIR / f"{name}.json").read_text())["streaming"]
    stream = phasefold.Stream.open(name)
    assert (stream.lookahead, stream.block) == (card["lookahead"], card.get("block", 1))
    other = card["lookahead"] + 1
    with pytest.raises(InputError, match=f"look-ahead {card['lookahead']}, block {card.get('block', 1)}"):
        phasefold.Stream.open(name, lookahead=other)


def test_other_methods_open_at_the_registry_defaults():
    import phasefold

    stream = phasefold.Stream.open("admm-l2")
    assert (stream.lookahead, stream.block) == (registry.DEFAULT_LOOKAHEAD, registry.DEFAULT_BLOCK)
    assert phasefold.Stream.open("admm-l2", lookahead=1, block=2).block == 2


# -- 5: the output offset ----------------------------------------------------------------------------------


@pytest.mark.parametrize("lookahead", [0, 2])
def test_offline_sample_s_is_output_sample_s_plus_the_offset(clip, lookahead):
    from phasefold.engine.streaming import Stream, aligned

    cfg = StftConfig()
    stream = Stream.open("fgla", cfg, lookahead=lookahead, iterations=50)
    assert stream.output_offset == cfg.pad + lookahead * cfg.hop
    mag = magnitude(clip, cfg)
    out = np.concatenate([stream.push(mag), stream.flush()])
    assert np.array_equal(aligned(stream, out, clip.size), out[stream.output_offset :][: clip.size])

    def sc_db(
        shift: int,
    ) -> float:  # consistency with the magnitudes of the output cut ``shift`` samples late
        moved = np.concatenate([np.zeros(max(0, -shift)), out[max(0, shift) :]])
        return spectral_convergence_db(aligned(stream, moved, clip.size), mag, cfg)

    shifted = {shift: sc_db(shift) for shift in (-64, -16, 16, 64)}
    assert sc_db(0) < -25 and sc_db(0) < min(shifted.values())
    assert sc_db(0) < max(shifted[-64], shifted[64]) - 6


# -- 3: one option per idea, reports say what ran ---------------------------------------------------------


@pytest.mark.parametrize(
    ("argv", "words"),
    [
        (["reconstruct", "WAV", "-o", "OUT", "--online", "--iterations", "5"], ["--step-iterations 5"]),
        (["reconstruct", "WAV", "-o", "OUT", "--step-iterations", "5"], ["--step-iterations", "--online"]),
        (["reconstruct", "WAV", "-o", "OUT", "-L", "1"], ["--lookahead", "--online"]),
        (["reconstruct", "WAV", "-o", "OUT", "--init", "rtpghi"], ["--init", "--online"]),
        (
            ["reconstruct", "WAV", "-o", "OUT", "--online", "-m", "rtpghi", "--step-iterations", "2"],
            ["not iterative"],
        ),
        (["evaluate", "WAV", "--methods", "fgla", "--online", "--iterations", "5"], ["--step-iterations 5"]),
        (["evaluate", "WAV", "--methods", "fgla", "--block", "2"], ["--block", "--online"]),
        (
            ["stream", "-i", "WAV", "-o", "null", "--iterations", "5"],
            ["per stream step", "--step-iterations 5"],
        ),
        (["bench", "--iterations", "5"], ["per stream step", "--step-iterations 5"]),
        (
            ["stream", "-i", "WAV", "-o", "null", "-m", "unfolded-stream-l1", "-L", "2"],
            ["look-ahead 1, block 1"],
        ),
    ],
)
def test_an_option_that_does_not_apply_is_refused_in_one_line(capsys, wav, tmp_path, argv, words):
    out = tmp_path / "out.wav"
    argv = [wav if a == "WAV" else out if a == "OUT" else a for a in argv]
    _one_error_line(capsys, argv, *words)
    assert not out.exists()


@pytest.mark.parametrize(
    ("options", "ran"),
    [
        (["--method", "fgla", "--iterations", "7"], "fgla, 7 iterations,"),
        (["--method", "unfolded-untied", "--iterations", "30"], "unfolded-untied, 2 passes of 15 layers,"),
        (["--method", "unfolded-tied"], "unfolded-tied, 1 pass of 15 layers,"),
        (
            ["--online", "--method", "admm-l2", "-L", "1", "--step-iterations", "5"],
            "admm-l2 streamed (look-ahead 1, block 1, 5 iterations per step),",
        ),
        (["--online", "--method", "rtisi-la", "-L", "3"], "(look-ahead 3, block 1, 27 iterations per frame)"),
        (
            ["--online", "--method", "unfolded-stream-l1"],
            "(look-ahead 1, block 1, 3 passes of 8 layers per step)",  # its card's streaming.passes
        ),
        (
            ["--online", "--method", "unfolded-stream-l1", "--step-iterations", "1"],
            "(look-ahead 1, block 1, 1 pass of 8 layers per step)",
        ),
        (["--online", "--method", "rtpghi", "-L", "1"], "(look-ahead 1, block 1, not iterative)"),
    ],
)
def test_reconstruct_reports_what_ran(capsys, wav, tmp_path, options, ran):
    assert main(["reconstruct", str(wav), "-o", str(tmp_path / "y.wav"), *options]) == 0
    assert ran in capsys.readouterr().out


def test_the_per_step_count_changes_a_streamed_run(wav, tmp_path):
    """--step-iterations is what a streamed run iterates: 1 and 8 give different audio."""
    outs = []
    for n in ("1", "8"):
        outs.append(tmp_path / f"y{n}.wav")
        argv = [
            "reconstruct",
            str(wav),
            "-o",
            str(outs[-1]),
            "--online",
            "-m",
            "fgla",
            "--step-iterations",
            n,
        ]
        assert main(argv) == 0
    assert not np.array_equal(sf.read(outs[0])[0], sf.read(outs[1])[0])


def test_stream_reports_its_iterations_per_step(capsys, wav):
    argv = ["stream", "-i", str(wav), "-o", "null", "-m", "admm-l2", "-L", "1", "--step-iterations", "3"]
    assert main(argv) == 0
    assert "3 iterations per step" in capsys.readouterr().err


# -- --format ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["PCM_16", "PCM_24", "PCM_32", "FLOAT"])
def test_reconstruct_and_stream_write_the_format_asked(wav, tmp_path, fmt):
    out, streamed = tmp_path / "y.wav", tmp_path / "s.wav"
    assert main(["reconstruct", str(wav), "-o", str(out), "--iterations", "2", "--format", fmt]) == 0
    argv = ["stream", "-i", str(wav), "-o", str(streamed), "-m", "fgla", "--step-iterations", "1"]
    assert main([*argv, "--format", fmt]) == 0
    assert sf.info(out).subtype == sf.info(streamed).subtype == fmt


def test_a_float_stream_file_keeps_samples_beyond_full_scale(tmp_path):
    from phasefold.engine.streaming import WavSink

    sink = WavSink(tmp_path / "loud.wav", SAMPLE_RATE, "FLOAT")
    sink.write(np.array([0.5, 1.5, -2.0], dtype=np.float32))
    sink.close()
    assert sink.clipped == 0
    np.testing.assert_array_equal(sf.read(tmp_path / "loud.wav", dtype="float32")[0], [0.5, 1.5, -2.0])


def test_evaluate_reports_what_ran_per_method(capsys, wav):
    """A list of methods streamed with --step-iterations: each method that iterates runs that count, RTPGHI
    runs as it is, and the report says so."""
    argv = ["evaluate", str(wav), "--methods", "fgla,rtpghi", "--online", "-L", "1", "--step-iterations", "2"]
    assert main(argv) == 0
    assert (
        "ran: fgla streamed (look-ahead 1, block 1, 2 iterations per step); "
        "rtpghi streamed (look-ahead 1, block 1, not iterative)"
    ) in capsys.readouterr().out
    assert main(["evaluate", str(wav), "--methods", "gla,unfolded-tied", "--iterations", "30"]) == 0
    assert "ran: gla: 30 iterations, unfolded-tied: 2 passes of 15 layers" in capsys.readouterr().out

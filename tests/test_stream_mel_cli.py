"""`phasefold stream --mel PRESET` (issue 32, the live door for a mel): a .npy mel or an audio file's mel fed
frame by frame through the Player to a sink (engine.streaming.MelSource), the refusals, --list-methods and
--score."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf
from phasefold.cli import main
from phasefold.engine.demo import demo_signal
from phasefold.engine.errors import InputError
from phasefold.engine.evaluation import pesq_wb
from phasefold.engine.inputs import load_audio, save_magnitudes
from phasefold.engine.mel import PRESETS, melspectrogram
from phasefold.engine.registry import MEL_CLASSICAL, mel_method_names, mel_stream_default
from phasefold.engine.stft import StftConfig, magnitude
from phasefold.engine.streaming import MelSource, NullSink, Player, Stream
from phasefold.exported_models import MODELS_DIR


def _cli(capsys, *argv) -> tuple[int, str, str]:
    rc = main([str(a) for a in argv])
    out = capsys.readouterr()
    return rc, out.out, out.err


def _scores(out: str) -> dict[str, float]:
    words = out.split("score:")[1].split()
    return {k: float(v) for k, v in zip(words[::2], words[1::2], strict=True)}


@pytest.fixture(scope="module")
def inputs(tmp_path_factory):
    """speech.wav (1.5 s, float) and its mel in each preset tested, as .npy arrays."""
    root = tmp_path_factory.mktemp("mel")
    x = demo_signal(1.5)
    sf.write(root / "speech.wav", x, 22050, subtype="FLOAT")
    for preset in ("hifigan", "espnet"):
        np.save(root / f"{preset}.npy", melspectrogram(x, PRESETS[preset]))
    return root


@pytest.mark.parametrize(
    ("preset", "source", "options"),
    [
        ("hifigan", "npy", []),
        ("hifigan", "wav", ["--method", "admm-l2", "--step-iterations", "2", "-L", "1", "-B", "2"]),
        # ESPnet's arrays are [frames, 80]: the Player pushes a block in the mel's own layout
        ("espnet", "npy", ["--method", "gla", "--step-iterations", "3", "-L", "2", "-B", "3"]),
    ],
)
def test_the_stream_writes_what_reconstruct_online_writes_at_the_offset(
    capsys, tmp_path, inputs, preset, source, options
):
    """The stream's WAV file is the played signal (as for any stream: input sample s at file sample s +
    the printed latency, the stream's whole output after latency - output_offset samples of silence); cut
    at the latency it is, sample for sample, what `reconstruct --mel --online` writes for the same method,
    L, B and seed; past it, zeros."""
    given = inputs / ("speech.wav" if source == "wav" else f"{preset}.npy")
    common = ["--mel", preset, "--format", "FLOAT", *options]
    rc, _, err = _cli(capsys, "reconstruct", given, "-o", tmp_path / "offline.wav", "--online", *common)
    assert rc == 0, err
    rc, out, err = _cli(capsys, "stream", "-i", given, "-o", tmp_path / "stream.wav", *common)
    assert rc == 0, err
    assert "done:" in out and "under-runs 0" in out
    assert f"from the {preset} mel" in err and "WAV file" in err
    want, rate = sf.read(tmp_path / "offline.wav", dtype="float32")
    got, stream_rate = sf.read(tmp_path / "stream.wav", dtype="float32")
    assert rate == stream_rate == PRESETS[preset].stft.sample_rate
    method = options[1] if options else mel_stream_default(PRESETS[preset].stft)[0]
    lookahead = int(options[options.index("-L") + 1]) if "-L" in options else None
    block = int(options[options.index("-B") + 1]) if "-B" in options else None
    offset = Stream.open(method, mel=preset, lookahead=lookahead, block=block).latency_samples
    assert f"latency {offset} samples" in out
    assert got.size >= offset + want.size and np.abs(want).max() > 0.05
    np.testing.assert_array_equal(got[offset : offset + want.size], want)
    assert not got[offset + want.size :].any()


def test_score_on_speech_is_the_originals_and_above_3_pesq(capsys, tmp_path, timit_dir):
    """--score on a TIMIT test file scores the stream against the original at the mel's rate, time-aligned:
    its PESQ is what PESQ gives for `reconstruct --online`'s aligned output against the recording, and
    above 3."""
    wav = timit_dir / "si1010.wav"
    rc, out, err = _cli(capsys, "stream", "-i", wav, "--mel", "hifigan", "-o", "null", "--score")
    assert rc == 0, err
    scores = _scores(out)
    assert set(scores) == {"sc_db", "stoi", "estoi", "pesq"}
    assert scores["pesq"] > 3.0 and scores["stoi"] > 0.95
    rc, _, err = _cli(
        capsys,
        "reconstruct",
        wav,
        "--mel",
        "hifigan",
        "--online",
        "-o",
        tmp_path / "a.wav",
        "--format",
        "FLOAT",
    )
    assert rc == 0, err
    y, _ = sf.read(tmp_path / "a.wav")
    x, _ = load_audio(wav, 22050)
    assert scores["pesq"] == pytest.approx(pesq_wb(x, y, 22050), abs=6e-4)


def test_null_output_and_a_mel_array_holds_no_reference(capsys, inputs):
    rc, out, err = _cli(
        capsys, "stream", "-i", inputs / "hifigan.npy", "--mel", "hifigan", "-o", "null", "--score"
    )
    assert rc == 0, err
    assert "-> null sink" in err and "(the mel stream's default)" in err
    frames = np.load(inputs / "hifigan.npy").shape[1]
    assert f"done: {frames} frames in" in out
    assert "score: the input holds no reference audio" in err


def _refusals(root) -> list[tuple[list, str]]:
    np.save(root / "linear.npy", np.exp(np.load(root / "hifigan.npy")))
    x = demo_signal(0.5)
    cfg = StftConfig()
    save_magnitudes(root / "m.npz", magnitude(x, cfg).astype(np.float32), cfg, length=x.size, reference=x)
    wav = root / "speech.wav"
    return [
        (["-i", wav, "--snr", "10"], "--snr does not apply to a mel input"),
        *(
            (["-i", wav, flag, value], f"{flag} does not apply to a mel input")
            for flag, value in (
                ("--n-fft", "512"),
                ("--hop", "128"),
                ("--sr", "16000"),
                ("--window", "hann"),
                ("--win-length", "800"),
                ("--convention", "librosa"),
            )
        ),
        (["-i", wav, "--center"], "--center does not apply to a mel input"),
        (
            ["-i", wav, "--model", MODELS_DIR / "unfolded-tied.onnx"],
            "unfolded-tied does not take a mel input",
        ),
        (["-i", wav, "--method", "rtpghi"], "rtpghi does not take a mel input"),
        (
            ["-i", wav, "--method", "unfolded-mel-untied"],
            "unfolded-mel-untied is an offline mel method; the mel streaming methods: fgla",
        ),
        (["-i", root / "m.npz"], "m.npz is a .npz file of linear magnitudes"),
        (["-i", "mic"], "not the microphone"),
        (["-i", root / "linear.npy"], "looks like linear mel values"),
        (["-i", root / "espnet.npy"], "it looks transposed"),  # ESPnet's [frames, 80]
        ([], "--input is required"),
    ]


def test_what_does_not_apply_to_a_mel_is_refused_in_one_line(capsys, tmp_path, inputs):
    out = tmp_path / "out.wav"
    for argv, words in _refusals(inputs):
        rc, _, err = _cli(capsys, "stream", *argv, "--mel", "hifigan", "-o", out)
        assert rc != 0 and len(err.strip().splitlines()) == 1, (argv, err)
        assert words in err, (argv, err)
        assert not out.exists()
    rc, _, err = _cli(capsys, "stream", "-i", inputs / "speech.wav", "--mel-n-mels", "64", "-o", out)
    assert rc != 0 and "give --mel PRESET too" in err and len(err.strip().splitlines()) == 1


def test_list_methods_with_a_mel_lists_the_methods_that_stream_it(capsys):
    rc, out, _ = _cli(capsys, "stream", "--list-methods", "--mel", "hifigan")
    listed = out.split()
    assert rc == 0 and listed == mel_method_names(PRESETS["hifigan"], stream=True)
    assert listed[: len(MEL_CLASSICAL)] == list(MEL_CLASSICAL)
    assert "unfolded-mel-stream-l3" in listed and "unfolded-mel-untied" not in listed
    rc, out, _ = _cli(capsys, "stream", "--list-methods", "--mel", "vocos")
    assert rc == 0 and out.split() == list(MEL_CLASSICAL)  # the shipped mel models take the hifigan mel
    rc, out, _ = _cli(capsys, "stream", "--list-methods")
    assert "rtpghi" in out.split() and "unfolded-mel-stream-l3" not in out.split()


def test_the_player_refuses_a_source_that_is_not_the_streams_mel(inputs):
    """A mel source into a magnitude stream, or into a stream of another mel, is one InputError line
    before anything runs."""
    source = MelSource(np.load(inputs / "hifigan.npy"), PRESETS["hifigan"])
    assert source.n_frames == np.load(inputs / "hifigan.npy").shape[1]
    for stream in (Stream.open("fgla"), Stream.open("fgla", mel=PRESETS["espnet"])):
        with pytest.raises(InputError, match="the source gives mel frames") as caught:
            Player(source, stream, NullSink(22050))
        assert "\n" not in str(caught.value)
    with pytest.raises(InputError, match="bands where 80 are expected"):  # [80, frames] read as ESPnet's
        MelSource(np.load(inputs / "hifigan.npy"), PRESETS["espnet"])

"""The output's sample format follows the input's (issue 30): float in, float out; integers keep their width
(16 bits or fewer give PCM_16); .npz magnitude files give float32; ``--format`` wins. For `reconstruct`
(offline and --online), `stream -o` and the GUI's "save reconstruction"."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import soundfile as sf
from phasefold.cli import main
from phasefold.engine.demo import demo_signal
from phasefold.engine.errors import InputError
from phasefold.engine.inputs import sample_format, save_magnitudes
from phasefold.engine.outputs import output_subtype
from phasefold.engine.stft import SAMPLE_RATE, StftConfig, magnitude

# (file name, format, subtype written) -> the output's subtype: the rule of the issue, written out here
CASES = [
    ("in.wav", "WAV", "PCM_16", "PCM_16"),
    ("in.wav", "WAV", "PCM_24", "PCM_24"),
    ("in.wav", "WAV", "PCM_32", "PCM_32"),
    ("in.wav", "WAV", "PCM_U8", "PCM_16"),  # 8 bits would add their own noise: 16
    ("in.wav", "WAV", "FLOAT", "FLOAT"),
    ("in.wav", "WAV", "DOUBLE", "FLOAT"),  # float32 is far below a reconstruction's own error
    ("in.wav", "WAV", "ULAW", "PCM_16"),
    ("in.flac", "FLAC", "PCM_16", "PCM_16"),
    ("in.flac", "FLAC", "PCM_24", "PCM_24"),  # FLAC holds integers only
    ("in.flac", "FLAC", "PCM_S8", "PCM_16"),
    ("in.ogg", "OGG", "VORBIS", "FLOAT"),  # a lossy codec decodes to float
    ("in.npz", None, None, "FLOAT"),  # an array input: float32
]


def _input(folder: Path, name: str, fmt: str | None, subtype: str | None, x: np.ndarray) -> Path:
    path = folder / name
    if fmt is None:
        cfg = StftConfig()
        save_magnitudes(path, magnitude(x, cfg), cfg, length=x.size)
    else:
        sf.write(path, x, SAMPLE_RATE, format=fmt, subtype=subtype)
        assert sf.info(path).subtype == subtype
    return path


@pytest.fixture(scope="module")
def clip() -> np.ndarray:
    return demo_signal(0.5)


@pytest.mark.parametrize("name, fmt, subtype, expected", CASES, ids=[f"{c[0]}-{c[2]}" for c in CASES])
def test_each_input_format_gives_its_output_format(tmp_path, clip, name, fmt, subtype, expected):
    src = _input(tmp_path, name, fmt, subtype, clip)
    offline, online, streamed = tmp_path / "off.wav", tmp_path / "on.wav", tmp_path / "s.wav"
    assert main(["reconstruct", str(src), "-o", str(offline), "--iterations", "1"]) == 0
    assert main(["reconstruct", str(src), "-o", str(online), "--online", "-m", "rtpghi"]) == 0
    assert main(["stream", "-i", str(src), "-o", str(streamed), "-m", "rtpghi"]) == 0
    assert [sf.info(p).subtype for p in (offline, online, streamed)] == [expected] * 3


@pytest.mark.parametrize("subtype, asked", [("FLOAT", "PCM_16"), ("PCM_16", "FLOAT"), ("PCM_24", "PCM_32")])
def test_format_wins_over_the_input(tmp_path, clip, subtype, asked):
    src = _input(tmp_path, "in.wav", "WAV", subtype, clip)
    out, streamed = tmp_path / "y.wav", tmp_path / "s.wav"
    assert main(["reconstruct", str(src), "-o", str(out), "--iterations", "1", "--format", asked]) == 0
    assert main(["stream", "-i", str(src), "-o", str(streamed), "-m", "rtpghi", "--format", asked]) == 0
    assert sf.info(out).subtype == sf.info(streamed).subtype == asked


def test_a_quiet_float_input_keeps_its_samples(tmp_path, clip):
    """At -40 dB, PCM_16 would quantise the output to about 1 % of its peak; the float output is the API's
    float result to float32 rounding."""
    import phasefold

    quiet = 0.01 * clip
    src = _input(tmp_path, "quiet.wav", "WAV", "FLOAT", quiet)
    x, _ = sf.read(src, dtype="float64")  # the samples the command reads
    out, pcm = tmp_path / "y.wav", tmp_path / "y16.wav"
    argv = ["reconstruct", str(src), "--method", "fgla", "--iterations", "20"]
    assert main([*argv, "-o", str(out)]) == 0
    assert main([*argv, "-o", str(pcm), "--format", "PCM_16"]) == 0
    y_api = phasefold.reconstruct(np.abs(phasefold.stft(x)), method="fgla", iterations=20, length=x.size)
    y_cli, sr = sf.read(out, dtype="float64")
    assert sf.info(out).subtype == "FLOAT" and sr == SAMPLE_RATE and y_cli.shape == y_api.shape
    tolerance = 1e-6 * np.abs(y_api).max()
    np.testing.assert_allclose(y_cli, y_api, rtol=0, atol=tolerance)
    y16, _ = sf.read(pcm, dtype="float64")
    assert np.abs(y16 - y_api).max() > 100 * tolerance  # what the float output avoids


def test_the_rule_as_a_function():
    assert output_subtype("PCM_24") == "PCM_24" and output_subtype("DOUBLE") == "FLOAT"
    assert output_subtype("MPEG_LAYER_III") == "FLOAT" and output_subtype("PCM_U8") == "PCM_16"
    assert output_subtype("IMA_ADPCM") == "PCM_16"
    assert output_subtype(None) == "PCM_16"  # no input format: the demo, the microphone
    assert output_subtype("FLOAT", "PCM_24") == "PCM_24"
    with pytest.raises(InputError, match="unknown WAV format 'DOUBLE'"):
        output_subtype("FLOAT", "DOUBLE")


def test_sample_format_of_inputs(tmp_path, clip):
    assert sample_format(_input(tmp_path, "m.npz", None, None, clip)) == "FLOAT"
    assert sample_format(_input(tmp_path, "a.wav", "WAV", "PCM_24", clip)) == "PCM_24"
    (tmp_path / "bad.wav").write_bytes(b"RIFF not audio")
    with pytest.raises(InputError, match="bad.wav: not a readable audio file"):
        sample_format(tmp_path / "bad.wav")


@pytest.mark.parametrize(
    "source_format, expected", [(None, "PCM_16"), ("FLOAT", "FLOAT"), ("PCM_24", "PCM_24")]
)
def test_the_gui_saves_in_the_input_files_format(tmp_path, source_format, expected):
    """The window's "save reconstruction": PCM_16 for the demo and the microphone (no input format), else
    the input file's rule."""
    pytest.importorskip("PyQt6")
    from phasefold.gui.window_files import FileActions

    y = 0.01 * demo_signal(0.2)
    worker = SimpleNamespace(sample_format=source_format, reconstruction=lambda: y)
    statuses: list[str] = []
    window = SimpleNamespace(
        last_worker=worker,
        mel_result=None,
        cfg=StftConfig(),
        show_error=pytest.fail,
        show_status=statuses.append,
    )
    assert FileActions.save_reconstruction(window, tmp_path / "out.wav")
    assert sf.info(tmp_path / "out.wav").subtype == expected and statuses == ["saved out.wav"]

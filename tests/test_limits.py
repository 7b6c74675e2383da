"""The documented limits (engine.limits, docs/limits.md): each refused with one line naming it, before
anything is read or allocated (sf.read / np.load not called, little memory), from tiny hand-made files;
valid inputs at the edges still work."""

from __future__ import annotations

import io
import struct
import tracemalloc
import zipfile
from pathlib import Path

import numpy as np
import phasefold
import pytest
import soundfile as sf
from phasefold.cli import main
from phasefold.engine import limits
from phasefold.engine.errors import InputError
from phasefold.engine.inputs import load_audio, load_magnitudes
from phasefold.engine.stft import StftConfig, magnitude


def _wav(path: Path, rate: int, data: bytes = b"\x01\x00" * 100, channels: int = 1, claim: int | None = None):
    """A PCM_16 WAV written byte by byte: its header says ``rate`` Hz, ``channels`` and a data chunk of
    ``claim`` bytes (default: the bytes of ``data`` that follow)."""
    claim = len(data) if claim is None else claim
    align = 2 * channels
    fmt = struct.pack("<HHIIHH", 1, channels, rate, (rate * align) & 0xFFFFFFFF, align, 16)
    riff = min(36 + claim, 0xFFFFFFFF)
    head = b"RIFF" + struct.pack("<I", riff) + b"WAVE" + b"fmt " + struct.pack("<I", 16) + fmt
    path.write_bytes(head + b"data" + struct.pack("<I", claim) + data)
    return path


def _flac_claiming(path: Path, samples: int) -> Path:
    """A real 1000-sample FLAC whose STREAMINFO claims ``samples`` samples (36 bits, bytes 18-25)."""
    sf.write(path, np.random.default_rng(0).standard_normal(1000) * 0.1, 22050, subtype="PCM_16")
    data = bytearray(path.read_bytes())
    field = int.from_bytes(data[18:26], "big")
    field = (field & ~((1 << 36) - 1)) | samples
    data[18:26] = field.to_bytes(8, "big")
    path.write_bytes(bytes(data))
    return path


def _npy(shape: tuple[int, ...], dtype: str = "<f4", data: bytes = b"") -> bytes:
    """The bytes of a .npy file whose header says ``shape`` and ``dtype``, followed by ``data``."""
    buf = io.BytesIO()
    header = {"descr": dtype, "fortran_order": False, "shape": shape}
    np.lib.format.write_array_header_1_0(buf, header)
    return buf.getvalue() + data


def _npz(path: Path, members: dict[str, bytes | np.ndarray], compress: int = zipfile.ZIP_STORED) -> Path:
    """A .npz written member by member: arrays as np.save writes them, bytes as they are."""
    settings = {"n_fft": 1024, "hop": 256, "sample_rate": 22050, "power": 1.0}
    with zipfile.ZipFile(path, "w", compression=compress) as zf:
        for key, value in {**settings, **members}.items():
            if not isinstance(value, bytes):
                buf = io.BytesIO()
                np.save(buf, np.asarray(value))
                value = buf.getvalue()
            zf.writestr(f"{key}.npy", value)
    return path


def _claim_size(path: Path, member: str, size: int) -> Path:
    """Rewrite the uncompressed size of ``member`` in the zip's local and central headers (a zip bomb's
    directory, without the bytes)."""
    data = bytearray(path.read_bytes())
    name = member.encode()
    local = data.find(b"PK\x03\x04")
    while local >= 0:
        name_len = struct.unpack_from("<H", data, local + 26)[0]
        if data[local + 30 : local + 30 + name_len] == name:
            struct.pack_into("<I", data, local + 22, size)
        local = data.find(b"PK\x03\x04", local + 4)
    central = data.find(b"PK\x01\x02")
    while central >= 0:
        name_len = struct.unpack_from("<H", data, central + 28)[0]
        if data[central + 46 : central + 46 + name_len] == name:
            struct.pack_into("<I", data, central + 24, size)
        central = data.find(b"PK\x01\x02", central + 4)
    path.write_bytes(bytes(data))
    return path


@pytest.fixture
def no_reading(monkeypatch):
    """sf.read and np.load fail the test if called: the checks run before anything is read."""

    def refuse(*args, **kwargs):
        raise AssertionError("read before the limits were checked")

    monkeypatch.setattr(sf, "read", refuse)
    monkeypatch.setattr(np, "load", refuse)
    monkeypatch.setattr(np.lib.format, "read_array", refuse)


def _refused(call, name: str) -> str:
    """The message of ``call``'s InputError: one line, naming the limit ``name``; it costs under 4 MB."""
    tracemalloc.start()
    try:
        with pytest.raises(InputError) as info:
            call()
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    text = str(info.value)
    assert "\n" not in text
    assert name in text, text
    assert peak < 4 * 2**20, peak
    return text


# --- audio ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("rate", [1, 2, 3999, 768_001, 2**31 - 1])
def test_audio_sample_rate_outside_the_limit_is_refused_before_reading(tmp_path, no_reading, rate):
    path = _wav(tmp_path / "x.wav", rate)
    text = _refused(lambda: load_audio(path), "limits.SAMPLE_RATES")
    assert text == f"{path}: sample rate {rate} Hz is outside 4000 to 768000 Hz (limits.SAMPLE_RATES)"


@pytest.mark.parametrize("rate", [4000, 768_000])
def test_audio_at_the_rate_limits_is_read_and_resampled(tmp_path, rate):
    n = rate // 20  # 50 ms
    tone = 0.3 * np.sin(2 * np.pi * 1000 * np.arange(n) / rate)
    sf.write(tmp_path / "x.wav", tone, rate, subtype="PCM_16")
    x, notes = load_audio(tmp_path / "x.wav")
    assert notes == [f"resampled {rate} Hz -> 22050 Hz"]
    assert abs(x.size - round(n * 22050 / rate)) <= 1
    assert 0.25 < np.max(np.abs(x)) < 0.35


def test_audio_with_too_many_channels_is_refused(tmp_path, no_reading):
    path = _wav(tmp_path / "x.wav", 22050, data=b"\x00" * 1000 * 2, channels=1000)
    _refused(lambda: load_audio(path), "limits.MAX_CHANNELS")


def test_wav_data_chunk_claiming_more_than_the_file_is_read_as_what_is_there(tmp_path):
    """libsndfile takes a WAV's data chunk as the bytes the file holds: 2 GB claimed, 100 samples read."""
    samples = (np.arange(100) * 100 - 5000).astype("<i2")
    path = _wav(tmp_path / "x.wav", 22050, data=samples.tobytes(), claim=2**31)
    x, notes = load_audio(path)
    assert notes == []
    np.testing.assert_array_equal(x, samples / 32768.0)


def test_compressed_header_claiming_more_than_a_day_is_refused_before_reading(tmp_path, no_reading):
    path = _flac_claiming(tmp_path / "x.flac", 2**36 - 1)  # 3.1e6 s at 22050 Hz
    text = _refused(lambda: load_audio(path), "limits.MAX_SECONDS")
    assert "68719476735 frames at 22050 Hz are 866 h of audio, more than 24 h" in text


def test_compressed_header_claiming_more_than_the_file_holds_is_refused(tmp_path, no_reading):
    samples = 22050 * 3600 * 10  # 10 h: within a day, but beyond 32768 samples per byte of a 2 kB file
    path = _flac_claiming(tmp_path / "x.flac", samples)
    assert path.stat().st_size * limits.MAX_SAMPLES_PER_BYTE < samples
    _refused(lambda: load_audio(path), "limits.MAX_SAMPLES_PER_BYTE")


def test_pcm_header_against_file_size(tmp_path):
    """An uncompressed format whose header claims more bytes than the file holds (soundfile's info faked:
    libsndfile clamps WAV itself) is refused, naming the rule."""
    path = _wav(tmp_path / "x.wav", 22050)
    info = sf.info(str(path))
    info.frames = 10**6
    with pytest.raises(InputError, match=r"header against file size, docs/limits.md\)$"):
        limits.check_audio_header(path, info)
    info.frames = 100
    limits.check_audio_header(path, info)


def test_one_hz_wav_on_the_command_line_is_one_line_and_writes_nothing(capsys, tmp_path):
    path = _wav(tmp_path / "x.wav", 1)
    for argv in (
        ["reconstruct", path, "-o", tmp_path / "out.wav"],
        ["stream", "-i", path, "-o", tmp_path / "out.wav", "-m", "rtpghi"],
    ):
        rc = main([str(a) for a in argv])
        err = capsys.readouterr().err
        assert rc == 1
        lines = err.strip().splitlines()
        assert len(lines) == 1 and "limits.SAMPLE_RATES" in lines[0], err
        assert not (tmp_path / "out.wav").exists()


# --- .npz -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("rate", [1, 2**62])
def test_npz_sample_rate_outside_the_limit_is_refused_before_loading(tmp_path, no_reading, rate):
    path = _npz(tmp_path / "m.npz", {"magnitudes": np.ones((20, 513), np.float32), "sample_rate": rate})
    text = _refused(lambda: load_magnitudes(path), "limits.SAMPLE_RATES")
    assert text.startswith(f"{path}: sample rate {rate} Hz is outside")


@pytest.mark.parametrize("rate", [4000, 768_000])
def test_npz_at_the_rate_limits_is_reconstructed(capsys, tmp_path, rate):
    cfg = StftConfig(sample_rate=rate)
    x = 0.3 * np.sin(2 * np.pi * 1000 * np.arange(rate // 10) / rate)
    path = _npz(tmp_path / "m.npz", {"magnitudes": magnitude(x, cfg, np.float32), "sample_rate": rate})
    assert load_magnitudes(path).cfg.sample_rate == rate
    run = ["reconstruct", str(path), "-o", str(tmp_path / "out.wav"), "-m", "fgla", "--iterations", "2"]
    assert main(run) == 0, capsys.readouterr().err
    assert sf.info(str(tmp_path / "out.wav")).samplerate == rate  # its own rate
    assert main([*run, "--sr", "22050"]) == 0, capsys.readouterr().err
    assert sf.info(str(tmp_path / "out.wav")).samplerate == 22050


def test_npz_bad_n_fft_is_refused(tmp_path, no_reading):
    path = _npz(tmp_path / "m.npz", {"magnitudes": np.ones((2, 3), np.float32), "n_fft": 2**20, "hop": 2**19})
    _refused(lambda: load_magnitudes(path), "limits.N_FFTS")


def test_npz_member_claiming_gigabytes_is_refused_before_decompression(tmp_path, no_reading):
    """A zip bomb's directory: 4 GB uncompressed claimed for 'magnitudes', refused from the directory."""
    path = _npz(tmp_path / "m.npz", {"magnitudes": np.ones((20, 513), np.float32)}, zipfile.ZIP_DEFLATED)
    _claim_size(path, "magnitudes.npy", 0xFFFFFF00)
    text = _refused(lambda: load_magnitudes(path), "limits.MAX_NPZ_MEMBER_BYTES")
    assert "array 'magnitudes' is 4294967040 bytes uncompressed, more than 2147483648" in text


def test_deflated_zeros_beyond_the_member_limit_are_never_decompressed(tmp_path, monkeypatch, no_reading):
    """A real zip bomb at a small scale: 16 MB of deflated zeros (16 kB on disk) with the limit at 1 MB."""
    monkeypatch.setattr(limits, "MAX_NPZ_MEMBER_BYTES", 2**20)
    zeros = np.zeros((8192, 513), np.float32)
    path = _npz(tmp_path / "m.npz", {"magnitudes": zeros}, zipfile.ZIP_DEFLATED)
    assert path.stat().st_size < 2**17
    _refused(lambda: load_magnitudes(path), "limits.MAX_NPZ_MEMBER_BYTES")


def test_npy_header_claiming_1e12_frames_is_refused_before_allocation(tmp_path, no_reading):
    path = _npz(tmp_path / "m.npz", {"magnitudes": _npy((10**12, 513), data=b"\x00" * 4096)})
    text = _refused(lambda: load_magnitudes(path), "(header against file size, docs/limits.md)")
    assert "array 'magnitudes' claims shape [1000000000000, 513] of float32, 2052000000000000 bytes" in text


def test_npy_header_claiming_1e12_empty_frames_hits_the_duration_limit(tmp_path, no_reading):
    """Frames of no bytes (shape [1e12, 0]) pass the size check; the frame count is refused by MAX_SECONDS."""
    path = _npz(tmp_path / "m.npz", {"magnitudes": _npy((10**12, 0))})
    text = _refused(lambda: load_magnitudes(path), "limits.MAX_SECONDS")
    assert "1000000000000 frames at 22050 Hz" in text


@pytest.mark.parametrize(
    ("shape", "limit"), [((10**12, 513), "header against file size"), ((10**12, 0), "MAX_SECONDS")]
)
def test_an_init_phase_header_beyond_the_limits_is_refused_before_loading(tmp_path, no_reading, shape, limit):
    """'init_phase' (a given initial phase, [F, K]) is checked as 'magnitudes' is, before either is read."""
    data = b"\x00" * 4096 if shape[1] else b""
    path = _npz(
        tmp_path / "m.npz",
        {"magnitudes": np.ones((20, 513), np.float32), "init_phase": _npy(shape, data=data)},
    )
    text = _refused(lambda: load_magnitudes(path), limit)
    assert "init_phase" in text


@pytest.mark.parametrize("damage", ["encrypted flag", "deflate stream"])
def test_a_damaged_zip_is_one_line(tmp_path, damage):
    path = _npz(tmp_path / "m.npz", {"magnitudes": np.ones((20, 513), np.float32)}, zipfile.ZIP_DEFLATED)
    data = bytearray(path.read_bytes())
    if damage == "encrypted flag":  # general purpose bit 0 of every local and central header
        for sig, at in ((b"PK\x03\x04", 6), (b"PK\x01\x02", 8)):
            i = data.find(sig)
            while i >= 0:
                data[i + at] |= 1
                i = data.find(sig, i + 4)
    else:  # the first member's compressed bytes
        start = 30 + struct.unpack_from("<H", data, 26)[0] + struct.unpack_from("<H", data, 28)[0]
        data[start : start + 8] = b"\xff" * 8
    path.write_bytes(bytes(data))
    text = _message(lambda: load_magnitudes(path))
    assert "\n" not in text and "not a valid .npz magnitude file" in text


def _message(call) -> str:
    with pytest.raises(InputError) as info:
        call()
    return str(info.value)


def test_members_that_are_not_magnitude_keys_are_not_read(tmp_path):
    path = _npz(
        tmp_path / "m.npz",
        {"magnitudes": np.ones((20, 513), np.float32), "extra": _npy((10**12,), data=b"\x00" * 8)},
    )
    assert load_magnitudes(path).magnitudes.shape == (20, 513)


# --- look-ahead, block, iterations, layers ---------------------------------------------------------------


def test_lookahead_and_block_above_the_limit_are_refused_by_the_api(no_reading):
    _refused(lambda: phasefold.Stream.open("rtpghi", lookahead=100_000), "limits.MAX_LOOKAHEAD")
    _refused(lambda: phasefold.Stream.open("rtpghi", block=limits.MAX_BLOCK + 1), "limits.MAX_BLOCK")
    text = _refused(lambda: phasefold.Stream.open("fgla", iterations=1001), "limits.MAX_STEP_ITERATIONS")
    assert text == "iterations per step: 1001 is more than 1000 (limits.MAX_STEP_ITERATIONS)"


def test_lookahead_and_block_at_the_limit_run():
    stream = phasefold.Stream.open("rtpghi", lookahead=limits.MAX_LOOKAHEAD, block=limits.MAX_BLOCK)
    assert (stream.lookahead, stream.block) == (limits.MAX_LOOKAHEAD, limits.MAX_BLOCK)


def test_offline_iterations_above_the_limit_are_refused_by_the_api():
    mag = np.ones((20, 513))
    text = _refused(lambda: phasefold.reconstruct(mag, "fgla", iterations=10_001), "limits.MAX_ITERATIONS")
    assert text == "iterations: 10001 is more than 10000 (limits.MAX_ITERATIONS)"


def test_magnitudes_longer_than_a_day_are_refused_by_the_api():
    mag = np.broadcast_to(np.float32(1.0), (limits.MAX_SECONDS * 22050 // 256 + 1, 513))  # no memory
    _refused(lambda: phasefold.reconstruct(mag, "fgla", iterations=1), "limits.MAX_SECONDS")


@pytest.mark.parametrize(
    ("argv", "name"),
    [
        (["reconstruct", "{wav}", "-o", "{out}", "--online", "-L", "100000"], "MAX_LOOKAHEAD"),
        (["reconstruct", "{wav}", "-o", "{out}", "--online", "-B", "65"], "MAX_BLOCK"),
        (
            ["reconstruct", "{wav}", "-o", "{out}", "--online", "--step-iterations", "1001"],
            "MAX_STEP_ITERATIONS",
        ),
        (["reconstruct", "{wav}", "-o", "{out}", "--iterations", "10001"], "MAX_ITERATIONS"),
        (["stream", "-i", "{wav}", "-o", "{out}", "-L", "65"], "MAX_LOOKAHEAD"),
        (["bench", "-L", "0,65"], "MAX_LOOKAHEAD"),
        (["bench", "--rounds", "101"], "MAX_ROUNDS"),
        (["bench", "--seconds", "1e30"], "MAX_SECONDS"),
        (["bench", "--soak", "86401"], "MAX_SECONDS"),
        (["evaluate", "{wav}", "--methods", "fgla", "--iterations", "10001"], "MAX_ITERATIONS"),
        (["train", "--out", "{out}", "--layers", "101"], "MAX_LAYERS"),
        (["train-stream", "--out", "{out}", "--layers", "101"], "MAX_LAYERS"),
        (["train-stream", "--out", "{out}", "-L", "65"], "MAX_LOOKAHEAD"),
    ],
)
def test_cli_refuses_each_limit_in_one_line_before_reading(capsys, tmp_path, no_reading, argv, name):
    wav = _wav(tmp_path / "in.wav", 22050)
    out = tmp_path / "out.wav"
    rc = main([a.format(wav=wav, out=out) for a in argv])
    err = capsys.readouterr().err
    lines = err.strip().splitlines()
    assert rc == 1
    assert len(lines) == 1 and lines[0].endswith(f"(limits.{name})"), err
    assert "Traceback" not in err
    assert not out.exists()


def test_training_configs_check_the_layer_limit():
    pytest.importorskip("torch")
    from phasefold.training.stream_unfolded import StreamNetConfig
    from phasefold.training.unfolded import NetConfig

    _refused(lambda: NetConfig(layers=limits.MAX_LAYERS + 1), "limits.MAX_LAYERS")
    _refused(lambda: StreamNetConfig(layers=limits.MAX_LAYERS + 1), "limits.MAX_LAYERS")
    _refused(lambda: StreamNetConfig(lookahead=limits.MAX_LOOKAHEAD + 1), "limits.MAX_LOOKAHEAD")
    assert NetConfig(layers=limits.MAX_LAYERS).layers == limits.MAX_LAYERS

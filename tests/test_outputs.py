"""engine.outputs: output paths checked before the work, files renamed into place only when complete."""

from __future__ import annotations

import os

import numpy as np
import pytest
from phasefold.engine.errors import InputError
from phasefold.engine.outputs import FILE_MODE, atomic_output, check_output_path, write_text, write_wav


def test_a_failed_write_leaves_the_existing_file_and_no_part_file(tmp_path):
    target = tmp_path / "take1.wav"
    target.write_bytes(b"the take of yesterday")
    with pytest.raises(RuntimeError, match="disk full"), atomic_output(target) as tmp:
        tmp.write_bytes(b"half")
        raise RuntimeError("disk full")
    assert target.read_bytes() == b"the take of yesterday"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["take1.wav"]


def test_a_complete_write_replaces_the_file_with_ordinary_permissions(tmp_path):
    target = tmp_path / "out.json"
    target.write_text("old")
    write_text(target, '{"new": 1}')
    assert target.read_text() == '{"new": 1}'
    assert (target.stat().st_mode & 0o777) == FILE_MODE
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.json"]


def test_nan_audio_is_refused_before_an_existing_file_is_touched(tmp_path):
    target = tmp_path / "a.wav"
    write_wav(target, np.zeros(100))
    before = target.read_bytes()
    with pytest.raises(InputError, match="NaN"):
        write_wav(target, np.full(100, np.nan))
    assert target.read_bytes() == before


@pytest.mark.parametrize(
    "case, message",
    [("folder", "is a folder"), ("missing", "does not exist"), ("input", "is also the input")],
)
def test_bad_output_paths_are_refused_up_front(tmp_path, case, message):
    source = tmp_path / "in.wav"
    source.write_bytes(b"audio")
    path = {"folder": tmp_path, "missing": tmp_path / "nope" / "x.wav", "input": source}[case]
    with pytest.raises(InputError, match=message):
        check_output_path(path, inputs=(source,))
    assert source.read_bytes() == b"audio"


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only folders")
def test_a_read_only_folder_is_refused(tmp_path):
    folder = tmp_path / "ro"
    folder.mkdir()
    folder.chmod(0o500)
    try:
        with pytest.raises(InputError, match="not writable"):
            check_output_path(folder / "x.wav")
    finally:
        folder.chmod(0o700)


@pytest.mark.parametrize("subtype", ["FLOAT", "PCM_16"])
def test_a_wav_holds_only_the_audio_and_no_time_of_writing(tmp_path, subtype):
    """libsndfile's PEAK chunk of float WAVs holds a timestamp: the same audio would give another file."""
    import soundfile as sf

    x = np.sin(np.arange(4000) / 7.0).astype(np.float32) * 0.5
    write_wav(tmp_path / "a.wav", x, subtype=subtype)
    data = (tmp_path / "a.wav").read_bytes()
    assert b"PEAK" not in data
    back, _ = sf.read(tmp_path / "a.wav", dtype="float32")
    np.testing.assert_allclose(back, x, atol=0 if subtype == "FLOAT" else 1 / 32768)

"""The sounddevice path against a real PortAudio device: the ALSA null device of tests/alsa/asoundrc.

Each scenario runs in a subprocess whose HOME holds that .asoundrc (PortAudio reads ALSA's set-up once,
at start-up). The null device has no clock, so it drains the FIFO as fast as it is filled: how many
under-runs there are means nothing here, only that they are counted once per gap (each callback's read
is logged); what is checked is that the device is listed, the callback runs, every sample reaches it in
order, and an unplugged device stops the stream cleanly.

Pacing is checked against a device with a clock: tests/alsa/clocked_device.sh runs a private PulseAudio
daemon whose null sink consumes audio at the sample rate, reached through ALSA's pulse plugin
(.ci/install installs both). How many under-runs a real device sees depends on the machine's load; the
exact counts for scripted stalls are tested deterministically in tests/test_audio_ring.py.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
SCRIPT = HERE / "alsa" / "device_check.py"


def _run_case(case: str, tmp_path: Path) -> dict:
    if sys.platform != "linux":
        pytest.skip("the ALSA null device is Linux only")
    home = tmp_path / "home"
    home.mkdir(exist_ok=True)
    shutil.copy(HERE / "alsa" / "asoundrc", home / ".asoundrc")
    env = {**os.environ, "HOME": str(home)}
    env.pop("ALSA_CONFIG_PATH", None)
    proc = subprocess.run(
        [sys.executable, str(SCRIPT), case, str(tmp_path)],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    if "skip" in result:
        pytest.skip(result["skip"])
    return result


def test_null_device_is_listed_and_plays(tmp_path):
    listed = _run_case("list", tmp_path)
    assert listed["default_output"] == "default"
    played = _run_case("play", tmp_path)
    assert played["callbacks"] > 10


def test_player_streams_every_sample_to_the_device(tmp_path):
    r = _run_case("player", tmp_path)
    assert r["error"] is None
    assert r["written"] == r["samples_out"] == r["consumed"]  # all of it went through the callback
    assert r["callbacks"] == r["reads"] > 0
    # every under-run the player reports was counted by a callback that started a gap, at most one each
    assert r["underruns"] == r["underruns_logged"] and r["counted_per_gap"], r
    assert r["recorded"] == r["samples_out"] and r["recording_matches"]


def test_unplugged_device_stops_cleanly_and_keeps_the_audio(tmp_path):
    r = _run_case("vanish", tmp_path)
    assert r["error_type"] == "DeviceError"
    assert "audio device stopped" in r["error"]
    assert r["frames_in"] < r["source_frames"]  # it stopped early
    assert 0 < r["recorded"] == r["produced"]  # everything produced before the stop is in the file


def test_microphone_source_on_the_null_device(tmp_path):
    r = _run_case("mic", tmp_path)
    assert r["frames"] >= int(0.3 * 22050 / 256) - 1
    assert r["finite"]


def test_ctrl_c_ends_a_microphone_stream_cleanly(tmp_path):
    r = _run_case("cli_interrupt", tmp_path)
    assert r["rc"] == 0, r["stderr"]
    assert r["seconds"] > 0.1  # the WAV was closed properly and holds the audio


def test_clocked_device_paces_the_fifo_and_counts_a_stall(tmp_path):
    if sys.platform != "linux":
        pytest.skip("the clocked device is PulseAudio's null sink through ALSA: Linux only")
    proc = subprocess.run(
        [
            "bash",
            str(HERE / "alsa" / "clocked_device.sh"),
            sys.executable,
            str(SCRIPT),
            "clocked",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    if proc.returncode == 3:
        pytest.skip("PulseAudio is not installed (.ci/install installs it): no clocked device here")
    assert proc.returncode == 0, proc.stderr[-2000:]
    r = json.loads(proc.stdout.strip().splitlines()[-1])
    if "skip" in r:
        pytest.skip(r["skip"])
    # the bounded FIFO (0.5 s) makes a fast producer wait for the device's clock: writing 2 s of audio
    # takes more than 1.2 s (on the null ALSA device, which has no clock, about 20 ms); load only slows it
    assert r["paced"] > r["seconds"] - 0.8, r
    # a producer stalled for 1 s starves the device (the callbacks played silence) ...
    assert r["stall_reads"] > 0 and r["stall_silence"] > 0, r
    # ... and the ring counted every gap once, at its first callback, whatever the load made of them
    assert r["counted_per_gap"] and r["counted_per_gap_exactly"], r
    assert r["underruns"] == r["underruns_logged"] >= 1, r
    assert r["consumed"] == r["written"] == int(r["seconds"] * 22050) + 11025  # all of it was played

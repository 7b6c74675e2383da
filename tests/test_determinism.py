"""The same input, method and options give bit-identical output on every run (issue 30, determinism).

Each run is a fresh process with a fresh, empty cache folder (PHASEFOLD_CACHE_DIR): nothing measured or
compiled by one run reaches the other. The compiled backend's FFT plans used to be chosen by timing
(FFTW_MEASURE), so two fresh caches could pick different algorithms, which round differently, and a
stream's state carried the difference on; the float WAV's PEAK chunk held the time of writing.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path

import pytest
import soundfile as sf
from phasefold.engine.compiled import available
from phasefold.engine.demo import demo_signal
from phasefold.engine.stft import SAMPLE_RATE

pytestmark = pytest.mark.skipif(not available(), reason="the compiled backend is not installed here")

#: (name, CLI options): offline FGLA, a streamed classical method and a streamed learned model on the
#: compiled backend (FFTW), and the two streams on the reference backends (numpy, onnxruntime)
RUNS = (
    ("fgla", ("--method", "fgla", "--iterations", "30", "--backend", "compiled")),
    ("admm-l2-online", ("--method", "admm-l2", "--online", "-L", "3", "--backend", "compiled")),
    ("untied-online", ("--method", "unfolded-untied", "--online", "-L", "3", "--backend", "compiled")),
    ("admm-l2-online-numpy", ("--method", "admm-l2", "--online", "-L", "3", "--backend", "numpy")),
    (
        "untied-online-onnxruntime",
        ("--method", "unfolded-untied", "--online", "-L", "3", "--backend", "onnxruntime"),
    ),
)


def _outputs(src: Path, folder: Path) -> dict[str, str]:
    """The SHA-256 of each run's float WAV, all made in fresh processes sharing one fresh cache folder."""
    cache = folder / "cache"
    cache.mkdir()
    env = {**os.environ, "PHASEFOLD_CACHE_DIR": str(cache)}
    digests = {}
    for name, options in RUNS:
        out = folder / f"{name}.wav"
        done = subprocess.run(
            [sys.executable, "-m", "phasefold", "reconstruct", str(src), "-o", str(out), "--format", "FLOAT",
             *options],
            capture_output=True, text=True, timeout=600, env=env,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
        digests[name] = hashlib.sha256(out.read_bytes()).hexdigest()
    return digests


def test_two_fresh_caches_give_bit_identical_files(tmp_path):
    src = tmp_path / "speech.wav"
    sf.write(src, demo_signal(2.0), SAMPLE_RATE, subtype="FLOAT")
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    first = _outputs(src, tmp_path / "a")
    second = _outputs(src, tmp_path / "b")
    assert first == second
    assert len(set(first.values())) == len(RUNS)  # different reconstructions, not one file again

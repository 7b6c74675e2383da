"""Shared fixtures: a speech-like excerpt that needs no data, the shared TIMIT sample where present, a
module's ``clip`` as a WAV file."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from phasefold.engine.dataset import shared_data_dir
from phasefold.engine.demo import demo_signal
from phasefold.engine.stft import SAMPLE_RATE


@pytest.fixture(scope="session")
def speech() -> np.ndarray:
    """1.5 s of the built-in speech-like demo (22050 Hz), available everywhere."""
    return demo_signal(1.5)


@pytest.fixture
def wav(tmp_path, clip) -> Path:
    """The requesting module's ``clip`` fixture written as a float WAV at the engine's rate."""
    path = tmp_path / "in.wav"
    sf.write(path, clip, SAMPLE_RATE, subtype="FLOAT")
    return path


@pytest.fixture(scope="session")
def timit_dir() -> Path:
    """The shared TIMIT sample; tests that need it skip where it is absent."""
    root = shared_data_dir()
    if root is None:
        pytest.skip("shared TIMIT sample not found (../shared/data/timit-sample or $PHASEFOLD_DATA)")
    return root


@pytest.fixture
def make_window(qtbot, qapp):
    """make(score_window_s) -> a shown main window on the null output (pytest-qt), closed after the test."""
    from phasefold.gui import theme
    from phasefold.gui.main_window import MainWindow

    made = []

    def make(score_window_s: float):
        theme.apply(qapp)
        window = MainWindow(output="null", score_window_s=score_window_s)
        qtbot.addWidget(window)
        window.show()
        made.append(window)
        return window

    yield make
    for window in made:
        window.close()

"""The window's sources: the demo, an audio or .npz magnitude file, or the microphone, checked and opened
as engine.streaming sources (plus ``warm_up``, which prepares the first one off the GUI thread)."""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
from phasefold.engine.errors import InputError
from phasefold.engine.inputs import is_magnitude_file, load_audio, measure, measure_note
from phasefold.engine.stft import StftConfig
from phasefold.engine.streaming.sources import NpzSource

SOURCE_DEMO, SOURCE_FILE, SOURCE_MIC = "demo", "file", "mic"


_demo_lock = threading.Lock()
_demo_cache: dict[int, np.ndarray] = {}


def demo_audio(sample_rate: int) -> np.ndarray:
    """phasefold.engine.demo's signal, computed once per process (it takes seconds on a busy machine)."""
    with _demo_lock:
        if sample_rate not in _demo_cache:
            from phasefold.engine.demo import demo_signal

            _demo_cache[sample_rate] = demo_signal(sr=sample_rate)
        return _demo_cache[sample_rate]


def warm_up(sample_rate: int) -> None:
    """Prepare off the GUI thread what the first stream needs: the demo signal, onnxruntime, pystoi."""
    demo_audio(sample_rate)
    import onnxruntime  # noqa: F401
    import pystoi  # noqa: F401


def magnitude_file_source(path: Path, cfg: StftConfig) -> NpzSource:
    """A .npz magnitude file as a source; InputError unless its STFT is the window's ``cfg``."""
    source = NpzSource(path)
    c = source.cfg
    if c != cfg:
        raise InputError(
            f"{path}: magnitudes of n_fft {c.n_fft}, hop {c.hop} ({c.sample_rate} Hz, d = {c.power:g}); the "
            f"window streams n_fft {cfg.n_fft}, hop {cfg.hop} ({cfg.sample_rate} Hz, d = {cfg.power:g}) "
            "(`phasefold stream -i FILE` takes it)"
        )
    if source.reference is None:
        source.notes.append("the file holds no reference audio: live STOI cannot score")
    return source


def check_file(path: Path, cfg: StftConfig) -> list[str]:
    """Notes on an audio or .npz magnitude file the window can stream; InputError where it cannot."""
    if is_magnitude_file(path):
        return magnitude_file_source(path, cfg).notes
    return load_audio(path, cfg.sample_rate)[1]


def prepare_source(
    kind: str,
    cfg: StftConfig,
    path: Path | None = None,
    snr_db: float | None = None,
    seed: int = 0,
):
    """An engine.streaming source: the demo, an audio file (exact or modified at ``snr_db``), a .npz
    magnitude file, or the mic."""
    from phasefold.engine.streaming.sources import ArraySource, AudioFileSource, MicSource

    if kind == SOURCE_MIC:
        return MicSource(cfg)
    if kind == SOURCE_FILE:
        if path is None:
            raise InputError("no audio file chosen: use Open… or drop a file on the window")
        if is_magnitude_file(path):
            if snr_db is not None:
                raise InputError(
                    f"{Path(path).name} holds its magnitudes already: noise applies to audio inputs "
                    "(turn off Modify the spectrogram)"
                )
            return magnitude_file_source(path, cfg)
        return AudioFileSource(path, cfg, snr_db=snr_db, seed=seed)
    if kind != SOURCE_DEMO:
        raise InputError(f"unknown source {kind!r}")
    x = demo_audio(cfg.sample_rate)
    source = ArraySource(measure(x, cfg, snr_db, seed), cfg, reference=x, name="built-in demo")
    if snr_db is not None:
        source.notes.append(measure_note(snr_db))
    return source

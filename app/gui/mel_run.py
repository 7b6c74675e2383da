"""A mel input in the window: a .npy mel array (in a preset's own layout and log scale) or audio (the demo,
a file) whose preset mel is computed first, reconstructed offline on a thread by a method that takes a mel
(engine.mel_methods) and shown as the input mel, the output spectrogram and the STOI trace."""

from __future__ import annotations

import threading
import time
import warnings
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
from phasefold.engine.errors import InputError
from phasefold.engine.mel import PRESETS, MelConfig, linear_mel, melspectrogram
from phasefold.engine.mel_inputs import MelInput, read_mel
from phasefold.engine.stft import StftConfig, magnitude
from phasefold.gui.sources import SOURCE_DEMO, SOURCE_FILE, demo_audio

#: the STOI trace of an offline result: one window every this many seconds
TRACE_STEP_S = 0.5
#: the dB range of the mel view below its largest value (its levels follow the mel: presets differ in scale)
MEL_RANGE_DB = 90.0


#: the note on a mel array: what the window cannot do without the audio it came from
NO_REFERENCE = "a mel array holds no reference audio: STOI cannot score"


def load_mel_input(kind: str, path: Path | None, preset: str) -> tuple[MelInput, str]:
    """(the demo, a .npy mel or an audio file read as the ``preset``'s mel, its name): a file as the CLI
    reads it (engine.mel_inputs.read_mel: the same InputError line where it does not fit), the demo's audio
    as an audio file's; a mel array's notes say it holds no reference audio."""
    cfg = PRESETS[preset]
    if kind == SOURCE_DEMO:
        x = demo_audio(cfg.stft.sample_rate)
        mel = melspectrogram(x, cfg)
        return MelInput(mel, linear_mel(mel, cfg), x, None, []), "built-in demo"
    if kind != SOURCE_FILE:
        raise InputError("a mel input is a file (.npy mel or audio) or the demo, not the microphone")
    if path is None:
        raise InputError("no file chosen: use Open… or drop a .npy mel or audio file on the window")
    read = read_mel(path, cfg)
    if read.audio is None:
        read = replace(read, notes=[*read.notes, NO_REFERENCE])
    return read, Path(path).name


def check_mel_file(path: Path, preset: str | None) -> list[str]:
    """Notes on a file the window can read as the mel of ``preset``; InputError, one line, where it cannot
    (a .npy mel with no preset chosen; else engine.mel_inputs.read_mel's line)."""
    if preset is None:
        raise InputError(f"{Path(path).name} is a mel array: choose its preset under mel input first")
    return load_mel_input(SOURCE_FILE, path, preset)[0].notes


def display_stft(cfg: MelConfig) -> StftConfig:
    """The STFT the output is shown at: the mel's sizes and framing with the window's tight sqrt-Hann frame
    (the levels of a linear input's views)."""
    return replace(cfg.stft, window="sqrt-hann", win_length=None, convention="tight")


@dataclass
class MelResult:
    """What the window shows of a mel input's reconstruction."""

    name: str
    preset: str
    method: str
    cfg: MelConfig
    mel_db: np.ndarray  # [F, n_mels]: 10 log10 of the power the mel stands for, (B |X|^p)^(2 / p)
    out_db: np.ndarray  # [F', K]: 20 log10 |A y| at display_stft(cfg)
    signal: np.ndarray
    reference: np.ndarray | None
    seconds: float  # wall-clock time of the reconstruction
    sample_format: str | None = None  # the input file's (engine.inputs.sample_format); None: the demo
    trace: list[tuple[float, float, float]] = field(default_factory=list)  # (t, STOI, ESTOI) of windows
    notes: list[str] = field(default_factory=list)

    @property
    def mel_levels(self) -> tuple[float, float]:
        top = float(np.ceil(np.max(self.mel_db)))
        return top - MEL_RANGE_DB, top


def reconstruct_mel_input(
    kind: str, path: Path | None, preset: str, method: str, window_s: float, backend: str = "auto"
) -> MelResult:
    """Load (``load_mel_input``), reconstruct with ``method`` from the mel (engine.mel_methods.run_mel,
    seed 0, its default iterations) and measure what the window shows; InputError, one line, on bad input."""
    from phasefold.engine.evaluation import estoi, stoi
    from phasefold.engine.mel_methods import run_mel

    cfg = PRESETS[preset]
    read, name = load_mel_input(kind, path, preset)
    target, reference = read.linear, read.audio
    length = reference.size if reference is not None else cfg.n_samples(target.shape[0])
    start = time.perf_counter()
    y = run_mel(method, target, cfg, None, 0, length, backend)
    wall = time.perf_counter() - start
    tiny = np.finfo(np.float64).tiny
    result = MelResult(
        name=name,
        preset=preset,
        method=method,
        cfg=cfg,
        mel_db=(20.0 / cfg.power) * np.log10(np.maximum(target, tiny)),
        out_db=20.0 * np.log10(np.maximum(magnitude(y, display_stft(cfg)), 1e-10)),
        signal=y,
        reference=reference,
        seconds=wall,
        sample_format=read.sample_format,
        notes=read.notes,
    )
    if reference is not None:  # STOI of the last ``window_s`` at every step, as the live view scores
        sr = cfg.stft.sample_rate
        span = min(window_s, reference.size / sr)
        for t in np.arange(span, reference.size / sr + 1e-9, TRACE_STEP_S):
            a, b = int(round((t - span) * sr)), int(round(t * sr))
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # pystoi warns on windows with too few speech frames
                s, e = stoi(reference[a:b], y[a:b], sr), estoi(reference[a:b], y[a:b], sr)
            if s > 1e-4:  # pystoi's 1e-5: no speech frame in the window
                result.trace.append((float(t), s, e))
    return result


class MelRun(threading.Thread):
    """``reconstruct_mel_input`` on a daemon thread: ``result`` or ``error`` is set when ``done``."""

    def __init__(self, *args: object) -> None:
        super().__init__(name="phasefold-mel", daemon=True)
        self._args = args
        self.result: MelResult | None = None
        self.error: Exception | None = None
        self.done = threading.Event()

    def run(self) -> None:
        try:
            self.result = reconstruct_mel_input(*self._args)
        except Exception as exc:  # shown in the window: a PhasefoldError's line, else its type too
            self.error = exc
        finally:
            self.done.set()

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
from phasefold.engine.stft import StftConfig, magnitude
from phasefold.gui.sources import SOURCE_DEMO, SOURCE_FILE, demo_audio

#: the STOI trace of an offline result: one window every this many seconds
TRACE_STEP_S = 0.5
#: the dB range of the mel view below its largest value (its levels follow the mel: presets differ in scale)
MEL_RANGE_DB = 90.0


def is_mel_file(path: Path | None) -> bool:
    """A .npy file: a mel array (the window's other files are audio or .npz magnitudes)."""
    return path is not None and Path(path).suffix.lower() == ".npy"


def load_mel_input(
    kind: str, path: Path | None, preset: str
) -> tuple[np.ndarray, np.ndarray | None, str, list[str]]:
    """(the mel array in the preset's layout and scale, the reference audio or None, a name, notes) of the
    demo, a .npy mel or an audio file; InputError, one line, where it does not fit the preset."""
    from phasefold.engine.inputs import load_audio

    cfg = PRESETS[preset]
    if kind == SOURCE_DEMO:
        x = demo_audio(cfg.stft.sample_rate)
        return melspectrogram(x, cfg), x, "built-in demo", []
    if kind != SOURCE_FILE:
        raise InputError("a mel input is a file (.npy mel or audio) or the demo, not the microphone")
    if path is None:
        raise InputError("no file chosen: use Open… or drop a .npy mel or audio file on the window")
    if is_mel_file(path):
        try:
            mel = np.load(path, allow_pickle=False)
        except (OSError, ValueError) as exc:
            raise InputError(f"cannot read {Path(path).name} as a .npy array: {exc}") from None
        linear_mel(mel, cfg, Path(path).name)  # the one line where it does not fit
        if np.ndim(mel) != 2:
            name = Path(path).name
            raise InputError(f"{name} holds {np.ndim(mel)} axes; give one mel spectrogram (2 axes)")
        return mel, None, Path(path).name, ["a mel array holds no reference audio: STOI cannot score"]
    x, notes = load_audio(path, cfg.stft.sample_rate)
    return melspectrogram(x, cfg), x, Path(path).name, notes


def mel_sample_format(kind: str, path: Path | None) -> str | None:
    """The sample format a saved reconstruction follows (engine.outputs.output_subtype): an audio file's
    own, 'FLOAT' for a .npy mel (an array, as `phasefold reconstruct mel.npy` writes), None for the demo."""
    from phasefold.engine.inputs import sample_format

    if kind != SOURCE_FILE or path is None:
        return None
    return "FLOAT" if is_mel_file(path) else sample_format(path)


def check_mel_file(path: Path, preset: str | None) -> list[str]:
    """Notes on a file the window can read as the mel of ``preset``; InputError, one line, where it cannot
    (a .npy mel with no preset chosen, an array that does not fit the preset, unreadable audio)."""
    if preset is None:
        raise InputError(f"{Path(path).name} is a mel array: choose its preset under mel input first")
    return load_mel_input(SOURCE_FILE, path, preset)[3]


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
    mel, reference, name, notes = load_mel_input(kind, path, preset)
    target = linear_mel(mel, cfg, name)
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
        sample_format=mel_sample_format(kind, path),
        notes=notes,
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

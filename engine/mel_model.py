"""A learned mel model run offline: audio from a mel through an exported mel model (its card has a ``mel``
section; training.mel_unfolded, ``unfolded-mel-untied``).

The model's window step takes the whole mel as one window: the inner signal of the F frames (the signal the
preset frames after its outside padding; every sample free), started as engine.mel_gla starts (unit
magnitudes with the seeded random phases through the mel step) by least squares with the model's coverage
floor, as the network was trained; the output is the inner signal with the padding cut.

Level (engine.level): the model is not scale-equivariant, so the linear mel is brought to the level the
model was trained at: scaled by g^p, g = the card's reference (``ModelCard.mel_reference_level``) / the
mel's largest frame level, and the output divided by g. A log mel shifted by a constant gives the same
audio scaled (to float64 rounding; bit for bit where the shift is a power of two in level, as the levels,
g and the products then differ by powers of two only). Unlike the linear models' power-of-two shift
(engine.level.shift), the gain is the exact ratio: offline the whole mel is known, and a power-of-two
step left the model at levels up to a factor sqrt(2) apart, which changed its PESQ by up to 0.14 at -40 dB.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from phasefold.engine.algorithms import random_phases
from phasefold.engine.errors import InputError, ModelError
from phasefold.engine.level import frame_levels
from phasefold.engine.mel_gla import MelStep, _cropped
from phasefold.engine.onnx_model import cached_model
from phasefold.engine.stft import coverage, synthesize
from phasefold.exported_models import MEL_MODELS_DIR


def mel_model_names() -> list[str]:
    """The shipped mel models' names (exported_models/mel/NAME.onnx with a card)."""
    if not MEL_MODELS_DIR.is_dir():
        return []
    return sorted(p.stem for p in MEL_MODELS_DIR.glob("*.onnx") if p.with_suffix(".json").is_file())


def mel_model_path(model: str | Path) -> Path:
    """The file of a mel model: a shipped one by name, or a path to NAME.onnx; InputError otherwise."""
    path = Path(model)
    if path.suffix == ".onnx":
        return path
    if str(model) in mel_model_names():
        return MEL_MODELS_DIR / f"{model}.onnx"
    raise InputError(f"{model!r} is not a mel model: choose one of {', '.join(mel_model_names()) or 'none'}")


def mel_model_audio(
    mel: np.ndarray,
    model: str | Path,
    seed: int = 0,
    length: int | None = None,
    passes: int = 1,
    level: bool = True,
) -> np.ndarray:
    """A signal (float64, ``length`` samples, default the mel's ``n_samples``) whose mel is ``mel`` (linear
    values B |X|^p [F, n_mels] of the model's mel configuration, engine.mel.linear_mel), by the offline mel
    model ``model`` (a shipped one's name or a path, ``mel_model_path``) run ``passes`` times from the
    seeded start; ``level``: at the model's training level (module docstring), else at the mel's own (the
    network as trained, for checking it against its PyTorch twin)."""
    net = cached_model(mel_model_path(model))
    cfg = net.card.mel_config
    if cfg is None:
        raise ModelError(f"{net.name}: not a mel model (its card has no mel section); it takes magnitudes")
    if net.window_frames is not None:
        raise ModelError(f"{net.name}: a stream mel model (W = {net.window_frames}); run it in a stream")
    mel = np.asarray(mel, dtype=np.float64)
    if mel.ndim != 2 or mel.shape[1] != cfg.n_mels or mel.shape[0] < 1:
        raise InputError(f"{net.name}: the mel must be [frames, {cfg.n_mels}], not {list(mel.shape)}")
    if passes < 1:
        raise InputError(f"{net.name}: model passes must be at least 1, not {passes}")
    gain = _level_gain(mel, cfg.power, net.card.mel_reference_level) if level else 1.0
    mel = mel * gain**cfg.power
    stft, n_frames = cfg.stft, mel.shape[0]
    start = MelStep(mel, cfg)(np.exp(1j * random_phases(seed, 0, (n_frames, stft.n_bins))))
    floor = float(net.card.coverage_eps)
    x = (synthesize(start, stft) / np.maximum(coverage(n_frames, stft), floor)).astype(np.float32)
    fixed = np.zeros_like(x)
    lam = np.zeros((2, n_frames, stft.n_bins), dtype=np.float32)
    measured = mel.astype(np.float32)
    for _ in range(passes):
        x, lam = net.step(measured, x, fixed, lam)
    out = _cropped(x.astype(np.float64), cfg, n_frames, length) / gain
    if not np.all(np.isfinite(out)):
        raise InputError(f"{net.name}: the mel's level is beyond what a float64 output holds; scale it down")
    return out


def _level_gain(mel: np.ndarray, power: float, reference: float) -> float:
    """g = reference / the mel's largest frame level (engine.level.frame_levels of the amplitudes); 1 for
    silence, or where g is not a finite number."""
    top = float(frame_levels(mel, power).max(initial=0.0))
    gain = reference / top if top > 0.0 else 1.0
    return gain if 0.0 < gain < float("inf") else 1.0

"""Training for mel measurements: offline (``MelTrainConfig``) and streamed (``MelStreamTrainConfig``).

The data are the linear training data's excerpts, measured as the preset measures them: the preset's mel
of the excerpt (engine.mel.melspectrogram, log and floor included) read back to linear values
(engine.mel.linear_mel), as the engine reads a mel array. An excerpt lasts the whole frames of its mel
(``MelConfig.n_samples``), so that the network's output has the excerpt's length. Validation: the whole
validation utterances, file i from the evaluation protocol's phase seed i, as for the linear networks. The
loss is the linear one with its spectral terms against the clean excerpt's magnitude (the measurement is a
mel; the linear magnitude is what the mel was made from).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import torch
from phasefold.engine.algorithms import random_phases
from phasefold.engine.errors import InputError
from phasefold.engine.level import MEL_REFERENCE_LEVEL
from phasefold.engine.mel import PRESETS, MelConfig, linear_mel, melspectrogram
from phasefold.engine.model_card import ModelCard
from phasefold.engine.stft import StftConfig
from phasefold.training.config import TrainConfig
from phasefold.training.data import DataConfig, ExcerptSampler
from phasefold.training.loss import batch_loss
from phasefold.training.mel_unfolded import MEL_BREAKS, MelStreamUnfolded, MelUnfoldedADMM
from phasefold.training.stream_train import StreamTrainConfig
from phasefold.training.stream_unfolded import StreamNetConfig
from phasefold.training.unfolded import COV_EPS, NetConfig


def mel_preset(name: str) -> MelConfig:
    """A mel preset by name (engine.mel.PRESETS); one InputError line for another name."""
    if name not in PRESETS:
        raise InputError(f"mel preset {name!r} is not one of {', '.join(PRESETS)}")
    return PRESETS[name]


def mel_of(x: np.ndarray, cfg: MelConfig) -> np.ndarray:
    """The linear mel [F, n_mels] the engine reads from the preset's array of signal ``x``."""
    return linear_mel(melspectrogram(x, cfg), cfg)


class MelExcerptSampler(ExcerptSampler):
    """Seeded random excerpts of whole mel frames, measured by a mel preset."""

    def __init__(self, signals: list[np.ndarray], mel: MelConfig, cfg: DataConfig, seed: int) -> None:
        if cfg.condition != "exact":
            raise InputError("mel training takes exact measurements (the mel of the clean excerpt)")
        super().__init__(signals, mel.stft, cfg, seed)
        self.mel = mel
        frames = max(1, round((self.length + 2 * mel.pad - mel.stft.n_fft) / mel.stft.hop) + 1)
        self.length = mel.n_samples(frames)

    def batch(self, size: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(clean [B, M], linear mels [B, F, n_mels], start phase [B, F, K]) float32."""
        clean, mels = [], []
        for _ in range(size):
            x = self.excerpt()
            while not np.any(x):
                x = self.excerpt()
            clean.append(x)
            mels.append(mel_of(x, self.mel))
        mel = np.stack(mels)
        phase = self.rng.uniform(-np.pi, np.pi, size=(*mel.shape[:-1], self.stft_cfg.n_bins))
        f32 = torch.float32
        return (
            torch.tensor(np.stack(clean), dtype=f32),
            torch.tensor(mel, dtype=f32),
            torch.tensor(phase, dtype=f32),
        )


def mel_validation_set(signals: list[np.ndarray], mel: MelConfig) -> list[tuple]:
    """(clean, linear mel, start phase) of whole utterances: file i with the protocol's phase seed i (seed
    0 + i, engine.evaluation), as engine.mel_gla draws its start."""
    out = []
    for i, x in enumerate(signals):
        m = mel_of(x, mel)
        out.append((x, m, random_phases(i, 0, (m.shape[0], mel.stft.n_bins))))
    return out


class _MelRun:
    """What an offline and a stream mel run share: the preset ``mel``'s configuration and STFT, and its
    mel data (the excerpts and the validation set measured as the engine reads the preset's array)."""

    @property
    def mel_cfg(self) -> MelConfig:
        return mel_preset(self.mel)

    def _take_preset_stft(self) -> None:
        cfg = self.mel_cfg.stft
        self.hop, self.n_fft, self.sample_rate = cfg.hop, cfg.n_fft, cfg.sample_rate

    def sampler(self, signals: list[np.ndarray], stft_cfg: StftConfig, seed: int) -> MelExcerptSampler:
        return MelExcerptSampler(signals, self.mel_cfg, self.data, seed)

    def validation(self, signals: list[np.ndarray], stft_cfg: StftConfig) -> list[tuple]:
        return mel_validation_set(signals, self.mel_cfg)


@dataclass
class MelTrainConfig(_MelRun, TrainConfig):
    """An offline run for mel measurements (``TrainConfig`` with the preset ``mel``); the STFT is the
    preset's, and the spectral terms of the loss are against the clean excerpt."""

    mode = "offline-mel"
    mel: str = "hifigan"

    def __post_init__(self) -> None:
        self._take_preset_stft()

    def net_config(self) -> NetConfig:
        return NetConfig(
            variant=self.variant,
            layers=self.layers,
            pieces=self.pieces,
            rho=self.rho,
            stft=self.mel_cfg.stft.to_dict(),
            breaks_init=MEL_BREAKS,
            rho_end=self.rho_end,
            anchored=self.anchored,
        )

    def network(self, start: bool) -> MelUnfoldedADMM:
        if self.init:
            raise InputError("a mel run starts from the mel-ADMM-l2 network (no --init)")
        return MelUnfoldedADMM(self.net_config(), self.mel_cfg)

    def loss(self, net, clean, mag, phase, runner=None) -> tuple[torch.Tensor, dict]:
        return batch_loss(
            net,
            clean,
            mag,
            phase,
            self.sc_weight,
            runner=runner,
            logmag_weight=self.logmag_weight,
            spectral_target="clean",
            pesq_weight=self.pesq_weight,
        )

    def start_label(self) -> str:
        return f"untrained = mel-ADMM-l2 ({self.mel})"


@dataclass
class MelStreamTrainConfig(_MelRun, StreamTrainConfig):
    """A streaming run for mel measurements (``StreamTrainConfig`` with the preset ``mel``): the preset's
    STFT, the mel data of ``MelTrainConfig``, the spectral terms against the clean excerpt."""

    mode = "stream-mel"
    cov_eps: float = COV_EPS  # the Hann window's coverage vanishes at a window's ends: bounded gain there
    mel: str = "hifigan"
    #: the stream runs through the engine's causal level normaliser (stream_unfolded.stream_reconstruct's
    #: ``level``: the mel at MEL_REFERENCE_LEVEL by powers of two), as the engine streams a mel model
    normalise: bool = True

    def __post_init__(self) -> None:
        super().__post_init__()
        self._take_preset_stft()
        if self.form != "admm" or self.perturb or self.consistency:
            raise InputError("a mel stream run trains the ADMM form (no --form, --perturb or --consistency)")
        if self.init:
            self._check_start(self.init)

    def net_config(self) -> StreamNetConfig:
        return replace(super().net_config(), stft=self.mel_cfg.stft.to_dict())

    def _check_start(self, path: str) -> None:
        """An ``init`` must be a stream model of this run's preset and look-ahead (a fine-tuning): one
        InputError line for an offline model, a model of magnitudes or another preset."""
        card = ModelCard.read(path)  # ModelError for a missing or malformed card
        if card.mel_config != self.mel_cfg or card.streaming is None:
            raise InputError(
                f"--init {path}: a mel stream run fine-tunes a stream model of the {self.mel!r} mel "
                "(exported_models/mel/unfolded-mel-stream-l*)"
            )

    def bare_network(self) -> MelStreamUnfolded:
        net = MelStreamUnfolded(self.net_config(), self.mel_cfg)
        if self.normalise:
            net.level = (MEL_REFERENCE_LEVEL, self.mel_cfg.power)
        return net

    def loss(self, net, clean, mag, phase, runner=None) -> tuple[torch.Tensor, dict]:
        est = net.reconstruct(mag, clean.shape[-1], phase, runner=runner)
        return batch_loss(
            net,
            clean,
            mag,
            phase,
            self.sc_weight,
            pesq_weight=self.pesq_weight,
            spectral_target="clean",
            est=est,
        )

    def start_label(self) -> str:
        if self.init:
            return f"the start, {Path(self.init).stem} streamed"
        return f"untrained = streaming mel-ADMM-l2 ({self.mel})"

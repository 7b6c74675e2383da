"""A run's configuration: what it trains, on what data, with which recipe (written to config.json).

``RunConfig`` is what the training loop (``training.train.train``) needs of any kind of network: its
configuration, the network, the batch loss, the label of epoch 0 and the entries recorded with it.
``TrainConfig`` is the offline kind (``phasefold train``); the streaming kind is
``training.stream_train.StreamTrainConfig`` (``phasefold train-stream``).
"""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import ClassVar

import numpy as np
import torch
from phasefold.engine.stft import HOP, N_FFT, SAMPLE_RATE, StftConfig
from phasefold.training.data import DataConfig, ExcerptSampler, validation_set
from phasefold.training.init_model import init_provenance, start_from_model
from phasefold.training.loss import batch_loss
from phasefold.training.unfolded import NetConfig, UnfoldedADMM


class RunConfig(ABC):
    """A run's configuration (config.json) and what the training loop needs of its kind of network.

    Every checkpoint of ``train`` (best.pt, epoch-NN.pt, last.pt) holds mode, config, net (the network's
    configuration), data_description, device, threads and the kind's ``record``, with the network's state
    (model), its epoch, its validation (val), the untrained network's (val_init) and the seconds trained;
    last.pt adds the optimizer, scheduler, sampler (one state per rank) and torch_rng states, the best
    score and the history."""

    mode: ClassVar[str]  # written into every checkpoint
    command: ClassVar[str]  # the command that trains this kind
    distributed: ClassVar[bool]  # DDP under torchrun and a GPU when present, or one CPU process

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict):
        d = dict(d)
        d["data"] = DataConfig(**d.get("data", {}))
        return cls(**d)

    @abstractmethod
    def net_config(self):
        """The network's configuration."""

    @abstractmethod
    def network(self, start: bool) -> UnfoldedADMM:
        """The network to train (``start``: a new run, not a resumed or restored one)."""

    @abstractmethod
    def loss(self, net: UnfoldedADMM, clean, mag, phase, runner=None) -> tuple[torch.Tensor, dict]:
        """The batch loss and its parts (``runner``: what runs the layers, e.g. a DDP wrapper)."""

    @abstractmethod
    def start_label(self) -> str:
        """What the untrained network (epoch 0) is."""

    def sampler(self, signals: list[np.ndarray], stft_cfg: StftConfig, seed: int) -> ExcerptSampler:
        """The training excerpts' sampler (linear measurements under the data condition)."""
        return ExcerptSampler(signals, stft_cfg, self.data, seed)

    def validation(self, signals: list[np.ndarray], stft_cfg: StftConfig) -> list:
        """The fixed validation triples (clean, measurements, start phase) of the validation signals."""
        return validation_set(signals, stft_cfg, self.data)

    def record(self, out: Path, resume: bool) -> dict:
        """Entries for config.json and the checkpoints: the start model (``init``) where there is one,
        recorded at the start (a resumed run keeps it even if the file has changed)."""
        init = getattr(self, "init", None)
        if not init:
            return {}
        first = out / "config.json"
        if resume and first.is_file():
            return {"init_model": json.loads(first.read_text()).get("init_model")}
        return {"init_model": init_provenance(init)}


@dataclass
class TrainConfig(RunConfig):
    """Everything an offline run depends on (written to config.json)."""

    mode: ClassVar[str] = "offline"
    command: ClassVar[str] = "phasefold train"
    distributed: ClassVar[bool] = True

    variant: str = "tied"
    layers: int = 15
    pieces: int = 3
    hop: int = HOP
    n_fft: int = N_FFT
    sample_rate: int = SAMPLE_RATE  # the training audio is read at this rate
    rho: float = 0.1
    rho_end: float | None = None  # untied: learned penalty schedule, geometric from rho to rho_end at start
    data: DataConfig = field(default_factory=DataConfig)
    epochs: int = 10
    steps_per_epoch: int = 30
    batch: int = 4
    lr: float = 3e-3
    warmup: int = 25  # linear learning-rate warm-up steps, then cosine decay to lr / 10
    clip: float = 1.0  # gradient-norm clipping
    sc_weight: float = 1.0  # loss = -STOI + sc_weight * log10(spectral convergence)
    logmag_weight: float = 0.0  # + logmag_weight * mean |log magnitude error| (bins floored at -60 dB)
    pesq_weight: float = 0.0  # + pesq_weight * PESQ surrogate disturbance (phasefold.training.pesq_loss)
    spectral_target: str = "given"  # SC and log-magnitude terms against the given or the clean magnitude
    anchored: bool = False  # prox with b = 2, g2 = 1 - g1 (phasefold.training.unfolded)
    init: str | None = None  # start from an exported model's parameters (NAME.onnx, its card beside)
    seed: int = 0

    def net_config(self) -> NetConfig:
        stft = StftConfig(n_fft=self.n_fft, hop=self.hop, sample_rate=self.sample_rate).to_dict()
        return NetConfig(
            variant=self.variant,
            layers=self.layers,
            pieces=self.pieces,
            rho=self.rho,
            stft=stft,
            rho_end=self.rho_end,
            anchored=self.anchored,
        )

    def network(self, start: bool) -> UnfoldedADMM:
        net = UnfoldedADMM(self.net_config())
        if start and self.init:
            start_from_model(net, self.init)
        return net

    def loss(self, net: UnfoldedADMM, clean, mag, phase, runner=None) -> tuple[torch.Tensor, dict]:
        return batch_loss(
            net,
            clean,
            mag,
            phase,
            self.sc_weight,
            runner=runner,
            logmag_weight=self.logmag_weight,
            spectral_target=self.spectral_target,
            pesq_weight=self.pesq_weight,
        )

    def start_label(self) -> str:
        return f"the start, {Path(self.init).stem}" if self.init else "untrained = ADMM-l2"

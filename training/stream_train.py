"""Training of streaming models: the loss is taken on the signal the engine's stream would emit.

``StreamTrainConfig`` is the streaming kind of ``training.config.RunConfig``, trained by the one loop
``training.train.train``: each batch runs ``training.stream_unfolded.stream_reconstruct`` (the engine's
window loop, committed samples fixed, new frames started by phase advance) over 2-s excerpts and scores the
joined output with ``training.loss.batch_loss`` (-STOI + w log10 SC). Validation streams the whole
validation utterances the same way; the untrained network (= the engine's streaming ADMM-l2 with T
iterations per step) is epoch 0 and a candidate for best.pt. The run folder is the offline trainer's.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar

import torch
from phasefold.engine.admm import COVERAGE_EPS
from phasefold.engine.errors import InputError
from phasefold.engine.model_card import ModelCard
from phasefold.engine.stft import HOP, N_FFT, SAMPLE_RATE, StftConfig
from phasefold.training.config import RunConfig
from phasefold.training.data import DataConfig
from phasefold.training.loss import batch_loss
from phasefold.training.stream_unfolded import StreamNetConfig, StreamUnfolded
from phasefold.training.unfolded import card_net_config


@dataclass
class StreamTrainConfig(RunConfig):
    """Everything a streaming run depends on (written to config.json)."""

    mode: ClassVar[str] = "stream"
    command: ClassVar[str] = "phasefold train-stream"
    distributed: ClassVar[bool] = False

    lookahead: int = 1
    layers: int = 3
    pieces: int = 3
    position: bool = True
    fixed_b: bool = False  # b = 2 frozen (training.unfolded.NetConfig.fixed_b)
    hop: int = HOP
    n_fft: int = N_FFT
    sample_rate: int = SAMPLE_RATE  # the training audio is read at this rate
    rho: float = 0.1
    data: DataConfig = field(default_factory=DataConfig)
    epochs: int = 3
    steps_per_epoch: int = 12
    batch: int = 2
    lr: float = 5e-3
    warmup: int = 10
    clip: float = 1.0
    sc_weight: float = 0.2
    pesq_weight: float = 0.0  # + pesq_weight * PESQ surrogate disturbance (phasefold.training.pesq_loss)
    truncate: int = 4  # truncated back-propagation through the stream, in frames (full length explodes)
    rho_end: float | None = None  # a learned penalty per layer (from an --init model's schedule)
    cov_eps: float = COVERAGE_EPS  # coverage floor of the synthesis (an --init model's own)
    init: str | None = None  # start every window position from an offline model (NAME.onnx, card beside)
    form: str = "admm"  # "gla": unfolded fast Griffin-Lim layers (training.stream_unfolded)
    seed: int = 0

    def net_config(self) -> StreamNetConfig:
        return StreamNetConfig(
            lookahead=self.lookahead,
            layers=self.layers,
            pieces=self.pieces,
            rho=self.rho,
            position=self.position,
            fixed_b=self.fixed_b,
            rho_end=self.rho_end,
            cov_eps=self.cov_eps,
            form=self.form,
            stft=StftConfig(n_fft=self.n_fft, hop=self.hop, sample_rate=self.sample_rate).to_dict(),
        )

    def network(self, start: bool) -> StreamUnfolded:
        net = StreamUnfolded(self.net_config())
        net.truncate = self.truncate
        if start and self.init:
            net.start_from(ModelCard.read(self.init).parameters)
        return net

    def loss(self, net: StreamUnfolded, clean, mag, phase, runner=None) -> tuple[torch.Tensor, dict]:
        return batch_loss(net, clean, mag, phase, self.sc_weight, runner=runner, pesq_weight=self.pesq_weight)

    def start_label(self) -> str:
        if self.init:
            return f"the start, {Path(self.init).stem} streamed"
        return "untrained = streaming FGLA" if self.form == "gla" else "untrained = streaming ADMM-l2"


def settings_of_start(model_path: str | Path) -> dict:
    """What a stream run takes from the offline model it starts from (``--init``): layers, pieces, penalty
    (and schedule), coverage floor and hop, so that epoch 0 is that model streamed by the engine."""
    card = ModelCard.read(model_path)  # ModelError for a missing or malformed card
    if card.streaming is not None:
        raise InputError(f"--init {model_path}: already a streaming model; start from an offline one")
    arch = card_net_config(card)
    return {
        "layers": arch.layers,
        "pieces": arch.pieces,
        "rho": arch.rho,
        "rho_end": arch.rho_end,
        "cov_eps": float(card.coverage_eps),
        "hop": card.stft.hop,  # the STFT the model runs at, which the stream will use
        "n_fft": card.stft.n_fft,
        "sample_rate": card.stft.sample_rate,
    }

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
    init: str | None = None  # start from an offline model (every window position) or a stream model
    form: str = "admm"  # "gla": unfolded fast Griffin-Lim layers (training.stream_unfolded)
    perturb: float = 0.0  # training magnitudes multiplied by (1 + perturb n), n standard normal
    consistency: float = 0.0  # + w x log10 of the shadow's relative distance (stream_reconstruct's probe)
    probe: float = 1e-3  # the shadow's relative change of the carried signal at each truncation point
    seed: int = 0

    def __post_init__(self) -> None:
        if self.perturb < 0 or self.consistency < 0 or self.probe <= 0:
            raise ValueError("perturb and consistency must be >= 0, probe > 0")

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
        net = self.bare_network()
        net.truncate = self.truncate
        if start and self.init:
            net.start_from(ModelCard.read(self.init).parameters)
        return net

    def bare_network(self) -> StreamUnfolded:
        """The run's network at its start parameters, before the trainer's settings and an ``init``."""
        return StreamUnfolded(self.net_config())

    def loss(self, net: StreamUnfolded, clean, mag, phase, runner=None) -> tuple[torch.Tensor, dict]:
        """batch_loss on the stream of the magnitudes (times (1 + perturb n) with ``perturb``), the spectral
        terms against the given ones; with ``consistency``, the stream runs with its shadow
        (``stream_unfolded.stream_reconstruct``'s probe) and the loss adds consistency x log10 of the
        shadow's mean ||y_shadow - y||^2 / (probe^2 ||y||^2): how much the stream amplifies a change of its
        state within ``truncate`` frames."""
        if self.perturb == 0 and self.consistency == 0:
            return batch_loss(
                net, clean, mag, phase, self.sc_weight, runner=runner, pesq_weight=self.pesq_weight
            )
        given = self.perturbed(mag) if self.perturb > 0 else mag
        if self.consistency == 0:
            est = net.reconstruct(given, clean.shape[-1], phase, runner=runner)
        else:
            pair = torch.cat([given, given])
            both = net.reconstruct(pair, clean.shape[-1], runner=runner, probe=self.probe)
            est, shadow = both.chunk(2)
        loss, parts = batch_loss(
            net, clean, mag, phase, self.sc_weight, pesq_weight=self.pesq_weight, est=est
        )
        if self.consistency > 0:
            gain = (shadow - est).square().sum(-1) / (self.probe**2 * est.square().sum(-1).clamp_min(1e-12))
            loss = loss + self.consistency * torch.log10(gain.mean().clamp_min(1e-12))
            parts["gain_db"] = float(10 * torch.log10(gain.detach().mean().clamp_min(1e-12)))
        return loss, parts

    def perturbed(self, mag: torch.Tensor) -> torch.Tensor:
        """The magnitudes times (1 + perturb n), n standard normal (torch's generator: seeded, resumed)."""
        return mag * (1.0 + self.perturb * torch.randn_like(mag))

    def start_label(self) -> str:
        if self.init:
            return f"the start, {Path(self.init).stem} streamed"
        return "untrained = streaming FGLA" if self.form == "gla" else "untrained = streaming ADMM-l2"


def settings_of_start(model_path: str | Path, lookahead: int) -> dict:
    """What a stream run takes from the model it starts from (``--init``): layers, pieces, penalty (and
    schedule), coverage floor and STFT (hop, n_fft, sample rate), so that epoch 0 is that model streamed by
    the engine; from a stream model (a fine-tuning: its look-ahead must be ``lookahead``) also its form,
    position dependence and b."""
    card = ModelCard.read(model_path)  # ModelError for a missing or malformed card
    arch = card_net_config(card)
    taken = {
        "layers": arch.layers,
        "pieces": arch.pieces,
        "rho": arch.rho,
        "rho_end": arch.rho_end,
        "cov_eps": float(card.coverage_eps),
        "hop": card.stft.hop,  # the STFT the model runs at, which the stream will use
        "n_fft": card.stft.n_fft,
        "sample_rate": card.stft.sample_rate,
    }
    if card.streaming is None:
        return taken
    if card.streaming.lookahead != lookahead or card.streaming.block != 1:
        raise InputError(
            f"--init {model_path}: a stream model for L = {card.streaming.lookahead}, block "
            f"{card.streaming.block}; fine-tune it at L = {card.streaming.lookahead} (block 1)"
        )
    return {
        **taken,
        "position": bool(card.streaming.position_dependent),
        "fixed_b": all(float(b) == 2.0 for b in card.parameters["b"]),
        "form": "gla" if card.gla else "admm",
    }

"""Training of streaming models: the loss is taken on the signal the engine's stream would emit.

Each batch runs ``training.stream_unfolded.stream_reconstruct`` (the engine's window loop, committed samples
fixed, new frames started by phase advance) over 2-s excerpts and scores the joined output with
``training.train.batch_loss`` (-STOI + w log10 SC). Validation streams the whole validation utterances the
same way and scores them with engine.metrics (``training.train.validate``); the untrained network
(= the engine's streaming ADMM-l2 with T iterations per step) is epoch 0 and a candidate for best.pt.

Run folder: config.json, best.pt, last.pt (resume), history.json, curve.png, summary.json.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path

import torch
from phasefold.engine.errors import InputError
from phasefold.engine.stft import StftConfig
from phasefold.training.data import DataConfig, ExcerptSampler, load_signals, split_paths, validation_set
from phasefold.training.stream_unfolded import StreamNetConfig, StreamUnfolded
from phasefold.training.train import (
    RunConfig,
    _lr_factor,
    batch_loss,
    guarded_step,
    report_epoch,
    restore,
    run_checkpoint,
    save_epoch,
    validate,
)


@dataclass
class StreamTrainConfig(RunConfig):
    """Everything a streaming run depends on (written to config.json)."""

    lookahead: int = 1
    layers: int = 3
    pieces: int = 3
    position: bool = True
    hop: int = 256
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
    seed: int = 0

    def net_config(self) -> StreamNetConfig:
        return StreamNetConfig(
            lookahead=self.lookahead,
            layers=self.layers,
            pieces=self.pieces,
            rho=self.rho,
            position=self.position,
            stft=StftConfig(hop=self.hop).to_dict(),
        )


def load_stream_checkpoint(path: str | Path) -> tuple[StreamUnfolded, dict]:
    """Rebuild a streaming network from best.pt / last.pt (or a run folder: its best.pt)."""
    path = Path(path)
    if path.is_dir():
        path = path / "best.pt"
    if not path.is_file():
        raise InputError(f"{path}: no checkpoint (is this a streaming training run folder?)")
    ck = torch.load(path, map_location="cpu", weights_only=False)
    if "stream_net" not in ck:
        raise InputError(f"{path}: not a streaming checkpoint (train it with `phasefold train-stream`)")
    net = StreamUnfolded(StreamNetConfig(**ck["stream_net"]))
    net.load_state_dict(ck["model"])
    return net, ck


def train_stream(
    cfg: StreamTrainConfig, out: str | Path, resume: bool = False, progress: bool = True
) -> dict:
    """Train (or resume) a streaming run in folder ``out``; returns the summary written to summary.json."""
    from tqdm import tqdm

    out = Path(out)
    last = run_checkpoint(out, resume)
    state = None
    if resume:
        state = torch.load(last, map_location="cpu", weights_only=False)
        cfg = StreamTrainConfig.from_dict(state["config"])
    torch.manual_seed(cfg.seed)
    device = torch.device("cpu")
    net = StreamUnfolded(cfg.net_config())
    net.truncate = cfg.truncate
    opt = torch.optim.Adam(net.parameters(), lr=cfg.lr)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: _lr_factor(s, cfg))
    stft_cfg = net.stft_cfg
    sampler = ExcerptSampler(load_signals(split_paths(cfg.data, "train")), stft_cfg, cfg.data, cfg.seed)
    val = validation_set(load_signals(split_paths(cfg.data, "validation")), stft_cfg, cfg.data)
    history: dict = {"loss": [], "val": []}
    start_epoch, elapsed, best = 0, 0.0, None
    if state is not None:
        start_epoch, elapsed, best, history = restore(
            state, net, opt, sched, lambda: sampler.set_state(state["sampler"])
        )
    out.mkdir(parents=True, exist_ok=True)
    info = {
        "config": cfg.to_dict(),
        "stream_net": cfg.net_config().to_dict(),
        "data_description": cfg.data.describe(),
        "device": "cpu",
        "threads": torch.get_num_threads(),
    }
    (out / "config.json").write_text(json.dumps(info, indent=1))

    def save_best(epoch: int, metrics: dict) -> None:
        torch.save(
            {
                **info,
                "model": net.state_dict(),
                "epoch": epoch,
                "val": metrics,
                "val_init": history["val"][0],
                "seconds": elapsed,
            },
            out / "best.pt",
        )

    def report(epoch: int, metrics: dict, mark: str = "") -> None:
        if progress:
            report_epoch(f"epoch {epoch}", metrics, mark)

    t0 = time.time() - elapsed
    if start_epoch == 0:
        metrics = validate(net, val, device)
        history["val"].append({"epoch": 0, **metrics})
        best = metrics["score"]
        save_best(0, metrics)
        report(0, metrics, "  (untrained = streaming ADMM-l2)")
    for epoch in range(start_epoch + 1, cfg.epochs + 1):
        bar = tqdm(
            range(cfg.steps_per_epoch),
            desc=f"epoch {epoch}/{cfg.epochs}",
            disable=not progress,
            dynamic_ncols=True,
            mininterval=5.0,
        )
        running = None
        for _ in bar:
            clean, mag, phase = sampler.batch(cfg.batch)
            loss, parts = batch_loss(net, clean, mag, phase, cfg.sc_weight, pesq_weight=cfg.pesq_weight)
            if not guarded_step(net, opt, sched, loss, cfg.clip):
                history.setdefault("skipped", []).append(len(history["loss"]))
                continue  # a non-finite batch never reaches the parameters
            value = float(loss.detach())
            history["loss"].append(value)
            running = value if running is None else 0.9 * running + 0.1 * value
            bar.set_postfix(loss=f"{running:.4f}", stoi=f"{parts['stoi']:.4f}", sc=f"{parts['sc_db']:.1f}dB")
        elapsed = time.time() - t0
        metrics = validate(net, val, device)
        history["val"].append({"epoch": epoch, **metrics})
        improved = metrics["score"] > best
        if improved:
            best = metrics["score"]
            save_best(epoch, metrics)
        report(epoch, metrics, "  (best)" if improved else "")
        save_epoch(last, cfg, net, opt, sched, sampler.state(), epoch, elapsed, best, history)
    summary = {"seconds": round(time.time() - t0, 1), "best_score": best, "validation": history["val"]}
    (out / "summary.json").write_text(json.dumps(summary, indent=1))
    return summary

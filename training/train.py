"""The one training loop of the unfolded networks: Adam, loss -STOI (+ terms), validation-based selection.

``train(cfg, out)`` runs for any ``RunConfig``: ``training.config.TrainConfig`` (offline networks, ``phasefold
train``) or ``training.stream_train.StreamTrainConfig`` (networks trained inside the streaming loop,
``phasefold train-stream``); the configuration builds the network and gives the batch loss. Run folder, the
same for both: config.json (the resolved configuration), best.pt (best validation score, the untrained
network included as a candidate, so the selected model is never worse than its start on validation),
epoch-NN.pt (every epoch's network, for a selection of one's own), last.pt (epoch-NN.pt plus everything
needed to resume), history.json, curve.png (training curve) and summary.json. Offline runs use one GPU when
present and several with torchrun (DDP; gloo on CPU); streaming runs one CPU process.

The loop's parts live beside it: the configuration (training.config), the start model (training.init_model),
the loss (training.loss), validation and selection (training.validation), the run folder's checkpoints and
curve (training.run_folder), and where the processes run (training.distributed).
"""

from __future__ import annotations

import json
import math
import shutil
import time
from pathlib import Path

import torch
from phasefold.engine.errors import InputError
from phasefold.training.config import RunConfig
from phasefold.training.data import load_signals, split_paths
from phasefold.training.distributed import placement, sampler_states
from phasefold.training.run_folder import plot_history, read_checkpoint, run_checkpoint
from phasefold.training.validation import report_epoch, validate


def _lr_factor(step: int, cfg: RunConfig) -> float:
    total = cfg.epochs * cfg.steps_per_epoch
    if step < cfg.warmup:
        return (step + 1) / cfg.warmup
    frac = (step - cfg.warmup) / max(1, total - cfg.warmup)
    return 0.1 + 0.9 * 0.5 * (1.0 + math.cos(math.pi * min(1.0, frac)))


def guarded_step(net, opt, sched, loss: torch.Tensor, clip: float) -> bool:
    """Back-propagate, clip and take one projected step; False (and nothing moves) when the loss or the
    gradient is not finite."""
    opt.zero_grad(set_to_none=True)
    loss.backward()
    norm = torch.nn.utils.clip_grad_norm_(net.parameters(), clip)
    if not (torch.isfinite(loss) and torch.isfinite(norm)):
        return False
    opt.step()
    net.project_()
    sched.step()
    return True


def train(cfg: RunConfig, out: str | Path, resume: bool = False, progress: bool = True) -> dict:
    """Train (or resume) a run in folder ``out``; returns the summary written to summary.json."""
    from tqdm import tqdm

    out = Path(out)
    rank, world, device = placement(cfg.distributed)
    last = run_checkpoint(out, resume)
    state = read_checkpoint(last) if resume else None
    if state is not None:
        if state.get("mode") != cfg.mode:
            raise InputError(
                f"{last}: not a run of {cfg.command}; resume it with the command that started it"
            )
        cfg = type(cfg).from_dict(state["config"])
    torch.manual_seed(cfg.seed)
    net = cfg.network(start=state is None).to(device)
    model = torch.nn.parallel.DistributedDataParallel(net) if world > 1 else net
    opt = torch.optim.Adam(net.parameters(), lr=cfg.lr)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: _lr_factor(s, cfg))
    rate = net.stft_cfg.sample_rate
    sampler = cfg.sampler(
        load_signals(split_paths(cfg.data, "train"), rate), net.stft_cfg, cfg.seed + 1000 * rank
    )
    val = cfg.validation(load_signals(split_paths(cfg.data, "validation"), rate), net.stft_cfg)
    history: dict = {"loss": [], "skipped": [], "val": []}
    first, elapsed, best = 0, 0.0, None
    if state is not None:
        net.load_state_dict(state["model"])
        opt.load_state_dict(state["optimizer"])
        sched.load_state_dict(state["scheduler"])
        samplers = state["sampler"]
        sampler.set_state(samplers[rank] if rank < len(samplers) else samplers[0])
        torch.set_rng_state(state["torch_rng"])
        first, elapsed, best, history = state["epoch"] + 1, state["seconds"], state["best"], state["history"]
    out.mkdir(parents=True, exist_ok=True)
    info = {
        "mode": cfg.mode,
        "config": cfg.to_dict(),
        "net": cfg.net_config().to_dict(),
        "data_description": cfg.data.describe(rate),
        "device": f"{device.type} x{world}" if world > 1 else device.type,
        "threads": torch.get_num_threads(),
        **cfg.record(out, resume),
    }
    if rank == 0:
        (out / "config.json").write_text(json.dumps(info, indent=1))
    t0 = time.time() - elapsed
    for epoch in range(first, cfg.epochs + 1):
        if epoch > 0:  # epoch 0 is the untrained network
            bar = tqdm(
                range(cfg.steps_per_epoch),
                desc=f"epoch {epoch}/{cfg.epochs}",
                disable=not progress or rank > 0,
                dynamic_ncols=True,
            )
            running = None
            for _ in bar:
                clean, mag, phase = (t.to(device) for t in sampler.batch(cfg.batch))
                loss, parts = cfg.loss(net, clean, mag, phase, runner=model)
                if not guarded_step(net, opt, sched, loss, cfg.clip):
                    history["skipped"].append(len(history["loss"]))  # never reaches the parameters
                    bar.set_postfix(skipped=len(history["skipped"]))
                    continue
                value = float(loss.detach())
                history["loss"].append(value)
                running = value if running is None else 0.9 * running + 0.1 * value
                bar.set_postfix(loss=f"{running:.4f}", **{k: f"{v:.4g}" for k, v in parts.items()})
        elapsed = time.time() - t0
        samplers = sampler_states(sampler, world)
        if rank == 0:
            metrics = validate(net, val, device)
            history["val"].append({"epoch": epoch, **metrics})
            improved = best is None or metrics["score"] > best
            best = metrics["score"] if improved else best
            kept = {
                **info,
                "model": net.state_dict(),
                "epoch": epoch,
                "val": metrics,
                "val_init": history["val"][0],
                "seconds": elapsed,
            }
            torch.save(kept, out / f"epoch-{epoch:02d}.pt")
            if improved:
                shutil.copyfile(out / f"epoch-{epoch:02d}.pt", out / "best.pt")
            if progress:
                label = f"epoch {epoch}" + (f" ({cfg.start_label()})" if epoch == 0 else "")
                report_epoch(label, metrics, "  (best)" if improved and epoch > 0 else "")
            resume_state = {
                "optimizer": opt.state_dict(),
                "scheduler": sched.state_dict(),
                "sampler": samplers,
                "torch_rng": torch.get_rng_state(),
                "best": best,
                "history": history,
            }
            torch.save({**kept, **resume_state}, last)
            (out / "history.json").write_text(json.dumps(history))
            plot_history(history, out / "curve.png")
        if world > 1:
            torch.distributed.barrier()
    summary = {
        "seconds": round(time.time() - t0, 1),
        "best_score": best,
        "validation": history["val"],
        "device": info["device"],
    }
    if rank == 0:
        (out / "summary.json").write_text(json.dumps(summary, indent=1))
    if world > 1:
        torch.distributed.destroy_process_group()
    return summary

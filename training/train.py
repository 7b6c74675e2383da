"""Training of the unfolded ADMM network: Adam, loss -STOI (+ a consistency term), validation-based selection.

Run folder: config.json (the resolved configuration), best.pt (best validation score, the untrained
network included as a candidate, so the selected model is never worse than ADMM-l2 on validation),
epoch-NN.pt (every epoch's network, in best.pt's format, for a selection of one's own), last.pt
(everything needed to resume), history.json and curve.png (training curve).
Runs on CPU, on one GPU when present, and on several GPUs with torchrun (DDP; gloo on CPU).
"""

from __future__ import annotations

import json
import math
import os
import shutil
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch
from phasefold.engine.errors import InputError
from phasefold.engine.stft import StftConfig
from phasefold.training import stft as tstft
from phasefold.training.data import DataConfig, ExcerptSampler, load_signals, split_paths, validation_set
from phasefold.training.pesq_loss import pesq_loss
from phasefold.training.stoi import stoi as torch_stoi
from phasefold.training.unfolded import NetConfig, UnfoldedADMM, card_net_config, load_parameters

PESQ_MAX = 4.64


class RunConfig:
    """config.json (de)serialisation shared by the offline and the streaming training configurations."""

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict):
        d = dict(d)
        d["data"] = DataConfig(**d.get("data", {}))
        return cls(**d)


@dataclass
class TrainConfig(RunConfig):
    """Everything a run depends on (written to config.json)."""

    variant: str = "tied"
    layers: int = 15
    pieces: int = 3
    hop: int = 256
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
        stft = StftConfig(hop=self.hop).to_dict()
        return NetConfig(
            variant=self.variant,
            layers=self.layers,
            pieces=self.pieces,
            rho=self.rho,
            stft=stft,
            rho_end=self.rho_end,
            anchored=self.anchored,
        )


LOGMAG_FLOOR_DB = -60.0  # log-magnitude term: bins are floored at this level below the excerpt's peak


def log_magnitude_error(est_mag: torch.Tensor, mag: torch.Tensor) -> torch.Tensor:
    """Mean |ln(est + e) - ln(mag + e)| per excerpt, e = the excerpt's peak magnitude at LOGMAG_FLOOR_DB.

    Unlike SC (dominated by the loudest bins) and STOI (which drops frames 40 dB below the loudest), it
    weighs errors in quiet time-frequency regions, where PESQ hears added energy."""
    floor = mag.flatten(1).amax(dim=1).clamp_min(1e-12) * 10.0 ** (LOGMAG_FLOOR_DB / 20.0)
    floor = floor.reshape(-1, *([1] * (mag.dim() - 1)))
    return (torch.log(est_mag + floor) - torch.log(mag + floor)).abs().flatten(1).mean(dim=1)


SPECTRAL_TARGETS = ("given", "clean")


def batch_loss(
    net: UnfoldedADMM,
    clean,
    mag,
    phase,
    sc_weight: float,
    runner=None,
    logmag_weight: float = 0.0,
    spectral_target: str = "given",
    pesq_weight: float = 0.0,
) -> tuple[torch.Tensor, dict]:
    """-STOI + sc_weight * log10(SC) + logmag_weight * log-magnitude error (+ pesq_weight * the PESQ
    surrogate's disturbance, computed only when pesq_weight > 0), averaged over the batch, and its parts
    (``runner``: DDP wrapper).

    The spectral terms compare the estimate's magnitude with ``mag`` (``spectral_target`` "given") or
    with the clean excerpt's (``"clean"``; the two agree on exact magnitudes). STOI is always against the
    clean excerpt, as every reported metric is, and so is the PESQ surrogate."""
    if spectral_target not in SPECTRAL_TARGETS:
        raise ValueError(f"spectral_target must be one of {SPECTRAL_TARGETS}, not {spectral_target!r}")
    est = net.reconstruct(mag, clean.shape[-1], phase, runner=runner)
    s = torch_stoi(clean, est, net.stft_cfg.sample_rate)
    est_mag = tstft.stft(est, net.stft_cfg).abs()
    if spectral_target == "clean":
        mag = tstft.stft(clean, net.stft_cfg).abs()
    sc = (est_mag - mag).flatten(1).norm(dim=1) / mag.flatten(1).norm(dim=1).clamp_min(1e-12)
    lm = log_magnitude_error(est_mag, mag)
    loss = -s.mean() + sc_weight * torch.log10(sc).mean() + logmag_weight * lm.mean()
    parts = {
        "stoi": float(s.detach().mean()),
        "sc_db": float(20 * torch.log10(sc.detach()).mean()),
        "logmag": float(lm.detach().mean()),
    }
    if pesq_weight > 0:
        pq = pesq_loss(clean, est, net.stft_cfg.sample_rate)
        loss = loss + pesq_weight * pq
        parts["pesq_dist"] = float(pq.detach())
    return loss, parts


@torch.no_grad()
def validate(net: UnfoldedADMM, val: list, device) -> dict:
    """STOI, ESTOI, PESQ (engine.metrics) of the network on the fixed validation utterances, and a score."""
    from phasefold.engine.metrics import estoi, pesq_wb, stoi

    sr = net.stft_cfg.sample_rate
    rows = []
    for clean, mag, phase in val:
        m = torch.tensor(mag, dtype=torch.float32, device=device)
        p = torch.tensor(phase, dtype=torch.float32, device=device)
        est = net.reconstruct(m, clean.size, p).double().cpu().numpy()
        rows.append((stoi(clean, est, sr), estoi(clean, est, sr), pesq_wb(clean, est, sr)))
    s, e, q = (float(v) for v in np.mean(rows, axis=0))
    return {"stoi": s, "estoi": e, "pesq": q, "score": (s + e + q / PESQ_MAX) / 3.0}


def _lr_factor(step: int, cfg: TrainConfig) -> float:
    total = cfg.epochs * cfg.steps_per_epoch
    if step < cfg.warmup:
        return (step + 1) / cfg.warmup
    frac = (step - cfg.warmup) / max(1, total - cfg.warmup)
    return 0.1 + 0.9 * 0.5 * (1.0 + math.cos(math.pi * min(1.0, frac)))


def run_checkpoint(out: Path, resume: bool) -> Path:
    """The run folder's last.pt, refused where it disagrees with ``resume``."""
    last = out / "last.pt"
    if last.exists() and not resume:
        raise InputError(f"{out} already holds a run; pass --resume to continue it or choose another --out")
    if resume and not last.exists():
        raise InputError(f"{out}: nothing to resume (no last.pt)")
    return last


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


def report_epoch(label: str, metrics: dict, mark: str = "") -> None:
    """One validation line under the progress bar."""
    from tqdm import tqdm

    tqdm.write(
        f"{label}: val STOI {metrics['stoi']:.4f} ESTOI {metrics['estoi']:.4f} "
        f"PESQ {metrics['pesq']:.3f} score {metrics['score']:.4f}{mark}"
    )


def _plot(history: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (a, b) = plt.subplots(1, 2, figsize=(10, 3.6))
    loss = np.asarray(history["loss"])
    if loss.size:
        a.plot(loss, lw=0.5, alpha=0.4, label="batch loss")
        k = min(25, loss.size)
        a.plot(
            np.arange(k - 1, loss.size), np.convolve(loss, np.ones(k) / k, mode="valid"), label=f"mean of {k}"
        )
        a.legend()
    a.set_xlabel("step")
    a.set_ylabel("loss")
    ep = [v["epoch"] for v in history["val"]]
    for key in ("stoi", "estoi", "score"):
        b.plot(ep, [v[key] for v in history["val"]], marker="o", label=f"val {key}")
    b2 = b.twinx()
    b2.plot(ep, [v["pesq"] for v in history["val"]], marker="s", color="k", label="val PESQ")
    b2.set_ylabel("PESQ")
    b.set_xlabel("epoch (0 = untrained, ADMM-l2)")
    b.legend(loc="lower left")
    b2.legend(loc="lower right")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _distributed() -> tuple[int, int]:
    """(rank, world size); initialises torch.distributed under torchrun."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world > 1 and not torch.distributed.is_initialized():
        backend = "nccl" if torch.cuda.is_available() else "gloo"
        torch.distributed.init_process_group(backend=backend)
    return (torch.distributed.get_rank() if world > 1 else 0), world


def restore(state: dict, net, opt, sched, restore_sampler) -> tuple[int, float, dict | None, dict]:
    """Load a run checkpoint's network, optimiser, schedule, sampler and RNG states (``--resume``);
    returns (epoch, seconds, best, history) to continue from."""
    net.load_state_dict(state["model"])
    opt.load_state_dict(state["optimizer"])
    sched.load_state_dict(state["scheduler"])
    restore_sampler()
    torch.set_rng_state(state["torch_rng"])
    return state["epoch"], state["seconds"], state["best"], state["history"]


def save_epoch(
    last: Path,
    cfg: RunConfig,
    net,
    opt,
    sched,
    sampler_state,
    epoch: int,
    seconds: float,
    best,
    history: dict,
) -> None:
    """Write last.pt (everything ``restore`` needs), history.json and the training curve after an epoch."""
    torch.save(
        {
            "config": cfg.to_dict(),
            "model": net.state_dict(),
            "optimizer": opt.state_dict(),
            "scheduler": sched.state_dict(),
            "sampler": sampler_state,
            "torch_rng": torch.get_rng_state(),
            "epoch": epoch,
            "seconds": seconds,
            "best": best,
            "history": history,
        },
        last,
    )
    (last.parent / "history.json").write_text(json.dumps(history))
    _plot(history, last.parent / "curve.png")


def start_from_model(net: UnfoldedADMM, model_path: str | Path) -> None:
    """Load an exported model's parameters (from its card) into ``net``, which must have its architecture."""
    from phasefold.engine.onnx_model import read_card

    def architecture(c: NetConfig) -> dict:
        return {"variant": c.variant, "layers": c.layers, "pieces": c.pieces, "hop": c.stft_cfg.hop}

    card = read_card(model_path)  # InputError / ModelError for a missing or malformed card
    if "streaming" in card:
        raise InputError(
            f"--init {model_path}: a streaming model (phasefold train-stream); this run trains an offline one"
        )
    have, want = card_net_config(card), net.cfg
    if architecture(have) != architecture(want):
        raise InputError(
            f"--init {model_path}: a model with {architecture(have)}, "
            f"but this run trains {architecture(want)}"
        )
    if (have.rho_end is None) != (want.rho_end is None):
        raise InputError(
            f"--init {model_path}: its penalty schedule and --rho-end must both be present or absent"
        )
    load_parameters(net, card["parameters"])


def init_provenance(model_path: str | Path) -> dict:
    """What a run started from: the start model's file, sha256 and training (its own start included)."""
    from phasefold.engine.onnx_model import read_card

    card = read_card(model_path)
    training = card.get("training", {})
    return {
        "file": Path(model_path).name,
        "sha256": card["sha256"],
        "recipe": training.get("recipe", {}),
        "seconds": training.get("seconds"),
        **({"init_model": training["init_model"]} if "init_model" in training else {}),
    }


def train(cfg: TrainConfig, out: str | Path, resume: bool = False, progress: bool = True) -> dict:
    """Train (or resume) a run in folder ``out``; returns the summary written to summary.json."""
    from tqdm import tqdm

    out = Path(out)
    rank, world = _distributed()
    if torch.cuda.is_available():
        device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))
        torch.cuda.set_device(device)
    else:
        device = torch.device("cpu")
    last = run_checkpoint(out, resume)
    if resume:
        state = torch.load(last, map_location="cpu", weights_only=False)
        cfg = TrainConfig.from_dict(state["config"])
    torch.manual_seed(cfg.seed)
    net = UnfoldedADMM(cfg.net_config())
    if cfg.init and not resume:
        start_from_model(net, cfg.init)
    net = net.to(device)
    model = net
    if world > 1:
        model = torch.nn.parallel.DistributedDataParallel(net)
    opt = torch.optim.Adam(net.parameters(), lr=cfg.lr)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: _lr_factor(s, cfg))
    stft_cfg = net.stft_cfg
    sampler = ExcerptSampler(
        load_signals(split_paths(cfg.data, "train")), stft_cfg, cfg.data, cfg.seed + 1000 * rank
    )
    val = validation_set(load_signals(split_paths(cfg.data, "validation")), stft_cfg, cfg.data)
    history = {"loss": [], "val": []}
    start_epoch, elapsed, best = 0, 0.0, None
    if resume:
        samplers = state["sampler"]
        start_epoch, elapsed, best, history = restore(
            state,
            net,
            opt,
            sched,
            lambda: sampler.set_state(samplers[rank] if rank < len(samplers) else samplers[0]),
        )
    out.mkdir(parents=True, exist_ok=True)
    info = {
        "config": cfg.to_dict(),
        "net": cfg.net_config().to_dict(),
        "data_description": cfg.data.describe(),
        "device": f"{device.type} x{world}" if world > 1 else device.type,
    }
    if cfg.init:  # recorded at the start: a resumed run keeps it even if the start file has changed since
        first = out / "config.json"
        info["init_model"] = (
            json.loads(first.read_text()).get("init_model")
            if resume and first.is_file()
            else init_provenance(cfg.init)
        )
    if rank == 0:
        (out / "config.json").write_text(json.dumps(info, indent=1))

    def save_checkpoint(epoch: int, metrics: dict, path: Path) -> None:
        torch.save(
            {
                **info,
                "model": net.state_dict(),
                "epoch": epoch,
                "val": metrics,
                "val_stoi": metrics["stoi"],
                "val_stoi_init": history["val"][0]["stoi"],
                "seconds": elapsed,
            },
            path,
        )

    t0 = time.time() - elapsed
    if rank == 0 and start_epoch == 0:
        metrics = validate(net, val, device)
        history["val"].append({"epoch": 0, **metrics})
        best = metrics["score"]
        save_checkpoint(0, metrics, out / "best.pt")
        if progress:
            report_epoch(
                f"epoch 0 ({'the start, ' + Path(cfg.init).stem if cfg.init else 'untrained = ADMM-l2'})",
                metrics,
            )
    for epoch in range(start_epoch + 1, cfg.epochs + 1):
        bar = tqdm(
            range(cfg.steps_per_epoch),
            desc=f"epoch {epoch}/{cfg.epochs}",
            disable=not progress or rank > 0,
            dynamic_ncols=True,
        )
        running, skipped = None, 0
        for _ in bar:
            clean, mag, phase = (t.to(device) for t in sampler.batch(cfg.batch))
            loss, parts = batch_loss(
                net,
                clean,
                mag,
                phase,
                cfg.sc_weight,
                runner=model,
                logmag_weight=cfg.logmag_weight,
                spectral_target=cfg.spectral_target,
                pesq_weight=cfg.pesq_weight,
            )
            if not guarded_step(net, opt, sched, loss, cfg.clip):
                skipped += 1  # a non-finite batch never reaches the parameters
                bar.set_postfix(skipped=skipped)
                continue
            value = float(loss.detach())
            history["loss"].append(value)
            running = value if running is None else 0.9 * running + 0.1 * value
            bar.set_postfix(
                loss=f"{running:.4f}",
                stoi=f"{parts['stoi']:.4f}",
                sc=f"{parts['sc_db']:.1f}dB",
                logmag=f"{parts['logmag']:.3f}",
                **({"pesq_d": f"{parts['pesq_dist']:.3f}"} if "pesq_dist" in parts else {}),
            )
        elapsed = time.time() - t0
        if rank == 0:
            metrics = validate(net, val, device)
            history["val"].append({"epoch": epoch, **metrics})
            improved = metrics["score"] > best
            kept = out / f"epoch-{epoch:02d}.pt"  # every epoch, for a selection on other data
            save_checkpoint(epoch, metrics, kept)
            if improved:
                best = metrics["score"]
                shutil.copyfile(kept, out / "best.pt")
            if progress:
                report_epoch(f"epoch {epoch}", metrics, "  (best)" if improved else "")
            save_epoch(last, cfg, net, opt, sched, [sampler.state()], epoch, elapsed, best, history)
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

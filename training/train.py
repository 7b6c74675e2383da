"""The one training loop of the unfolded networks: Adam, loss -STOI (+ terms), validation-based selection.

``train(cfg, out)`` runs for any ``RunConfig``: ``TrainConfig`` here (offline networks, ``phasefold train``)
or ``training.stream_train.StreamTrainConfig`` (networks trained inside the streaming loop, ``phasefold
train-stream``); the configuration builds the network and gives the batch loss. Run folder, the same for
both: config.json (the resolved configuration), best.pt (best validation score, the untrained network
included as a candidate, so the selected model is never worse than its start on validation), epoch-NN.pt
(every epoch's network, for a selection of one's own), last.pt (epoch-NN.pt plus everything needed to
resume), history.json, curve.png (training curve) and summary.json. Offline runs use one GPU when present
and several with torchrun (DDP; gloo on CPU); streaming runs one CPU process.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import time
from abc import ABC, abstractmethod
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import ClassVar

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


def _lr_factor(step: int, cfg: RunConfig) -> float:
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


def start_from_model(net: UnfoldedADMM, model_path: str | Path) -> None:
    """Load an exported model's parameters (from its card) into ``net``, which must have its architecture."""
    from phasefold.engine.model_card import ModelCard

    def architecture(c: NetConfig) -> dict:
        return {"variant": c.variant, "layers": c.layers, "pieces": c.pieces, "hop": c.stft_cfg.hop}

    card = ModelCard.read(model_path)  # ModelError for a missing or malformed card
    if card.streaming is not None:
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
    load_parameters(net, card.parameters)


def init_provenance(model_path: str | Path) -> dict:
    """What a run started from: the start model's file, sha256 and training (its own start included)."""
    from phasefold.engine.model_card import ModelCard

    card = ModelCard.read(model_path)
    training = card.training or {}
    return {
        "file": Path(model_path).name,
        "sha256": card.sha256,
        "recipe": training.get("recipe", {}),
        "seconds": training.get("seconds"),
        **({"init_model": training["init_model"]} if "init_model" in training else {}),
    }


def _placement(distributed: bool) -> tuple[int, int, torch.device]:
    """(rank, world size, device): under torchrun and on a GPU when present where ``distributed``."""
    if not distributed:
        return 0, 1, torch.device("cpu")
    rank, world = _distributed()
    if not torch.cuda.is_available():
        return rank, world, torch.device("cpu")
    device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))
    torch.cuda.set_device(device)
    return rank, world, device


def _sampler_states(sampler: ExcerptSampler, world: int) -> list[dict]:
    """Every rank's sampler state, in rank order (a collective call under torchrun)."""
    if world == 1:
        return [sampler.state()]
    states = [None] * world
    torch.distributed.all_gather_object(states, sampler.state())
    return states


def train(cfg: RunConfig, out: str | Path, resume: bool = False, progress: bool = True) -> dict:
    """Train (or resume) a run in folder ``out``; returns the summary written to summary.json."""
    from tqdm import tqdm

    out = Path(out)
    rank, world, device = _placement(cfg.distributed)
    last = run_checkpoint(out, resume)
    state = torch.load(last, map_location="cpu", weights_only=False) if resume else None
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
    sampler = ExcerptSampler(
        load_signals(split_paths(cfg.data, "train")), net.stft_cfg, cfg.data, cfg.seed + 1000 * rank
    )
    val = validation_set(load_signals(split_paths(cfg.data, "validation")), net.stft_cfg, cfg.data)
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
        "data_description": cfg.data.describe(),
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
        samplers = _sampler_states(sampler, world)
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
            _plot(history, out / "curve.png")
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


def load_checkpoint(path: str | Path, kind: type[RunConfig]) -> tuple[UnfoldedADMM, dict]:
    """The network and the checkpoint of a run of ``kind``: best.pt, epoch-NN.pt or last.pt (a run folder:
    its best.pt). best.pt and epoch-NN.pt of runs from before the shared format are read too."""
    path = Path(path)
    file = path / "best.pt" if path.is_dir() else path
    if not file.is_file():
        raise InputError(f"{path}: no best.pt checkpoint (is this a training run folder?)")
    try:
        ck = torch.load(file, map_location="cpu", weights_only=False)
    except Exception as exc:  # truncated or not a torch file
        raise InputError(f"{file}: not a readable checkpoint ({exc})") from None
    if isinstance(ck, dict) and "mode" not in ck and "model" in ck:  # the keys before the shared format
        ck = {**ck, "mode": "stream" if "stream_net" in ck else "offline" if "net" in ck else None}
    if not isinstance(ck, dict) or ck.get("mode") != kind.mode:
        raise InputError(
            f"{file}: not a checkpoint of {kind.command} (runs of phasefold train are exported by phasefold "
            "export, runs of phasefold train-stream by phasefold train-stream --export)"
        )
    net = kind.from_dict(ck["config"]).network(start=False)
    net.load_state_dict(ck["model"])
    return net, ck

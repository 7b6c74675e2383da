"""The run folder's files outside the loop: last.pt checked against ``--resume``, a checkpoint read back as a
network (for the export commands), and the training curve (curve.png) drawn from the history.

What the folder holds is described in ``training.train``; ``training.config.RunConfig`` says what every
checkpoint holds.
"""

from __future__ import annotations

import pickle
import re
from pathlib import Path

import numpy as np
import torch
from phasefold.engine.errors import InputError
from phasefold.training.config import RunConfig
from phasefold.training.unfolded import UnfoldedADMM


def run_checkpoint(out: Path, resume: bool) -> Path:
    """The run folder's last.pt, refused where it disagrees with ``resume``."""
    if out.exists() and not out.is_dir():
        raise InputError(f"{out}: is a file; --out names the run folder")
    last = out / "last.pt"
    if last.exists() and not resume:
        raise InputError(f"{out} already holds a run; pass --resume to continue it or choose another --out")
    if resume and not last.exists():
        raise InputError(f"{out}: nothing to resume (no last.pt)")
    return last


def read_checkpoint(file: Path) -> object:
    """A checkpoint's contents read as data only (``torch.load(weights_only=True)``: tensors, numbers,
    strings, lists, tuples and dicts); a file holding any other Python object (a pickle payload that could
    run code) is refused with InputError before anything in it runs, as is a file that is not a checkpoint."""
    try:
        return torch.load(file, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        found = re.search(r"Unsupported global: GLOBAL (\S+)", str(exc))
        if found:
            raise InputError(
                f"{file}: refused: the checkpoint holds a Python object ({found.group(1)}) other than "
                "tensors and plain data, a pickle payload that could run code; phasefold reads only the "
                "checkpoints it writes"
            ) from None
        raise InputError(f"{file}: not a readable checkpoint ({_last_line(exc)})") from None
    except Exception as exc:  # truncated or not a torch file
        raise InputError(f"{file}: not a readable checkpoint ({_last_line(exc)})") from None


def _last_line(exc: Exception) -> str:
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    return lines[-1] if lines else type(exc).__name__


def load_checkpoint(path: str | Path, kind: type[RunConfig]) -> tuple[UnfoldedADMM, dict]:
    """The network and the checkpoint of a run of ``kind``: best.pt, epoch-NN.pt or last.pt (a run folder:
    its best.pt). best.pt and epoch-NN.pt of runs from before the shared format are read too."""
    path = Path(path)
    file = path / "best.pt" if path.is_dir() else path
    if not path.exists():
        raise InputError(f"{path}: no such run folder or checkpoint")
    if not file.is_file():
        raise InputError(f"{path}: no best.pt checkpoint (is this a training run folder?)")
    ck = read_checkpoint(file)
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


def plot_history(history: dict, path: Path) -> None:
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

"""Validation and model selection: the network scored on the fixed validation utterances (STOI, ESTOI and PESQ
of engine.evaluation) and the one score the training loop selects best.pt by; the validation line it prints.
"""

from __future__ import annotations

import numpy as np
import torch
from phasefold.training.unfolded import UnfoldedADMM

PESQ_MAX = 4.64


@torch.no_grad()
def validate(net: UnfoldedADMM, val: list, device) -> dict:
    """STOI, ESTOI, PESQ (engine.evaluation) of the network on the fixed validation utterances; a score."""
    from phasefold.engine.evaluation import estoi, pesq_wb, stoi

    sr = net.stft_cfg.sample_rate
    rows = []
    for clean, mag, phase in val:
        m = torch.tensor(mag, dtype=torch.float32, device=device)
        p = torch.tensor(phase, dtype=torch.float32, device=device)
        est = net.reconstruct(m, clean.size, p).double().cpu().numpy()
        rows.append((stoi(clean, est, sr), estoi(clean, est, sr), pesq_wb(clean, est, sr)))
    s, e, q = (float(v) for v in np.mean(rows, axis=0))
    return {"stoi": s, "estoi": e, "pesq": q, "score": (s + e + q / PESQ_MAX) / 3.0}


def report_epoch(label: str, metrics: dict, mark: str = "") -> None:
    """One validation line under the progress bar."""
    from tqdm import tqdm

    tqdm.write(
        f"{label}: val STOI {metrics['stoi']:.4f} ESTOI {metrics['estoi']:.4f} "
        f"PESQ {metrics['pesq']:.3f} score {metrics['score']:.4f}{mark}"
    )

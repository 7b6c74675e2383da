"""The training loss of the unfolded networks: -STOI + w log10(spectral convergence) (+ a log-magnitude term
and a PESQ surrogate term), on a batch of excerpts; the same for offline and streaming runs.
"""

from __future__ import annotations

import torch
from phasefold.training import stft as tstft
from phasefold.training.pesq_loss import pesq_loss
from phasefold.training.stoi import stoi as torch_stoi
from phasefold.training.unfolded import UnfoldedADMM

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
    est: torch.Tensor | None = None,
) -> tuple[torch.Tensor, dict]:
    """-STOI + sc_weight * log10(SC) + logmag_weight * log-magnitude error (+ pesq_weight * the PESQ
    surrogate's disturbance, computed only when pesq_weight > 0), averaged over the batch, and its parts
    (``runner``: DDP wrapper).

    The spectral terms compare the estimate's magnitude with ``mag`` (``spectral_target`` "given") or
    with the clean excerpt's (``"clean"``; the two agree on exact magnitudes). STOI is always against the
    clean excerpt, as every reported metric is, and so is the PESQ surrogate. ``est``: the network's
    output when the caller has made it already (from other magnitudes than ``mag``, say)."""
    if spectral_target not in SPECTRAL_TARGETS:
        raise ValueError(f"spectral_target must be one of {SPECTRAL_TARGETS}, not {spectral_target!r}")
    if est is None:
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

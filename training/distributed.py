"""Where a run's processes run: one CPU process, or one GPU when present and several processes under torchrun
(DDP; gloo on CPU); and the samplers' states gathered from every rank for last.pt.
"""

from __future__ import annotations

import os

import torch
from phasefold.training.data import ExcerptSampler


def _distributed() -> tuple[int, int]:
    """(rank, world size); initialises torch.distributed under torchrun."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world > 1 and not torch.distributed.is_initialized():
        backend = "nccl" if torch.cuda.is_available() else "gloo"
        torch.distributed.init_process_group(backend=backend)
    return (torch.distributed.get_rank() if world > 1 else 0), world


def placement(distributed: bool) -> tuple[int, int, torch.device]:
    """(rank, world size, device): under torchrun and on a GPU when present where ``distributed``."""
    if not distributed:
        return 0, 1, torch.device("cpu")
    rank, world = _distributed()
    if not torch.cuda.is_available():
        return rank, world, torch.device("cpu")
    device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))
    torch.cuda.set_device(device)
    return rank, world, device


def sampler_states(sampler: ExcerptSampler, world: int) -> list[dict]:
    """Every rank's sampler state, in rank order (a collective call under torchrun)."""
    if world == 1:
        return [sampler.state()]
    states = [None] * world
    torch.distributed.all_gather_object(states, sampler.state())
    return states

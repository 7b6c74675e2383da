"""Learned mel stream models against their untrained start, over draws (issue 32, point 3).

    python -m benchmarks.mel_model_draws exported_models/mel/unfolded-mel-stream-l3.onnx --split test
    python -m benchmarks.mel_model_draws runs/NAME/epoch-04.pt runs/NAME/epoch-08.pt --split validation

Each MODEL (an exported stream mel model's .onnx, or a ``phasefold train-stream --mel`` checkpoint) runs in
the training stream loop (training.stream_unfolded.stream_reconstruct, PyTorch, the engine's window loop
operation by operation) on the split's files, measured as training.mel_export.mel_scores measures them (the
preset's mel of each file read back to linear values, file i from phase seed i), beside its untrained start:
the same network at its start parameters (streaming mel-ADMM-l2 with the same layers per step). A streamed
score is one draw of a chaotic system, so each is measured over ``--draws`` + 1 runs: draw 0 is the mel as
it is; in draw d every file's linear mel is multiplied by (1 + eps n), n standard normal from seed
1000 + d + 100 i (file i). The table gives the mean PESQ over the runs, the lowest and highest run, and the
gain of the model over its start. The untrained start depends only on the look-ahead and the layers, so it
is measured once for each.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import torch


def network_pair(model: str) -> tuple[torch.nn.Module, torch.nn.Module, tuple[int, int]]:
    """(the model's stream network, its untrained start, (look-ahead, layers)) from a card or checkpoint."""
    from phasefold.engine.model_card import ModelCard
    from phasefold.training.mel_train import MelStreamTrainConfig
    from phasefold.training.run_folder import load_checkpoint

    if Path(model).suffix in (".onnx", ".json"):
        card = ModelCard.read(model)
        cfg = MelStreamTrainConfig(lookahead=card.streaming.lookahead, layers=card.layers, init=model)
        net = cfg.network(start=True)
    else:
        net, ck = load_checkpoint(model, MelStreamTrainConfig)
        cfg = MelStreamTrainConfig.from_dict(ck["config"])
    start = cfg.network(start=False)
    return net.float().eval(), start.float().eval(), (cfg.lookahead, cfg.layers)


def drawn(run, draw: int, eps: float):
    """``run`` with its linear mel multiplied by (1 + eps n) in draw ``draw`` > 0 (module docstring)."""

    def perturbed(m: np.ndarray, seed: int, length: int) -> np.ndarray:
        if draw:
            m = m * (1.0 + eps * np.random.default_rng(1000 + draw + 100 * seed).standard_normal(m.shape))
        return run(m, seed, length)

    return perturbed


def pesq_draws(net, split: str, draws: int, eps: float) -> list[float]:
    """The split's mean PESQ of ``net`` in each of the draws 0 to ``draws``."""
    from phasefold.training.mel_export import mel_scores, torch_runner

    run = torch_runner(net)
    return [mel_scores(drawn(run, d, eps), net.mel_cfg, split)["pesq"] for d in range(draws + 1)]


def _spread(values: list[float]) -> str:
    return f"{np.mean(values):.3f} ({min(values):.3f}-{max(values):.3f})"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("models", nargs="+", help="stream mel models (.onnx) or train-stream --mel checkpoints")
    ap.add_argument("--split", default="test", choices=("train", "validation", "test"))
    ap.add_argument("--draws", type=int, default=4, help="perturbed runs beside the unperturbed one (4)")
    ap.add_argument("--eps", type=float, default=1e-5, help="relative size of the perturbation (1e-5)")
    ap.add_argument("--threads", type=int, default=1, help="torch threads (1)")
    ap.add_argument("--json", type=Path, default=None, help="also write the rows here")
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    starts: dict[tuple[int, int], list[float]] = {}
    rows = []
    print("| model | L, layers | untrained: mean (lowest-highest) | model: mean (lowest-highest) | gain |")
    print("|---|---|---|---|---|")
    for model in args.models:
        net, start, key = network_pair(model)
        if key not in starts:
            starts[key] = pesq_draws(start, args.split, args.draws, args.eps)
        got = pesq_draws(net, args.split, args.draws, args.eps)
        base = starts[key]
        row = {"model": model, "lookahead": key[0], "layers": key[1], "untrained": base, "model_pesq": got}
        rows.append(row)
        gain = np.mean(got) - np.mean(base)
        name = Path(model).name
        print(f"| {name} | {key[0]}, {key[1]} | {_spread(base)} | {_spread(got)} | {gain:+.3f} |", flush=True)
    if args.json:
        record = {"split": args.split, "draws": args.draws, "eps": args.eps, "rows": rows}
        args.json.write_text(json.dumps(record, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

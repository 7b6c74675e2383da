"""A tied model unrolled into a streaming model.

    python -m phasefold.training.unroll MODEL --layers T --lookahead L -o OUT.onnx


A tied network has one learned prox for every layer, so it can run any number of layers. This writes a
streaming export (window pinned to W = L + N/H, the tied model's coverage floor, the streaming card) whose T
layers all use the tied model's parameters, verified like every streaming export, with test metrics through
the engine at look-ahead L. Pick T on the validation split (``--split validation`` prints the scores there
and writes nothing).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import torch
from phasefold.engine.errors import InputError
from phasefold.engine.model_card import ModelCard
from phasefold.training.export import with_metrics
from phasefold.training.rebuild import network_of
from phasefold.training.stream_export import export_stream
from phasefold.training.stream_unfolded import StreamNetConfig, StreamUnfolded


def unrolled(card: ModelCard, layers: int, lookahead: int) -> StreamUnfolded:
    """The streaming network (one parameter set per layer, no position dependence) of a tied card."""
    if card.variant != "tied" or card.streaming is not None:
        raise InputError(f"{card.name}: only an offline tied model can be unrolled to another depth")
    if layers < 1 or lookahead < 0:
        raise InputError("--layers must be >= 1 and --lookahead >= 0")
    tied = network_of(card)
    net = StreamUnfolded(
        StreamNetConfig(
            lookahead=lookahead,
            layers=layers,
            pieces=card.pieces,
            rho=float(card.rho),
            position=False,
            stft=card.stft.to_dict(),
            cov_eps=float(card.coverage_eps),  # the tied model's floor, which it was trained with
        )
    )
    with torch.no_grad():
        for name in ("g1", "g2", "b", "w", "log_break"):
            src = getattr(tied, name).detach().double()  # [1] or [1, C]
            dst = getattr(net, name)  # [T, 1] or [T, 1, C]
            dst.copy_(src.reshape(1, 1, *src.shape[1:]).expand_as(dst))
    return net.float()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "model", type=Path, help="an exported tied model, e.g. exported_models/unfolded-tied.onnx"
    )
    parser.add_argument("--layers", type=int, required=True, help="T, layers per window step")
    parser.add_argument("--lookahead", type=int, required=True, help="L, the look-ahead it streams at")
    parser.add_argument("-o", "--out", type=Path, default=None, help="NAME.onnx to write")
    parser.add_argument("--name", default=None)
    parser.add_argument(
        "--split",
        choices=("test", "validation"),
        default="test",
        help="validation: score there (through a temporary export) and write nothing",
    )
    args = parser.parse_args(argv)
    from phasefold.training.stream_eval import stream_card_metrics, stream_scores

    card = ModelCard.read(args.model)
    net = unrolled(card, args.layers, args.lookahead)
    training = {
        "data": (card.training or {}).get("data", ""),
        "unrolled_from": {"model": card.name, "sha256": card.sha256, "layers": args.layers},
        "note": f"the tied model's learned prox in each of {args.layers} layers, run at look-ahead "
        f"{args.lookahead}; not trained further inside the stream",
    }
    if args.split == "validation":
        import tempfile

        with tempfile.TemporaryDirectory() as tmp:
            out = Path(tmp) / f"unrolled-t{args.layers}-l{args.lookahead}.onnx"
            export_stream(net, out, training=training)
            scores = stream_scores(out, args.lookahead, split="validation")
        print(json.dumps({"layers": args.layers, "lookahead": args.lookahead, "validation": scores}))
        return 0
    if args.out is None:
        raise InputError("-o OUT.onnx is needed unless --split validation")
    t0 = time.time()
    new = export_stream(net, args.out, name=args.name, training=training)
    metrics = stream_card_metrics(args.out, args.lookahead, ("exact_hop256",))
    new = with_metrics(new, args.out, metrics, time.time() - t0)
    print(f"wrote {args.out}: {json.dumps(new.metrics['test'])}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

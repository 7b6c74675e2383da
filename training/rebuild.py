"""Rebuild a shipped model's graph from its card.

    python -m phasefold.training.rebuild [--no-eval] [--anchor] exported_models/NAME.onnx ...

The card holds every parameter, so a model can be re-exported when the graph builder changes (a faster
STFT form, say) without its training run: the PyTorch network is restored from the card, exported with
the usual checks (checker, onnxruntime against PyTorch in float64, golden pair) and its test-split
metrics are measured again. Training provenance is kept; the card records the rebuild. ``--anchor``
first projects an offline model's prox onto the anchored family (training.unfolded: b = 2, g2 = 1 - g1),
which the card records too.
"""

from __future__ import annotations

import dataclasses
import json
import sys
from pathlib import Path

import torch
from phasefold.engine.errors import ModelError
from phasefold.engine.model_card import ModelCard
from phasefold.training.export import export_network
from phasefold.training.remeasure import measured_card
from phasefold.training.stream_export import export_stream
from phasefold.training.stream_unfolded import StreamNetConfig, StreamUnfolded
from phasefold.training.unfolded import UnfoldedADMM, card_net_config, load_parameters


def network_of(card: ModelCard) -> UnfoldedADMM:
    """The PyTorch network whose export is the card's model."""
    params = card.parameters
    arch = card_net_config(card)  # layers, pieces, penalty (schedule) and STFT, streaming or not
    gla = card.gla
    if card.streaming is not None:
        scfg = StreamNetConfig(
            lookahead=card.streaming.lookahead,
            layers=arch.layers,
            pieces=arch.pieces,
            rho=arch.rho,
            position=bool(card.streaming.position_dependent),
            cov_eps=float(card.coverage_eps),
            rho_end=arch.rho_end,
            form="gla" if gla else "admm",
            fixed_b=gla,
            stft=arch.stft,
        )
        net = StreamUnfolded(scfg)
    else:
        net = UnfoldedADMM(arch)
    load_parameters(net, params)
    restored = net.card_parameters()
    for name, value in params.items():
        if not torch.allclose(torch.tensor(restored[name]), torch.tensor(value), rtol=1e-6, atol=1e-12):
            raise ModelError(f"{card.name}: parameter {name} could not be restored from the card")
    return net.float()


def anchored_network(card: ModelCard) -> UnfoldedADMM:
    """The card's network with its prox projected onto the anchored family (b = 2, g2 = 1 - g1, the
    learned g1, pieces and penalties kept; training.unfolded): F(r, r) = r in every layer. No training."""
    if card.streaming is not None:
        raise ModelError(f"{card.name}: anchoring applies to offline models, not to streaming ones")
    net = UnfoldedADMM(dataclasses.replace(card_net_config(card), anchored=True))
    load_parameters(net, card.parameters)
    return net.float()


def rebuild(model_path: str | Path, evaluate: bool = True, anchor: bool = False) -> ModelCard:
    """Re-export one model in place from its card (``anchor``: projected onto the anchored family first);
    returns the new card."""
    path = Path(model_path)
    old = ModelCard.read(path)
    net = anchored_network(old) if anchor else network_of(old)
    if old.streaming is not None:
        card = export_stream(net, path, name=old.name, training=old.training, metrics=old.metrics)
    else:
        card = export_network(
            net, path, name=old.name, training=old.training, metrics=old.metrics, hop=old.stft.hop
        )
    if evaluate:
        card = dataclasses.replace(card, metrics=measured_card(path).metrics)
    rebuilt = {"from_card_sha256": old.sha256, "previous_stft_form": (old.onnx or {}).get("stft")}
    if anchor:
        rebuilt["anchored"] = (
            "prox projected onto the anchored family: g2 = 1 - g1 and b = 2 in every layer, the trained g1, "
            "pieces and break points kept, not retrained (python -m phasefold.training.rebuild --anchor)"
        )
    card = dataclasses.replace(card, rebuilt=rebuilt)
    card.write(path)
    return card


def main(argv: list[str]) -> int:
    evaluate = "--no-eval" not in argv
    anchor = "--anchor" in argv
    for arg in (a for a in argv if a not in ("--no-eval", "--anchor")):
        card = rebuild(arg, evaluate=evaluate, anchor=anchor)
        diffs = card.verification["max_abs_diff"]
        print(
            f"{arg}: rebuilt; max abs diff " + ", ".join(f"{k} {v:.2e}" for k, v in diffs.items()), flush=True
        )
        if evaluate:
            print(f"  metrics {json.dumps(card.metrics['test'])}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

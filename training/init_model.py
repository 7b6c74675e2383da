"""A run that starts from an exported model (``--init NAME.onnx``, its card beside): the model's parameters
loaded into the network to train, and the start model's provenance recorded with the run.
"""

from __future__ import annotations

from pathlib import Path

from phasefold.engine.errors import InputError
from phasefold.engine.model_card import ModelCard
from phasefold.training.unfolded import NetConfig, UnfoldedADMM, card_net_config, load_parameters


def start_from_model(net: UnfoldedADMM, model_path: str | Path) -> None:
    """Load an exported model's parameters (from its card) into ``net``, which must have its architecture."""

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
    card = ModelCard.read(model_path)
    training = card.training or {}
    return {
        "file": Path(model_path).name,
        "sha256": card.sha256,
        "recipe": training.get("recipe", {}),
        "seconds": training.get("seconds"),
        **({"init_model": training["init_model"]} if "init_model" in training else {}),
    }

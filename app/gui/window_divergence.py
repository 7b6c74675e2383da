"""The main window's divergence panel content: for the selected method, the divergence a model learned
(read from its card) against the quadratic and KL references, or the loss a classical method minimises."""

from __future__ import annotations

import numpy as np
from phasefold.engine.errors import PhasefoldError


class MethodDivergence:
    """Main-window mixin: draws the selected method's divergence in ``self.divergence`` (a DivergenceView);
    a card that cannot be drawn shows as an error in the window."""

    def _show_divergence(self, name: str) -> None:
        from phasefold.engine import divergence_curves as dc

        refs_u = np.linspace(0.0, 3.0, 400)
        refs = [("quadratic (y - 1)²/2", dc.quadratic(refs_u, 1.0)), ("KL(y | 1)", dc.kl(refs_u, 1.0))]
        from phasefold.engine.registry import lookup

        model = lookup(name).path
        if model is None or not model.is_file():
            note = {
                "admm-l2": "ADMM minimises the quadratic loss (dashed)",
                "admm-kl": "ADMM minimises the KL divergence (dotted)",
                "gla": "Griffin-Lim: the quadratic loss (dashed)",
                "fgla": "fast Griffin-Lim: the quadratic loss (dashed)",
                "rtisi-la": "Griffin-Lim projections: the quadratic loss (dashed)",
            }.get(name, "no divergence: the reference losses only")
            self.divergence.show_curves(f"{name}: classical method", refs_u, [], refs, note=note)
            return
        from phasefold.engine.model_card import ModelCard

        try:
            card = ModelCard.read(model)
            curves = dc.card_curves(card, r=1.0, n=400, span=3.0)
        except (PhasefoldError, KeyError, ValueError, TypeError) as exc:
            self.show_error(f"{name}: cannot draw its divergence: {exc}")
            return
        learned = curves["learned"]
        labels = dc.set_labels(card)
        refs = [("quadratic (y - 1)²/2", curves["quadratic"]), ("KL(y | 1)", curves["kl"])]
        sets = f"{len(learned)} parameter sets" if len(learned) > 1 else "one set for all layers"
        form = ", Griffin-Lim layers (rho = g1 / g2)" if card.gla else ""
        self.divergence.show_curves(
            model.stem,
            curves["u"],
            list(zip(labels, learned, strict=True)),
            refs,
            note=f"learned divergence rho f(y) at r = 1, minimum at 0<br>{card.variant}{form}, {sets}",
        )

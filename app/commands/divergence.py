"""`phasefold divergence MODEL -o curves.png`: draw the learned divergences of a model beside l2 and KL."""

from __future__ import annotations

import argparse
from pathlib import Path

from phasefold.commands import nonempty_text, positive_float
from phasefold.engine.errors import InputError
from phasefold.engine.model_card import Interface, ModelCard


def register(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "model",
        type=nonempty_text,
        help="exported model (NAME.onnx with its card, or a shipped name such as "
        "unfolded-tied or unfolded-mel-untied) or a training run folder / checkpoint (needs torch)",
    )
    parser.add_argument("-o", "--out", type=nonempty_text, required=True, help="PNG file to write")
    parser.add_argument(
        "--r",
        type=positive_float,
        nargs="+",
        default=[1.0],
        help="measurement values r to draw, one panel each (default 1)",
    )
    parser.set_defaults(run=run)


def _card(model: str) -> ModelCard:
    from phasefold.engine.registry import specs

    path = Path(model)
    spec = specs().get(model) if path.suffix != ".onnx" else None
    if spec is not None:  # a listed name: the registry's choice (a built-in is never shadowed)
        if spec.card is None:
            raise InputError(
                f"{model} is a classical method with a fixed loss, not a learned divergence "
                "(give a model: phasefold reconstruct --list-methods)"
                if spec.problem is None
                else f"{model}: {spec.problem}"
            )
        return spec.card
    if path.suffix == ".onnx":
        return ModelCard.read(path)
    from phasefold.engine.mel_model import mel_model_names, mel_model_path

    if model in mel_model_names():  # a shipped mel model (exported_models/mel)
        return ModelCard.read(mel_model_path(model))
    if path.is_dir() or path.suffix == ".pt":
        try:
            from phasefold.training.export import load_run
        except ImportError:
            raise InputError(
                "reading a training checkpoint needs PyTorch; pass an exported .onnx instead"
            ) from None
        net, _ = load_run(path)
        return ModelCard(  # the run's parameters, to draw them: no graph, nothing written
            name=path.stem if path.suffix else path.name,
            variant=net.cfg.variant,
            layers=net.cfg.layers,
            pieces=net.cfg.pieces,
            rho=net.cfg.rho,
            stft=net.stft_cfg,
            interface=Interface(inputs={}, outputs={}),
            parameters=net.card_parameters(),
            sha256="",
        )
    raise InputError(f"{model}: not a .onnx model, a shipped model name or a training run")


def _plot_format(out: str) -> str:
    """The image format of ``out`` by its suffix (png, svg, pdf: those matplotlib writes), checked with the
    path before any work (engine.outputs.check_output_path); InputError otherwise."""
    from matplotlib.figure import Figure
    from phasefold.engine.outputs import check_output_path

    check_output_path(out, "plot")
    formats = Figure().canvas.get_supported_filetypes()
    suffix = Path(out).suffix.lower().lstrip(".")
    if suffix not in formats:
        raise InputError(
            f"-o {out}: not an image file name; give NAME.png (or .{', .'.join(sorted(formats))})"
        )
    return suffix


def run(args: argparse.Namespace) -> int:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from phasefold.engine.divergence_curves import card_curves, set_labels
    from phasefold.engine.outputs import atomic_output

    if any(r <= 0 for r in args.r):
        raise InputError("--r values must be positive")
    fmt = _plot_format(args.out)
    card = _card(args.model)
    fig, axes = plt.subplots(1, len(args.r), figsize=(5.2 * len(args.r), 4.0), squeeze=False)
    for ax, r in zip(axes[0], args.r, strict=True):
        c = card_curves(card, r=r)
        n = len(c["learned"])
        cmap = plt.get_cmap("viridis")
        names = set_labels(card)
        for i, f in enumerate(c["learned"]):
            label = "learned (tied)" if n == 1 else (names[i] if i in (0, n - 1) or n <= 4 else None)
            ax.plot(
                c["u"],
                f,
                color=cmap(i / max(1, n - 1)) if n > 1 else "C0",
                lw=1.6 if n == 1 else 1.0,
                label=label,
            )
        ax.plot(c["u"], c["quadratic"], "k--", lw=1.2, label="quadratic (u - r)^2/2")
        ax.plot(c["u"], c["kl"], "r:", lw=1.4, label="KL(u | r)")
        top = max(float(c["quadratic"].max()), float(c["kl"].max()))
        ax.set_ylim(-0.05 * top, 1.1 * top)
        ax.set_xlabel("u (estimated magnitude)")
        ax.set_ylabel("rho * f_r(u), shifted to min 0")
        ax.set_title(f"{card.name}: r = {r:g}")
        ax.legend(fontsize=8)
    fig.tight_layout()
    with atomic_output(args.out) as tmp:  # an existing file stays as it was if drawing fails
        fig.savefig(tmp, format=fmt, dpi=110)
    plt.close(fig)
    print(f"wrote {args.out}")
    return 0

"""`phasefold export RUN -o exported_models/NAME.onnx`: verified ONNX export, golden pair, model card."""

from __future__ import annotations

import argparse
from pathlib import Path

from phasefold.commands import nonempty_text
from phasefold.engine.errors import InputError
from phasefold.engine.stft import HOPS


def register(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "run_dir", metavar="RUN", type=nonempty_text, help="training run folder (its best.pt) or a checkpoint"
    )
    parser.add_argument("-o", "--out", type=nonempty_text, required=True, help="exported_models/NAME.onnx")
    parser.add_argument(
        "--name", type=nonempty_text, default=None, help="model name in the card (default: the file's stem)"
    )
    parser.add_argument(
        "--hop",
        type=int,
        choices=HOPS,
        default=None,
        help="export the trained parameters for another hop (the card records both)",
    )
    parser.add_argument("--no-eval", action="store_true", help="skip the test-split metrics in the card")
    parser.set_defaults(run=run)


def check_model_path(out: str) -> None:
    """Refuse, before any work, an exported model path that cannot be written: not a .onnx file, a folder,
    a read-only file, a folder to create under a file (missing folders are created when it is written)."""
    from phasefold.engine.outputs import check_output_path

    path = Path(out)
    if path.is_dir():
        check_output_path(path, "exported model")  # a folder, named as one
    if path.suffix != ".onnx":
        raise InputError(f"{out}: the exported model must be a .onnx file")
    if path.parent.is_dir():
        check_output_path(path, "exported model")
        return
    existing = next(p for p in path.parents if p.exists())  # '.' or '/' at the latest
    if not existing.is_dir():
        raise InputError(f"{out}: cannot create the folder {path.parent}: {existing} is a file")


def run(args: argparse.Namespace) -> int:
    try:
        import torch  # noqa: F401
    except ImportError:
        raise InputError("export needs PyTorch and onnx: pip install 'phasefold[train]'") from None
    from phasefold.training.export import export_run
    from phasefold.training.mel_export import export_mel_run, mel_run

    check_model_path(args.out)

    if mel_run(args.run_dir):
        if args.hop is not None:
            raise InputError("--hop: a mel model runs at its preset's STFT")
        card = export_mel_run(args.run_dir, args.out, evaluate=not args.no_eval, name=args.name)
    else:
        card = export_run(args.run_dir, args.out, hop=args.hop, evaluate=not args.no_eval, name=args.name)
    diffs = card.verification["max_abs_diff"]
    print(
        f"wrote {args.out} (+ .json card, .golden.npz); onnxruntime vs PyTorch max abs diff "
        + ", ".join(f"{k} {v:.2e}" for k, v in diffs.items())
    )
    for cond, m in (card.metrics or {}).get("test", {}).items():
        print(f"  test {cond}: " + ", ".join(f"{k} {v}" for k, v in m.items()))
    return 0

"""`phasefold train-stream`: train an unfolded model inside the streaming engine's loop (needs [train])."""

from __future__ import annotations

import argparse
import json

from phasefold.commands import (
    activation_pieces,
    non_negative_float,
    non_negative_int,
    nonempty_text,
    positive_float,
    positive_int,
    seed_int,
    thread_count,
)
from phasefold.commands.train import (
    add_data_arguments,
    add_pesq_weight_argument,
    add_training_stft_arguments,
    data_config,
    training_stft,
)
from phasefold.engine.errors import InputError
from phasefold.engine.model_card import LAYER_FORMS


def register(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--lookahead", "-L", type=non_negative_int, default=1, help="look-ahead L in frames (default 1)"
    )
    parser.add_argument(
        "--layers", type=positive_int, default=None, help="T, layers per window step (default 3)"
    )
    parser.add_argument(
        "--form",
        choices=LAYER_FORMS,
        default="admm",
        help="admm (default): unfolded ADMM layers; gla: unfolded fast Griffin-Lim layers (learned prox of "
        "the magnitudes and a learned momentum, no dual; untrained it is the engine's fgla, which beats ADMM "
        "on modified magnitudes); implies --fixed-b",
    )
    parser.add_argument(
        "--pieces",
        type=activation_pieces,
        default=None,
        help="C, pieces of the activation (default 3, at most 100)",
    )
    parser.add_argument(
        "--init",
        type=nonempty_text,
        default=None,
        metavar="MODEL.onnx",
        help="start every window position from an offline model (tied or untied, its card beside it): its "
        "layers, pieces, penalties and coverage floor are taken over, so epoch 0 is that model streamed",
    )
    parser.add_argument(
        "--no-position",
        action="store_true",
        help="one parameter set per layer instead of per (layer, frame position in the window)",
    )
    parser.add_argument(
        "--fixed-b",
        action="store_true",
        help="keep b = 2 in every prox (g1, g2 and the pieces still learn): the compiled step then needs "
        "no power of the magnitudes, which makes it cheaper",
    )
    add_training_stft_arguments(parser)
    add_data_arguments(parser)
    parser.add_argument("--epochs", type=positive_int, default=3)
    parser.add_argument("--steps", type=positive_int, default=12, help="steps per epoch (default 12)")
    parser.add_argument("--batch", type=positive_int, default=2)
    parser.add_argument("--lr", type=positive_float, default=5e-3)
    parser.add_argument(
        "--sc-weight",
        type=non_negative_float,
        default=0.2,
        help="loss = -STOI + w log10(spectral convergence) (default 0.2; 0 = pure -STOI)",
    )
    add_pesq_weight_argument(parser)
    parser.add_argument(
        "--truncate",
        type=positive_int,
        default=4,
        help="truncated back-propagation through the stream, in frames (default 4)",
    )
    parser.add_argument("--seed", type=seed_int, default=0)
    parser.add_argument(
        "--threads", type=thread_count, default=None, help="torch CPU threads (default: torch's)"
    )
    parser.add_argument("--resume", action="store_true", help="continue the run in --out")
    parser.add_argument("--out", type=nonempty_text, required=True, help="run folder, e.g. runs/stream-l1")
    parser.add_argument(
        "--export",
        type=nonempty_text,
        default=None,
        metavar="MODEL.onnx",
        help="then export the best checkpoint (verified, golden pair, card with test metrics); "
        "with --resume on a finished run, only exports",
    )
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from phasefold.commands.train import require_torch
    from phasefold.engine import limits

    if args.layers is not None:
        limits.check_layers(args.layers, "--layers")
    limits.check_lookahead(args.lookahead, "--lookahead")
    require_torch(args.threads)
    from phasefold.training.stream_train import StreamTrainConfig
    from phasefold.training.train import train

    if args.export:  # checked now, not after the training
        from phasefold.commands.export import check_model_path

        check_model_path(args.export)
    data = data_config(args)
    stft = training_stft(args)
    start = {"layers": args.layers or 3, "pieces": 3 if args.pieces is None else args.pieces}
    start.update(hop=stft.hop, n_fft=stft.n_fft, sample_rate=stft.sample_rate)
    if args.init:
        from phasefold.training.stream_train import settings_of_start

        start = settings_of_start(args.init)
        for name in ("layers", "pieces", "hop", "n_fft", "sample_rate"):
            given = getattr(args, name)
            if given is not None and given != start[name]:
                flag = name.replace("_", "-")
                raise InputError(f"--{flag} {given}: --init {args.init} has {start[name]}")
        if args.fixed_b:
            raise InputError("--fixed-b and --init: the start model's b is taken over, not fixed at 2")
        if args.form == "gla":
            raise InputError("--form gla and --init: the offline models are ADMM networks")
        start["init"] = args.init
    cfg = StreamTrainConfig(
        lookahead=args.lookahead,
        **start,
        position=not args.no_position,
        fixed_b=args.fixed_b or args.form == "gla",
        form=args.form,
        data=data,
        epochs=args.epochs,
        steps_per_epoch=args.steps,
        batch=args.batch,
        lr=args.lr,
        sc_weight=args.sc_weight,
        pesq_weight=args.pesq_weight,
        truncate=args.truncate,
        seed=args.seed,
    )
    summary = train(cfg, args.out, resume=args.resume)
    best = max(summary["validation"], key=lambda v: v["score"])
    print(
        f"trained in {summary['seconds']:.0f} s; best validation epoch {best['epoch']} (0 = untrained): "
        f"STOI {best['stoi']:.4f} ESTOI {best['estoi']:.4f} PESQ {best['pesq']:.3f}; run folder {args.out}"
    )
    if args.export:
        from phasefold.training.stream_export import export_stream_run

        card = export_stream_run(args.out, args.export)
        test = card.metrics["test"]
        print(
            f"exported {args.export} (W = {card.window_frames}, "
            f"parity {max(card.verification['max_abs_diff'].values()):.2g}); test: {json.dumps(test)}"
        )
    return 0

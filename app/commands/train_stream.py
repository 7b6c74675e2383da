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
    add_mel_argument,
    add_pesq_weight_argument,
    add_training_stft_arguments,
    data_config,
    mel_kind,
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
        "layers, pieces, penalties and coverage floor are taken over, so epoch 0 is that model streamed; "
        "or fine-tune a stream model made for the same -L (its form, b and positions taken over too)",
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
    add_mel_argument(parser)
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
        "--perturb",
        type=non_negative_float,
        default=0.0,
        metavar="EPS",
        help="train on the magnitudes multiplied by (1 + EPS n), n standard normal, drawn for every batch "
        "(the loss's spectral terms stay against the given magnitudes; default 0: none)",
    )
    parser.add_argument(
        "--consistency",
        type=non_negative_float,
        default=0.0,
        metavar="W",
        help="adds W x log10 of how much the stream amplifies a small change of its state within --truncate "
        "frames (a shadow run whose carried signal is multiplied by (1 + 1e-3 n) at every truncation "
        "point): a penalty on the stream's sensitivity to its input (twice the training cost; default 0)",
    )
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
    start = {
        "layers": args.layers or 3,
        "pieces": 3 if args.pieces is None else args.pieces,
        "position": not args.no_position,
        "fixed_b": args.fixed_b or args.form == "gla",
        "form": args.form,
        "hop": stft.hop,
        "n_fft": stft.n_fft,
        "sample_rate": stft.sample_rate,
    }
    if args.init:
        from phasefold.training.stream_train import settings_of_start

        taken = settings_of_start(args.init, args.lookahead)
        given = {"layers": args.layers, "pieces": args.pieces, "hop": args.hop, "n_fft": args.n_fft}
        given["sample_rate"] = args.sr
        for name, value in given.items():
            if value is not None and value != taken[name]:
                flag = {"sample_rate": "sr"}.get(name, name).replace("_", "-")
                raise InputError(f"--{flag} {value}: --init {args.init} has {taken[name]}")
        if "form" in taken:  # a stream model: fine-tuned as it is
            if args.fixed_b or args.form != "admm" or args.no_position:
                raise InputError(
                    "--fixed-b, --form and --no-position with --init of a stream model: taken from the model"
                )
        elif args.fixed_b:
            raise InputError("--fixed-b and --init: the start model's b is taken over, not fixed at 2")
        elif args.form == "gla":
            raise InputError("--form gla and --init: the offline models are ADMM networks")
        start = {**start, **taken, "init": args.init}
    cfg = mel_kind(args, StreamTrainConfig)(
        lookahead=args.lookahead,
        **start,
        data=data,
        epochs=args.epochs,
        steps_per_epoch=args.steps,
        batch=args.batch,
        lr=args.lr,
        sc_weight=args.sc_weight,
        pesq_weight=args.pesq_weight,
        truncate=args.truncate,
        perturb=args.perturb,
        consistency=args.consistency,
        seed=args.seed,
    )
    summary = train(cfg, args.out, resume=args.resume)
    best = max(summary["validation"], key=lambda v: v["score"])
    print(
        f"trained in {summary['seconds']:.0f} s; best validation epoch {best['epoch']} (0 = untrained): "
        f"STOI {best['stoi']:.4f} ESTOI {best['estoi']:.4f} PESQ {best['pesq']:.3f}; run folder {args.out}"
    )
    if args.export:
        from phasefold.training.mel_export import export_mel_run
        from phasefold.training.stream_export import export_stream_run

        card = (export_stream_run if args.mel is None else export_mel_run)(args.out, args.export)
        test = card.metrics["test"]
        print(
            f"exported {args.export} (W = {card.window_frames}, "
            f"parity {max(card.verification['max_abs_diff'].values()):.2g}); test: {json.dumps(test)}"
        )
    return 0

"""`phasefold train`: train a tied or untied unfolded-ADMM model (needs the [train] extra)."""

from __future__ import annotations

import argparse
import functools

from phasefold.commands import (
    activation_pieces,
    finite_float,
    non_negative_float,
    nonempty_text,
    positive_float,
    positive_int,
    seed_int,
    thread_count,
)
from phasefold.commands.options import add_rate_arguments, rate_stft
from phasefold.engine.errors import InputError


def register(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--variant", choices=("tied", "untied"), default="tied")
    parser.add_argument("--layers", type=positive_int, default=15, help="T, ADMM layers (default 15)")
    parser.add_argument(
        "--pieces",
        type=activation_pieces,
        default=3,
        help="C, pieces of the activation (default 3, at most 100)",
    )
    parser.add_argument(
        "--rho",
        type=positive_float,
        default=0.1,
        help="ADMM penalty rho of the layers (default 0.1, the published value; larger "
        "helps plain ADMM on modified magnitudes: docs/results.md)",
    )
    parser.add_argument(
        "--rho-end",
        type=positive_float,
        default=None,
        help="untied only: give each layer its own penalty, starting geometrically from "
        "--rho to this value and learned with the prox (an increasing schedule helps "
        "modified magnitudes: docs/results.md)",
    )
    add_data_arguments(parser)
    add_training_stft_arguments(parser)
    add_mel_argument(parser)
    parser.add_argument(
        "--validation-draws",
        type=positive_int,
        default=1,
        help="draws of start phase (and noise, for modified magnitudes) per validation "
        "utterance, averaged by the selection (default 1; 3 steadies the noisy modified "
        "scores at 3x the validation time)",
    )
    parser.add_argument("--epochs", type=positive_int, default=10)
    parser.add_argument("--steps", type=positive_int, default=30, help="steps per epoch (default 30)")
    parser.add_argument("--batch", type=positive_int, default=4)
    parser.add_argument("--lr", type=positive_float, default=3e-3)
    parser.add_argument(
        "--sc-weight",
        type=non_negative_float,
        default=1.0,
        help="loss = -STOI + w log10(spectral convergence) (default 1; 0 = pure -STOI)",
    )
    parser.add_argument(
        "--logmag-weight",
        type=non_negative_float,
        default=0.0,
        help="adds w x mean |log-magnitude error| (bins floored 60 dB below the peak), "
        "which weighs the quiet regions PESQ hears and STOI ignores (default 0)",
    )
    add_pesq_weight_argument(parser)
    parser.add_argument(
        "--anchored",
        action="store_true",
        help="learn only g1 per layer (with the pieces and penalties), b = 2 and g2 = 1 - g1, so that "
        "F(r, r) = r: each learned divergence is smallest at y = r (a free prox's shrinking or "
        "inflating layers hurt streaming)",
    )
    parser.add_argument(
        "--init",
        type=nonempty_text,
        metavar="MODEL.onnx",
        default=None,
        help="start from an exported model's parameters (read from its card; same variant, layers, "
        "pieces, hop and penalty schedule) instead of ADMM-l2; with --anchored, its prox is first "
        "projected onto the anchored family",
    )
    parser.add_argument(
        "--spectral-target",
        choices=("given", "clean"),
        default="given",
        help="magnitude the SC and log-magnitude terms compare with: the given "
        "(possibly modified) one, or the clean excerpt's, which is what every metric "
        "scores against (the same on exact magnitudes; default given)",
    )
    parser.add_argument("--seed", type=seed_int, default=0)
    parser.add_argument(
        "--threads", type=thread_count, default=None, help="torch CPU threads (default: torch's)"
    )
    parser.add_argument("--resume", action="store_true", help="continue the run in --out")
    parser.add_argument("--out", type=nonempty_text, required=True, help="run folder, e.g. runs/NAME")
    parser.set_defaults(run=run)


def add_mel_argument(parser: argparse.ArgumentParser) -> None:
    """--mel PRESET, shared by train and train-stream: a network whose input is that preset's mel."""
    from phasefold.engine.mel import PRESETS

    parser.add_argument(
        "--mel",
        choices=tuple(PRESETS),
        default=None,
        help="train for mel measurements: the input is this preset's mel, each layer's prox target the mel "
        "step of its estimate, the STFT the preset's (no --sr/--n-fft/--hop or modified data; --init only "
        "for train-stream, with a stream model of the same preset and look-ahead; training.mel_unfolded)",
    )


def mel_kind(args: argparse.Namespace, kind: type) -> type | functools.partial:
    """The run kind to build: ``kind``, or its mel twin (training.mel_train) with --mel; InputError for the
    options a mel run takes from its preset."""
    if args.mel is None:
        return kind
    given = [f for f, v in (("--sr", args.sr), ("--n-fft", args.n_fft), ("--hop", args.hop)) if v is not None]
    if given:
        raise InputError(f"{', '.join(given)} with --mel: a mel run trains at its preset's STFT")
    from phasefold.training.mel_train import MelStreamTrainConfig, MelTrainConfig
    from phasefold.training.stream_train import StreamTrainConfig

    twin = MelStreamTrainConfig if kind is StreamTrainConfig else MelTrainConfig
    return functools.partial(twin, mel=args.mel)


def add_training_stft_arguments(parser: argparse.ArgumentParser) -> None:
    """--sr (--sample-rate), --n-fft and --hop of the STFT a network is trained at (shared with train-stream;
    options.add_rate_arguments)."""
    add_rate_arguments(parser, "the network is trained at (n_fft a power of two for the exported graph)")


def training_stft(args: argparse.Namespace):
    """The StftConfig a network is trained at (options.rate_stft); InputError where the exported graph's FFT
    cannot serve it (n_fft not a power of two)."""
    cfg = rate_stft(args)
    if cfg.n_fft & (cfg.n_fft - 1):
        raise InputError(f"--n-fft {cfg.n_fft}: the exported graph's FFT needs a power of two")
    return cfg


def add_pesq_weight_argument(parser: argparse.ArgumentParser) -> None:
    """--pesq-weight, shared by train and train-stream."""
    parser.add_argument(
        "--pesq-weight",
        type=non_negative_float,
        default=0.0,
        help="adds w x a differentiable wide-band PESQ surrogate's disturbance (training/pesq_loss.py, "
        "after torch-pesq; lower is better), which targets PESQ directly (default 0: not computed)",
    )


def add_data_arguments(parser: argparse.ArgumentParser) -> None:
    """--data, --condition, --snr, --speed and --gain: the training data options shared with
    `phasefold train-stream`."""
    parser.add_argument(
        "--data", type=nonempty_text, default=None, help="folder of audio (default: the shared TIMIT split)"
    )
    parser.add_argument("--condition", choices=("exact", "modified"), default="exact")
    ranges = (
        ("--snr", (5.0, 5.0), "modified magnitudes: input SNR range in dB (default 5 5)"),
        (
            "--speed",
            (1.0, 1.0),
            "augment the training excerpts: a speed factor drawn in this range for each one, by "
            "resampling (pitch and tempo move together), e.g. 0.9 1.1 (default 1 1: none; validation is "
            "never augmented)",
        ),
        (
            "--gain",
            (0.0, 0.0),
            "augment the training excerpts: a gain in dB drawn in this range for each one, e.g. -12 6 "
            "(default 0 0: none)",
        ),
    )
    for flag, default, text in ranges:
        parser.add_argument(
            flag, type=finite_float, nargs=2, default=default, metavar=("LO", "HI"), help=text
        )


def data_config(args: argparse.Namespace, **extra):
    """The DataConfig of the data options (add_data_arguments)."""
    from phasefold.training.data import DataConfig

    return DataConfig(
        folder=args.data,
        condition=args.condition,
        snr_db=tuple(args.snr),
        speed=tuple(args.speed),
        gain_db=tuple(args.gain),
        **extra,
    )


def require_torch(threads: int | None) -> None:
    """Import PyTorch (a clear error without the [train] extra) and set its CPU threads if asked."""
    try:
        import torch
    except ImportError:
        raise InputError("training needs PyTorch: pip install 'phasefold[train]'") from None
    if threads:
        torch.set_num_threads(threads)


def run(args: argparse.Namespace) -> int:
    from phasefold.engine import limits

    limits.check_layers(args.layers, "--layers")
    require_torch(args.threads)
    from phasefold.training.config import TrainConfig
    from phasefold.training.train import train

    if args.rho_end is not None and args.variant != "untied":
        raise InputError("--rho-end needs --variant untied")
    data = data_config(args, validation_draws=args.validation_draws)
    stft = training_stft(args)
    cfg = mel_kind(args, TrainConfig)(
        variant=args.variant,
        layers=args.layers,
        pieces=args.pieces,
        rho=args.rho,
        rho_end=args.rho_end,
        hop=stft.hop,
        n_fft=stft.n_fft,
        sample_rate=stft.sample_rate,
        data=data,
        epochs=args.epochs,
        steps_per_epoch=args.steps,
        batch=args.batch,
        lr=args.lr,
        sc_weight=args.sc_weight,
        logmag_weight=args.logmag_weight,
        pesq_weight=args.pesq_weight,
        spectral_target=args.spectral_target,
        anchored=args.anchored,
        init=args.init,
        seed=args.seed,
    )
    summary = train(cfg, args.out, resume=args.resume)
    best = max(summary["validation"], key=lambda v: v["score"])
    print(
        f"trained in {summary['seconds']:.0f} s on {summary['device']}; best validation epoch "
        f"{best['epoch']}: STOI {best['stoi']:.4f} ESTOI {best['estoi']:.4f} PESQ {best['pesq']:.3f}; "
        f"run folder {args.out}"
    )
    return 0

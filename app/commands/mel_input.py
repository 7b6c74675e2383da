"""`phasefold reconstruct ... --mel PRESET`: audio from a mel spectrogram.

``mel.npy --mel hifigan`` reads an array in the preset's own layout and log scale (engine.mel: what that
project's code writes); ``speech.wav --mel hifigan`` computes the preset's mel of the recording first (for
trying and scoring). Either way ``phasefold.mel_to_audio(M, preset=...)`` reconstructs it (the mel-consistent
fast Griffin-Lim by default, or the mel method ``--method`` names: engine.mel_gla) into a WAV file at the
preset's rate; with --online the mel is fed to the streaming engine frame by frame instead
(commands.mel_online).
"""

from __future__ import annotations

import argparse
import sys
import time

from phasefold.commands import non_negative_float, positive_float, positive_int
from phasefold.commands.mel_online import ONLINE_OPTIONS, stream_mel

#: the options of `reconstruct` that a mel input does not take (the mel fixes the STFT; the method is one of
#: the mel methods, engine.registry.mel_spec), with their defaults
_NOT_WITH_MEL = {
    "snr": ("--snr", None),
    "init_phase_from": ("--init-phase-from", None),
    "online": ("--online", False),
    "lookahead": ("--lookahead", None),
    "block": ("--block", None),
    "step_iterations": ("--step-iterations", None),
    "init": ("--init", None),
    "backend": ("--backend", "auto"),
    "jobs": ("--jobs", 1),
}
#: the options of the linear STFT (reconstruct, evaluate) that a mel input takes from its --mel-* options
_STFT_NOT_WITH_MEL = {
    "sr": "--sr",
    "n_fft": "--n-fft",
    "hop": "--hop",
    "window": "--window",
    "win_length": "--win-length",
    "center": "--center",
    "pad_mode": "--pad-mode",
    "convention": "--convention",
}


def refuse_linear_stft(args: argparse.Namespace) -> None:
    """InputError, one line, for an option of the linear STFT given with --mel (its STFT is the mel's)."""
    from phasefold.engine.errors import InputError

    for key, flag in _STFT_NOT_WITH_MEL.items():
        if getattr(args, key, None) is not None:
            raise InputError(
                f"{flag} does not apply to a mel input (--mel): its STFT is the preset's; change it with "
                "the --mel-* options (--mel-sr, --mel-n-fft, --mel-hop, --mel-win-length)"
            )


#: engine.mel.PRESETS' names, written out: building the parser imports no numpy (a test keeps them equal)
MEL_PRESETS = ("hifigan", "espnet", "vocos", "librosa")

#: the --mel-* options: (flag, engine.mel.changed's keyword, argparse keywords, help)
MEL_OPTIONS = (
    ("--mel-sr", "sample_rate", {"type": positive_int, "metavar": "RATE"}, "sample rate in Hz"),
    ("--mel-n-fft", "n_fft", {"type": positive_int, "metavar": "N"}, "FFT size"),
    ("--mel-hop", "hop", {"type": positive_int, "metavar": "H"}, "hop between frames"),
    ("--mel-win-length", "win_length", {"type": positive_int, "metavar": "N"}, "window length (<= n_fft)"),
    ("--mel-n-mels", "n_mels", {"type": positive_int, "metavar": "N"}, "number of mel bands"),
    ("--mel-fmin", "fmin", {"type": non_negative_float, "metavar": "HZ"}, "lowest band edge"),
    ("--mel-fmax", "fmax", {"type": positive_float, "metavar": "HZ"}, "highest band edge (<= rate / 2)"),
    ("--mel-scale", "scale", {"choices": ("slaney", "htk")}, "mel scale of the band edges"),
    ("--mel-norm", "norm", {"choices": ("slaney", "none")}, "filter norm: slaney (area 1) or none (peak 1)"),
    ("--mel-power", "power", {"type": positive_float, "metavar": "P"}, "p in B |X|^p: 1 magnitude, 2 power"),
    ("--mel-log", "log_base", {"choices": ("none", "e", "10")}, "log of the values: none (linear), e, 10"),
    (
        "--mel-floor",
        "floor",
        {"type": positive_float, "metavar": "X"},
        "the mel clamped at X before the log (default the preset's; 1e-5 where --mel-log makes a linear "
        "preset log)",
    ),
    (
        "--mel-layout",
        "bands_last",
        {"choices": ("mels-frames", "frames-mels")},
        "array layout: [n_mels, frames] (librosa, HiFi-GAN, vocos) or [frames, n_mels] (ESPnet)",
    ),
)


def add_mel_argument(parser: argparse.ArgumentParser, streamed: bool = False) -> None:
    """--mel PRESET and the --mel-* options that change its settings (``mel_config``); ``streamed``: the
    help of `phasefold stream`'s."""
    how = (
        "streamed frame by frame by --method (gla, fgla, admm-<loss> or a stream mel model: --list-methods "
        "--mel PRESET; default the measured mel stream default) with the mel step at the preset's STFT and "
        "rate; not the microphone, not with the linear STFT options, --snr or a magnitude model"
        if streamed
        else "reconstructed by --method (gla, fgla, admm-<loss>; default fgla, --iterations default 100) "
        "with the mel step into a WAV at the preset's rate"
    )
    parser.add_argument(
        "--mel",
        choices=MEL_PRESETS,
        default=None,
        metavar="PRESET",
        help=f"the input is a mel spectrogram ({', '.join(MEL_PRESETS)}): a .npy array in that project's own "
        f"layout and log scale, or audio whose mel is computed first; {how}. The --mel-* options change the "
        "preset's settings (any other mel: start from the nearest preset, e.g. --mel librosa --mel-n-mels 80 "
        "--mel-log 10)",
    )
    group = parser.add_argument_group(
        "mel settings (with --mel: each changes the preset's; HiFi-GAN's outside padding (n_fft - hop) / 2 "
        "follows --mel-n-fft and --mel-hop)"
    )
    for flag, _, kwargs, text in MEL_OPTIONS:
        group.add_argument(flag, default=None, help=text, **kwargs)


def mel_config(args: argparse.Namespace):
    """The engine.mel.MelConfig of --mel and the --mel-* options (None without --mel); InputError, one line,
    for a --mel-* option without --mel and for settings that do not fit together."""
    from phasefold.engine.errors import InputError
    from phasefold.engine.mel import LOG_BASES, PRESETS, changed

    given = {
        key: getattr(args, flag[2:].replace("-", "_"))
        for flag, key, _, _ in MEL_OPTIONS
        if getattr(args, flag[2:].replace("-", "_"), None) is not None
    }
    if args.mel is None:
        if given:
            flag = next(f for f, key, _, _ in MEL_OPTIONS if key in given)
            raise InputError(f"{flag} changes a mel preset's settings: give --mel PRESET too")
        return None
    if "norm" in given:
        given["norm"] = None if given["norm"] == "none" else given["norm"]
    if "log_base" in given:
        given["log_base"] = LOG_BASES[given["log_base"]]
    if "bands_last" in given:
        given["bands_last"] = given["bands_last"] == "frames-mels"
    return changed(PRESETS[args.mel], **given)


def mel_words(args: argparse.Namespace) -> str:
    """The mel of --mel and --mel-* in words: "the hifigan mel" or "the hifigan mel (--mel-fmax 11025)"."""
    changes = [
        f"{flag} {getattr(args, flag[2:].replace('-', '_'))}"
        for flag, _, _, _ in MEL_OPTIONS
        if getattr(args, flag[2:].replace("-", "_"), None) is not None
    ]
    return f"the {args.mel} mel" + (f" ({' '.join(changes)})" if changes else "")


def reconstruct_mel(args: argparse.Namespace) -> int:
    """Reconstruct ``args.input`` (a .npy mel or audio) with the preset ``args.mel`` into ``args.output``."""
    import numpy as np
    from phasefold.engine.errors import InputError
    from phasefold.engine.mel import linear_mel, melspectrogram
    from phasefold.engine.mel_gla import DEFAULT_MEL_METHOD
    from phasefold.engine.mel_inputs import read_mel
    from phasefold.engine.outputs import check_output_path, output_subtype, write_wav
    from phasefold.engine.registry import mel_spec
    from phasefold.mel import PRESET_ITERATIONS, mel_to_audio

    taken = ONLINE_OPTIONS if args.online else ()
    given = [
        flag
        for key, (flag, default) in _NOT_WITH_MEL.items()
        if key not in taken and getattr(args, key, default) != default
    ]
    if given:
        raise InputError(
            f"{given[0]} does not apply to a mel input (--mel): it runs a mel method offline, or with "
            "--online a stream method, at the preset's STFT"
        )
    chosen = DEFAULT_MEL_METHOD if args.method is None else args.method
    spec = mel_spec(chosen, stream=args.online)
    refuse_linear_stft(args)
    cfg = mel_config(args)
    mel_spec(chosen, cfg, stream=args.online)  # a mel model given another mel: one line, before reading
    if args.input is None or args.input.is_dir():
        raise InputError("--mel takes one INPUT file (a .npy mel array or audio) and -o OUT.wav")
    if args.output is None or args.output.suffix.lower() != ".wav":
        raise InputError("give the output .wav file with -o OUT.wav")
    check_output_path(args.output, "audio", inputs=(args.input,))
    read = read_mel(args.input, cfg)
    for text in read.notes:
        print(f"phasefold reconstruct: note: {args.input.name}: {text}", file=sys.stderr)
    mel, target = read.mel, read.linear
    length = None if read.audio is None else read.audio.size
    subtype = output_subtype(read.sample_format, args.format)
    start = time.perf_counter()
    if args.online:
        y, ran = stream_mel(args, mel, cfg, length)
        ran += f", streamed from {mel_words(args)}"
    else:
        y = mel_to_audio(
            mel, preset=cfg, n_iter=args.iterations, seed=args.seed, length=length, method=chosen
        )
        default = spec.iterations if spec.mel_model else PRESET_ITERATIONS
        how = "the mel model" if spec.mel_model else "with the mel step"
        count = spec.describe_offline(default if args.iterations is None else args.iterations)
        ran = f"{spec.name} {how} from {mel_words(args)}, {count}"
    wall = time.perf_counter() - start
    made = linear_mel(melspectrogram(y, cfg), cfg)[: target.shape[0]]
    error_db = 20 * np.log10(np.linalg.norm(made - target[: made.shape[0]]) / np.linalg.norm(target))
    for text in write_wav(args.output, y, cfg.stft.sample_rate, subtype):
        print(f"phasefold reconstruct: note: {text}", file=sys.stderr)
    seconds = y.size / cfg.stft.sample_rate
    print(
        f"wrote {args.output} ({seconds:.2f} s, {cfg.stft.sample_rate} Hz): {ran}, {wall:.2f} s "
        f"(RTF {wall / max(seconds, 1e-9):.3f}), mel convergence {error_db:.1f} dB"
    )
    return 0

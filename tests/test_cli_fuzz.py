"""A fuzz test of the whole command line, generated from its argparse parsers.

Every sub-command's every option is crossed with classes of values (a valid one, each choice, negative,
zero, huge, NaN, inf, empty, non-numeric text, a missing value, a missing path, a folder, a path with odd
characters, the option repeated) and every input slot with input formats (WAV in five sample formats,
FLAC, OGG, stereo 44.1 kHz, .npz magnitude files valid and broken, text named .wav, empty, truncated,
folders). The expected outcome comes from the parser's own declarations (an option's type, its minimum,
its choices, its nargs) and from the kind of value, never from running the option's parser:

- invalid: stderr is exactly one line ``phasefold COMMAND: error: ...`` naming the culprit, the exit
  status is non-zero, there is no traceback, nothing new is written (output folder and working folder)
  and an existing output file keeps its bytes;
- valid: exit status 0 (and the output is written);
- either: one of the two, cleanly (values whose meaning is the command's to decide).

Commands run in-process through ``phasefold.cli.main`` with captured stdout and stderr (an exception that
escapes main counts as the traceback Python would print); a few run in a real subprocess as well, to show
the in-process harness sees what a user sees. The heavy commands (train, train-stream, export, demo) run
their checks for real and stop where the work would start (``_Reached``): an invalid value that reaches the
work is a failure; gui runs until it finds no display (one line), which is as far as a valid gui call gets
here.
"""

from __future__ import annotations

import argparse
import contextlib
import inspect
import io
import math
import os
import re
import shutil
import subprocess
import sys
import traceback
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from phasefold.cli import build_parser, main
from phasefold.commands import options as shared_options
from phasefold.engine.demo import demo_signal
from phasefold.engine.inputs import save_magnitudes
from phasefold.engine.stft import SAMPLE_RATE, StftConfig, magnitude
from phasefold.exported_models import MODELS_DIR

#: engine/limits.py (docs/limits.md) refuses what would ask for huge work: a huge L, B, iteration or layer
#: count, bench's --seconds / --rounds / --soak (frames and passes), and input files whose header asks for
#: it (before, `--online -L 100000` ran for ever); those cases (``needs_limits``) expect one line naming
#: the limit, before any work
#: the option destinations whose huge values need those limits (refused with one line once they are in)
LIMITED_DESTS = {"lookahead", "block", "iterations", "step_iterations", "layers", "jobs"}
#: (command, dest) whose huge values are frames or passes of the work itself (limits: frames, iterations)
LIMITED_WORK = {("bench", "seconds"), ("bench", "rounds"), ("bench", "soak")}

#: the commands whose real work is too heavy for a fuzz: their checks run, the work is replaced by _Reached
STUBBED = {"train", "train-stream", "export", "demo"}
HUGE_INT = "1" + "0" * 30
HUGE_FLOAT = "1e30"
MODEL = MODELS_DIR / "unfolded-tied.onnx"


class _Reached(Exception):
    """Raised where a stubbed command's work would start: every check before it passed."""


# -- the parsers -------------------------------------------------------------------------------------------


def _subparsers() -> dict[str, argparse.ArgumentParser]:
    parser = build_parser()
    (sub,) = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    return dict(sub.choices)


PARSERS = _subparsers()


def _options(parser: argparse.ArgumentParser) -> list[argparse.Action]:
    return [a for a in parser._actions if not isinstance(a, (argparse._HelpAction, argparse._VersionAction))]


def _bound(kind_fn) -> tuple[str, float] | None:
    """(kind, minimum) of a ranged argparse type declared in phasefold.commands: ('int', m) for a whole
    number >= m, ('float', m) for a finite number > m ('pos') or >= m, ('list', m) for int lists; read from
    the type's closure (what the parser declares), None for any other type."""
    if kind_fn is None or not callable(kind_fn):
        return None
    name = getattr(kind_fn, "__qualname__", "")
    nonlocal_vars = inspect.getclosurevars(kind_fn).nonlocals if hasattr(kind_fn, "__code__") else {}
    if name.startswith("_int_at_least"):
        return ("int", nonlocal_vars["minimum"])
    if name.startswith("int_list"):
        return ("list", inspect.getclosurevars(nonlocal_vars["one"]).nonlocals["minimum"])
    if name.startswith("_float_where"):
        what = nonlocal_vars["what"]
        return (
            ("float>", 0.0) if "> 0" in what else ("float>=", 0.0) if ">= 0" in what else ("float", -math.inf)
        )
    if name == "hop_size":
        return ("hop", 1)
    return None


def _number_valid(bound: tuple[str, float], text: str) -> bool:
    """Whether ``text`` is a valid value of a ranged option, by the declared bound (independent of the
    option's own parser)."""
    kind, minimum = bound
    if kind in ("int", "list", "hop"):
        try:
            values = [int(t) for t in text.split(",")] if kind == "list" else [int(text)]
        except ValueError:
            return False
        if kind == "hop":
            return all(v >= 1 and 1024 % v == 0 and v <= 512 for v in values)
        return all(v >= minimum for v in values)
    try:
        value = float(text)
    except ValueError:
        return False
    if not math.isfinite(value):
        return False
    return value > 0 if kind == "float>" else value >= 0 if kind == "float>=" else True


# -- the cases ---------------------------------------------------------------------------------------------


@dataclass
class Case:
    command: str
    argv: list[str]  # with placeholders {NAME} resolved by _resolve
    expect: str  # invalid | valid | either
    culprit: tuple[str, ...] = ()  # an invalid case's error line names one of these
    needs_limits: bool = False
    label: str = ""
    real: bool = False  # a heavy command run to the end (not stopped where its work starts)
    cause: tuple[str, ...] = ()  # an invalid case's line says one of these (the reason, not only the name)

    @property
    def id(self) -> str:
        return f"{self.command}:{self.label}"


#: a valid call of each command, cheap (tiny inputs, few iterations); {OUT*} name the output files
BASE: dict[str, list[str]] = {
    "reconstruct": ["{wav16}", "-o", "{OUT.wav}", "-m", "fgla"],
    "stream": ["-i", "{npz}", "-o", "{OUT.wav}", "-m", "fgla"],
    "evaluate": ["{long16}", "--methods", "fgla", "--iterations", "2", "--json", "{OUT.json}"],
    "bench": [
        *("--methods", "fgla", "-L", "0", "-B", "1", "--seconds", "0.2", "--rounds", "1"),
        *("--backends", "numpy", "--json", "{OUT.json}"),
    ],
    "divergence": ["unfolded-tied", "-o", "{OUT.png}", "--r", "1"],
    "train": ["--data", "{data}", "--epochs", "1", "--steps", "1", "--batch", "1", "--out", "{OUTDIR}"],
    "train-stream": [
        "--data",
        "{data}",
        "--epochs",
        "1",
        "--steps",
        "1",
        "--batch",
        "1",
        "--out",
        "{OUTDIR}",
    ],
    "export": ["{run}", "-o", "{OUT.onnx}", "--no-eval"],
    "gui": ["-m", "fgla"],
    "demo": ["--no-gui", "-o", "{OUT.wav}", "-m", "fgla"],
}

#: the base call of an option that needs another option or another input to be valid
OPTION_BASE = {
    ("stream", "snr"): ["-i", "{wav16}", "-o", "{OUT.wav}", "-m", "fgla"],
    ("stream", "score"): ["-i", "{wav16}", "-o", "{OUT.wav}", "-m", "fgla"],
    ("train", "rho_end"): [*BASE["train"], "--variant", "untied"],
    ("stream", "model"): ["-i", "{npz}", "-o", "{OUT.wav}"],
    ("bench", "soak_method"): [*BASE["bench"], "--soak", "0.5"],
    # --record records a sound card's output: one that cannot be opened falls back to the recording
    ("stream", "record"): ["-i", "{npz}", "-o", "no-such-device-xyz", "-m", "fgla"],
    # a mel input takes the mel methods only (the default: the mel-consistent FGLA): no -m; two iterations
    # keep it short
    ("reconstruct", "mel"): ["{wav16}", "-o", "{OUT.wav}", "--iterations", "2"],
    # the STFT of audio input (a .npz file carries its own); --pad-mode pads centred frames
    **{
        ("stream", dest): ["-i", "{wav16}", "-o", "{OUT.wav}", "-m", "fgla"]
        for dest in ("window", "win_length", "center", "convention")
    },
    ("stream", "pad_mode"): ["-i", "{wav16}", "-o", "{OUT.wav}", "-m", "fgla", "--center"],
    ("reconstruct", "pad_mode"): [*BASE["reconstruct"], "--center"],
    ("evaluate", "pad_mode"): [*BASE["evaluate"], "--center"],
    # a mel is streamed from audio (or a .npy array), not from a .npz file, by a mel method (the default: the
    # mel-consistent FGLA): no -m
    ("stream", "mel"): ["-i", "{wav16}", "-o", "{OUT.wav}"],
    # the --mel-* options change a preset's settings: they need --mel
    **{
        (command, f"mel_{key}"): [*base, "--mel", "librosa"]
        for command, base in (
            ("reconstruct", ["{wav16}", "-o", "{OUT.wav}", "--iterations", "2"]),
            ("evaluate", BASE["evaluate"]),
            ("stream", ["-i", "{wav16}", "-o", "{OUT.wav}"]),
        )
        for key in (
            *("sr", "n_fft", "hop", "win_length", "n_mels", "fmin", "fmax"),
            *("scale", "norm", "power", "log", "floor", "layout"),
        )
    },
}
#: options refused here whatever their value: --seconds stops the microphone, which this machine lacks
REFUSED_HERE = {("stream", "seconds")}
#: the input file of each command's base call (an output named as it is refused)
INPUT_OF = {"reconstruct": "{wav16}", "stream": "{npz}", "evaluate": "{long16}"}
#: inputs of no sound: refused where they are reconstructed or scored, streamed as silence elsewhere
SILENT_INPUTS = {"silent.wav", "npz-silent-reference"}
#: a valid value of an option without a usable default, by (command or '*', dest)
VALID_VALUE = {
    ("*", "method"): "fgla",
    ("*", "methods"): "fgla",
    ("bench", "methods"): "fgla",
    ("*", "lookahead"): "1",
    ("*", "block"): "2",
    ("*", "step_iterations"): "2",
    ("*", "iterations"): "3",
    ("*", "snr"): "10",
    ("*", "seconds"): "0.3",
    ("*", "soak"): "0.5",
    ("*", "rho_end"): "0.2",
    ("*", "threads"): "1",
    ("*", "quit_after"): "1",
    ("*", "soak_method"): "fgla",
    ("*", "name"): "fuzzed",
    ("*", "hop"): "256",
    ("*", "sr"): "16000",
    ("*", "n_fft"): "512",
    ("stream", "n_fft"): "1024",  # the base call streams a .npz file: its own n_fft
    ("*", "win_length"): "800",
    # the --mel-* options over the librosa preset (22050 Hz, 2048 / 512, 128 bands, power 2)
    ("*", "mel_sr"): "16000",
    ("*", "mel_n_fft"): "1024",
    ("*", "mel_hop"): "256",
    ("*", "mel_win_length"): "1024",
    ("*", "mel_n_mels"): "64",
    ("*", "mel_fmin"): "50",
    ("*", "mel_fmax"): "8000",
    ("*", "mel_power"): "1",
    ("*", "mel_floor"): "1e-6",
    ("bench", "backends"): "numpy",
    ("bench", "lookahead"): "0,1",
    ("bench", "block"): "1,2",
}
#: options whose value is a path or a name; their classes are generated by role (below)
ROLES = {
    ("reconstruct", "output"): "out.wav",
    ("stream", "output"): "sink",
    ("stream", "record"): "out.wav",
    ("stream", "model"): "model",
    ("stream", "input"): "input",
    ("evaluate", "json"): "out.json",
    ("bench", "json"): "out.json",
    ("bench", "input"): "input",
    ("divergence", "out"): "out.png",
    ("divergence", "model"): "model",
    ("export", "out"): "out.onnx",
    ("export", "run_dir"): "run",
    ("train", "out"): "outdir",
    ("train-stream", "out"): "outdir",
    ("train", "data"): "data",
    ("train-stream", "data"): "data",
    ("train", "init"): "model",
    ("train-stream", "init"): "model",
    ("train-stream", "export"): "out.onnx",
    ("gui", "input"): "input",
    ("gui", "screenshot"): "out.png",
    ("demo", "screenshot"): "out.png",
    ("gui", "output"): "device",
    ("demo", "output"): "sink",
    ("reconstruct", "input"): "input",
    ("evaluate", "paths"): "input",
    ("reconstruct", "init_phase_from"): "reference",
}


def _flag(action: argparse.Action) -> str:
    return max(action.option_strings, key=len)


def _base_without(command: str, action: argparse.Action, base: list[str] | None = None) -> list[str]:
    """The command's base call (or ``base``) without ``action``'s own occurrence (flag and value)."""
    argv = list(BASE[command] if base is None else base)
    for flag in action.option_strings:
        if flag in argv:
            i = argv.index(flag)
            n = 0 if action.nargs == 0 else (action.nargs if isinstance(action.nargs, int) else 1)
            del argv[i : i + 1 + n]
    return argv


def _online(argv: list[str]) -> list[str]:
    """``argv`` streamed: --online added, an offline --iterations count dropped."""
    if "--iterations" in argv:
        i = argv.index("--iterations")
        argv = argv[:i] + argv[i + 2 :]
    return [*argv, "--online"]


def _base_of(command: str, action: argparse.Action) -> list[str]:
    """The base call for a case of ``action``: its own base where one option needs another (OPTION_BASE),
    without the option's own occurrence."""
    return _base_without(command, action, OPTION_BASE.get((command, action.dest)))


def _needs_online(command: str, action: argparse.Action) -> bool:
    parser = PARSERS[command]
    has_online = any(a.dest == "online" for a in _options(parser))
    return has_online and action.dest in {attr for _, attr in shared_options.STREAM_OPTIONS}


def _with(command: str, action: argparse.Action, values: list[str] | None, repeat: int = 1) -> list[str]:
    """The base call with ``action`` given ``values`` (None: the flag alone), ``repeat`` times."""
    argv = _base_of(command, action)
    if _needs_online(command, action):
        argv = _online(argv)
    for _ in range(repeat):
        argv += [_flag(action)] + ([] if values is None else values)
    return argv


def _valid_value(command: str, action: argparse.Action) -> str | None:
    if action.choices:
        return str(next(iter(action.choices)))
    for key in ((command, action.dest), ("*", action.dest)):
        if key in VALID_VALUE:
            return VALID_VALUE[key]
    if action.default is not None and not isinstance(action.default, (list, tuple, bool)):
        return str(action.default)
    return None


def _number_cases(command: str, action: argparse.Action, bound) -> list[Case]:
    cases = []
    # declared only to be refused with one line, or refused here whatever its value
    refused = action.help == argparse.SUPPRESS or (command, action.dest) in REFUSED_HERE
    nargs = action.nargs if isinstance(action.nargs, int) else 1
    culprit = tuple(action.option_strings)
    classes = {
        "negative": "-1",
        "zero": "0",
        "huge": HUGE_FLOAT if bound[0].startswith("float") else HUGE_INT,
        "nan": "nan",
        "inf": "inf",
        "minus-inf": "-inf",
        "empty": "",
        "text": "abc",
        "fraction": "1.5",
        "comma": "1,,2",
    }
    valid = _valid_value(command, action)
    if valid is not None:
        classes["valid"] = valid
    for name, value in classes.items():
        ok = _number_valid(bound, value) and not refused
        if name == "comma" and bound[0] == "list":
            ok = not refused  # empty items are skipped: 1,,2 is 1,2
        needs_limits = (
            name == "huge" and ok and (action.dest in LIMITED_DESTS or (command, action.dest) in LIMITED_WORK)
        )
        if command in ("gui", "demo") and action.dest in ("lookahead", "block") and name == "huge":
            ok, needs_limits = False, False  # the window's own range (0..8, 1..8) refuses it already
        expect = "valid" if ok else "invalid"
        if ok and name != "valid":
            expect = "either"  # the command may refuse a value argparse accepts (e.g. --r, --gain 1e30)
        if needs_limits:
            expect = "invalid"  # engine/limits.py: one line naming the limit, before any work
        cases.append(
            Case(
                command,
                _with(command, action, [value] * nargs),
                expect,
                (*culprit, value),
                needs_limits,
                f"{action.dest}={name}",
            )
        )
    if nargs > 1:  # too few values
        cases.append(
            Case(
                command,
                _with(command, action, [valid or "1"]),
                "invalid",
                culprit,
                label=f"{action.dest}=one-of-{nargs}",
            )
        )
    cases.append(
        Case(
            command,
            _base_without(command, action) + [_flag(action)],
            "invalid",
            culprit,
            label=f"{action.dest}=missing-value",
        )
    )
    if valid is not None and not refused:
        cases.append(
            Case(
                command,
                _with(command, action, [valid] * nargs, repeat=2),
                "valid",
                culprit,
                label=f"{action.dest}=repeated",
            )
        )
    return cases


def _choice_cases(command: str, action: argparse.Action) -> list[Case]:
    culprit = tuple(action.option_strings)
    cases = [
        Case(command, _with(command, action, [str(c)]), "valid", culprit, label=f"{action.dest}={c}")
        for c in action.choices
    ]
    first = str(next(iter(action.choices)))
    for name, value in {
        "bogus": "bogus",
        "empty": "",
        "case": first.swapcase() if first.swapcase() != first else first + "x",
    }.items():
        cases.append(
            Case(command, _with(command, action, [value]), "invalid", culprit, label=f"{action.dest}={name}")
        )
    cases.append(
        Case(
            command,
            _base_without(command, action) + [_flag(action)],
            "invalid",
            culprit,
            label=f"{action.dest}=missing-value",
        )
    )
    return cases


def _flag_cases(command: str, action: argparse.Action) -> list[Case]:
    culprit = tuple(action.option_strings)
    expect = "either"  # a flag may conflict with the base (e.g. --resume of a new run)
    return [
        Case(command, _with(command, action, None), expect, culprit, label=f"{action.dest}=given"),
        Case(
            command, _with(command, action, None, repeat=2), expect, culprit, label=f"{action.dest}=repeated"
        ),
        Case(
            command,
            _base_without(command, action) + [f"{_flag(action)}=yes"],
            "invalid",
            culprit,
            label=f"{action.dest}=with-value",
        ),
    ]


def _role_values(role: str, command: str) -> dict[str, tuple[str, str]]:
    """class -> (value, expectation) for an option of ``role`` of ``command``."""
    values = _role_classes(role)
    if "input-file" in values:
        if command in INPUT_OF:
            values["input-file"] = (INPUT_OF[command], "invalid")
        else:
            del values["input-file"]
    return values


def _role_classes(role: str) -> dict[str, tuple[str, str]]:
    out_suffix = role[4:] if role.startswith("out.") else None
    if out_suffix is not None:
        return {
            "new-file": ("{NEW." + out_suffix + "}", "valid"),
            "odd-name": ("{ODD." + out_suffix + "}", "valid"),
            "folder": ("{OUTFOLDER}", "invalid"),
            # an exported model's folder is created (exported_models/NAME.onnx), other outputs' are not
            "missing-folder": ("{MISSING}/x." + out_suffix, "valid" if out_suffix == "onnx" else "invalid"),
            "under-a-file": ("{OUT.wav}/x." + out_suffix, "invalid"),
            "empty": ("", "invalid"),
            "input-file": ("", "invalid"),
            **({} if out_suffix == "json" else {"wrong-suffix": ("{NEW.txt}", "invalid")}),
        }
    if role == "outdir":
        return {
            "new-folder": ("{OUTDIR}", "valid"),
            "existing-file": ("{OUT.wav}", "invalid"),
            "missing-parent": ("{MISSING}/run", "either"),
            "empty": ("", "invalid"),
        }
    if role in ("sink", "device"):
        # an output device that cannot be opened falls back to the null sink with a note (by design)
        values = {"null": ("null", "valid"), "bogus-device": ("no-such-device-xyz", "either")}
        if role == "sink":
            values |= {
                "new-file": ("{NEW.wav}", "valid"),
                "folder": ("{OUTFOLDER}", "invalid"),
                "missing-folder": ("{MISSING}/x.wav", "invalid"),
                "input-file": ("", "invalid"),
                "wrong-suffix": ("{NEW.txt}", "invalid"),
            }
        else:
            values["file"] = ("{NEW.wav}", "invalid")
        return values
    if role == "model":
        return {
            "shipped": (str(MODEL), "valid"),
            "missing": ("{MISSING}/m.onnx", "invalid"),
            "folder": ("{OUTFOLDER}", "invalid"),
            "text.onnx": ("{text.onnx}", "invalid"),
            "empty.onnx": ("{empty.onnx}", "invalid"),
            "no-card.onnx": ("{nocard.onnx}", "invalid"),
            "bad-card.onnx": ("{badcard.onnx}", "invalid"),
            "empty": ("", "invalid"),
        }
    if role == "data":
        return {
            "folder": ("{data}", "valid"),
            "missing": ("{MISSING}", "invalid"),
            "empty-folder": ("{emptydir}", "invalid"),
            "a-file": ("{wav16}", "invalid"),
            "empty": ("", "invalid"),
        }
    if role == "reference":  # a recording whose phase starts the method: as many frames as the input
        return {
            "same-length": ("{wavfloat}", "valid"),
            "input-itself": ("{wav16}", "valid"),
            "other-length": ("{long16}", "invalid"),
            "missing": ("{MISSING}/x.wav", "invalid"),
            "folder": ("{OUTFOLDER}", "invalid"),
            "text.wav": ("{text.wav}", "invalid"),
            "npz": ("{npz}", "invalid"),
            "empty": ("", "invalid"),
        }
    if role == "run":
        return {
            "run-folder": ("{run}", "valid"),
            "missing": ("{MISSING}", "invalid"),
            "empty-folder": ("{emptydir}", "invalid"),
            "text.pt": ("{text.pt}", "invalid"),
            "empty.pt": ("{empty.pt}", "invalid"),
            "empty": ("", "invalid"),
        }
    raise AssertionError(role)


#: the input files: name -> (how it is made, whether an audio/.npz input slot takes it)
INPUTS_VALID = [
    "wav16",
    "wav24",
    "wav32",
    "wavfloat",
    "wavdouble",
    "flac",
    "ogg",
    "stereo44k",
    "npz",
    "npzint",
    "oddname",
]
INPUTS_INVALID = [
    "text.wav",
    "empty.wav",
    "truncated.wav",
    "header-only.wav",
    "silent.wav",
    "nan.wav",
    "folder.wav",
    "missing.wav",
    "text.npz",
    "empty.npz",
    "truncated.npz",
    "npz-no-magnitudes",
    "npz-no-n_fft",
    "npz-1d",
    "npz-3d",
    "npz-wrong-bins",
    "npz-no-frames",
    "npz-nan",
    "npz-inf",
    "npz-negative",
    "npz-complex",
    "npz-strings",
    "npz-bool",
    "npz-pickled",
    "npz-hop-0",
    "npz-hop-text",
    "npz-n_fft-pair",
    "npz-rate-0",
    "npz-rate-negative",
    "npz-power-nan",
    "npz-power-0",
    "npz-length-mismatch",
    "npz-length-negative",
    "npz-reference-short",
    "npz-reference-nan",
    "npz-silent-reference",
    "emptydir",
    "empty-name",
]
#: input files a command may read in part or refuse (a WAV whose data chunk is cut short): no traceback
INPUTS_EITHER = ["cut-data.wav"]
#: input files refused by engine/limits.py (the work they ask for is huge)
INPUTS_LIMITED = ["wav-1hz", "npz-rate-1", "npz-rate-huge"]


def _input_slots(command: str) -> list[argparse.Action]:
    """The options and positionals of ``command`` that take an input file."""
    slots = []
    for action in _options(PARSERS[command]):
        if ROLES.get((command, action.dest)) == "input":
            slots.append(action)
    return slots


def _input_cases(command: str) -> list[Case]:
    cases = []
    for action in _input_slots(command):
        for name in INPUTS_VALID + INPUTS_INVALID + INPUTS_EITHER + INPUTS_LIMITED:
            value = "{" + name + "}"
            expect = "valid" if name in INPUTS_VALID else "invalid"
            if name in INPUTS_EITHER or (
                name in SILENT_INPUTS and command not in ("reconstruct", "evaluate")
            ):
                expect = "either"
            if command == "gui" and expect == "valid":
                expect = "no-display"
            if command == "bench" and name.startswith("npz"):
                expect = "invalid"  # bench streams audio it measures itself: a .npz file is refused
            if command == "reconstruct" and name == "npz-3d":
                expect = "valid"  # [1, F, K]: one channel with its channel dimension (streams take [F, K])
            culprit = (value,)
            if action.option_strings:
                argv = _base_without(command, action) + [_flag(action), value]
            else:
                base = list(BASE[command])
                base[0] = value  # the positional input comes first in the base call
                argv = base
            cases.append(
                Case(
                    command,
                    argv,
                    expect,
                    culprit,
                    needs_limits=name in INPUTS_LIMITED,
                    label=f"{action.dest}={name}",
                )
            )
            if command in ("reconstruct", "evaluate") and name in ("wav16", "npz", "text.wav", "npz-nan"):
                cases.append(
                    Case(command, _online(argv), expect, culprit, label=f"{action.dest}={name}+online")
                )
    return cases


#: a refused path of each class must be refused for its own reason: one of these words is in the line
CAUSE_WORDS = {
    "folder": ("folder",),
    "missing": ("no such", "does not exist", "not found"),
    "missing-folder": ("does not exist", "no such"),
    "under-a-file": ("is a file", "not a folder"),
    "wrong-suffix": (".wav", ".png", ".onnx"),
    "input-file": ("is also the input",),
    "empty": ("empty",),
}


def _role_cases(command: str, action: argparse.Action, role: str) -> list[Case]:
    cases = []
    culprit = tuple(action.option_strings)
    for name, (value, expect) in _role_values(role, command).items():
        if action.option_strings:
            argv = _base_of(command, action) + [_flag(action), value]
        else:
            argv = list(BASE[command])
            argv[0] = value
            culprit = (value,)
        if command == "gui" and expect == "valid":
            expect = "no-display"
        cause = CAUSE_WORDS.get(name, ()) if expect == "invalid" else ()
        if action.dest in ("screenshot",) and command in ("gui", "demo"):
            argv += ["--quit-after", "1"]
            if command == "demo":  # the screenshot needs the window, which --no-gui has not: any path
                expect, cause = "invalid", ()
        cases.append(
            Case(command, argv, expect, culprit + (value,), label=f"{action.dest}={name}", cause=cause)
        )
    return cases


def generate() -> list[Case]:
    cases: list[Case] = []
    for command, parser in PARSERS.items():
        cases.append(
            Case(command, list(BASE[command]), "no-display" if command == "gui" else "valid", label="base")
        )
        cases.append(
            Case(
                command,
                BASE[command] + ["--no-such-option"],
                "invalid",
                ("--no-such-option",),
                label="unknown-option",
            )
        )
        cases.append(Case(command, BASE[command] + ["stray"], "invalid", ("stray",), label="stray-argument"))
        cases += _input_cases(command)
        for action in _options(parser):
            role = ROLES.get((command, action.dest))
            if role == "input":
                continue
            if role is not None:
                cases += _role_cases(command, action, role)
            elif action.nargs == 0:
                cases += _flag_cases(command, action)
            elif action.choices:
                cases += _choice_cases(command, action)
            elif (bound := _bound(action.type)) is not None:
                cases += _number_cases(command, action, bound)
            elif action.dest in ("method", "methods", "soak_method"):
                culprit = tuple(action.option_strings)
                for name, value in {
                    "bogus": "bogus-method",
                    "empty": "",
                    "comma": ",",
                    "model-missing": "{MISSING}/m.onnx",
                }.items():
                    cases.append(
                        Case(
                            command,
                            _with(command, action, [value]),
                            "invalid",
                            culprit + (value,),
                            label=f"{action.dest}={name}",
                        )
                    )
                model_expect = "no-display" if command == "gui" else "valid"
                cases.append(
                    Case(
                        command,
                        _with(command, action, [str(MODEL)]),
                        model_expect,
                        label=f"{action.dest}=model-file",
                    )
                )
            elif action.dest == "backends":  # a comma-separated list of engine.backends.BACKENDS
                culprit = tuple(action.option_strings)
                lists = {
                    "one": ("numpy", "valid"),
                    "two": ("numpy,compiled", "valid"),
                    "bogus": ("bogus", "invalid"),
                    "empty": ("", "invalid"),
                    "one-bogus": ("numpy,bogus", "invalid"),
                    "commas": (",", "invalid"),
                }
                for name, (value, expect) in lists.items():
                    cases.append(
                        Case(
                            command,
                            _with(command, action, [value]),
                            expect,
                            culprit,
                            label=f"{action.dest}={name}",
                        )
                    )
            elif action.dest == "name":
                cases.append(Case(command, _with(command, action, ["fuzzed"]), "valid", label="name=given"))
            else:
                raise AssertionError(f"no value classes for {command} {action.dest}: add them")
        if command in ("reconstruct", "evaluate"):
            for flag, attr in shared_options.STREAM_OPTIONS:  # the streaming window without --online
                value = "advance" if attr == "init" else "1"
                cases.append(
                    Case(
                        command,
                        BASE[command] + [flag, value],
                        "invalid",
                        (flag,),
                        label=f"{attr}-without-online",
                    )
                )
    cases.append(
        Case(
            "stream",
            BASE["stream"] + ["--model", str(MODEL)],
            "invalid",
            ("--model", "--method"),
            label="method-and-model",
        )
    )
    # the one heavy command cheap enough to run to the end: the demo streamed to a file (about 6 s of audio)
    cases.append(Case("demo", list(BASE["demo"]), "valid", label="real-run", real=True))
    cases.append(
        Case(
            "stream",
            [*BASE["stream"], "--record", "{NEW.wav}"],
            "invalid",
            ("--record",),
            label="record-file-output",
        )
    )
    cases.append(
        Case(
            "reconstruct",
            ["{wav16}", "-o", "{OUT.wav}", "-m", "fgla", "--snr", "10"],
            "valid",
            label="snr-audio",
        )
    )
    cases.append(
        Case(
            "reconstruct", ["{npz}", "-o", "{OUT.wav}", "--snr", "10"], "invalid", ("--snr",), label="snr-npz"
        )
    )
    # a folder into a folder (tests/test_folders.py has the rest): made, and with two workers; a folder
    # with -o FILE.wav, or with no -o, is refused in one line naming it
    folder_run = ["{data}", "-o", "{OUTDIR}", "-m", "fgla", "--iterations", "2"]
    cases.append(Case("reconstruct", folder_run, "valid", label="folder"))
    cases.append(Case("reconstruct", [*folder_run, "--jobs", "2"], "valid", label="folder-jobs-2"))
    cases.append(
        Case(
            "reconstruct",
            ["{data}", "-o", "{OUT.wav}", "-m", "fgla"],
            "invalid",
            ("{data}", "{OUT.wav}"),
            label="folder-to-file",
        )
    )
    cases.append(
        Case("reconstruct", ["{data}", "-m", "fgla"], "invalid", ("{data}", "-o"), label="folder-no-output")
    )
    cases.append(
        Case(
            "reconstruct",
            ["{npz}", "-o", "{OUT.wav}", "--hop", "512"],
            "invalid",
            ("--hop",),
            label="hop-npz",
        )
    )
    for command, base in (("reconstruct", ["{npz}", "-o", "{OUT.wav}"]), ("stream", BASE["stream"])):
        cases.append(  # a .npz file carries its own STFT
            Case(command, [*base, "--window", "hann"], "invalid", ("--window",), label="window-npz")
        )
    cases.append(  # --pad-mode pads centred frames only
        Case(
            "reconstruct",
            [*BASE["reconstruct"], "--pad-mode", "reflect"],
            "invalid",
            ("--pad-mode",),
            label="pad-mode-without-center",
        )
    )
    for case in cases:  # a valid gui call gets as far as the display, which there is none of here
        if case.command == "gui" and case.expect == "valid":
            case.expect = "no-display"
    return cases


CASES = generate()


# -- the inputs --------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("inputs")
    cfg = StftConfig()
    x = demo_signal(0.4)
    long = demo_signal(1.0)
    made: dict[str, Path] = {}

    def wav(name: str, signal, sr=SAMPLE_RATE, subtype="PCM_16", fmt=None, suffix=".wav") -> None:
        path = root / f"{name}{suffix}"
        sf.write(path, signal, sr, subtype=subtype, format=fmt)
        made[name] = path

    wav("wav16", x)
    wav("long16", long)
    wav("wav24", x, subtype="PCM_24")
    wav("wav32", x, subtype="PCM_32")
    wav("wavfloat", x, subtype="FLOAT")
    wav("wavdouble", x, subtype="DOUBLE")
    wav("flac", x, subtype="PCM_16", fmt="FLAC", suffix=".flac")
    wav("ogg", x, subtype="VORBIS", fmt="OGG", suffix=".ogg")
    wav("stereo44k", np.stack([demo_signal(0.4, 44100)] * 2, axis=1), sr=44100)
    wav("silent.wav", np.zeros_like(x))
    wav("nan.wav", np.where(np.arange(x.size) == 100, np.nan, x), subtype="FLOAT")
    wav("wav-1hz", np.ones(8) * 0.1, sr=1)
    odd = root / "odd name ü #&;'$ (1).wav"
    shutil.copy(made["wav16"], odd)
    made["oddname"] = odd
    raw = made["wav16"].read_bytes()
    for name, content in {
        "text.wav": b"this is not audio\n",
        "empty.wav": b"",
        "truncated.wav": raw[:30],
        "header-only.wav": raw[:44],
        "cut-data.wav": raw[: len(raw) // 2],
        "text.npz": b"magnitudes = 1\n",
        "empty.npz": b"",
        "text.onnx": b"not a model\n",
        "empty.onnx": b"",
        "text.pt": b"not a checkpoint\n",
        "empty.pt": b"",
    }.items():
        path = root / (name if "." in name else name + ".bin")
        path.write_bytes(content)
        made[name] = path
    folder = root / "folder.wav"
    folder.mkdir()
    made["folder.wav"] = folder
    made["missing.wav"] = root / "missing.wav"
    made["emptydir"] = root / "emptydir"
    made["emptydir"].mkdir()
    made["empty-name"] = ""  # type: ignore[assignment]: an empty argument

    mag = magnitude(x, cfg).astype(np.float32)
    settings = {"n_fft": cfg.n_fft, "hop": cfg.hop, "sample_rate": cfg.sample_rate, "power": cfg.power}
    save_magnitudes(root / "npz.npz", mag, cfg, length=x.size, reference=x)
    made["npz"] = root / "npz.npz"
    bad = {
        "npzint": dict(settings, magnitudes=(mag * 1000).astype(np.int32), length=x.size, reference=x),
        "npz-no-magnitudes": settings,
        "npz-no-n_fft": {k: v for k, v in dict(settings, magnitudes=mag).items() if k != "n_fft"},
        "npz-1d": dict(settings, magnitudes=mag[0]),
        "npz-3d": dict(settings, magnitudes=mag[None]),
        "npz-wrong-bins": dict(settings, magnitudes=mag[:, :100]),
        "npz-no-frames": dict(settings, magnitudes=mag[:0]),
        "npz-nan": dict(settings, magnitudes=np.where(mag > mag.max() / 2, np.nan, mag)),
        "npz-inf": dict(settings, magnitudes=np.where(mag > mag.max() / 2, np.inf, mag)),
        "npz-negative": dict(settings, magnitudes=-mag),
        "npz-complex": dict(settings, magnitudes=mag.astype(np.complex64)),
        "npz-strings": dict(settings, magnitudes=mag.astype(str)),
        "npz-bool": dict(settings, magnitudes=mag > 0),
        "npz-hop-0": dict(settings, magnitudes=mag, hop=0),
        "npz-hop-text": dict(settings, magnitudes=mag, hop="abc"),
        "npz-n_fft-pair": dict(settings, magnitudes=mag, n_fft=[1024, 1024]),
        "npz-rate-0": dict(settings, magnitudes=mag, sample_rate=0),
        "npz-rate-negative": dict(settings, magnitudes=mag, sample_rate=-22050),
        "npz-rate-1": dict(settings, magnitudes=mag, sample_rate=1),
        "npz-rate-huge": dict(settings, magnitudes=mag, sample_rate=2**62),
        "npz-power-nan": dict(settings, magnitudes=mag, power=np.nan),
        "npz-power-0": dict(settings, magnitudes=mag, power=0.0),
        "npz-length-mismatch": dict(settings, magnitudes=mag, length=10 * x.size),
        "npz-length-negative": dict(settings, magnitudes=mag, length=-5),
        "npz-reference-short": dict(settings, magnitudes=mag, length=x.size, reference=x[:100]),
        "npz-reference-nan": dict(settings, magnitudes=mag, length=x.size, reference=x * np.nan),
        "npz-silent-reference": dict(settings, magnitudes=np.zeros_like(mag), length=x.size, reference=0 * x),
    }
    for name, arrays in bad.items():
        path = root / f"{name}.npz"
        np.savez(path, **arrays)
        made[name] = path
    pickled = root / "npz-pickled.npz"
    np.savez(pickled, magnitudes=np.array([mag, "x"], dtype=object), **settings)
    made["npz-pickled"] = pickled
    whole = (root / "npz.npz").read_bytes()
    (root / "truncated.npz").write_bytes(whole[: len(whole) // 2])
    made["truncated.npz"] = root / "truncated.npz"
    assert zipfile.is_zipfile(root / "npz.npz")

    # models: no card beside it; a card that is not JSON
    for name, card in {"nocard": None, "badcard": "{not json"}.items():
        path = root / name / f"{name}.onnx"
        path.parent.mkdir()
        shutil.copy(MODEL, path)
        if card is not None:
            path.with_suffix(".json").write_text(card)
        made[f"{name}.onnx"] = path
    # training data: three one-second files
    data_dir = root / "data"
    data_dir.mkdir()
    for i in range(3):
        sf.write(data_dir / f"u{i}.wav", demo_signal(1.0 + 0.1 * i), SAMPLE_RATE, subtype="PCM_16")
    made["data"] = data_dir
    # a run folder of phasefold train: an untrained one-layer network's checkpoint, as train writes it
    import torch
    from phasefold.training.config import TrainConfig
    from phasefold.training.data import DataConfig

    run = root / "run"
    run.mkdir()
    cfg = TrainConfig(layers=1, data=DataConfig(folder=str(data_dir)))
    state = {"mode": cfg.mode, "config": cfg.to_dict(), "model": cfg.network(start=True).state_dict()}
    torch.save({**state, "epoch": 0}, run / "best.pt")
    made["run"] = run
    made["inputs"] = root
    return made


# -- running a case ----------------------------------------------------------------------------------------

SENTINEL = b"sentinel: an existing file the command must not touch\n"


@dataclass
class Outcome:
    code: int | str
    out: str
    err: str


def run_in_process(argv: list[str]) -> Outcome:
    """main(argv) with stdout and stderr captured; SystemExit gives its code, an escaping exception the
    traceback Python would print (exit status 1), _Reached the code 'reached'."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code: int | str = main(argv)
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
            if isinstance(exc.code, str):
                print(exc.code, file=sys.stderr)
        except _Reached:
            code = "reached"
        except BaseException:  # noqa: BLE001 - what a user would see as a traceback
            traceback.print_exc()
            code = 1
    return Outcome(code, out.getvalue(), err.getvalue())


def _stub_work(monkeypatch, command: str) -> None:
    """Replace the heavy work of ``command`` by _Reached, after its checks."""

    def reached(*args, **kwargs):
        raise _Reached

    if command in ("train", "train-stream"):
        import phasefold.training.config as config
        import phasefold.training.mel_train as mel_train

        # the validation set is the first heavy work of a run, linear or mel (RunConfig.validation)
        monkeypatch.setattr(config, "validation_set", reached)
        monkeypatch.setattr(mel_train, "mel_validation_set", reached)
    elif command == "export":
        import phasefold.training.export as export

        monkeypatch.setattr(export, "export_network", reached)
    elif command == "demo":
        from phasefold.engine.streaming import Player

        monkeypatch.setattr(Player, "run", reached)


def _snapshot(folder: Path) -> dict[str, bytes | None]:
    return {
        str(p.relative_to(folder)): (p.read_bytes() if p.is_file() else None)
        for p in sorted(folder.rglob("*"))
    }


def _resolve(argv: list[str], files: dict[str, Path], work: Path) -> list[str]:
    out = work / "out"
    names = {
        "OUTFOLDER": out / "a-folder",
        "MISSING": work / "no-such-folder",
        "OUTDIR": out / "run",
    }
    resolved = []
    for item in argv:
        item = re.sub(r"\{OUT\.(\w+)\}", lambda m: str(out / f"existing.{m[1]}"), item)
        item = re.sub(r"\{NEW\.(\w+)\}", lambda m: str(out / f"new.{m[1]}"), item)
        item = re.sub(r"\{ODD\.(\w+)\}", lambda m: str(out / f"odd name ü #&;'$ (1).{m[1]}"), item)
        for name, path in names.items():
            item = item.replace("{" + name + "}", str(path))
        for name, path in files.items():
            item = item.replace("{" + name + "}", str(path))
        assert "{" not in item or "}" not in item, item
        resolved.append(item)
    return resolved


def _prepare(work: Path) -> Path:
    out = work / "out"
    (out / "a-folder").mkdir(parents=True)
    for suffix in ("wav", "json", "png", "onnx"):
        (out / f"existing.{suffix}").write_bytes(SENTINEL)
    cwd = work / "cwd"
    cwd.mkdir()
    return out


def _check(case: Case, outcome: Outcome, before: dict, after: dict, cwd_after: list, argv: list[str]) -> None:
    shown = f"{case.id}\n  argv: {argv}\n  exit: {outcome.code}\n  stderr: {outcome.err!r}"
    assert "Traceback" not in outcome.err, shown
    assert "Traceback" not in outcome.out, shown
    no_display = case.command == "gui" and outcome.code == 1 and "no display found" in outcome.err
    if case.expect == "either":
        expect = "no-display" if no_display else "valid" if outcome.code in (0, "reached") else "invalid"
    else:
        expect = case.expect
    if expect == "valid":
        assert outcome.code in (0, "reached"), shown
        return
    if expect == "no-display":
        lines = [ln for ln in outcome.err.splitlines() if ln.strip()]
        assert outcome.code == 1 and lines == [lines[0]] and "no display found" in lines[0], shown
        assert after == before, shown
        return
    lines = [ln for ln in outcome.err.splitlines() if ln.strip()]
    assert outcome.code not in (0, "reached"), shown
    assert len(lines) == 1, shown
    assert lines[0].startswith(f"phasefold {case.command}: error: "), shown
    assert after == before, f"{shown}\n  written: {set(after) ^ set(before)}"
    assert cwd_after == [], f"{shown}\n  written in the working folder: {cwd_after}"
    if case.cause:  # the line gives the reason of the class (a folder is named a folder, ...)
        assert any(word in lines[0] for word in case.cause), f"{shown}\n  the line says none of {case.cause}"
    if case.culprit and case.expect != "either":  # the line names the culprit: the option or the file
        names = {c for c in case.culprit if c}
        for c in list(names):
            if "/" in c:  # a file: its name, or its card's (a model's .json beside it)
                names |= {Path(c).name, Path(c).stem}
            try:
                number = float(c)
            except ValueError:
                continue
            if math.isfinite(number):
                names |= {f"{number:g}", repr(number)}
        named = [n for n in names if n and n in lines[0]]
        assert named or not names, f"{shown}\n  the line names none of {sorted(names)}"


def _resolve_culprit(case: Case, argv_template: list[str], argv: list[str]) -> Case:
    mapping = dict(zip(argv_template, argv, strict=True))
    return Case(
        case.command,
        case.argv,
        case.expect,
        tuple(mapping.get(c, c) for c in case.culprit),
        case.needs_limits,
        case.label,
        real=case.real,
        cause=case.cause,
    )


def _stats(folder: Path) -> dict[str, tuple[int, int]]:
    """path -> (size, time written) of every file and folder under ``folder``."""
    found = {}
    for top, dirs, names in os.walk(folder):
        for name in dirs + names:
            st = os.stat(os.path.join(top, name))
            found[os.path.join(top, name)] = (st.st_size, st.st_mtime_ns)
    return found


@pytest.fixture(scope="module")
def inputs_unchanged(files) -> dict[str, tuple[int, int]]:
    """The input files as made (size, time written): no case may write one."""
    return _stats(files["inputs"])


@pytest.fixture
def clean_env(monkeypatch):
    for name in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM", "PHASEFOLD_MODEL_PATH"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture(scope="module")
def one_parser():
    """main() builds its parser once per process; in-process, building it for every one of the cases would
    take most of their time: main uses one parser here, built as main builds it (the parser keeps no state
    between parses; test_a_real_process_sees_what_the_harness_sees compares with a fresh process)."""
    import phasefold.cli

    parser = phasefold.cli.build_parser()
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(phasefold.cli, "build_parser", lambda: parser)
        yield


@pytest.fixture(scope="module")
def cases_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("cases")


@pytest.fixture
def work(cases_dir):
    """A fresh folder for one case, deleted after it (a thousand and more folders left to pytest's own
    clean-up made the process's exit take most of a minute)."""
    folder = cases_dir / f"case{len(os.listdir(cases_dir))}"
    folder.mkdir()
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_cli_case(case: Case, files, inputs_unchanged, work, monkeypatch, clean_env, one_parser):
    out = _prepare(work)
    argv = [case.command, *_resolve(case.argv, files, work)]
    case = _resolve_culprit(case, case.argv, argv[1:])
    if case.command in STUBBED and not case.real:
        _stub_work(monkeypatch, case.command)
    monkeypatch.chdir(work / "cwd")
    before = _snapshot(out)
    outcome = run_in_process(argv)
    _check(case, outcome, before, _snapshot(out), sorted(os.listdir(work / "cwd")), argv)
    assert _stats(files["inputs"]) == inputs_unchanged, f"{case.id}: an input file was written"


def test_the_generator_covers_every_command_and_option():
    """Every sub-command and every one of its options has cases; there are hundreds of them."""
    assert len(CASES) >= 500
    for command, parser in PARSERS.items():
        labels = {c.label.split("=")[0] for c in CASES if c.command == command}
        for action in _options(parser):
            assert action.dest in labels, (command, action.dest)


# -- the same through a real process -----------------------------------------------------------------------

SUBPROCESS_CASES = [
    "reconstruct:hop=zero",
    "reconstruct:input=text.wav",
    "stream:input=npz-pickled",
    "evaluate:methods=bogus",
    "reconstruct:base",
    "train:threads=huge",
    "divergence:out=wrong-suffix",
]


@pytest.mark.parametrize("case_id", SUBPROCESS_CASES)
def test_a_real_process_sees_what_the_harness_sees(case_id, files, tmp_path, monkeypatch, clean_env):
    (case,) = [c for c in CASES if c.id == case_id]
    out = _prepare(tmp_path)
    argv = [case.command, *_resolve(case.argv, files, tmp_path)]
    before = _snapshot(out)
    env = {
        k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY", "PHASEFOLD_MODEL_PATH")
    }
    proc = subprocess.run(
        [sys.executable, "-m", "phasefold", *argv],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path / "cwd",
        timeout=120,
    )
    real = Outcome(proc.returncode, proc.stdout, proc.stderr)
    written = sorted(_snapshot(out))
    _check(
        _resolve_culprit(case, case.argv, argv[1:]),
        real,
        before,
        _snapshot(out),
        sorted(os.listdir(tmp_path / "cwd")),
        argv,
    )
    # in-process: the same exit status and the same error line
    shutil.rmtree(tmp_path / "out")
    shutil.rmtree(tmp_path / "cwd")
    _prepare(tmp_path)
    monkeypatch.chdir(tmp_path / "cwd")
    inner = run_in_process(argv)
    assert inner.code == real.code
    if real.code != 0:
        assert inner.err.strip() == real.err.strip()
    assert sorted(_snapshot(out)) == written

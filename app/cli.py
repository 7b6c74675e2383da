"""The `phasefold` command line: dispatches to one module per sub-command."""

from __future__ import annotations

import argparse
import importlib
import sys
import warnings

from phasefold._version import __version__
from phasefold.engine.errors import ModelPathWarning, PhasefoldError
from phasefold.exit_signals import Terminated, exit_status, raising_signals
from phasefold.extras import COMMAND_EXTRAS, extra_of_module, missing_extra, needs_line

# sub-command name -> module under phasefold.commands (imported only when that command runs)
COMMANDS: dict[str, str] = {
    "reconstruct": "Rebuild a waveform from magnitudes (audio or .npz) with one method.",
    "evaluate": "Score methods on files: SC, STOI, ESTOI, PESQ, real-time factor.",
    "stream": "Run the streaming engine: frames in, audio out, live or to a file.",
    "bench": "Measure real-time factor and latency of every method.",
    "train": "Train a tied or untied unfolded-ADMM model.",
    "train-stream": "Train an unfolded model inside the streaming loop, for a look-ahead L.",
    "export": "Export a trained run to ONNX with parity checks and a model card.",
    "divergence": "Plot the learned divergences of a model.",
    "gui": "Open the desktop application.",
    "demo": "Run the built-in demo: the GUI where a display exists, else a stream to a file.",
}


class OneLineParser(argparse.ArgumentParser):
    """A parser whose refusal is one line, ``phasefold COMMAND: error: MESSAGE`` (exit 2), like every other
    refusal of the CLI: no usage block in front (``--help`` shows it). Its sub-parsers are of this class;
    ``commands`` maps each sub-command to its parser."""

    commands: dict[str, argparse.ArgumentParser]

    def error(self, message: str):
        self.exit(2, f"{self.prog}: error: {message}\n")


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineParser(
        prog="phasefold",
        description="Real-time audio from magnitude spectrograms with learned phase retrieval.",
    )
    parser.add_argument("--version", action="version", version=f"phasefold {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, help_text in COMMANDS.items():
        module = _load(name)
        if module is None:
            continue
        if name in COMMAND_EXTRAS:
            help_text = f"{help_text} Needs the [{COMMAND_EXTRAS[name][0]}] extra."
        module.register(sub.add_parser(name, help=help_text, description=help_text))
    parser.commands = dict(sub.choices)
    return parser


def _load(name: str):
    module = f"phasefold.commands.{name.replace('-', '_')}"  # train-stream -> app/commands/train_stream.py
    try:
        return importlib.import_module(module)
    except ModuleNotFoundError as exc:
        if exc.name == module:
            return None
        raise


def _warning_line(message, category, filename, lineno, file=None, line=None) -> None:
    """A model-path warning as one line on stderr (other warnings as Python shows them)."""
    if not issubclass(category, ModelPathWarning):
        _show_warning(message, category, filename, lineno, file, line)
        return
    print(f"phasefold: warning: {message}", file=file or sys.stderr)


_show_warning = warnings.showwarning


def main(argv: list[str] | None = None) -> int:
    warnings.showwarning = _warning_line
    parser = build_parser()
    args, unknown = parser.parse_known_args(argv)
    if unknown:  # refused by the sub-command's parser: its name in the line, not the top level's
        parser.commands.get(args.command, parser).error(f"unrecognized arguments: {' '.join(unknown)}")
    if args.command is None:
        parser.print_help()
        return 2
    missing = missing_extra(args.command, args)  # before any work: one line, no traceback
    if missing is not None:
        print(needs_line(*missing), file=sys.stderr)
        return 1
    try:
        with raising_signals():  # SIGTERM and SIGHUP end a command as Ctrl-C does (phasefold.exit_signals)
            return int(args.run(args) or 0)
    except ModuleNotFoundError as exc:  # an optional module on a path the table does not name
        extra = extra_of_module(exc.name)
        if extra is None:
            raise
        print(needs_line(f"phasefold {args.command}", extra), file=sys.stderr)
        return 1
    except PhasefoldError as exc:
        print(f"phasefold {args.command}: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt as exc:  # Ctrl-C, or Terminated: SIGTERM, SIGHUP
        from phasefold.engine.outputs import discard_partial_outputs

        discard_partial_outputs()  # wherever the signal came: no half-written file stays
        what = f"terminated by {exc}" if isinstance(exc, Terminated) else "interrupted"
        print(f"phasefold {args.command}: {what}", file=sys.stderr)
        return exit_status(exc)


if __name__ == "__main__":
    sys.exit(main())

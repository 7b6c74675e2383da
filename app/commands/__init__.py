"""One module per `phasefold` sub-command; each exposes ``register(subparsers)`` and its ``run(args)``."""

import argparse


def add_backend_argument(parser: argparse.ArgumentParser) -> None:
    """--backend: which implementation runs the methods (engine.backends)."""
    parser.add_argument(
        "--backend",
        choices=("auto", "compiled", "onnxruntime", "numpy"),
        default="auto",
        help="auto (default): the compiled kernels where available, else the reference; compiled: insist on "
        "them; onnxruntime / numpy: the reference (models run their ONNX graph, classical methods numpy)",
    )

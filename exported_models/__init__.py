"""The models shipped with phasefold: NAME.onnx, its card NAME.json and its golden pair NAME.golden.npz."""

from pathlib import Path

MODELS_DIR = Path(__file__).resolve().parent

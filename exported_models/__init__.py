"""The models shipped with phasefold: NAME.onnx, its card NAME.json and its golden pair NAME.golden.npz.

The mel models (a card with a ``mel`` section: they take a mel, not magnitudes) live in mel/, out of the
magnitude methods' catalog (engine.catalog); engine.mel_model finds them by name."""

from pathlib import Path

MODELS_DIR = Path(__file__).resolve().parent
MEL_MODELS_DIR = MODELS_DIR / "mel"

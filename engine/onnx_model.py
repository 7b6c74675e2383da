"""Exported unfolded-ADMM models: load a model with its card, run the window step in onnxruntime.

A model is NAME.onnx with its card NAME.json beside it (engine.model_card.ModelCard; schema in
docs/architecture.md). The graph is the window-step contract: inputs mag [W, K], x [S], fixed [S],
lam [2, W, K]; outputs x_out [S], lam_out [2, W, K], float32, S = (W - 1) H + N. No torch here.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from phasefold.engine.errors import InputError, ModelError
from phasefold.engine.model_card import INPUTS, OUTPUTS, ModelCard, card_path
from phasefold.engine.stft import StftConfig


def sha256_of(path: str | Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


@dataclass
class PhaseModel:
    """An exported model ready to run: its card (with its STFT settings) and an onnxruntime session."""

    path: Path
    card: ModelCard
    session: object = field(repr=False)

    @property
    def name(self) -> str:
        return self.card.name

    @property
    def cfg(self) -> StftConfig:
        """The STFT settings the model is made for (its card's)."""
        return self.card.stft

    @property
    def window_frames(self) -> int | None:
        """Pinned window length W, or None where W is dynamic."""
        return self.card.window_frames

    @property
    def width(self) -> int:
        """The measurement's values per frame: K bins, or a mel model's n_mels bands."""
        return self.cfg.n_bins if self.card.mel is None else int(self.card.mel["n_mels"])

    def step(
        self, mag: np.ndarray, x: np.ndarray, fixed: np.ndarray, lam: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """One window step (T layers): returns (x_out [S], lam_out [2, W, K]), float32. ``mag``: the
        window's measurements, magnitudes [W, K] or, for a mel model, its linear mel [W, n_mels]."""
        k, first = self.cfg.n_bins, self.card.inputs[0]
        arrays = {first: mag, "x": x, "fixed": fixed, "lam": lam}
        for name, a in arrays.items():
            if not isinstance(a, np.ndarray) or a.dtype != np.float32:
                raise InputError(f"{self.name}.step: {name} must be a float32 numpy array")
        if mag.ndim != 2 or mag.shape[1] != self.width or mag.shape[0] < 1:
            raise InputError(f"{self.name}.step: {first} must be [W, {self.width}], not {list(mag.shape)}")
        w = mag.shape[0]
        if self.window_frames is not None and w != self.window_frames:
            raise InputError(f"{self.name}.step: the model is pinned to W = {self.window_frames}, not {w}")
        s = self.cfg.span(w)
        for name in ("x", "fixed"):
            if arrays[name].shape != (s,):
                raise InputError(f"{name} must be [{s}] for W = {w}, not {list(arrays[name].shape)}")
        if lam.shape != (2, w, k):
            raise InputError(f"{self.name}.step: lam must be [2, {w}, {k}], not {list(lam.shape)}")
        x_out, lam_out = self.session.run(list(OUTPUTS), arrays)
        return x_out, lam_out


def _golden_file(path: Path, card: ModelCard) -> Path:
    return path.with_name(f"{path.stem}.golden.npz" if card.golden is None else card.golden)


def _checked_card(path: Path) -> tuple[ModelCard, dict | None]:
    """The validated card of a model file and its golden pair (None where there is none);
    ModelError for a missing file, a bad card, a file that does not match the card's sha256, or a card
    whose STFT or window does not match the graph's golden pair (the pair's shapes encode W, S = (W - 1) H
    + N: an edited card changes nothing in the .onnx file's sha256)."""
    if not path.is_file():
        raise ModelError(f"{path}: no such model file")
    card = ModelCard.read(path)
    if sha256_of(path) != card.sha256:
        raise ModelError(f"{path}: file does not match its card's sha256 (truncated, changed or replaced)")
    where, cfg = str(card_path(path)), card.stft
    golden_file = _golden_file(path, card)
    if not golden_file.is_file():
        return card, None
    try:
        with np.load(golden_file) as golden:
            pair = {k: golden[k] for k in (*card.inputs, *OUTPUTS)}
    except (OSError, ValueError, KeyError) as exc:
        raise ModelError(f"{golden_file}: unreadable golden pair ({exc})") from None
    first = pair[card.inputs[0]]
    w, pinned = first.shape[0], card.window_frames
    span = cfg.span(w)
    width = cfg.n_bins if card.mel is None else card.mel_config.n_mels
    if first.shape != (w, width) or pair["x"].shape != (span,) or pinned not in (None, w):
        raise ModelError(
            f"{where}: stft (n_fft {cfg.n_fft}, hop {cfg.hop}) or interface.window_frames ({pinned}) does "
            f"not match the graph: its golden pair {golden_file.name} has {card.inputs[0]} "
            f"{list(first.shape)} and "
            f"x {list(pair['x'].shape)} (S = (W - 1) hop + n_fft = {span} at the card's STFT)"
        )
    return card, pair


def _shape_miss(outputs, pair: dict) -> str | None:
    """How a step's outputs miss the golden pair's shapes (None where they have them)."""
    for name, out in zip(OUTPUTS, outputs, strict=True):
        if np.shape(out) != pair[name].shape:
            return (
                f"returns {name} of shape {list(np.shape(out))}, the contract needs {list(pair[name].shape)}"
            )
    return None


def _golden_miss(card: ModelCard, outputs, pair: dict) -> tuple[dict, str | None]:
    """A step's differences from the golden pair's outputs, and how it misses them (None: within the
    card's parity tolerance)."""
    miss = _shape_miss(outputs, pair)
    if miss is not None:
        return {}, miss
    tol, lam_tol = card.tolerance
    diff = {name: float(np.max(np.abs(out - pair[name]))) for name, out in zip(OUTPUTS, outputs, strict=True)}
    if diff["x_out"] <= tol and diff["lam_out"] <= lam_tol:
        return diff, None
    return diff, (
        f"misses the golden pair (x {diff['x_out']:.2e}, lam {diff['lam_out']:.2e}; tolerance {tol:g} / "
        f"{lam_tol:g})"
    )


def load_model(path: str | Path, threads: int = 1) -> PhaseModel:
    """Load NAME.onnx and its card; ModelError for a missing/malformed card, a changed file, bad settings,
    or a graph whose outputs on its golden pair's inputs do not have the contract's shapes (the values are
    the graph's own: the sha256 pins them, and an exporter loads the model to write its golden pair)."""
    path = Path(path)
    card, pair = _checked_card(path)
    cfg = card.stft
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = int(threads)
    opts.inter_op_num_threads = 1
    opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    opts.use_deterministic_compute = True  # the same inputs give the same bits on every run (issue 30)
    opts.log_severity_level = 3
    try:
        session = ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
    except Exception as exc:  # onnxruntime raises several private exception types for bad files
        raise ModelError(f"{path}: onnxruntime cannot load the model: {str(exc).splitlines()[0]}") from None
    names_in = [i.name for i in session.get_inputs()]
    names_out = [o.name for o in session.get_outputs()]
    inputs = card.inputs
    if sorted(names_in) != sorted(inputs) or sorted(names_out) != sorted(OUTPUTS):
        raise ModelError(
            f"{path}: the graph has inputs {names_in} and outputs {names_out}; "
            f"the window-step contract needs {list(inputs)} -> {list(OUTPUTS)}"
        )
    mag_shape = next(i.shape for i in session.get_inputs() if i.name == inputs[0])
    width = cfg.n_bins if card.mel is None else card.mel_config.n_mels
    if len(mag_shape) != 2 or mag_shape[1] != width:
        raise ModelError(f"{path}: graph input {inputs[0]} is {mag_shape}, the card needs [W, {width}]")
    if pair is not None:
        try:
            outputs = session.run(list(OUTPUTS), {k: pair[k] for k in inputs})
        except Exception as exc:  # onnxruntime's private exception types
            raise ModelError(
                f"{path}: the graph cannot run its golden pair: {str(exc).splitlines()[0]}"
            ) from None
        miss = _shape_miss(outputs, pair)
        if miss is not None:
            raise ModelError(f"{path}: the graph {miss}")
    return PhaseModel(path=path, card=card, session=session)


_loaded: dict[tuple[Path, int, int], PhaseModel] = {}


def cached_model(path: str | Path, threads: int = 1) -> PhaseModel:
    """load_model, once per file and thread count per process (sessions are stateless: the state travels in
    the tensors, so streams can share one); a changed file is loaded again."""
    path = Path(path).resolve()
    key = (path, int(threads), path.stat().st_mtime_ns if path.exists() else 0)
    if key not in _loaded:
        _loaded[key] = load_model(path, threads=threads)
    return _loaded[key]


def load_compiled(path: str | Path):
    """A model's compiled window step (engine.compiled.unfolded), verified against the graph's golden pair.

    The card is validated and the file's sha256 checked as for onnxruntime; the step must reproduce the
    golden output within the card's parity tolerance, or it is refused (BackendError with the figures)."""
    from phasefold.engine.compiled.unfolded import build_step
    from phasefold.engine.errors import BackendError

    path = Path(path)
    card, pair = _checked_card(path)
    if card.mel is not None:
        raise BackendError(f"{path.name}: a mel model runs on onnxruntime only; use --backend onnxruntime")
    step = build_step(card, card.stft)
    if pair is None:
        raise BackendError(
            f"{path.name}: no golden pair {_golden_file(path, card).name} to verify the compiled step against"
        )
    step.parity, miss = _golden_miss(card, step(*(pair[k] for k in INPUTS)), pair)
    if miss is not None:
        raise BackendError(f"{path.name}: the compiled step {miss}; use --backend onnxruntime")
    return step

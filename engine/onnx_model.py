"""Exported unfolded-ADMM models: read and validate the model card, run the window step in onnxruntime.

A model is NAME.onnx with its card NAME.json beside it (schema in docs/architecture.md). The graph is
the window-step contract: inputs mag [W, K], x [S], fixed [S], lam [2, W, K]; outputs x_out [S],
lam_out [2, W, K], float32, S = (W - 1) H + N. No torch here.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from phasefold.engine.errors import InputError, ModelError
from phasefold.engine.stft import SAMPLE_RATE, StftConfig, pad_signal

CARD_FORMAT = 1
WINDOW_NAME = "sqrt-hann-periodic-tight"
INPUTS = ("mag", "x", "fixed", "lam")
OUTPUTS = ("x_out", "lam_out")
REQUIRED_KEYS = (
    "name",
    "format_version",
    "variant",
    "layers",
    "pieces",
    "rho",
    "stft",
    "interface",
    "parameters",
    "sha256",
)
PARAMETER_KEYS = ("g1", "g2", "b", "w", "bias")


def card_path(model_path: str | Path) -> Path:
    """The model card that belongs to a model file: NAME.json beside NAME.onnx."""
    return Path(model_path).with_suffix(".json")


def sha256_of(path: str | Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def stft_config_of(card: dict, where: str = "model card") -> StftConfig:
    """The STFT settings of a card, refused unless the engine can serve them with this graph contract."""
    st = card.get("stft")
    if not isinstance(st, dict):
        raise ModelError(f"{where}: 'stft' must be an object with n_fft, hop, sample_rate, power, window")
    try:
        cfg = StftConfig.from_dict(st)
    except (KeyError, TypeError, ValueError) as exc:
        raise ModelError(f"{where}: unusable STFT settings {st}: {exc}") from None
    if cfg.sample_rate != SAMPLE_RATE:
        raise ModelError(f"{where}: the model works at {cfg.sample_rate} Hz, the engine at {SAMPLE_RATE} Hz")
    if cfg.power != 1.0:
        raise ModelError(f"{where}: power d = {cfg.power}; exported models must use magnitudes (d = 1)")
    if st.get("window", WINDOW_NAME) != WINDOW_NAME:
        raise ModelError(f"{where}: window {st.get('window')!r} is not the engine's {WINDOW_NAME!r}")
    return cfg


def validate_card(card: object, where: str = "model card") -> dict:
    """Check the fields the engine relies on; returns the card or raises ModelError."""
    if not isinstance(card, dict):
        raise ModelError(f"{where}: malformed model card (a JSON object is expected)")
    missing = [k for k in REQUIRED_KEYS if k not in card]
    if missing:
        raise ModelError(f"{where}: malformed model card, missing {', '.join(missing)}")
    if card["format_version"] != CARD_FORMAT:
        raise ModelError(f"{where}: card format {card['format_version']!r}, this engine reads {CARD_FORMAT}")
    if card["variant"] not in ("tied", "untied"):
        raise ModelError(f"{where}: variant must be 'tied' or 'untied', not {card['variant']!r}")
    cfg = stft_config_of(card, where)
    iface = card["interface"]
    if (
        not isinstance(iface, dict)
        or sorted(iface.get("inputs", {})) != sorted(INPUTS)
        or sorted(iface.get("outputs", {})) != sorted(OUTPUTS)
    ):
        raise ModelError(f"{where}: interface must have inputs {INPUTS} and outputs {OUTPUTS}")
    if iface["inputs"]["mag"][-1] != cfg.n_bins:
        raise ModelError(f"{where}: interface has {iface['inputs']['mag'][-1]} bins, the STFT {cfg.n_bins}")
    params = card["parameters"]
    if not isinstance(params, dict) or any(k not in params for k in PARAMETER_KEYS):
        raise ModelError(f"{where}: 'parameters' must hold {', '.join(PARAMETER_KEYS)}")
    return card


def read_card(model_path: str | Path) -> dict:
    """Read and validate the card of a model file (ModelError with a clear message otherwise)."""
    path = card_path(model_path)
    if not path.is_file():
        raise ModelError(f"{model_path}: model card {path.name} not found beside the model")
    try:
        card = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ModelError(f"{path}: malformed model card (not valid JSON: {exc})") from None
    return validate_card(card, str(path))


def model_stft(model_path: str | Path) -> StftConfig:
    """The STFT settings a model file is made for (ModelError for a missing or malformed card)."""
    return stft_config_of(read_card(model_path), str(card_path(model_path)))


@dataclass
class PhaseModel:
    """An exported model ready to run: its card, STFT settings and an onnxruntime session."""

    path: Path
    card: dict
    cfg: StftConfig
    session: object = field(repr=False)

    @property
    def name(self) -> str:
        return str(self.card["name"])

    @property
    def window_frames(self) -> int | None:
        """Pinned window length W, or None where W is dynamic."""
        return self.card["interface"].get("window_frames")

    def step(
        self, mag: np.ndarray, x: np.ndarray, fixed: np.ndarray, lam: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """One window step (T layers): returns (x_out [S], lam_out [2, W, K]), float32."""
        k = self.cfg.n_bins
        arrays = {"mag": mag, "x": x, "fixed": fixed, "lam": lam}
        for name, a in arrays.items():
            if not isinstance(a, np.ndarray) or a.dtype != np.float32:
                raise InputError(f"{self.name}.step: {name} must be a float32 numpy array")
        if mag.ndim != 2 or mag.shape[1] != k or mag.shape[0] < 1:
            raise InputError(f"{self.name}.step: mag must be [W, {k}], not {list(mag.shape)}")
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

    def reconstruct(self, mag: np.ndarray, length: int, seed: int = 0, passes: int = 1) -> np.ndarray:
        """Offline: the whole padded signal as one window, padding fixed, seeded random phase start."""
        from phasefold.engine.algorithms import random_phase_init

        mag = np.asarray(mag)
        if mag.ndim != 2 or mag.shape[1] != self.cfg.n_bins:
            raise InputError(f"magnitudes must be [frames, {self.cfg.n_bins}], not {list(mag.shape)}")
        if self.cfg.n_frames(length) != mag.shape[0]:
            raise InputError(f"{mag.shape[0]} frames do not hold {length} samples at hop {self.cfg.hop}")
        if passes < 1:
            raise InputError("passes must be at least 1")
        if self.window_frames is not None:
            raise InputError(f"{self.name} is pinned to W = {self.window_frames}: no whole-signal run")
        x = pad_signal(random_phase_init(mag, self.cfg, seed, length), self.cfg).astype(np.float32)
        fixed = np.ones_like(x)
        fixed[self.cfg.pad : self.cfg.pad + length] = 0.0
        lam = np.zeros((2, *mag.shape), dtype=np.float32)
        mag32 = np.ascontiguousarray(mag, dtype=np.float32)
        for _ in range(passes):
            x, lam = self.step(mag32, x, fixed, lam)
        return x[self.cfg.pad : self.cfg.pad + length].astype(np.float64)


def _checked_card(path: Path) -> tuple[dict, StftConfig]:
    """The validated card of a model file and its STFT; ModelError for a missing file, a bad card or a
    file that does not match the card's sha256."""
    if not path.is_file():
        raise ModelError(f"{path}: no such model file")
    card = read_card(path)
    if sha256_of(path) != card["sha256"]:
        raise ModelError(f"{path}: file does not match its card's sha256 (truncated, changed or replaced)")
    return card, stft_config_of(card, str(card_path(path)))


def load_model(path: str | Path, threads: int = 1) -> PhaseModel:
    """Load NAME.onnx and its card; ModelError for a missing/malformed card, a changed file, bad settings."""
    path = Path(path)
    card, cfg = _checked_card(path)
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = int(threads)
    opts.inter_op_num_threads = 1
    opts.log_severity_level = 3
    try:
        session = ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
    except Exception as exc:  # onnxruntime raises several private exception types for bad files
        raise ModelError(f"{path}: onnxruntime cannot load the model: {str(exc).splitlines()[0]}") from None
    names_in = [i.name for i in session.get_inputs()]
    names_out = [o.name for o in session.get_outputs()]
    if sorted(names_in) != sorted(INPUTS) or sorted(names_out) != sorted(OUTPUTS):
        raise ModelError(
            f"{path}: the graph has inputs {names_in} and outputs {names_out}; "
            f"the window-step contract needs {list(INPUTS)} -> {list(OUTPUTS)}"
        )
    mag_shape = next(i.shape for i in session.get_inputs() if i.name == "mag")
    if len(mag_shape) != 2 or mag_shape[1] != cfg.n_bins:
        raise ModelError(f"{path}: graph input mag is {mag_shape}, the card's STFT needs [W, {cfg.n_bins}]")
    return PhaseModel(path=path, card=card, cfg=cfg, session=session)


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
    card, cfg = _checked_card(path)
    step = build_step(card, cfg)
    golden_file = path.with_name(str(card.get("golden", f"{path.stem}.golden.npz")))
    if not golden_file.is_file():
        raise BackendError(
            f"{path.name}: no golden pair {golden_file.name} to verify the compiled step against"
        )
    try:
        with np.load(golden_file) as golden:
            pair = {k: golden[k] for k in (*INPUTS, *OUTPUTS)}
    except (OSError, ValueError, KeyError) as exc:
        raise BackendError(f"{golden_file}: unreadable golden pair ({exc})") from None
    x_out, lam_out = step(*(pair[k] for k in INPUTS))
    tol = float(card.get("verification", {}).get("tolerance", 1e-4))
    lam_tol = float(card.get("verification", {}).get("lam_tolerance", tol))
    dx = float(np.max(np.abs(x_out - pair["x_out"])))
    dlam = float(np.max(np.abs(lam_out - pair["lam_out"])))
    if not (dx <= tol and dlam <= lam_tol):
        raise BackendError(
            f"{path.name}: the compiled step misses the golden pair (x {dx:.2e}, lam {dlam:.2e}; tolerance "
            f"{tol:g} / {lam_tol:g}); use --backend onnxruntime"
        )
    step.parity = {"x_out": dx, "lam_out": dlam}
    return step

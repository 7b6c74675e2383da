"""The model card: NAME.json beside NAME.onnx (schema in docs/architecture.md), read, validated and written.

A card is read and checked once (``ModelCard.read`` / ``ModelCard.from_dict``: every field the engine relies
on, types, ranges, shapes; ModelError naming the file and the field) and then travels as a frozen
``ModelCard``: its STFT settings as an ``StftConfig``, its interface, the stream a stream-trained model was
trained in and its parameter layout as small frozen objects. ``to_dict`` / ``write`` give back the same JSON
(the exports' format, byte for byte). The provenance records (training, metrics, verification, ...) and the
parameters stay JSON objects: the engine reads them, never changes them. No torch and no onnxruntime here.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import TypeVar

import numpy as np
from phasefold.engine.errors import ModelError
from phasefold.engine.level import MEL_REFERENCE_LEVEL, REFERENCE_LEVEL
from phasefold.engine.limits import MAX_STEP_ITERATIONS, SAMPLE_RATES
from phasefold.engine.mel import MelConfig
from phasefold.engine.stft import WINDOW_NAME, StftConfig

CARD_FORMAT = 1
INPUTS = ("mag", "x", "fixed", "lam")
#: a mel model's inputs (its card has a ``mel`` section): the linear mel B |X|^p [W, n_mels] in place of mag
MEL_INPUTS = ("mel", "x", "fixed", "lam")
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
PER_LAYER_KEYS = ("rho", "momentum")  # optional parameters with one value per layer, not per set
LAYER_FORMS = ("admm", "gla")  # unfolded ADMM (the default), or unfolded fast Griffin-Lim with a momentum
#: JSON objects kept as they are where present: the level record (engine.level.card_record), provenance
RECORD_KEYS = ("level", "training", "metrics", "verification", "rebuilt")
#: the coverage floor of a card without ``coverage_eps`` (the offline exports write theirs, 1e-2)
DEFAULT_COVERAGE_EPS = 1e-2
SPAN_FORMULA = "(W - 1) * hop + n_fft"  # the interface's "S": the samples of a window of W frames


def card_path(model_path: str | Path) -> Path:
    """The model card that belongs to a model file: NAME.json beside NAME.onnx."""
    return Path(model_path).with_suffix(".json")


def _json_of(part: object) -> dict:
    """A card part's JSON object: its fields in order (``key`` metadata: the JSON name; None left out unless
    the field's metadata says ``null``), then the keys this engine does not know."""
    out = {}
    for f in fields(part):
        value = getattr(part, f.name)
        if f.name == "extra" or (value is None and not f.metadata.get("null")):
            continue
        out[f.metadata.get("key", f.name)] = _json_value(value)
    return {**out, **part.extra}


def _json_value(value: object) -> object:
    if isinstance(value, StftConfig):  # the default window by its card name; a mel model's as it is
        return {**value.to_dict(), "window": WINDOW_NAME} if value.window == "sqrt-hann" else value.to_dict()
    if hasattr(value, "to_dict"):
        return value.to_dict()
    return value


def _split(cls: type, d: dict) -> tuple[dict, dict]:
    """A validated JSON object as (keyword arguments of ``cls``'s fields, the keys it does not know)."""
    names = {f.metadata.get("key", f.name): f.name for f in fields(cls) if f.name != "extra"}
    return {names[k]: v for k, v in d.items() if k in names}, {k: v for k, v in d.items() if k not in names}


_P = TypeVar("_P", bound="_Part")


class _Part:
    """A part of a card (a JSON object inside it): read from and written as that object, its fields by their
    JSON names, the keys this engine does not know kept in ``extra``."""

    @classmethod
    def from_dict(cls: type[_P], d: dict) -> _P:
        known, extra = _split(cls, d)
        return cls(**known, extra=extra)

    def to_dict(self) -> dict:
        return _json_of(self)


@dataclass(frozen=True, kw_only=True)
class Interface(_Part):
    """The graph's tensors (name -> shape, "W" and "S" where the window is dynamic) and its pinned W."""

    inputs: dict
    outputs: dict
    window_frames: int | None = field(default=None, metadata={"null": True})  # None: W is dynamic
    dtype: str | None = None
    span: str | None = field(default=None, metadata={"key": "S"})  # the formula of S, for readers
    extra: dict = field(default_factory=dict)


@dataclass(frozen=True, kw_only=True)
class StreamTraining(_Part):
    """How a stream-trained model runs (its card's ``streaming``): the look-ahead L and block B it was
    trained at, its phase start, its default passes per stream step and the rest of the record."""

    lookahead: int
    block: int = 1
    init: str = "advance"  # the phase start of new frames: "advance" or "rtpghi"
    passes: int | None = None  # passes of the model per stream step by default (None, absent: 1)
    latency_samples: int | None = None
    position_dependent: bool | None = None
    schedule: dict | None = None  # how the layers run across the window (engine.streaming.window)
    note: str | None = None
    extra: dict = field(default_factory=dict)


@dataclass(frozen=True, kw_only=True)
class ParameterLayout(_Part):
    """Stream models: parameter sets per layer and window position (set = layer * positions + position)."""

    layers: int
    positions: int
    index: str | None = None
    extra: dict = field(default_factory=dict)


@dataclass(frozen=True, kw_only=True)
class ModelCard:
    """A validated model card; fields in the JSON's order, optional ones (None) left out of the JSON."""

    name: str
    format_version: int = CARD_FORMAT
    variant: str
    layers: int
    pieces: int
    rho: float
    stft: StftConfig
    trained_stft: StftConfig | None = None  # the STFT the parameters were trained at (offline exports)
    mel: dict | None = None  # a mel model: its measurement's settings (engine.mel.MelConfig.to_dict)
    coverage_eps: float | None = None
    interface: Interface
    streaming: StreamTraining | None = None  # models trained inside the streaming loop
    layer_form: str | None = None  # "gla": unfolded fast Griffin-Lim (parameters.momentum); absent: ADMM
    parameter_layout: ParameterLayout | None = None  # stream models: sets per layer and window position
    onnx: dict | None = None
    parameters: dict
    monotonicity: str | None = None
    level: dict | None = None  # how the engine brings the input to the level the model was trained at
    training: dict | None = None
    metrics: dict | None = None
    golden: str | None = None
    sha256: str
    verification: dict | None = None
    rebuilt: dict | None = None  # python -m phasefold.training.rebuild
    extra: dict = field(default_factory=dict)  # keys this engine does not know, kept as they are

    @classmethod
    def from_dict(cls, card: object, where: str = "model card") -> ModelCard:
        """Validate a card's JSON object (ModelError naming ``where`` and the field otherwise)."""
        _validate(card, where)
        known, extra = _split(cls, card)
        parts = {
            "stft": StftConfig.from_dict,
            "trained_stft": StftConfig.from_dict,
            "interface": Interface.from_dict,
            "streaming": StreamTraining.from_dict,
            "parameter_layout": ParameterLayout.from_dict,
        }
        typed = {k: parts[k](v) for k, v in known.items() if k in parts and v is not None}
        return cls(**{**known, **typed}, extra=extra)

    @classmethod
    def read(cls, model_path: str | Path) -> ModelCard:
        """Read and validate the card of a model file (ModelError with a clear message otherwise)."""
        path = card_path(model_path)
        model = Path(model_path)
        if model.is_dir():  # the model named is the cause, not its card
            raise ModelError(f"{model_path}: is a folder, not a model file")
        if model.suffix != ".json" and not model.exists():
            raise ModelError(f"{model_path}: model file not found")
        if not path.is_file():
            raise ModelError(f"{model_path}: model card {path.name} not found beside the model")
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise ModelError(f"{path}: unreadable model card ({exc})") from None
        try:
            card = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ModelError(f"{path}: malformed model card (not valid JSON: {exc})") from None
        except RecursionError:
            raise ModelError(f"{path}: malformed model card (nested too deeply to read)") from None
        return cls.from_dict(card, str(path))

    def to_dict(self) -> dict:
        """The card's JSON object."""
        return _json_of(self)

    def write(self, model_path: str | Path) -> None:
        """Write the card beside its model file (NAME.json for NAME.onnx)."""
        card_path(model_path).write_text(json.dumps(self.to_dict(), indent=1))

    @property
    def window_frames(self) -> int | None:
        """The window length W the graph is pinned to, or None where W is dynamic."""
        return self.interface.window_frames

    @property
    def mel_config(self) -> MelConfig | None:
        """The mel a mel model takes (its card's ``mel`` section), or None for a model of magnitudes."""
        return None if self.mel is None else MelConfig.from_dict(self.mel)

    @property
    def mel_reference_level(self) -> float:
        """A mel model's training level in mel units (its card's level record; engine.level's
        MEL_REFERENCE_LEVEL, the shipped mel models', where the card has none)."""
        return float((self.level or {}).get("reference_level", MEL_REFERENCE_LEVEL))

    @property
    def inputs(self) -> tuple[str, ...]:
        """The graph's input names: MEL_INPUTS for a mel model, else INPUTS."""
        return INPUTS if self.mel is None else MEL_INPUTS

    @property
    def positions(self) -> int:
        """Parameter sets per layer: one per window position (stream models), else 1."""
        return 1 if self.parameter_layout is None else self.parameter_layout.positions

    @property
    def stream_passes(self) -> int:
        """Passes of the model per stream step by default: the card's ``streaming.passes``, else 1."""
        passes = self.streaming.passes if self.streaming is not None else None
        return 1 if passes is None else passes

    @property
    def gla(self) -> bool:
        """Layers of unfolded fast Griffin-Lim (``layer_form`` "gla") rather than ADMM."""
        return self.layer_form == "gla"

    @property
    def tolerance(self) -> tuple[float, float]:
        """The parity tolerances (x, lam) of a step against the golden pair (verification, else 1e-4)."""
        verification = self.verification or {}
        tol = float(verification.get("tolerance", 1e-4))
        return tol, float(verification.get("lam_tolerance", tol))


def _mel_config(card: dict, cfg: StftConfig, where: str) -> MelConfig | None:
    """A card's ``mel`` section (None where there is none), refused unless it is a mel configuration whose
    STFT is the card's."""
    if card.get("mel") is None:
        return None
    try:
        mel = MelConfig.from_dict(card["mel"])
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise ModelError(f"{where}: unusable mel settings: {exc}") from None
    if mel.stft != cfg:
        raise ModelError(f"{where}: mel.stft {mel.stft.to_dict()} is not the card's stft {cfg.to_dict()}")
    return mel


def _stft_config(st: object, where: str, key: str = "stft", mel: bool = False) -> StftConfig:
    """A card's STFT settings (``key``: stft or trained_stft), refused unless the engine can serve them with
    this graph contract."""
    if not isinstance(st, dict):
        raise ModelError(f"{where}: '{key}' must be an object with n_fft, hop, sample_rate, power, window")
    for name in ("n_fft", "hop", "sample_rate"):
        if name in st and not _is_int(st[name]):
            raise ModelError(f"{where}: {key}.{name} must be a whole number, not {st[name]!r}")
    if "power" in st and not _is_number(st["power"]):
        raise ModelError(f"{where}: {key}.power must be a number, not {st['power']!r}")
    try:
        cfg = StftConfig.from_dict(st)
    except (KeyError, TypeError, ValueError) as exc:
        raise ModelError(f"{where}: unusable STFT settings {st}: {exc}") from None
    low, high = SAMPLE_RATES
    if not low <= cfg.sample_rate <= high:
        raise ModelError(f"{where}: {key}.sample_rate {cfg.sample_rate} Hz is outside {low} to {high} Hz")
    if cfg.power != 1.0:
        raise ModelError(f"{where}: power d = {cfg.power}; exported models must use magnitudes (d = 1)")
    if st.get("window", WINDOW_NAME) != WINDOW_NAME and not mel:  # a mel model: the mel's STFT (checked)
        raise ModelError(f"{where}: window {st.get('window')!r} is not the engine's {WINDOW_NAME!r}")
    return cfg


def _validate(card: object, where: str) -> None:
    """Check every field the engine relies on (types, ranges, shapes); ModelError otherwise."""
    if not isinstance(card, dict):
        raise ModelError(f"{where}: malformed model card (a JSON object is expected)")
    missing = [k for k in REQUIRED_KEYS if k not in card]
    if missing:
        raise ModelError(f"{where}: malformed model card, missing {', '.join(missing)}")
    if card["format_version"] != CARD_FORMAT:
        raise ModelError(f"{where}: card format {card['format_version']!r}, this engine reads {CARD_FORMAT}")
    if not isinstance(card["name"], str) or not card["name"]:
        raise ModelError(f"{where}: name must be a non-empty string, not {card['name']!r}")
    if card["variant"] not in ("tied", "untied"):
        raise ModelError(f"{where}: variant must be 'tied' or 'untied', not {card['variant']!r}")
    _whole(card["layers"], "layers", where, 1)
    _whole(card["pieces"], "pieces", where, 0)
    _positive(card["rho"], "rho", where)
    if "coverage_eps" in card:
        _positive(card["coverage_eps"], "coverage_eps", where)
    for key in RECORD_KEYS:
        if card.get(key) is not None and not isinstance(card[key], dict):
            raise ModelError(f"{where}: {key} must be an object, not {type(card[key]).__name__}")
    _check_level(card.get("level"), where, mel=card.get("mel") is not None)
    verification = card.get("verification") or {}
    for key in ("tolerance", "lam_tolerance"):
        if key in verification:
            _positive(verification[key], f"verification.{key}", where)
    if not isinstance(card["sha256"], str) or not isinstance(card.get("golden", ""), str):
        raise ModelError(f"{where}: sha256 and golden must be strings")
    if card.get("layer_form", "admm") not in LAYER_FORMS:
        raise ModelError(
            f"{where}: layer_form must be one of {', '.join(LAYER_FORMS)}, not {card['layer_form']!r}"
        )
    is_mel = card.get("mel") is not None
    cfg = _stft_config(card["stft"], where, mel=is_mel)
    if "trained_stft" in card:
        _stft_config(card["trained_stft"], where, "trained_stft", mel=is_mel)
    pinned = _check_interface(card["interface"], cfg, where, _mel_config(card, cfg, where))
    _check_streaming(card, cfg, pinned, where)
    _check_parameters(card, where)


def _check_level(level: dict | None, where: str, mel: bool = False) -> None:
    """A card's ``level`` record (engine.level.card_record): the reference level must be this engine's, or
    the engine would feed the model another level than the one it was trained at. A mel model's
    (engine.level.mel_card_record) is its own, in mel units, read by the engine: a positive number."""
    if level is None:
        return
    reference = level.get("reference_level")
    if mel:
        _positive(reference, "level.reference_level", where)
        return
    if reference != REFERENCE_LEVEL:
        raise ModelError(
            f"{where}: level.reference_level {reference!r} is not this engine's reference level "
            f"{REFERENCE_LEVEL} (engine.level): the model was trained at another level"
        )


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: object) -> bool:
    """A finite JSON number that a float holds (a whole number beyond 1.8e308 is not)."""
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        return False
    try:
        return math.isfinite(float(value))
    except OverflowError:
        return False


def _whole(value: object, field: str, where: str, minimum: int) -> int:
    if not _is_int(value) or value < minimum:
        raise ModelError(f"{where}: {field} must be a whole number >= {minimum}, not {value!r}")
    return value


def _positive(value: object, field: str, where: str) -> float:
    if not _is_number(value) or value <= 0:
        raise ModelError(f"{where}: {field} must be a finite number > 0, not {value!r}")
    return float(value)


def _check_interface(iface: object, cfg: StftConfig, where: str, mel: MelConfig | None = None) -> int | None:
    """The interface's tensors against the window-step contract at the card's STFT (a mel model's: mel
    [W, n_mels] in place of mag); the pinned W or None."""
    inputs = INPUTS if mel is None else MEL_INPUTS
    if not isinstance(iface, dict) or not all(isinstance(iface.get(k), dict) for k in ("inputs", "outputs")):
        raise ModelError(f"{where}: interface must have inputs {inputs} and outputs {OUTPUTS}")
    if sorted(iface["inputs"]) != sorted(inputs) or sorted(iface["outputs"]) != sorted(OUTPUTS):
        raise ModelError(f"{where}: interface must have inputs {inputs} and outputs {OUTPUTS}")
    pinned = iface.get("window_frames")
    if pinned is not None:
        _whole(pinned, "interface.window_frames", where, 1)
    w, s, k = ("W", "S", cfg.n_bins) if pinned is None else (pinned, cfg.span(pinned), cfg.n_bins)
    shapes = {"mag": [w, k], "x": [s], "fixed": [s], "lam": [2, w, k], "x_out": [s], "lam_out": [2, w, k]}
    if mel is not None:
        shapes["mel"] = [w, mel.n_mels]
    for group in ("inputs", "outputs"):
        for name, shape in iface[group].items():
            if shape != shapes[name]:
                raise ModelError(
                    f"{where}: interface.{group}.{name} is {shape}, but stft (n_fft {cfg.n_fft}, hop "
                    f"{cfg.hop}) needs {shapes[name]}"
                )
    return pinned


def _check_streaming(card: dict, cfg: StftConfig, pinned: int | None, where: str) -> None:
    trained = card.get("streaming")
    if trained is None:
        return
    if not isinstance(trained, dict):
        raise ModelError(f"{where}: streaming must be an object with lookahead and block")
    lookahead = _whole(trained.get("lookahead"), "streaming.lookahead", where, 0)
    block = _whole(trained.get("block", 1), "streaming.block", where, 1)
    if trained.get("init", "advance") not in ("advance", "rtpghi"):
        raise ModelError(f"{where}: streaming.init must be 'advance' or 'rtpghi', not {trained['init']!r}")
    passes = _whole(trained.get("passes", 1), "streaming.passes", where, 1)
    if passes > MAX_STEP_ITERATIONS:
        raise ModelError(
            f"{where}: streaming.passes {passes} is above the limit of {MAX_STEP_ITERATIONS} passes per "
            "stream step (MAX_STEP_ITERATIONS)"
        )
    if pinned is not None and pinned != lookahead + cfg.overlap + block - 1:
        raise ModelError(
            f"{where}: streaming lookahead {lookahead} and block {block} need windows of "
            f"{lookahead + cfg.overlap + block - 1} frames, but interface.window_frames is {pinned}"
        )


def _check_parameters(card: dict, where: str) -> None:
    params = card["parameters"]
    if not isinstance(params, dict) or any(k not in params for k in PARAMETER_KEYS):
        raise ModelError(f"{where}: 'parameters' must hold {', '.join(PARAMETER_KEYS)}")
    layout = card.get("parameter_layout")
    positions = 1
    if layout is not None:
        if not isinstance(layout, dict) or layout.get("layers") != card["layers"]:
            raise ModelError(f"{where}: parameter_layout.layers must equal layers ({card['layers']})")
        positions = _whole(layout.get("positions"), "parameter_layout.positions", where, 1)
    n_sets = 1 if card["variant"] == "tied" and layout is None else card["layers"] * positions
    if card.get("layer_form") == "gla" and "momentum" not in params:
        raise ModelError(f"{where}: a 'gla' model needs parameters.momentum (one per layer)")
    for key in (*PARAMETER_KEYS, *PER_LAYER_KEYS):
        if key not in params:
            continue
        try:
            values = np.asarray(params[key], dtype=np.float64)
        except (TypeError, ValueError, OverflowError):
            raise ModelError(f"{where}: parameters.{key} must be an array of numbers") from None
        per_layer = key in PER_LAYER_KEYS
        rows, ndim = (card["layers"], 1) if per_layer else (n_sets, 1 if key in ("g1", "g2", "b") else 2)
        if values.size == 0 and not per_layer:  # a graph without a learned prox (nothing to draw or compile)
            continue
        if values.ndim != ndim or values.shape[0] != rows or not np.all(np.isfinite(values)):
            raise ModelError(
                f"{where}: parameters.{key} has shape {list(values.shape)}; {card['variant']} "
                f"{card['layers']} layers need {rows} finite {'rows' if ndim == 2 else 'values'} "
                f"(one per {'layer' if per_layer else 'parameter set'})"
            )
        if key == "rho" and np.any(values <= 0):
            raise ModelError(f"{where}: parameters.rho must be positive")
        if key == "momentum" and np.any((values < 0) | (values >= 1)):
            raise ModelError(f"{where}: parameters.momentum must be in [0, 1)")

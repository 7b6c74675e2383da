"""The one method registry: every method phasefold runs, offline and in the streaming engine, by name.

A ``MethodSpec`` is everything phasefold knows about a method: its family, its defaults (iterations offline
and per stream step, the look-ahead and block of a stream-trained model), the STFT settings it runs at, the
backends that run it and, for a model, its card. It is the one place these are read: the CLI, the API, the
GUI, ``evaluate`` and the benchmarks take their defaults from here. A name goes to a runnable step in one
pass: ``lookup(name)`` -> spec -> engine.runners (offline runner, window step) or
engine.streaming.steps (stream processor). Built-in methods are listed once; exported models are discovered
from engine.catalog (the shipped ones and ``PHASEFOLD_MODEL_PATH``), their cards read when they are listed.
Nothing registers itself at import. Names:

- offline and streaming: ``gla``, ``fgla``, ``admm-<loss>[-right]`` (d = 1) and the exported models;
- offline only: ``admm-...-d2`` and ``gd-<loss>[-<side>][-d2][-nesterov]``;
- streaming only: ``rtisi-la``, ``rtpghi`` / ``rtpghi-0`` / ``rtpghi-1`` and the stream-trained models
  (their window is pinned to W = L + N/H);
- mel only: the learned mel models of exported_models/mel (``mel_model_specs``: found by ``lookup``, not
  among ``specs()``); ``mel_method_names`` lists every method that takes a mel offline.
"""

from __future__ import annotations

import difflib
import functools
import math
import os
import re
import warnings
from dataclasses import dataclass, field, replace
from pathlib import Path

from phasefold.engine import backends, catalog
from phasefold.engine.divergences import Divergence, divergence
from phasefold.engine.errors import InputError, ModelError, ModelPathWarning
from phasefold.engine.model_card import ModelCard
from phasefold.engine.stft import StftConfig
from phasefold.engine.wording import counted
from phasefold.exported_models import MEL_MODELS_DIR

#: the method ``phasefold reconstruct`` and ``phasefold.reconstruct`` run when none is named, at the
#: configurations of MEASURED_DEFAULTS (``default_method`` picks it at the others)
DEFAULT_METHOD = "fgla"
#: configurations (sample rate, n_fft, hop) whose default was chosen on measurements, against the learned
#: models at the same configuration (README, "The default method": fgla with 100 iterations, 0.3 PESQ above
#: the shipped 22050 Hz models)
MEASURED_DEFAULTS = {
    (22050, 1024, 256): DEFAULT_METHOD,
    (22050, 1024, 512): DEFAULT_METHOD,
    # against the shipped unfolded-untied-16k, test split (docs/results.md, "16 kHz models"): fgla with 100
    # iterations PESQ 4.37, SC -28.8 dB against the model's 4.03, -18.6 dB
    (16000, 512, 128): DEFAULT_METHOD,
}
#: configurations whose default in the stream (``--online``, ``phasefold stream``) was measured apart from
#: the offline one; elsewhere MEASURED_DEFAULTS holds for both. At 16 kHz, 512 / 128 (test split, streamed,
#: docs/results.md "16 kHz models"): admm-l2 at 15 iterations per step scores best at L = 3 (PESQ 4.48, SC
#: -31.0 dB; unfolded-stream-16k-l3 4.41, -27.1 dB; rtisi-la 4.24) and at L = 1 (4.43; the L = 1 model
#: 4.36) at a CPU real-time factor of 0.04, and runs at any look-ahead (a stream model only at its own)
MEASURED_STREAM_DEFAULTS = {(16000, 512, 128): "admm-l2"}
#: the stream's default with mel frames in (``--online --mel``; Stream.open(..., mel=...) with no iterations
#: takes its count per step): (method, iterations per step) by the mel's STFT (sample rate, n_fft, hop),
#: chosen at L = 3 on the validation split and measured on the test split (docs/results.md, "Mel, streamed";
#: benchmarks/mel_stream.py). hifigan's 22050 / 1024 / 256: fgla with 4 iterations per step and the "step"
#: start (engine.streaming.mel.MEL_START) scores PESQ 3.80 (mean of 7 runs: unperturbed and 6 draws of 1e-6,
#: spread 0.06; STOI 0.982, SC -13.2 dB) at a CPU RTF of 0.0297 (one thread, input checks included, median
#: of 3 rounds; 0.031 and 0.035 in reruns on the loaded shared machine) on the test split; on validation
#: it beat gla (+0.33 PESQ), admm-l2 at 2 per step (+0.16, at less cost) and the "spread" start (+0.04
#: PESQ, 0.4 dB SC); 5 per step (+0.09) costs over 0.03
MEASURED_MEL_STREAM_DEFAULTS = {(22050, 1024, 256): ("fgla", 4)}


def mel_stream_default(cfg: StftConfig) -> tuple[str, int]:
    """The mel stream's (method, iterations per step) at the mel's STFT ``cfg``: the measured one where the
    configuration has one, else the hifigan choice (the same per-step work at any mel)."""
    return MEASURED_MEL_STREAM_DEFAULTS.get(
        (cfg.sample_rate, cfg.n_fft, cfg.hop), MEASURED_MEL_STREAM_DEFAULTS[(22050, 1024, 256)]
    )


#: the best classical method where no learned model lists a configuration: fgla with 100 iterations, the
#: best SC and PESQ of gla / fgla / admm-l2 at 16 kHz 512/128 and 48 kHz 2048/512 on the test split at the
#: lowest cost (docs/results.md, "The default method at other configurations")
CLASSICAL_DEFAULT = "fgla"
#: the method ``phasefold stream``, the GUI and the demo start with, where it is found: the best live scores
#: on the demo at L = 3 since its anchoring (docs/results.md)
DEFAULT_STREAM_METHOD = "unfolded-untied"
#: iterations of a classical method offline (over the whole signal) when none are given
OFFLINE_ITERATIONS = 100
#: iterations of a classical method per window step of the stream when none are given (the layers of the
#: shipped models); RTISI-LA's default spends as many STFT projections per input frame (MethodSpec)
STEP_ITERATIONS = 15
#: look-ahead L and block B of the stream where neither the caller nor a stream-trained model's card says
DEFAULT_LOOKAHEAD = 3
DEFAULT_BLOCK = 1
FGLA_MOMENTUM = 0.99
ADMM_LOSSES = (
    ("l2", "left"),
    ("kl", "left"),
    ("kl", "right"),
    ("is", "left"),
    ("beta0.5", "left"),
    ("beta1.5", "left"),
    ("beta1.5", "right"),
)
GD_LOSSES = ("l2", "kl", "is", "beta0.5")
#: the classical methods the streaming engine lists (any other admm-<loss>[-right] also streams)
STREAMING_CLASSICAL = (
    "admm-l2",
    "admm-kl",
    "admm-kl-right",
    "admm-is",
    "gla",
    "fgla",
    "rtisi-la",
    "rtpghi",
    "rtpghi-0",
    "rtpghi-1",
)
_LOSS_WORDS = {"l2": "quadratic", "kl": "Kullback-Leibler", "is": "Itakura-Saito"}
_HOP_VARIANT = re.compile(r"-hop[0-9]+")  # what follows a model's name in its variants' names


@dataclass(frozen=True)
class MethodSpec:
    """One method: its family ("gla", "admm", "gd", "model", "rtisi", "rtpghi") and everything it needs.

    ``iterations``: the offline default (a classical method's iterations, a model's T layers: one pass);
    ``step_iterations``: the default per window step of the stream (a model: its card's passes of its
    layers, ``streaming.passes``, else 1; None where it follows a rule (RTISI-LA) or does not apply (RTPGHI,
    offline-only methods)); ``lookahead`` /
    ``block``: the settings a stream-trained model runs at (its card's), None where the caller chooses;
    ``cfg``: the STFT a model is made for (None: a classical method runs at any; ``at_config`` finds a
    model's NAME-hopH variant for another hop); ``backends``: those that run it.
    """

    name: str
    description: str
    family: str
    offline: bool
    streaming: bool
    momentum: float = 0.0  # gla
    div: Divergence | None = None  # admm, gd
    side: str = "left"
    power: int = 1  # the d the method works at (admm, gd)
    nesterov: bool = False  # gd
    causal: bool | None = None  # rtpghi: True (variant 0), False (variant 1), None (by look-ahead)
    iterations: int | None = OFFLINE_ITERATIONS
    step_iterations: int | None = STEP_ITERATIONS
    lookahead: int | None = None  # stream-trained model
    block: int | None = None
    backends: tuple[str, ...] = (backends.COMPILED, backends.NUMPY)
    cfg: StftConfig | None = None  # model
    path: Path | None = None  # model
    card: ModelCard | None = field(default=None, compare=False, repr=False)  # model (None: unreadable)
    problem: str | None = None  # model: why its card cannot be read (running it says so)

    @property
    def takes_mel(self) -> bool:
        """Whether the method takes a mel measurement: GLA, FGLA and ADMM at d = 1, offline (engine.mel_gla)
        and in the stream (engine.mel_window), the mel step as their magnitude step; and the offline mel
        models (``mel_model``)."""
        return (self.family in ("gla", "admm") and self.power == 1) or (self.mel_model and self.offline)

    @property
    def mel_model(self) -> bool:
        """Whether this is a learned mel model (its card has a "mel" section): it takes only that mel."""
        return self.family == "model" and self.card is not None and self.card.mel is not None

    def check_magnitudes(self) -> None:
        """InputError in one line where the method cannot take magnitudes: a mel model."""
        if self.mel_model:
            preset = mel_preset_name(self.card.mel_config) or "its card's"
            api = (
                f"phasefold.mel_to_audio(M, preset={preset!r}, method={self.name!r})"
                if self.offline
                else f"Stream.open({self.name!r}, mel={preset!r})"
            )
            raise InputError(
                f"{self.name} is a mel model: it takes only the {preset} mel, not magnitudes (give the mel "
                f"with --mel {preset}{'' if self.offline else ' --online'}, or {api})"
            )

    @property
    def layers(self) -> int:
        """A model's T layers; 1 for a classical method (an iteration is its layer) and where a model's card
        is unreadable (running it says why)."""
        return (self.iterations or 1) if self.family == "model" else 1

    def passes(self, n_iter: int) -> int:
        """Window-step iterations of an offline run of ``n_iter`` iterations: a model's passes of its layers,
        round(n_iter / T), at least one; a classical method's ``n_iter``."""
        return max(1, round(n_iter / self.layers)) if self.family == "model" else n_iter

    def variants(self) -> list[MethodSpec]:
        """A model and its NAME-hopH variants (the same model exported at other hops), this one first; a
        classical method alone."""
        if self.cfg is None:
            return [self]
        found = [s for n, s in model_specs().items() if _HOP_VARIANT.fullmatch(n.removeprefix(self.name))]
        return [self, *(s for s in found if s.cfg is not None and s is not self)]

    def at_config(self, cfg: StftConfig) -> MethodSpec:
        """The spec that runs at ``cfg``: a classical method itself, a model the one of its variants whose
        card lists ``cfg`` (``runs_at``); InputError naming the configurations it has otherwise."""
        self.check_magnitudes()
        for spec in self.variants():
            if spec.runs_at(cfg):
                return spec
        has = "; ".join(f"{describe_stft(s.cfg)} ({s.name})" for s in self.variants())
        raise InputError(
            f"{self.name} runs at {has}, not at {describe_stft(cfg)}: a learned model runs at its card's "
            "STFT; leave out --method for this configuration's default, or name a classical method (fgla, "
            "admm-l2, ...: they run at any)"
        )

    def at_hop(self, hop: int) -> MethodSpec:
        """The spec that runs at ``hop`` at this model's rate and n_fft (``at_config``)."""
        if self.cfg is None:
            return self
        return self.at_config(replace(self.cfg, hop=hop))

    def runs_at(self, cfg: StftConfig) -> bool:
        """Whether this method runs at ``cfg``: a classical method at any, a model at its card's STFT (every
        setting: rate, n_fft, hop, window, framing, convention; any power d: a model converts r = |X|^d to
        the magnitudes it takes)."""
        return self.cfg is None or replace(cfg, power=self.cfg.power) == self.cfg

    def stream_settings(self, lookahead: int | None = None, block: int | None = None) -> tuple[int, int]:
        """(L, B) for the stream: None takes a stream-trained model's own, else DEFAULT_LOOKAHEAD and
        DEFAULT_BLOCK; a setting other than a stream-trained model's raises InputError naming its value."""
        own = (
            DEFAULT_LOOKAHEAD if self.lookahead is None else self.lookahead,
            DEFAULT_BLOCK if self.block is None else self.block,
        )
        asked = (own[0] if lookahead is None else lookahead, own[1] if block is None else block)
        if self.lookahead is not None and asked != own:
            raise InputError(
                f"{self.name} was trained inside the stream at look-ahead {own[0]}, block {own[1]}: "
                f"leave out -L and -B to take its own (asked: look-ahead {asked[0]}, block {asked[1]})"
            )
        return asked

    def step_iterations_at(
        self, cfg: StftConfig, lookahead: int, block: int, iterations: int | None = None
    ) -> int | None:
        """The iterations one stream step runs: ``iterations``, else the default (model passes for a
        model; RTISI-LA: iterations per frame, as many STFT projections per input frame as a
        STEP_ITERATIONS window step at the same L and B); None for RTPGHI, which is not iterative."""
        if self.family == "rtpghi":
            if iterations is not None:
                raise InputError("RTPGHI is not iterative: step iterations do not apply")
            return None
        if iterations is None and self.family == "rtisi":
            n_window = lookahead + cfg.overlap + block - 1
            iterations = math.ceil(STEP_ITERATIONS * n_window / (block * (lookahead + 1)))
        n_iter = self.step_iterations if iterations is None else iterations
        if n_iter is None:
            raise InputError(f"{self.name} runs offline only: there is no stream step")
        if n_iter < 1:
            what = "model passes per step" if self.family == "model" else "iterations per step"
            raise InputError(f"{self.name}: {what} must be at least 1, not {n_iter}")
        return n_iter

    def describe_step(self, n_iter: int | None) -> str:
        """What one stream step runs, in words: '5 iterations per step', '1 pass of 15 layers per step'."""
        if n_iter is None:
            return "not iterative"
        if self.family == "model":
            return f"{counted(n_iter, 'pass', 'passes')} of {self.layers} layers per step"
        per = "per frame" if self.family == "rtisi" else "per step"
        return f"{counted(n_iter, 'iteration')} {per}"

    def describe_offline(self, n_iter: int) -> str:
        """What an offline run of ``n_iter`` iterations runs, in words (a model: its passes of T layers)."""
        if self.family == "model" and n_iter > 0:
            passes = self.passes(n_iter)
            return f"{counted(passes, 'pass', 'passes')} of {self.layers} layers"
        return counted(n_iter, "iteration")


def describe_stft(cfg: StftConfig) -> str:
    """An STFT configuration in words: '22050 Hz, n_fft 1024, hop 256' for phasefold's own window, framing
    and convention, then every setting that differs from those (the window and its length, the framing,
    the convention): '22050 Hz, n_fft 1024, hop 256, hann window (800 samples), centred (reflect padding),
    librosa convention'."""
    words = [f"{cfg.sample_rate} Hz, n_fft {cfg.n_fft}, hop {cfg.hop}"]
    own = StftConfig()
    if cfg.window != own.window or cfg.frame_length != cfg.n_fft:
        window = cfg.window if isinstance(cfg.window, str) else f"a {len(cfg.window)}-sample"
        if cfg.frame_length != cfg.n_fft:
            window += f" ({cfg.frame_length} samples)"
        words.append(f"{window} window")
    if cfg.center is not None:
        words.append(f"centred ({cfg.pad_mode} padding)" if cfg.center else "not centred")
    if cfg.convention != own.convention:
        words.append(f"{cfg.convention} convention")
    return ", ".join(words)


def _loss_words(div: Divergence, side: str) -> str:
    words = _LOSS_WORDS.get(div.name, f"beta = {div.beta:g}")
    if div.beta == 2.0:
        return f"{words} loss"
    return f"{side} {words} loss " + ("D(|Ax|^d | r)" if side == "left" else "D(r | |Ax|^d)")


def admm_spec(name: str, d: int = 1, offline: bool = True) -> MethodSpec:
    """The spec of ``admm-<loss>[-right]`` (InputError for an unknown loss or a non-convex prox)."""
    from phasefold.engine.proxes import make_prox

    parts = name[len("admm-") :].split("-")
    if parts and parts[-1] == "d2":
        parts, d = parts[:-1], 2
    side = "right" if parts and parts[-1] == "right" else "left"
    if side == "right":
        parts = parts[:-1]
    try:
        if len(parts) != 1:
            raise ValueError(name)
        div = divergence(parts[0])
        make_prox(div, side)
    except ValueError as exc:
        detail = "" if str(exc) == name else f": {exc}"
        raise InputError(
            f"unknown ADMM method {name!r}{detail}; use admm-<loss>[-right] with loss l2, kl, is or betaB"
        ) from None
    return MethodSpec(
        name,
        f"ADMM, {_loss_words(div, side)}, d = {d}, rho = 0.1 (published scale).",
        "admm",
        offline=offline,
        streaming=d == 1,
        div=div,
        side=side,
        power=d,
        step_iterations=STEP_ITERATIONS if d == 1 else None,
    )


@functools.lru_cache(maxsize=1)
def builtin_specs() -> dict[str, MethodSpec]:
    """The classical methods, in listing order."""
    specs = [
        MethodSpec(
            "gla",
            "Griffin-Lim: alternate projections on magnitudes and consistent spectrograms.",
            "gla",
            True,
            True,
        ),
        MethodSpec(
            "fgla",
            f"Fast Griffin-Lim (Perraudin 2013), momentum {FGLA_MOMENTUM}.",
            "gla",
            True,
            True,
            momentum=FGLA_MOMENTUM,
        ),
    ]
    for d in (1, 2):
        suffix = "" if d == 1 else "-d2"
        specs += [
            admm_spec(f"admm-{loss}{'-right' if side == 'right' else ''}{suffix}")
            for loss, side in ADMM_LOSSES
        ]
        for loss in GD_LOSSES:
            div = divergence(loss)
            for side in ("left", "right") if div.beta != 2.0 else ("left",):
                side_tag = f"-{side}" if div.beta != 2.0 else ""
                for nesterov in (False, True):
                    kind = "Nesterov-accelerated gradient descent" if nesterov else "gradient descent"
                    specs.append(
                        MethodSpec(
                            f"gd-{loss}{side_tag}{suffix}{'-nesterov' if nesterov else ''}",
                            f"{kind[0].upper()}{kind[1:]}, {_loss_words(div, side)}, d = {d}.",
                            "gd",
                            offline=True,
                            streaming=False,
                            div=div,
                            side=side,
                            power=d,
                            nesterov=nesterov,
                            step_iterations=None,
                            backends=(backends.NUMPY,),
                        )
                    )
    specs.append(
        MethodSpec(
            "rtisi-la",
            "RTISI-LA (Zhu, Beauregard, Wyse 2007): Griffin-Lim on the look-ahead frames.",
            "rtisi",
            offline=False,
            streaming=True,
            iterations=None,
            step_iterations=None,  # by rule: MethodSpec.step_iterations_at
        )
    )
    for name, causal, words in (
        ("rtpghi", None, "one hop of delay when L >= 1, else none"),
        ("rtpghi-0", True, "no delay"),
        ("rtpghi-1", False, "one hop of delay"),
    ):
        specs.append(
            MethodSpec(
                name,
                f"RTPGHI (Prusa & Sondergaard 2016), {words}.",
                "rtpghi",
                False,
                True,
                causal=causal,
                iterations=None,
                step_iterations=None,
            )
        )
    return {s.name: s for s in specs}


def model_spec(path: str | Path, name: str | None = None) -> MethodSpec:
    """The spec of an exported model file; its card is read now, and this is the one place the registry
    reads it (an unreadable card gives a spec that says why when run)."""
    path = Path(path)
    model_backends = (backends.COMPILED, backends.ONNXRUNTIME)
    try:
        card = ModelCard.read(path)
    except ModelError as exc:
        return MethodSpec(
            name or path.stem,
            f"Exported model {path.name} (unreadable card).",
            "model",
            False,
            True,
            iterations=None,
            step_iterations=1,
            backends=model_backends,
            path=path,
            problem=str(exc),
        )
    pinned = card.window_frames is not None
    words = f"{card.variant}, T = {card.layers}"
    if card.streaming:
        words += f", trained in the stream at L = {card.streaming.lookahead}"
    return MethodSpec(
        name or path.stem,
        f"Unfolded ADMM model {path.name} ({words}).",
        "model",
        offline=not pinned,
        streaming=True,
        iterations=card.layers,  # one pass of its T layers offline
        step_iterations=card.stream_passes,  # passes per stream step: the card's, else one
        lookahead=card.streaming.lookahead if card.streaming else None,
        block=card.streaming.block if card.streaming else None,
        backends=model_backends,
        cfg=card.stft,
        path=path,
        card=card,
    )


def _name_clash(name: str, taken: dict[str, MethodSpec]) -> str | None:
    """Why a model file called ``name`` is not offered under its name, or None."""
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        return "its name is not UTF-8 text; rename it to use it"
    if name in builtin_specs() or (name.startswith("admm-") and _is_admm_name(name)):
        return f"{name!r} is a built-in method; the built-in is used (rename the model to use it)"
    if name in taken:
        return f"{name!r} is taken by {taken[name].path}, found first"
    return None


def _is_admm_name(name: str) -> bool:
    try:
        admm_spec(name)
    except InputError:
        return False
    return True


@functools.lru_cache(maxsize=4)
def _discovered(key: tuple) -> dict[str, MethodSpec]:
    """The models offered by name: one ModelPathWarning (naming the file) for each file that is not, or
    whose card cannot be read (it stays findable by name, and running it says what is wrong)."""
    found: dict[str, MethodSpec] = {}
    for name, path in catalog.model_candidates():
        clash = _name_clash(name, found)
        if clash is not None:
            shown = str(path).encode("utf-8", "backslashreplace").decode("utf-8")  # a name that is not UTF-8
            warnings.warn(f"{shown}: not offered: {clash}", ModelPathWarning, stacklevel=4)
            continue
        spec = found[name] = model_spec(path, name)
        if spec.problem is not None:
            warnings.warn(f"not offered: {spec.problem}", ModelPathWarning, stacklevel=4)
    return found


def _stamp(path: Path) -> int | None:
    try:
        return path.stat().st_mtime_ns
    except OSError:
        return None


def model_specs() -> dict[str, MethodSpec]:
    """Every exported model found by engine.catalog, by name (discovered once per set of folders and files;
    a built-in's name is never taken by a model)."""
    key = tuple(
        (name, str(p), _stamp(p), _stamp(p.with_suffix(".json"))) for name, p in catalog.model_candidates()
    )
    return _discovered(key)


def specs() -> dict[str, MethodSpec]:
    """Every listed method: the built-in ones, then the models."""
    return {**builtin_specs(), **model_specs()}


def check_name(method: object, what: str = "method") -> None:
    """InputError unless ``method`` is a name or a path (a str or os.PathLike)."""
    if not isinstance(method, (str, os.PathLike)):
        raise InputError(f"{what} must be a name or the path of an .onnx model, not {method!r}")


def lookup(method: str | Path, among: list[str] | None = None, what: str = "method") -> MethodSpec:
    """A method by name, or an exported model by .onnx path; InputError with the closest names otherwise.

    ``among`` and ``what`` word the error for a subset (the streaming engine's methods)."""
    check_name(method, what)
    if Path(method).suffix == ".onnx":
        return model_spec(method)
    name = str(method)
    everything = specs()
    if name in everything:
        return everything[name]
    mel_models = mel_model_specs()
    if name in mel_models:
        return mel_models[name]
    detail = ""
    if name.startswith("admm-"):
        try:
            return admm_spec(name)  # any loss streams, listed or not
        except InputError as exc:
            detail = f" ({exc})"
    close = difflib.get_close_matches(name, among or [*everything, *mel_models], n=4, cutoff=0.5)
    hint = f"; did you mean {', '.join(close)}?" if close else ""
    listing = "phasefold reconstruct --list-methods lists them"
    if among:
        listing = f"choose from {', '.join(among)}"
    raise InputError(f"unknown {what} {name!r}{hint} ({listing}){detail}")


def offline_names() -> list[str]:
    return [name for name, s in specs().items() if s.offline]


def streaming_names(cfg: StftConfig | None = None) -> list[str]:
    """The methods the streaming engine lists; with ``cfg``, only the models made for that STFT."""
    names = list(STREAMING_CLASSICAL)
    for name, spec in model_specs().items():
        if spec.problem is not None or (cfg is not None and spec.cfg != cfg):
            continue  # a broken card is not offered (loading it by name says why)
        names.append(name)
    return names


def default_stream_method(names: list[str]) -> str:
    """The method to start a stream with among ``names``: DEFAULT_STREAM_METHOD when listed, else the
    tied model, else the first model, else the first method."""
    for name in (DEFAULT_STREAM_METHOD, "unfolded-tied"):
        if name in names:
            return name
    return next((n for n in names if n.startswith("unfolded")), names[0])


def default_method(cfg: StftConfig, streaming: bool = False) -> str:
    """The method a run at ``cfg`` gets where none is named: the measured default of MEASURED_DEFAULTS
    (``streaming``: of MEASURED_STREAM_DEFAULTS first) where the configuration has one; else the first
    learned model (in engine.catalog's order: the shipped ones, then PHASEFOLD_MODEL_PATH's, by name) whose
    card lists ``cfg`` and that runs offline
    (``streaming``: in the stream); else CLASSICAL_DEFAULT. The cards are read where they are found, so a
    model for a new configuration becomes its default without a change here."""
    key = (cfg.sample_rate, cfg.n_fft, cfg.hop)
    measured = (MEASURED_STREAM_DEFAULTS.get(key) if streaming else None) or MEASURED_DEFAULTS.get(key)
    if measured is not None:
        return measured
    for name, spec in model_specs().items():
        if spec.problem is None and spec.runs_at(cfg) and (spec.streaming if streaming else spec.offline):
            return name
    return CLASSICAL_DEFAULT


#: the classical methods that take a mel, in listing order: ``phasefold evaluate --mel`` runs these and the
#: offline mel models when no --methods is given (docs/results.md, "Mel")
MEL_CLASSICAL = ("fgla", "gla", "admm-l2", "admm-kl")


def mel_preset_name(cfg: object) -> str | None:
    """The name of the engine.mel preset equal to ``cfg``, or None."""
    from phasefold.engine.mel import PRESETS

    return next((name for name, preset in PRESETS.items() if preset == cfg), None)


def mel_model_specs() -> dict[str, MethodSpec]:
    """The shipped mel models (exported_models/mel/NAME.onnx with a card), by name: methods that take only
    their card's mel (``MethodSpec.mel_model``); not among ``specs()``, which take magnitudes. A name that
    a built-in or a magnitude model holds is not offered."""
    if not MEL_MODELS_DIR.is_dir():
        return {}
    key = tuple(
        (p.stem, str(p), _stamp(p), _stamp(p.with_suffix(".json")))
        for p in sorted(MEL_MODELS_DIR.glob("*.onnx"))
        if p.with_suffix(".json").is_file()
    )
    return _mel_discovered(key)


@functools.lru_cache(maxsize=4)
def _mel_discovered(key: tuple) -> dict[str, MethodSpec]:
    taken = specs()
    found = {}
    for name, where, *_ in key:
        path = Path(where)
        if name in taken:
            warnings.warn(f"{path}: not offered: {name!r} is taken by another method", ModelPathWarning, 4)
            continue
        spec = model_spec(path, name)
        if spec.card is not None:
            where = "offline" if spec.offline else f"in the stream at L = {spec.lookahead}"
            words = f"{spec.card.variant}, T = {spec.card.layers}, runs {where}"
            preset = mel_preset_name(spec.card.mel_config) or "its card's"
            spec = replace(
                spec,
                description=f"Mel model {path.name}: takes the {preset} mel only ({words}).",
                streaming=not spec.offline,  # the stream models; the offline one runs offline only
            )
        found[name] = spec
    return found


def mel_method_names(cfg: object = None, stream: bool = False) -> list[str]:
    """The methods that take a mel offline, in listing order: MEL_CLASSICAL, then the offline mel models
    (of the engine.mel.MelConfig ``cfg`` only, where given): ``phasefold evaluate --mel``'s default list.
    With ``stream``, those that take it in the stream (``mel_spec(..., stream=True)``): MEL_CLASSICAL, then
    the stream mel models (``phasefold stream --list-methods --mel PRESET``)."""
    models = [
        name
        for name, spec in mel_model_specs().items()
        if (not spec.offline if stream else spec.takes_mel) and (cfg is None or spec.card.mel_config == cfg)
    ]
    return [*MEL_CLASSICAL, *models]


def mel_spec(method: str | Path | MethodSpec, cfg: object = None, stream: bool = False) -> MethodSpec:
    """The spec of a method (a name or a spec) that takes a mel measurement offline (``MethodSpec.takes_mel``)
    or, with ``stream``, in the stream (the classical mel methods and the stream mel models), for a mel of
    the engine.mel.MelConfig ``cfg`` where given (a mel model takes only its card's); InputError in one
    line for any other."""
    if isinstance(method, MethodSpec):
        spec = method
    elif stream:
        spec = lookup(method, among=mel_method_names(cfg, stream=True), what="mel streaming method")
    else:
        spec = lookup(method)
    streamed_model = spec.mel_model and not spec.offline
    if stream and spec.takes_mel and not spec.streaming:
        raise InputError(
            f"{spec.name} is an offline mel method; the mel streaming methods: "
            f"{', '.join(mel_method_names(cfg, stream=True))}"
        )
    if streamed_model and not stream:
        preset = mel_preset_name(spec.card.mel_config) or "PRESET"
        raise InputError(
            f"{spec.name} is a stream mel model (look-ahead {spec.lookahead}): run it in a stream "
            f"(reconstruct --mel {preset} --online, or Stream.open({spec.name!r}, mel={preset!r}))"
        )
    if not spec.takes_mel and not streamed_model:
        raise InputError(
            f"{spec.name} does not take a mel input: the mel methods are gla, fgla, admm-<loss>[-right] "
            f"(d = 1) and the mel models ({', '.join(mel_model_specs()) or 'none found'})"
        )
    if spec.mel_model and cfg is not None and cfg != spec.card.mel_config:
        own = mel_preset_name(spec.card.mel_config) or "its card's"
        given = mel_preset_name(cfg)
        raise InputError(
            f"{spec.name} takes only the {own} mel, not {'the ' + given if given else 'this'} mel: give "
            f"the {own} mel, or choose a classical mel method (fgla, gla, admm-l2, ...)"
        )
    return spec

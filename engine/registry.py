"""The one method registry: every method phasefold runs, offline and in the streaming engine, by name.

A ``MethodSpec`` says what a method is; the registry builds, on request, its offline runner and its window
step for a backend (engine.backends). Built-in methods are listed once; exported models are discovered from
engine.catalog (the shipped ones and ``PHASEFOLD_MODEL_PATH``), their cards read when they are listed.
Nothing registers itself at import. Names:

- offline and streaming: ``gla``, ``fgla``, ``admm-<loss>[-right]`` (d = 1) and the exported models;
- offline only: ``admm-...-d2`` and ``gd-<loss>[-<side>][-d2][-nesterov]``;
- streaming only: ``rtisi-la``, ``rtpghi`` / ``rtpghi-0`` / ``rtpghi-1`` and the stream-trained models
  (their window is pinned to W = L + N/H).
"""

from __future__ import annotations

import difflib
import functools
from dataclasses import dataclass, field
from pathlib import Path

from phasefold.engine import catalog
from phasefold.engine.divergences import Divergence, divergence
from phasefold.engine.errors import InputError, ModelError
from phasefold.engine.model_card import ModelCard

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


@dataclass(frozen=True)
class MethodSpec:
    """One method: its kind ("gla", "admm", "gd", "model", "rtisi", "rtpghi") and what it needs."""

    name: str
    description: str
    kind: str
    offline: bool
    streaming: bool
    momentum: float = 0.0  # gla
    div: Divergence | None = None  # admm, gd
    side: str = "left"
    power: int = 1  # the d the method works at (admm, gd)
    nesterov: bool = False  # gd
    causal: bool | None = None  # rtpghi: True (variant 0), False (variant 1), None (by look-ahead)
    path: Path | None = None  # model
    card: ModelCard | None = field(default=None, compare=False, repr=False)  # model (None: unreadable)


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
                        )
                    )
    specs.append(
        MethodSpec(
            "rtisi-la",
            "RTISI-LA (Zhu, Beauregard, Wyse 2007): Griffin-Lim on the look-ahead frames.",
            "rtisi",
            offline=False,
            streaming=True,
        )
    )
    for name, causal, words in (
        ("rtpghi", None, "one hop of delay when L >= 1, else none"),
        ("rtpghi-0", True, "no delay"),
        ("rtpghi-1", False, "one hop of delay"),
    ):
        specs.append(
            MethodSpec(
                name, f"RTPGHI (Prusa & Sondergaard 2016), {words}.", "rtpghi", False, True, causal=causal
            )
        )
    return {s.name: s for s in specs}


def model_spec(path: str | Path, name: str | None = None) -> MethodSpec:
    """The spec of an exported model file; its card is read now (None when unreadable: running says why)."""
    path = Path(path)
    try:
        card = ModelCard.read(path)
    except ModelError:
        card = None
    if card is None:
        return MethodSpec(
            name or path.stem,
            f"Exported model {path.name} (unreadable card).",
            "model",
            False,
            True,
            path=path,
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
        path=path,
        card=card,
    )


@functools.lru_cache(maxsize=4)
def _discovered(key: tuple) -> dict[str, MethodSpec]:
    return {name: model_spec(path, name) for name, path in catalog.model_files().items()}


def model_specs() -> dict[str, MethodSpec]:
    """Every exported model found by engine.catalog, by name (discovered once per set of folders)."""
    files = catalog.model_files()
    key = tuple((name, str(p), p.stat().st_mtime_ns) for name, p in files.items())
    return _discovered(key)


def specs() -> dict[str, MethodSpec]:
    """Every listed method: the built-in ones, then the models."""
    return {**builtin_specs(), **model_specs()}


def lookup(method: str | Path, among: list[str] | None = None, what: str = "method") -> MethodSpec:
    """A method by name, or an exported model by .onnx path; InputError with the closest names otherwise.

    ``among`` and ``what`` word the error for a subset (the streaming engine's methods)."""
    if Path(method).suffix == ".onnx":
        return model_spec(method)
    name = str(method)
    everything = specs()
    if name in everything:
        return everything[name]
    detail = ""
    if name.startswith("admm-"):
        try:
            return admm_spec(name)  # any loss streams, listed or not
        except InputError as exc:
            detail = f" ({exc})"
    close = difflib.get_close_matches(name, among or list(everything), n=4, cutoff=0.5)
    hint = f"; did you mean {', '.join(close)}?" if close else ""
    listing = "phasefold reconstruct --list-methods lists them"
    if among:
        listing = f"choose from {', '.join(among)}"
    raise InputError(f"unknown {what} {name!r}{hint} ({listing}){detail}")


def offline_names() -> list[str]:
    return [name for name, s in specs().items() if s.offline]


def streaming_names(cfg=None) -> list[str]:
    """The methods the streaming engine lists; with ``cfg``, only the models made for that STFT."""
    names = list(STREAMING_CLASSICAL)
    for name, spec in model_specs().items():
        if cfg is not None and (spec.card is None or spec.card.stft != cfg):
            continue  # a broken card is not offered for a setting (loading it would say why)
        names.append(name)
    return names

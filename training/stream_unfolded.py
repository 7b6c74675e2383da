"""Unfolded ADMM trained for the streaming engine: the engine's window loop, differentiable, in PyTorch.

``stream_reconstruct`` mirrors ``engine.streaming.window.WindowProcessor`` (block B = 1, "advance" start)
operation by operation: the window of W = L + N/H frames slides by one frame, the new frame starts from
the previous frame's phase advanced by 2 pi k H / N and enters ``x`` by least squares, the first
(N/H - 1) H samples (already emitted) and every sample before the stream are fixed, the window step
runs, and the H samples after the fixed ones are emitted. The emitted hops, joined, are the signal the
engine would play; the training loss is taken on it.

``StreamUnfolded`` is the window step: an untied ``phasefold.training.unfolded.UnfoldedADMM`` whose activation
parameters may also depend on the frame's position in the window (shape [T, W] instead of [T]), and whose
least-squares synthesis divides by max(coverage, ``engine.admm.COVERAGE_EPS``) exactly as the engine's
ADMM does, so that the untrained network *is* the engine's ``admm-l2`` step.

Its layers have one of two forms (``StreamNetConfig.form``):
- "admm": unfolded ADMM, the learned prox in place of the loss's prox, with a dual;
- "gla": unfolded fast Griffin-Lim. Each layer applies the learned prox to the magnitudes of A z and
  projects back on consistent signals by least squares, then extrapolates
  z = x_t + beta_t (x_t - x_{t-1}) with a learned momentum beta_t per layer. There is no dual: lam passes
  through. Untrained (g1 = 0, g2 = 1, b = 2, no pieces: the prox is the magnitude projection u = r;
  beta = 0.99), it *is* the engine's ``fgla`` step. On inconsistent (modified) magnitudes this form beats
  ADMM, whose dual keeps accumulating a residual that never vanishes (docs/results.md, issue 14).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np
import torch
from phasefold.engine import limits
from phasefold.engine.admm import COVERAGE_EPS
from phasefold.engine.model_card import LAYER_FORMS, PER_LAYER_KEYS
from phasefold.engine.stft import StftConfig, coverage, overlap_add
from phasefold.engine.stft import window as np_window
from phasefold.training import stft as tstft
from phasefold.training.unfolded import ABS_EPS2, NetConfig, UnfoldedADMM, load_parameters
from torch import nn

INSERT_EPS = 1e-12  # the engine's floor on the coverage when it inserts a new frame
MOMENTUM_MAX = 0.999  # a "gla" layer's momentum stays in [0, MOMENTUM_MAX]


@dataclass
class StreamNetConfig:
    """Architecture of a streaming model: layers per step, look-ahead, position-dependent parameters."""

    lookahead: int = 1
    layers: int = 3
    pieces: int = 3
    rho: float = 0.1
    position: bool = True  # one parameter set per (layer, frame position in the window)
    fixed_b: bool = False  # b = 2 frozen: the compiled step's prox needs no power of r
    rho_end: float | None = None  # a learned penalty per layer (an offline model's schedule it starts from)
    cov_eps: float = COVERAGE_EPS  # floor of the coverage in the least-squares synthesis
    form: str = "admm"  # "admm" or "gla" (module docstring)
    momentum: float = 0.99  # a "gla" network's initial momentum per layer (FGLA's)
    stft: dict = field(default_factory=lambda: StftConfig().to_dict())

    def __post_init__(self) -> None:
        if self.lookahead < 0 or self.layers < 1 or self.pieces < 0:
            raise ValueError("lookahead must be >= 0, layers >= 1, pieces >= 0")
        limits.check_layers(self.layers)
        limits.check_lookahead(self.lookahead)
        if self.form not in LAYER_FORMS:
            raise ValueError(f"form must be one of {', '.join(LAYER_FORMS)}, not {self.form!r}")
        if self.form == "gla" and (self.rho_end is not None or not self.fixed_b):
            raise ValueError("a 'gla' network has b = 2 (fixed_b) and no penalty schedule")
        if not 0.0 <= self.momentum <= MOMENTUM_MAX:
            raise ValueError(f"momentum must be in [0, {MOMENTUM_MAX}]")

    @property
    def stft_cfg(self) -> StftConfig:
        return StftConfig.from_dict(self.stft)

    @property
    def window_frames(self) -> int:
        """W = L + N/H (block of one frame)."""
        return self.lookahead + self.stft_cfg.overlap

    def to_dict(self) -> dict:
        return asdict(self)


class StreamUnfolded(UnfoldedADMM):
    """Untied unfolded ADMM on a pinned window of W frames; parameters [T, P] with P = W or 1."""

    def __init__(self, cfg: StreamNetConfig) -> None:
        super().__init__(
            NetConfig(
                variant="untied",
                layers=cfg.layers,
                pieces=cfg.pieces,
                rho=cfg.rho,
                stft=cfg.stft,
                fixed_b=cfg.fixed_b,
                rho_end=cfg.rho_end,
            )
        )
        self.scfg = cfg
        self.positions = cfg.window_frames if cfg.position else 1
        self.truncate: int | None = None  # truncated BPTT in ``reconstruct`` (set by the trainer)
        self.level: tuple[float, float] | None = None  # ``stream_reconstruct``'s level (set by the run)
        p = self.positions
        for name in ("g1", "g2", "b"):
            old = getattr(self, name)  # a frozen parameter (b with fixed_b) stays frozen
            base = old.detach()[:, None].repeat(1, p).contiguous()
            setattr(self, name, nn.Parameter(base, requires_grad=old.requires_grad))
        self.w = nn.Parameter(self.w.detach()[:, None, :].repeat(1, p, 1).contiguous())
        self.log_break = nn.Parameter(self.log_break.detach()[:, None, :].repeat(1, p, 1).contiguous())
        cov = coverage(cfg.window_frames, self.stft_cfg)
        self.register_buffer("cov", torch.as_tensor(np.maximum(cov, cfg.cov_eps)), persistent=False)
        self.momentum = None
        if cfg.form == "gla":  # untrained: the magnitude projection u = r and FGLA's momentum
            with torch.no_grad():
                self.g1.zero_()
                self.g2.fill_(1.0)
            self.momentum = nn.Parameter(torch.full((cfg.layers,), float(cfg.momentum)))

    def _values(self) -> dict[str, torch.Tensor]:
        """UnfoldedADMM's constrained values; a "gla" network's g1 may be 0 (its untrained start, the
        projection: exactly FGLA; the optimiser's projection, project_, then keeps g1 >= G1_MIN as for every
        network) and it has a momentum per layer."""
        p = UnfoldedADMM.constrained(self)
        if self.momentum is not None:
            p["g1"] = self.g1.clamp_min(0.0)
            p["momentum"] = self.momentum.clamp(0.0, MOMENTUM_MAX)
        return p

    @torch.no_grad()
    def project_(self) -> None:
        super().project_()
        if self.momentum is not None:
            self.momentum.clamp_(0.0, MOMENTUM_MAX)

    def constrained(self) -> dict[str, torch.Tensor]:
        """Constrained values shaped to broadcast over [..., W, K]: g1/g2/b [T, P, 1], w/bias [T, C, P, 1]
        (and the per-layer penalties "rho" [T] of a penalty schedule, the momentum [T] of a "gla" network)."""
        p = self._values()
        out = {
            "g1": p["g1"][..., None],
            "g2": p["g2"][..., None],
            "b": p["b"][..., None],
            "w": p["w"].permute(0, 2, 1)[..., None],
            "bias": p["bias"].permute(0, 2, 1)[..., None],
        }
        for key in PER_LAYER_KEYS:
            if key in p:
                out[key] = p[key]
        return out

    def card_parameters(self) -> dict[str, list]:
        """One row per (layer, position) set, layer-major (set = t * P + position); "rho" and "momentum":
        one per layer."""
        p = self._values()
        t, n = self.scfg.layers, self.positions
        return {
            k: v.detach().cpu().double().reshape(t if k in PER_LAYER_KEYS else t * n, *v.shape[2:]).tolist()
            for k, v in p.items()
        }

    def start_from(self, params: dict) -> None:
        """Start from a card's parameters: an offline model's (one set, tied, or one per layer, untied; "rho"
        its penalty schedule), taken by every window position, so that the stream runs that model; or a
        stream model's of the same shape (one set per layer and position, layer-major), taken as they are."""
        t, n = self.scfg.layers, self.positions
        if "rho" in params and self.log_rho is None:
            raise ValueError("a penalty schedule needs a network made with rho_end")
        per_set = {k: params[k] for k in PER_LAYER_KEYS if k in params}
        for name in ("g1", "g2", "b", "w", "bias"):
            rows = np.asarray(params[name], dtype=np.float64)
            if rows.shape[0] != t * n:
                rows = np.broadcast_to(rows, (t, *rows.shape[1:])) if rows.shape[0] == 1 else rows
                rows = np.repeat(rows, n, axis=0)  # layer-major: set = layer * P + position
            per_set[name] = rows
        load_parameters(self, per_set)

    def graph_parameters(self) -> dict[str, np.ndarray]:
        """Parameters shaped for ``phasefold.training.onnx_graph.build_model`` with per-position constants."""
        return {k: v.detach().cpu().double().numpy() for k, v in self.constrained().items()}

    def forward(self, mag, x, fixed, lam, layers: int | None = None):
        """T layers on the window; least squares divides by max(coverage, cov_eps)."""
        p = self.constrained()
        cov = self.cov.to(x.dtype)
        n_layers = self.cfg.layers if layers is None else layers
        if self.momentum is not None:
            return self.gla_layers(n_layers, mag, x, fixed, p, cov), lam
        for t in range(n_layers):
            x, lam = self.layer(t, mag, x, fixed, lam, p, cov)
        return x, lam

    def gla_layers(self, n_layers: int, mag, x, fixed, p: dict, cov) -> torch.Tensor:
        """Layers of the "gla" form: the learned prox on |A z|, least squares, momentum (engine's fgla)."""
        cfg = self.stft_cfg
        prev = z = x
        for t in range(n_layers):
            c = tstft.analyze(z, cfg, self.win)
            a = torch.sqrt(c.real.square() + c.imag.square() + ABS_EPS2)
            u = self.prox(a, self.target(a, mag), t, p)
            x_t = fixed * prev + (1.0 - fixed) * tstft.synthesize(c * (u / a), cfg, self.win) / cov
            z = x_t + p["momentum"][t] * (x_t - prev)
            prev = x_t
        return prev

    def reconstruct(
        self, mag, length: int, phase=None, passes: int = 1, runner=None, probe: float = 0.0
    ) -> torch.Tensor:
        """The streamed signal [..., length] (phase is ignored: the stream starts each frame itself);
        ``probe``: ``stream_reconstruct``'s shadow run (a doubled batch)."""
        return stream_reconstruct(
            self if runner is None else runner,
            mag,
            length,
            self.scfg.lookahead,
            self.stft_cfg,
            passes=passes,
            truncate=self.truncate if torch.is_grad_enabled() else None,
            probe=probe,
            new_magnitude=self.new_magnitude,
            level=self.level,
        )

    def new_magnitude(self, mag: torch.Tensor) -> torch.Tensor:
        """The magnitudes [..., K] a new frame enters the window with, from its measurement [..., K]: the
        measurement itself (a mel network makes them from its mel)."""
        return mag


def causal_shifts(mag: torch.Tensor, reference: float, power: float = 1.0) -> np.ndarray:
    """The engine stream's level shift k after each frame, [batch, F] integers: the engine's own running
    level (engine.level.RunningLevel against ``reference``) fed the measurement frames one by one."""
    from phasefold.engine.level import RunningLevel

    if power != 1.0:
        raise ValueError("the stream loop's level is written for p = 1 (the dual scales as the signal)")
    rows = mag.detach().to("cpu", torch.float64).numpy()
    shifts = np.empty(rows.shape[:2], dtype=np.int64)
    for b, row in enumerate(rows):
        level = RunningLevel(power, reference)
        for m in range(row.shape[0]):
            shifts[b, m] = level.update(row[m : m + 1])
    return shifts


class _Inserter:
    """Constants of the window loop: coverages and the phase advance of one hop."""

    def __init__(self, cfg: StftConfig, n_window: int, dtype, device) -> None:
        w2 = np.broadcast_to(np_window(cfg) ** 2, (n_window, cfg.n_fft)).copy()
        w2[-1] = 0.0
        region = slice((n_window - 1) * cfg.hop, None)
        cov = coverage(n_window, cfg)[region]
        as_t = lambda a: torch.as_tensor(a, dtype=dtype, device=device)  # noqa: E731
        self.cov_old = as_t(overlap_add(w2, cfg)[region])
        self.inv_cov = as_t(1.0 / np.maximum(cov, INSERT_EPS))
        ang = 2.0 * np.pi * np.arange(cfg.n_bins) * cfg.hop / cfg.n_fft
        cdtype = torch.complex64 if dtype == torch.float32 else torch.complex128
        self.advance = torch.as_tensor(np.exp(1j * ang), dtype=cdtype, device=device)
        self.win = tstft.window(cfg, dtype, device)


def stream_reconstruct(
    step,
    mag: torch.Tensor,
    length: int,
    lookahead: int,
    cfg: StftConfig,
    passes: int = 1,
    silent_start: int = 0,
    truncate: int | None = None,
    probe: float = 0.0,
    new_magnitude=None,
    level: tuple[float, float] | None = None,
) -> torch.Tensor:
    """The engine's stream (B = 1, phase-advance start) over magnitudes [..., F, K] -> signal [..., length].

    ``step(mag [.., W, K], x [.., S], fixed [.., S], lam complex [.., W, K]) -> (x, lam)`` is the window
    step (a ``StreamUnfolded`` or any function of that contract), run ``passes`` times per frame.
    ``truncate`` = k cuts the gradient through the carried state (x, lam) every k frames (truncated
    back-propagation through time; the stream is chaotic and full-length gradients explode). The values
    computed are the same whatever ``truncate``.

    ``probe`` > 0 (with ``truncate``) runs a shadow of the stream: the second half of the batch has the
    first half's magnitudes and, at every truncation point, the first half's carried state with its signal
    x multiplied by (1 + probe n), n standard normal (torch's generator). The two halves' outputs then
    differ by what the stream makes of a small change of its state within ``truncate`` frames: a local
    measure of its sensitivity that stays in the linear range over any length (two free runs on perturbed
    inputs come apart entirely within 10 to 20 frames, docs/results.md).

    ``new_magnitude(measurements [.., 1, K']) -> [.., 1, K]``: the magnitudes a new frame starts from
    (default: its measurement; a mel network's from the frame's mel, the measurements [..., F, n_mels]).

    ``level`` = (reference, power): the engine's causal level (engine.level.RunningLevel, as
    engine.streaming.mel runs a stream mel model): each measurement frame enters divided by 2^(k p), k the
    shift of the running maximum of the frame levels so far against ``reference`` (``causal_shifts``), the
    carried state (window measurements, signal, dual) is rescaled exactly when k grows, and the emitted
    samples leave multiplied by 2^k; p = 1 only (the dual scales as the signal).
    """
    if probe > 0 and (not truncate or mag.dim() != 3 or mag.shape[0] % 2):
        raise ValueError("probe needs truncate and a batch [2 B, F, K] whose halves are the same magnitudes")
    if cfg.power != 1.0:
        raise ValueError("the streaming loop is written for magnitudes (d = 1)")
    squeeze = mag.dim() == 2
    if squeeze:
        mag = mag[None]
    batch, n_frames, k_in = mag.shape
    k = cfg.n_bins
    if cfg.n_frames(length) != n_frames:
        raise ValueError(f"{n_frames} frames do not hold a signal of {length} samples")
    h, n, r = cfg.hop, cfg.n_fft, cfg.overlap
    w = lookahead + r
    s = cfg.span(w)
    dtype, dev = mag.dtype, mag.device
    ins = _Inserter(cfg, w, dtype, dev)
    cdtype = ins.advance.dtype
    magw = torch.zeros(batch, w, k_in, dtype=dtype, device=dev)
    x = torch.zeros(batch, s, dtype=dtype, device=dev)
    lam = torch.zeros(batch, w, k, dtype=cdtype, device=dev)
    n_fixed = (r - 1) * h
    out = []
    shifts = None if level is None else causal_shifts(mag, *level)
    k_now = np.zeros(batch, dtype=np.int64)
    gain = None  # 2^k of each batch row, [batch, 1]
    for m in range(n_frames):
        new_in = mag[:, m : m + 1]
        if shifts is not None:
            k_prev, k_now = k_now, shifts[:, m]
            if np.any(k_now != k_prev):  # the carried state to the new level (exact powers of two)
                f = torch.as_tensor(np.ldexp(1.0, k_prev - k_now), dtype=dtype, device=dev)
                magw, x, lam = magw * f[:, None, None], x * f[:, None], lam * f[:, None, None]
            gain = torch.as_tensor(np.ldexp(1.0, k_now), dtype=dtype, device=dev)[:, None]
            new_in = new_in / gain[:, :, None]
        if truncate and m % truncate == 0:
            x, lam = x.detach(), lam.detach()
            if probe > 0:
                half = batch // 2
                shadow = x[:half] * (1.0 + probe * torch.randn_like(x[:half]))
                x, lam = torch.cat([x[:half], shadow]), torch.cat([lam[:half], lam[:half]])
        # 1. slide by one frame
        magw = torch.cat([magw[:, 1:], new_in], dim=1)
        x = torch.cat([x[:, h:], x.new_zeros(batch, h)], dim=1)
        lam = torch.cat([lam[:, 1:], lam.new_zeros(batch, 1, k)], dim=1)
        # 2. the new frame: previous frame's phase advanced by one hop, inserted by least squares
        start = (w - 2) * h
        # the start phase is a heuristic of the engine: no gradient through it (1/|X| blows up near 0)
        prev = torch.fft.rfft(x[:, start : start + n].detach() * ins.win, dim=-1, norm="ortho")
        a2 = prev.real.square() + prev.imag.square()
        nz = a2 > 0
        unit = torch.where(
            nz, prev / torch.sqrt(torch.where(nz, a2, torch.ones_like(a2))), torch.ones_like(prev)
        )
        new = magw[:, -1] if new_magnitude is None else new_magnitude(magw[:, -1:])[:, 0]
        frame = torch.fft.irfft(new * unit * ins.advance, n=n, dim=-1, norm="ortho") * ins.win
        region = x[:, (w - 1) * h :]
        x = torch.cat([x[:, : (w - 1) * h], (region * ins.cov_old + frame) * ins.inv_cov], dim=1)
        # 3. committed samples: emitted ones, and silent ones before the stream (or declared silent)
        span_start = (m + 1 - w) * h
        n_silent = min(s, max(0, silent_start - span_start, -span_start))
        fixed_n = max(n_fixed, n_silent)
        if n_silent:
            x = torch.cat([x.new_zeros(batch, n_silent), x[:, n_silent:]], dim=1)
        fixed = torch.zeros(s, dtype=dtype, device=dev)
        fixed[:fixed_n] = 1.0
        # 4. the window step; 5. emit
        for _ in range(passes):
            x, lam = step(magw, x, fixed, lam)
        out.append(x[:, n_fixed : n_fixed + h] if gain is None else x[:, n_fixed : n_fixed + h] * gain)
    out.append(x[:, r * h :] if gain is None else x[:, r * h :] * gain)
    y = torch.cat(out, dim=1)
    begin = cfg.pad + lookahead * h
    y = y[:, begin : begin + length]
    return y[0] if squeeze else y

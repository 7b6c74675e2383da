"""The unfolded ADMM network (docs/architecture.md): T layers, each an ADMM iteration with a learned prox.

The prox of layer t is F_t(y, r) = APL_t(g1_t y + g2_t r^(b_t - 1) / (b_t - 1)), with
APL(v) = max(v, 0) + sum_c w_c max(-v + beta_c, 0) (``beta_c`` are the break points, called ``bias`` in
the model card). Monotonicity (so that F_t is the prox of a function, the learned divergence):

- the forward pass uses *constrained* values: g1 >= G1_MIN > 0, g2 >= 0, b >= B_MIN > 1, w_c <= 0, and
  break points beta_c = exp(p_c) > 0 (log parametrisation, so Adam moves them by relative steps);
- after every optimiser step ``project_()`` clamps the raw tensors onto the same set, so a parameter on
  the boundary keeps receiving gradients (projected gradient).

With y >= 0 and r >= 0 the argument v is >= 0 and APL has slope >= 1 there, so F_t is strictly
increasing in y with slope >= g1 for every parameter value a checkpoint can hold.

Initialisation: g1 = rho / (1 + rho), g2 = 1 / (1 + rho), b = 2, w = 0, which is exactly the prox of the
quadratic loss (u = (r + rho y) / (1 + rho)): the untrained network is ADMM-l2.

Anchored (``anchored``): b = 2 and g2 = 1 - g1, with g1 <= G1_MAX < 1. Then F_t(r, r) = r for every r above
the break points: the learned divergence f_r(y) is smallest at y = r, as a divergence should be (an
unanchored prox may learn F(r, r) != r, a loss whose minimum sits off the measured magnitude, which
shrinks or inflates the estimate). The free parameters are g1 (the layer's trust in the estimate against
r), the pieces and the penalties; the untrained network is still ADMM-l2.

Penalty schedule (untied only, ``rho_end``): layer t uses its own ADMM penalty rho_t, starting geometrically
from rho to rho_end and learned (log parametrisation) with the prox. A layer is then one iteration of ADMM
with a varying penalty (the dual lambda is unscaled, so it carries over between penalties as it should), and
the untrained network is ADMM-l2 with that schedule. Plain ADMM-l2 on modified magnitudes gains from an
increasing penalty (docs/results.md).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field

import torch
from phasefold.engine import limits
from phasefold.engine.model_card import ModelCard
from phasefold.engine.stft import StftConfig
from phasefold.training import stft as tstft
from torch import nn

G1_MIN = 1e-3
G1_MAX = 1.0 - 1e-3  # anchored networks: g2 = 1 - g1 stays positive
B_MIN = 1.05
R_FLOOR = 1e-12  # r is floored before r^(b-1) so the exponent's gradient stays finite at r = 0
ABS_EPS2 = 1e-24  # |h| = sqrt(re^2 + im^2 + ABS_EPS2): finite gradient at h = 0, z = 0 there
COV_EPS = 1e-2  # synthesis divides by max(coverage, COV_EPS): bounds the gain on the ill-determined tail
LOG_RHO_RANGE = (math.log(1e-3), math.log(1e3))  # a learned penalty stays in [1e-3, 1e3]
VARIANTS = ("tied", "untied")


@dataclass
class NetConfig:
    """Architecture of an unfolded network (everything needed to rebuild it)."""

    variant: str = "tied"
    layers: int = 15
    pieces: int = 3
    rho: float = 0.1
    stft: dict = field(default_factory=lambda: StftConfig().to_dict())
    breaks_init: tuple[float, ...] = (1e-4, 1e-3, 1e-2)
    rho_end: float | None = None  # untied: penalty schedule rho -> rho_end over the layers, learned
    anchored: bool = False  # b = 2, g2 = 1 - g1: F(r, r) = r, the learned divergence is smallest at y = r
    fixed_b: bool = False  # b = 2 frozen, g1 and g2 free: the prox needs no power of r (a cheaper step)

    def __post_init__(self) -> None:
        if self.variant not in VARIANTS:
            raise ValueError(f"variant must be one of {VARIANTS}, not {self.variant!r}")
        if self.layers < 1 or self.pieces < 0:
            raise ValueError("layers must be >= 1 and pieces >= 0")
        limits.check_layers(self.layers)
        if self.rho <= 0:
            raise ValueError("rho must be positive")
        if self.rho_end is not None and (self.rho_end <= 0 or self.variant != "untied"):
            raise ValueError("a penalty schedule (rho_end) needs the untied variant and rho_end > 0")
        self.breaks_init = tuple(float(b) for b in self.breaks_init)

    @property
    def stft_cfg(self) -> StftConfig:
        return StftConfig.from_dict(self.stft)

    def rho_schedule(self) -> list[float]:
        """The initial penalty of each layer: rho everywhere, or geometric from rho to rho_end."""
        if self.rho_end is None or self.layers == 1:
            return [self.rho] * self.layers
        ratio = math.log(self.rho_end / self.rho) / (self.layers - 1)
        return [self.rho * math.exp(ratio * t) for t in range(self.layers)]

    def to_dict(self) -> dict:
        return asdict(self)


def initial_breaks(pieces: int, init: tuple[float, ...]) -> list[float]:
    """``pieces`` log-spaced initial break points spanning ``init``."""
    if pieces == 0:
        return []
    lo, hi = math.log(min(init)), math.log(max(init))
    if pieces == 1:
        return [math.exp(0.5 * (lo + hi))]
    return [math.exp(lo + (hi - lo) * c / (pieces - 1)) for c in range(pieces)]


class UnfoldedADMM(nn.Module):
    """T ADMM layers with learned prox F_t; tied (one parameter set) or untied (one per layer)."""

    def __init__(self, cfg: NetConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.stft_cfg = cfg.stft_cfg
        sets = 1 if cfg.variant == "tied" else cfg.layers
        rho = torch.tensor(cfg.rho_schedule()[:sets], dtype=torch.float64)
        self.g1 = nn.Parameter((rho / (1.0 + rho)).float())
        self.g2 = nn.Parameter((1.0 / (1.0 + rho)).float())
        self.log_rho = nn.Parameter(torch.log(rho).float()) if cfg.rho_end is not None else None
        self.b = nn.Parameter(torch.full((sets,), 2.0))
        self.w = nn.Parameter(torch.zeros(sets, cfg.pieces))
        logb = torch.log(torch.tensor(initial_breaks(cfg.pieces, cfg.breaks_init)))
        self.log_break = nn.Parameter(logb.repeat(sets, 1))
        if cfg.anchored:  # g2 and b follow from g1 (constrained()); their raw tensors stay at the start
            self.g2.requires_grad_(False)
        if cfg.anchored or cfg.fixed_b:
            self.b.requires_grad_(False)
        self.register_buffer("win", tstft.window(self.stft_cfg), persistent=False)

    # ----- parameters -------------------------------------------------------------------------
    def constrained(self) -> dict[str, torch.Tensor]:
        """The parameter values the forward pass uses (monotone by construction); "rho" (per layer) only
        for a penalty schedule."""
        if self.cfg.anchored:
            g1 = self.g1.clamp(G1_MIN, G1_MAX)
            p = {"g1": g1, "g2": 1.0 - g1, "b": torch.full_like(self.b, 2.0)}
        else:
            b = torch.full_like(self.b, 2.0) if self.cfg.fixed_b else self.b.clamp_min(B_MIN)
            p = {"g1": self.g1.clamp_min(G1_MIN), "g2": self.g2.clamp_min(0.0), "b": b}
        p["w"] = self.w.clamp_max(0.0)
        p["bias"] = torch.exp(self.log_break)
        if self.log_rho is not None:
            p["rho"] = torch.exp(self.log_rho.clamp(*LOG_RHO_RANGE))
        return p

    @torch.no_grad()
    def project_(self) -> None:
        """Clamp the raw parameters onto the feasible set (call after each optimiser step)."""
        self.g1.clamp_(min=G1_MIN, max=G1_MAX if self.cfg.anchored else None)
        self.g2.clamp_(min=0.0)
        self.b.clamp_(min=B_MIN)
        self.w.clamp_(max=0.0)
        if self.log_rho is not None:
            self.log_rho.clamp_(*LOG_RHO_RANGE)

    def card_parameters(self) -> dict[str, list]:
        """Plain-number parameters for the model card: one row per parameter set."""
        return {k: v.detach().cpu().double().tolist() for k, v in self.constrained().items()}

    def layer_index(self, t: int) -> int:
        return 0 if self.cfg.variant == "tied" else t

    # ----- the prox and one layer -------------------------------------------------------------
    def prox(self, y: torch.Tensor, r: torch.Tensor, t: int, p: dict | None = None) -> torch.Tensor:
        """F_t(y, r) = APL_t(g1 y + g2 r^(b-1)/(b-1))."""
        p = self.constrained() if p is None else p
        i = self.layer_index(t)
        b = p["b"][i]
        s = torch.exp((b - 1.0) * torch.log(r.clamp_min(R_FLOOR))) / (b - 1.0)
        v = p["g1"][i] * y + p["g2"][i] * s
        out = torch.relu(v)
        for c in range(self.cfg.pieces):
            out = out + p["w"][i, c] * torch.relu(p["bias"][i, c] - v)
        return out

    def target(self, a: torch.Tensor, mag: torch.Tensor) -> torch.Tensor:
        """The magnitudes the prox pulls ``a`` = |A x + lam / rho| towards: the measurements themselves (a
        mel network, training.mel_unfolded, makes them from ``a`` and its mel measurement)."""
        return mag

    def layer(self, t: int, mag, x, fixed, lam, p=None, cov=None):
        """One ADMM iteration on a window: (x, lam) -> (x, lam); lam is complex [..., W, K]."""
        cfg = self.stft_cfg
        p = self.constrained() if p is None else p
        rho = p["rho"][t] if "rho" in p else self.cfg.rho
        if cov is None:
            cov = tstft.coverage(mag.shape[-2], cfg, x.dtype, x.device).clamp_min(COV_EPS)
        h = tstft.analyze(x, cfg, self.win) + lam / rho
        a = torch.sqrt(h.real.square() + h.imag.square() + ABS_EPS2)
        u = self.prox(a, self.target(a, mag), t, p)
        z = h * (u / a)
        x_new = fixed * x + (1.0 - fixed) * tstft.synthesize(z - lam / rho, cfg, self.win) / cov
        lam_new = lam + rho * (tstft.analyze(x_new, cfg, self.win) - z)
        return x_new, lam_new

    def forward(self, mag, x, fixed, lam, layers: int | None = None):
        """Run the T layers (or ``layers``) on a window; returns (x_out, lam_out)."""
        p = self.constrained()
        cov = tstft.coverage(mag.shape[-2], self.stft_cfg, x.dtype, x.device).clamp_min(COV_EPS)
        for t in range(self.cfg.layers if layers is None else layers):
            x, lam = self.layer(t, mag, x, fixed, lam, p, cov)
        return x, lam

    # ----- offline use --------------------------------------------------------------------------
    def step_real(self, mag, x, fixed, lam_ri):
        """The window-step contract with real tensors: lam as [..., 2, W, K] (real, imaginary)."""
        lam = torch.complex(lam_ri[..., 0, :, :], lam_ri[..., 1, :, :])
        x_out, lam_out = self(mag, x, fixed, lam)
        return x_out, torch.stack([lam_out.real, lam_out.imag], dim=-3)

    def start(self, mag: torch.Tensor, length: int, phase: torch.Tensor):
        """Offline start (x0 = A^H(r e^{i phase}) padded, fixed = padding, lam = 0) for the whole signal."""
        cfg = self.stft_cfg
        fixed = tstft.fixed_mask(length, cfg, mag.dtype).to(mag.device)
        x = tstft.pad_signal(tstft.istft(torch.polar(mag, phase), cfg, length), cfg)
        lam = torch.zeros_like(mag, dtype=torch.complex64 if mag.dtype == torch.float32 else torch.complex128)
        return x, fixed, lam

    def reconstruct(
        self, mag: torch.Tensor, length: int, phase: torch.Tensor, passes: int = 1, runner=None
    ) -> torch.Tensor:
        """Offline reconstruction [..., length] from magnitudes [..., F, K] and a start phase.

        ``runner`` (default: the network itself) is what runs the layers, e.g. a DDP wrapper of it.
        """
        runner = self if runner is None else runner
        x, fixed, lam = self.start(mag, length, phase)
        for _ in range(passes):
            x, lam = runner(mag, x, fixed, lam)
        return x[..., self.stft_cfg.pad : self.stft_cfg.pad + length]


def card_net_config(card: ModelCard) -> NetConfig:
    """The architecture of an offline model from its card: layers, pieces, penalty (schedule) and the STFT
    it was trained at."""
    params = card.parameters
    return NetConfig(
        variant=card.variant,
        layers=card.layers,
        pieces=card.pieces,
        rho=float(card.rho),
        rho_end=float(params["rho"][-1]) if "rho" in params else None,
        stft=(card.trained_stft or card.stft).to_dict(),
    )


def load_parameters(net: nn.Module, params: dict) -> None:
    """Set the raw parameters so that ``net.constrained()`` returns a model card's values (rows in order).

    An anchored network keeps only g1 (clamped to its range), the pieces and the penalties: g2 and b follow
    from g1, so a free card's off-target minima are dropped (its prox projected onto the anchored family)."""
    with torch.no_grad():
        names = [("g1", "g1"), ("g2", "g2"), ("b", "b"), ("w", "w"), ("bias", "log_break")]
        if "rho" in params:
            names.append(("rho", "log_rho"))
        if "momentum" in params:  # a Griffin-Lim-form stream network (training.stream_unfolded)
            names.append(("momentum", "momentum"))
        for name, attr in names:
            value = torch.tensor(params[name], dtype=torch.float64)
            target = getattr(net, attr)
            target.copy_((torch.log(value) if name in ("bias", "rho") else value).reshape(target.shape))

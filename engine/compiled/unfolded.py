"""The unfolded-ADMM window step as one compiled kernel, built from a model card's parameters.

It computes the function of the exported graph (training.onnx_graph.build_model, the window-step contract
of docs/architecture.md) with a real FFT instead of the graph's factored DFT: for each layer t,

    h = A x + lam / rho_t;  a = sqrt(|h|^2 + ABS_EPS2);  v = g1 a + g2 max(r, R_FLOOR)^(b - 1) / (b - 1)
    u = v + sum_c w_c max(beta_c - v, 0);  z = h u / a
    x = fixed x + (1 - fixed) A^H(z - lam / rho_t) / max(coverage, eps);  lam += rho_t (A x - z)

in float32 like the graph. The parameter set of layer t at frame j of the window is ``sets[t, j]``: one
set (tied), one per layer (untied) or one per (layer, frame position) (stream-trained models).
A card with ``layer_form`` "gla" runs ``gla_unfolded_layers`` instead: unfolded fast Griffin-Lim with the
learned prox and a momentum per layer (training.stream_unfolded). The kernels take the window's STFT as an
``FftWindow`` and the model's parameters for one window length as ``Layers`` (named bundles).
``UnfoldedStep`` is the engine's window step for such a model; ``build_step`` refuses a card it cannot
build, with the reason.
"""

from __future__ import annotations

import numpy as np
from numba.core import types
from numba.experimental import structref
from phasefold.engine.compiled.jit import kernel
from phasefold.engine.compiled.spectral import Spectral, frame_forward, inverse_overlap_add
from phasefold.engine.errors import BackendError
from phasefold.engine.model_card import DEFAULT_COVERAGE_EPS, ModelCard
from phasefold.engine.stft import StftConfig, coverage

# the graph's constants (training.unfolded): floor of r before r^(b - 1), epsilon of |h|
R_FLOOR = 1e-12
ABS_EPS2 = 1e-24


@structref.register
class LayersType(types.StructRef):
    """The numba type of a ``Layers`` bundle (its fields' types as given)."""

    def preprocess_fields(self, fields):
        return tuple((name, types.unliteral(t)) for name, t in fields)


class Layers(structref.StructRefProxy):
    """The parameters of T layers on a window of W frames, float32: ``cov`` (max(coverage, eps) [S]),
    ``sets`` (the parameter set of layer t at frame j [T, W]), per set ``g1``, ``bm1`` (b - 1), ``g2d``
    (g2 / (b - 1)), ``wts`` and ``brk`` (the pieces' weights and breaks [n_sets, C]), and ``schedule`` per
    layer: the penalties rho_t (float64) of the ADMM form, the momenta beta_t of the "gla" form."""


structref.define_proxy(Layers, LayersType, ["cov", "sets", "g1", "bm1", "g2d", "wts", "brk", "schedule"])


@kernel
def make_layers(cov, sets, g1, bm1, g2d, wts, brk, schedule):
    """A Layers bundle, built by a cached kernel (the proxy's own constructor compiles at every start)."""
    return Layers(cov, sets, g1, bm1, g2d, wts, brk, schedule)


@kernel
def _prox_shift(r, bm1, g2d, out):
    """out = g2 / (b - 1) * max(r, R_FLOOR)^(b - 1), the constant part of the learned prox's argument."""
    floor = np.float32(R_FLOOR)
    if bm1 == 1.0:  # b = 2 (anchored models): no power to take
        for q in range(r.shape[0]):
            out[q] = g2d * max(r[q], floor)
    else:
        for q in range(r.shape[0]):
            out[q] = g2d * np.exp(bm1 * np.log(max(r[q], floor)))


@kernel
def prox_layer(t, mag, sets, g1, bm1, g2d, wts, brk, spec, ls, z, shift, shift_set, work):
    """Layer t's learned prox on every frame: z = h u(|h|) / |h| with h = A x + lam / rho_t, and
    spec = z - lam / rho_t, the inverse plan's input. ``spec`` holds A x on entry; the rows of ``work``
    hold one frame's |h|, prox argument and value (a pass per piece keeps each loop vectorised)."""
    w, k = mag.shape
    mod, arg, out = work[0], work[1], work[2]
    pieces = wts.shape[1]
    zero = np.float32(0.0)
    eps2 = np.float32(ABS_EPS2)
    for j in range(w):
        p = sets[t, j]
        if shift_set[j] != p:  # a tied model computes its r^(b - 1) once per frame
            _prox_shift(mag[j], bm1[p], g2d[p], shift[j])
            shift_set[j] = p
        gp = g1[p]
        sj, lj, zj, hj = spec[j], ls[j], z[j], shift[j]
        for q in range(k):  # v = g1 |h| + shift; u starts at v
            hr = sj[2 * q] + lj[2 * q]
            hi = sj[2 * q + 1] + lj[2 * q + 1]
            mod[q] = np.sqrt(hr * hr + hi * hi + eps2)
            arg[q] = gp * mod[q] + hj[q]
            out[q] = arg[q]
        for c in range(pieces):  # u += w_c max(beta_c - v, 0)
            wc, bc = wts[p, c], brk[p, c]
            for q in range(k):
                out[q] += wc * max(bc - arg[q], zero)
        for q in range(k):  # z = h u / |h|; the inverse plan's input z - lam / rho
            f = out[q] / mod[q]
            hr = sj[2 * q] + lj[2 * q]
            hi = sj[2 * q + 1] + lj[2 * q + 1]
            zj[2 * q] = hr * f
            zj[2 * q + 1] = hi * f
            sj[2 * q] = hr * f - lj[2 * q]
            sj[2 * q + 1] = hi * f - lj[2 * q + 1]


@kernel
def primal_update(x, fixed, syn, free):
    """x = fixed x + (1 - fixed) A^H(z - lam / rho) / coverage, with free = (1 - fixed) / coverage."""
    for i in range(x.shape[0]):
        x[i] = fixed[i] * x[i] + syn[i] * free[i]


@kernel
def dual_update(spec, ls, z, scale):
    """lam / rho += A x - z, rescaled to the next layer's penalty (``spec`` holds A x)."""
    for j in range(spec.shape[0]):
        sj, lj, zj = spec[j], ls[j], z[j]
        for q in range(sj.shape[0]):
            lj[q] = (lj[q] + sj[q] - zj[q]) * scale


@kernel
def layer_state(x, fixed, lam, cov, rho0):
    """The working arrays of a step: x (a copy), free = (1 - fixed) / coverage, lam / rho_0 interleaved,
    z, the prox's r-dependent shift and which parameter set it was computed for, the synthesis, and
    prox_layer's per-frame work rows."""
    w, k = lam.shape[1], lam.shape[2]
    free = np.empty_like(x)
    for i in range(x.shape[0]):
        free[i] = (np.float32(1.0) - fixed[i]) / cov[i]
    ls = np.empty((w, 2 * k), dtype=np.float32)
    inv = np.float32(1.0 / rho0)
    for j in range(w):
        for q in range(k):
            ls[j, 2 * q] = lam[0, j, q] * inv
            ls[j, 2 * q + 1] = lam[1, j, q] * inv
    z = np.empty((w, 2 * k), dtype=np.float32)
    shift = np.empty((w, k), dtype=np.float32)
    shift_set = np.full(w, -1, dtype=np.int64)
    work = np.empty((3, k), dtype=np.float32)  # prox_layer's mod, arg, out
    return x.copy(), free, ls, z, shift, shift_set, np.empty_like(x), work


@kernel
def dual_out(ls, rho_last):
    """lam = rho_T (lam / rho_T) as [2, W, K]."""
    w, k = ls.shape[0], ls.shape[1] // 2
    lam_out = np.empty((2, w, k), dtype=np.float32)
    last = np.float32(rho_last)
    for j in range(w):
        for q in range(k):
            lam_out[0, j, q] = ls[j, 2 * q] * last
            lam_out[1, j, q] = ls[j, 2 * q + 1] * last
    return lam_out


@kernel
def unfolded_layers(mag, x, fixed, lam, fw, layers):
    """T layers of unfolded ADMM on a window; returns (x_out [S], lam_out [2, W, K]) in float32.

    ``fw``: the float32 FftWindow of W frames with interleaved spectra [W, 2K] (so that the per-bin loop
    vectorises); ``layers``: the Layers bundle, ``schedule`` the penalties rho_t. The sections are kernels
    of their own, so that benchmarks.stream_profile can time them one by one."""
    sets, g1, bm1, g2d, wts, brk, rho = (
        layers.sets,
        layers.g1,
        layers.bm1,
        layers.g2d,
        layers.wts,
        layers.brk,
        layers.schedule,
    )
    spec = fw.spec
    n_layers = sets.shape[0]
    x, free, ls, z, shift, shift_set, syn, work = layer_state(x, fixed, lam, layers.cov, rho[0])
    frame_forward(x, fw)  # A x in spec
    for t in range(n_layers):
        prox_layer(t, mag, sets, g1, bm1, g2d, wts, brk, spec, ls, z, shift, shift_set, work)
        inverse_overlap_add(fw, syn)
        primal_update(x, fixed, syn, free)
        frame_forward(x, fw)
        scale = np.float32(rho[t] / rho[t + 1]) if t + 1 < n_layers else np.float32(1.0)
        dual_update(spec, ls, z, scale)
    return x, dual_out(ls, rho[n_layers - 1])


@kernel
def gla_unfolded_layers(mag, x, fixed, lam, fw, layers):
    """T layers of the "gla" form (training.stream_unfolded.StreamUnfolded.gla_layers): the learned prox on
    |A z|, least squares, z = x_t + beta_t (x_t - x_{t-1}) with beta_t = layers.schedule[t]; returns
    (x_out, lam) with lam passed through. The prox is ``prox_layer`` with a zero dual, so that h = A z."""
    sets, g1, bm1, g2d, wts, brk, momentum = (
        layers.sets,
        layers.g1,
        layers.bm1,
        layers.g2d,
        layers.wts,
        layers.brk,
        layers.schedule,
    )
    spec = fw.spec
    n_layers = sets.shape[0]
    prev, free, ls, z, shift, shift_set, syn, work = layer_state(x, fixed, lam, layers.cov, 1.0)
    ls[:] = 0.0
    zt = prev.copy()
    frame_forward(zt, fw)  # A z in spec
    for t in range(n_layers):
        prox_layer(t, mag, sets, g1, bm1, g2d, wts, brk, spec, ls, z, shift, shift_set, work)
        inverse_overlap_add(fw, syn)
        beta = momentum[t]
        for i in range(prev.shape[0]):
            xi = fixed[i] * prev[i] + syn[i] * free[i]
            zt[i] = xi + beta * (xi - prev[i])
            prev[i] = xi
        if t + 1 < n_layers:
            frame_forward(zt, fw)
    return prev, lam.copy()


def _rows(params: dict, name: str, n_sets: int, per_set: int | None) -> np.ndarray:
    rows = np.asarray(params[name], dtype=np.float64)
    want = (n_sets,) if per_set is None else (n_sets, per_set)
    if rows.shape != want:
        raise BackendError(f"parameter {name!r} has shape {list(rows.shape)}, expected {list(want)}")
    return rows


class UnfoldedStep:
    """A model's window step run by the compiled kernel: (mag, x, fixed, lam) -> (x_out, lam_out)."""

    def __init__(self, card: ModelCard, cfg: StftConfig) -> None:
        params = card.parameters  # the card was validated when it was read: every parameter is there
        self.card = card
        self.name = card.name
        self.cfg = cfg
        self.layers = card.layers
        self.pieces = card.pieces
        self.variant = card.variant
        self.gla = card.gla
        self.window_frames = card.window_frames
        self.cov_eps = float(card.coverage_eps or DEFAULT_COVERAGE_EPS)
        layout = card.parameter_layout
        n_sets = len(params["g1"])
        if layout is not None:
            if layout.layers != self.layers or self.window_frames is None:
                raise BackendError(f"{self.name}: parameter layout {layout.to_dict()} does not fit the card")
            self.positions = layout.positions
            if self.positions not in (1, self.window_frames) or n_sets != self.layers * self.positions:
                raise BackendError(f"{self.name}: {n_sets} parameter sets for layout {layout.to_dict()}")
        elif self.variant == "tied":
            self.positions = 0
            if n_sets != 1:
                raise BackendError(f"{self.name}: a tied model has one parameter set, not {n_sets}")
        elif self.variant == "untied":
            self.positions = 0
            if n_sets != self.layers:
                raise BackendError(f"{self.name}: {n_sets} parameter sets for {self.layers} untied layers")
        else:
            raise BackendError(f"{self.name}: the compiled backend cannot build variant {self.variant!r}")
        g1 = _rows(params, "g1", n_sets, None)
        b = _rows(params, "b", n_sets, None)
        g2 = _rows(params, "g2", n_sets, None)
        # a "gla" layer's prox may be the projection itself (g1 = 0: F does not depend on y)
        if np.any(g1 < 0 if self.gla else g1 <= 0) or np.any(b <= 1.0) or np.any(g2 < 0):
            raise BackendError(
                f"{self.name}: parameters outside the monotone family (g1 > 0, g2 >= 0, b > 1)"
            )
        if self.gla:
            self.momentum = np.asarray(params.get("momentum", []), dtype=np.float32).reshape(-1)
            if self.momentum.shape != (self.layers,) or self.positions == 0:
                raise BackendError(
                    f"{self.name}: a 'gla' model needs a momentum per layer and a parameter layout"
                )
        pieces = self.pieces
        self.g1 = g1.astype(np.float32)
        self.bm1 = (b - 1.0).astype(np.float32)
        self.g2d = (g2 / (b - 1.0)).astype(np.float32)
        self.wts = _rows(params, "w", n_sets, pieces).astype(np.float32).reshape(n_sets, pieces)
        self.brk = _rows(params, "bias", n_sets, pieces).astype(np.float32).reshape(n_sets, pieces)
        rho = params.get("rho", [card.rho] * self.layers)
        self.rho = np.asarray(rho, dtype=np.float64).reshape(-1)
        if self.rho.shape != (self.layers,) or np.any(self.rho <= 0):
            raise BackendError(f"{self.name}: penalties {list(self.rho)} do not fit {self.layers} layers")
        self.spectral = Spectral(cfg, np.float32)
        self._cov: dict[int, np.ndarray] = {}
        self._sets: dict[int, np.ndarray] = {}
        self._layers: dict[int, Layers] = {}
        w = self.window_frames or cfg.overlap + 3
        s = cfg.span(w)
        self(
            np.ones((w, cfg.n_bins), np.float32),
            np.zeros(s, np.float32),
            np.zeros(s, np.float32),
            np.zeros((2, w, cfg.n_bins), np.float32),
        )  # compile (or load from the cache) before any frame

    def _window_arrays(self, w: int) -> tuple[np.ndarray, np.ndarray]:
        if w not in self._cov:
            if self.window_frames is not None and w != self.window_frames:
                raise BackendError(f"{self.name} is pinned to W = {self.window_frames}, not {w}")
            self._cov[w] = np.maximum(coverage(w, self.cfg), self.cov_eps).astype(np.float32)
            t = np.arange(self.layers)[:, None]
            j = np.arange(w)[None, :]
            if self.positions:
                sets = t * self.positions + (j if self.positions > 1 else 0)
            elif self.variant == "tied":
                sets = np.zeros((self.layers, w), dtype=np.int64)
            else:
                sets = t
            self._sets[w] = np.ascontiguousarray(np.broadcast_to(sets, (self.layers, w)), dtype=np.int64)
        return self._cov[w], self._sets[w]

    def __call__(
        self, mag: np.ndarray, x: np.ndarray, fixed: np.ndarray, lam: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        w = mag.shape[0]
        layers = self._layers.get(w)
        if layers is None:
            cov, sets = self._window_arrays(w)
            schedule = self.momentum if self.gla else self.rho
            layers = self._layers[w] = make_layers(
                cov, sets, self.g1, self.bm1, self.g2d, self.wts, self.brk, schedule
            )
        f32 = np.float32
        return (gla_unfolded_layers if self.gla else unfolded_layers)(
            np.ascontiguousarray(mag, dtype=f32),
            np.ascontiguousarray(x, dtype=f32),
            np.ascontiguousarray(fixed, dtype=f32),
            np.ascontiguousarray(lam, dtype=f32),
            self.spectral.window(w),
            layers,
        )


def build_step(card: ModelCard, cfg: StftConfig) -> UnfoldedStep:
    """The compiled step of a model card (BackendError with the reason if it cannot be built)."""
    return UnfoldedStep(card, cfg)

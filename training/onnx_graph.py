"""Build the ONNX graph of an unfolded network directly with ``onnx.helper``.

The graph is the window-step contract of docs/architecture.md (inputs mag, x, fixed, lam; outputs
x_out, lam_out; W dynamic). Inside, it is laid out for onnxruntime's per-node cost, which dominates a
streaming step (a window holds a few frames, so every tensor is small):

- the DFT is one Cooley-Tukey split N = n1 n2 (n = n2 a + b, k = k1 + n1 k2) written as three 2-D
  matrix products per transform with the twiddles between them (the first stage takes a real frame,
  the last keeps k2 <= n2 / 2 only);
- spectra live as ``[W, 2, L]`` (frame, [re, im], bin), L = n1 (n2 / 2 + 1) >= K in natural bin
  order; the bins past K are never synthesised (weight 0) and are dropped at the output;
- framing is one ``Gather`` of hop blocks, overlap-add a pad-and-refold of the frames summed by a
  matrix product; no elementwise node broadcasts along an inner axis (onnxruntime's slow path);
- the dual is carried divided by rho, and the pieces of the prox are one broadcast.

A layer is about 50 nodes, none of them slow ones. Every matrix is a constant of the graph. The graph mirrors
``training.unfolded.UnfoldedADMM.layer``; ``training.export`` checks the two agree on real speech.
"""

from __future__ import annotations

import math

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper
from phasefold.engine.mel import TINY, MelConfig, mel_filters
from phasefold.engine.model_card import LAYER_FORMS
from phasefold.engine.stft import StftConfig, coverage
from phasefold.engine.stft import window as np_window
from phasefold.training.unfolded import ABS_EPS2, COV_EPS, R_FLOOR

OPSET = 17
STFT_FORM = "factored-dft-matmul"


class _Builder:
    """Tiny helper that names intermediate tensors and collects nodes and initialisers."""

    def __init__(self) -> None:
        self.nodes: list = []
        self.inits: list = []
        self.count = 0

    def const(self, value, dtype=np.float32) -> str:
        self.count += 1
        name = f"c{self.count}"
        self.inits.append(numpy_helper.from_array(np.asarray(value, dtype=dtype), name))
        return name

    def ints(self, *values: int) -> str:
        return self.const(list(values), np.int64)

    def op(self, op_type: str, *inputs: str, out: str | None = None, **attrs) -> str:
        self.count += 1
        out = out or f"{op_type.lower()}{self.count}"
        self.nodes.append(helper.make_node(op_type, list(inputs), [out], **attrs))
        return out

    def split2(self, x: str, axis: int) -> tuple[str, str]:
        self.count += 1
        a, b = f"sa{self.count}", f"sb{self.count}"
        self.nodes.append(helper.make_node("Split", [x], [a, b], axis=axis))
        return a, b


class _Fft:
    """The STFT of a window in the graph's layouts: signal [S], spectrum [W, 2, L] ([re, im], bins padded)."""

    def __init__(self, g: _Builder, cfg: StftConfig) -> None:
        n, h, r = cfg.n_fft, cfg.hop, cfg.overlap
        n1 = 2 ** (int(math.log2(n)) // 2)
        n2 = n // n1
        if n1 * n2 != n:
            raise ValueError(f"the graph's FFT needs a power-of-two n_fft, not {n}")
        m = n2 // 2 + 1
        self.g, self.cfg, self.n1, self.n2, self.m, self.bins = g, cfg, n1, n2, m, n1 * m
        self.win = g.const((np_window(cfg) / math.sqrt(n)).reshape(r, h))  # orthonormal DFT scale folded in
        ang1 = 2 * np.pi * np.outer(np.arange(n1), np.arange(n1)) / n1  # [a, k1], symmetric
        c1, s1 = np.cos(ang1), np.sin(ang1)
        self.c1, self.ns1 = g.const(c1), g.const(-s1)
        theta = 2 * np.pi * np.outer(np.arange(n2), np.arange(n1)) / n  # twiddle angles [b, k1]
        self.tc, self.ts = g.const(np.cos(theta)), g.const(np.sin(theta))
        ang2 = 2 * np.pi * np.outer(np.arange(m), np.arange(n2)) / n2  # [k2, b]
        c2, s2 = np.cos(ang2), np.sin(ang2)
        self.d2 = g.const(np.block([[c2, s2], [-s2, c2]]))  # [ur; ui] -> [Xr; Xi]: e^{-2 pi i b k2 / n2}
        self.e2 = g.const(np.block([[c2.T, -s2.T], [s2.T, c2.T]]))  # [Zr; Zi] -> [Pr; Pi]: e^{+...}
        self.e1 = g.const(np.concatenate([c1, -s1], axis=0))  # [vr | vi] -> Re(inverse n1-point DFT)
        k = np.arange(m)[:, None] * n1 + np.arange(n1)[None, :]  # bin of (k2, k1)
        ck = np.where((k == 0) | (k == n // 2), 1.0, np.where(k < n // 2, 2.0, 0.0)).reshape(1, -1)
        self.ck = g.const(np.concatenate([ck, ck]))  # [2, L]: 1 at DC and Nyquist, 2 between, 0 past Nyquist
        self.ones_r = g.const(np.ones((1, r)))

    def to_spec(self, v: str, stacked: bool) -> str:
        """mag [W, K] -> [W, 1, L]; lam [2, W, K] -> [W, 2, L] (bins past K are zero)."""
        g, pad = self.g, self.bins - self.cfg.n_bins
        if not stacked:
            return g.op("Unsqueeze", g.op("Pad", v, g.ints(0, 0, 0, pad)), g.ints(1))
        return g.op("Transpose", g.op("Pad", v, g.ints(0, 0, 0, 0, 0, pad)), perm=[1, 0, 2])

    def from_spec(self, z: str, out: str) -> str:
        """[W, 2, L] -> [2, W, K]."""
        g = self.g
        return g.op(
            "Slice",
            g.op("Transpose", z, perm=[1, 0, 2]),
            g.ints(0),
            g.ints(self.cfg.n_bins),
            g.ints(2),
            out=out,
        )

    def _twiddle(self, re: str, im: str, sign: float) -> tuple[str, str]:
        """(re + i im) e^{sign i theta} on [W, b, k1]."""
        g, tc, ts = self.g, self.tc, self.ts
        if sign < 0:
            return (
                g.op("Add", g.op("Mul", re, tc), g.op("Mul", im, ts)),
                g.op("Sub", g.op("Mul", im, tc), g.op("Mul", re, ts)),
            )
        return (
            g.op("Sub", g.op("Mul", re, tc), g.op("Mul", im, ts)),
            g.op("Add", g.op("Mul", re, ts), g.op("Mul", im, tc)),
        )

    def analyze(self, x: str, idx: str) -> str:
        """x [S] -> X [W, 2, L]; ``idx`` [W, R] lists the hop blocks of each frame."""
        g, cfg = self.g, self.cfg
        fr = g.op("Mul", g.op("Gather", g.op("Reshape", x, g.ints(-1, cfg.hop)), idx, axis=0), self.win)
        ft = g.op("Transpose", g.op("Reshape", fr, g.ints(-1, self.n1, self.n2)), perm=[0, 2, 1])  # [W, b, a]
        ur, ui = self._twiddle(g.op("MatMul", ft, self.c1), g.op("MatMul", ft, self.ns1), -1.0)  # [W, b, k1]
        xs = g.op("MatMul", self.d2, g.op("Concat", ur, ui, axis=1))  # [W, (ri, k2), k1]
        return g.op("Reshape", xs, g.ints(0, 2, -1))

    def synthesize(self, z: str) -> str:
        """Z [W, 2, L] -> windowed frames, overlap-added [S]."""
        g, cfg = self.g, self.cfg
        p = g.op("MatMul", self.e2, g.op("Reshape", g.op("Mul", z, self.ck), g.ints(0, 2 * self.m, self.n1)))
        vr, vi = self._twiddle(*g.split2(p, axis=1), 1.0)  # [W, b, k1]
        ft = g.op("MatMul", g.op("Concat", vr, vi, axis=2), self.e1)  # [W, b, a]
        fr = g.op("Reshape", g.op("Transpose", ft, perm=[0, 2, 1]), g.ints(-1, cfg.overlap, cfg.hop))
        return self.overlap_add(g.op("Mul", fr, self.win))

    def overlap_add(self, fr: str) -> str:
        """[W, R, H] -> [S]: row i of [R, W, H] shifted by i blocks (pad, flatten, drop, refold), summed."""
        g, r, h = self.g, self.cfg.overlap, self.cfg.hop
        t = g.op("Pad", g.op("Transpose", fr, perm=[1, 0, 2]), g.ints(0, 0, 0, 0, r, 0))
        t = g.op("Slice", g.op("Reshape", t, g.ints(-1, h)), g.ints(0), g.ints(-r), g.ints(0))
        return g.op("Reshape", g.op("MatMul", self.ones_r, g.op("Reshape", t, g.ints(r, -1))), g.ints(-1))


class _MelStep:
    """training.mel_unfolded.MelStep in the graph: a [W, 1, L] -> a G(a)^(1/p), G the band-weighted mean of
    the bands' ratios of the input ``mel`` [W, n_mels] to the mel of a^p (bins past K: weight 0)."""

    def __init__(self, g: _Builder, cfg: MelConfig, bins: int) -> None:
        bank = mel_filters(cfg)  # [n_mels, K]
        cover = bank.sum(axis=0)
        spread = bank / (cover + (cover == 0))
        pad = ((0, 0), (0, bins - cfg.stft.n_bins))
        self.g, self.power = g, float(cfg.power)
        self.bank = g.const(np.pad(bank, pad).T)  # [L, n_mels]
        self.spread = g.const(np.pad(spread, pad))  # [n_mels, L]
        self.mel = g.op("Unsqueeze", "mel", g.ints(1))  # [W, 1, n_mels]
        mean = g.op("ReduceMean", "mel", keepdims=0)
        self.tiny = g.op("Mul", g.op("Max", mean, g.const(np.finfo(np.float32).tiny)), g.const(TINY))

    def __call__(self, a: str) -> str:
        g = self.g
        ap = a if self.power == 1.0 else g.op("Pow", a, g.const(self.power))
        current = g.op("Max", g.op("MatMul", ap, self.bank), self.tiny)
        gain = g.op("MatMul", g.op("Div", self.mel, current), self.spread)
        if self.power != 1.0:
            gain = g.op("Pow", gain, g.const(1.0 / self.power))
        return g.op("Mul", a, gain)


def _full(value, pos: bool, shape: tuple[int, ...]) -> np.ndarray:
    """A parameter as a constant: a scalar, or one value per frame position ([P, 1]) expanded to ``shape``."""
    v = np.asarray(value, dtype=np.float64)
    if not pos:
        return v
    return np.broadcast_to(v.reshape(-1, *[1] * (len(shape) - 1)), shape).copy()


def build_model(
    params: dict,
    variant: str,
    layers: int,
    rho: float,
    cfg: StftConfig,
    window_frames: int | None = None,
    cov_eps: float = COV_EPS,
    form: str = "admm",
    mel: MelConfig | None = None,
) -> onnx.ModelProto:
    """The T-layer window step as an ONNX model; ``params`` holds the constrained parameter rows.

    Rows of g1/g2/b are scalars or [P, 1] per frame position (which needs ``window_frames`` = P); rows
    of w/bias are [C] or [C, P, 1]; an optional "rho" row per layer (a penalty schedule) overrides
    ``rho``. ``cov_eps``: floor of the coverage in the least-squares synthesis (streaming models use the
    engine's). ``form`` "gla": the layers of ``training.stream_unfolded.StreamUnfolded.gla_layers``
    (learned prox on |A z|, least squares, momentum "momentum" [T]; lam passes through). ``mel``: a mel
    model (training.mel_unfolded): input ``mel`` [W, n_mels] in place of mag, and each layer's prox target
    the mel step of its estimate (``_MelStep``).
    """
    rhos = [float(v) for v in params["rho"]] if "rho" in params else [float(rho)] * layers
    if len(rhos) != layers:
        raise ValueError(f"{len(rhos)} penalties for {layers} layers")
    if form not in LAYER_FORMS:
        raise ValueError(f"unknown layer form {form!r}")
    gla = form == "gla"
    if gla and len(params.get("momentum", [])) != layers:
        raise ValueError(f"a 'gla' graph needs one momentum per layer ({layers})")
    g = _Builder()
    k, r = cfg.n_bins, cfg.overlap
    w_dim = "W" if window_frames is None else window_frames
    s_dim = "S" if window_frames is None else cfg.span(window_frames)
    fft = _Fft(g, cfg)
    first = ("mag", k) if mel is None else ("mel", mel.n_mels)  # the measurement input and its width
    if window_frames is None:  # frame indices and coverage computed in the graph for the given W
        n_frames = g.op("Slice", g.op("Shape", first[0]), g.ints(0), g.ints(1))
        frame_idx = g.op("Range", g.const(0, np.int64), g.op("Squeeze", n_frames), g.const(1, np.int64))
        idx = g.op("Add", g.op("Unsqueeze", frame_idx, g.ints(1)), g.const(np.arange(r)[None, :], np.int64))
        w2 = g.op(
            "Expand", g.op("Mul", fft.win, fft.win), g.op("Concat", n_frames, g.ints(r, cfg.hop), axis=0)
        )
        cov = g.op("Max", g.op("Mul", fft.overlap_add(w2), g.const(float(cfg.n_fft))), g.const(cov_eps))
    else:  # pinned W: constants
        idx = g.const(np.arange(window_frames)[:, None] + np.arange(r)[None, :], np.int64)
        cov = g.const(np.maximum(coverage(window_frames, cfg), cov_eps))
    free_cov = g.op("Div", g.op("Sub", g.const(1.0), "fixed"), cov)
    if mel is None:
        mag_log = g.op("Log", g.op("Max", fft.to_spec("mag", stacked=False), g.const(R_FLOOR)))  # [W, 1, L]
        spec_shape = g.op("Shape", mag_log)
    else:
        mel_step = _MelStep(g, mel, fft.bins)
    ls = None if gla else g.op("Mul", fft.to_spec("lam", stacked=True), g.const(1.0 / rhos[0]))  # dual / rho
    x = "x"
    xs = fft.analyze(x, idx)  # each layer's closing analysis of x opens the next layer
    sets = len(params["g1"])
    pieces = len(params["w"][0])
    full = (window_frames or 1, 1, fft.bins)
    sum_ri = g.const(np.ones((1, 2)))
    shifts: dict[int, tuple[str, str | None, str | None]] = {}
    for t in range(layers):
        i = 0 if variant == "tied" else t
        if i >= sets:
            raise ValueError(f"layer {t} has no parameter set ({sets} given)")
        pos = np.ndim(params["g1"][i]) > 0
        if pos and window_frames is None:
            raise ValueError("per-position parameters need a fixed window_frames")
        if i not in shifts:  # g2 r^(b-1)/(b-1) and the prox's pieces, once per parameter set
            bm1 = _full(params["b"][i], pos, full) - 1.0
            s = None
            if mel is None:
                s = g.op(
                    "Mul",
                    g.op("Exp", g.op("Mul", g.const(bm1), mag_log)),
                    g.const(_full(params["g2"][i], pos, full) / bm1),
                )
            brk = wts = None
            if pieces:
                w = np.asarray(params["w"][i], dtype=np.float64).reshape(pieces, -1)[:, :, None, None]
                beta = np.asarray(params["bias"][i], dtype=np.float64).reshape(pieces, -1)[:, :, None, None]
                if pos:
                    brk = g.const(np.broadcast_to(beta, (pieces, *full)).copy())
                    wts = g.const(np.broadcast_to(w, (pieces, *full)).copy())
                else:
                    brk, wts = g.const(beta), g.const(w.reshape(1, pieces))
            shifts[i] = (s, brk, wts)
        s, brk, wts = shifts[i]
        h = xs if gla else g.op("Add", xs, ls)
        a = g.op(
            "Sqrt", g.op("Add", g.op("MatMul", sum_ri, g.op("Mul", h, h)), g.const(ABS_EPS2))
        )  # [W, 1, L]
        if mel is not None:  # the target r of this layer: the mel step of a; then g2 r^(b-1)/(b-1)
            bm1 = _full(params["b"][i], pos, full) - 1.0
            r_log = g.op("Log", g.op("Max", mel_step(a), g.const(R_FLOOR)))
            s = g.op(
                "Mul",
                g.op("Exp", g.op("Mul", g.const(bm1), r_log)),
                g.const(_full(params["g2"][i], pos, full) / bm1),
            )
            spec_shape = g.op("Shape", a)
        v = g.op("Add", g.op("Mul", a, g.const(_full(params["g1"][i], pos, full))), s)
        u = v  # APL(v) = relu(v) + sum_c w_c relu(beta_c - v), and v > 0 (a >= 0, g1 > 0, g2 >= 0, s > 0)
        if pieces:
            parts = g.op("Relu", g.op("Sub", brk, v))  # [C, W, 1, L]
            if pos:
                parts, wts = g.op("Mul", parts, wts), g.const(np.ones((1, pieces)))
            acc = g.op("MatMul", wts, g.op("Reshape", parts, g.ints(pieces, -1)))
            u = g.op("Add", v, g.op("Reshape", acc, spec_shape))
        z = g.op("Mul", h, g.op("Div", u, a))
        syn = fft.synthesize(z if gla else g.op("Sub", z, ls))
        x_prev = x
        x = g.op(
            "Add",
            g.op("Mul", "fixed", x),
            g.op("Mul", syn, free_cov),
            out="x_out" if t == layers - 1 else None,
        )
        if gla:  # extrapolate z = x_t + beta_t (x_t - x_{t-1}); the next layer analyses z
            if t < layers - 1:
                beta = g.const(float(params["momentum"][t]))
                xs = fft.analyze(g.op("Add", x, g.op("Mul", g.op("Sub", x, x_prev), beta)), idx)
            continue
        xs = fft.analyze(x, idx)
        ls = g.op("Add", ls, g.op("Sub", xs, z))
        if t < layers - 1 and rhos[t + 1] != rhos[t]:  # the next penalty rescales the scaled dual
            ls = g.op("Mul", ls, g.const(rhos[t] / rhos[t + 1]))
    if gla:
        g.op("Identity", "lam", out="lam_out")
    else:
        fft.from_spec(g.op("Mul", ls, g.const(rhos[-1])), out="lam_out")
    f32 = TensorProto.FLOAT
    graph = helper.make_graph(
        g.nodes,
        "phasefold_unfolded_admm",
        [
            helper.make_tensor_value_info(first[0], f32, [w_dim, first[1]]),
            helper.make_tensor_value_info("x", f32, [s_dim]),
            helper.make_tensor_value_info("fixed", f32, [s_dim]),
            helper.make_tensor_value_info("lam", f32, [2, w_dim, k]),
        ],
        [
            helper.make_tensor_value_info("x_out", f32, [s_dim]),
            helper.make_tensor_value_info("lam_out", f32, [2, w_dim, k]),
        ],
        g.inits,
    )
    model = helper.make_model(
        graph, opset_imports=[helper.make_opsetid("", OPSET)], producer_name="phasefold"
    )
    model.ir_version = 8
    onnx.checker.check_model(model, full_check=True)
    return model

"""Build the ONNX graph of an unfolded network directly with ``onnx.helper``.

The graph is the window-step contract of docs/architecture.md (inputs mag, x, fixed, lam; outputs
x_out, lam_out; W dynamic), complex numbers as real/imaginary pairs, the STFT inside the graph in one of
three forms:

- ``dft="fft"`` (default): one Cooley-Tukey split N = N1 N2 written as two small DFT matrix products
  with twiddle factors between them (about 10 times fewer multiply-adds than full DFT matrices, and the
  fastest of the three in onnxruntime, measured by ``benchmarks/onnx_stft_forms.py``);
- ``dft="matmul"``: full DFT matrices [N, 2K] and [2K, N];
- ``dft="dft"``: the ONNX DFT operator.

Every matrix is a constant of the graph. The analysis of x that ends a layer (for the dual update) is
the analysis that starts the next one, so it is computed once. The graph mirrors
``training.unfolded.UnfoldedADMM.layer`` operation by operation; ``training.export`` checks the two agree.
"""

from __future__ import annotations

import math

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from engine.stft import StftConfig
from engine.stft import window as np_window
from training.unfolded import ABS_EPS2, COV_EPS, R_FLOOR

OPSET = 17
DFT_MODES = ("fft", "matmul", "dft")
INPUTS = ("mag", "x", "fixed", "lam")
OUTPUTS = ("x_out", "lam_out")


class _Builder:
    """Tiny helper that names intermediate tensors and collects nodes and initialisers."""

    def __init__(self) -> None:
        self.nodes: list = []
        self.inits: list = []
        self.count = 0

    def const(self, value, name: str | None = None, dtype=np.float32) -> str:
        self.count += 1
        name = name or f"c{self.count}"
        self.inits.append(numpy_helper.from_array(np.asarray(value, dtype=dtype), name))
        return name

    def op(self, op_type: str, *inputs: str, out: str | None = None, **attrs) -> str:
        self.count += 1
        out = out or f"{op_type.lower()}{self.count}"
        self.nodes.append(helper.make_node(op_type, list(inputs), [out], **attrs))
        return out

    def split2(self, x: str, axis: int) -> tuple[str, str]:
        self.count += 1
        a, b = f"sa{self.count}", f"sb{self.count}"
        self.nodes.append(
            helper.make_node("Split", [x], [a, b], axis=axis, num_outputs=2)
            if OPSET >= 18
            else helper.make_node("Split", [x], [a, b], axis=axis)
        )
        return a, b


class _Stft:
    """Analysis / synthesis / overlap-add on a span, in graph form."""

    def __init__(self, g: _Builder, cfg: StftConfig, mode: str, n_frames: str) -> None:
        self.g, self.cfg, self.mode = g, cfg, mode
        n, h, r, k = cfg.n_fft, cfg.hop, cfg.overlap, cfg.n_bins
        self.win = g.const(np_window(cfg), "window")
        self.shape_chunks = g.const([-1, h], "shape_chunks", np.int64)
        self.shape_frames = g.const([-1, r, h], "shape_frames", np.int64)
        self.shape_flat = g.const([-1], "shape_flat", np.int64)
        self.n_frames = n_frames
        if mode == "matmul":
            self._matrices(n, k)
        elif mode == "fft":
            self._factored(n)
        else:
            self.scale = g.const(1.0 / math.sqrt(n), "dft_scale")
            self.iscale = g.const(math.sqrt(n), "idft_scale")

    def _matrices(self, n: int, k: int) -> None:
        """Analysis [N, 2K] and synthesis [2K, N] matrices (window folded in), built in the graph."""
        g = self.g
        ni = g.op("Range", g.const(0, dtype=np.int64), g.const(n, dtype=np.int64), g.const(1, dtype=np.int64))
        ki = g.op("Range", g.const(0, dtype=np.int64), g.const(k, dtype=np.int64), g.const(1, dtype=np.int64))
        prod = g.op(
            "Mod",
            g.op(
                "Mul",
                g.op("Unsqueeze", ni, g.const([1], dtype=np.int64)),
                g.op("Unsqueeze", ki, g.const([0], dtype=np.int64)),
            ),
            g.const(n, dtype=np.int64),
        )
        ang = g.op(
            "Mul", g.op("Cast", prod, to=TensorProto.DOUBLE), g.const(2 * math.pi / n, dtype=np.float64)
        )
        cos = g.op("Cast", g.op("Cos", ang), to=TensorProto.FLOAT)  # [N, K]
        sin = g.op("Cast", g.op("Sin", ang), to=TensorProto.FLOAT)
        wcol = g.op(
            "Mul", g.op("Unsqueeze", self.win, g.const([1], dtype=np.int64)), g.const(1.0 / math.sqrt(n))
        )
        self.ana = g.op(
            "Concat", g.op("Mul", cos, wcol), g.op("Neg", g.op("Mul", sin, wcol)), axis=1
        )  # [N, 2K]
        ck = np.full(k, 2.0, dtype=np.float32)
        ck[0] = ck[-1] = 1.0
        wrow = g.op(
            "Mul", g.op("Unsqueeze", self.win, g.const([0], dtype=np.int64)), g.const(1.0 / math.sqrt(n))
        )
        ck_col = g.const(ck[:, None])
        syn_c = g.op("Mul", g.op("Mul", g.op("Transpose", cos, perm=[1, 0]), ck_col), wrow)
        syn_s = g.op("Neg", g.op("Mul", g.op("Mul", g.op("Transpose", sin, perm=[1, 0]), ck_col), wrow))
        self.syn = g.op("Concat", syn_c, syn_s, axis=0)  # [2K, N]

    def _factored(self, n: int) -> None:
        """Constants of the split N = N1 N2 (n = N2 n1 + n2, k = k1 + N1 k2)."""
        g = self.g
        n1 = 2 ** (int(math.log2(n)) // 2)
        n2 = n // n1
        if n1 * n2 != n:
            raise ValueError(f"the factored DFT needs a power-of-two n_fft, not {n}")
        self.n1, self.n2, self.m = n1, n2, n2 // 2 + 1
        a = 2 * np.pi * np.outer(np.arange(n1), np.arange(n1)) / n1
        c1, s1 = np.cos(a), np.sin(a)
        self.d1_real = g.const(np.concatenate([c1, -s1], axis=1))  # real input -> [re | im]
        self.d1_cplx = g.const(np.block([[c1, -s1], [s1, c1]]))  # [re | im] -> [re | im]
        tw = 2 * np.pi * np.outer(np.arange(n2), np.arange(n1)) / n  # [n2, k1]
        self.tw_c, self.tw_s = g.const(np.cos(tw)), g.const(np.sin(tw))
        b = 2 * np.pi * np.outer(np.arange(n2), np.arange(n2)) / n2
        c2, s2 = np.cos(b), np.sin(b)
        m = self.m
        self.d2_half = g.const(np.block([[c2[:, :m], -s2[:, :m]], [s2[:, :m], c2[:, :m]]]))  # k2 <= N2/2
        self.d2_real = g.const(np.concatenate([c2, s2], axis=0))  # real part only, every k2
        self.scaled_win = g.const(np_window(self.cfg) / math.sqrt(n))
        self.shape_split = g.const([0, n1, n2], dtype=np.int64)
        self.shape_w_n = g.const([0, n], dtype=np.int64)
        self.shape_w_mn1 = g.const([0, m * n1], dtype=np.int64)

    def _fft_stages(self, y: str) -> tuple[str, str]:
        """Twiddle [W, N2, 2 N1] (re | im over k1), then transpose to [W, k1, n2] re and im."""
        g = self.g
        yr, yi = g.split2(y, axis=2)
        ur = g.op("Add", g.op("Mul", yr, self.tw_c), g.op("Mul", yi, self.tw_s))
        ui = g.op("Sub", g.op("Mul", yi, self.tw_c), g.op("Mul", yr, self.tw_s))
        return g.op("Transpose", ur, perm=[0, 2, 1]), g.op("Transpose", ui, perm=[0, 2, 1])

    def _fft_analyze(self, fr: str) -> tuple[str, str]:
        g, k = self.g, self.cfg.n_bins
        a = g.op("Reshape", g.op("Mul", fr, self.scaled_win), self.shape_split)  # [W, n1, n2]
        y = g.op("MatMul", g.op("Transpose", a, perm=[0, 2, 1]), self.d1_real)  # [W, n2, 2 N1]
        ur, ui = self._fft_stages(y)
        z = g.op("MatMul", g.op("Concat", ur, ui, axis=2), self.d2_half)  # [W, k1, 2 M]
        zr, zi = g.split2(z, axis=2)
        out = []
        for part in (zr, zi):
            # flattened [k2, k1] is k = k1 + N1 k2
            flat = g.op("Reshape", g.op("Transpose", part, perm=[0, 2, 1]), self.shape_w_mn1)
            out.append(
                g.op(
                    "Slice", flat, g.const([0], dtype=np.int64), g.const([k], dtype=np.int64),
                    g.const([1], dtype=np.int64),
                )
            )
        return out[0], out[1]

    def _fft_synthesize(self, zr: str, zi: str) -> str:
        """Windowed Re(IDFT) of the Hermitian extension, as Re(DFT(conj(full spectrum)))."""
        g, n = self.g, self.cfg.n_fft

        def mirror(v: str) -> str:
            return g.op(
                "Slice", v, g.const([n // 2 - 1], dtype=np.int64), g.const([0], dtype=np.int64),
                g.const([1], dtype=np.int64), g.const([-1], dtype=np.int64),
            )

        gr = g.op("Concat", zr, mirror(zr), axis=1)  # conj of the Hermitian spectrum
        gi = g.op("Concat", g.op("Neg", zi), mirror(zi), axis=1)
        parts = [
            g.op("Transpose", g.op("Reshape", v, self.shape_split), perm=[0, 2, 1]) for v in (gr, gi)
        ]
        y = g.op("MatMul", g.op("Concat", *parts, axis=2), self.d1_cplx)  # [W, n2, 2 N1]
        ur, ui = self._fft_stages(y)
        t = g.op("MatMul", g.op("Concat", ur, ui, axis=2), self.d2_real)  # [W, k1, N2]
        fr = g.op("Reshape", g.op("Transpose", t, perm=[0, 2, 1]), self.shape_w_n)
        return g.op("Mul", fr, self.scaled_win)

    def frames(self, x: str) -> str:
        g, r = self.g, self.cfg.overlap
        chunks = g.op("Reshape", x, self.shape_chunks)
        parts = []
        for j in range(r):
            end = j - (r - 1) if j < r - 1 else np.iinfo(np.int64).max
            parts.append(
                g.op(
                    "Slice",
                    chunks,
                    g.const([j], dtype=np.int64),
                    g.const([end], dtype=np.int64),
                    g.const([0], dtype=np.int64),
                )
            )
        return g.op("Concat", *parts, axis=1)

    def analyze(self, x: str) -> tuple[str, str]:
        g = self.g
        fr = self.frames(x)
        if self.mode == "fft":
            return self._fft_analyze(fr)
        if self.mode == "matmul":
            return g.split2(g.op("MatMul", fr, self.ana), axis=1)
        spec = g.op(
            "DFT",
            g.op("Unsqueeze", g.op("Mul", fr, self.win), g.const([-1], dtype=np.int64)),
            axis=1,
            onesided=1,
        )
        spec = g.op("Mul", spec, self.scale)  # [W, K, 2]
        re, im = g.split2(spec, axis=2)
        sq = g.const([2], dtype=np.int64)
        return g.op("Squeeze", re, sq), g.op("Squeeze", im, sq)

    def synthesize(self, zr: str, zi: str) -> str:
        g, n = self.g, self.cfg.n_fft
        if self.mode == "fft":
            return self.overlap_add(self._fft_synthesize(zr, zi))
        if self.mode == "matmul":
            fr = g.op("MatMul", g.op("Concat", zr, zi, axis=1), self.syn)
        else:
            last = g.const([-1], dtype=np.int64)
            z = g.op("Concat", g.op("Unsqueeze", zr, last), g.op("Unsqueeze", zi, last), axis=2)  # [W, K, 2]
            mirror = g.op(
                "Slice",
                z,
                g.const([n // 2 - 1], dtype=np.int64),
                g.const([0], dtype=np.int64),
                g.const([1], dtype=np.int64),
                g.const([-1], dtype=np.int64),
            )
            conj = g.op("Mul", mirror, g.const([1.0, -1.0]))
            full = g.op("Concat", z, conj, axis=1)  # [W, N, 2] Hermitian
            time = g.op("DFT", full, axis=1, inverse=1)
            re, _ = g.split2(time, axis=2)
            fr = g.op("Mul", g.op("Squeeze", re, g.const([2], dtype=np.int64)), self.iscale)
            fr = g.op("Mul", fr, self.win)
            return self.overlap_add(fr)
        return self.overlap_add(fr)

    def overlap_add(self, fr: str) -> str:
        g, r = self.g, self.cfg.overlap
        f3 = g.op("Reshape", fr, self.shape_frames)
        total = None
        for j in range(r):
            part = g.op("Gather", f3, g.const(j, dtype=np.int64), axis=1)  # [W, H]
            part = g.op("Pad", part, g.const([j, 0, r - 1 - j, 0], dtype=np.int64))
            total = part if total is None else g.op("Add", total, part)
        return g.op("Reshape", total, self.shape_flat)

    def coverage(self) -> str:
        g = self.g
        w2 = g.op("Mul", self.win, self.win)
        shape = g.op("Concat", self.n_frames, g.const([self.cfg.n_fft], dtype=np.int64), axis=0)
        return self.overlap_add(g.op("Expand", w2, shape))


def build_model(
    params: dict,
    variant: str,
    layers: int,
    rho: float,
    cfg: StftConfig,
    dft: str = "fft",
    window_frames: int | None = None,
    cov_eps: float = COV_EPS,
) -> onnx.ModelProto:
    """The T-layer window step as an ONNX model; ``params`` holds the constrained parameter rows.

    ``cov_eps``: floor of the coverage in the least-squares synthesis (streaming models use the engine's).
    """
    if dft not in DFT_MODES:
        raise ValueError(f"dft must be one of {DFT_MODES}")
    g = _Builder()
    k = cfg.n_bins
    w_dim = "W" if window_frames is None else window_frames
    s_dim = "S" if window_frames is None else cfg.span(window_frames)
    n_frames = g.op("Slice", g.op("Shape", "mag"), g.const([0], dtype=np.int64), g.const([1], dtype=np.int64))
    st = _Stft(g, cfg, dft, n_frames)
    cov = g.op("Max", st.coverage(), g.const(cov_eps))
    free = g.op("Sub", g.const(1.0), "fixed")
    rho_c = g.const(rho, "rho")
    lam_r = g.op("Gather", "lam", g.const(0, dtype=np.int64), axis=0)
    lam_i = g.op("Gather", "lam", g.const(1, dtype=np.int64), axis=0)
    x = "x"
    mag_floor = g.op("Log", g.op("Max", "mag", g.const(R_FLOOR)))
    s_cache: dict[int, str] = {}
    sets = len(params["g1"])
    xr, xi = st.analyze(x)  # each layer's closing analysis of x opens the next layer
    for t in range(layers):
        i = 0 if variant == "tied" else t
        if i >= sets:
            raise ValueError(f"layer {t} has no parameter set ({sets} given)")
        if i not in s_cache:
            bm1 = g.const(params["b"][i] - 1.0)
            s_cache[i] = g.op(
                "Mul", g.op("Div", g.op("Exp", g.op("Mul", bm1, mag_floor)), bm1), g.const(params["g2"][i])
            )
        lr_rho, li_rho = g.op("Div", lam_r, rho_c), g.op("Div", lam_i, rho_c)
        hr, hi = g.op("Add", xr, lr_rho), g.op("Add", xi, li_rho)
        a = g.op(
            "Sqrt", g.op("Add", g.op("Add", g.op("Mul", hr, hr), g.op("Mul", hi, hi)), g.const(ABS_EPS2))
        )
        v = g.op("Add", g.op("Mul", g.const(params["g1"][i]), a), s_cache[i])
        u = g.op("Relu", v)
        for c in range(len(params["w"][i])):
            piece = g.op("Relu", g.op("Sub", g.const(params["bias"][i][c]), v))
            u = g.op("Add", u, g.op("Mul", g.const(params["w"][i][c]), piece))
        q = g.op("Div", u, a)
        zr, zi = g.op("Mul", hr, q), g.op("Mul", hi, q)
        syn = st.synthesize(g.op("Sub", zr, lr_rho), g.op("Sub", zi, li_rho))
        x = g.op(
            "Add",
            g.op("Mul", "fixed", x),
            g.op("Div", g.op("Mul", free, syn), cov),
            out="x_out" if t == layers - 1 else None,
        )
        xr, xi = st.analyze(x)
        lam_r = g.op("Add", lam_r, g.op("Mul", rho_c, g.op("Sub", xr, zr)))
        lam_i = g.op("Add", lam_i, g.op("Mul", rho_c, g.op("Sub", xi, zi)))
    zero = g.const([0], dtype=np.int64)
    g.op("Concat", g.op("Unsqueeze", lam_r, zero), g.op("Unsqueeze", lam_i, zero), axis=0, out="lam_out")
    f32 = TensorProto.FLOAT
    graph = helper.make_graph(
        g.nodes,
        "phasefold_unfolded_admm",
        [
            helper.make_tensor_value_info("mag", f32, [w_dim, k]),
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

"""The mel methods (engine.mel_gla: (F)GLA and ADMM with the mel step) as compiled kernels on FFTW plans.

As engine.admm's iterations (which engine.mel_gla runs), the kernels keep the signals (as spans: the padded
signal the frames cover): (F)GLA runs x_{n+1} = A^+ P_mel(A z_n), z_n = x_n + alpha (x_n - x_{n-1}), ADMM
the iterations of engine.admm.admm_iterations with the prox target |P_mel(A x)|. A^+ is the overlap-add
divided by the window's coverage (none for a tight frame), cut to the signal and padded again as the STFT
pads it (``fold``: a map from each span sample to the signal sample it copies, -1 for a zero; every
engine.stft pad mode is such a copy). The mel step reads the filters as CSR rows (each bin lies under at
most two triangles).

Why a kernel of its own beside the linear (F)GLA and ADMM (engine.compiled.admm): those are window steps of
the stream's contract (``fixed`` samples kept, the least-squares gain, the learned models' kernel for
ADMM-l2), with a per-bin projection; the mel step works on a whole frame (its bands couple the bins) and
the offline span makes the STFT's padding again at every iteration. Folding both into one kernel would put
these branches into the linear methods' inner loops, whose outputs are pinned bit for bit.

Precision: float32 where the mel is float32 (or float16), else float64; the output equals the numpy
reference to the rounding of that precision compounded over the iterations (tests/test_mel.py states the
tolerance).
"""

from __future__ import annotations

import numpy as np
from phasefold.engine.algorithms import published_rho
from phasefold.engine.compiled.admm import _prox, prox_kind
from phasefold.engine.compiled.jit import kernel
from phasefold.engine.compiled.spectral import Spectral, frame_forward, inverse_overlap_add
from phasefold.engine.mel import ALPHA, TINY, MelConfig, mel_filters
from phasefold.engine.registry import MethodSpec
from phasefold.engine.stft import COVERAGE_TINY, coverage, padded_samples
from scipy import sparse


@kernel
def mel_step(spec, target, bank_ptr, bank_idx, bank_w, spread_ptr, spread_idx, spread_w, power, tiny):
    """engine.mel_gla.MelStep on interleaved spectra [F, 2K] in place: each bin times its band-weighted
    gain G^(1/p) (bins under no band to zero)."""
    n_frames, n_mels = target.shape
    k = spec.shape[1] // 2
    one = spec.dtype.type(1.0)
    inv_power = one / power
    mag = np.empty(k, spec.dtype)
    ratio = np.empty(n_mels, spec.dtype)
    for j in range(n_frames):
        sj, tj = spec[j], target[j]
        for q in range(k):
            a = sj[2 * q] * sj[2 * q] + sj[2 * q + 1] * sj[2 * q + 1]
            if power == 2.0:
                mag[q] = a
            elif power == 1.0:
                mag[q] = np.sqrt(a)
            else:
                mag[q] = a ** (power / 2)
        for b in range(n_mels):
            c = spec.dtype.type(0.0)
            for i in range(bank_ptr[b], bank_ptr[b + 1]):
                c += bank_w[i] * mag[bank_idx[i]]
            ratio[b] = tj[b] / max(c, tiny)
        for q in range(k):
            g = spec.dtype.type(0.0)
            for i in range(spread_ptr[q], spread_ptr[q + 1]):
                g += spread_w[i] * ratio[spread_idx[i]]
            if power != 1.0:
                g = g**inv_power
            sj[2 * q] *= g
            sj[2 * q + 1] *= g


@kernel
def _fold(syn, inv_cov, source, first, out):
    """out = the span of A^+'s signal: syn / coverage, cut to the signal (from sample ``first`` of the
    span) and padded as the STFT pads (``source``: the signal sample each span sample copies, -1: zero)."""
    for i in range(syn.shape[0]):
        syn[i] *= inv_cov[i]
    for i in range(out.shape[0]):
        s = source[i]
        out[i] = syn[first + s] if s >= 0 else syn.dtype.type(0.0)


@kernel
def mel_start(start, target, bank, spread, power, tiny, inv_cov, source, first, fw):
    """The start span of every mel method: A^+ P_mel(P_mel(start)) (``start``: interleaved unit spectra
    [F, 2K]). ``bank``, ``spread``: (indptr, indices, data) of the CSR filters [n_mels, K] and spread
    weights [K, n_mels]."""
    spec = fw.spec
    syn = np.empty(inv_cov.shape[0], spec.dtype)
    out = np.empty(inv_cov.shape[0], spec.dtype)
    spec[:] = start
    for _ in range(2):
        mel_step(spec, target, bank[0], bank[1], bank[2], spread[0], spread[1], spread[2], power, tiny)
    inverse_overlap_add(fw, syn)
    _fold(syn, inv_cov, source, first, out)
    return out


@kernel
def mel_gla_layers(x, target, bank, spread, power, tiny, inv_cov, source, first, n_iter, momentum, fw):
    """``n_iter`` (fast) Griffin-Lim iterations with the mel step from the span ``x``; returns the last
    signal's span (engine.mel_gla.mel_fgla)."""
    spec = fw.spec
    span = inv_cov.shape[0]
    syn = np.empty(span, spec.dtype)
    prev = x.copy()
    z = x.copy()
    x = np.empty(span, spec.dtype)
    for _ in range(n_iter):
        frame_forward(z, fw)
        mel_step(spec, target, bank[0], bank[1], bank[2], spread[0], spread[1], spread[2], power, tiny)
        inverse_overlap_add(fw, syn)
        _fold(syn, inv_cov, source, first, x)
        for i in range(span):
            xi = x[i]
            z[i] = xi + momentum * (xi - prev[i])
            prev[i] = xi
    return prev


@kernel
def mel_admm_layers(x, target, bank, spread, power, tiny, inv_cov, source, first, n_iter, kind, rho, fw):
    """``n_iter`` ADMM iterations (engine.admm.admm_iterations, d = 1, zero dual start) with the prox
    ``kind`` (engine.compiled.admm) whose target is the magnitude of the mel step of the current estimate;
    returns the last signal's span (engine.mel_gla.mel_admm)."""
    spec = fw.spec
    w, k2 = spec.shape
    span = inv_cov.shape[0]
    syn = np.empty(span, spec.dtype)
    x = x.copy()
    stepped = np.empty_like(spec)
    z = np.empty_like(spec)
    lam = np.zeros_like(spec)
    zero = spec.dtype.type(0.0)
    frame_forward(x, fw)
    for _ in range(n_iter):
        stepped[:] = spec
        mel_step(stepped, target, bank[0], bank[1], bank[2], spread[0], spread[1], spread[2], power, tiny)
        for j in range(w):
            sj, tj, zj, lj = spec[j], stepped[j], z[j], lam[j]
            for q in range(k2 // 2):
                r = np.sqrt(tj[2 * q] * tj[2 * q] + tj[2 * q + 1] * tj[2 * q + 1])
                hr = sj[2 * q] + lj[2 * q] / rho
                hi = sj[2 * q + 1] + lj[2 * q + 1] / rho
                a = np.sqrt(hr * hr + hi * hi)
                if a > zero:
                    f = _prox(kind, a, r, rho) / a
                    zj[2 * q], zj[2 * q + 1] = hr * f, hi * f
                else:
                    zj[2 * q], zj[2 * q + 1] = zero, zero
                sj[2 * q] = zj[2 * q] - lj[2 * q] / rho
                sj[2 * q + 1] = zj[2 * q + 1] - lj[2 * q + 1] / rho
        inverse_overlap_add(fw, syn)
        _fold(syn, inv_cov, source, first, x)
        frame_forward(x, fw)
        for j in range(w):
            for i in range(k2):
                lam[j, i] += rho * (spec[j, i] - z[j, i])
    return x


def _csr(matrix: np.ndarray, dtype: np.dtype) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    m = sparse.csr_matrix(matrix)
    return m.indptr.astype(np.int64), m.indices.astype(np.int64), m.data.astype(dtype)


def mel_csr(cfg: MelConfig, dtype: np.dtype) -> tuple[tuple[np.ndarray, ...], tuple[np.ndarray, ...]]:
    """``mel_step``'s filters of ``cfg`` in ``dtype``: (the CSR filters [n_mels, K], the CSR spread weights
    [K, n_mels], each bin's weights over its bands summing to 1), each as (indptr, indices, data)."""
    bank = mel_filters(cfg)
    cover = bank.sum(axis=0)
    return _csr(bank, dtype), _csr((bank / np.where(cover > 0, cover, 1.0)).T, dtype)


class MelGla:
    """A compiled mel method (``spec``: gla, fgla or admm-<loss> with a closed-form prox, BackendError for
    another; None: fgla) for one configuration and precision (plans made on first use)."""

    def __init__(self, cfg: MelConfig, dtype: type = np.float32, spec: MethodSpec | None = None) -> None:
        self.cfg = cfg
        self.dtype = np.dtype(dtype)
        self.momentum = ALPHA if spec is None else spec.momentum
        self.admm = None
        if spec is not None and spec.family == "admm":  # (prox kind, rho at the published scale)
            self.admm = (prox_kind(spec.div, spec.side), published_rho(spec.div, cfg.stft))
        self.spectral = Spectral(cfg.stft, self.dtype)
        self.bank, self.spread = mel_csr(cfg, self.dtype)

    def _edges(self, n_frames: int, inner: int) -> tuple[np.ndarray, np.ndarray]:
        """(1 / coverage or ones, the source map) of a span of ``n_frames`` frames over ``inner`` samples."""
        st = self.cfg.stft
        if st.tight:
            inv = np.ones(st.span(n_frames))
        else:
            cov = coverage(n_frames, st)
            inv = 1.0 / np.where(cov > COVERAGE_TINY * np.max(cov), cov, 1.0)
        index = padded_samples(np.arange(1.0, inner + 1.0), -st.pad, st.span(n_frames) - st.pad, st)
        return inv.astype(self.dtype), index.astype(np.int64) - 1

    def __call__(self, mel: np.ndarray, n_iter: int, phases: np.ndarray, inner: int) -> np.ndarray:
        """The ``inner`` samples engine.mel_gla's reference iterates on (padding included) from the start
        ``phases`` [F, K], in self.dtype."""
        n_frames = mel.shape[0]
        st = self.cfg.stft
        start = np.empty((n_frames, 2 * st.n_bins), self.dtype)
        start[:, 0::2], start[:, 1::2] = np.cos(phases), np.sin(phases)
        inv_cov, source = self._edges(n_frames, inner)
        target = np.ascontiguousarray(mel, self.dtype)
        tiny = self.dtype.type(TINY * max(float(np.mean(mel)), np.finfo(np.float64).tiny))
        power = self.dtype.type(self.cfg.power)
        step = (target, self.bank, self.spread, power, tiny, inv_cov, source, st.pad)
        fw = self.spectral.window(n_frames)
        x = mel_start(start, *step, fw)
        if self.admm is None:
            span = mel_gla_layers(x, *step, int(n_iter), self.dtype.type(self.momentum), fw)
        else:
            kind, rho = self.admm
            span = mel_admm_layers(x, *step, int(n_iter), kind, self.dtype.type(rho), fw)
        out = np.zeros(inner, self.dtype)
        reach = min(inner, span.shape[0] - st.pad)
        out[:reach] = span[st.pad : st.pad + reach]
        return out

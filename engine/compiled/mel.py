"""The mel-consistent fast Griffin-Lim (engine.mel_gla) as one compiled kernel on FFTW plans.

engine.mel_gla iterates on spectrograms: t_n = P_C(P_mel(c_{n-1})), c_n = t_n + alpha (t_n - t_{n-1}),
with P_C = A A^+ (A: engine.stft.stft, A^+: engine.stft.istft). Both are linear, so with
x_n = A^+ P_mel(c_{n-1}) the spectrogram c_n is A z_n, z_n = x_n + alpha (x_n - x_{n-1}): the kernel keeps
the signals (as spans: the padded signal the frames cover) and runs x_{n+1} = A^+ P_mel(A z_n), as the
compiled FGLA (engine.compiled.admm.gla_layers) does. A^+ is the overlap-add divided by the window's
coverage (none for a tight frame), cut to the signal and padded again as the STFT pads it (``fold``: a
map from each span sample to the signal sample it copies, -1 for a zero; every engine.stft pad mode is
such a copy). The mel step reads the filters as CSR rows (each bin lies under at most two triangles).

Precision: float32 where the mel is float32 (or float16), else float64; the output equals the numpy
reference to the rounding of that precision compounded over the iterations (tests/test_mel.py states the
tolerance).
"""

from __future__ import annotations

import numpy as np
from phasefold.engine.compiled.jit import kernel
from phasefold.engine.compiled.spectral import Spectral, frame_forward, inverse_overlap_add
from phasefold.engine.mel import ALPHA, TINY, MelConfig, mel_filters
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
def mel_gla_layers(start, target, bank, spread, power, tiny, inv_cov, source, first, n_iter, momentum, fw):
    """engine.mel_gla.mel_fgla's iterations from the start spectra ``start`` (interleaved [F, 2K]); returns
    the span of the last signal. ``bank``, ``spread``: (indptr, indices, data) of the CSR filters [n_mels, K]
    and spread weights [K, n_mels]."""
    spec = fw.spec
    span = inv_cov.shape[0]
    syn = np.empty(span, spec.dtype)
    prev = np.empty(span, spec.dtype)
    z = np.empty(span, spec.dtype)
    x = np.empty(span, spec.dtype)
    spec[:] = start
    for _ in range(2):  # the start through the step, then the first iteration's step (as the reference)
        mel_step(spec, target, bank[0], bank[1], bank[2], spread[0], spread[1], spread[2], power, tiny)
    inverse_overlap_add(fw, syn)
    _fold(syn, inv_cov, source, first, prev)
    z[:] = prev
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


def _csr(matrix: np.ndarray, dtype: np.dtype) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    m = sparse.csr_matrix(matrix)
    return m.indptr.astype(np.int64), m.indices.astype(np.int64), m.data.astype(dtype)


class MelGla:
    """The compiled mel-consistent FGLA for one configuration and precision (plans made on first use)."""

    def __init__(self, cfg: MelConfig, dtype: type = np.float32) -> None:
        self.cfg = cfg
        self.dtype = np.dtype(dtype)
        self.spectral = Spectral(cfg.stft, self.dtype)
        bank = mel_filters(cfg)
        cover = bank.sum(axis=0)
        self.bank = _csr(bank, self.dtype)
        self.spread = _csr((bank / np.where(cover > 0, cover, 1.0)).T, self.dtype)

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

    def __call__(
        self, mel: np.ndarray, n_iter: int, phases: np.ndarray, inner: int, alpha: float = ALPHA
    ) -> np.ndarray:
        """The ``inner`` samples engine.mel_gla.mel_fgla iterates on (padding included) from the start
        ``phases`` [F, K], in self.dtype."""
        n_frames = mel.shape[0]
        st = self.cfg.stft
        start = np.empty((n_frames, 2 * st.n_bins), self.dtype)
        start[:, 0::2], start[:, 1::2] = np.cos(phases), np.sin(phases)
        inv_cov, source = self._edges(n_frames, inner)
        target = np.ascontiguousarray(mel, self.dtype)
        tiny = self.dtype.type(TINY * max(float(np.mean(mel)), np.finfo(np.float64).tiny))
        span = mel_gla_layers(
            start, target, self.bank, self.spread, self.dtype.type(self.cfg.power), tiny, inv_cov, source,
            st.pad, int(n_iter), self.dtype.type(alpha), self.spectral.window(n_frames),
        )  # fmt: skip
        out = np.zeros(inner, self.dtype)
        reach = min(inner, span.shape[0] - st.pad)
        out[:reach] = span[st.pad : st.pad + reach]
        return out

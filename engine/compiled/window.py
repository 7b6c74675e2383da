"""The streaming window's per-frame work as one compiled kernel (engine.streaming.window, "advance" start).

For a block of b new frames it slides the window (magnitudes, estimate, dual), starts each new frame from
the previous frame's phase advanced by 2 pi k H / N per hop (its unit phasor times e^{i 2 pi k H j / N},
which is the numpy path's angle-then-exp up to rounding; a zero bin starts at phase 0 there too) and mixes
the new frames into the estimate by least squares, x = (c_old x + OLA(new frames)) / c_all: what
``WindowProcessor._slide`` and ``_start_new_frames`` do with numpy, in the window state's precision.
The kernel takes its constant arrays and one-frame plan as a ``Starts`` bundle.
"""

from __future__ import annotations

import numpy as np
from numba.core import types
from numba.experimental import structref
from phasefold.engine.compiled.jit import kernel
from phasefold.engine.compiled.spectral import Spectral, frame_forward, inverse_overlap_add
from phasefold.engine.stft import StftConfig


@structref.register
class StartsType(types.StructRef):
    """The numba type of a ``Starts`` bundle (its fields' types as given)."""

    def preprocess_fields(self, fields):
        return tuple((name, types.unliteral(t)) for name, t in fields)


class Starts(structref.StructRefProxy):
    """What slide_and_start keeps between calls: ``fw``, the one-frame FftWindow with interleaved (re, im)
    spectra [1, 2K]; ``inv_cov``, 1 / max(c_all, 1e-12); ``rot_re``, ``rot_im``, the phase advance of one
    hop per bin; the work arrays ``piece`` [N] and ``phasor`` [2, K] (the unit phasor)."""


structref.define_proxy(Starts, StartsType, ["fw", "inv_cov", "rot_re", "rot_im", "piece", "phasor"])


@kernel
def _starts(fw, inv_cov, rot_re, rot_im, piece, phasor):
    """A Starts bundle, built by a cached kernel (the proxy's own constructor compiles at every start)."""
    return Starts(fw, inv_cov, rot_re, rot_im, piece, phasor)


@kernel
def slide_window(meas, x, lam, b, hop):
    """The window state slid by b frames, in place: the measurements' and the dual's rows and the samples
    move back by b frames (b hops), the dual's new rows and the new samples zero (the new rows of ``meas``
    are the caller's to write)."""
    w = meas.shape[0]
    for j in range(w - b):
        meas[j] = meas[j + b]
        lam[0, j] = lam[0, j + b]
        lam[1, j] = lam[1, j + b]
    for j in range(w - b, w):
        lam[0, j] = 0.0
        lam[1, j] = 0.0
    s, hb = x.shape[0], b * hop
    for i in range(s - hb):
        x[i] = x[i + hb]
    for i in range(s - hb, s):
        x[i] = 0.0


@kernel
def slide_and_start(mag, x, lam, new, ceiling, factor, cov_old, st):
    """Slide by b = len(new) frames and start the new frames ``new`` [b, K] (float64) times ``factor`` (the
    level's 2^-k, exact), in the state's precision (module docstring); in place. ``cov_old``: the coverage of
    the frames kept; ``st``: the Starts bundle.

    First the level check (engine.level.RunningLevel.ceiling): when a frame's sum of squared amplitudes is
    above ``ceiling`` (or NaN), nothing is changed and False is returned (the level may grow: the caller
    updates it and calls again with ceiling inf, which skips the check); True when the frames were started."""
    b = new.shape[0]
    w, k = mag.shape
    for j in range(b if ceiling < np.inf else 0):
        total = 0.0
        for q in range(k):
            total += new[j, q] * new[j, q]
        if not total <= ceiling:
            return False
    fw, inv_cov, rot_re, rot_im, piece, phasor = st.fw, st.inv_cov, st.rot_re, st.rot_im, st.piece, st.phasor
    spec, win, hop = fw.spec, fw.win, fw.hop
    n = win.shape[0]
    s = x.shape[0]
    slide_window(mag, x, lam, b, hop)
    for j in range(b):
        for q in range(k):
            mag[w - b + j, q] = new[j, q] * factor  # rounded to the state's precision, as numpy's astype
    first = w - b
    frame_forward(x[(first - 1) * hop : (first - 1) * hop + n], fw)
    sp, ur, ui = spec[0], phasor[0], phasor[1]
    for q in range(k):  # the previous frame's unit phasor (1 where its bin is zero)
        re, im = sp[2 * q], sp[2 * q + 1]
        a = np.sqrt(re * re + im * im)
        pos = a > 0
        ur[q] = re / a if pos else 1.0
        ui[q] = im / a if pos else 0.0
    start = first * hop
    xs, cs = x[start:], cov_old[start:]
    for i in range(s - start):
        xs[i] *= cs[i]
    for j in range(b):
        nj = mag[w - b + j]
        for q in range(k):  # unit phasor advanced by one more hop, times the frame's amplitude
            re = ur[q] * rot_re[q] - ui[q] * rot_im[q]
            im = ur[q] * rot_im[q] + ui[q] * rot_re[q]
            ur[q], ui[q] = re, im
            sp[2 * q] = nj[q] * re
            sp[2 * q + 1] = nj[q] * im
        inverse_overlap_add(fw, piece)
        xo = x[start + j * hop : start + j * hop + n]
        for i in range(n):
            xo[i] += piece[i]
    ic = inv_cov[start:]
    for i in range(s - start):
        xs[i] *= ic[i]
    return True


def new_frame_starts(spectral: Spectral, cov: np.ndarray):
    """The Starts bundle of the slide-and-start kernels (this module's and engine.compiled.mel_window's) on
    ``spectral``'s setting and precision: a one-frame FftWindow, 1 / the window's coverage ``cov``, the
    one-hop phase advance of each bin, work arrays."""
    cfg, dtype = spectral.cfg, spectral.dtype
    adv = 2.0 * np.pi * np.arange(cfg.n_bins) * cfg.hop / cfg.n_fft
    return _starts(
        spectral.window(1),
        (1.0 / np.maximum(cov, 1e-12)).astype(dtype),
        np.cos(adv).astype(dtype),
        np.sin(adv).astype(dtype),
        np.empty(cfg.n_fft, dtype),
        np.empty((2, cfg.n_bins), dtype),
    )


class NewFrames:
    """The compiled slide-and-start of a window of ``n_window`` frames (one block size at a time), in the
    window state's precision (float32 for a model, whose step runs in float32; float64 otherwise)."""

    def __init__(
        self, cfg: StftConfig, cov: np.ndarray, cov_old: dict[int, np.ndarray], dtype: type = np.float64
    ) -> None:
        self.cfg = cfg
        self.dtype = np.dtype(dtype)
        self.spectral = Spectral(cfg, self.dtype)
        self.starts = new_frame_starts(self.spectral, cov)
        self.cov_old = {b: c.astype(self.dtype) for b, c in cov_old.items()}

    def __call__(
        self,
        mag: np.ndarray,
        x: np.ndarray,
        lam: np.ndarray,
        new: np.ndarray,
        ceiling: float = np.inf,
        factor: float = 1.0,
    ) -> bool:
        """Slide and start the new frames ``new`` [b, K] times ``factor`` (an exact power of two), unless a
        frame's sum of squared amplitudes is above ``ceiling``: whether it did (slide_and_start)."""
        new = np.ascontiguousarray(new, dtype=np.float64)
        return slide_and_start(mag, x, lam, new, ceiling, factor, self.cov_old[new.shape[0]], self.starts)

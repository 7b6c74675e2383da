"""Window-level STFT kernels of the compiled backend: engine.stft's conventions in nopython code, on FFTW.

A window of W frames spans (W - 1) H + N samples. ``frame_forward`` windows the frames of a span into a
``fftw.Plan``'s ``frames`` buffer (``window_into``) and runs its forward plan (the spectra land in
``spec``); ``inverse_overlap_add`` runs the inverse plan on ``spec`` and overlap-adds the windowed frames
(``overlap_add``). With
``win`` = engine.stft.window / sqrt(N) on both sides they are engine.stft's ``analyze`` and ``synthesize``
(orthonormal DFT, tight frame). ``Spectral`` holds the scaled window and one plan per window length;
``FftWindow`` bundles what the kernels need of them (a structref: named fields, passed as one argument).
"""

from __future__ import annotations

import numpy as np
from numba.core import types
from numba.experimental import structref
from phasefold.engine.compiled import fftw
from phasefold.engine.compiled.fftw import execute_f32, execute_f64
from phasefold.engine.compiled.jit import kernel
from phasefold.engine.stft import StftConfig, window

fftw.load_libraries()


@structref.register
class FftWindowType(types.StructRef):
    """The numba type of an ``FftWindow`` (its fields' types as given)."""

    def preprocess_fields(self, fields):
        return tuple((name, types.unliteral(t)) for name, t in fields)


class FftWindow(structref.StructRefProxy):
    """One window length's STFT in a kernel's hands: ``win`` (the window / sqrt(N)), ``hop``, the plan's
    ``frames`` buffer, its spectra ``spec`` (complex [W, K], or interleaved real [W, 2K]), the ``forward``
    and ``inverse`` plan addresses and whether they are ``single`` precision. Made by ``Spectral.window``."""


structref.define_proxy(
    FftWindow, FftWindowType, ["win", "hop", "frames", "spec", "forward", "inverse", "single"]
)


@kernel
def _fft_window(win, hop, frames, spec, forward, inverse, single):
    """An FftWindow, built by a cached kernel (the proxy's own constructor compiles at every start)."""
    return FftWindow(win, hop, frames, spec, forward, inverse, single)


@kernel
def execute(plan, single):
    """Run an FFTW plan (its address) of single or double precision."""
    if single:
        execute_f32(plan)
    else:
        execute_f64(plan)


@kernel
def window_into(x, win, hop, frames):
    """frames[j] = x[j H : j H + N] * win: the windowed frames of a span, ready for the forward plan."""
    n = win.shape[0]
    for j in range(frames.shape[0]):
        fj, xj = frames[j], x[j * hop : j * hop + n]  # row views: the loop vectorises (4x faster)
        for i in range(n):
            fj[i] = xj[i] * win[i]


@kernel
def overlap_add(frames, win, hop, out):
    """out = overlap-add of the frames (the inverse plan's output) times win."""
    n = win.shape[0]
    out[:] = 0.0
    for j in range(frames.shape[0]):
        fj, oj = frames[j], out[j * hop : j * hop + n]
        for i in range(n):
            oj[i] += fj[i] * win[i]


@kernel
def frame_forward(x, fw):
    """Window the span's frames, then the forward plan of the FftWindow ``fw``: their spectra in fw.spec."""
    window_into(x, fw.win, fw.hop, fw.frames)
    execute(fw.forward, fw.single)


@kernel
def inverse_overlap_add(fw, out):
    """The inverse plan (fw.spec -> fw.frames), then their overlap-add times win into out."""
    execute(fw.inverse, fw.single)
    overlap_add(fw.frames, fw.win, fw.hop, out)


class Spectral:
    """An STFT setting in one precision: the scaled window and an FFTW plan per window length W."""

    def __init__(self, cfg: StftConfig, dtype=np.float32) -> None:
        self.cfg = cfg
        self.dtype = np.dtype(dtype)
        self.single = self.dtype == np.float32
        self.win = (window(cfg) / np.sqrt(cfg.n_fft)).astype(self.dtype)
        self._plans: dict[int, fftw.Plan] = {}
        self._windows: dict[tuple[int, bool], FftWindow] = {}

    def plan(self, n_frames: int) -> fftw.Plan:
        """The plan (and buffers) for windows of ``n_frames`` frames, made on first use."""
        plan = self._plans.get(n_frames)
        if plan is None:
            plan = self._plans[n_frames] = fftw.Plan(self.cfg.n_fft, n_frames, self.dtype)
        return plan

    def window(self, n_frames: int, interleaved: bool = True) -> FftWindow:
        """The FftWindow of ``plan(n_frames)``, its spectra as interleaved real pairs or complex; one each."""
        fw = self._windows.get((n_frames, interleaved))
        if fw is None:
            plan = self.plan(n_frames)
            spec = plan.spec.view(self.dtype) if interleaved else plan.spec
            fw = _fft_window(
                self.win, self.cfg.hop, plan.frames, spec, plan.forward, plan.inverse, self.single
            )
            self._windows[(n_frames, interleaved)] = fw
        return fw

    def analyze(self, x: np.ndarray) -> np.ndarray:
        """engine.stft.analyze of a span (a copy of the spectra)."""
        n_frames = (x.shape[0] - self.cfg.n_fft) // self.cfg.hop + 1
        frame_forward(np.ascontiguousarray(x, self.dtype), self.window(n_frames, False))
        return self.plan(n_frames).spec.copy()

    def synthesize(self, spec: np.ndarray) -> np.ndarray:
        """engine.stft.synthesize of spectra [W, K] into a span."""
        plan = self.plan(spec.shape[0])
        plan.spec[:] = spec
        out = np.empty(self.cfg.span(spec.shape[0]), self.dtype)
        inverse_overlap_add(self.window(spec.shape[0], False), out)
        return out

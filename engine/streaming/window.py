"""The active window and the window-step processor (docs/architecture.md, "Streaming").

The window holds W = L + N/H + B - 1 frames: every frame that overlaps a sample not yet emitted.
Its state is explicit: ``mag`` [W, K], the time-domain estimate ``x`` of the span
(S = (W - 1) H + N samples) and the ADMM dual ``lam`` [2, W, K]. For a block of b frames ending
with frame m the processor
1. slides the window by b frames (x by b H samples, new samples and duals zero);
2. starts each new frame from the current estimate: its phase is the previous frame's phase advanced
   by 2 pi k H / N ("advance") or integrated by RTPGHI ("rtpghi"), or a known phase when one is given;
   the new frames enter x by least squares, x = (c_old x + OLA(new frames)) / c_all, where c_old and
   c_all are the window coverages without and with them;
3. marks committed samples fixed: the first (N/H - 1 + B - b) H samples (emitted already), every
   sample before the stream (negative padded index) and the first ``silent_start`` samples, which the
   caller may declare silent (the P samples of padding of an offline signal);
4. runs the window step (state in, state out: phasefold.engine.admm iterations, FGLA or an ONNX model);
5. emits the b H samples after the fixed ones, which are then committed and never change.

The state is kept at the models' level (engine.level): the measurements enter divided by 2^k, with k from
the running maximum of the frame levels so far, and the emitted samples leave multiplied by 2^k. When k
grows, the window's state (measurements, estimate, dual) is rescaled by the exact power of two
2^(k_old - k_new); samples already emitted are not touched.
"""

from __future__ import annotations

import copy
import functools

import numpy as np
from phasefold.engine.level import RunningLevel, restore, scale
from phasefold.engine.runners import WindowStep
from phasefold.engine.stft import StftConfig, analyze, coverage, overlap_add, synthesize, window
from phasefold.engine.streaming import pghi
from phasefold.engine.streaming.base import FrameProcessor
from phasefold.engine.wording import counted

INITS = ("advance", "rtpghi")


def advance(phase: np.ndarray, n_hops: int, cfg: StftConfig) -> np.ndarray:
    """Phase of a frame n_hops later for stationary partials: + 2 pi k H n_hops / N."""
    return phase + n_hops * _hop_advance(cfg.n_fft, cfg.hop)


def layer_schedule(layers: int, lookahead: int, overlap: int, position_dependent: bool = True) -> dict:
    """The pipelined layer schedule of a window step of ``layers`` layers run every hop (block 1).

    A frame enters the window at the newest of its W = L + N/H positions and moves one position per hop;
    its first sample is emitted when it reaches position N/H - 1 (after L + 1 steps) and its last when it
    leaves (after W steps), so it has had ``layers`` x (L + 1) layers before its first sample is heard and
    ``layers`` x W when it is committed. With position-dependent parameters, layer t at position p is the
    frame's layer (W - 1 - p) x layers + t: a frame's depth picks its parameters."""
    w = lookahead + overlap
    return {
        "kind": "pipelined" if position_dependent else "repeated",
        "layers_per_hop": layers,
        "window_frames": w,
        "layers_before_first_emission": layers * (lookahead + 1),
        "layers_when_committed": layers * w,
        "parameters": "per (layer, window position)" if position_dependent else "per layer",
    }


@functools.lru_cache(maxsize=16)
def _hop_advance(n_fft: int, hop: int) -> np.ndarray:
    return 2.0 * np.pi * np.arange(n_fft // 2 + 1) * hop / n_fft


def _as_state(new, old: np.ndarray) -> np.ndarray:
    """A step's output as window state of the old state's precision and shape (no copy when it is one)."""
    if isinstance(new, np.ndarray) and new.dtype == old.dtype and new.shape == old.shape:
        return new
    return np.asarray(new, dtype=old.dtype).reshape(old.shape)


class WindowProcessor(FrameProcessor):
    """Runs one window step per block of frames over the active window."""

    accepts_phases = True

    def __init__(
        self,
        step: WindowStep,
        cfg: StftConfig,
        lookahead: int,
        block: int,
        init: str = "advance",
        silent_start: int = 0,
        seed: int = 0,
        compiled_frames: bool = False,
    ) -> None:
        """``compiled_frames``: slide and start new frames with engine.compiled.window (the "advance" start
        of d = 1 magnitudes; the same arithmetic in one kernel)."""
        super().__init__(cfg, lookahead, block)
        if init not in INITS:
            raise ValueError(f"unknown phase initialisation {init!r}; choose one of {', '.join(INITS)}")
        self.step = step
        self.dtype = step.dtype  # the window state's precision: the step's, so no conversion per step
        self.name = step.name
        self.init = init
        self.silent_start = int(silent_start)
        self.n_window = lookahead + cfg.overlap + block - 1
        if step.window_frames is not None and step.window_frames != self.n_window:
            raise ValueError(
                f"{step.name} is pinned to windows of {step.window_frames} frames, but look-ahead "
                f"{lookahead} and block {block} need {self.n_window} (L + N/H + B - 1)"
            )
        w2 = np.broadcast_to(window(cfg) ** 2, (self.n_window, cfg.n_fft)).copy()
        self._cov = coverage(self.n_window, cfg)
        self._cov_old = {}
        for b in range(1, block + 1):
            part = w2.copy()
            part[self.n_window - b :] = 0.0
            self._cov_old[b] = overlap_add(part, cfg)
        self._pghi = pghi.PghiState(cfg, causal=True, seed=seed)
        self._fast = None
        if compiled_frames and init == "advance" and cfg.power == 1.0:
            from phasefold.engine.compiled.window import NewFrames

            self._fast = NewFrames(cfg, self._cov, self._cov_old, self.dtype)
        self.reset()

    @property
    def power(self) -> float:
        """d of the measurements the window holds (``mag``): they scale by 2^(k d) with the signal."""
        return self.cfg.power

    def reset(self) -> None:
        cfg, w = self.cfg, self.n_window
        self.mag = np.zeros((w, self.width), self.dtype)
        self.x = np.zeros(cfg.span(w), self.dtype)
        self.lam = np.zeros((2, w, cfg.n_bins), self.dtype)
        self.fixed = np.zeros(cfg.span(w), self.dtype)
        self._n_fixed = 0  # samples marked in self.fixed (it only changes while the stream starts)
        self.frames_in = 0
        self._level = RunningLevel(cfg.power)  # the state is the signal divided by 2^self._level.k
        self._pghi.reset()

    def adopt(self, other: WindowProcessor) -> bool:
        """Continue from another window processor's state (a method switch mid-stream); False if incompatible.

        The window's frames, time-domain estimate and frame count carry over; the dual starts at zero
        (another method's lambda does not belong to this one).
        """
        if (other.cfg, other.n_window, other.block) != (self.cfg, self.n_window, self.block):
            return False
        self.mag[:] = other.mag
        self.x[:] = other.x
        self.lam[:] = 0.0
        self.frames_in = other.frames_in
        self._level = copy.copy(other._level)
        return True

    def _rescale(self, k: int) -> None:
        """Scale the window's state by 2^k (exact): measurements and dual by 2^(k d), the estimate by 2^k."""
        power = self.power
        self.mag[:] = scale(self.mag, k, power)
        self.x[:] = scale(self.x, k)
        self.lam[:] = scale(self.lam, k, power)

    def _slide(self, b: int) -> None:
        hb = b * self.cfg.hop
        self.mag[:-b] = self.mag[b:]
        self.x[:-hb] = self.x[hb:]
        self.x[-hb:] = 0.0
        self.lam[:, :-b] = self.lam[:, b:]
        self.lam[:, -b:] = 0.0

    def _new_phases(self, b: int) -> np.ndarray:
        """Initial phases [b, K] of the b newest frames from the current estimate."""
        cfg = self.cfg
        first = self.n_window - b
        start = (first - 1) * cfg.hop
        prev = analyze(self.x[start : start + cfg.n_fft], cfg)[0]
        # a zero bin has phase 0 (as in engine.compiled.window): np.angle gives pi for a negative zero, which
        # a window with negative rounding residues (Blackman's first sample, -1e-17) makes of silence
        prev_phase = np.where(prev != 0, np.angle(prev), 0.0)
        if self.init == "advance":
            return np.stack([advance(prev_phase, j + 1, cfg) for j in range(b)])
        # RTPGHI (variant 0) from the two frames before, anchored on the current estimate's phase
        state = self._pghi
        for i, idx in ((1, first - 2), (2, first - 1)):
            r = self._measured(slice(idx, idx + 1))[0] if idx >= 0 else np.zeros(cfg.n_bins)
            state.logs[i] = pghi.log_magnitude(r, cfg)
            state.tgrad[i] = pghi.time_gradient(state.logs[i], cfg)
        state.phase = pghi.to_centred(prev_phase)
        out = []
        for j in range(b):
            state.push(self._measured(slice(first + j, first + j + 1))[0])
            out.append(pghi.from_centred(state.next_phase()))
        return np.stack(out)

    def _start_new_frames(self, b: int, phases: np.ndarray | None) -> None:
        cfg = self.cfg
        if phases is None:
            phases = self._new_phases(b)
        amp = self._start_amplitudes(b)
        region = slice((self.n_window - b) * cfg.hop, None)
        ola = synthesize(amp * np.exp(1j * phases), cfg)
        num = self.x[region] * self._cov_old[b][region] + ola
        self.x[region] = num / np.maximum(self._cov[region], 1e-12)

    def _measured(self, rows: slice) -> np.ndarray:
        """The window's frames ``rows`` as measurements r = |X|^d of the STFT (RTPGHI's start reads them)."""
        return self.mag[rows]

    def _start_amplitudes(self, b: int) -> np.ndarray:
        """The amplitudes |X| [b, K] the b newest frames start with."""
        return self.mag[-b:] if self.cfg.power == 1.0 else np.sqrt(self.mag[-b:])

    def _levels_of(self, mags: np.ndarray) -> np.ndarray:
        """What the running level (of power d) measures of a block of new frames: the frames themselves."""
        return mags

    def process(self, mags: np.ndarray, phases: np.ndarray | None = None) -> np.ndarray:
        cfg, h = self.cfg, self.cfg.hop
        b = mags.shape[0]
        self.frames_in += b
        level = self._level
        k = level.k
        fast = self._fast is not None and phases is None
        # compiled: the kernel checks that no frame is louder than the level so far and scales by 2^-k
        if not (fast and self._fast(self.mag, self.x, self.lam, mags, level.ceiling, level.inverse)):
            k_old = k
            k = level.update(self._levels_of(mags))
            if k != k_old:
                self._rescale(k_old - k)
            mags = scale(mags, -k, self.power)
            if fast:
                self._fast(self.mag, self.x, self.lam, mags)
            else:
                self._slide(b)
                self.mag[-b:] = mags
                self._start_new_frames(b, phases)
        # samples known to be silent: before the stream (negative padded index) and the declared start
        span_start = (self.frames_in - self.n_window) * h  # padded index of x[0]
        n_silent = min(self.x.size, max(0, max(self.silent_start, 0) - span_start, -span_start))
        if n_silent:
            self.x[:n_silent] = 0.0
        n_fixed = (cfg.overlap - 1 + self.block - b) * h
        if max(n_fixed, n_silent) != self._n_fixed:
            self._n_fixed = max(n_fixed, n_silent)
            self.fixed[:] = 0.0
            self.fixed[: self._n_fixed] = 1.0
        x, lam = self.step(self.mag, self.x, self.fixed, self.lam)
        self.x = _as_state(x, self.x)
        self.lam = _as_state(lam, self.lam)
        return restore(self.x[n_fixed : n_fixed + b * h], k, np.float32)

    def tail(self) -> np.ndarray:
        start = (self.cfg.overlap - 1 + self.block) * self.cfg.hop
        return restore(self.x[start:], self._level.k, np.float32)

    def projections_per_frame(self) -> float:
        return float(self.step.projections * self.n_window) / self.block

    def describe(self) -> str:
        return (
            f"{self.name} (window of {counted(self.n_window, 'frame')}, "
            f"{counted(self.step.projections, 'projection')} per step, "
            f"{self.init} start)"
        )

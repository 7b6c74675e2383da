"""The input level: every window method runs on measurements scaled by a power of two to the level the
models were trained at, and its output is scaled back (docs/architecture.md, "Level").

The learned models are not scale-equivariant (a model trained on speech at one level rebuilds quieter or
louder speech worse); the classical ones are, up to float32 overflow and underflow. Dividing the
measurements by 2^k and multiplying the output by 2^k is exact in floating point, so an input scaled by
2^m gives k + m, the same normalised measurements bit for bit, and the output scaled by 2^m bit for bit.
k comes from a scale-equivariant level: the largest frame RMS of the amplitudes |X| (offline over the
whole signal; in the stream the running maximum over the frames so far, so k only grows). Silence (level
0) keeps k = 0.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Iterable

import numpy as np
from phasefold.engine.errors import InputError

#: the median over the 40 TIMIT utterances of the train split of each utterance's largest frame RMS of
#: |X| (default STFT, tight frame, audio in [-1, 1]): the level the models were trained at (their
#: utterances' largest frame RMS spans 0.4 to 2.8 times this)
REFERENCE_LEVEL = 0.02016
#: the same median of the largest frame RMS over the bands of the hifigan preset's mel amplitudes (B |X|,
#: engine.mel.linear_mel): the level the shipped mel models were trained at (their utterances span 0.42 to
#: 3.1 times this); a mel model's card records its own (``mel_card_record``)
MEL_REFERENCE_LEVEL = 0.05683
_LOW, _HIGH = math.sqrt(0.5), math.sqrt(2.0)
#: frames measured at a time (bounded memory for long signals)
LEVEL_BLOCK_FRAMES = 4096
#: the exponents e for which 2^e is a normal number of the dtype (np.finfo: minexp, maxexp; looked up once)
_NORMAL_EXPONENTS = {np.dtype(t): (np.finfo(t).minexp, np.finfo(t).maxexp) for t in (np.float32, np.float64)}
#: above this shift a float32 output may overflow (samples near full scale times 2^k beyond float32's range)
_OVERFLOW_SHIFT = 100


def card_record() -> dict:
    """The ``level`` record of a model card: how the engine brings a model's input to the level it was
    trained at (a model card says which; engine.model_card checks the reference against this engine's)."""
    return {
        "normalisation": "engine",
        "reference_level": REFERENCE_LEVEL,
        "offline": "measurements scaled by 2^-k, k from the whole signal's largest frame RMS of |X|",
        "stream": "measurements scaled by 2^-k, k from the running maximum of the frame RMS so far (causal)",
        "output": "scaled back by 2^k: level-equivariant, bit for bit for power-of-two gains",
        "retrained": False,
    }


def mel_card_record(reference: float = MEL_REFERENCE_LEVEL) -> dict:
    """The ``level`` record of a mel model's card: its input, the linear mel B |X|^p, is scaled by g^p with
    g = reference / level (the mel's level against ``reference``, the model's training level in mel units:
    the engine reads it from the card), and the output divided by g (engine.mel_model)."""
    return {
        "normalisation": "engine",
        "reference_level": reference,
        "measure": "largest frame RMS over the bands of the mel amplitudes (B |X|^p)^(1/p)",
        "offline": "the linear mel scaled by g^p, g = reference_level / the whole mel's level",
        "output": "divided by g: level-equivariant, bit for bit for power-of-two gains",
        "retrained": False,
    }


def frame_levels(r: np.ndarray, power: float = 1.0) -> np.ndarray:
    """The RMS over bins of each frame's amplitudes |X| = r^(1/d), float64 [F], computed without overflow
    or underflow (the amplitudes are scaled by the power of two of their largest value first, exactly) and
    in blocks of frames (no float64 copy of a long signal's measurements)."""
    r = np.asarray(r)
    top = float(r.max()) if r.size else 0.0
    if top == 0.0:
        return np.zeros(r.shape[:-1])
    e = math.frexp(_amplitude(np.float64(top), power))[1]
    out = np.empty(r.shape[:-1])
    for start in range(0, r.shape[0], LEVEL_BLOCK_FRAMES):
        amp = _amplitude(np.asarray(r[start : start + LEVEL_BLOCK_FRAMES], dtype=np.float64), power)
        out[start : start + LEVEL_BLOCK_FRAMES] = np.sqrt(np.mean(np.ldexp(amp, -e) ** 2, axis=-1))
    return np.ldexp(out, e)


def _amplitude(r: np.ndarray, power: float) -> np.ndarray:
    """r^(1/d); for d = 2 the square root, which commutes exactly with powers of four."""
    return r if power == 1.0 else np.sqrt(r) if power == 2.0 else r ** (1.0 / power)


def shift(level: float, reference: float = REFERENCE_LEVEL) -> int:
    """k such that level / 2^k is nearest ``reference`` (REFERENCE_LEVEL, or a mel model's level in mel
    units) on a log scale; 0 for silence (level 0).

    Computed from the mantissas and exponents, so that level x 2^m gives k + m exactly."""
    if not level > 0.0:
        return 0
    m_level, e_level = math.frexp(level)
    m_ref, e_ref = math.frexp(reference)
    q = m_level / m_ref  # in (1/2, 2)
    return e_level - e_ref + (-1 if q < _LOW else 1 if q >= _HIGH else 0)


def scale(a: np.ndarray, k: int, power: float = 1.0) -> np.ndarray:
    """``a`` (float64 or the dtype given) times 2^(k d): measurements of power d scaled with the signal by
    2^k (power 1: amplitudes and signals); ``a`` itself for k = 0.

    A multiplication by a power of two that the dtype holds rounds exactly as ldexp does, and costs one
    numpy call (this runs on every block of a stream); ldexp where the factor itself is out of range."""
    a = np.asarray(a)
    if a.dtype.kind != "f":
        a = a.astype(np.float64)
    if k == 0:
        return a
    if not float(power).is_integer():
        return (a * np.exp2(k * power)).astype(a.dtype, copy=False)
    e = int(k * power)
    low, high = _NORMAL_EXPONENTS.get(a.dtype, (0, 0))
    if low <= e < high:  # 2^e is a normal number of the dtype
        return a * a.dtype.type(math.ldexp(1.0, e))
    return np.ldexp(a, e).astype(a.dtype, copy=False)


def restore(y: np.ndarray, k: int, dtype: type | None = None) -> np.ndarray:
    """The output ``y`` of normalised measurements scaled back by 2^k, in ``dtype`` (default: y's);
    InputError where that leaves the range of its precision (an input too loud for the output's number
    format). It runs on every block of a stream: one multiplication where nothing can overflow."""
    y = np.asarray(y)
    dtype = np.dtype(dtype or y.dtype)
    if k == 0:
        return y.astype(dtype)  # a copy: ``y`` may be a view of a state that changes
    factor = _restore_factor(dtype, k)
    if factor is not None:
        # 2^k times a sample at the models' level cannot overflow: one call (the cast and the product);
        # NaN from a method passes through to its caller's check, as without a shift
        return np.multiply(y, factor, dtype=dtype)
    with np.errstate(over="ignore"):
        out = scale(y.astype(dtype), k)
    if not np.all(np.isfinite(out)) and np.all(np.isfinite(y)):  # NaN from a method: its caller says so
        raise InputError(
            f"the input level (2^{k} times the models' level) is beyond what a {out.dtype} output can hold; "
            "scale the magnitudes down"
        )
    return out


@functools.lru_cache(maxsize=64)
def _restore_factor(dtype: np.dtype, k: int) -> np.floating | None:
    """2^k in ``dtype`` where restore's one multiplication cannot overflow (k up to _OVERFLOW_SHIFT, a
    float32 or float64 output), else None (looked up once per shift: restore runs on every block)."""
    if k <= _OVERFLOW_SHIFT and dtype in _NORMAL_EXPONENTS:
        return dtype.type(math.ldexp(1.0, k))
    return None


def level_shift(blocks: np.ndarray | Iterable[np.ndarray], power: float = 1.0) -> int:
    """The offline shift k of measurements given whole [F, K] or as blocks of frames (a first pass over a
    long input): from the largest frame level over all of them."""
    if isinstance(blocks, np.ndarray):
        blocks = [blocks]
    return shift(max((float(frame_levels(b, power).max(initial=0.0)) for b in blocks), default=0.0))


def normalised(segments):
    """An offline runner segments(frames, cfg, n_iter, seed, length, init=None) (engine.runners) that runs
    on measurements scaled to the reference level and scales its output back: segments(frames, cfg,
    n_iter, seed, length, k, init=None) with k the whole signal's shift (``level_shift``), so that each
    block of frames is scaled as it is read and each block of output as it is made."""

    def normalised_segments(frames, cfg, n_iter, seed, length, k, init=None):
        if k == 0:  # the start phases are the same at every level
            yield from segments(frames, cfg, n_iter, seed, length, init)
            return
        from phasefold.engine.blocks import MappedFrames

        scaled = MappedFrames(frames, lambda m: scale(m, -k, cfg.power))
        for y in segments(scaled, cfg, n_iter, seed, length, init):
            yield restore(np.asarray(y), k)

    return normalised_segments


#: the relative margin of RunningLevel.ceiling: far above the rounding of a sum of squares over any bins
#: in any order (about K x 1.1e-16 for K bins), far below a level step (a factor 2^0.5)
_CEILING_MARGIN = 1e-9


class RunningLevel:
    """The stream's causal level: the running maximum of frame levels, and its shift k (only grows).

    For a compiled caller that measures frames itself (engine.compiled.window): ``ceiling``, a sum of
    squared d = 1 float64 amplitudes of a frame, summed in any order, at or below which ``update`` would
    leave everything as it is (-1 where the fast path does not apply: then every block goes to ``update``),
    and ``inverse``, 2^-k as a float64 (0 where that is not a normal number: ``update`` and ``scale``).
    ``reference``: the level k brings the frames to (``shift``)."""

    def __init__(self, power: float = 1.0, reference: float = REFERENCE_LEVEL) -> None:
        self.power = power
        self.reference = reference
        self.level = 0.0
        self.k = 0
        self._top = 0.0  # the largest sum of squared amplitudes of a frame so far (the fast path's level)
        self.inverse = 1.0
        self._set_ceiling()

    def update(self, mags: np.ndarray) -> int:
        """Take a block of frames [b, K]; the shift k after them.

        This runs on every block of a stream, so the common case costs one numpy call: the frames' sums of
        squared amplitudes, which scale exactly with the signal where they are plain normal numbers, and
        nothing more when no frame is louder than one seen before. frame_levels near the ends of float64."""
        mags = np.asarray(mags)
        if self.power in (1.0, 2.0) and mags.ndim == 2 and mags.dtype == np.float64 and mags.shape[1]:
            sums = np.einsum("ij,ij->i", mags, mags) if self.power == 1.0 else np.add.reduce(mags, axis=1)
            top = float(sums.max(initial=0.0))
            if top <= self._top:
                return self.k
            if 1e-280 < top < 1e280:
                self._top = top
                k = self._grow(math.sqrt(top / mags.shape[1]))
                self._set_ceiling()
                return k
        return self._grow(float(frame_levels(mags, self.power).max(initial=0.0)))

    def _grow(self, level: float) -> int:
        if level > self.level:
            self.level = level
            self.k = shift(level, self.reference)
            low, high = _NORMAL_EXPONENTS[np.dtype(np.float64)]
            self.inverse = math.ldexp(1.0, -self.k) if low <= -self.k < high else 0.0
            self._set_ceiling()
        return self.k

    def _set_ceiling(self) -> None:
        usable = self.power == 1.0 and self.inverse != 0.0
        self.ceiling = self._top * (1.0 - _CEILING_MARGIN) if usable else -1.0

"""Audio and measurements in blocks: what a reconstruction of any length holds is a few blocks, not the
signal (docs/architecture.md, "Memory").

- ``AudioBlocks``: an audio file read block by block (soundfile) as float64 [n, channels] at a target rate
  (soxr's streaming resampler), mixed down to one channel or not; every iteration reads the file again
  (a first pass, then a second one). Its values are engine.inputs.load_audio's, sample for sample.
- ``Framer``: the measurements r = |A x|^d of an offline signal given block by block (the front padding,
  then the back padding when it ends), frame for frame what engine.stft.magnitude gives for the whole.
- ``Frames``: measurements a reconstruction reads by ranges of frames, in order: ``ArrayFrames`` over an
  array (a .npz file's own), ``StreamedFrames`` over blocks as they come (only the frames from the
  earliest one still asked for are held), ``MappedFrames`` with an elementwise map (the level's scale).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Protocol

import numpy as np
import soundfile as sf
import soxr
from phasefold.engine.errors import InputError
from phasefold.engine.limits import check_audio_header
from phasefold.engine.stft import MAGNITUDE_BLOCK_FRAMES, SAMPLE_RATE, StftConfig, analyze, padded_samples

#: what soundfile raises for a file it cannot read as audio
_UNREADABLE = (sf.LibsndfileError, RuntimeError, TypeError, ValueError)


def _unreadable(path: str | Path, exc: Exception) -> InputError:
    """The one-line error for a file soundfile cannot read as audio, with its reason."""
    reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return InputError(f"{path}: not a readable audio file (wav, flac, ogg, mp3): {reason}")


def audio_info(path: str | Path) -> sf._SoundFileInfo:
    """The header of an audio file (soundfile's info), checked against the limits (engine.limits) before a
    sample is read; InputError for a missing, empty or unreadable file."""
    path = Path(path)
    if not path.exists():
        raise InputError(f"{path}: no such file")
    if path.is_dir():
        raise InputError(f"{path}: is a folder, not an audio file")
    if path.stat().st_size == 0:
        raise InputError(f"{path}: the file is empty")
    try:
        info = sf.info(str(path))
    except _UNREADABLE as exc:
        raise _unreadable(path, exc) from None
    check_audio_header(path, info)
    return info


#: samples read from a file at a time (per channel, at the file's rate)
READ_BLOCK = 1 << 16


class AudioBlocks:
    """An audio file as blocks of float64 samples [n, channels] at ``sample_rate`` (None: the file's own),
    ``mixdown``: the mean of the channels (one channel, as load_audio). ``notes`` says what is converted;
    ``rate``, ``channels``, ``frames`` and ``subtype`` are the file's own (its header)."""

    def __init__(
        self,
        path: str | Path,
        sample_rate: int | None = SAMPLE_RATE,
        mixdown: bool = True,
        block: int = READ_BLOCK,
    ) -> None:
        path = Path(path)
        info = audio_info(path)
        self.path, self.mixdown, self.block = path, mixdown, block
        self.rate, self.channels, self.frames, self.subtype = (
            int(info.samplerate),
            int(info.channels),
            int(info.frames),
            info.subtype,
        )
        self.sample_rate = self.rate if sample_rate is None else int(sample_rate)
        self.notes: list[str] = []
        if mixdown and self.channels > 1:
            self.notes.append(f"downmixed {self.channels} channels to mono")
        if self.sample_rate != self.rate:
            self.notes.append(f"resampled {self.rate} Hz -> {self.sample_rate} Hz")

    @property
    def out_channels(self) -> int:
        """Channels of the blocks: 1 mixed down, else the file's."""
        return 1 if self.mixdown else self.channels

    def __iter__(self) -> Iterator[np.ndarray]:
        resampler = None
        if self.sample_rate != self.rate:
            resampler = soxr.ResampleStream(
                self.rate, self.sample_rate, self.out_channels, dtype="float64", quality="HQ"
            )
        n_read = 0
        try:
            with sf.SoundFile(str(self.path)) as f:
                for data in f.blocks(self.block, dtype="float64", always_2d=True):
                    n_read += data.shape[0]
                    if not np.all(np.isfinite(data)):
                        raise InputError(f"{self.path}: the audio holds NaN or infinite samples")
                    x = data.mean(axis=1, keepdims=True) if self.mixdown else data
                    if resampler is not None:
                        x = resampler.resample_chunk(x, last=False)
                    if x.shape[0]:
                        yield x
        except _UNREADABLE as exc:
            raise _unreadable(self.path, exc) from None
        if n_read == 0:
            raise InputError(f"{self.path}: the audio file holds no samples")
        if resampler is not None:
            tail = resampler.resample_chunk(np.zeros((0, self.out_channels)), last=True)
            if tail.shape[0]:
                yield tail


class Framer:
    """The measurements |A x|^d [b, K] (float64) of an offline signal pushed block by block: each push
    returns the frames it completes, ``finish`` the rest (the back padding); ``length`` counts the samples.

    Frame for frame they are engine.stft.magnitude's of the whole signal (the same spans analysed).
    ``phase``: each frame's phase (radians, float64) in place of its measurements. Centred frames padded
    with a ``pad_mode`` other than zeros wait for the P + 1 first samples that make their front padding,
    and keep the P + 1 last samples that make the back padding."""

    def __init__(self, cfg: StftConfig, phase: bool = False) -> None:
        self.cfg = cfg
        self.phase = phase
        self.length = 0
        self.emitted = 0
        self._zeros = cfg.pad_mode == "constant" or cfg.pad == 0
        # padded samples from frame ``emitted`` on (a padding made of the signal: the signal until it is)
        self._buf = np.zeros(cfg.pad if self._zeros else 0)
        self._started = self._zeros
        self._last = np.zeros(0)  # the last P + 1 samples of the signal (a padding made of the signal)

    def push(self, x: np.ndarray) -> np.ndarray:
        x = np.asarray(x, dtype=np.float64).reshape(-1)
        self.length += x.size
        self._buf = np.concatenate([self._buf, x])
        if not self._zeros:
            self._last = np.concatenate([self._last, x])[-(self.cfg.pad + 1) :]
            if not self._started and self.length > self.cfg.pad:
                self._buf = padded_samples(self._buf, -self.cfg.pad, self._buf.size, self.cfg)
                self._started = True
            if not self._started:
                return np.empty((0, self.cfg.n_bins))
        n_fft, hop = self.cfg.n_fft, self.cfg.hop
        ready = (self._buf.size - n_fft) // hop + 1 if self._buf.size >= n_fft else 0
        return self._frames(ready)

    def finish(self) -> np.ndarray:
        """The frames that remain once the signal has ended (its back padding: zeros, or ``pad_mode``)."""
        cfg = self.cfg
        ready = cfg.n_frames(self.length) - self.emitted
        need = cfg.span(ready) if ready > 0 else 0
        if not self._started:  # a signal of P samples or fewer: padded whole, as engine.stft pads it
            self._buf = padded_samples(self._buf, -cfg.pad, need - cfg.pad, cfg)
        elif self._buf.size < need:
            last = self._last
            back = np.zeros(need - self._buf.size)
            if not self._zeros:
                back = padded_samples(last, last.size, last.size + back.size, cfg)
            self._buf = np.concatenate([self._buf, back])
        return self._frames(max(0, ready))

    def _frames(self, n: int) -> np.ndarray:
        cfg = self.cfg
        out = np.empty((n, cfg.n_bins))
        for first in range(0, n, MAGNITUDE_BLOCK_FRAMES):
            last = min(n, first + MAGNITUDE_BLOCK_FRAMES)
            span = self._buf[first * cfg.hop : first * cfg.hop + cfg.span(last - first)]
            spec = analyze(span, cfg)
            out[first:last] = np.angle(spec) if self.phase else np.abs(spec) ** cfg.power
        self._buf = self._buf[n * cfg.hop :]
        self.emitted += n
        return out


class Frames(Protocol):
    """Measurements [F, K] read by ranges of frames whose starts never decrease."""

    n_frames: int

    def get(self, start: int, stop: int) -> np.ndarray: ...


class ArrayFrames:
    """Frames of an array held whole (a .npz file's own)."""

    def __init__(self, mag: np.ndarray) -> None:
        self.mag = mag
        self.n_frames = int(mag.shape[0])

    def get(self, start: int, stop: int) -> np.ndarray:
        return self.mag[start:stop]


class StreamedFrames:
    """Frames taken from blocks of frames as they come: the frames before the last ``get``'s start are let
    go, so what is held is the span of one ``get`` and one block. ``n_frames``: the number the blocks hold
    (known beforehand: a first pass)."""

    def __init__(self, blocks: Iterable[np.ndarray], n_frames: int) -> None:
        self._blocks = iter(blocks)
        self.n_frames = n_frames
        self._held: list[np.ndarray] = []
        self._first = 0  # the frame index of self._held's first row
        self._count = 0  # frames held

    def get(self, start: int, stop: int) -> np.ndarray:
        if start < self._first:
            raise ValueError(f"frame {start} was let go (frames are read in order)")
        stop = min(stop, self.n_frames)
        while self._first + self._count < stop:
            block = next(self._blocks, None)
            if block is None:
                raise InputError(f"the input ended at frame {self._first + self._count}, before {stop}")
            self._held.append(block)
            self._count += block.shape[0]
        held = self._held[0] if len(self._held) == 1 else np.concatenate(self._held)
        held = held[start - self._first :]
        self._held, self._first, self._count = [held], start, held.shape[0]
        return held[: stop - start]


class MappedFrames:
    """Frames of ``inner`` with ``fn`` applied to each range read (an elementwise map)."""

    def __init__(self, inner: Frames, fn: Callable[[np.ndarray], np.ndarray]) -> None:
        self.inner, self.fn = inner, fn
        self.n_frames = inner.n_frames

    def get(self, start: int, stop: int) -> np.ndarray:
        return self.fn(self.inner.get(start, stop))

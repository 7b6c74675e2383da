"""A reconstruction from an input file to a WAV file, in blocks (`phasefold reconstruct`): its memory does
not grow with the input's length (docs/architecture.md, "Memory").

Audio is read block by block (engine.blocks.AudioBlocks: at its own rate or resampled as it streams, every
channel or mixed down), measured frame by frame (engine.blocks.Framer) and the output written as it is made
(engine.outputs.open_wav), at the measurements' rate. Each channel is its own spectrogram and its own
reconstruction; one reading of the file feeds them all (``Measured.passes``) and their outputs are written
interleaved as they are made (``_interleaved``): the channels advance in step, so what is held grows with
the channel count, not with the length.

Offline, a first pass over the file finds its length and each channel's level shift (engine.level.shift of
the largest frame level of the whole channel), a second one feeds the method's segments
(engine.runners.span_blocks: segments of OFFLINE_BLOCK_FRAMES frames, each warm-started from the one
before). Streamed (``--online``), one pass feeds each channel's stream (its level is causal). The spectral
convergence is summed as the output is made (engine.evaluation.SpectralConvergence, one per channel).

A given initial phase (a .npz file's ``init_phase``, or the phase of a reference recording under
``--init-phase-from``: engine.inputs.reference_phases, read block by block) is held whole, float32 [F, K]
per channel, and sliced per segment.

What stays whole: a .npz file's own array (its magnitudes, and its reference), the signal under ``--snr``
(the noise is scaled to the whole signal's power), and the methods with no segmented form (gradient
descent; zero iterations).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import soxr
from phasefold.engine.blocks import ArrayFrames, AudioBlocks, Framer, StreamedFrames, audio_info
from phasefold.engine.errors import InputError
from phasefold.engine.evaluation import SpectralConvergence, Stopwatch, joint_db
from phasefold.engine.inputs import (
    is_magnitude_file,
    load_measurements,
    reference_phases,
    validate_channels,
    validate_magnitudes,
)
from phasefold.engine.outputs import open_wav
from phasefold.engine.runners import Method
from phasefold.engine.stft import StftConfig, signal_slice


@dataclass
class Measured:
    """The measurements of an input file of ``channels`` channels as blocks of frames [b, K] per channel
    (``passes``: one pass over the file per call); ``length`` (samples per channel) and ``n_frames`` are
    known for an array, for audio once a pass has ended."""

    path: Path
    cfg: StftConfig
    notes: list[str]
    mag: np.ndarray | None = None  # the whole array, where the input holds one: [F, K] or [C, F, K]
    length: int | None = None
    n_frames: int | None = None
    _audio: AudioBlocks | None = field(default=None, repr=False)
    init: np.ndarray | None = None  # a .npz file's phase to start from, radians of the magnitudes' shape
    init_from: Path | None = None  # a reference recording whose phase to start from (--init-phase-from)
    channels: int = 1

    def channel(self, c: int) -> np.ndarray:
        """Channel ``c`` of an array input, [F, K]."""
        return self.mag if self.mag.ndim == 2 else self.mag[c]

    def start_phases(self) -> list[np.ndarray | None]:
        """The phase to start each channel from [F, K], once ``n_frames`` is known (after a pass): the .npz
        file's own or the reference recording's (InputError where its frames differ); None: the seeded
        random one."""
        if self.init_from is not None:
            phases = reference_phases(self.init_from, self.cfg, self.n_frames, self.channels)
        else:
            phases = self.init
        if phases is None:
            return [None] * self.channels
        return [phases] if phases.ndim == 2 else list(phases)

    def passes(self) -> list[Iterator[np.ndarray]]:
        """One pass over the input: for each channel, its blocks of frames, in order. Audio is read once for
        all of them (``_Reading``): read them in step, as what one channel has not read yet is held."""
        if self.mag is not None:
            return [iter([self.channel(c)]) for c in range(self.channels)]
        reading = _Reading(self)
        return [reading.frames(c) for c in range(self.channels)]


class _Reading:
    """One reading of an audio input: each block read is measured channel by channel (engine.blocks.Framer)
    into a queue per channel, which ``frames(c)`` empties; a block is read when a channel's queue is empty.
    At the end the signal's length and frames are set on the Measured; InputError where every channel is
    silent."""

    def __init__(self, measured: Measured) -> None:
        self.measured = measured
        self.source = iter(measured._audio)
        self.framers = [Framer(measured.cfg) for _ in range(measured.channels)]
        self.queues: list[deque] = [deque() for _ in range(measured.channels)]
        self.audible = self.ended = False

    def _read(self) -> None:
        m = self.measured
        x = next(self.source, None)
        if x is None:
            self.ended = True
            if not self.audible:
                raise InputError(f"{m.path}: the audio is silent; there is no magnitude to reconstruct")
            blocks = [framer.finish() for framer in self.framers]
            m.length, m.n_frames = self.framers[0].length, self.framers[0].emitted
        else:
            self.audible = self.audible or bool(np.any(x))
            blocks = [framer.push(x[:, c]) for c, framer in enumerate(self.framers)]
        for queue, frames in zip(self.queues, blocks, strict=True):
            if frames.shape[0]:
                queue.append(_checked(frames, m.cfg))

    def frames(self, c: int) -> Iterator[np.ndarray]:
        queue = self.queues[c]
        while True:
            while not queue and not self.ended:
                self._read()
            if not queue:
                return
            yield queue.popleft()


def _checked(frames: np.ndarray, cfg: StftConfig) -> np.ndarray:
    """Exact measurements as every method takes them (float32: engine.inputs.validate_magnitudes)."""
    return validate_magnitudes(frames.astype(np.float32), cfg)


def open_measurements(
    path: str | Path,
    hop: int | None,
    snr_db: float | None,
    seed: int,
    init_from: str | Path | None = None,
    n_fft: int | None = None,
    sample_rate: int | None = None,
    mono: bool = False,
    settings: dict | None = None,
) -> Measured:
    """The measurements of an input file, as engine.inputs.load_measurements reads them: audio in blocks,
    a .npz file's array and audio under ``snr_db`` whole. Audio is analysed at ``sample_rate`` (None: its
    own) with ``n_fft`` and ``hop`` (None: engine.analysis's defaults for the rate) and ``settings`` (the
    STFT's other keywords: engine.analysis.analysis_config), every channel or mixed down (``mono``); a .npz
    file has its own settings (those given must agree) and channels. ``init_from``: a recording whose phase
    the offline methods start from (``Measured.start_phases``)."""
    from phasefold.engine.analysis import analysis_config

    path = Path(path)
    init_from = None if init_from is None else Path(init_from)
    if init_from is not None:
        audio_info(init_from)  # a missing or unreadable recording is refused before any work
    if is_magnitude_file(path) or snr_db is not None:
        mag, cfg, length, _, notes, init = load_measurements(
            path, hop, snr_db, seed, n_fft, sample_rate, mono, settings
        )
        mag = validate_channels(mag, cfg)  # a .npz file's are already; modified ones become float32
        if init is not None and init_from is not None:
            raise InputError(f"{path} holds an 'init_phase' already; leave out --init-phase-from {init_from}")
        channels = 1 if mag.ndim == 2 else mag.shape[0]
        if mono and channels > 1:
            raise InputError(f"{path}: --mono mixes audio down; a .npz file's {channels} channels are kept")
        return Measured(
            path, cfg, notes, mag, length, mag.shape[-2], init=init, init_from=init_from, channels=channels
        )
    audio = AudioBlocks(path, sample_rate, mixdown=mono)
    cfg = analysis_config(audio.sample_rate, n_fft, hop, settings)
    return Measured(
        path, cfg, list(audio.notes), _audio=audio, init_from=init_from, channels=audio.out_channels
    )


@dataclass
class FileRun:
    """What a run made: ``length`` samples per channel at the measurements' rate, the output's duration and
    rate, its channels, its spectral convergence (all channels together) and each channel's, the wall time
    (reading, reconstruction and writing) and notes (resampled, clipped)."""

    length: int
    seconds: float
    sc_db: float
    wall: float
    notes: list[str]
    sample_rate: int
    channels: int = 1
    channel_sc_db: list[float] = field(default_factory=list)


def reconstruct_file(
    measured: Measured,
    output: str | Path,
    method,
    n_iter: int,
    seed: int,
    subtype: str,
    sample_rate: int | None = None,
) -> FileRun:
    """Rebuild ``measured`` with ``method`` into a WAV file at ``output`` (at the measurements' rate, or
    resampled to ``sample_rate``; ``subtype``; as many channels), written as it is made. ``method``: an
    offline runner (engine.runners.Method, through its ``segments``) or a streamed one
    (engine.streaming.offline.StreamedMethod: one pass through a fresh stream per channel)."""
    cfg, channels = measured.cfg, measured.channels
    rate = cfg.sample_rate if sample_rate is None else int(sample_rate)
    meters = [SpectralConvergence(cfg) for _ in range(channels)]
    resampler, notes = None, []
    if rate != cfg.sample_rate:
        resampler = soxr.ResampleStream(cfg.sample_rate, rate, channels, dtype="float64", quality="HQ")
        notes.append(f"resampled {cfg.sample_rate} Hz -> {rate} Hz")
    with Stopwatch() as watch, open_wav(output, rate, subtype, channels) as wav:
        made = 0
        if isinstance(method, Method):
            blocks = _offline(measured, method, n_iter, seed, meters)
        else:
            blocks = _streamed(measured, method, seed, meters)
        for y in blocks:  # [n, C]
            if not np.all(np.isfinite(y)):
                raise InputError(f"the method returned NaN or infinite samples (after sample {made})")
            made += y.shape[0]
            for c, meter in enumerate(meters):
                meter.made(y[:, c])
            wav.write(y if resampler is None else resampler.resample_chunk(y, last=False))
        if made != measured.length:
            raise InputError(f"the method returned {made} samples; expected {measured.length}")
        if resampler is not None:
            wav.write(resampler.resample_chunk(np.zeros((0, channels)), last=True))
        sc = joint_db(meters)
    each = [_channel_db(m) for m in meters] if channels > 1 else [sc]
    return FileRun(made, wav.written / rate, sc, watch.wall, notes + wav.notes(), rate, channels, each)


def _channel_db(meter: SpectralConvergence) -> float:
    """One closed meter's SC in dB; NaN for a silent channel (no measurements to compare with)."""
    if meter.norm2 == 0.0:
        return float("nan")
    return float(10.0 * np.log10(max(meter.error2, 1e-300) / meter.norm2))


def _in_step(iterators: Sequence[Iterator[np.ndarray]]) -> Iterator[tuple[int, np.ndarray]]:
    """(c, item) from each iterator in turn until all have ended: the channels read in step."""
    live = list(enumerate(iterators))
    while live:
        for entry in list(live):
            item = next(entry[1], None)
            if item is None:
                live.remove(entry)
            else:
                yield entry[0], item


def _interleaved(outputs: Sequence[Iterator[np.ndarray]]) -> Iterator[np.ndarray]:
    """Blocks [n, C] of the channels' outputs (each an iterator of blocks of samples, of any sizes): the
    samples every channel has made, as soon as they all have; only the channels behind are read on. A
    channel that ends short ends it (reconstruct_file counts the samples and says so)."""
    held = [np.zeros(0) for _ in outputs]
    live = [True] * len(outputs)
    while True:
        least = min(h.size for h in held)
        behind = [c for c, h in enumerate(held) if h.size == least and live[c]]
        if not behind:
            return
        for c in behind:
            y = next(outputs[c], None)
            if y is None:
                live[c] = False
            else:
                held[c] = np.concatenate([held[c], np.asarray(y, dtype=np.float64).reshape(-1)])
        n = min(h.size for h in held)
        if n:
            yield np.stack([h[:n] for h in held], axis=1)
            held = [h[n:] for h in held]


def _offline(measured: Measured, method: Method, n_iter: int, seed: int, meters: list[SpectralConvergence]):
    """The offline output in blocks [n, C]: each channel's level shift from a first pass, its segments from
    a second."""
    from phasefold.engine.level import frame_levels, shift

    cfg = measured.cfg
    peaks = [0.0] * measured.channels  # audio: the first pass; it sets length and n_frames
    for c, block in _in_step(measured.passes()):
        peaks[c] = max(peaks[c], float(frame_levels(block, cfg.power).max(initial=0.0)))
    inits = measured.start_phases()
    outputs = []
    for c, blocks in enumerate(measured.passes()):
        if measured.mag is not None:
            frames = ArrayFrames(measured.channel(c))
            meters[c].measured(frames.mag)
        else:
            frames = StreamedFrames(_metered(blocks, meters[c]), measured.n_frames)
        outputs.append(
            _segments(method, frames, cfg, n_iter, seed, measured.length, shift(peaks[c]), inits[c])
        )
    return _interleaved(outputs)


def _metered(blocks: Iterator[np.ndarray], meter: SpectralConvergence) -> Iterator[np.ndarray]:
    for frames in blocks:
        meter.measured(frames)
        yield frames


def _segments(method: Method, frames, cfg: StftConfig, n_iter: int, seed: int, length: int, k: int, init):
    """One channel's output in blocks: the method's segments, or its whole run where it has none."""
    if method.segments is None:  # a runner with no segmented form: the whole signal at once
        yield method.run(frames.get(0, frames.n_frames), cfg, n_iter, seed, length, init)
        return
    yield from method.segments(frames, cfg, n_iter, seed, length, k, init)


def _streamed(
    measured: Measured, method, seed: int, meters: list[SpectralConvergence]
) -> Iterator[np.ndarray]:
    """The output in blocks [n, C]: each channel through a fresh stream, in step."""
    return _interleaved(
        [
            _stream_channel(measured, method.open(measured.cfg, seed), blocks, meter)
            for blocks, meter in zip(measured.passes(), meters, strict=True)
        ]
    )


def _stream_channel(measured: Measured, stream, blocks: Iterator[np.ndarray], meter: SpectralConvergence):
    """One channel's output through its stream: cut to the offline signal (Stream.output_offset on), block
    by block; the length is known once the input has ended."""
    skip, emitted = stream.output_offset, 0

    def cut(out: np.ndarray) -> np.ndarray:
        nonlocal skip, emitted
        drop = min(skip, out.size)
        skip -= drop
        out = out[drop:]
        if measured.length is not None:
            out = out[: max(0, measured.length - emitted)]
        emitted += out.size
        return out.astype(np.float64)

    for frames in blocks:
        out = cut(stream.push(frames))
        meter.measured(frames)
        yield out
    yield cut(stream.flush(measured.length))
    covered = signal_slice(measured.length, measured.cfg)
    if covered.stop - covered.start <= emitted < measured.length:  # a tail no frame covers: zeros, as offline
        yield np.zeros(measured.length - emitted)

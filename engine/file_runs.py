"""A reconstruction from an input file to a WAV file, in blocks (`phasefold reconstruct`): its memory does
not grow with the input's length (docs/architecture.md, "Memory").

Audio is read block by block (engine.blocks.AudioBlocks: downmixed, resampled as it streams), measured
frame by frame (engine.blocks.Framer) and the output written as it is made (engine.outputs.open_wav).
Offline, a first pass over the file finds its length and the level's shift (engine.level.level_shift: the
largest frame level of the whole), a second one feeds the method's segments (engine.runners.span_blocks:
segments of OFFLINE_BLOCK_FRAMES frames, each warm-started from the one before). Streamed (``--online``),
one pass feeds the stream (its level is causal). The spectral convergence is summed as the output is made
(engine.evaluation.SpectralConvergence).

A given initial phase (a .npz file's ``init_phase``, or the phase of a reference recording under
``--init-phase-from``: engine.inputs.reference_phases, read block by block) is held whole, float32 [F, K],
and sliced per segment.

What stays whole: a .npz file's own array (its magnitudes, and its reference), the signal under ``--snr``
(the noise is scaled to the whole signal's power), and the methods with no segmented form (gradient
descent; zero iterations).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import soxr
from phasefold.engine.blocks import ArrayFrames, AudioBlocks, Framer, StreamedFrames, audio_info
from phasefold.engine.errors import InputError
from phasefold.engine.evaluation import SpectralConvergence, Stopwatch
from phasefold.engine.inputs import (
    audio_config,
    is_magnitude_file,
    load_measurements,
    reference_phases,
    validate_magnitudes,
)
from phasefold.engine.outputs import open_wav
from phasefold.engine.runners import Method
from phasefold.engine.stft import SAMPLE_RATE, StftConfig, signal_slice


@dataclass
class Measured:
    """The measurements of an input file as blocks of frames [b, K] (``blocks``: one pass over the file per
    call); ``length`` (samples) and ``n_frames`` are known for an array, for audio once a pass has ended."""

    path: Path
    cfg: StftConfig
    notes: list[str]
    mag: np.ndarray | None = None  # the whole array, where the input holds one
    length: int | None = None
    n_frames: int | None = None
    _audio: AudioBlocks | None = field(default=None, repr=False)
    init: np.ndarray | None = None  # a .npz file's phase to start from, radians [F, K]
    init_from: Path | None = None  # a reference recording whose phase to start from (--init-phase-from)

    def start_phases(self) -> np.ndarray | None:
        """The phase to start from [F, K], once ``n_frames`` is known (after a pass): the .npz file's own or
        the reference recording's (InputError where its frames differ); None: the seeded random one."""
        if self.init_from is not None:
            return reference_phases(self.init_from, self.cfg, self.n_frames)
        return self.init

    def blocks(self) -> Iterator[np.ndarray]:
        if self.mag is not None:
            yield self.mag
            return
        framer, audible = Framer(self.cfg), False
        for x in self._audio:
            audible = audible or bool(np.any(x))
            frames = framer.push(x)
            if frames.shape[0]:
                yield _checked(frames, self.cfg)
        frames = framer.finish()
        if not audible:
            raise InputError(f"{self.path}: the audio is silent; there is no magnitude to reconstruct")
        self.length, self.n_frames = framer.length, framer.emitted
        if frames.shape[0]:
            yield _checked(frames, self.cfg)


def _checked(frames: np.ndarray, cfg: StftConfig) -> np.ndarray:
    """Exact measurements as every method takes them (float32: engine.inputs.validate_magnitudes)."""
    return validate_magnitudes(frames.astype(np.float32), cfg)


def open_measurements(
    path: str | Path,
    hop: int | None,
    snr_db: float | None,
    seed: int,
    init_from: str | Path | None = None,
    settings: dict | None = None,
) -> Measured:
    """The measurements of an input file, as engine.inputs.load_measurements reads them: audio in blocks,
    a .npz file's array and audio under ``snr_db`` whole. ``init_from``: a recording whose phase the
    offline methods start from (``Measured.start_phases``); ``settings``: the STFT's other keywords for
    audio input (engine.inputs.audio_config)."""
    path = Path(path)
    init_from = None if init_from is None else Path(init_from)
    if init_from is not None:
        audio_info(init_from)  # a missing or unreadable recording is refused before any work
    if is_magnitude_file(path) or snr_db is not None:
        mag, cfg, length, _, notes, init = load_measurements(path, hop, snr_db, seed, settings)
        mag = validate_magnitudes(mag, cfg)  # a .npz file's are already; modified ones become float32
        if init is not None and init_from is not None:
            raise InputError(f"{path} holds an 'init_phase' already; leave out --init-phase-from {init_from}")
        return Measured(path, cfg, notes, mag, length, mag.shape[0], init=init, init_from=init_from)
    cfg = audio_config(hop, settings)
    audio = AudioBlocks(path)
    return Measured(path, cfg, list(audio.notes), _audio=audio, init_from=init_from)


@dataclass
class FileRun:
    """What a run made: ``length`` samples at the measurements' rate, the output's duration, its spectral
    convergence, the wall time (reading, reconstruction and writing) and notes (resampled, clipped)."""

    length: int
    seconds: float
    sc_db: float
    wall: float
    notes: list[str]


def reconstruct_file(
    measured: Measured,
    output: str | Path,
    method,
    n_iter: int,
    seed: int,
    subtype: str,
) -> FileRun:
    """Rebuild ``measured`` with ``method`` into a WAV file at ``output`` (22050 Hz, ``subtype``), written
    as it is made. ``method``: an offline runner (engine.runners.Method, through its ``segments``) or a
    streamed one (engine.streaming.offline.StreamedMethod: one pass through a fresh stream)."""
    cfg = measured.cfg
    meter = SpectralConvergence(cfg)
    resampler, notes = None, []
    if cfg.sample_rate != SAMPLE_RATE:
        resampler = soxr.ResampleStream(cfg.sample_rate, SAMPLE_RATE, 1, dtype="float64", quality="HQ")
        notes.append(f"resampled {cfg.sample_rate} Hz -> {SAMPLE_RATE} Hz")
    with Stopwatch() as watch, open_wav(output, SAMPLE_RATE, subtype) as wav:
        made = 0
        if isinstance(method, Method):
            blocks = _offline(measured, method, n_iter, seed, meter)
        else:
            blocks = _metered(_streamed(measured, method, seed), meter)
        for y in blocks:
            if not np.all(np.isfinite(y)):
                raise InputError(f"the method returned NaN or infinite samples (after sample {made})")
            made += y.size
            meter.made(y)
            wav.write(y if resampler is None else resampler.resample_chunk(y, last=False))
        if made != measured.length:
            raise InputError(f"the method returned {made} samples; expected {measured.length}")
        if resampler is not None:
            wav.write(resampler.resample_chunk(np.zeros(0), last=True))
        sc = meter.db()
    return FileRun(made, wav.written / SAMPLE_RATE, sc, watch.wall, notes + wav.notes())


def _metered(blocks: Iterator[tuple[np.ndarray, np.ndarray | None]], meter: SpectralConvergence):
    for y, frames in blocks:
        if frames is not None:
            meter.measured(frames)
        yield y


def _offline(measured: Measured, method: Method, n_iter: int, seed: int, meter: SpectralConvergence):
    """The offline output in blocks: the level's shift from a first pass, the segments from a second."""
    from phasefold.engine.level import level_shift

    cfg = measured.cfg
    k = level_shift(measured.blocks(), cfg.power)  # audio: the first pass; it sets length and n_frames

    def metered_frames():
        for frames in measured.blocks():
            meter.measured(frames)
            yield frames

    frames = (
        ArrayFrames(measured.mag)
        if measured.mag is not None
        else StreamedFrames(metered_frames(), measured.n_frames)
    )
    if measured.mag is not None:
        meter.measured(measured.mag)
    init = measured.start_phases()
    if method.segments is None:  # a runner with no segmented form: the whole signal at once
        yield method.run(frames.get(0, frames.n_frames), cfg, n_iter, seed, measured.length, init)
        return
    yield from method.segments(frames, cfg, n_iter, seed, measured.length, k, init)


def _streamed(measured: Measured, method, seed: int) -> Iterator[tuple[np.ndarray, np.ndarray | None]]:
    """(output samples, the frames pushed) through a fresh stream: the output cut to the offline signal
    (Stream.output_offset on), block by block; the length is known once the input has ended."""
    stream = method.open(measured.cfg, seed)
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

    for frames in measured.blocks():
        yield cut(stream.push(frames)), frames
    yield cut(stream.flush()), None
    covered = signal_slice(measured.length, measured.cfg)
    if covered.stop - covered.start <= emitted < measured.length:  # a tail no frame covers: zeros, as offline
        yield np.zeros(measured.length - emitted), None

"""Frame sources for the streaming engine: arrays, audio files, .npz magnitude files, mel spectrograms, the
microphone.

Every source yields blocks of measurement frames [k, K] (r = |X|^d in its StftConfig; a mel source: its
mel's frames [k, n_mels] in the mel's own log scale) in stream order,
as fast as possible or at real-time pace (a block is released when its last frame would exist in a
live signal: frame m at (m + 1) H / sample rate after the start). Audio is framed with the offline
convention (P = N - H zeros in front), so offline sample s is output sample s + P + L H.
"""

from __future__ import annotations

import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
from phasefold.engine.errors import DeviceError, InputError
from phasefold.engine.inputs import load_audio, load_magnitudes, measure, measure_note, sample_format
from phasefold.engine.mel import MelConfig, linear_mel
from phasefold.engine.stft import StftConfig, window


class Source(ABC):
    """A stream of frames with its STFT settings and, where known, the clean reference audio."""

    name: str = "source"
    reference: np.ndarray | None = None  # offline signal the frames come from (for metrics)
    length: int | None = None  # its length in samples
    sample_format: str | None = None  # the input file's (engine.inputs.sample_format); None: no file
    mel: MelConfig | None = None  # the mel of a source of mel frames (MelSource); None: measurements r
    notes: list[str]

    def __init__(self, cfg: StftConfig, realtime: bool = False) -> None:
        self.cfg = cfg
        self.realtime = realtime
        self.notes = []
        self._stop = threading.Event()

    @property
    def n_frames(self) -> int | None:
        """Frames the source will yield (None for live sources)."""
        return None

    def stop(self) -> None:
        """Ask the source to end after the current block (thread-safe)."""
        self._stop.set()

    def check(self) -> None:  # noqa: B027 (a no-op where nothing can fail before streaming)
        """Fail now where the source cannot deliver (a device that cannot be opened)."""

    @abstractmethod
    def blocks(self, block: int) -> Iterator[np.ndarray]:
        """Blocks of ``block`` frames [block, K] (the last one may be shorter)."""


class ArraySource(Source):
    """Frames already in memory: measurements [F, K] (or complex frames, whose phase the engine may use)."""

    def __init__(
        self,
        frames: np.ndarray,
        cfg: StftConfig,
        realtime: bool = False,
        reference: np.ndarray | None = None,
        name: str = "array",
    ) -> None:
        super().__init__(cfg, realtime)
        frames = np.asarray(frames)
        width = cfg.n_bins if self.mel is None else self.mel.n_mels
        if frames.ndim != 2 or frames.shape[1] != width:
            raise InputError(f"frames must be [F, {width}], not {list(frames.shape)}")
        self.frames = frames
        self.reference = reference
        self.length = None if reference is None else int(reference.size)
        self.name = name

    @property
    def n_frames(self) -> int:
        return int(self.frames.shape[0])

    def blocks(self, block: int) -> Iterator[np.ndarray]:
        self._stop.clear()
        period = self.cfg.hop / self.cfg.sample_rate
        t0 = time.perf_counter()
        for i in range(0, self.n_frames, block):
            if self._stop.is_set():
                return
            chunk = self.frames[i : i + block]
            if self.realtime:
                delay = t0 + (i + chunk.shape[0]) * period - time.perf_counter()
                if delay > 0 and self._stop.wait(delay):
                    return
            yield chunk


class AudioFileSource(ArraySource):
    """An audio file (any format engine.inputs reads): its measurements, exact or modified at ``snr_db``
    (engine.inputs.measure)."""

    def __init__(
        self,
        path: str | Path,
        cfg: StftConfig,
        realtime: bool = False,
        snr_db: float | None = None,
        seed: int = 0,
    ) -> None:
        x, notes = load_audio(path, cfg.sample_rate)
        if snr_db is not None:
            notes.append(measure_note(snr_db))
        super().__init__(measure(x, cfg, snr_db, seed), cfg, realtime, reference=x, name=Path(path).name)
        self.notes = notes
        self.sample_format = sample_format(path)


class NpzSource(ArraySource):
    """A .npz magnitude file (phasefold.engine.inputs format); its STFT settings come from the file."""

    def __init__(self, path: str | Path, realtime: bool = False) -> None:
        mf = load_magnitudes(path)
        if mf.magnitudes.ndim == 3:
            raise InputError(
                f"{path}: magnitudes of {mf.channels} channels [C, F, K]; a stream takes one channel [F, K] "
                "(phasefold reconstruct rebuilds every channel)"
            )
        super().__init__(mf.magnitudes, mf.cfg, realtime, reference=mf.reference, name=Path(path).name)
        self.length = mf.length
        self.sample_format = sample_format(path)


class MelSource(ArraySource):
    """A mel spectrogram in its configuration's own layout and log scale (engine.mel: what a TTS model or a
    vocoder's front end writes), fed frame by frame: blocks [k, n_mels] in stream order, in the mel's log
    scale (a mel stream takes them in the mel's layout: Player); ``reference``: the recording the mel was
    computed from (at the mel's rate), where there is one. The mel is checked whole first
    (engine.mel.linear_mel: its bands, log scale, NaN: one InputError line)."""

    def __init__(
        self,
        mel: np.ndarray,
        cfg: MelConfig,
        realtime: bool = False,
        reference: np.ndarray | None = None,
        name: str = "mel",
    ) -> None:
        if np.ndim(mel) != 2:
            raise InputError(f"{name} holds {np.ndim(mel)} axes; give one mel spectrogram (2 axes)")
        linear_mel(mel, cfg, name)
        self.mel = cfg
        frames = np.asarray(mel) if cfg.bands_last else np.swapaxes(mel, 0, 1)
        super().__init__(frames, cfg.stft, realtime, reference, name)
        if reference is None:
            self.length = cfg.n_samples(self.n_frames)


class MicSource(Source):
    """The microphone through sounddevice: H-sample hops from the audio callback, framed on the worker.

    The PortAudio callback only copies into a preallocated ring; ``blocks`` (on the caller's thread)
    frames the audio with P zeros in front like an offline signal. ``on_audio`` receives every new hop
    of input samples (for live metrics). Input overflows are counted in ``overflows``, non-finite
    samples (a faulty driver) are replaced by silence and counted in ``bad_samples``.
    """

    def __init__(
        self,
        cfg: StftConfig,
        device: int | str | None = None,
        max_seconds: float | None = None,
        on_audio: Callable[[np.ndarray], None] | None = None,
        ring_seconds: float = 2.0,
    ) -> None:
        super().__init__(cfg, realtime=True)
        self.name = "microphone"
        self.device = device
        self.max_seconds = max_seconds
        self.on_audio = on_audio
        self.overflows = 0
        self.bad_samples = 0  # non-finite input samples replaced by silence
        self._ring = np.zeros(
            int(ring_seconds * cfg.sample_rate) // cfg.hop * cfg.hop + cfg.hop, dtype=np.float32
        )
        self._written = 0  # samples written by the callback (monotonic)
        self._read = 0

    def _callback(self, indata, frames, time_info, status) -> None:
        if status.input_overflow:
            self.overflows += 1
        n, size = frames, self._ring.size
        if self._written - self._read + n > size:  # consumer too slow: drop this block, count it
            self.overflows += 1
            return
        start = self._written % size
        first = min(n, size - start)
        self._ring[start : start + first] = indata[:first, 0]
        self._ring[: n - first] = indata[first:n, 0]
        self._written += n

    @staticmethod
    def _sounddevice():
        try:
            import sounddevice as sd
        except (ImportError, OSError) as exc:
            raise DeviceError(f"no microphone: PortAudio is not available ({exc})") from None
        return sd

    def check(self) -> None:
        """DeviceError now where the microphone cannot be opened (no PortAudio, no input device)."""
        sd = self._sounddevice()
        try:
            sd.check_input_settings(self.device, channels=1, dtype="float32", samplerate=self.cfg.sample_rate)
        except (sd.PortAudioError, ValueError) as exc:
            raise DeviceError(f"cannot open the microphone: {exc}") from None

    def blocks(self, block: int) -> Iterator[np.ndarray]:
        sd = self._sounddevice()
        cfg, h = self.cfg, self.cfg.hop
        self._stop.clear()
        try:
            stream = sd.InputStream(
                samplerate=cfg.sample_rate,
                channels=1,
                dtype="float32",
                blocksize=h,
                device=self.device,
                callback=self._callback,
            )
        except (sd.PortAudioError, ValueError) as exc:
            raise DeviceError(f"cannot open the microphone: {exc}") from None
        buf = np.zeros(cfg.n_fft)  # frame 0 covers P zeros and the first hop, as offline
        win = window(cfg)
        pending = []
        t0 = time.perf_counter()
        with stream:
            while not self._stop.is_set():
                if self.max_seconds is not None and self._read >= self.max_seconds * cfg.sample_rate:
                    break
                if self._written - self._read < h:
                    if not stream.active:
                        raise DeviceError("the microphone stopped delivering audio (device gone?)")
                    time.sleep(h / cfg.sample_rate / 4)
                    continue
                start = self._read % self._ring.size
                hop = self._ring[start : start + h].astype(np.float64)
                self._read += h
                bad = ~np.isfinite(hop)
                if bad.any():  # a driver delivering garbage must not stop the stream: silence, counted
                    self.bad_samples += int(bad.sum())
                    hop[bad] = 0.0
                if self.on_audio is not None:
                    self.on_audio(hop)
                buf[:-h] = buf[h:]
                buf[-h:] = hop
                pending.append(np.abs(np.fft.rfft(buf * win, norm="ortho")) ** cfg.power)
                if len(pending) == block:
                    yield np.stack(pending)
                    pending = []
            if pending:
                yield np.stack(pending)
        self.notes.append(
            f"recorded {self._read / cfg.sample_rate:.1f} s in {time.perf_counter() - t0:.1f} s"
        )

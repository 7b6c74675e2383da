"""Where the streaming engine's audio goes: nowhere (null), a WAV file, or a sound card (sounddevice).

``SoundDeviceSink``: the PortAudio callback only copies from a preallocated ring buffer (single
producer, single consumer; no locks, no allocation of audio buffers, never waits) and checks its status
flags; the producer (the worker thread) waits while the ring is full. A callback that finds fewer
samples than asked once playback has started is an under-run: it plays zeros for the missing part and
counts one. A device that disappears makes ``write`` raise DeviceError; ``open_sink`` turns a missing
PortAudio library or output device into a fallback sink and says so.
"""

from __future__ import annotations

import time
from abc import ABC, abstractmethod
from pathlib import Path

import numpy as np
from phasefold.engine.errors import DeviceError, InputError


class Sink(ABC):
    """Consumes mono float32 audio at ``sample_rate``."""

    name: str = "sink"
    live: bool = False  # True where audio is played in real time

    def __init__(self, sample_rate: int) -> None:
        self.sample_rate = int(sample_rate)
        self.samples_written = 0
        self.underruns = 0
        self.closed = False

    @abstractmethod
    def write(self, samples: np.ndarray) -> None:
        """Take the next samples (may wait for room; never drops them)."""

    def close(self) -> None:
        """Finish: flush files, let a device play what it holds."""
        self.closed = True

    def describe(self) -> str:
        return self.name


class NullSink(Sink):
    """Discards audio (counts it)."""

    name = "null sink"

    def write(self, samples: np.ndarray) -> None:
        self.samples_written += int(np.asarray(samples).size)


class WavSink(Sink):
    """Writes a WAV file as the audio arrives (bounded memory), 16-bit PCM by default."""

    def __init__(self, path: str | Path, sample_rate: int, subtype: str = "PCM_16") -> None:
        import soundfile as sf

        super().__init__(sample_rate)
        self.path = Path(path)
        if not self.path.parent.is_dir():
            raise InputError(f"{self.path}: the folder {self.path.parent} does not exist")
        try:
            self._file = sf.SoundFile(
                str(self.path), "w", samplerate=self.sample_rate, channels=1, subtype=subtype
            )
        except (sf.LibsndfileError, RuntimeError, OSError) as exc:
            raise InputError(f"{self.path}: cannot write a WAV file there ({exc})") from None
        self.name = f"WAV file {self.path}"
        self.clipped = 0

    def write(self, samples: np.ndarray) -> None:
        x = np.asarray(samples, dtype=np.float32).reshape(-1)
        over = np.abs(x) > 1.0
        if over.any():
            self.clipped += int(over.sum())
            x = np.clip(x, -1.0, 1.0)
        self._file.write(x)
        self.samples_written += x.size

    def close(self) -> None:
        if not self._file.closed:
            self._file.close()
        super().close()


class SoundDeviceSink(Sink):
    """Live playback through PortAudio with a bounded FIFO between the worker and the audio callback."""

    live = True

    def __init__(
        self,
        sample_rate: int,
        device: int | str | None = None,
        buffer_seconds: float = 0.5,
        prefill_seconds: float = 0.1,
        blocksize: int = 256,
    ) -> None:
        super().__init__(sample_rate)
        import sounddevice as sd  # OSError where PortAudio is missing (open_sink handles it)

        self._sd = sd
        self._ring = np.zeros(max(int(buffer_seconds * sample_rate), 4 * blocksize), dtype=np.float32)
        self._write_pos = 0  # samples ever written into the ring (producer only)
        self._read_pos = 0  # samples ever consumed by the callback (callback only)
        self._prefill = min(int(prefill_seconds * sample_rate), self._ring.size // 2)
        self._started = False
        self._closing = False
        self._abort = False
        self.callbacks = 0
        self.status_flags = 0  # callbacks whose status reported an output under-flow / error
        try:
            self._stream = sd.OutputStream(
                samplerate=sample_rate,
                channels=1,
                dtype="float32",
                blocksize=blocksize,
                device=device,
                callback=self._callback,
            )
        except (sd.PortAudioError, ValueError) as exc:
            raise DeviceError(f"cannot open the audio output: {exc}") from None
        info = sd.query_devices(self._stream.device)
        self.name = f"audio device '{info['name']}'"

    def _callback(self, outdata, frames, time_info, status) -> None:
        if self._abort:
            raise self._sd.CallbackAbort  # PortAudio stops the stream from its own audio thread
        self.callbacks += 1
        if status:
            self.status_flags += 1
            if status.output_underflow:
                self.underruns += 1
        available = self._write_pos - self._read_pos
        n = min(frames, available)
        size = self._ring.size
        start = self._read_pos % size
        first = min(n, size - start)
        outdata[:first, 0] = self._ring[start : start + first]
        outdata[first:n, 0] = self._ring[: n - first]
        if n < frames:
            outdata[n:, 0] = 0.0
            if not self._closing:
                self.underruns += 1
        self._read_pos += n

    @property
    def buffered(self) -> int:
        """Samples waiting in the ring."""
        return self._write_pos - self._read_pos

    def _check_alive(self) -> None:
        if self._started and not self._stream.active:
            raise DeviceError("the audio device stopped (unplugged or taken by another program)")

    def write(self, samples: np.ndarray) -> None:
        x = np.asarray(samples, dtype=np.float32).reshape(-1)
        size = self._ring.size
        i = 0
        while i < x.size:
            room = size - self.buffered
            if room == 0:
                self._start()
                self._check_alive()
                time.sleep(min(0.005, size / self.sample_rate / 8))
                continue
            n = min(room, x.size - i)
            start = self._write_pos % size
            first = min(n, size - start)
            self._ring[start : start + first] = x[i : i + first]
            self._ring[: n - first] = x[i + first : i + n]
            self._write_pos += n  # publish after the copy
            i += n
            if not self._started and self.buffered >= self._prefill:
                self._start()
        self._check_alive()
        self.samples_written += x.size

    def abort(self) -> None:
        """Stop the device now, from any thread: the audio thread aborts the stream at its next callback,
        which leaves it as a dying device does (inactive; the next ``write`` raises DeviceError). No
        PortAudio call races the callback (an abort from another thread can crash in PortAudio)."""
        self._abort = True

    def pause(self) -> None:
        """Stop the device while the producer holds the stream (call it from the producer's thread):
        a paused stream counts no under-runs; what is buffered stays, and the next ``write`` restarts it."""
        if self._started:
            self._stream.stop()
            self._started = False

    def _start(self) -> None:
        if not self._started:
            try:
                self._stream.start()
            except self._sd.PortAudioError as exc:
                raise DeviceError(f"cannot start the audio output: {exc}") from None
            self._started = True

    def close(self, timeout: float | None = None) -> None:
        """Play what is buffered (up to its duration + 1 s), then stop the device."""
        self._closing = True
        try:
            if self.buffered:
                self._start()
                deadline = time.perf_counter() + (timeout or self.buffered / self.sample_rate + 1.0)
                while self.buffered > 0 and self._stream.active and time.perf_counter() < deadline:
                    time.sleep(0.005)
        finally:
            self._stream.close(ignore_errors=True)
            super().close()


def output_devices() -> list[dict]:
    """PortAudio output devices (empty where PortAudio is missing)."""
    try:
        import sounddevice as sd
    except (ImportError, OSError):
        return []
    return [dict(d, index=i) for i, d in enumerate(sd.query_devices()) if d["max_output_channels"] > 0]


def open_sink(
    spec: str, sample_rate: int, fallback: str | Path | None = None, device_buffer_s: float = 0.5
) -> tuple[Sink, list[str]]:
    """'null', a path ending in .wav, or 'default' / a device name or index for live playback.

    Where live playback is impossible (no PortAudio, no output device) the sink falls back to a WAV
    file at ``fallback`` (or the null sink) and the notes say why.
    """
    if spec == "null":
        return NullSink(sample_rate), []
    if spec.lower().endswith(".wav"):
        return WavSink(spec, sample_rate), []
    device: int | str | None = None if spec == "default" else (int(spec) if spec.isdigit() else spec)
    try:
        sink: Sink = SoundDeviceSink(sample_rate, device, buffer_seconds=device_buffer_s)
        return sink, []
    except (ImportError, OSError) as exc:
        reason = f"PortAudio is not available ({exc})"
    except DeviceError as exc:
        reason = str(exc)
    if not output_devices() and reason.startswith("cannot open"):
        reason = f"{reason} (PortAudio lists no output device: this machine has no sound card)"
    if fallback is not None:
        return WavSink(fallback, sample_rate), [f"{reason}: writing to {fallback} instead"]
    return NullSink(sample_rate), [f"{reason}: using the null sink instead"]

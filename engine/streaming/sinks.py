"""Where the streaming engine's audio goes: nowhere (null), a WAV file, or a sound card (sounddevice).

``SoundDeviceSink`` binds an ``AudioRing`` (engine.streaming.ring: the bounded FIFO and its under-run
accounting) to PortAudio: the callback only copies from the ring (which never waits nor allocates) and
counts the callbacks whose status flags PortAudio set; the producer (the worker thread) waits while the
ring is full; ``underruns`` is the ring's count of gaps. A device that disappears makes ``write`` raise
DeviceError; ``open_sink`` turns a missing PortAudio library or output device into a fallback sink and
says so.

``WavSink`` writes beside its file (engine.outputs) and renames over it on ``close``; ``discard`` (a stream
that ended on an error) leaves an existing file exactly as it was.
"""

from __future__ import annotations

import contextlib
from abc import ABC, abstractmethod
from pathlib import Path

import numpy as np
from phasefold.engine.errors import DeviceError, InputError
from phasefold.engine.outputs import atomic_output, check_output_path, write_error
from phasefold.engine.streaming.ring import AudioRing

#: output names taken as files, never as device names: stream writes WAV only
AUDIO_SUFFIXES = (".wav", ".flac", ".ogg", ".oga", ".opus", ".mp3", ".aif", ".aiff", ".au", ".caf", ".w64")


class Sink(ABC):
    """Consumes mono float32 audio at ``sample_rate``."""

    name: str = "sink"
    live: bool = False  # True where audio is played in real time

    def __init__(self, sample_rate: int) -> None:
        self.sample_rate = int(sample_rate)
        self.samples_written = 0
        self.clipped = 0  # samples clipped to [-1, 1] (files with integer samples)
        self.closed = False

    @property
    def underruns(self) -> int:
        """Gaps in the audio played so far (0 where nothing is played in real time)."""
        return 0

    @abstractmethod
    def write(self, samples: np.ndarray) -> None:
        """Take the next samples (may wait for room; never drops them)."""

    def close(self) -> None:
        """Finish: flush files, let a device play what it holds."""
        self.closed = True

    def discard(self) -> None:
        """End after an error: files are dropped (an existing file stays as it was); devices just close."""
        self.close()

    def describe(self) -> str:
        return self.name


class NullSink(Sink):
    """Discards audio (counts it)."""

    name = "null sink"

    def write(self, samples: np.ndarray) -> None:
        self.samples_written += int(np.asarray(samples).size)


class WavSink(Sink):
    """Writes a WAV file as the audio arrives (bounded memory), 16-bit PCM by default; the file appears at
    ``path`` (over any file there) only on ``close``."""

    def __init__(
        self, path: str | Path, sample_rate: int, subtype: str = "PCM_16", inputs: tuple = ()
    ) -> None:
        import soundfile as sf

        super().__init__(sample_rate)
        self.subtype = subtype
        self.path = check_output_path(path, "audio", inputs)
        self._output = atomic_output(self.path)
        part = self._output.__enter__()
        try:
            self._file = sf.SoundFile(
                str(part), "w", samplerate=self.sample_rate, channels=1, subtype=subtype, format="WAV"
            )
        except (RuntimeError, OSError) as exc:  # soundfile's LibsndfileError is a RuntimeError
            error = write_error(self.path, exc)
            self._end(error)
            raise error from None
        except BaseException as exc:  # an interruption (Ctrl-C, a signal): no file left behind
            self._end(exc)
            raise
        self.name = f"WAV file {self.path}"

    def write(self, samples: np.ndarray) -> None:
        x = np.asarray(samples, dtype=np.float32).reshape(-1)
        over = np.abs(x) > 1.0
        if self.subtype != "FLOAT" and over.any():  # a float WAV keeps them
            self.clipped += int(over.sum())
            x = np.clip(x, -1.0, 1.0)
        try:
            self._file.write(x)
        except (RuntimeError, OSError) as exc:
            self._fail(exc)
        self.samples_written += x.size

    def close(self) -> None:
        """Complete the file and rename it over ``path``."""
        if self.closed:
            return
        try:
            self._file.close()
        except (RuntimeError, OSError) as exc:
            self._fail(exc)
        self._end(None)

    def discard(self) -> None:
        """Delete what was written; ``path`` keeps what it held before."""
        if self.closed:
            return
        with contextlib.suppress(RuntimeError, OSError):
            self._file.close()
        self._end(_Discarded())

    def _fail(self, exc: Exception) -> None:
        """Drop the file and raise the one-line error (the system's reason: a full disk, a size limit)."""
        error = write_error(self.path, exc)
        with contextlib.suppress(RuntimeError, OSError):
            self._file.close()
        self._end(error)
        raise error from None

    def _end(self, error: BaseException | None) -> None:
        """Leave the atomic output: the file is renamed over ``path`` without ``error``, else deleted."""
        super().close()
        if error is None:
            self._output.__exit__(None, None, None)
        else:
            self._output.__exit__(type(error), error, None)


class _Discarded(Exception):
    """Ends a WavSink's atomic output without keeping the file."""


class SoundDeviceSink(Sink):
    """Live playback through PortAudio: an ``AudioRing`` between the worker and the audio callback."""

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
        capacity = max(int(buffer_seconds * sample_rate), 4 * blocksize)
        prefill = min(int(prefill_seconds * sample_rate), capacity // 2)
        self.ring = AudioRing(capacity, prefill, poll_s=min(0.005, capacity / sample_rate / 8))
        self._started = False
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
        self.ring.read(outdata[:, 0])

    @property
    def underruns(self) -> int:
        """Gaps in the audio the callback found in the ring (``AudioRing.underruns``)."""
        return self.ring.underruns

    @property
    def buffered(self) -> int:
        """Samples waiting in the ring."""
        return self.ring.buffered

    def _check_alive(self) -> None:
        if self._started and not self._stream.active:
            raise DeviceError("the audio device stopped (unplugged or taken by another program)")

    def _on_full(self) -> None:
        self._start()
        self._check_alive()

    def write(self, samples: np.ndarray) -> None:
        x = np.asarray(samples, dtype=np.float32).reshape(-1)
        self.ring.write(x, on_full=self._on_full)
        if self.ring.buffered >= self.ring.prefill:
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
            self.ring.pause()

    def _start(self) -> None:
        if not self._started:
            try:
                self._stream.start()
            except self._sd.PortAudioError as exc:
                raise DeviceError(f"cannot start the audio output: {exc}") from None
            self._started = True

    def close(self, timeout: float | None = None) -> None:
        """Play what is buffered (up to its duration + 1 s), then stop the device."""
        self.ring.finish()
        try:
            if self.buffered:
                self._start()
                seconds = timeout or self.buffered / self.sample_rate + 1.0
                self.ring.drain(seconds, lambda: self._stream.active)
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


def names_file(spec: str) -> bool:
    """Whether an output ``spec`` names a file or a folder, not a device: an audio suffix (.wav, .flac, ...),
    an existing folder, or a name with a folder in it."""
    if spec in ("null", "default") or spec.isdigit():
        return False
    path = Path(spec)
    return path.suffix.lower() in AUDIO_SUFFIXES or path.is_dir() or len(path.parts) > 1


def open_sink(
    spec: str,
    sample_rate: int,
    fallback: str | Path | None = None,
    device_buffer_s: float = 0.5,
    inputs: tuple = (),
    subtype: str = "PCM_16",
) -> tuple[Sink, list[str]]:
    """'null', a path ending in .wav (none of ``inputs``), or 'default' / a device name or index for live
    playback; any other file name (``names_file``) is refused, never taken for a device. A WAV file is
    written in ``subtype`` (engine.outputs.SUBTYPES).

    Where live playback is impossible (no PortAudio, no output device) the sink falls back to a WAV
    file at ``fallback`` (or the null sink) and the notes say why.
    """
    if spec == "null":
        return NullSink(sample_rate), []
    if names_file(spec):
        path = check_output_path(spec, "audio", inputs=inputs)  # a folder, the input: named as such
        if path.suffix.lower() != ".wav":
            raise InputError(f"{spec}: audio files are written as WAV only; name the output FILE.wav")
        return WavSink(path, sample_rate, subtype, inputs=inputs), []
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
        return WavSink(fallback, sample_rate, subtype, inputs=inputs), [
            f"{reason}: writing to {fallback} instead"
        ]
    return NullSink(sample_rate), [f"{reason}: using the null sink instead"]

"""``Player``: runs source -> stream -> sink on a worker thread, with callbacks for the CLI and the GUI.

Callbacks run on the worker thread (a GUI forwards them through a queue or a Qt signal):
``on_frames(frames [k, K])`` for every block of input frames, ``on_samples(samples)`` for every block of
output audio, ``on_stats(dict)`` about every ``stats_interval`` seconds and at the end,
``on_error(exc)`` when the stream stops on an error, ``on_finished(summary)`` at the very end.

A live sink is teed into a WAV recording (``record_path``): when the device disappears mid-stream the
worker stops cleanly, and everything produced so far is in that file. ``switch(stream)`` changes the
method mid-stream without losing alignment at the next block boundary: window-step methods (ADMM, GLA,
models) take over the window's state exactly; others are primed with the last frames.

The files a player writes (a WAV sink, the recording) hold the played signal: input sample s at file
sample s + the stream's latency N + (L + B - 1) H, where a listener hears it; they start with
``file_lead`` = latency - output_offset samples of silence, the time before the first block plays (the
stream's own output starts at that block). ``on_samples`` gets the stream's output as it is (input
sample s at s + output_offset), as ``reconstruct --online`` cuts it.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections import deque
from collections.abc import Callable
from pathlib import Path

import numpy as np
from phasefold.engine.errors import InputError, PhasefoldError
from phasefold.engine.streaming.core import Stream
from phasefold.engine.streaming.sinks import Sink, WavSink
from phasefold.engine.streaming.sources import Source
from phasefold.engine.streaming.window import WindowProcessor


class Player:
    """Source -> Stream -> Sink on a worker thread (or inline with ``run``)."""

    def __init__(
        self,
        source: Source,
        stream: Stream,
        sink: Sink,
        record_path: str | Path | None = None,
        record_subtype: str = "PCM_16",
        on_frames: Callable[[np.ndarray], None] | None = None,
        on_samples: Callable[[np.ndarray], None] | None = None,
        on_stats: Callable[[dict], None] | None = None,
        on_error: Callable[[BaseException], None] | None = None,
        on_finished: Callable[[dict], None] | None = None,
        stats_interval: float = 0.25,
    ) -> None:
        if (source.cfg.n_fft, source.cfg.hop) != (stream.cfg.n_fft, stream.cfg.hop):
            raise InputError(
                f"the source has n_fft {source.cfg.n_fft}, hop {source.cfg.hop}; "
                f"{stream.name} runs at n_fft {stream.cfg.n_fft}, hop {stream.cfg.hop}"
            )
        if source.mel != stream.mel:
            given = "magnitudes" if source.mel is None else "mel frames"
            raise InputError(
                f"the source gives {given}; {stream.name} takes "
                + ("magnitudes" if stream.mel is None else "mel frames of its own mel")
            )
        self.source, self.stream, self.sink = source, stream, sink
        self.record_path = Path(record_path) if record_path else None
        self.record_subtype = record_subtype
        self.on_frames, self.on_samples, self.on_stats = on_frames, on_samples, on_stats
        self.on_error, self.on_finished = on_error, on_finished
        self.stats_interval = stats_interval
        self.error: BaseException | None = None
        self.summary: dict | None = None
        self._stop = threading.Event()
        self._resume = threading.Event()
        self._resume.set()
        self._thread: threading.Thread | None = None
        self._next_stream: Stream | None = None
        self._lock = threading.Lock()
        self._history: deque[np.ndarray] = deque(maxlen=self._history_frames(stream))
        self._t0 = 0.0
        self._lead_pending = True  # the files' silence before the first block (file_lead) not yet written
        self.recorder: WavSink | None = None  # the live output's recording (record_path), None if dropped

    @staticmethod
    def _history_frames(stream: Stream) -> int:
        need = stream.lookahead + stream.cfg.overlap - 1
        return -(-need // stream.block) * stream.block  # a whole number of blocks

    # -- control (any thread) ---------------------------------------------------------------------
    def start(self) -> Player:
        """Run on a daemon worker thread."""
        self._thread = threading.Thread(target=self.run, name="phasefold-player", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """End the stream after the current block; what was produced is kept."""
        self._stop.set()
        self._resume.set()
        self.source.stop()

    def pause(self) -> None:
        self._resume.clear()

    def resume(self) -> None:
        self._resume.set()

    @property
    def paused(self) -> bool:
        return not self._resume.is_set()

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def join(self, timeout: float | None = None) -> bool:
        """Wait for the worker; True when it has finished."""
        if self._thread is not None:
            self._thread.join(timeout)
        return not self.running

    def switch(self, stream: Stream) -> None:
        """Hand over to another method (same look-ahead and block) at the next block boundary."""
        if (stream.lookahead, stream.block, stream.cfg.hop) != (
            self.stream.lookahead,
            self.stream.block,
            self.stream.cfg.hop,
        ):
            raise InputError("a stream can only switch to a method with the same look-ahead, block and hop")
        with self._lock:
            self._next_stream = stream

    # -- worker ----------------------------------------------------------------------------------
    def stats(self) -> dict:
        """Current figures: the stream's counters, latency, under-runs, wall time."""
        s = self.stream.stats
        return {
            **s.as_dict(),
            "method": self.stream.name,
            "latency_ms": self.stream.latency_ms,
            "latency_samples": self.stream.latency_samples,
            "underruns": self.sink.underruns,
            "wall_s": time.perf_counter() - self._t0 if self._t0 else 0.0,
            "sink": self.sink.describe(),
        }

    def _take_switch(self) -> None:
        with self._lock:
            new, self._next_stream = self._next_stream, None
        if new is None:
            return
        new.reset()
        old_p, new_p = self.stream.processor, new.processor
        carried = (
            isinstance(old_p, WindowProcessor) and isinstance(new_p, WindowProcessor) and new_p.adopt(old_p)
        )
        if not carried and self._history:
            # no shared state: prime the new method with the last frames (its output replays audio already
            # played and is dropped); samples before those frames count as silence, a short transient
            new.push(np.concatenate(list(self._history)))
        old = self.stream.stats
        new.stats.frames_in, new.stats.samples_out = old.frames_in, old.samples_out
        new.stats.compute_s, new.stats.cpu_s = old.compute_s, old.cpu_s
        self.stream = new

    def _laid_out(self, frames: np.ndarray) -> np.ndarray:
        """A source's block [k, width] as the stream takes it: a mel stream takes a block in its mel's own
        layout (engine.streaming.core.mel_frames), [n_mels, k] where the bands come first."""
        mel = self.stream.mel
        return frames.T if mel is not None and not mel.bands_last else frames

    def _emit(self, samples: np.ndarray) -> None:
        if samples.size == 0:
            return
        if self._lead_pending:  # the files hold the played signal: silence until the first block plays
            self._lead_pending = False
            silence = np.zeros(self.file_lead, dtype=np.float32)
            if self.recorder is not None:
                self.recorder.write(silence)
            if isinstance(self.sink, WavSink):
                self.sink.write(silence)
        if self.recorder is not None:
            self.recorder.write(samples)
        if self.on_samples:
            self.on_samples(samples)
        self.sink.write(samples)

    def _abandon(self, keep_recording: bool) -> None:
        """After an error: stop the source and drop unfinished files (or keep the recording so far)."""
        self.source.stop()
        if self.recorder is not None and keep_recording and self.recorder.samples_written:
            with contextlib.suppress(PhasefoldError):
                self.recorder.close()
        elif self.recorder is not None:
            self.recorder.discard()
            self.recorder = None
        with contextlib.suppress(PhasefoldError):
            self.sink.discard()

    @property
    def file_lead(self) -> int:
        """Samples of silence a file output (a WAV sink, a live output's recording) starts with, so that
        input sample s is at file sample s + ``stream.latency_samples``, where a listener hears it: the
        stream's output index is
        s + ``output_offset``, and its first block plays once the frames that complete it have arrived,
        ``latency_samples`` - ``output_offset`` samples after the input started (B H with phasefold's own
        padding, N / 2 + (B - 1) H centred)."""
        return self.stream.latency_samples - self.stream.output_offset

    def run(self) -> dict:
        """Stream to the end (or ``stop``); returns the summary (also in ``self.summary``). A stream that
        ends on an error discards its output file (an existing file stays as it was), but a live output's
        recording keeps what was played before the error (a vanished device, NaN out of the method)."""
        self._t0 = time.perf_counter()
        self._lead_pending = True
        self.recorder = (
            WavSink(self.record_path, self.sink.sample_rate, self.record_subtype)
            if self.record_path and self.sink.live
            else None
        )
        last_stats = self._t0
        try:
            for frames in self.source.blocks(self.stream.block):
                self._resume.wait()
                if self._stop.is_set():
                    break
                self._take_switch()
                if self.on_frames:
                    self.on_frames(frames)
                self._history.extend(frames[i : i + 1] for i in range(frames.shape[0]))
                self._emit(self.stream.push(self._laid_out(frames)))
                now = time.perf_counter()
                if self.on_stats and now - last_stats >= self.stats_interval:
                    last_stats = now
                    self.on_stats(self.stats())
            # a linear stream whose source ran to its end and knows its signal's length: zeros exactly past
            # it (a mel stream's signal is its mel's, MelConfig.n_samples, which the stream knows)
            known = self.stream.mel is None and not self._stop.is_set()
            self._emit(self.stream.flush(self.source.length if known else None))
            if self.recorder is not None:
                self.recorder.close()
            self.sink.close()
        except PhasefoldError as exc:  # DeviceError mid-stream, a bad frame from a source, a full disk, ...
            self.error = exc
            self._abandon(keep_recording=True)
            if self.on_error:
                self.on_error(exc)
        except BaseException:
            self._abandon(keep_recording=False)
            raise
        self.summary = {
            **self.stats(),
            "error": str(self.error) if self.error else None,
            "recording": str(self.record_path) if self.recorder is not None else None,
        }
        if self.on_stats:
            self.on_stats(self.summary)
        if self.on_finished:
            self.on_finished(self.summary)
        return self.summary

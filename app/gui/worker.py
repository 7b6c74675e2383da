"""The GUI's streaming session: engine.streaming's Player (source -> Stream -> sink) on a worker thread.

The GUI thread never runs inference: it builds a ``StreamWorker`` and drains ``worker.events`` (a
thread-safe queue of gui.events) from its frame timer. The Player's callbacks (on the worker thread) turn
input frames and output samples into spectrogram frames and keep every output sample (gui.output_track);
``MonitorSink`` (gui.monitor) applies the volume and the A/B switch (the time-aligned original instead of
the reconstruction) in front of the real sink; ``PacedSource`` (gui.pacing) releases file frames at live
pace and holds them while paused. A second thread (gui.scorer) scores the last seconds with STOI / ESTOI
(engine.evaluation) so that scoring never delays audio.
"""

from __future__ import annotations

import contextlib
import queue
import threading

import numpy as np
from phasefold.engine.stft import StftConfig
from phasefold.gui.events import FinishedEvent, FramesEvent, MessageEvent, StatsEvent
from phasefold.gui.levels import to_db
from phasefold.gui.monitor import MonitorSink
from phasefold.gui.output_track import OutputTrack, SampleBuffer
from phasefold.gui.pacing import PacedSource
from phasefold.gui.scorer import Scorer


class StreamWorker:
    """One stream: the engine's Player on a worker thread, callbacks turned into GUI events.

    Every public method is safe to call from the GUI thread. ``source`` is an engine.streaming source
    (in-memory frames, wrapped in a ``PacedSource``, or the microphone, which paces itself),
    ``stream`` an phasefold.engine.streaming.Stream and ``sink`` an phasefold.engine.streaming sink.
    """

    def __init__(
        self,
        source,
        stream,
        sink,
        *,
        volume: float = 0.8,
        original: bool = False,
        score_window_s: float = 3.0,
        score_every_s: float = 0.5,
    ) -> None:
        from phasefold.engine.streaming.player import Player

        self.cfg: StftConfig = stream.cfg
        self.live = source.n_frames is None  # the microphone: paced by the device, cannot be held
        self.sample_format: str | None = source.sample_format  # the input file's; a saved output follows it
        self.events: queue.SimpleQueue = queue.SimpleQueue()
        self.output = OutputTrack(self.cfg, stream.output_offset, stream.lookahead)
        self.sink = MonitorSink(sink, self.output.offset, self._original_at)
        self.set_volume(volume)
        self.set_original(original)
        if self.live:  # the reference is what the microphone hears
            self._live_ref = SampleBuffer()
            self._ref_lock = threading.Lock()
            source.on_audio = self._on_mic_audio
            self.source = source
        else:
            self.source = PacedSource(source, on_hold=self.sink.hold)
        self.score_window = int(round(score_window_s * self.cfg.sample_rate))
        self.score_every = int(round(score_every_s * self.cfg.sample_rate))
        self._next_score = self.score_window
        has_reference = self.live or source.reference is not None
        self._scorer = Scorer(self.events, self.cfg.sample_rate) if has_reference else None
        self.frames_pushed = 0
        self._stopped = False
        self.player = Player(
            self.source,
            stream,
            self.sink,
            on_frames=self._on_frames,
            on_samples=self._on_samples,
            on_stats=self._on_stats,
            on_error=self._on_error,
            stats_interval=0.2,
        )
        self._thread = threading.Thread(target=self._run, name="phasefold-stream", daemon=True)

    # -- control (GUI thread) ---------------------------------------------------------------------
    def start(self) -> None:
        if self._scorer is not None:
            self._scorer.start()
        self._thread.start()

    def stop(self) -> None:
        """End after the current block; everything produced so far is kept."""
        self._stopped = True
        self.player.stop()

    def join(self, timeout: float | None = None) -> bool:
        self._thread.join(timeout)
        return not self._thread.is_alive()

    def is_alive(self) -> bool:
        return self._thread.is_alive()

    def pause(self, paused: bool) -> None:
        """Hold the stream (file and demo sources; a microphone cannot be held)."""
        if not self.live:
            self.source.hold(paused)

    @property
    def paused(self) -> bool:
        return not self.live and self.source.held

    def switch(self, stream) -> None:
        """Continue with another method's stream (same STFT, L and B) from the next block on."""
        self.player.switch(stream)

    def set_volume(self, volume: float) -> None:
        self.sink.volume = float(min(max(volume, 0.0), 1.0))

    def set_original(self, on: bool) -> None:
        self.sink.play_original = bool(on)

    @property
    def method(self) -> str:
        return self.player.stream.name

    def reference(self) -> np.ndarray | None:
        """The clean reference in offline coordinates (for the microphone: what it recorded so far)."""
        if self.live:
            with self._ref_lock:
                return self._live_ref.view().copy()
        return self.source.reference

    def reference_range(self, a: int, b: int) -> np.ndarray | None:
        """A copy of reference samples [a, b) (clipped to what exists), without copying the rest."""
        a, b = max(a, 0), max(b, 0)
        if self.live:
            with self._ref_lock:
                return self._live_ref.view()[a:b].copy()
        ref = self.source.reference
        return None if ref is None else ref[a:b].copy()

    def reconstruction(self) -> np.ndarray:
        """The reconstruction so far in the input's time frame (offline sample s at index s)."""
        length = self._live_ref.n if self.live else self.source.length
        return self.output.aligned(length).copy()

    # -- worker thread --------------------------------------------------------------------------
    def _run(self) -> None:
        try:
            summary = self.player.run()
            failed = summary.get("error") is not None
            completed = not failed and not self._stopped
            text = "stopped on an error" if failed else ("finished" if completed else "stopped")
        except Exception as exc:  # not a PhasefoldError (the Player reports those): still end cleanly
            self.events.put(MessageEvent(f"{type(exc).__name__}: {exc}", error=True))
            self.player.source.stop()
            with contextlib.suppress(Exception):
                self.sink.close()
            completed, text = False, f"stopped: {type(exc).__name__}: {exc}"
        if self._scorer is not None:
            if completed:
                self._maybe_score(final=True)
            self._scorer.finish()
        self.events.put(FinishedEvent(completed, text))

    def _on_frames(self, frames: np.ndarray) -> None:
        self.events.put(FramesEvent("input", self.frames_pushed, to_db(frames, self.cfg.power)))
        self.frames_pushed += frames.shape[0]

    def _on_samples(self, samples: np.ndarray) -> None:
        frames = self.output.add(samples)
        if frames is not None:
            self.events.put(FramesEvent("output", frames[0], to_db(frames[1], self.cfg.power)))
        self._maybe_score()

    def _on_stats(self, stats: dict) -> None:
        self.events.put(
            StatsEvent(
                str(stats["method"]),
                float(stats["rtf"]),
                float(stats["latency_ms"]),
                int(stats["underruns"]),
                self._done() / self.cfg.sample_rate,
            )
        )

    def _on_error(self, exc: BaseException) -> None:
        self.events.put(MessageEvent(str(exc), error=True))

    def _on_mic_audio(self, hop: np.ndarray) -> None:
        with self._ref_lock:
            self._live_ref.append(hop)

    def _original_at(self, j0: int, n: int) -> np.ndarray:
        """The reference at output indices [j0, j0 + n) (zeros outside it)."""
        out = np.zeros(n, dtype=np.float32)
        s0 = j0 - self.output.offset
        ref = self.reference_range(s0, s0 + n)
        if ref is not None and ref.size:
            start = max(s0, 0) - s0
            out[start : start + ref.size] = ref
        return out

    def _done(self) -> int:
        """Offline samples reconstructed so far."""
        done = max(0, self.output.n - self.output.offset)
        length = self._live_ref.n if self.live else self.source.length
        return done if length is None else min(done, length)

    def _maybe_score(self, final: bool = False) -> None:
        """Score the last window every ``score_every`` samples (and the very last one at the end)."""
        if self._scorer is None:
            return
        end = self._done()
        due = self._next_score if not final else self._next_score - self.score_every + 1
        if end < max(due, self.score_window):
            return
        start = end - self.score_window
        ref = self.reference_range(start, end)
        if ref is None or ref.size < self.score_window:
            return
        est = self.output.aligned()[start:end].copy()
        self._scorer.submit(end / self.cfg.sample_rate, ref, est, always=final)
        self._next_score = end + self.score_every

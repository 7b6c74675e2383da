"""The GUI's streaming session: engine.streaming's Player (source -> Stream -> sink) on a worker thread.

The GUI thread never runs inference: it builds a ``StreamWorker`` and drains ``worker.events`` (a
thread-safe queue) from its frame timer. The Player's callbacks (on the worker thread) turn input
frames and output samples into spectrogram frames and keep every output sample; ``MonitorSink`` applies
the volume and the A/B switch (the time-aligned original instead of the reconstruction) in front of
the real sink; ``PacedSource`` releases file frames at live pace and holds them while paused. A second
thread scores the last seconds with STOI / ESTOI (engine.metrics) so that scoring never delays audio.
"""

from __future__ import annotations

import contextlib
import queue
import threading
import time
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from phasefold.engine.errors import InputError
from phasefold.engine.stft import StftConfig, analyze, magnitude
from phasefold.engine.streaming.sinks import Sink
from phasefold.engine.streaming.sources import NpzSource, Source
from phasefold.gui.levels import to_db

SOURCE_DEMO, SOURCE_FILE, SOURCE_MIC = "demo", "file", "mic"
LEAD_S = 0.25  # how far ahead of real time the worker may run (the sink's cushion)


def default_method(names: list[str]) -> str:
    """The method selected at start: the untied model when shipped (the best live scores on the demo at
    L = 3 since its anchoring, docs/results.md), else the tied one, else the first model, else the first
    method."""
    for name in ("unfolded-untied", "unfolded-tied"):
        if name in names:
            return name
    return next((n for n in names if n.startswith("unfolded")), names[0])


_demo_lock = threading.Lock()
_demo_cache: dict[int, np.ndarray] = {}


def demo_audio(sample_rate: int) -> np.ndarray:
    """phasefold.engine.demo's signal, computed once per process (it takes seconds on a busy machine)."""
    with _demo_lock:
        if sample_rate not in _demo_cache:
            from phasefold.engine.demo import demo_signal

            _demo_cache[sample_rate] = demo_signal(sr=sample_rate)
        return _demo_cache[sample_rate]


def warm_up(sample_rate: int) -> None:
    """Prepare off the GUI thread what the first stream needs: the demo signal, onnxruntime, pystoi."""
    demo_audio(sample_rate)
    import onnxruntime  # noqa: F401
    import pystoi  # noqa: F401


def is_magnitude_file(path: Path) -> bool:
    """Whether ``path`` names a .npz magnitude file (docs/magnitude-files.md) rather than audio."""
    return Path(path).suffix.lower() == ".npz"


def magnitude_file_source(path: Path, cfg: StftConfig) -> NpzSource:
    """A .npz magnitude file as a source; InputError unless its STFT is the window's ``cfg``."""
    source = NpzSource(path)
    c = source.cfg
    if c != cfg:
        raise InputError(
            f"{path}: magnitudes of n_fft {c.n_fft}, hop {c.hop} ({c.sample_rate} Hz, d = {c.power:g}); the "
            f"window streams n_fft {cfg.n_fft}, hop {cfg.hop} ({cfg.sample_rate} Hz, d = {cfg.power:g}) "
            "(`phasefold stream -i FILE` takes it)"
        )
    if source.reference is None:
        source.notes.append("the file holds no reference audio: live STOI cannot score")
    return source


def check_file(path: Path, cfg: StftConfig) -> list[str]:
    """Notes on an audio or .npz magnitude file the window can stream; InputError where it cannot."""
    if is_magnitude_file(path):
        return magnitude_file_source(path, cfg).notes
    from phasefold.engine.audio_io import load_audio

    return load_audio(path, cfg.sample_rate)[1]


def prepare_source(
    kind: str,
    cfg: StftConfig,
    path: Path | None = None,
    snr_db: float | None = None,
    seed: int = 0,
):
    """An engine.streaming source: the demo, an audio file (exact or modified at ``snr_db``), a .npz
    magnitude file, or the mic."""
    from phasefold.engine.streaming.sources import ArraySource, AudioFileSource, MicSource

    if kind == SOURCE_MIC:
        return MicSource(cfg)
    if kind == SOURCE_FILE:
        if path is None:
            raise InputError("no audio file chosen: use Open… or drop a file on the window")
        if is_magnitude_file(path):
            if snr_db is not None:
                raise InputError(
                    f"{Path(path).name} holds its magnitudes already: noise applies to audio inputs "
                    "(turn off Modify the spectrogram)"
                )
            return magnitude_file_source(path, cfg)
        return AudioFileSource(path, cfg, snr_db=snr_db, seed=seed)
    if kind != SOURCE_DEMO:
        raise InputError(f"unknown source {kind!r}")
    x = demo_audio(cfg.sample_rate)
    if snr_db is None:
        return ArraySource(magnitude(x, cfg), cfg, reference=x, name="built-in demo")
    from phasefold.engine.magnitudes import modified_magnitudes

    source = ArraySource(modified_magnitudes(x, cfg, snr_db, seed), cfg, reference=x, name="built-in demo")
    source.notes.append(f"modified magnitudes: white noise at {snr_db:g} dB SNR, oracle Wiener mask")
    return source


# -- events posted to the GUI thread ---------------------------------------------------------------
@dataclass
class FramesEvent:
    """Spectrogram frames in dB: ``which`` is "input" or "output"; frame indices start at ``first``."""

    which: str
    first: int
    db: np.ndarray


@dataclass
class ScoreEvent:
    """STOI / ESTOI of the window ending at ``t`` seconds of the signal."""

    t: float
    stoi: float
    estoi: float


@dataclass
class StatsEvent:
    method: str
    rtf: float
    latency_ms: float
    xruns: int
    seconds: float  # seconds of signal reconstructed so far


@dataclass
class MessageEvent:
    text: str
    error: bool = False


@dataclass
class FinishedEvent:
    """The stream ended: ``completed`` when the whole source was played, else stopped or failed."""

    completed: bool
    text: str


class SampleBuffer:
    """A growing float32 signal kept in one array (capacity doubles), so views never concatenate."""

    def __init__(self, capacity: int = 1 << 16) -> None:
        self._data = np.zeros(capacity, dtype=np.float32)
        self.n = 0

    def append(self, x: np.ndarray) -> None:
        x = np.asarray(x, dtype=np.float32).reshape(-1)
        if self.n + x.size > self._data.size:
            grown = np.zeros(max(2 * self._data.size, self.n + x.size), dtype=np.float32)
            grown[: self.n] = self._data[: self.n]
            self._data = grown
        self._data[self.n : self.n + x.size] = x
        self.n += x.size

    def view(self) -> np.ndarray:
        """The samples so far (a view: copy it before the next append if it must be kept)."""
        return self._data[: self.n]


class OutputTrack:
    """Everything the stream produced (never dropped) and the spectrogram frames of it."""

    def __init__(self, cfg: StftConfig, offset: int, lookahead: int) -> None:
        self.cfg = cfg
        self.offset = offset  # output index of offline sample 0: P + L H
        self.lookahead = lookahead
        self.buffer = SampleBuffer()
        self._analysed = 0  # output index of the next frame to analyse

    @property
    def n(self) -> int:
        return self.buffer.n

    def add(self, samples: np.ndarray) -> tuple[int, np.ndarray] | None:
        """Keep the samples; returns (first frame, magnitude frames) completed by them, if any.

        The output frame starting at output index a shows padded frame a / H - L: the same frame
        index as the input frame it reconstructs.
        """
        if np.size(samples) == 0:
            return None
        self.buffer.append(samples)
        cfg = self.cfg
        if self.n - self._analysed < cfg.n_fft:
            return None
        n_frames = (self.n - self._analysed - cfg.n_fft) // cfg.hop + 1
        span = self.buffer.view()[self._analysed : self._analysed + cfg.span(n_frames)]
        first = self._analysed // cfg.hop - self.lookahead
        self._analysed += n_frames * cfg.hop
        skip = max(0, -first)  # frames before the stream's start are not shown
        if skip >= n_frames:
            return None
        return first + skip, np.abs(analyze(span.astype(np.float64), cfg)[skip:]) ** cfg.power

    def aligned(self, length: int | None = None) -> np.ndarray:
        """The reconstruction in offline coordinates (sample s of the input), ``length`` samples at most."""
        out = self.buffer.view()[self.offset :]
        return out if length is None else out[:length]


class _Scorer(threading.Thread):
    """Scores (reference, estimate) windows with STOI and ESTOI off the audio path."""

    def __init__(self, events: queue.SimpleQueue, sample_rate: int) -> None:
        super().__init__(name="phasefold-scores", daemon=True)
        self.jobs: queue.Queue = queue.Queue()
        self.events = events
        self.sample_rate = sample_rate

    def submit(self, t: float, ref: np.ndarray, est: np.ndarray, always: bool = False) -> None:
        """Queue a window, unless one is still waiting (scores never pile up behind the audio)."""
        if always or self.jobs.empty():
            self.jobs.put((t, ref, est))

    def finish(self, timeout: float = 10.0) -> None:
        """Score what is queued, then end the thread."""
        self.jobs.put(None)
        self.join(timeout)

    def run(self) -> None:
        from phasefold.engine.metrics import estoi, stoi

        while (job := self.jobs.get()) is not None:
            t, ref, est = job
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # pystoi warns on windows with too few speech frames
                s = stoi(ref, est, self.sample_rate)
                e = estoi(ref, est, self.sample_rate)
            if s > 1e-4:  # pystoi returns 1e-5 when the window has no speech frame to score
                self.events.put(ScoreEvent(t, s, e))


class PacedSource(Source):
    """The frames of an in-memory source released at live pace, ``LEAD_S`` early; ``hold`` pauses them.

    Paused time does not count, so a resumed stream continues at live pace instead of catching up.
    ``on_hold(True / False)`` runs on the worker thread when the hold starts and ends (the GUI pauses
    the audio device there, so that a held stream counts no under-runs).
    """

    def __init__(self, inner, on_hold: Callable[[bool], None] | None = None) -> None:
        super().__init__(inner.cfg, realtime=True)
        self.inner = inner
        self.name, self.notes = inner.name, inner.notes
        self.reference, self.length = inner.reference, inner.length
        self.on_hold = on_hold
        self._resume = threading.Event()
        self._resume.set()

    @property
    def n_frames(self) -> int:
        return self.inner.n_frames

    def hold(self, on: bool) -> None:
        if on:
            self._resume.clear()
        else:
            self._resume.set()

    @property
    def held(self) -> bool:
        return not self._resume.is_set()

    def stop(self) -> None:
        super().stop()
        self._resume.set()

    def blocks(self, block: int) -> Iterator[np.ndarray]:
        self._stop.clear()
        period = self.cfg.hop / self.cfg.sample_rate
        t0, held, done = time.perf_counter(), 0.0, 0
        for chunk in self.inner.blocks(block):
            if not self._resume.is_set():
                h0 = time.perf_counter()
                if self.on_hold:
                    self.on_hold(True)
                self._resume.wait()
                held += time.perf_counter() - h0
                if self.on_hold:
                    self.on_hold(False)
            done += chunk.shape[0]
            delay = t0 + held + done * period - LEAD_S - time.perf_counter()
            if self._stop.is_set() or (delay > 0 and self._stop.wait(delay)):
                return
            yield chunk


class MonitorSink(Sink):
    """What the listener hears: the reconstruction or (A/B) the time-aligned original, at a volume."""

    def __init__(self, inner: Sink, offset: int, original: Callable[[int, int], np.ndarray]) -> None:
        super().__init__(inner.sample_rate)
        self.inner = inner
        self.name, self.live = inner.name, inner.live
        self.offset = offset
        self.original = original  # (output index, n) -> the reference at those output indices
        self.volume = 1.0
        self.play_original = False

    @property
    def underruns(self) -> int:
        """The inner sink's count."""
        return self.inner.underruns

    def write(self, samples: np.ndarray) -> None:
        n = int(np.size(samples))
        play = self.original(self.samples_written, n) if self.play_original else samples
        self.inner.write(np.asarray(play, dtype=np.float32) * np.float32(self.volume))
        self.samples_written += n

    def hold(self, on: bool) -> None:
        """Stop the device while the stream is held (sinks without a pause ignore it)."""
        if on and hasattr(self.inner, "pause"):
            self.inner.pause()

    def close(self) -> None:
        self.inner.close()
        super().close()

    def describe(self) -> str:
        return self.inner.describe()


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
        self.events: queue.SimpleQueue = queue.SimpleQueue()
        self.output = OutputTrack(self.cfg, self.cfg.pad + stream.delay_samples, stream.lookahead)
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
        self._scorer = _Scorer(self.events, self.cfg.sample_rate) if has_reference else None
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

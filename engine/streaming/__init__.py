"""The streaming engine: frames in, audio out, fixed latency, the same engine for every method.

Stable API (used by the CLI and the GUI):
- ``Stream`` / ``Stream.open(method_or_model, cfg, lookahead, block, iterations, init)``: push/flush/reset,
  ``latency_samples``/``latency_ms``, ``stats`` (frames in, samples out, compute time, RTF);
- ``make_processor`` / ``method_names``: build any method by name or model path;
- ``reconstruct_online``: a whole magnitude spectrogram through the engine, time-aligned output
  (``aligned``: the part of a stream's output that matches the offline signal, ``Stream.output_offset``);
- sources (``ArraySource``, ``AudioFileSource``, ``NpzSource``, ``MelSource``, ``MicSource``), sinks
  (``NullSink``, ``WavSink``, ``SoundDeviceSink``, ``open_sink``; ``ClockedSink``, a device model without
  hardware) and ``Player``, which runs source -> stream -> sink on a worker thread with callbacks;
- ``AudioRing``: the bounded FIFO between a producer and an audio callback, with its under-run count.
"""

from phasefold.engine.streaming.base import FrameProcessor
from phasefold.engine.streaming.clocked import ClockedSink
from phasefold.engine.streaming.core import Stream, StreamStats
from phasefold.engine.streaming.offline import aligned, reconstruct_online, run_stream
from phasefold.engine.streaming.player import Player
from phasefold.engine.streaming.ring import AudioRing
from phasefold.engine.streaming.sinks import (
    NullSink,
    Sink,
    SoundDeviceSink,
    WavSink,
    open_sink,
    output_devices,
)
from phasefold.engine.streaming.sources import (
    ArraySource,
    AudioFileSource,
    MelSource,
    MicSource,
    NpzSource,
    Source,
)
from phasefold.engine.streaming.steps import make_processor, method_names

__all__ = [
    "ArraySource",
    "AudioFileSource",
    "AudioRing",
    "ClockedSink",
    "FrameProcessor",
    "MelSource",
    "MicSource",
    "NpzSource",
    "NullSink",
    "Player",
    "Sink",
    "SoundDeviceSink",
    "Source",
    "Stream",
    "StreamStats",
    "WavSink",
    "aligned",
    "make_processor",
    "method_names",
    "open_sink",
    "output_devices",
    "reconstruct_online",
    "run_stream",
]

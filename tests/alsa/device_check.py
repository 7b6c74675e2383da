"""Runs one audio-device scenario in a fresh process (PortAudio reads the ALSA set-up at start-up).

Usage: python tests/alsa/device_check.py CASE OUT_DIR; prints one JSON object. tests/test_audio_device.py
starts it with HOME pointing at a folder whose .asoundrc is tests/alsa/asoundrc (the ALSA null device),
or, for the clocked case, one that routes ALSA's default device to a private PulseAudio null sink.
"""

from __future__ import annotations

import contextlib
import io
import json
import sys
import threading
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))


def _speechlike(seconds: float) -> np.ndarray:
    t = np.arange(int(seconds * 22050)) / 22050
    phase = 2 * np.pi * np.cumsum(140 + 30 * np.sin(2 * np.pi * t)) / 22050
    return 0.2 * sum(np.sin(k * phase) / k for k in range(1, 8))


def case_list(out: Path) -> dict:
    import sounddevice as sd

    devices = [dict(d) for d in sd.query_devices()]
    return {
        "devices": [d["name"] for d in devices],
        "default_output": dict(sd.query_devices(kind="output"))["name"],
    }


def case_play(out: Path) -> dict:
    import sounddevice as sd

    calls, flags = [0], [0]

    def callback(outdata, frames, time_info, status):
        calls[0] += 1
        flags[0] += bool(status)
        outdata[:] = 0.1

    with sd.OutputStream(samplerate=22050, channels=1, dtype="float32", blocksize=256, callback=callback):
        time.sleep(0.2)
    return {"callbacks": calls[0], "status_flags": flags[0]}


def _log_reads(sink) -> list[tuple[int, int, int]]:
    """Log every callback's read from the sink's ring: (samples found, samples asked, under-runs counted)."""
    log = []
    ring = sink.ring
    read = ring.read

    def logged(out: np.ndarray) -> int:
        before = ring.underruns
        n = read(out)
        log.append((n, out.shape[0], ring.underruns - before))
        return n

    ring.read = logged
    return log


def _counted_per_gap(log: list[tuple[int, int, int]], exact: bool) -> bool:
    """Whether each read counted 0 or 1 under-runs, and 1 only where a gap starts (a starved read after one
    served in full, or the first read); ``exact``: also that every gap start counted one (reads before the
    end of the audio, which counts none)."""
    previous_starved = False
    for n, frames, counted in log:
        starved = n < frames
        starts = starved and not previous_starved
        if counted not in (0, 1) or (counted and not starts) or (exact and starts and not counted):
            return False
        previous_starved = starved
    return True


def _player(out: Path, realtime: bool):
    from phasefold.engine.stft import StftConfig, magnitude
    from phasefold.engine.streaming import ArraySource, Player, SoundDeviceSink, Stream

    cfg = StftConfig()
    x = _speechlike(1.0)
    source = ArraySource(magnitude(x, cfg), cfg, realtime=realtime, reference=x)
    stream = Stream.open("rtpghi", cfg, lookahead=1)
    sink = SoundDeviceSink(cfg.sample_rate)
    played = []
    player = Player(source, stream, sink, record_path=out / "recording.wav", on_samples=played.append)
    return player, sink, played


def case_player(out: Path) -> dict:
    import soundfile as sf

    player, sink, played = _player(out, realtime=False)
    log = _log_reads(sink)
    summary = player.run()
    rec, _ = sf.read(str(out / "recording.wav"), dtype="float32")
    produced = np.concatenate(played)
    lead = player.file_lead  # the recording starts with the silence that puts input sample s at the latency
    return {
        "error": summary["error"],
        "samples_out": summary["samples_out"],
        "written": sink.samples_written,
        "consumed": sink.ring.consumed,
        "callbacks": sink.callbacks,
        "reads": len(log),
        "underruns": summary["underruns"],
        "underruns_logged": sum(c for _, _, c in log),
        "counted_per_gap": _counted_per_gap(log, exact=False),
        "recorded": int(rec.size) - lead,
        "recording_matches": not np.any(rec[:lead])
        and bool(np.allclose(rec[lead:], produced, atol=1 / 32768)),
    }


def case_vanish(out: Path) -> dict:
    import soundfile as sf

    player, sink, played = _player(out, realtime=True)  # 1 s of audio released at real-time pace
    errors = []
    player.on_error = errors.append

    def unplug():
        time.sleep(0.3)
        sink.abort()  # PortAudio stops the stream from its audio thread, as when a device is unplugged

    threading.Thread(target=unplug, daemon=True).start()
    summary = player.run()
    rec, _ = sf.read(str(out / "recording.wav"), dtype="float32")
    return {
        "error": summary["error"],
        "error_type": type(errors[0]).__name__ if errors else None,
        "recorded": int(rec.size) - player.file_lead,  # after the lead of silence
        "produced": int(sum(p.size for p in played)),
        "frames_in": summary["frames_in"],
        "source_frames": player.source.n_frames,
    }


def case_mic(out: Path) -> dict:
    from phasefold.engine.stft import StftConfig
    from phasefold.engine.streaming import MicSource

    cfg = StftConfig()
    source = MicSource(cfg, max_seconds=0.3)
    frames = [b for b in source.blocks(2)]
    return {
        "blocks": len(frames),
        "frames": int(sum(f.shape[0] for f in frames)),
        "finite": bool(all(np.isfinite(f).all() for f in frames)),
        "bad_samples": source.bad_samples,
    }


def case_clocked(out: Path) -> dict:
    """A producer faster than real time, then a stalled one, against a device with a clock."""
    from phasefold.engine.streaming import SoundDeviceSink

    x = _speechlike(2.0).astype(np.float32)
    sink = SoundDeviceSink(22050)
    log = _log_reads(sink)
    t0 = time.perf_counter()
    for i in range(0, x.size, 256):  # as fast as the bounded FIFO takes it
        sink.write(x[i : i + 256])
    paced = time.perf_counter() - t0
    stall_start = len(log)
    time.sleep(1.0)  # the producer stops for longer than the FIFO holds
    stall = log[stall_start:]
    sink.write(x[:11025])
    before_close = list(log)  # reads before the end of the audio: every gap start counts
    sink.close()
    return {
        "seconds": x.size / 22050,
        "paced": paced,
        "underruns": sink.underruns,
        "underruns_logged": sum(c for _, _, c in log),
        "counted_per_gap": _counted_per_gap(log, exact=False),
        "counted_per_gap_exactly": _counted_per_gap(before_close, exact=True),
        "stall_reads": len(stall),
        "stall_silence": sum(frames - n for n, frames, _ in stall),
        "underruns_in_stall": sum(c for _, _, c in stall),
        "status_flags": sink.status_flags,
        "written": sink.samples_written,
        "consumed": sink.ring.consumed,
    }


def case_cli_interrupt(out: Path) -> dict:
    import os
    import signal

    import soundfile as sf
    from phasefold.cli import main

    # interrupt once the stream runs (the status line shows up), as a user pressing Ctrl-C would
    err = io.StringIO()

    def interrupt_when_running():
        while "RTF" not in err.getvalue():
            time.sleep(0.05)
        time.sleep(0.5)
        os.kill(os.getpid(), signal.SIGINT)

    threading.Thread(target=interrupt_when_running, daemon=True).start()
    with contextlib.redirect_stderr(err):
        rc = main(
            ["stream", "--input", "mic", "--output", str(out / "mic.wav"), "--method", "rtpghi", "-L", "1"]
        )
    wav = out / "mic.wav"  # written only when the stream ended cleanly
    seconds = sf.info(str(wav)).duration if wav.exists() else None
    return {"rc": rc, "seconds": seconds, "stderr": err.getvalue()[-500:]}


if __name__ == "__main__":
    try:
        import sounddevice  # noqa: F401
    except OSError as exc:
        print(json.dumps({"skip": f"PortAudio is not installed ({exc})"}))
        sys.exit(0)
    result = globals()[f"case_{sys.argv[1]}"](Path(sys.argv[2]))
    print(json.dumps(result))

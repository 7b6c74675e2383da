"""GUI frame interval while streaming: the window (offscreen) streams the demo and this script reports the
intervals between GUI frames (the 33 ms frame timer), the engine's real-time factor and the under-runs of a
simulated audio device (engine.streaming.clocked.ClockedSink: a 0.5 s ring read 256 samples at a time at
the sample rate of the wall clock after a 0.1 s prefill).

    QT_QPA_PLATFORM=offscreen python -m benchmarks.gui_frame_interval --method unfolded-untied -L 3
    ... --resize        # also resize the window every 50 ms (a worst case for the GUI thread)
    ... --methods rtisi-la,unfolded-untied --screenshots docs --json out.json   # compared in one window

Frame intervals are measured inside the app (MainWindow.frame_interval_ms, shown in the status bar).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import numpy as np
from phasefold.engine.streaming.clocked import ClockedSink


def stream_once(app, window, resize: bool, shot: Path | None = None, shot_at: float = 5.0) -> dict:
    """Stream the demo with the window's settings to a simulated device; the figures of the run.

    ``shot``: a PNG of the window taken mid-stream, once ``shot_at`` seconds of audio are reconstructed."""
    from phasefold.engine.evaluation import evaluate_signal
    from phasefold.engine.stft import magnitude
    from PyQt6.QtCore import QTimer

    sink = ClockedSink(window.cfg.sample_rate)
    sizes = [(1480, 900), (1200, 760)]
    resizer = QTimer()
    resizer.timeout.connect(lambda: window.resize(*sizes[int(time.perf_counter() * 20) % 2]))
    if resize:
        resizer.start(50)
    t0 = time.perf_counter()
    if not window.start_stream(sink=sink):
        raise SystemExit(f"cannot start: {window.last_error}")
    start_ms = 1000 * (time.perf_counter() - t0)  # the GUI thread is busy meanwhile (source, model load)
    while window.streaming:
        app.processEvents()
        time.sleep(0.002)
        if shot is not None and window.last_worker.reconstruction().size >= shot_at * window.cfg.sample_rate:
            window.save_screenshot(shot)
            shot = None
    wall = time.perf_counter() - t0
    resizer.stop()
    window.resize(*sizes[0])
    app.processEvents()
    intervals = window.frame_intervals()
    worker = window.last_worker
    stats = worker.player.stats()
    s, e = window.stoi_view.mean()
    ref, rec = worker.reference(), worker.reconstruction()
    whole = evaluate_signal(ref, rec, window.cfg, r=magnitude(ref, window.cfg))
    return {
        "method": stats["method"],
        "lookahead": window.controls.lookahead.value(),
        "block": window.controls.block.value(),
        "resize": resize,
        "audio_s": stats["audio_s"],
        "wall_s": wall,
        "start_ms": start_ms,
        "gui_frames": len(intervals),
        "frame_ms_median": statistics.median(intervals),
        "frame_ms_p90": float(np.percentile(intervals, 90)),
        "frame_ms_p99": float(np.percentile(intervals, 99)),
        "frame_ms_max": max(intervals),
        "rtf": stats["rtf"],
        "latency_ms": stats["latency_ms"],
        "underruns": sink.underruns,
        "min_margin_ms": None if sink.min_margin_s is None else 1000 * sink.min_margin_s,
        "live_stoi_mean": s,
        "live_estoi_mean": e,
        "live_points": len(window.stoi_view.times),
        "whole_signal": whole,
        "load_average": os.getloadavg()[0],
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--methods",
        "-m",
        default=None,
        help="comma-separated methods streamed one after the other in the same window "
        "(default: the untied model if shipped)",
    )
    parser.add_argument("--lookahead", "-L", type=int, default=3)
    parser.add_argument("--block", "-B", type=int, default=1)
    parser.add_argument("--resize", action="store_true", help="resize the window every 50 ms while streaming")
    parser.add_argument(
        "--screenshots",
        type=Path,
        default=None,
        help="folder: a PNG of the window after each run, gui-<method>.png",
    )
    parser.add_argument(
        "--live-screenshot",
        type=Path,
        default=None,
        help="a PNG of the window during the last run, 5 s into the demo",
    )
    parser.add_argument("--json", type=Path, default=None, help="write the figures as JSON")
    args = parser.parse_args(argv)

    from phasefold.engine.registry import default_stream_method
    from phasefold.engine.streaming import method_names
    from phasefold.gui.main_window import MainWindow, make_app

    app = make_app()
    window = MainWindow(output="null")
    window.show()
    c = window.controls
    c.lookahead.setValue(args.lookahead)
    c.block.setValue(args.block)
    results = []
    methods = (args.methods or default_stream_method(method_names())).split(",")
    for i, method in enumerate(methods):
        c.method.setCurrentText(method)
        r = stream_once(app, window, args.resize, args.live_screenshot if i == len(methods) - 1 else None)
        results.append(r)
        if args.screenshots is not None:
            window.save_screenshot(args.screenshots / f"gui-{method}.png")
        w = r["whole_signal"]
        print(
            f"{r['method']} L={r['lookahead']} B={r['block']}{' (resizing)' if args.resize else ''}: "
            f"{r['audio_s']:.1f} s of audio in {r['wall_s']:.1f} s (start {r['start_ms']:.0f} ms); "
            f"GUI frames {r['gui_frames']}, interval "
            f"median {r['frame_ms_median']:.1f} ms, p90 {r['frame_ms_p90']:.1f}, "
            f"p99 {r['frame_ms_p99']:.1f}, max {r['frame_ms_max']:.1f}; RTF {r['rtf']:.3f}; "
            f"simulated-device under-runs {r['underruns']} "
            f"(smallest margin {r['min_margin_ms'] or 0:.0f} ms); live STOI {r['live_stoi_mean']:.4f} "
            f"ESTOI {r['live_estoi_mean']:.4f} ({r['live_points']} windows); whole signal STOI "
            f"{w['stoi']:.4f} ESTOI {w['estoi']:.4f} PESQ {w['pesq']:.3f} SC {w['sc_db']:.2f} dB; "
            f"load average {r['load_average']:.1f}"
        )
    if args.json is not None:
        args.json.write_text(json.dumps(results, indent=1))
    window.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())

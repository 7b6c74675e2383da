"""The first use of a method family compiles its kernels for seconds: the window says so, with real progress
(engine.compiled.progress, driven by numba's compile events on the thread that opens the stream), and
a later start from the disk cache compiles nothing. Each run is a fresh process: a fresh, empty
PHASEFOLD_CACHE_DIR and NUMBA_CACHE_DIR make the compiled backend compile afresh."""

import json
import os
import re
import subprocess
import sys

import pytest

pytest.importorskip("pyqtgraph")
pytest.importorskip("numba")

SCRIPT = r"""
import json, os, sys
os.environ["QT_QPA_PLATFORM"] = "offscreen"
from phasefold.gui.main_window import MainWindow, make_app
from PyQt6.QtCore import QTimer

app = make_app()
w = MainWindow(output="null")
w.controls.method.setCurrentText("rtisi-la")
w.show()
seen = []
label, bar = w.controls.session_progress, w.controls.compile_bar
set_text = label.setText


def record(text):  # every text the session box shows, with the bar's state at that moment
    seen.append([text, bar.value(), bar.maximum(), bar.isVisible(), w.opening])
    set_text(text)
    shots = os.environ.get("PHASEFOLD_SCREENSHOT_DIR")
    if shots and text.startswith("compiling") and bar.value() > 0:
        w.grab().save(os.path.join(shots, "compiling.png"))


label.setText = record
ticks = []  # timer events the window handled while the stream opened: it stays live
timer = QTimer()
timer.timeout.connect(lambda: ticks.append(w.opening))
timer.start(20)
started = w.start_stream()
app.processEvents()
print(json.dumps({"started": started, "seen": seen, "bar_after": w.controls.compile_bar.isVisible(),
                  "streaming": w.streaming, "live_ticks": sum(ticks)}))
w.close()
"""

PATTERN = re.compile(r"compiling rtisi kernels \((\d+) of (\d+)\): (\w+)")


def _run(cache) -> dict:
    env = {
        **os.environ,
        "PHASEFOLD_CACHE_DIR": str(cache),
        "NUMBA_CACHE_DIR": str(cache / "numba"),  # numba's own cache, fresh too: the kernels compile
        "QT_QPA_PLATFORM": "offscreen",
    }
    proc = subprocess.run(
        [sys.executable, "-c", SCRIPT], capture_output=True, text=True, env=env, timeout=600
    )
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_first_use_shows_compile_progress_and_a_cached_start_does_not(tmp_path):
    cache = tmp_path / "cache"
    first = _run(cache)
    assert first["started"] and first["streaming"] and not first["bar_after"]
    assert first["live_ticks"] >= 10  # the window handled its timers while the kernels compiled
    texts = [s[0] for s in first["seen"]]
    assert texts[0] == "preparing rtisi-la…"  # before the first kernel starts compiling
    progress = [(int(m[1]), int(m[2]), m[3], s) for s in first["seen"] if (m := PATTERN.match(s[0]))]
    assert len({(d, t) for d, t, _, _ in progress}) >= 3, texts  # it moves: several steps were shown
    for done, total, _, (_, value, maximum, visible, opening) in progress:
        assert 0 <= done <= total and (value, maximum) == (done, total) and visible and opening
    dones = [d for d, *_ in progress]
    assert dones == sorted(dones) and dones[-1] == progress[-1][1]  # ends at n of n
    assert {"_rtisi_block", "execute"} <= {k for _, _, k, _ in progress}  # the kernels that compiled
    assert texts[-1] == "starting…" or texts[-1].startswith("0.")  # then the stream runs
    # the kernels are cached now: a second start compiles nothing and says nothing about it
    second = _run(cache)
    assert second["started"] and second["streaming"]
    assert not any(s[0].startswith("compiling") or s[3] for s in second["seen"]), second["seen"]


def test_reporting_compiles_follows_numba_on_the_calling_thread(tmp_path):
    code = r"""
import json, threading
from phasefold.engine.compiled.progress import pending_kernels, reporting_compiles
from phasefold.engine.compiled.rtisi import _rtisi_block
from phasefold.engine.streaming import Stream
pending = sorted(k.py_func.__name__ for k in pending_kernels(_rtisi_block))
mine, other = [], []
def elsewhere():
    Stream.open("rtisi-la")  # another thread's compiles are not this block's
with reporting_compiles(mine.append):
    t = threading.Thread(target=elsewhere); t.start(); t.join()
with reporting_compiles(other.append):
    Stream.open("fgla")
again = []
with reporting_compiles(again.append):
    Stream.open("fgla")  # compiled in this process already
print(json.dumps({"pending": pending, "mine": len(mine), "other": [vars(p) for p in other],
                  "again": len(again)}))
"""
    env = {
        **os.environ,
        "PHASEFOLD_CACHE_DIR": str(tmp_path / "cache"),
        "NUMBA_CACHE_DIR": str(tmp_path / "cache" / "numba"),
    }
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=600)
    assert proc.returncode == 0, proc.stderr
    r = json.loads(proc.stdout.strip().splitlines()[-1])
    assert {"_rtisi_block", "execute"} <= set(r["pending"])
    assert r["mine"] == 0 and r["again"] == 0
    events = r["other"]
    assert events and events[-1]["finished"] and events[-1]["done"] == events[-1]["total"]
    starts = [e["kernel"] for e in events if not e["finished"]]
    ends = [e["kernel"] for e in events if e["finished"]]
    assert sorted(starts) == sorted(ends)  # every kernel that started compiling finished
    assert all(0 <= e["done"] <= e["total"] for e in events)

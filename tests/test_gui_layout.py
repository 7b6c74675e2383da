"""What the window shows, offscreen: nothing cut off or hidden (status bar, legends), time axes that follow
the signal, figures that say what they measure, counts in words that agree, and --quit-after counted
in stream time."""

import os

os.environ["QT_QPA_PLATFORM"] = "offscreen"  # before Qt loads

import numpy as np
import pytest

pytest.importorskip("pyqtgraph")

from phasefold.cli import main  # noqa: E402
from phasefold.engine.wording import counted  # noqa: E402
from phasefold.gui import theme  # noqa: E402
from phasefold.gui.controls import frames_box  # noqa: E402
from phasefold.gui.sources import demo_audio  # noqa: E402
from phasefold.gui.views.divergence import DivergenceView  # noqa: E402
from phasefold.gui.views.spectrogram import SpectrogramView  # noqa: E402
from phasefold.gui.views.stoi import StoiView  # noqa: E402

FAST = "rtpghi"  # streams in real time on any machine
WAIT_MS = 60_000


@pytest.fixture
def window(make_window):
    return make_window(1.5)


def _stream_until_scored(window, qtbot) -> None:
    assert window.start_stream()
    qtbot.waitUntil(lambda: len(window.stoi_view.times) >= 2, timeout=WAIT_MS)
    window._tick()  # apply what arrived and redraw, as the frame timer does


def _data_rect(plot):
    """The scene rectangle of the plot's data area (its view box)."""
    return plot.getPlotItem().vb.sceneBoundingRect()


def test_status_bar_shows_every_label_whole_at_the_default_size(window, qtbot):
    assert (window.width(), window.height()) == (1480, 900)
    window.controls.method.setCurrentText(FAST)
    _stream_until_scored(window, qtbot)
    qtbot.wait(300)  # a stats event or two: RTF, latency, GUI interval set
    window._tick()
    qtbot.wait(50)
    message = window.status_label
    assert message.text().startswith("streaming built-in demo with rtpghi")
    long = f"{message.text()} ({'; '.join(['a note on the source file, as a resampled input has'] * 3)})"
    for text in (message.text(), long):
        window.show_status(text)
        qtbot.wait(50)
        # the message wraps (never elided or cut): all of its lines fit in the height it got
        assert message.wordWrap() and message.heightForWidth(message.width()) <= message.height()
        labels = (window.method_label, window.rtf_label, window.latency_label, window.xrun_label)
        for label in (*labels, window.frame_label):
            assert label.width() >= label.sizeHint().width(), label.text()  # never squeezed


def test_time_axes_follow_the_signal_length(window, qtbot):
    window.controls.method.setCurrentText(FAST)
    _stream_until_scored(window, qtbot)
    cfg = window.cfg
    x = demo_audio(cfg.sample_rate)
    n_frames = window.last_worker.source.n_frames
    span = n_frames * cfg.hop / cfg.sample_rate
    assert len(x) / cfg.sample_rate <= span < len(x) / cfg.sample_rate + 0.2  # all the demo's frames
    for view in (window.spec_in, window.spec_out):
        assert view.seconds == pytest.approx(span)
        assert view.getPlotItem().viewRange()[0] == pytest.approx([0.0, span])  # 6 s of demo: not 8
    lo, hi = window.stoi_view.plot.getPlotItem().viewRange()[0]
    assert lo <= 0.0 and span <= hi < span + 0.5


def test_spectrogram_span_is_a_setting(qtbot):
    view = SpectrogramView("input", sample_rate=22050, hop=256, n_bins=513)
    qtbot.addWidget(view)
    assert view.seconds == 8.0
    view.reset(3.0)
    assert view.seconds == 3.0 and view.ring.capacity == round(3.0 * 22050 / 256)
    view.push(0, np.zeros((10, 513), np.float32))
    view.refresh()
    assert view.getPlotItem().viewRange()[0] == pytest.approx([0.0, view.ring.capacity * 256 / 22050])


@pytest.mark.parametrize("view_kind", ["divergence", "stoi"])
def test_legends_never_cover_the_curves(qapp, qtbot, view_kind):
    theme.apply(qapp)
    y = np.linspace(0.0, 3.0, 400)
    if view_kind == "divergence":
        view = DivergenceView()
        learned = [(f"layer {t + 1}", (y - 1) ** 2 * (1 + 0.1 * t)) for t in range(15)]
        refs = [("quadratic", 0.5 * (y - 1) ** 2), ("KL(y|1)", y * np.log(np.maximum(y, 1e-12)) - y + 1)]
        view.show_curves("untied", y, learned, refs)
        plot = view
    else:
        view = StoiView(window_s=3.0)
        view.reset("vs the clean signal", "rtpghi, L = 3", span_s=6.0)
        for i in range(7):  # low scores in the lower right, where pyqtgraph's legend sat
            view.add(3.0 + 0.5 * i, 0.3 + 0.01 * i, 0.2)
        view.refresh()
        plot = view.plot
    qtbot.addWidget(view)
    view.resize(480, 420)
    view.show()
    qtbot.waitExposed(view)
    qapp.processEvents()
    legend = view.legend.sceneBoundingRect()
    assert len(view.legend.items) >= 2 and legend.height() > 10
    assert not legend.intersects(_data_rect(plot))  # outside the data area: no curve can be under it
    assert legend.top() >= _data_rect(plot).bottom()


def test_every_stoi_figure_says_what_it_measures(window, qtbot):
    window.controls.method.setCurrentText(FAST)
    _stream_until_scored(window, qtbot)
    view = window.stoi_view
    # the big figures: the last window only
    assert view.window_label.text() == "last 1.5 s:" and view.stoi_label.text().startswith("STOI 0.")
    # the session's: the mean of those windows, not the whole signal's STOI
    assert window.controls.session_scores.text().endswith("(mean of the 1.5 s windows so far)")
    window.stop_stream(wait=True)
    assert "mean of the 1.5 s windows so far" in window.status_label.text()


def test_counts_agree_with_their_words(qtbot):
    assert counted(1, "frame") == "1 frame" and counted(0, "frame") == "0 frames"
    assert counted(3, "point") == "3 points"
    box = frames_box(0, 8, 1)
    qtbot.addWidget(box)
    assert box.text() == "1 frame"
    box.setValue(3)
    assert box.text() == "3 frames"
    box.setValue(1)
    assert box.text() == "1 frame"


def test_window_block_box_says_1_frame(window):
    assert window.controls.block.value() == 1 and window.controls.block.text() == "1 frame"
    assert window.controls.lookahead.text() == f"{window.controls.lookahead.value()} frames"


def test_after_streaming_counts_stream_time_not_the_clock(window, qtbot):
    """The callback runs once the worker has reconstructed the seconds asked for (its own count)."""
    window.controls.method.setCurrentText(FAST)
    at = []

    def done() -> None:
        worker = window.last_worker
        at.append((worker._done() / window.cfg.sample_rate, window.streamed_seconds))

    window.after_streaming(1.0, done)
    assert window.start_stream()
    qtbot.waitUntil(lambda: bool(at), timeout=WAIT_MS)
    worker_s, shown_s = at[0]
    assert 1.0 <= shown_s <= worker_s < 2.0
    qtbot.wait(400)
    assert len(at) == 1  # once


def test_after_streaming_fires_when_the_stream_ends_first(window, qtbot):
    window.controls.method.setCurrentText(FAST)
    at = []
    window.after_streaming(60.0, lambda: at.append(window.streamed_seconds))
    assert window.start_stream()
    qtbot.waitUntil(lambda: bool(at), timeout=WAIT_MS)  # the 6 s demo ends before 60 s
    assert not window.streaming and 5.5 < at[0] < 60.0


def test_quit_after_prints_the_seconds_streamed(qapp, capsys):
    assert main(["gui", "--play", "--method", FAST, "--output", "null", "--quit-after", "1.5"]) == 0
    out = capsys.readouterr().out
    streamed = float(out.split("phasefold gui: ")[1].split(" s streamed")[0])
    assert 1.5 <= streamed < 3.0

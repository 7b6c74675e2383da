"""The GUI building blocks on their own: ring buffer, spectrogram, STOI and divergence views."""

import os

os.environ["QT_QPA_PLATFORM"] = "offscreen"  # before Qt loads

import numpy as np
import pytest
from PyQt6.QtCore import QPointF

pytest.importorskip("pyqtgraph")

from phasefold.gui import theme  # noqa: E402
from phasefold.gui.levels import to_db  # noqa: E402
from phasefold.gui.ring import ColumnRing  # noqa: E402
from phasefold.gui.views.divergence import DivergenceView  # noqa: E402
from phasefold.gui.views.spectrogram import SpectrogramView  # noqa: E402
from phasefold.gui.views.stoi import StoiView  # noqa: E402


@pytest.fixture(autouse=True)
def _theme(qapp):
    theme.apply(qapp)


def test_ring_matches_concatenation():
    rng = np.random.default_rng(0)
    ring = ColumnRing(capacity=7, width=3, fill=-1.0)
    history = np.full((7, 3), -1.0, dtype=np.float32)
    for n in (1, 3, 6, 7, 9, 2, 1, 20, 5):
        rows = rng.standard_normal((n, 3)).astype(np.float32)
        ring.push(rows)
        history = np.concatenate([history, rows])[-7:]
        view = ring.view()
        assert view.flags.c_contiguous and view.base is not None  # a view, never a copy
        np.testing.assert_array_equal(view, history)
    assert ring.count == 54
    with pytest.raises(ValueError):
        ring.push(np.zeros((2, 4)))


def test_to_db_is_finite_and_exact():
    mag = np.array([[0.0, 1.0, 10.0]])
    db = to_db(mag)
    assert db.dtype == np.float32 and np.all(np.isfinite(db))
    np.testing.assert_allclose(db[0, 1:], [0.0, 20.0])
    np.testing.assert_allclose(to_db(mag**2, power=2.0), db)


def test_spectrogram_scrolls_and_places_frames(qtbot):
    view = SpectrogramView("input", sample_rate=22050, hop=256, n_bins=513, seconds=1.0, levels=(-60, 0))
    qtbot.addWidget(view)
    cap = view.ring.capacity
    # fewer frames than the view holds: they start at time 0 on the left
    view.push(0, np.zeros((5, 513), np.float32))
    view.refresh()
    assert view.image.mapToView(QPointF(0.0, cap - 5.0)).x() == pytest.approx(0.0, abs=1e-9)
    assert view.getPlotItem().viewRange()[0] == pytest.approx([0.0, cap * 256 / 22050], abs=1e-3)
    view.reset()
    frames = np.linspace(-60, 0, 513, dtype=np.float32)[None, :] + np.zeros((cap + 10, 1), np.float32)
    frames[:, 0] = np.arange(cap + 10)  # tag each frame by its index
    view.push(0, frames[:30])
    view.push(30, frames[30:])
    assert view.refresh() and not view.refresh()  # draws once per batch of new frames
    img = view.image.image
    assert img.shape == (cap, 513) and img.dtype == np.float32
    np.testing.assert_array_equal(img[:, 0], np.arange(10, cap + 10))
    # the newest frame (index cap + 9) sits at its time m H / sr on the time axis, bin k at k sr / N Hz
    point = view.image.mapToView(QPointF(100.5, cap - 0.5))
    assert point.x() == pytest.approx((cap + 9.5) * 256 / 22050, rel=1e-6)
    assert point.y() == pytest.approx(100 * 22050 / 1024, rel=1e-6)
    xr = view.getPlotItem().viewRange()[0]
    assert xr[1] == pytest.approx((cap + 10) * 256 / 22050, rel=1e-3)
    # a gap is shown as the floor, a repeat is dropped
    view.push(cap + 12, frames[:1])
    view.push(cap + 12, frames[:1])
    view.refresh()
    np.testing.assert_array_equal(view.image.image[-3:, 1], [-60, -60, frames[0, 1]])
    assert view.frames_drawn == cap + 13


def test_stoi_view_trace_and_csv(qtbot):
    view = StoiView(window_s=3.0)
    qtbot.addWidget(view)
    view.reset("vs the clean reference")
    assert np.isnan(view.mean()[0])
    for i, (s, e) in enumerate([(0.9, 0.7), (0.8, 0.6)]):
        view.add(3.0 + 0.5 * i, s, e)
    assert view.refresh()
    x, y = view.stoi_curve.getData()
    np.testing.assert_allclose(x, [3.0, 3.5])
    np.testing.assert_allclose(y, [0.9, 0.8])
    assert view.mean() == pytest.approx((0.85, 0.65))
    assert view.stoi_label.text() == "STOI 0.800"
    expected = ["time_s,stoi,estoi", "3.0000,0.900000,0.700000", "3.5000,0.800000,0.600000"]
    assert view.to_csv().splitlines() == expected
    # a new run keeps the last one drawn, dashed, for comparison; the CSV holds the new run only
    view.reset("vs the clean reference", "rtisi-la, L = 3")
    view.add(3.0, 0.95, 0.9)
    view.refresh()
    np.testing.assert_allclose(view.prev_stoi_curve.getData()[1], [0.9, 0.8])
    names = [label.text for _, label in view.legend.items]
    assert "STOI rtisi-la, L = 3" in names and any("previous run" in n for n in names)
    assert view.to_csv().splitlines()[1:] == ["3.0000,0.950000,0.900000"]
    assert view.plot.getPlotItem().viewRange()[1][0] == pytest.approx(0.55)  # zoomed on the scores


def test_divergence_view_draws_every_curve(qtbot):
    view = DivergenceView()
    qtbot.addWidget(view)
    y = np.linspace(0.01, 3.0, 50)
    learned = [(f"layer {t + 1}", (y - 1) ** 2 * (1 + 0.1 * t)) for t in range(15)]
    refs = [("quadratic", 0.5 * (y - 1) ** 2), ("KL(y|1)", y * np.log(y) - y + 1)]
    view.show_curves("untied", y, learned, refs)
    items = view.getPlotItem().listDataItems()
    assert len(items) == 17 and view.n_learned == 15
    np.testing.assert_allclose(items[-1].getData()[1], refs[1][1])
    top = view.getPlotItem().viewRange()[1][1]
    assert 4.0 * 2.0 < top < 9.0  # steep learned curves leave the top; the references stay readable
    view.show_curves("rtisi-la", y, [], refs, note="no learned divergence")
    assert len(view.getPlotItem().listDataItems()) == 2 and view.note == "no learned divergence"

"""The compiled classical window steps against the numpy steps (engine.admm), the independent reference.

ADMM-l2 runs the models' float32 kernel (the b = 2 member of the learned family) and (F)GLA a float32
kernel, so they equal the float64 numpy steps to float32 rounding; the KL and IS proxes stay float64 and
equal them to float64 rounding.
"""

from __future__ import annotations

import numpy as np
import pytest
from phasefold.engine import runners
from phasefold.engine.registry import lookup
from phasefold.engine.stft import StftConfig

pytest.importorskip("numba")

CFG = StftConfig()
# (method, precision of its compiled step, relative tolerance on x and on the dual)
CASES = [
    ("admm-l2", np.float32, 5e-5),
    ("fgla", np.float32, 5e-5),
    ("gla", np.float32, 5e-5),
    ("admm-kl", np.float64, 1e-10),
    ("admm-kl-right", np.float64, 1e-10),
    ("admm-is", np.float64, 1e-10),
]


def _window(w: int, n_fixed: int, seed: int):
    rng = np.random.default_rng(seed)
    s = CFG.span(w)
    fixed = np.zeros(s)
    fixed[:n_fixed] = 1.0
    mag = rng.random((w, CFG.n_bins))
    mag[:, :3] = 0.0  # zero measurements take the proxes' special cases
    return mag, rng.standard_normal(s), fixed, 0.01 * rng.standard_normal((2, w, CFG.n_bins))


@pytest.mark.parametrize(("method", "dtype", "rtol"), CASES)
@pytest.mark.parametrize(("w", "n_fixed"), [(4, 3 * 256), (7, 0), (40, 1000)])
def test_compiled_step_equals_the_numpy_step(method, dtype, rtol, w, n_fixed):
    compiled, _ = runners.window_step(lookup(method), CFG, 6, "compiled")
    reference, _ = runners.window_step(lookup(method), CFG, 6, "numpy")
    assert compiled.backend == "compiled" and compiled.dtype == dtype
    mag, x, fixed, lam = _window(w, n_fixed, seed=w)
    x_c, lam_c = compiled(mag, x, fixed, lam)
    x_r, lam_r = reference(mag, x, fixed, lam)
    assert x_c.dtype == dtype and x_c.shape == x_r.shape
    assert np.abs(x_c - x_r).max() <= rtol * np.abs(x_r).max()
    assert np.abs(np.asarray(lam_c) - lam_r).max() <= 10 * rtol * max(np.abs(lam_r).max(), 1e-12)
    np.testing.assert_array_equal(x_c[:n_fixed], x[:n_fixed].astype(dtype))  # fixed samples stay
    # the steps did work: the output is not the input
    assert np.abs(x_r - x).max() > 1e3 * rtol * np.abs(x).max()


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize(("lookahead", "block"), [(0, 1), (3, 1), (1, 3)])
def test_compiled_new_frames_equal_the_numpy_slide_and_start(dtype, lookahead, block):
    """The compiled slide-and-start (engine.compiled.window) against WindowProcessor's numpy path, with an
    identity window step, so that the window state after each block is the new frames' start alone."""
    from phasefold.engine.runners import WindowStep
    from phasefold.engine.streaming.window import WindowProcessor

    step = WindowStep(lambda mag, x, fixed, lam: (x, lam), "identity", 0, dtype=dtype)
    procs = [WindowProcessor(step, CFG, lookahead, block, compiled_frames=c) for c in (True, False)]
    assert procs[0]._fast is not None and procs[1]._fast is None
    rng = np.random.default_rng(lookahead)
    tol = 2e-5 if dtype == np.float32 else 1e-9
    for _ in range(8):
        mags = rng.random((block, CFG.n_bins))
        mags[:, 5] = 0.0  # a zero bin starts at phase 0 in both
        outs = [p.process(mags) for p in procs]
        assert procs[0].x.dtype == dtype
        scale = np.abs(procs[1].x).max()
        assert np.abs(procs[0].x - procs[1].x).max() <= tol * scale
        np.testing.assert_array_equal(procs[0].mag, procs[1].mag)
        assert np.abs(outs[0] - outs[1]).max() <= tol * scale
    assert scale > 0.1  # the frames did enter the estimate


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_compiled_level_check_keeps_the_running_levels_shift(dtype):
    """The compiled new-frame kernel measures the frames' level itself and scales them by 2^-k: against the
    same processor sending every block through engine.level.RunningLevel.update (its kernel's check
    switched off), bit for bit, on blocks that are silent, louder, as loud as the loudest (the same frame
    again), louder in one bin by one ulp, quieter, below the fast level's range (1e-150)."""
    from phasefold.engine.runners import WindowStep
    from phasefold.engine.streaming.window import WindowProcessor

    step = WindowStep(lambda mag, x, fixed, lam: (x, lam), "identity", 0, dtype=dtype)
    procs = [WindowProcessor(step, CFG, 1, 2, compiled_frames=True) for _ in range(2)]
    kernel = procs[1]._fast

    def update_path_only(mag, x, lam, new, ceiling=np.inf, factor=1.0):
        return ceiling == np.inf and kernel(mag, x, lam, new)

    procs[1]._fast = update_path_only
    rng = np.random.default_rng(7)
    loud = rng.random((2, CFG.n_bins))
    louder = loud.copy()
    louder[1, 9] = np.nextafter(louder[1, 9], 2.0)
    blocks = [np.zeros_like(loud), 1e-150 * loud, 1e-150 * loud, 1e-140 * loud, 1e-3 * loud, loud, loud]
    blocks += [louder, 0.5 * loud, rng.random((2, CFG.n_bins)), 2.0 * rng.random((2, CFG.n_bins))]
    shifts = []
    for mags in blocks:
        outs = [p.process(mags.copy()) for p in procs]
        np.testing.assert_array_equal(outs[0], outs[1])
        np.testing.assert_array_equal(procs[0].x, procs[1].x)
        np.testing.assert_array_equal(procs[0].mag, procs[1].mag)
        assert procs[0]._level.k == procs[1]._level.k
        shifts.append(procs[0]._level.k)
    assert shifts[1] < -400 and shifts[3] > shifts[1] and shifts[5] > shifts[4] > shifts[3]  # the level grew
    nan = loud.copy()
    nan[0, 3] = np.nan  # reaches the kernel through update (the check fails on NaN) and enters the state
    for p in procs:
        p.process(nan.copy())
        assert np.isnan(p.mag[-2, 3]) and np.isnan(p.x).any()


def _untrained_stream_models() -> list[str]:
    """Shipped stream models whose trainer kept the untrained start (epoch 0: ADMM-l2 with b = 2)."""
    from phasefold.engine.model_card import ModelCard
    from phasefold.exported_models import MODELS_DIR

    out = []
    for path in sorted(MODELS_DIR.glob("unfolded-stream-*.onnx")):
        card = ModelCard.read(path)
        selected = (card.training or {}).get("selected", {}).get("epoch")
        admm_l2_start = "rho" not in card.parameters and not card.gla
        if selected == 0 and admm_l2_start and set(card.parameters["b"]) == {2.0}:
            out.append(path.stem)
    return out


@pytest.mark.parametrize("name", _untrained_stream_models() or ["none"])
def test_an_untrained_stream_model_streams_exactly_what_admm_l2_streams(name):
    """The untrained network is ADMM-l2 (rho = 0.1, b = 2, no pieces): the compiled engine runs both on
    the same kernel, so the model's stream at one pass and admm-l2's with as many iterations are the same
    samples.
    A trained model (unfolded-stream-l0) is not, which shows that the comparison can fail."""
    from phasefold.engine.demo import demo_signal
    from phasefold.engine.stft import magnitude
    from phasefold.engine.streaming import Stream
    from phasefold.engine.streaming.offline import run_stream

    if name == "none":
        pytest.skip("no shipped stream model is the untrained network")
    from phasefold.engine.model_card import ModelCard
    from phasefold.exported_models import MODELS_DIR

    cfg = ModelCard.read(MODELS_DIR / f"{name}.onnx").stft  # the model's own STFT (16 kHz models too)
    x = demo_signal(1.0, cfg.sample_rate)
    r = magnitude(x, cfg)
    model = Stream.open(name, cfg, lookahead=None, iterations=1)  # one pass: its card may ask for more
    admm = Stream.open("admm-l2", cfg, lookahead=model.lookahead, iterations=model.processor.step.projections)
    assert model.processor.backend == admm.processor.backend == "compiled"
    np.testing.assert_array_equal(run_stream(model, r, x.size), run_stream(admm, r, x.size))
    x = demo_signal(1.0)
    r = magnitude(x, CFG)
    trained = Stream.open("unfolded-stream-l0", CFG, lookahead=0)
    other = Stream.open("admm-l2", CFG, lookahead=0, iterations=trained.processor.step.projections)
    assert np.abs(run_stream(trained, r, x.size) - run_stream(other, r, x.size)).max() > 1e-3

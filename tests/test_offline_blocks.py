"""Long offline reconstructions run in blocks of frames (engine.runners.run_span), and magnitudes are
computed block by block (engine.stft.magnitude), so that memory does not grow with the signal."""

from __future__ import annotations

import numpy as np
import pytest
from phasefold.engine import runners, stft
from phasefold.engine.evaluation import spectral_convergence_db
from phasefold.engine.registry import lookup
from phasefold.engine.stft import StftConfig, magnitude


@pytest.mark.parametrize("hop", [256, 512])
@pytest.mark.parametrize("n", [1, 3000, 40000])
def test_blockwise_magnitude_equals_the_whole_spectrogram(monkeypatch, hop, n):
    cfg = StftConfig(hop=hop)
    x = np.random.default_rng(n).standard_normal(n)
    monkeypatch.setattr(stft, "MAGNITUDE_BLOCK_FRAMES", 7)
    np.testing.assert_array_equal(magnitude(x, cfg), np.abs(stft.stft(x, cfg)))
    assert magnitude(x, cfg, dtype=np.float32).dtype == np.float32


def _step(name: str, iterations: int):
    step, _ = runners.window_step(lookup(name), StftConfig(), iterations, "numpy")
    return step


@pytest.fixture(scope="module")
def speech_mag(speech):
    cfg = StftConfig()
    return cfg, speech, magnitude(speech, cfg)


def test_a_signal_within_one_block_is_rebuilt_exactly_as_before(speech_mag):
    """Up to ``block`` frames run_span is one step over the whole signal: the block size does not matter."""
    cfg, x, mag = speech_mag
    step = _step("fgla", 20)
    whole = runners.run_span(step, mag, cfg, 3, x.size)
    np.testing.assert_array_equal(whole, runners.run_span(step, mag, cfg, 3, x.size, block=mag.shape[0]))


@pytest.mark.parametrize("name", ["fgla", "admm-l2"])
def test_blocks_rebuild_the_signal_as_well_as_the_whole_signal_run(speech_mag, name):
    """Blocks of 40 frames (1.5 s of speech in 4 blocks) with seams: the consistency of the result stays
    within 1 dB of the whole-signal run's, and every sample is written (no zero gap at a seam)."""
    cfg, x, mag = speech_mag
    step = _step(name, 30)
    whole = runners.run_span(step, mag, cfg, 0, x.size)
    blocks = runners.run_span(step, mag, cfg, 0, x.size, block=40, margin=8)
    assert mag.shape[0] > 3 * 40 - 2 * (8 + cfg.overlap)  # at least three blocks
    sc_whole, sc_blocks = (spectral_convergence_db(y, mag, cfg) for y in (whole, blocks))
    assert sc_blocks < sc_whole + 1.0, (sc_whole, sc_blocks)
    assert sc_blocks < -10.0
    hops = x.size // cfg.hop * cfg.hop
    energy_in = (x[:hops].reshape(-1, cfg.hop) ** 2).sum(axis=1)
    energy_out = (blocks[:hops].reshape(-1, cfg.hop) ** 2).sum(axis=1)
    assert np.all(energy_out[energy_in > 1e-3 * energy_in.max()] > 0)  # no hop left unwritten at a seam


def test_committed_samples_of_a_block_are_what_the_next_block_holds_fixed(speech_mag):
    """The step of every block after the first receives the samples already final as fixed, unchanged."""
    cfg, x, mag = speech_mag
    inner = _step("fgla", 5)
    seen = []

    def checked(m, span, fixed, lam):
        out, lam_out = inner(m, span, fixed, lam)
        np.testing.assert_array_equal(out[fixed > 0], span[fixed > 0])
        seen.append(bool(fixed[: (cfg.overlap - 1) * cfg.hop].all()))
        return out, lam_out

    runners.run_span(checked, mag, cfg, 0, x.size, block=40, margin=8)
    assert len(seen) >= 3 and all(seen)  # the front padding, then each block's final head


def test_a_block_too_small_for_its_margin_is_refused(speech_mag):
    cfg, x, mag = speech_mag
    with pytest.raises(ValueError, match="margin"):
        runners.run_span(_step("gla", 1), mag, cfg, 0, x.size, block=10, margin=8)

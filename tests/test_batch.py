"""phasefold.reconstruct over leading batch dimensions [..., frames, freq] -> [..., samples]: each item is
exactly what the 2-D call gives (the reference), whatever the method."""

from __future__ import annotations

import numpy as np
import phasefold
import pytest
from phasefold.engine.demo import demo_signal
from phasefold.engine.errors import InputError


@pytest.fixture(scope="module")
def mags() -> np.ndarray:
    """[2, 3, frames, freq]: six different magnitudes of one length."""
    x = demo_signal(0.3)
    items = [np.abs(phasefold.stft(x * (0.2 + 0.1 * i) + 0.01 * np.roll(x, 37 * i))) for i in range(6)]
    return np.stack(items).reshape(2, 3, *items[0].shape)


@pytest.mark.parametrize("method", ["fgla", "admm-kl", "unfolded-tied"])
def test_each_item_is_the_two_dimensional_call(mags, method):
    got = phasefold.reconstruct(mags, method=method, iterations=5, seed=3)
    n = phasefold.reconstruct(mags[0, 0], method=method, iterations=5, seed=3).size
    assert got.shape == (2, 3, n) and got.dtype == np.float64
    for index in np.ndindex(2, 3):
        want = phasefold.reconstruct(mags[index], method=method, iterations=5, seed=3)
        assert np.array_equal(got[index], want), index


def test_a_batch_takes_the_length_and_one_leading_dimension(mags):
    flat = mags.reshape(6, *mags.shape[-2:])
    size = demo_signal(0.3).size  # the signals' own length (the default is the longest the frames hold)
    got = phasefold.reconstruct(flat, method="fgla", iterations=2, length=size)
    assert got.shape == (6, size)
    assert np.array_equal(got[4], phasefold.reconstruct(flat[4], method="fgla", iterations=2, length=size))


def test_an_empty_batch_gives_an_empty_batch(mags):
    empty = mags[:0]
    got = phasefold.reconstruct(empty, method="fgla", iterations=2)
    n = phasefold.reconstruct(mags[0, 0], method="fgla", iterations=2).size
    assert got.shape == (0, 3, n)


def test_a_bad_item_is_named(mags):
    bad = mags.copy()
    bad[1, 2, 0, 0] = np.nan
    with pytest.raises(InputError, match=r"^magnitudes\[1, 2\]: .*(NaN|finite)"):
        phasefold.reconstruct(bad, method="fgla", iterations=2)


def test_a_batch_starts_each_item_from_its_own_given_phase(mags):
    """init of the magnitudes' shape: item i starts from init[i], as the 2-D call with init[i] does."""
    phase = np.random.default_rng(5).uniform(-np.pi, np.pi, mags.shape)
    got = phasefold.reconstruct(mags, method="fgla", iterations=3, init=phase)
    for index in np.ndindex(2, 3):
        want = phasefold.reconstruct(mags[index], method="fgla", iterations=3, init=phase[index])
        assert np.array_equal(got[index], want), index
    with pytest.raises(InputError, match=r"init must have the magnitudes' shape \[2, 3, "):
        phasefold.reconstruct(mags, method="fgla", iterations=3, init=phase[0])

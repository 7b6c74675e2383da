"""The Pareto front of benchmarks.stream_models_quality against the definition, point by point."""

from __future__ import annotations

import numpy as np
import pytest

from benchmarks.stream_models_quality import pareto


def _dominated(p, points, higher_better: bool) -> bool:
    sign = 1.0 if higher_better else -1.0
    return any(
        q[0] <= p[0] and sign * q[1] >= sign * p[1] and (q[0] < p[0] or sign * q[1] > sign * p[1])
        for q in points
    )


@pytest.mark.parametrize("higher_better", [True, False])
@pytest.mark.parametrize("seed", range(5))
def test_front_is_exactly_the_non_dominated_points(seed, higher_better):
    rng = np.random.default_rng(seed)
    points = [(float(c), float(v), f"m{i}") for i, (c, v) in enumerate(rng.integers(0, 6, size=(30, 2)))]
    front = pareto(points, higher_better)
    expected = {p for p in points if not _dominated(p, points, higher_better)}
    # equal (cost, value) pairs are one point of the front: keep one of each
    assert {(c, v) for c, v, _ in front} == {(c, v) for c, v, _ in expected}
    assert len(front) == len({(c, v) for c, v, _ in expected})
    assert [c for c, _, _ in front] == sorted(c for c, _, _ in front)

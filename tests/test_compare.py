"""τ-a: equal to rsatoolbox's and to a brute-force pair count, with and without ties."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from rsatoolbox.rdm import RDMs, compare

from brainlike.compare import tau_a


def brute_force_tau_a(x: np.ndarray, y: np.ndarray) -> float:
    n = len(x)
    i, j = np.triu_indices(n, k=1)
    return float(np.sum(np.sign(x[i] - x[j]) * np.sign(y[i] - y[j])) / (n * (n - 1) / 2))


def rsatoolbox_tau_a(x: np.ndarray, ys: np.ndarray) -> np.ndarray:
    return compare(RDMs(x[None, :]), RDMs(ys), method="tau-a")[0]


# Few distinct values make ties in one vector, in the other and in both.
vectors = st.integers(min_value=3, max_value=60).flatmap(
    lambda n: st.tuples(
        arrays(np.float64, n, elements=st.integers(0, 5).map(float)),
        arrays(np.float64, (4, n), elements=st.integers(0, 5).map(float)),
    )
)


@settings(max_examples=300, deadline=None)
@given(vectors)
def test_tau_a_with_ties_equals_rsatoolbox_and_brute_force(pair):
    x, ys = pair
    if np.ptp(x) == 0 or np.any(np.ptp(ys, axis=1) == 0):
        return  # rsatoolbox rejects constant RDMs
    ours = tau_a(x, ys)
    np.testing.assert_allclose(ours, rsatoolbox_tau_a(x, ys), rtol=0, atol=1e-12)
    np.testing.assert_allclose(ours, [brute_force_tau_a(x, y) for y in ys], rtol=0, atol=1e-12)


@pytest.mark.parametrize("n", [2, 3, 17, 1000, 6903])
def test_tau_a_without_ties_equals_rsatoolbox(n):
    rng = np.random.default_rng(n)
    x, ys = rng.normal(size=n), rng.normal(size=(3, n))
    np.testing.assert_allclose(tau_a(x, ys), rsatoolbox_tau_a(x, ys), rtol=0, atol=1e-12)
    if n <= 1000:
        np.testing.assert_allclose(tau_a(x, ys), [brute_force_tau_a(x, y) for y in ys], rtol=0, atol=1e-12)


def test_tau_a_of_planted_orderings():
    x = np.arange(10.0)
    assert tau_a(x, x) == 1.0
    assert tau_a(x, -x) == -1.0
    # One swapped neighbour pair: 44 concordant, 1 discordant of 45.
    swapped = x.copy()
    swapped[[3, 4]] = swapped[[4, 3]]
    assert tau_a(x, swapped) == pytest.approx(43 / 45, abs=1e-15)
    # All of y tied: τ-a is 0 (no pair counts), where τ-b would be undefined.
    assert tau_a(x, np.zeros(10)) == 0.0


def test_tau_a_leaves_out_nan_positions_per_pair():
    rng = np.random.default_rng(1)
    x, ys = rng.normal(size=30), rng.normal(size=(2, 30))
    ys[1, 5] = np.nan
    result = tau_a(x, ys)
    keep = np.arange(30) != 5
    assert result[0] == pytest.approx(brute_force_tau_a(x, ys[0]), abs=1e-12)
    assert result[1] == pytest.approx(brute_force_tau_a(x[keep], ys[1, keep]), abs=1e-12)


def test_tau_a_rejects_vectors_of_different_length():
    with pytest.raises(ValueError, match="differ in length: 5 and 4"):
        tau_a(np.zeros(5), np.zeros((2, 4)))

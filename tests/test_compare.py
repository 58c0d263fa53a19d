"""Comparisons: equal to rsatoolbox's and to brute-force pair counts, with and without ties or NaN."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from rsatoolbox.rdm import RDMs
from rsatoolbox.rdm import compare as rsatoolbox_compare
from scipy.stats import kendalltau, pearsonr, spearmanr

from brainlike.compare import METHODS, _sorted_groups, compare, compare_pairs

RSATOOLBOX_NAMES = {"tau-a": "tau-a", "tau-b": "kendall", "spearman": "spearman", "pearson": "corr"}


def brute_force_tau_a(x: np.ndarray, y: np.ndarray) -> float:
    n = len(x)
    i, j = np.triu_indices(n, k=1)
    return float(np.sum(np.sign(x[i] - x[j]) * np.sign(y[i] - y[j])) / (n * (n - 1) / 2))


def scipy_value(x: np.ndarray, y: np.ndarray, method: str) -> float:
    if method == "tau-a":
        return brute_force_tau_a(x, y)
    if method == "tau-b":
        return kendalltau(x, y).statistic
    if method == "spearman":
        return spearmanr(x, y).statistic
    return pearsonr(x, y).statistic


# Few distinct values make ties in the references, in the others and in both.
grids = st.integers(min_value=3, max_value=60).flatmap(
    lambda n: st.tuples(
        arrays(np.float64, (3, n), elements=st.integers(0, 5).map(float)),
        arrays(np.float64, (4, n), elements=st.integers(0, 5).map(float)),
    )
)


@settings(max_examples=200, deadline=None)
@given(grids, st.sampled_from(METHODS))
def test_grid_with_ties_equals_rsatoolbox_and_scipy(pair, method):
    references, others = pair
    if np.any(np.ptp(references, axis=1) == 0) or np.any(np.ptp(others, axis=1) == 0):
        return  # constant RDMs: rsatoolbox rejects them, correlations are undefined
    ours = compare(references, others, method)
    theirs = rsatoolbox_compare(RDMs(references), RDMs(others), method=RSATOOLBOX_NAMES[method])
    np.testing.assert_allclose(ours, theirs, rtol=0, atol=1e-12)
    independent = [[scipy_value(x, y, method) for y in others] for x in references]
    np.testing.assert_allclose(ours, independent, rtol=0, atol=1e-12)


@pytest.mark.parametrize("n", [2, 3, 17, 1000, 6903])
def test_tau_a_without_ties_equals_rsatoolbox(n):
    rng = np.random.default_rng(n)
    references, others = rng.normal(size=(2, n)), rng.normal(size=(3, n))
    ours = compare(references, others, "tau-a")
    np.testing.assert_allclose(ours, rsatoolbox_compare(RDMs(references), RDMs(others), method="tau-a"), rtol=0, atol=1e-12)
    if n <= 1000:
        np.testing.assert_allclose(
            ours, [[brute_force_tau_a(x, y) for y in others] for x in references], rtol=0, atol=1e-12
        )


def skewed_vectors(rng: np.random.Generator, n: int) -> list[np.ndarray]:
    """Spreads the bucket sort must still order: outliers that crowd most values into one bucket,
    heavy tails, infinities, subnormal spans, constants and values in a few runs."""
    return [
        np.append(rng.random(n - 1), 1e12),
        rng.standard_cauchy(n),
        np.append(rng.random(n - 2), [np.inf, -np.inf]),
        np.append(np.zeros(n - 1), 5e-324),
        np.full(n, 0.7),
        np.round(rng.random(n), 1),
        np.append(np.zeros(n - 10), rng.random(10)),
    ]


@pytest.mark.parametrize("n", [12, 60, 3000])
def test_any_spread_of_values_is_sorted_and_counted_exactly(n):
    rng = np.random.default_rng(n)
    vectors = np.stack(skewed_vectors(rng, n))
    orders, groups, _ = _sorted_groups(vectors, np.ones(n, np.int64))
    np.testing.assert_array_equal(np.take_along_axis(vectors, orders.astype(np.int64), axis=1), np.sort(vectors, axis=1))
    np.testing.assert_array_equal(np.sort(orders, axis=1), np.tile(np.arange(n), (len(vectors), 1)))
    np.testing.assert_array_equal(groups[:, -1] + 1, [len(np.unique(vector)) for vector in vectors])
    if n <= 60:
        others = rng.normal(size=(2, n))
        finite = np.all(np.isfinite(vectors), axis=1)
        expected = [[brute_force_tau_a(x, y) for y in others] for x in vectors[finite]]
        np.testing.assert_allclose(compare(vectors[finite], others, "tau-a"), expected, rtol=0, atol=1e-12)


def test_long_tie_blocks_in_the_reference_are_taken_out_exactly():
    rng = np.random.default_rng(3)
    # Runs of equal reference values far longer than one merge block, ties in the other vector too.
    reference = np.repeat(rng.permutation(7).astype(float), 300)
    others = rng.integers(0, 40, size=(3, reference.size)).astype(float)
    expected = [brute_force_tau_a(reference, y) for y in others]
    np.testing.assert_allclose(compare(reference, others, "tau-a")[0], expected, rtol=0, atol=1e-12)


def tied_pairs(values: np.ndarray) -> int:
    counts = np.unique(values, return_counts=True)[1]
    return int((counts * (counts - 1) // 2).sum())


def test_long_vectors_counted_on_partitioned_trees_equal_scipy():
    """More than 2**16 distinct values: the counts run on trees partitioned by the values' top bits."""
    rng = np.random.default_rng(11)
    n = 110_000
    reference = rng.integers(0, 30_000, n).astype(float)  # ties in the reference
    other = rng.normal(size=n)
    other[rng.choice(n, 500)] = other[rng.choice(n, 500)]  # and in the other
    weights = rng.integers(0, 3, n)
    assert len(np.unique(other[weights > 0])) > 2**16
    assert_weighted_counts_equal_scipy(reference, other, weights)


def assert_weighted_counts_equal_scipy(reference: np.ndarray, other: np.ndarray, weights: np.ndarray) -> None:
    """τ-b and τ-a of weighted positions against scipy's τ-b of the repeated vectors (O(n log n),
    so long vectors stay cheap) and the τ-a derived from it through the tied pairs."""
    x, y = np.repeat(reference, weights), np.repeat(other, weights)
    tau_b = kendalltau(x, y).statistic
    total = len(x) * (len(x) - 1) // 2
    tau_a = tau_b * np.sqrt(float(total - tied_pairs(x)) * float(total - tied_pairs(y))) / total
    ours = {method: compare(reference, other, method, weights=weights)[0, 0] for method in ("tau-a", "tau-b")}
    assert ours["tau-b"] == pytest.approx(tau_b, abs=1e-12)
    assert ours["tau-a"] == pytest.approx(tau_a, abs=1e-12)


@pytest.mark.parametrize("total_weight", [2**16 - 1, 2**17])
def test_counts_at_the_packed_trees_weight_limit_equal_scipy(total_weight):
    """Below 2**16 in total weight the counts run on 16-bit counters (the packed tree), above it on
    the binary tree: on both sides of the limit, with one position of half the weight at the
    largest value (a counter past 2**16 would carry into its neighbour), ties on both sides and an
    odd number of levels."""
    rng = np.random.default_rng(total_weight)
    n = 20_000
    reference = rng.integers(0, 3_000, n).astype(float)
    other = rng.integers(0, 5_000, n).astype(float)  # 13 levels
    weights = rng.integers(0, 3, n)
    weights[np.argmax(other)] = total_weight // 2 + 1
    weights[0] += total_weight - weights.sum()
    assert weights.min() >= 0 and weights.sum() == total_weight
    assert_weighted_counts_equal_scipy(reference, other, weights)


@pytest.mark.parametrize("n", [2**16 - 1, 2**16, 70_000])
def test_distinct_values_counted_on_the_bitset_equal_scipy(n):
    """An other vector of distinct values, each of weight one, is counted on a bitset below the
    packed tree: up to 2**16 − 1 values, at the limit (the binary tree) and in the partitions of a
    longer vector; the reference has ties, so tie blocks are taken out of the bitset's count."""
    rng = np.random.default_rng(n)
    reference = rng.integers(0, n // 3, n).astype(float)
    other = rng.permutation(n).astype(float)
    assert_weighted_counts_equal_scipy(reference, other, np.ones(n, np.int64))


def test_reference_batches_give_the_same_values(monkeypatch):
    import brainlike.compare

    rng = np.random.default_rng(5)
    references, others = rng.normal(size=(7, 50)), rng.normal(size=(4, 50))
    whole = compare(references, others)
    monkeypatch.setattr(brainlike.compare, "REFERENCE_BATCH_ENTRIES", 100)  # two references per batch
    np.testing.assert_array_equal(compare(references, others), whole)


def test_planted_orderings():
    x = np.arange(10.0)
    assert compare(x, x)[0, 0] == 1.0
    assert compare(x, -x)[0, 0] == -1.0
    # One swapped neighbour pair: 44 concordant, 1 discordant of 45.
    swapped = x.copy()
    swapped[[3, 4]] = swapped[[4, 3]]
    assert compare(x, swapped)[0, 0] == pytest.approx(43 / 45, abs=1e-15)
    # All of y tied: τ-a is 0 (no pair counts), where τ-b is undefined.
    assert compare(x, np.zeros(10), "tau-a")[0, 0] == 0.0
    assert np.isnan(compare(x, np.zeros(10), "tau-b")[0, 0])


@pytest.mark.parametrize("method", METHODS)
def test_nan_positions_are_left_out_per_pair(method):
    rng = np.random.default_rng(1)
    references, others = rng.normal(size=(2, 30)), rng.normal(size=(3, 30))
    others[1, 5] = np.nan
    references[1, 7] = np.nan
    result = compare(references, others, method)
    for row in range(2):
        for column in range(3):
            keep = ~(np.isnan(references[row]) | np.isnan(others[column]))
            expected = scipy_value(references[row, keep], others[column, keep], method)
            assert result[row, column] == pytest.approx(expected, abs=1e-12)


@pytest.mark.parametrize("device", [None, "cpu"])
@pytest.mark.parametrize("method", METHODS)
def test_pairs_are_each_row_against_its_own_row(method, device, monkeypatch):
    """compare_pairs equals scipy (brute force for τ-a) row by row, ties and NaN positions
    included, and τ exactly the diagonal of compare (integer counts) across reference batches."""
    import brainlike.compare

    rng = np.random.default_rng(2)
    references, others = np.round(rng.random((9, 40)), 1), np.round(rng.random((9, 40)), 1)
    references[2, 4] = others[5, 6] = np.nan
    monkeypatch.setattr(brainlike.compare, "REFERENCE_BATCH_ENTRIES", 80)  # two references per batch
    paired = compare_pairs(references, others, method, device)
    for row in range(9):
        keep = ~(np.isnan(references[row]) | np.isnan(others[row]))
        assert paired[row] == pytest.approx(scipy_value(references[row, keep], others[row, keep], method), abs=1e-12)
    if method.startswith("tau"):
        np.testing.assert_array_equal(paired, np.diag(compare(references, others, method, device)))
    with pytest.raises(ValueError, match="as many references as others: 9 and 8"):
        compare_pairs(references, others[:8], method, device)


def test_bad_input_is_named():
    with pytest.raises(ValueError, match="differ in length: 5 and 4"):
        compare(np.zeros(5), np.zeros((2, 4)))
    with pytest.raises(ValueError, match="unknown comparison method 'cosine'; valid: tau-a, tau-b, spearman, pearson"):
        compare(np.zeros(5), np.zeros(5), "cosine")


weighted_grids = grids.flatmap(
    lambda pair: st.tuples(st.just(pair), arrays(np.int64, pair[0].shape[1], elements=st.integers(0, 4)))
)


@settings(max_examples=200, deadline=None)
@given(weighted_grids, st.sampled_from(METHODS), st.sampled_from([None, "cpu"]))
def test_weights_equal_the_repeated_positions_exactly(weighted, method, device):
    """A position of weight w counts as w copies of it (0 leaves it out): the same value, to the
    last bit for Kendall's integer counts, as the vectors with every position repeated; ties in
    the references, the others and both included, on the numba and the torch code."""
    (references, others), weights = weighted
    if weights.sum() < 2 or device == "cpu" and method not in ("tau-a", "tau-b"):
        return
    repeated = np.repeat(np.arange(len(weights)), weights)
    ours = compare(references, others, method, device, weights=weights)
    expected = compare(references[:, repeated], others[:, repeated], method, device)
    if method in ("tau-a", "tau-b"):
        np.testing.assert_array_equal(ours, expected)
    else:
        np.testing.assert_allclose(ours, expected, rtol=0, atol=1e-12)


def test_weighted_tau_a_equals_the_brute_force_sum_over_pairs():
    """Σ w_k w_l sign(x_k − x_l) sign(y_k − y_l) over position pairs k < l, over the pairs of the
    W = Σ w entries; with long tie blocks in the reference (the merge-sort path)."""
    rng = np.random.default_rng(4)
    reference = np.repeat(rng.permutation(5).astype(float), 40)
    others = rng.integers(0, 12, size=(2, reference.size)).astype(float)
    weights = rng.integers(1, 5, size=reference.size)
    i, j = np.triu_indices(reference.size, k=1)
    total = weights.sum() * (weights.sum() - 1) / 2
    expected = [
        np.sum(weights[i] * weights[j] * np.sign(reference[i] - reference[j]) * np.sign(y[i] - y[j])) / total
        for y in others
    ]
    np.testing.assert_allclose(compare(reference, others, "tau-a", weights=weights)[0], expected, rtol=0, atol=1e-15)


def test_bad_weights_are_named():
    with pytest.raises(ValueError, match="weights must be 5 non-negative integers, got shape \\(4,\\)"):
        compare(np.zeros(5), np.zeros(5), weights=np.ones(4))
    with pytest.raises(ValueError, match="non-negative"):
        compare(np.zeros(5), np.zeros(5), weights=-np.ones(5))


@settings(max_examples=100, deadline=None)
@given(grids, st.sampled_from(["tau-a", "tau-b"]))
def test_torch_counts_equal_the_numba_ones(pair, method):
    """The GPU path's code, run here on the CPU through torch, gives the same values."""
    references, others = pair
    np.testing.assert_allclose(
        compare(references, others, method, device="cpu"), compare(references, others, method), rtol=0, atol=1e-14
    )


def test_torch_pair_batches_give_the_same_values(monkeypatch):
    import brainlike.compare

    rng = np.random.default_rng(6)
    references, others = rng.normal(size=(3, 500)), rng.integers(0, 9, size=(4, 500)).astype(float)
    monkeypatch.setattr(brainlike.compare, "DEVICE_PAIR_ENTRIES", 1000)  # two pairs per batch
    np.testing.assert_array_equal(compare(references, others, device="cpu"), compare(references, others))

"""Resampling schemes: what each draw keeps of a continuous stimulus, and planted autocorrelated
nulls under which the movie p-values hold their size (and did not with circular shifts or random
relabellings), with the power left to find a shared drift."""

import numpy as np
import pytest
from scipy.signal import lfilter
from scipy.stats import binom

from brainlike.frame import Statistics
from brainlike.rdm import rdms_from_pattern_stack, upper
from brainlike.resampling import HALVING_GAP, Continuous, Exchangeable, design
from brainlike.rsa import BrainRDMs, score_layers


def circular_steps(order: np.ndarray) -> np.ndarray:
    return (np.diff(order) % len(order)).astype(int)


def test_continuous_relabellings_are_the_shift_test_s_shifts_without_wrapping():
    movie = Continuous(60)
    relabellings = movie.relabellings(np.random.default_rng(0), 1000)
    # The window keeps a third of the segments: N = 20 shifts each way, smallest p 1/21.
    np.testing.assert_array_equal(relabellings.window, np.arange(20, 40))
    assert len(relabellings) == 40 and relabellings.shift_test
    offsets = sorted(int(order[0] - 20) for order in relabellings.orders)
    assert offsets == [offset for offset in range(-20, 21) if offset != 0]
    for order in relabellings.orders:
        assert (np.diff(order) == 1).all() and order.min() >= 0 and order.max() < 60  # no wrap-round
    assert "smallest p 1/21" in movie.relabelling_method(1000)
    few = movie.relabellings(np.random.default_rng(0), 10)  # 5 shifts each way, a wider window
    np.testing.assert_array_equal(few.window, np.arange(5, 55))
    assert len(few) == 10


def test_the_shift_test_p_is_the_rank_over_n_plus_one():
    relabellings = Continuous(60).relabellings(np.random.default_rng(0), 1000)
    null = np.linspace(0, 1, 40)  # 2N = 40 shifted values
    assert relabellings.p(2.0, null) == pytest.approx(1 / 21)  # the unshifted value on top
    assert relabellings.p(null[-3] - 1e-9, null) == pytest.approx(4 / 21)  # three shifted values above it
    assert relabellings.p(-1.0, null) == 1.0  # capped
    assert Exchangeable(5).relabellings(np.random.default_rng(0), 40).p(2.0, null) == pytest.approx(1 / 41)


def test_block_bootstrap_draws_runs_of_consecutive_segments():
    movie = Continuous(60)
    assert movie.block == 4
    draws = movie.bootstrap_draws(np.random.default_rng(1), 50)
    assert draws.shape == (50, 60)
    blocks = draws.reshape(50, 15, 4)
    assert (np.diff(blocks, axis=-1) % 60 == 1).all()
    assert np.unique(blocks[:, :, 0]).size > 50  # block starts vary


def test_contiguous_halvings_leave_a_gap_at_both_cuts():
    movie = Continuous(60)
    for halves in movie.halvings(np.random.default_rng(2), 30):
        first, second = set(halves[0]), set(halves[1])
        assert len(first) == len(second) == 29 and not first & second
        for half in (first, second):
            # One run around the circle: exactly one segment of the half has no predecessor in it.
            assert sum((segment - 1) % 60 not in half for segment in half) == 1
        unused = set(range(60)) - first - second
        assert len(unused) == 2 * HALVING_GAP
        for segment in unused:  # each unused segment separates the halves
            assert {(segment - 1) % 60, (segment + 1) % 60} & first and {(segment - 1) % 60, (segment + 1) % 60} & second
    with pytest.raises(ValueError, match="too short to halve"):
        Continuous(5).halvings(np.random.default_rng(0), 1)


def test_exchangeable_draws_and_design_choice():
    scenes = Exchangeable(12)
    draws = scenes.bootstrap_draws(np.random.default_rng(3), 200)
    assert (np.ptp(draws, axis=1) > 0).all() and draws.max() < 12
    halvings = scenes.halvings(np.random.default_rng(3), 4)
    assert halvings.shape == (4, 2, 6)
    assert isinstance(design(12, False), Exchangeable) and isinstance(design(12, True), Continuous)


def smooth(rng, n, k, phi):
    """k independent AR(1) series of length n (coefficient phi per segment), after a burn-in."""
    return lfilter([1], [1, -phi], rng.normal(size=(n + 300, k)), axis=0)[300:]


def autocorrelated_null(seed, n=60, phi=0.8, shared=False):
    """A movie population and a model layer that both drift slowly over the segments, independently:
    neighbouring segments are alike in both RDMs, yet the model carries no information about the brain
    (``shared``: the model reads the brain's own latent, a planted relation)."""
    rng = np.random.default_rng(seed)
    latent = smooth(rng, n, 5, phi)
    signal = latent @ rng.normal(size=(5, 40))
    patterns = signal[None] + rng.normal(size=(4, n, 40))
    halves = upper(rdms_from_pattern_stack(patterns))
    all_trials = upper(rdms_from_pattern_stack(patterns.mean(axis=0)[None]))[0]
    brain = BrainRDMs({"area": "A", "depth": 0}, halves, np.empty((0, halves.shape[1])), containers_note="", all_trials=all_trials)
    model_latent = latent if shared else smooth(rng, n, 5, phi)
    layer = upper(rdms_from_pattern_stack((model_latent @ rng.normal(size=(5, 30)))[None]))
    return brain, layer


def movie_p(seed: int, phi: float, continuous: bool = True, shared: bool = False) -> float:
    brain, layer = autocorrelated_null(seed, phi=phi, shared=shared)
    settings = Statistics(seed=seed, stimulus_bootstraps=0, permutations=1000, ci_level=0.95, best_layer_folds=0,
                          continuous=continuous)  # fmt: skip
    return score_layers([brain], layer, np.array(["main"]), settings, "tau-a", "movie")[0]["p"].iloc[0]


@pytest.mark.parametrize("phi", [0.0, 0.8, 0.9, 0.95])
def test_movie_p_holds_its_size_under_slow_drift(phi):
    """Independent AR(1) drift in brain and model (coefficient φ per segment, 60 segments), 200
    seeds: p ≤ 0.05 no more often than 5 % (the binomial 99.9 % bound). Circular shifts and
    reversals gave 11 % at φ = 0.8 and 44 % at 0.95; random relabellings about 90 % at 0.8."""
    seeds = 200
    p = np.array([movie_p(seed, phi) for seed in range(seeds)])
    assert np.sum(p <= 0.05) <= binom.ppf(0.999, seeds, 0.05), np.mean(p <= 0.05)
    if phi == 0.8:
        random = np.array([movie_p(seed, phi, continuous=False) for seed in range(50)])
        assert np.mean(random <= 0.05) > 0.5  # why the movie needs the shift test


def test_the_shift_test_finds_a_shared_drift():
    """The model reads the brain's own slow latent: p is the smallest the test allows most of the time."""
    p = np.array([movie_p(seed, 0.9, shared=True) for seed in range(40)])
    assert np.mean(p <= 0.05) > 0.8, p
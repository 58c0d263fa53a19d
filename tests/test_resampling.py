"""Resampling schemes: what each draw keeps of a continuous stimulus, and a planted autocorrelated
null on which the movie p-values must be uniform (and were not with random relabellings)."""

import numpy as np
import pytest
from scipy.signal import lfilter
from scipy.stats import binom

from brainlike.rdm import rdms_from_pattern_stack, upper
from brainlike.resampling import HALVING_GAP, Continuous, Exchangeable, design
from brainlike.frame import Statistics
from brainlike.rsa import BrainRDMs, score_layers


def circular_steps(order: np.ndarray) -> np.ndarray:
    return (np.diff(order) % len(order)).astype(int)


def test_continuous_relabellings_are_every_shift_and_reversal_once():
    movie = Continuous(10)
    every = movie.relabellings(np.random.default_rng(0), 1000)
    assert len(every) == 19 and len({tuple(order) for order in every}) == 19
    assert not (every == np.arange(10)).all(axis=1).any()  # the identity is the observed labelling
    for order in every:
        assert sorted(order) == list(range(10))
        # Neighbours stay neighbours: every step is +1 (a shift) or -1 (a reversal) around the circle.
        assert set(circular_steps(order)) in ({1}, {9})
    subset = movie.relabellings(np.random.default_rng(0), 5)
    assert len(subset) == 5 and {tuple(order) for order in subset} <= {tuple(order) for order in every}
    assert "all 19" in movie.relabelling_method(19) and "5 of the 19" in movie.relabelling_method(5)


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
    return lfilter([1], [1, -phi], rng.normal(size=(n + 50, k)), axis=0)[50:]


def autocorrelated_null(seed, n=60, phi=0.8):
    """A movie population and a model layer that both drift slowly over the segments, independently:
    neighbouring segments are alike in both RDMs, yet the model carries no information about the brain."""
    rng = np.random.default_rng(seed)
    signal = smooth(rng, n, 5, phi) @ rng.normal(size=(5, 40))
    patterns = signal[None] + rng.normal(size=(4, n, 40))
    halves = upper(rdms_from_pattern_stack(patterns))
    all_trials = upper(rdms_from_pattern_stack(patterns.mean(axis=0)[None]))[0]
    brain = BrainRDMs({"area": "A", "depth": 0}, halves, np.empty((0, halves.shape[1])), containers=2, all_trials=all_trials)
    layer = upper(rdms_from_pattern_stack((smooth(rng, n, 5, phi) @ rng.normal(size=(5, 30)))[None]))
    return brain, layer


def test_movie_p_is_uniform_under_an_autocorrelated_null_and_was_not_with_random_relabellings():
    seeds = 200
    p = {}
    for continuous in (True, False):
        values = []
        for seed in range(seeds):
            brain, layer = autocorrelated_null(seed)
            settings = Statistics(seed=seed, stimulus_bootstraps=0, permutations=200, ci_level=0.95,
                                 best_layer_folds=0, continuous=continuous)  # fmt: skip
            values.append(score_layers([brain], layer, np.array(["main"]), settings, "tau-a", "movie")[0]["p"].iloc[0])
        p[continuous] = np.array(values)
    # Continuous: all 119 shifts and reversals, p takes the values k / 120.
    for alpha in (0.05, 0.1, 0.25, 0.5):
        expected = np.floor(alpha * 120) / 120
        low, high = binom.ppf([0.0005, 0.9995], seeds, expected)
        assert low <= np.sum(p[True] <= alpha) <= high, (alpha, np.mean(p[True] <= alpha))
    # Random relabellings break the shared drift: far too many small p (about 0.9 at 0.05).
    assert np.sum(p[False] <= 0.05) > binom.ppf(0.9995, seeds, 0.05) * 3

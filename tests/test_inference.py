"""Inference: resampling maps, permutation p uniform under a planted null, held-out layer choice, FDR,
noise ceilings against rsatoolbox and planted truth."""

import warnings

import numpy as np
import pytest
from rsatoolbox.inference import boot_noise_ceiling
from rsatoolbox.rdm import RDMs
from rsatoolbox.rdm import compare as rsatoolbox_compare
from scipy.stats import binom, pearsonr

from brainlike.compare import compare
from brainlike.inference import (
    bootstrap_pairs,
    fdr,
    held_out_best_layer,
    percentile_interval,
    permutation_p,
    permuted_vectors,
    sub_rdm_positions,
)
from brainlike.noise_ceiling import between_animal, split_half
from brainlike.populations import spearman_brown
from brainlike.rdm import load_rdms, rdm_from_patterns, rdms_from_pattern_stack, save_rdm_vectors, upper
from brainlike.resampling import Exchangeable, Relabellings
from brainlike.frame import Statistics
from brainlike.rsa import BrainRDMs, score_layers
from brainlike.seeds import labelled_rng

RSATOOLBOX_NAMES = {"tau-a": "tau-a", "tau-b": "kendall", "spearman": "spearman", "pearson": "corr"}


def random_rdm_vectors(rng, count, n_stimuli, features=20):
    return upper(rdms_from_pattern_stack(rng.normal(size=(count, n_stimuli, features))))


def test_permuted_vectors_relabel_the_matrix():
    rng = np.random.default_rng(0)
    matrix = rdm_from_patterns(rng.normal(size=(7, 5)))
    orders = np.stack([rng.permutation(7) for _ in range(3)])
    for order, permuted in zip(orders, permuted_vectors(upper(matrix), orders)):
        np.testing.assert_array_equal(permuted, upper(matrix[order][:, order]))


@pytest.mark.parametrize("method", ["tau-a", "tau-b", "spearman", "pearson"])
def test_weighted_bootstrap_draws_equal_rsatoolbox_subsample_pattern(method):
    """Each drawn pair once with its multiplicity as weight equals rsatoolbox on the draw's RDMs with
    every repeated pattern written out (the pairs of a pattern with its own copy NaN, left out)."""
    rng = np.random.default_rng(1)
    brain, layers = random_rdm_vectors(rng, 2, 12), random_rdm_vectors(rng, 3, 12)
    layers[2] = np.round(layers[2], 1)  # ties within the model RDM, beside the repeats
    for draw in Exchangeable(12).bootstrap_draws(rng, 20):
        positions, weights = bootstrap_pairs(draw, 12)
        ours = compare(brain[:, positions], layers[:, positions], method, weights=weights)
        theirs = rsatoolbox_compare(
            RDMs(brain).subsample_pattern("index", draw),
            RDMs(layers).subsample_pattern("index", draw),
            method=RSATOOLBOX_NAMES[method],
        )
        np.testing.assert_allclose(ours, theirs, rtol=0, atol=1e-12)


def test_sub_rdm_and_halvings():
    rng = np.random.default_rng(2)
    matrix = rdm_from_patterns(rng.normal(size=(9, 4)))
    halvings = Exchangeable(9).halvings(rng, 5)
    assert halvings.shape == (5, 2, 4)
    for halves in halvings:
        assert not set(halves[0]) & set(halves[1])
        np.testing.assert_array_equal(upper(matrix)[sub_rdm_positions(halves[0], 9)], upper(matrix[halves[0]][:, halves[0]]))


def test_permutation_p_counts_the_observed_as_one_of_the_null():
    assert permutation_p(1.0, np.zeros(99)) == 0.01
    assert permutation_p(0.0, np.zeros(99)) == 1.0
    np.testing.assert_array_equal(permutation_p(np.array([0.5, 2.0]), np.array([[1.0, 1.0], [0.0, 3.0]])), [2 / 3, 2 / 3])


def test_a_relabelling_that_leaves_the_statistic_undefined_never_makes_p_smaller():
    """Two of four null draws NaN: the p counts the two defined ones, as if only they were drawn."""
    assert permutation_p(1.0, np.array([np.nan, 0.0, np.nan, 2.0])) == permutation_p(1.0, np.array([0.0, 2.0])) == 2 / 3
    assert np.isnan(permutation_p(np.nan, np.zeros(3)))


def test_split_half_ceiling_p_is_uniform_when_the_halves_share_nothing():
    """Halves of pure noise: the ceiling's p (first split, B half relabelled) is uniform over 300 seeds."""
    p = []
    for seed in range(300):
        rng = np.random.default_rng(seed)
        halves = upper(rdms_from_pattern_stack(rng.normal(size=(2, 3, 12, 20))))
        orders = np.stack([rng.permutation(12) for _ in range(99)])
        p.append(split_half(halves[0], halves[1], "tau-a", False, relabel(orders), NO_HALVINGS)["ceiling_p"])
    p = np.array(p)
    for alpha in (0.05, 0.1, 0.25, 0.5):
        low, high = binom.ppf([0.0005, 0.9995], len(p), alpha)
        assert low <= np.sum(p <= alpha) <= high, (alpha, np.mean(p <= alpha))


def test_percentile_interval():
    low, high = percentile_interval(np.arange(101.0)[:, None], 0.9)
    assert (low[0], high[0]) == (pytest.approx(5.0), pytest.approx(95.0))
    assert np.isnan(percentile_interval(np.empty((0, 2)), 0.95)[0]).all()


def test_fdr_equals_benjamini_hochberg_by_hand():
    p = np.array([0.01, 0.04, np.nan, 0.03, 0.5, 0.002])
    finite = p[~np.isnan(p)]
    order = np.argsort(finite)
    ranked = finite[order] * len(finite) / np.arange(1, len(finite) + 1)
    by_hand = np.empty(len(finite))
    by_hand[order] = np.minimum.accumulate(ranked[::-1])[::-1].clip(max=1)
    q = fdr(p)
    assert np.isnan(q[2])
    np.testing.assert_allclose(q[~np.isnan(p)], by_hand, rtol=1e-12)


def test_held_out_best_layer_scores_the_choice_on_the_other_half():
    # Two folds, layers 0-2 in one pathway and layer 3 alone in another.
    fold_scores = np.array(
        [
            [[0.1, 0.5, 0.2, 0.9], [0.1, 0.4, 0.3, 0.8]],  # layer 1 wins both halves
            [[0.6, 0.5, 0.2, 0.7], [0.1, 0.4, 0.3, 0.6]],  # layer 0 on half 0, layer 1 on half 1
        ]
    )
    held_out, selected = held_out_best_layer(fold_scores, np.array(["a", "a", "a", "b"]))
    np.testing.assert_allclose(selected, [0.25, 0.75, 0.0, 1.0])
    # Held out: fold 0: 0.4 and 0.5; fold 1: layer 0 on half 1 (0.1), layer 1 on half 0 (0.5).
    np.testing.assert_allclose(held_out[:3], np.mean([0.4, 0.5, 0.1, 0.5]))
    np.testing.assert_allclose(held_out[3], np.mean([0.8, 0.9, 0.6, 0.7]))


NO_HALVINGS = np.empty((0, 2, 0), dtype=int)  # no halvings of the stimuli: no ceiling_se


def relabel(orders: np.ndarray) -> Relabellings:
    """Relabellings of every stimulus (exchangeable stimuli)."""
    return Relabellings(np.arange(orders.shape[1]), orders)


def brains_from_patterns(rng, signal, splits, noise):
    """Half-trial RDMs of a population of two containers reading ``signal`` (stimuli × features) plus noise."""
    patterns = signal[None] + noise * rng.normal(size=(splits,) + signal.shape)
    halves = upper(rdms_from_pattern_stack(patterns))
    all_trials = upper(rdm_from_patterns(patterns.mean(axis=0)))
    return BrainRDMs({"area": "A", "depth": 0}, halves, np.empty((0, halves.shape[1])), containers_note="", all_trials=all_trials)


def planted_model(rng, n_stimuli, n_layers, width, planted, splits):
    """RDMs of layers with random features, and a population reading layer ``planted`` plus noise."""
    features = [rng.normal(size=(n_stimuli, width)) for _ in range(n_layers)]
    layers = upper(rdms_from_pattern_stack(np.stack(features)))
    return features, layers, brains_from_patterns(rng, features[planted], splits, noise=1.0)


def test_permutation_p_is_uniform_under_a_planted_null():
    """Brain and model read independent stimulus features: p must be uniform (checked over 400 seeds)."""
    p = []
    for seed in range(400):
        rng = np.random.default_rng(seed)
        brain = brains_from_patterns(rng, rng.normal(size=(12, 30)), splits=2, noise=0.5)
        layer = random_rdm_vectors(rng, 1, 12, features=30)
        settings = Statistics(seed=seed, stimulus_bootstraps=0, permutations=99, ci_level=0.95, best_layer_folds=0)
        p.append(score_layers([brain], layer, np.array(["main"]), settings, "tau-a", "s")[0]["p"].iloc[0])
    p = np.array(p)
    for alpha in (0.05, 0.1, 0.25, 0.5, 0.75):
        expected = np.floor(alpha * 100) / 100  # p takes the values k / 100
        low, high = binom.ppf([0.0005, 0.9995], len(p), expected)
        assert low <= np.sum(p <= alpha) <= high, (alpha, np.mean(p <= alpha))


def test_scores_recover_a_planted_layer_and_match_rsatoolbox():
    rng = np.random.default_rng(7)
    n = 30
    _, layers, brain = planted_model(rng, n, 4, 40, planted=2, splits=10)
    settings = Statistics(seed=3, stimulus_bootstraps=50, permutations=99, ci_level=0.9, best_layer_folds=10)
    table, _resamples = score_layers([brain], layers, np.array(["main"] * 4), settings, "tau-a", "s")
    assert table["score"].idxmax() == 2 and table["best_layer_selected"].iloc[2] == 1.0
    assert table["p"].iloc[2] == 0.01 and table["p"].drop(2).min() > 0.01
    assert (table["ci_low_stimuli"] <= table["score"]).all() and (table["score"] <= table["ci_high_stimuli"]).all()
    expected = rsatoolbox_compare(RDMs(brain.half_a), RDMs(layers), method="tau-a").mean(axis=0)
    np.testing.assert_allclose(table["score"], expected, rtol=0, atol=1e-12)
    # The p of layer 0 recomputed with rsatoolbox: τ-a with the all-trial RDM, the model relabelled.
    orders = Exchangeable(n).relabellings(labelled_rng(3, "permutation", "s"), 99).orders
    matrix = RDMs(layers[:1]).get_matrices()[0]
    brain_rdm = RDMs(brain.all_trials[None])
    observed = rsatoolbox_compare(brain_rdm, RDMs(layers[:1]), method="tau-a")[0, 0]
    null = [rsatoolbox_compare(brain_rdm, RDMs(upper(matrix[o][:, o])[None]), method="tau-a")[0, 0] for o in orders]
    assert table["p"].iloc[0] == pytest.approx((1 + np.sum(np.array(null) >= observed)) / 100)


@pytest.mark.parametrize("method", ["tau-a", "tau-b", "spearman", "pearson"])
def test_between_animal_bounds_equal_rsatoolbox_boot_noise_ceiling(method):
    rng = np.random.default_rng(8)
    shared = rng.normal(size=(15, 30))
    containers = upper(rdms_from_pattern_stack(shared[None] + rng.normal(size=(5, 15, 30))))
    ours = between_animal(containers, method)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # rsatoolbox warns that τ ceilings pool ranks, as ours do
        lower, upper_bound = boot_noise_ceiling(RDMs(containers), method=RSATOOLBOX_NAMES[method])
    assert ours["ceiling_lower"] == pytest.approx(lower, abs=1e-12)
    assert ours["ceiling_upper"] == pytest.approx(upper_bound, abs=1e-12)
    assert ours["ceiling_bound_containers"] == 5
    assert np.isnan(between_animal(containers[:1], method)["ceiling_lower"])


def test_ceilings_follow_planted_noise():
    rng = np.random.default_rng(9)
    signal = rng.normal(size=(20, 50))
    ceilings, bounds = [], []
    for noise in (0.3, 1.0, 3.0):
        halves = upper(rdms_from_pattern_stack(signal[None] + noise * rng.normal(size=(2, 10, 20, 50))))
        ceilings.append(split_half(halves[0], halves[1], "tau-a", False, relabel(np.empty((0, 20), int)), NO_HALVINGS)["ceiling_median"])
        containers = upper(rdms_from_pattern_stack(signal[None] + noise * rng.normal(size=(4, 20, 50))))
        bounds.append(between_animal(containers, "tau-a"))
    assert ceilings[0] > ceilings[1] > ceilings[2]
    assert bounds[0]["ceiling_lower"] > bounds[1]["ceiling_lower"] > bounds[2]["ceiling_lower"]
    assert all(b["ceiling_lower"] < b["ceiling_upper"] for b in bounds)


def test_split_half_ceiling_p_and_spearman_brown():
    rng = np.random.default_rng(10)
    signal = rng.normal(size=(16, 40))
    # An odd number of splits: the median is one split's value, so correcting commutes with it.
    halves = upper(rdms_from_pattern_stack(signal[None] + 0.5 * rng.normal(size=(2, 9, 16, 40))))
    orders = np.stack([rng.permutation(16) for _ in range(49)])
    plain = split_half(halves[0], halves[1], "pearson", False, relabel(orders), NO_HALVINGS)
    corrected = split_half(halves[0], halves[1], "pearson", True, relabel(orders), NO_HALVINGS)
    assert plain["ceiling_p"] == 0.02  # the smallest p 49 relabellings allow
    # The p against scipy: the first split's Pearson r between its halves, its B half relabelled.
    a, b = halves[0][0], RDMs(halves[1][:1]).get_matrices()[0]
    null = np.array([pearsonr(a, upper(b[o][:, o])).statistic for o in orders])
    assert plain["ceiling_p"] == (1 + np.sum(null >= pearsonr(a, halves[1][0]).statistic)) / 50
    assert corrected["ceiling_median"] == pytest.approx(spearman_brown(plain["ceiling_median"]))
    assert corrected["ceiling_method"] == "split-half pearson, Spearman-Brown corrected"
    noise_only = upper(rdms_from_pattern_stack(rng.normal(size=(2, 9, 16, 40))))
    assert split_half(noise_only[0], noise_only[1], "pearson", False, relabel(orders), NO_HALVINGS)["ceiling_p"] > 0.05
    with pytest.raises(ValueError, match="rsa.spearman_brown applies to correlation-based comparisons"):
        split_half(halves[0], halves[1], "tau-a", True, relabel(orders), NO_HALVINGS)


def test_scores_on_the_torch_path_equal_the_numba_ones():
    rng = np.random.default_rng(11)
    n = 16
    features, layers, brain = planted_model(rng, n, 3, 20, planted=1, splits=4)
    brain.container_bootstrap = brain.half_a[:2]
    settings = Statistics(seed=1, stimulus_bootstraps=5, permutations=9, ci_level=0.9, best_layer_folds=3)
    ours, _ = score_layers([brain], layers, np.array(["main"] * 3), settings, "tau-a", "s")
    on_torch, _ = score_layers([brain], layers, np.array(["main"] * 3), settings, "tau-a", "s", device="cpu")
    numeric = ours.select_dtypes("number").columns
    np.testing.assert_allclose(on_torch[numeric], ours[numeric], rtol=0, atol=1e-14)
    halves = upper(rdms_from_pattern_stack(features[1][None] + rng.normal(size=(2, 5, n, 20))))
    orders = np.stack([rng.permutation(n) for _ in range(9)])
    halvings = Exchangeable(n).halvings(rng, 5)
    assert split_half(halves[0], halves[1], "tau-a", False, relabel(orders), halvings, "cpu") == split_half(halves[0], halves[1], "tau-a", False, relabel(orders), halvings)


def test_permutation_batches_give_the_same_p(monkeypatch):
    import brainlike.noise_ceiling
    import brainlike.rsa

    rng = np.random.default_rng(12)
    n = 14
    features, layers, brain = planted_model(rng, n, 3, 20, planted=0, splits=3)
    settings = Statistics(seed=2, stimulus_bootstraps=0, permutations=29, ci_level=0.9, best_layer_folds=0)
    halves = upper(rdms_from_pattern_stack(features[0][None] + rng.normal(size=(2, 3, n, 20))))
    orders = np.stack([rng.permutation(n) for _ in range(29)])
    whole = score_layers([brain], layers, np.array(["main"] * 3), settings, "tau-a", "s")[0]["p"]
    halvings = Exchangeable(n).halvings(rng, 4)
    ceiling = split_half(halves[0], halves[1], "tau-a", False, relabel(orders), halvings)
    for module in (brainlike.rsa, brainlike.noise_ceiling):
        monkeypatch.setattr(module, "PERMUTED_ENTRIES", 200)  # a couple of relabellings per batch
    np.testing.assert_array_equal(score_layers([brain], layers, np.array(["main"] * 3), settings, "tau-a", "s")[0]["p"], whole)
    assert split_half(halves[0], halves[1], "tau-a", False, relabel(orders), halvings) == ceiling


def test_an_undefined_or_constant_layer_has_no_score_p_interval_or_best_layer_choice():
    """A one-feature layer (correlation distance undefined) and a constant one next to a planted layer:
    NaN score, p and intervals, flagged with the cause, never chosen. Before, the NaN layer got the
    smallest p possible (1 / (permutations + 1)) and won every best-layer choice."""
    rng = np.random.default_rng(13)
    n = 20
    _, layers, brain = planted_model(rng, n, 3, 30, planted=1, splits=4)
    brain.container_bootstrap = brain.half_a[:3]
    one_feature = upper(rdm_from_patterns(rng.normal(size=(n, 1))))
    constant = np.ones(layers.shape[1])
    layers = np.vstack([one_feature, layers, constant])
    settings = Statistics(seed=4, stimulus_bootstraps=20, permutations=19, ci_level=0.9, best_layer_folds=6)
    table, resamples = score_layers([brain], layers, np.array(["main"] * 5), settings, "tau-b", "s")
    for position in (0, 4):
        row = table.iloc[position]
        assert np.isnan(row[["score", "p", "ci_low_stimuli", "ci_high_stimuli", "ci_low_containers"]].astype(float)).all()
        assert row["best_layer_selected"] == 0
        assert np.isnan(resamples["bootstrap"][:, 0, position]).all()
    assert table["score_flag"].iloc[0].startswith("model RDM undefined")
    assert table["score_flag"].iloc[4].startswith("model RDM constant")
    assert (table["score_flag"].iloc[1:4] == "").all()
    assert table["best_layer_selected"].iloc[2] == 1.0 and table["p"].iloc[2] == 0.05
    assert np.isfinite(table["best_layer_held_out_score"]).all()  # the pathway's choice, never a NaN layer
    assert np.isnan(fdr(table["p"].to_numpy())[[0, 4]]).all()


def test_a_population_of_one_container_has_no_container_interval_and_says_why(tmp_path):
    rng = np.random.default_rng(14)
    _, layers, planted = planted_model(rng, 12, 2, 20, planted=0, splits=3)
    # Through the store, as the compare job reads it: a population of one container has no container
    # draws (rdm.population_rdms) and says so from its container count.
    vectors = np.concatenate([planted.half_a, planted.all_trials[None]])
    kinds = ["half_a"] * len(planted.half_a) + ["all"]
    save_rdm_vectors(tmp_path / "one.hdf5", vectors, {"kind": kinds}, {"area": "A", "depth": 0, "containers": 1}, "correlation")
    brain = BrainRDMs.from_stored(load_rdms(tmp_path / "one.hdf5"))
    settings = Statistics(seed=1, stimulus_bootstraps=5, permutations=9, ci_level=0.9, best_layer_folds=2)
    table, _ = score_layers([brain], layers, np.array(["main"] * 2), settings, "tau-a", "s")
    assert table["ci_low_containers"].isna().all()
    assert (table["ci_containers_note"] == "1 container: a statistic across animals needs at least 2").all()
    assert between_animal(upper(rdms_from_pattern_stack(rng.normal(size=(1, 12, 5)))), "tau-a")["ceiling_bound_note"] == (
        "1 container: a statistic across animals needs at least 2"
    )


def test_fdr_families_count_each_test_once_and_keep_models_apart():
    import pandas as pd

    from brainlike.inference import table_q

    def rows(model, p_main, p_pixels, shared=()):
        layers = [f"l{k}" for k in range(len(p_main))]
        frame = pd.DataFrame({"stimulus": "s", "area": "A", "depth": 1, "model": model, "pathway": "main",
                              "layer": layers, "score": np.arange(len(p_main)) / 10, "p": p_main})  # fmt: skip
        extra = [{"stimulus": "s", "area": "A", "depth": 1, "model": model, "pathway": "dorsal", "layer": layer,
                  "score": frame.set_index("layer").loc[layer, "score"], "p": frame.set_index("layer").loc[layer, "p"]}
                 for layer in shared]  # fmt: skip
        pixels = {"stimulus": "s", "area": "A", "depth": 1, "model": model, "pathway": "pixels", "layer": "pixels",
                  "score": 0.123, "p": p_pixels}  # fmt: skip
        return pd.concat([frame, pd.DataFrame(extra + [pixels])], ignore_index=True).assign(metric="rsa")

    one = rows("m1", [0.01, 0.02, 0.2], 0.04, shared=["l0"])
    q_one, method = table_q(one, "model_stimulus")
    # The shared tensor l0 is one test: BH over l0, l1, l2 and the pixels (4 tests), by hand.
    np.testing.assert_allclose(q_one, fdr(np.array([0.01, 0.02, 0.2, 0.04]))[[0, 1, 2, 0, 3]])
    assert "per metric, model and stimulus set" in method
    both = pd.concat([one, rows("m2", [0.001, 0.5, 0.6], 0.04)], ignore_index=True)
    np.testing.assert_array_equal(table_q(both, "model_stimulus")[0][: len(one)], q_one)  # m2 changes nothing of m1
    q_table, _ = table_q(both, "table")
    # Over the table: 3 + 3 tensors and one shared pixel baseline (equal scores) = 7 tests.
    expected = fdr(np.array([0.01, 0.02, 0.2, 0.04, 0.001, 0.5, 0.6]))
    np.testing.assert_allclose(q_table, expected[[0, 1, 2, 0, 3, 4, 5, 6, 3]])
    # Another metric's tests are a family of their own, whatever the family key.
    metrics = pd.concat([both, both.assign(metric="cka", p=np.linspace(0.001, 0.002, len(both)))], ignore_index=True)
    for family in ("model_stimulus", "stimulus", "table"):
        np.testing.assert_array_equal(table_q(metrics, family)[0][: len(both)], table_q(both, family)[0])
    with pytest.raises(ValueError, match="statistics.fdr_family: 'animal' is not one of model_stimulus, stimulus, table"):
        table_q(both, "animal")

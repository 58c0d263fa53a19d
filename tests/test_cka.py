"""Debiased linear CKA: against the unbiased HSIC written out as a U-statistic over every quadruple of
distinct stimuli, on planted representations, and its inference (relabellings, flags)."""

from __future__ import annotations

import itertools
from types import SimpleNamespace

import numpy as np
import pytest
from scipy.stats import binom

from brainlike.cka import GramBlock, HalfTrialGrams, centre_gram, centred_gram, cka_layers, debiased_cka
from brainlike.frame import Statistics


def brute_hsic(k: np.ndarray, l_: np.ndarray, keep: np.ndarray | None = None) -> float:
    """Song et al.'s unbiased HSIC as the mean over ordered quadruples of distinct stimuli of
    k_ij l_ij + k_ij l_qr − 2 k_ij l_iq (pairs ``keep`` marks False contribute nothing)."""
    n = len(k)
    if keep is not None:
        k, l_ = k * keep, l_ * keep
    total = 0.0
    for i, j, q, r in itertools.permutations(range(n), 4):
        total += k[i, j] * l_[i, j] + k[i, j] * l_[q, r] - 2 * k[i, j] * l_[i, q]
    return total / (n * (n - 1) * (n - 2) * (n - 3))


def brute_cka(x: np.ndarray, y: np.ndarray) -> float:
    k, l_ = centred_gram(x), centred_gram(y)
    return brute_hsic(k, l_) / np.sqrt(brute_hsic(k, k) * brute_hsic(l_, l_))


@pytest.mark.parametrize("n", [5, 8])
def test_debiased_cka_equals_the_u_statistic_written_out(n):
    rng = np.random.default_rng(n)
    layers = [rng.normal(size=(n, width)) for width in (3, 40)]
    brains = [layers[0] @ rng.normal(size=(3, 6)) + rng.normal(size=(n, 6)), rng.normal(size=(n, 2))]
    values = debiased_cka(np.stack([centred_gram(x) for x in layers]), np.stack([centred_gram(y) for y in brains]))
    expected = np.array([[brute_cka(x, y) for y in brains] for x in layers])
    np.testing.assert_allclose(values, expected, rtol=1e-10, atol=1e-12)
    # An uncentred Gram matrix centred afterwards is the same matrix.
    np.testing.assert_allclose(centre_gram(layers[1] @ layers[1].T), centred_gram(layers[1]), atol=1e-10)


def test_left_out_pairs_contribute_nothing():
    rng = np.random.default_rng(3)
    x, y = rng.normal(size=(7, 4)), rng.normal(size=(7, 5))
    keep = np.ones((7, 7), dtype=bool)
    keep[1, 4] = keep[4, 1] = False
    k, l_ = centred_gram(x), centred_gram(y)
    expected = brute_hsic(k, l_, keep) / np.sqrt(brute_hsic(k, k, keep) * brute_hsic(l_, l_, keep))
    np.testing.assert_allclose(debiased_cka(k[None], l_[None], keep)[0, 0], expected, rtol=1e-10)


def test_planted_representations():
    """The same representation rotated and scaled has CKA 1; independent ones about 0 (the debiased
    estimator's bias with 2,000 features and 60 stimuli is what it removes); a planted mixture lies
    between, in the order of its share."""
    rng = np.random.default_rng(0)
    n = 60
    x = rng.normal(size=(n, 20))
    rotation = np.linalg.qr(rng.normal(size=(20, 20)))[0]
    assert debiased_cka(centred_gram(x)[None], centred_gram(3 * x @ rotation + 5)[None])[0, 0] == pytest.approx(1, abs=1e-12)
    nulls = [debiased_cka(centred_gram(rng.normal(size=(n, 2000)))[None], centred_gram(rng.normal(size=(n, 200)))[None])[0, 0]
             for _ in range(20)]  # fmt: skip
    assert abs(np.mean(nulls)) < 0.02
    shares = [debiased_cka(centred_gram(x)[None], centred_gram(x + noise * rng.normal(size=(n, 20)))[None])[0, 0]
              for noise in (0.3, 1.0, 3.0)]  # fmt: skip
    assert shares[0] > shares[1] > shares[2] > 0


def test_relabelled_nulls_equal_cka_of_relabelled_matrices():
    rng = np.random.default_rng(5)
    n = 9
    layers = np.stack([centred_gram(rng.normal(size=(n, 4))) for _ in range(3)])
    brains = np.stack([centred_gram(rng.normal(size=(n, 6))) for _ in range(2)])
    orders = np.stack([rng.permutation(n) for _ in range(4)])
    one_split = [SimpleNamespace(half_a=brain[None], all_trials=brain, splits=[None]) for brain in brains]
    null = GramBlock(one_split, layers, []).on_relabellings(np.arange(n), orders)  # orders × brains × layers
    for index, order in enumerate(orders):
        relabelled = layers[:, order[:, None], order[None, :]]
        np.testing.assert_allclose(null[index], debiased_cka(brains, relabelled), rtol=1e-10)


def _population(rng, source: np.ndarray, noise: float, area: str, trials: int = 6, cells: int = 40) -> HalfTrialGrams:
    drive = source @ rng.normal(size=(source.shape[1], cells))
    responses = drive[None] + noise * rng.normal(size=(trials, *drive.shape))
    splits = np.argsort(rng.random((10, trials, len(source))), axis=1)
    return HalfTrialGrams({"area": area, "depth": 175}, responses, np.repeat([1, 2], cells // 2), splits)


def test_cka_layers_finds_the_planted_layer_and_flags_a_constant_one():
    rng = np.random.default_rng(11)
    n = 40
    features = [rng.normal(size=(n, 30)) for _ in range(3)]
    populations = [_population(rng, features[1], 1.0, "V1"), _population(rng, features[2], 1.0, "LM")]
    layers = np.stack([centred_gram(x) for x in features] + [np.zeros((n, n))])
    settings = Statistics(seed=1, stimulus_bootstraps=20, permutations=50, ci_level=0.9, best_layer_folds=6)
    table, resamples = cka_layers(populations, layers, np.array(["main"] * 4), settings, "natural_scenes", 10)
    for area, planted in (("V1", 1), ("LM", 2)):
        rows = table[table["area"] == area].set_index("layer_position")
        assert rows["score"].idxmax() == planted
        assert rows.loc[planted, "p"] == pytest.approx(1 / 51)
        assert rows.loc[planted, "best_layer_selected"] == 1.0
        assert rows.loc[planted, "ci_low_stimuli"] < rows.loc[planted, "score"] < rows.loc[planted, "ci_high_stimuli"]
        assert rows.loc[planted, "ceiling_median"] > rows.loc[planted, "score"] * 0.5
        assert rows.loc[planted, "ceiling_p"] == pytest.approx(1 / 51)
        constant = rows.loc[3]
        assert np.isnan([constant["score"], constant["p"], constant["ci_low_stimuli"]]).all()
        assert constant["score_flag"].startswith("layer constant")
    assert resamples["bootstrap"].shape == (20, 2, 4) and resamples["halvings"].shape == (6, 2, 2, 4)
    assert np.isnan(resamples["bootstrap"][..., 3]).all()


def test_cka_p_is_uniform_when_the_layer_shares_nothing_with_the_population():
    """The p (CKA with the all-trial responses, the layer relabelled) over 200 seeds of a population
    reading features the layer does not have: uniform within the binomial 99.9 % band."""
    p = []
    for seed in range(200):
        rng = np.random.default_rng(seed)
        population = _population(rng, rng.normal(size=(12, 8)), 1.0, "V1", cells=20)
        layer = centred_gram(rng.normal(size=(12, 8)))[None]
        settings = Statistics(seed=seed, stimulus_bootstraps=0, permutations=99, ci_level=0.9, best_layer_folds=0)
        p.append(cka_layers([population], layer, np.array(["main"]), settings, "s", 0)[0]["p"].iloc[0])
    p = np.array(p)
    for alpha in (0.05, 0.1, 0.25, 0.5):
        low, high = binom.ppf([0.0005, 0.9995], len(p), alpha)
        assert low <= np.sum(p <= alpha) <= high, (alpha, np.mean(p <= alpha))

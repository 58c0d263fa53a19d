"""Group statistics and contrasts against hand computations, brute force and planted truth."""

import itertools

import numpy as np
import pandas as pd
import pytest
from scipy.stats import binom, binomtest, false_discovery_control

from brainlike.group_statistics import (
    ModelScores,
    assignments,
    contrast_table,
    distinct_tensors,
    group_tables,
    held_out_choice,
    summarise,
)
from brainlike.inference import held_out_best_layer

# pixels, a shared stem, two pathways of three blocks, a shared out: the reference network's shape.
PATHWAYS = np.array(["pixels", "p1", "p1", "p1", "p1", "p1", "p2", "p2", "p2", "p2", "p2"])
LAYERS = np.array(["input", "s1", "a1", "a2", "a3", "out", "s1", "b1", "b2", "b3", "out"])
AREAS = ["VISp", "VISl", "VISam"]


def synthetic(rng, signal: np.ndarray, noise: float = 0.05, draws: int = 40, folds: int = 6) -> ModelScores:
    """A model whose score at each population × column is ``signal`` plus noise, and whose draws
    and halvings scatter around it."""
    columns, sequences = distinct_tensors(PATHWAYS, LAYERS)
    populations = pd.DataFrame({"area": AREAS * 2, "depth": [175] * 3 + [275] * 3})
    score = signal + noise * rng.standard_normal(signal.shape)
    return ModelScores(
        columns=columns, sequences=sequences, populations=populations, score=score, noise_corrected=score / 0.5,
        bootstrap=score + noise * rng.standard_normal((draws, *score.shape)),
        halvings=score + noise * rng.standard_normal((folds, 2, *score.shape)),
    )  # fmt: skip


def test_shared_tensors_are_one_column_and_each_pathway_keeps_its_order():
    columns, sequences = distinct_tensors(PATHWAYS, LAYERS)
    assert list(columns["layer"]) == ["input", "s1", "a1", "a2", "a3", "out", "b1", "b2", "b3"]
    assert list(columns["pathway"]) == ["pixels", "p1+p2", "p1", "p1", "p1", "p1+p2", "p2", "p2", "p2"]
    assert [list(columns["layer"][sequences[p]]) for p in ("p1", "p2")] == [
        ["s1", "a1", "a2", "a3", "out"], ["s1", "b1", "b2", "b3", "out"]]  # fmt: skip


def test_group_statistics_equal_pandas_over_the_members():
    rng = np.random.default_rng(0)
    models = {f"m{i}": synthetic(rng, rng.random((6, 9))) for i in range(4)}
    layers, _best = group_tables(models, {"g": list(models)}, AREAS, 0.9)
    long = pd.concat([
        pd.DataFrame({"model": name, "population": np.repeat(np.arange(6), 9), "column": np.tile(np.arange(9), 6),
                      "score": model.score.ravel()})
        for name, model in models.items()
    ])  # fmt: skip
    expected = long.groupby(["population", "column"])["score"].agg(["median", "mean", "std", "min", "max"])
    for statistic in ("median", "mean", "std", "min", "max"):
        column = "score_sd" if statistic == "std" else f"score_{statistic}"
        np.testing.assert_allclose(layers[column], expected[statistic], rtol=1e-12)  # pandas std: ddof 1
    assert set(layers["sd_ddof"]) == {1} and set(layers["members"]) == {4}
    assert len(layers) == 6 * 9  # shared s1/out and the pixels once per population


def test_held_out_choice_equals_the_per_model_choice():
    rng = np.random.default_rng(1)
    scores = rng.random((8, 2, 5))
    held_out, fraction = held_out_choice(scores)
    per_layer, selected = held_out_best_layer(scores, np.zeros(5, dtype=int))
    np.testing.assert_allclose(fraction, selected)
    assert held_out == pytest.approx(per_layer[0])
    scores[..., 2] = np.nan  # a NaN layer is never chosen
    _held_out, fraction = held_out_choice(scores)
    assert fraction[2] == 0
    assert np.isnan(held_out_choice(np.full((3, 2, 4), np.nan))[0])


def test_exact_permutation_p_equals_brute_force_enumeration():
    rng = np.random.default_rng(2)
    models = {f"m{i}": synthetic(rng, rng.random((6, 9)), noise=0.2) for i in range(7)}
    groups = {"a": ["m0", "m1", "m2"], "b": ["m3", "m4", "m5", "m6"]}
    table = contrast_table(models, groups, [["a", "b"]], 0.9, np.random.default_rng(0), 10)
    layer_rows = table[table["at"] == "layer"]
    scores = np.stack([models[m].score for m in groups["a"] + groups["b"]])
    observed = scores[:3].mean(axis=0) - scores[3:].mean(axis=0)
    null = []
    for chosen in itertools.combinations(range(7), 3):
        in_a = np.isin(np.arange(7), chosen)
        null.append(scores[in_a].mean(axis=0) - scores[~in_a].mean(axis=0))
    expected = (np.abs(np.array(null)) >= np.abs(observed) - 1e-12).mean(axis=0)
    assert len(null) == 35
    # The reported difference is the tested one (means); the medians' difference stands beside it.
    np.testing.assert_allclose(layer_rows["difference"], observed.ravel())
    medians = np.median(scores[:3], axis=0) - np.median(scores[3:], axis=0)
    np.testing.assert_allclose(layer_rows["median_difference"], medians.ravel())
    np.testing.assert_allclose(layer_rows["p"], expected.ravel())
    # The paired bootstrap: both groups' means on the same draw, then the percentile interval.
    draws = np.stack([models[m].bootstrap for m in groups["a"] + groups["b"]])
    paired = draws[:3].mean(axis=0) - draws[3:].mean(axis=0)
    np.testing.assert_allclose(layer_rows["ci_low"], np.percentile(paired, 5, axis=0).ravel())
    np.testing.assert_allclose(layer_rows["ci_high"], np.percentile(paired, 95, axis=0).ravel())


def test_assignments_are_every_split_once_with_the_observed_first():
    splits, exact = assignments(5, 5, np.random.default_rng(0), 0)
    assert exact and len(splits) == 252 and len({tuple(s) for s in splits}) == 252
    assert (splits.sum(axis=1) == 5).all() and list(splits[0]) == [True] * 5 + [False] * 5
    splits, exact = assignments(12, 12, np.random.default_rng(0), 99)
    assert not exact and splits.shape == (100, 24) and (splits.sum(axis=1) == 12).all()


def test_a_planted_group_difference_has_its_sign_and_the_smallest_p():
    rng = np.random.default_rng(3)
    planted = np.zeros((6, 9))
    planted[:, 3] = 0.3  # p1's a2 is where the groups differ
    models = {f"a{i}": synthetic(rng, 0.2 + planted) for i in range(5)}
    models |= {f"b{i}": synthetic(rng, np.full((6, 9), 0.2)) for i in range(5)}
    groups = {"a": [f"a{i}" for i in range(5)], "b": [f"b{i}" for i in range(5)]}
    table = contrast_table(models, groups, [["a", "b"]], 0.95, np.random.default_rng(0), 10)
    at_layer = table[(table["at"] == "layer") & (table["layer"] == "a2")]
    assert (at_layer["difference"] > 0.2).all() and (at_layer["p"] == 2 / 252).all()
    assert (at_layer["ci_low"] > 0).all()
    best = table[(table["at"] == "held-out best layer") & (table["pathway"] == "p1")]
    assert (best["difference"] > 0.2).all() and (best["p"] == 2 / 252).all()
    summary = table[(table["at"] == "across populations") & (table["pathway"] == "p1")].iloc[0]
    assert summary["favour_a"] == 6 and summary["favour_b"] == 0 and summary["p"] == pytest.approx(2 / 252)
    _layers, best_layers = group_tables(models, groups, AREAS, 0.95)
    chosen = best_layers[(best_layers["group"] == "a") & (best_layers["pathway"] == "p1")]
    assert set(chosen["best_layer"]) == {"a2"} and (chosen["best_layer_selected"] == 1).all()


def test_permutation_p_is_uniform_when_both_groups_come_from_one_distribution():
    """400 null data sets of 5 vs 5 members: the share of p ≤ α stays inside binomial 99.9 % bounds."""
    rng = np.random.default_rng(4)
    p_values = []
    for _ in range(400):
        models = {f"m{i}": synthetic(rng, np.full((6, 9), 0.2), noise=0.1, draws=2, folds=2) for i in range(10)}
        groups = {"a": [f"m{i}" for i in range(5)], "b": [f"m{i}" for i in range(5, 10)]}
        table = contrast_table(models, groups, [["a", "b"]], 0.9, rng, 10)
        p_values.append(table.loc[(table["at"] == "layer") & (table["area"] == "VISp") & (table["depth"] == 175)
                                  & (table["layer"] == "a1"), "p"].iloc[0])  # fmt: skip
    p_values = np.array(p_values)
    for alpha in (0.05, 0.1, 0.25, 0.5, 0.75):
        level = np.floor(alpha * 252 / 2) * 2 / 252  # the largest attainable p ≤ α
        low, high = binom.ppf([0.0005, 0.9995], 400, level)
        assert low <= (p_values <= alpha + 1e-12).sum() <= high, alpha


@pytest.mark.parametrize("member_sd", [0.5, 1.0, 2.0])
def test_a_member_effect_shared_by_every_population_is_no_group_effect(member_sd):
    """Each member's score moves by its own amount in every population (its checkpoint), the groups
    do not differ: the across-populations p (member assignments) stays at α, where a sign test over
    populations (the old p) rejects far more often (0.09, 0.26, 0.51 at these member SDs)."""
    rng = np.random.default_rng(int(member_sd * 10))
    rejected, sign_rejected, datasets = 0, 0, 200
    for _ in range(datasets):
        models = {}
        for i in range(10):
            shift = member_sd * 0.1 * rng.standard_normal()  # population noise SD 0.1
            models[f"m{i}"] = synthetic(rng, np.full((6, 9), 0.2 + shift), noise=0.1, draws=2, folds=2)
        groups = {"a": [f"m{i}" for i in range(5)], "b": [f"m{i}" for i in range(5, 10)]}
        table = contrast_table(models, groups, [["a", "b"]], 0.9, rng, 10)
        row = table[(table["at"] == "across populations") & (table["pathway"] == "p1")].iloc[0]
        rejected += row["p"] <= 0.05
        sign_rejected += binomtest(int(row["favour_a"]), int(row["favour_a"] + row["favour_b"])).pvalue <= 0.05
    assert rejected <= binom.ppf(0.999, datasets, 0.05), rejected / datasets
    if member_sd >= 1:
        assert sign_rejected > binom.ppf(0.999, datasets, 0.05), sign_rejected / datasets


def test_contrast_q_is_per_family():
    """The held-out best-layer rows of a contrast are one family, its per-layer rows another: the
    many per-layer tests never dilute the primary ones."""
    rng = np.random.default_rng(7)
    models = {f"m{i}": synthetic(rng, rng.random((6, 9))) for i in range(4)}
    _layers, _best, table = summarise({"s": models}, {"a": ["m0", "m1"], "b": ["m2", "m3"]}, [["a", "b"]], AREAS, 0.9, 0, 10)
    for at in ("layer", "held-out best layer", "across populations"):
        family = table[table["at"] == at]
        np.testing.assert_allclose(family["q"], false_discovery_control(family["p"], method="bh"))
        assert (family["q_family"] == f"Benjamini-Hochberg within a − b, {at} rows").all()


def test_a_nan_member_makes_the_difference_and_its_p_nan():
    rng = np.random.default_rng(5)
    models = {f"m{i}": synthetic(rng, rng.random((6, 9))) for i in range(4)}
    models["m0"].score[0, 2] = np.nan
    _layers, _best, table = summarise({"s": models}, {"a": ["m0", "m1"], "b": ["m2", "m3"]}, [["a", "b"]], AREAS, 0.9, 0, 10)
    row = table[(table["at"] == "layer") & (table["area"] == "VISp") & (table["depth"] == 175) & (table["layer"] == "a1")]
    assert row["difference"].isna().all() and row["p"].isna().all() and row["q"].isna().all()
    assert table["q"].notna().sum() == table["p"].notna().sum() > 0


def test_members_with_other_layers_are_refused_naming_the_group():
    rng = np.random.default_rng(6)
    models = {"m0": synthetic(rng, rng.random((6, 9))), "m1": synthetic(rng, rng.random((6, 9)))}
    models["m1"].columns = models["m1"].columns.assign(layer=lambda c: c["layer"].str.upper())
    with pytest.raises(ValueError, match="group 'g': m1 records other layers"):
        group_tables(models, {"g": ["m0", "m1"]}, AREAS, 0.9)

"""Noise correction on one scale: a model equal to a population's noise-free response scores 1
noise-corrected in every metric, at ceilings from 0.12 to 0.9 (ridge: 0.44 to 1, the ceilings of
cells its default threshold keeps other than by chance), and a ceiling near zero gives no corrected
score at all (never a ratio of 100).

Each population's cells read a planted stimulus × feature signal, each trial adds independent
noise; the noise level sets the ceiling. The "model" is the planted signal itself."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from brainlike.cka import HalfTrialGrams, centred_gram, cka_layers
from brainlike.encoding import Encoding, ReliableCells, encode_layers
from brainlike.frame import Statistics, guard_corrections
from brainlike.noise_ceiling import split_half
from brainlike.rdm import population_rdms, rdms_from_pattern_stack, upper
from brainlike.resampling import Relabellings, ceiling_relabellings
from brainlike.rsa import BrainRDMs, score_layers
from brainlike.splits import random_splits

N_STIMULI, CELLS, TRIALS = 118, 60, 10
# Trial noise levels whose noise-free ceilings run from about 0.9 down to about 0.12, per metric.
NOISE = {"rsa": [0.5, 1.0, 2.0, 3.0, 4.5, 6.0, 8.0], "cka": [1.5, 3.0, 5.0, 8.0, 9.0, 10.0]}
# The corrected score of a noise-free model is a ratio of two estimates; at low ceilings the
# ceiling's own sampling error (per population SD 0.05 at 0.2, 0.15 at 0.12 for rsa; CKA's split-half
# estimate, a squared scale, reaches 0 in some populations at 0.12) widens it, so the mean is taken
# over more seeds there (Monte Carlo SE about 0.02 at 0.12).
SEEDS = 6
SEEDS_BELOW_CEILING_03 = 30
FLOOR = 0.1  # statistics.ceiling_floor's default
NO_RELABELLINGS = Relabellings(np.arange(N_STIMULI), np.empty((0, N_STIMULI), dtype=int))
STATISTICS = Statistics(seed=1, stimulus_bootstraps=0, permutations=0, ci_level=0.9, best_layer_folds=0)


def population(seed: int, noise: float, cells: int = CELLS) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The planted signal (stimuli × cells, from 8 latent features, so a linear model of the cells
    is learnt from the stimuli at hand), trials × stimuli × cells reading it, and the splits."""
    rng = np.random.default_rng(seed)
    signal = rng.normal(size=(N_STIMULI, 8)) @ rng.normal(size=(8, cells)) / np.sqrt(8)
    responses = signal[None] + noise * rng.normal(size=(TRIALS, N_STIMULI, cells))
    return signal, responses, random_splits(rng, 20, TRIALS, N_STIMULI)


def rsa_corrected(seed: int, noise: float) -> tuple[float, float]:
    signal, responses, splits = population(seed, noise)
    rdms, descriptors = population_rdms(responses, np.repeat([1, 2], CELLS // 2), splits, "correlation",
                                        np.random.default_rng(0), 0)  # fmt: skip
    kinds = np.asarray(descriptors["kind"])
    vectors = upper(rdms)
    brain = BrainRDMs({"area": "A", "depth": 0}, vectors[kinds == "half_a"], vectors[:0], "", vectors[kinds == "all"][0])
    ceiling = split_half(vectors[kinds == "half_a"], vectors[kinds == "half_b"], "tau-a", False, NO_RELABELLINGS)
    model = upper(rdms_from_pattern_stack(signal[None]))
    table, _ = score_layers([brain], model, np.array(["main"]), STATISTICS, "tau-a", "s", [ceiling])
    return guarded(table, ceiling_p=0.0)


def cka_corrected(seed: int, noise: float) -> tuple[float, float]:
    signal, responses, splits = population(seed, noise)
    grams = HalfTrialGrams({"area": "A", "depth": 0}, responses, np.repeat([1, 2], CELLS // 2), splits)
    table, _ = cka_layers([grams], centred_gram(signal)[None], np.array(["main"]), STATISTICS, "s", 0)
    return guarded(table, ceiling_p=0.0)


def guarded(table: pd.DataFrame, ceiling_p: float | None = None) -> tuple[float, float]:
    """The ceiling and the corrected score as the tables rule leaves them: empty below the floor
    (a ceiling the sampling error has put near 0 would make the ratio 100) or not above chance.
    ``ceiling_p`` stands in for a p not drawn (no relabellings): 0, significant, for RSA and CKA,
    where the floor is the guard that matters at these ceilings, whose p are far below 0.05."""
    table = table if ceiling_p is None else table.assign(ceiling_p=ceiling_p)
    corrected = guard_corrections(table, alpha=0.05, floor=FLOOR)
    return corrected["ceiling_noise_free"].iloc[0], corrected["score_noise_corrected"].iloc[0]


ENCODING = Encoding(alphas=(0.01, 0.1, 1.0, 10.0, 100.0), folds=5, inner_folds=5, reliability_threshold=0.3,
                    reliability_splits=20, cell_chunk=1000)  # fmt: skip
RIDGE_CELLS = 120  # more cells than the other metrics': ridge's ceiling is a median over the reliable cells only


def ridge_guarded(seed: int, noise: float) -> tuple[float, float]:
    """Ridge at the default reliability threshold, its corrected score as the tables rule leaves it
    (the ceiling's p drawn: 100 relabellings)."""
    signal, responses, _ = population(seed, noise, RIDGE_CELLS)
    relabellings = ceiling_relabellings(seed, 100, "s", "A", 0, N_STIMULI, False)
    containers = np.repeat([1, 2], RIDGE_CELLS // 2)
    cells = ReliableCells.from_responses({"area": "A", "depth": 0}, responses, containers, ENCODING, seed, "s", relabellings)
    if len(cells.reliable) == 0:
        return np.nan, np.nan
    table, _ = encode_layers([cells], [signal @ signal.T], np.array(["main"]), STATISTICS, ENCODING, "s", 0)
    return guarded(table)


@pytest.mark.parametrize("metric", ["rsa", "cka"])
def test_a_noise_free_model_scores_one_at_every_ceiling(metric):
    corrected = {"rsa": rsa_corrected, "cka": cka_corrected}[metric]
    ceilings = []
    for noise in NOISE[metric]:
        values = np.array([corrected(seed, noise) for seed in range(SEEDS)])
        if values[:, 0].mean() < 0.3:
            values = np.concatenate([values, [corrected(seed, noise) for seed in range(SEEDS, SEEDS_BELOW_CEILING_03)]])
        ceiling, mean = values[:, 0].mean(), np.nanmean(values[:, 1])
        ceilings.append(ceiling)
        assert mean == pytest.approx(1.0, abs=0.05), (noise, ceiling, values)
        assert np.isnan(values[:, 1]).mean() < 0.5, values  # most populations keep a corrected score
    assert min(ceilings) < 0.13 and max(ceilings) > 0.9, ceilings  # the range the claim covers


def test_ridge_measures_the_ceiling_on_trials_that_did_not_select_the_cells():
    """Ridge selects its cells on one half of each stimulus's trials and measures their
    reliability on the other, so the cells that chance let in near the threshold carry no inflated
    ceiling: a noise-free model reads 1 ± 0.05 (0.72 at a ceiling of 0.59 when both came from the
    same trials). Where the selected cells' reliability on the other half is not above chance, the
    corrected score is empty (flagged): so it is in most populations whose cells only chance put
    above the threshold."""
    for noise in (0.25, 1.0, 2.4, 3.2, 4.5, 6.5):
        seeds = SEEDS if noise < 4 else 4 * SEEDS  # the ratio's spread grows as fewer cells pass
        values = np.array([ridge_guarded(seed, noise) for seed in range(seeds)])
        ceiling, mean = np.nanmean(values[:, 0]), np.nanmean(values[:, 1])
        assert mean == pytest.approx(1.0, abs=0.05), (noise, ceiling, values)
        assert np.isnan(values[:, 1]).mean() < 0.1, values
    assert ceiling < 0.46, ceiling  # the last noise level's ceiling: below √0.3 ≈ 0.55, the threshold's own
    chance_only = np.array([ridge_guarded(seed, 20.0) for seed in range(2 * SEEDS)])  # ceilings of about 0.1
    assert np.isnan(chance_only[:, 1]).mean() >= 0.75, chance_only


def test_a_ceiling_below_the_floor_or_not_above_chance_gives_no_corrected_score():
    table = pd.DataFrame({
        "score": [0.3, 0.3, 0.3, 0.3], "score_noise_corrected": [0.9, 114.0, 3.0, 0.5],
        "ceiling_noise_free": [0.33, 0.003, 0.5, np.nan], "ceiling_p": [0.001, 0.001, 0.2, 0.001],
    })  # fmt: skip
    guarded = guard_corrections(table, alpha=0.05, floor=0.1)
    assert guarded["score_noise_corrected"].tolist()[0] == 0.9 and guarded["score_noise_corrected"].iloc[1:].isna().all()
    assert guarded["noise_corrected_flag"].tolist() == [
        "", "ceiling below statistics.ceiling_floor = 0.1 (ceiling_noise_free)",
        "ceiling not above chance (ceiling_p ≥ statistics.alpha = 0.05)", "no ceiling for this population",
    ]  # fmt: skip
    assert guarded["ceiling_above_chance"].tolist() == [True, True, False, True]


def test_a_metric_s_own_flag_stands_where_the_ceiling_gives_none():
    """Ridge flags a layer whose predictions disagree between trial halves; a table of another
    metric beside it (no such column there, NaN after concatenation) reads no flag."""
    ridge = pd.DataFrame({
        "score_noise_corrected": [np.nan, 0.8], "ceiling_noise_free": [0.7, 0.7], "ceiling_p": [0.001, 0.001],
        "noise_corrected_flag": ["predictions do not agree", ""],
    })  # fmt: skip
    rsa = pd.DataFrame({"score_noise_corrected": [0.9], "ceiling_noise_free": [0.5], "ceiling_p": [0.001]})
    guarded = guard_corrections(pd.concat([ridge, rsa], ignore_index=True), alpha=0.05, floor=0.1)
    assert guarded["noise_corrected_flag"].tolist() == ["predictions do not agree", "", ""]
    assert guarded["score_noise_corrected"].tolist()[1:] == [0.8, 0.9]

"""Scores of a model's layers against brain populations, with intervals, p-values and a held-out
best layer.

The score of a layer is the reference study's: the comparison with each random half-trial brain
RDM, averaged over them. Around it:
- bootstrap over stimuli: each draw resamples the stimuli of one half-trial RDM (a different split
  per draw, so the interval also carries the split-to-split spread);
- bootstrap over containers: the brain RDMs built from containers drawn with replacement
  (``rdm.population_rdms``);
- permutation p: the all-trial brain RDM with its stimuli relabelled is the null;
- held-out best layer: per pathway, the layer chosen on one random half of the stimuli is scored
  on the other half (half-trial RDMs, like the score).
Random draws depend on the seed and the stimulus set only, so every model and population sees
the same draws (common random numbers; the same config gives the same bytes).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial

import numpy as np
import pandas as pd

from .compare import compare
from .inference import (
    PERMUTED_ENTRIES,
    bootstrap_draws,
    bootstrap_positions,
    held_out_best_layer,
    percentile_interval,
    permutation_p,
    permuted_vectors,
    stimulus_halves,
    sub_rdm_positions,
)
from .seeds import labelled_rng


@dataclass(frozen=True)
class Inference:
    method: str
    seed: int
    stimulus_bootstraps: int
    permutations: int
    ci_level: float
    best_layer_folds: int
    device: str | None = None  # a torch device for the Kendall counts (compare.compare)


@dataclass
class BrainRDMs:
    """One population's RDM vectors, by kind (see ``rdm.population_rdms``)."""

    key: dict
    half_a: np.ndarray
    all_trials: np.ndarray
    container_bootstrap: np.ndarray

    @classmethod
    def from_rsatoolbox(cls, rdms) -> "BrainRDMs":
        kinds = np.asarray(rdms.rdm_descriptors["kind"])
        vectors = rdms.get_vectors()
        key = {"area": rdms.descriptors["area"], "depth": int(rdms.descriptors["depth"])}
        return cls(key, vectors[kinds == "half_a"], vectors[kinds == "all"][0], vectors[kinds == "container_bootstrap"])


def _n_stimuli(pairs: int) -> int:
    return int(round((1 + np.sqrt(1 + 8 * pairs)) / 2))


def _stimulus_bootstrap(score, half_a: np.ndarray, layers: np.ndarray, draws: np.ndarray) -> np.ndarray:
    """draws × populations × layers: each draw resamples the stimuli of half-trial RDM draw mod splits."""
    n, splits = draws.shape[1], half_a.shape[1]
    scores = np.empty((len(draws), len(half_a), len(layers)))
    for index, draw in enumerate(draws):
        positions = bootstrap_positions(draw, n)
        scores[index] = score(half_a[:, index % splits, positions], layers[:, positions])
    return scores


def _permutation_p(score, all_trials: np.ndarray, layers: np.ndarray, orders: np.ndarray) -> np.ndarray:
    """populations × layers: p of each score against the brain RDM's stimulus relabellings."""
    observed = score(all_trials, layers)
    if len(orders) == 0:
        return np.full(observed.shape, np.nan)
    null = np.empty((len(orders), len(all_trials), len(layers)))
    batch = max(1, PERMUTED_ENTRIES // all_trials.size)
    for start in range(0, len(orders), batch):
        permuted = permuted_vectors(all_trials, orders[start : start + batch])  # populations × batch × pairs
        scores = score(permuted.reshape(-1, permuted.shape[-1]), layers)
        null[start : start + batch] = scores.reshape(len(all_trials), -1, len(layers)).transpose(1, 0, 2)
    return permutation_p(observed, null)


def _halving_scores(score, half_a: np.ndarray, layers: np.ndarray, halvings: np.ndarray, n: int) -> np.ndarray:
    """folds × 2 × populations × layers: scores on each half of each stimulus halving."""
    splits = half_a.shape[1]
    scores = np.empty((len(halvings), 2, len(half_a), len(layers)))
    for fold, halves in enumerate(halvings):
        for side, stimuli in enumerate(halves):
            positions = sub_rdm_positions(stimuli, n)
            scores[fold, side] = score(half_a[:, fold % splits, positions], layers[:, positions])
    return scores


def score_layers(
    brains: list[BrainRDMs], layers: np.ndarray, pathways: np.ndarray, settings: Inference, stimulus: str
) -> tuple[pd.DataFrame, dict[str, np.ndarray]]:
    """One row per population × layer; ``layers`` (layers × pairs) are the model's RDM vectors and
    ``pathways`` their pathway names (the best layer is chosen within each). With the table, the
    resampled scores behind it, which group statistics pair across models: ``bootstrap`` (stimulus
    draws × populations × layers) and ``halvings`` (folds × 2 halves × populations × layers).

    The populations are scored together so each resampled layer vector is ranked once for all;
    any grouping of the populations gives the same numbers.
    """
    score = partial(compare, method=settings.method, device=settings.device)
    n = _n_stimuli(layers.shape[1])
    half_a = np.stack([brain.half_a for brain in brains])  # populations × splits × pairs
    splits = half_a.shape[1]
    per_split = score(half_a.reshape(-1, half_a.shape[-1]), layers).reshape(len(brains), splits, -1)
    draws = bootstrap_draws(labelled_rng(settings.seed, "stimulus bootstrap", stimulus), settings.stimulus_bootstraps, n)
    bootstrap = _stimulus_bootstrap(score, half_a, layers, draws)
    stimulus_low, stimulus_high = percentile_interval(bootstrap, settings.ci_level)
    orders = np.argsort(labelled_rng(settings.seed, "permutation", stimulus).random((settings.permutations, n)), axis=1)
    p = _permutation_p(score, np.stack([brain.all_trials for brain in brains]), layers, orders)
    halvings = stimulus_halves(labelled_rng(settings.seed, "best layer", stimulus), settings.best_layer_folds, n)
    halving_scores = _halving_scores(score, half_a, layers, halvings, n)

    rows = []
    for position, brain in enumerate(brains):
        container_low, container_high = percentile_interval(score(brain.container_bootstrap, layers), settings.ci_level)
        if len(halvings):
            selected, held_out = held_out_best_layer(halving_scores[:, :, position], pathways)
        else:
            selected = held_out = np.full(len(layers), np.nan)
        rows.append(
            pd.DataFrame(
                {
                    **brain.key,
                    "score": per_split[position].mean(axis=0),
                    "score_sd": per_split[position].std(axis=0, ddof=1),
                    "brain_resamples": splits,
                    "ci_low_stimuli": stimulus_low[position],
                    "ci_high_stimuli": stimulus_high[position],
                    "ci_low_containers": container_low,
                    "ci_high_containers": container_high,
                    "p": p[position],
                    "best_layer_selected": selected,
                    "best_layer_held_out_score": held_out,
                    "layer_position": np.arange(len(layers)),
                }
            )
        )
    table = pd.concat(rows, ignore_index=True)
    table["comparison"] = settings.method
    table["ci_method"] = (
        f"{settings.ci_level:.0%} percentile bootstrap: {settings.stimulus_bootstraps} stimulus draws, "
        f"{len(brains[0].container_bootstrap)} container draws"
    )
    table["p_method"] = f"{settings.permutations} stimulus permutations of the all-trial brain RDM, one-sided"
    table["best_layer_method"] = (
        f"{settings.best_layer_folds} random stimulus halvings, chosen per pathway on one half, scored on the other"
    )
    return table, {"bootstrap": bootstrap, "halvings": halving_scores}

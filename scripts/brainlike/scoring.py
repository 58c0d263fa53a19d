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

import numpy as np
import pandas as pd

from .compare import compare
from .inference import (
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


# Permuted RDM entries held at a time (float64): 128 MB.
PERMUTED_ENTRIES = 1 << 24


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


def score_layers(brains: list[BrainRDMs], layers: np.ndarray, pathways: np.ndarray, settings: Inference, stimulus: str) -> pd.DataFrame:
    """One row per population × layer; ``layers`` (layers × pairs) are the model's RDM vectors.

    The populations are scored together so each resampled layer vector is ranked once for all;
    any grouping of the populations gives the same numbers.
    """
    method = settings.method
    n = _n_stimuli(layers.shape[1])
    splits = len(brains[0].half_a)
    half_a = np.stack([brain.half_a for brain in brains])  # populations × splits × pairs

    # populations × splits × layers
    per_split = compare(half_a.reshape(-1, half_a.shape[-1]), layers, method, settings.device).reshape(len(brains), splits, -1)

    draws = bootstrap_draws(labelled_rng(settings.seed, "stimulus bootstrap", stimulus), settings.stimulus_bootstraps, n)
    stimulus_boot = np.empty((len(draws), len(brains), len(layers)))
    for index, draw in enumerate(draws):
        positions = bootstrap_positions(draw, n)
        stimulus_boot[index] = compare(half_a[:, index % splits, positions], layers[:, positions], method, settings.device)
    stimulus_low, stimulus_high = percentile_interval(stimulus_boot, settings.ci_level)

    orders = np.argsort(labelled_rng(settings.seed, "permutation", stimulus).random((settings.permutations, n)), axis=1)
    all_trials = np.stack([brain.all_trials for brain in brains])
    observed = compare(all_trials, layers, method, settings.device)
    null = np.empty((len(orders), len(brains), len(layers)))
    batch = max(1, PERMUTED_ENTRIES // all_trials.size)
    for start in range(0, len(orders), batch):
        permuted = permuted_vectors(all_trials, orders[start : start + batch])  # populations × batch × pairs
        scores = compare(permuted.reshape(-1, permuted.shape[-1]), layers, method, settings.device)
        null[start : start + batch] = scores.reshape(len(brains), -1, len(layers)).transpose(1, 0, 2)
    p = permutation_p(observed, null) if len(orders) else np.full(observed.shape, np.nan)

    halvings = stimulus_halves(labelled_rng(settings.seed, "best layer", stimulus), settings.best_layer_folds, n)
    fold_scores = np.empty((len(halvings), 2, len(brains), len(layers)))
    for fold, halves in enumerate(halvings):
        for side, stimuli in enumerate(halves):
            positions = sub_rdm_positions(stimuli, n)
            fold_scores[fold, side] = compare(half_a[:, fold % splits, positions], layers[:, positions], method, settings.device)

    rows = []
    for position, brain in enumerate(brains):
        container_low, container_high = percentile_interval(
            compare(brain.container_bootstrap, layers, method, settings.device) if len(brain.container_bootstrap) else np.empty((0, len(layers))),
            settings.ci_level,
        )
        selected, held_out = (
            held_out_best_layer(fold_scores[:, :, position], pathways) if len(halvings) else (np.full(len(layers), np.nan),) * 2
        )
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
    table["comparison"] = method
    table["ci_method"] = (
        f"{settings.ci_level:.0%} percentile bootstrap: {settings.stimulus_bootstraps} stimulus draws, "
        f"{len(brains[0].container_bootstrap)} container draws"
    )
    table["p_method"] = f"{settings.permutations} stimulus permutations of the all-trial brain RDM, one-sided"
    table["best_layer_method"] = f"{settings.best_layer_folds} random stimulus halvings, chosen per pathway on one half, scored on the other"
    return table

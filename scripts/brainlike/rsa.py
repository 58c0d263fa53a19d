"""RSA scores of a model's layers against brain populations: the metric's scorers for the frame
every metric shares (``frame``).

The score of a layer is the reference study's: the comparison (``rsa.comparison``) of the layer's RDM
with each random half-trial brain RDM, averaged over them. Its resamples:
- stimulus bootstrap: each draw resamples the stimuli of one half-trial RDM (a different split per
  draw, so the interval also carries the split-to-split spread); a drawn stimulus pair counts with
  its multiplicity, a stimulus's pair with its own copy not at all (as rsatoolbox);
- permutation p: the comparison of the layer RDM with the all-trial brain RDM, against the same
  with the model RDM relabelled. It tests what the score measures (shared stimulus structure) at
  1/splits of the cost of relabelling the mean over splits, whose null it follows closely; the
  score stays the reference study's mean over halvings;
- halvings: the half-trial RDMs restricted to each half of the stimuli;
- container bootstrap: the brain RDMs built from containers drawn with replacement
  (``rdm.population_rdms``); empty, with the reason, for a population of one container.
Its ceiling is the brain RDMs' own (rule noise_ceiling, ``noise_ceiling``), the same for every model.
A layer whose RDM is constant or undefined has no score; ``score_flag`` says why, for it and for
any other undefined or partial score.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial

import numpy as np
import pandas as pd

from .compare import compare
from .depths import depth_value
from .frame import Plan, Statistics, metric_table, resample
from .inference import PERMUTED_ENTRIES, bootstrap_pairs, permuted_vectors, sub_rdm_positions
from .rdm import StoredRDMs, containers_note, stimuli_of_pairs


# Why a published RDM (data.source: rdms) has no interval across animals.
PUBLISHED_CONTAINERS_NOTE = "published RDM: no per-animal RDMs, so no interval across animals"


@dataclass
class BrainRDMs:
    """One population's RDM vectors, by kind (see ``rdm.population_rdms``).

    A published RDM (a store with the all-trial RDM only) stands in for its own half-trial RDMs:
    its score is the comparison with it, its bootstrap resamples its stimuli, and its held-out
    best layer is chosen on halves of its stimuli."""

    key: dict
    half_a: np.ndarray
    container_bootstrap: np.ndarray
    containers_note: str
    all_trials: np.ndarray  # (pairs,): the RDM of the trial means, the population's own

    @classmethod
    def from_stored(cls, rdms: StoredRDMs) -> BrainRDMs:
        kinds = np.asarray(rdms.rdm_descriptors["kind"])
        vectors = rdms.get_vectors()
        key = {"area": rdms.descriptors["area"], "depth": depth_value(rdms.descriptors["depth"])}
        all_trials = vectors[kinds == "all"]
        if not (kinds == "half_a").any():
            return cls(key, all_trials, vectors[:0], PUBLISHED_CONTAINERS_NOTE, all_trials[0])
        return cls(key, vectors[kinds == "half_a"], vectors[kinds == "container_bootstrap"],
                   containers_note(int(rdms.descriptors["containers"])), all_trials[0])  # fmt: skip


def layer_flags(layers: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per model RDM vector: why it cannot be scored, or what is partial about it ("" if nothing),
    and whether it can be scored (at least two defined pairs, not all equal)."""
    flags, scorable = [], []
    for vector in layers:
        finite = np.isfinite(vector)
        scorable.append(finite.sum() >= 2 and np.ptp(vector[finite]) > 0)
        if finite.sum() < 2:
            flags.append(
                "model RDM undefined: no stimulus pair has a dissimilarity (a layer with one feature, or "
                "constant patterns, under correlation distance)"
            )
        elif np.ptp(vector[finite]) == 0:
            flags.append("model RDM constant: the layer does not tell the stimuli apart")
        elif not finite.all():
            flags.append(
                f"model RDM undefined for {np.sum(~finite)} of {len(vector)} stimulus pairs (stimuli with constant "
                "patterns under correlation distance); those pairs are left out"
            )
        else:
            flags.append("")
    return np.array(flags, dtype=object), np.array(scorable, dtype=bool)


def _score_flags(brain: BrainRDMs, layer_flag: np.ndarray, score: np.ndarray, method: str) -> np.ndarray:
    flags = layer_flag.copy()
    brain_nan = np.isnan(brain.half_a).any(axis=1)
    for layer in np.flatnonzero(np.isnan(score) & (flags == "")):
        if brain_nan.all():
            flags[layer] = "brain RDMs undefined (a stimulus with constant responses in every cell)"
        else:
            flags[layer] = f"{method} undefined: a constant ranking in the brain or model RDM"
    if brain_nan.any():
        note = (
            f"{brain_nan.sum()} of {len(brain_nan)} half-trial brain RDMs have undefined pairs (a stimulus with "
            "constant responses in every cell); those pairs are left out"
        )
        flags = np.array([flag or note for flag in flags], dtype=object)
    return flags


class RDMBlock:
    """RSA's scorers: the RDM vectors of the layers at ``positions`` against every population's
    half-trial RDMs (all populations at once, so each resampled layer vector is ranked once)."""

    def __init__(self, score, brains: list[BrainRDMs], layers: np.ndarray, positions: np.ndarray):
        self.score, self.brains, self.layers, self.positions = score, brains, layers, positions
        self.half_a = np.stack([brain.half_a for brain in brains])  # populations × splits × pairs
        self.all_trials = np.stack([brain.all_trials for brain in brains])  # populations × pairs
        self.n = stimuli_of_pairs(layers.shape[1])
        # Bounds both the relabelled layer vectors and the scores of a batch to PERMUTED_ENTRIES.
        self.relabelling_batch = max(1, PERMUTED_ENTRIES // max(layers.size, len(brains) * len(layers), 1))

    def per_split(self) -> np.ndarray:
        populations, splits, pairs = self.half_a.shape
        return self.score(self.half_a.reshape(-1, pairs), self.layers).reshape(populations, splits, -1)

    def on_draw(self, index: int, draw: np.ndarray) -> np.ndarray:
        positions, weights = bootstrap_pairs(draw, self.n)
        split = index % self.half_a.shape[1]
        return self.score(self.half_a[:, split, positions], self.layers[:, positions], weights=weights)

    def p_observed(self, window: np.ndarray) -> np.ndarray:
        positions = sub_rdm_positions(window, self.n)
        return self.score(self.all_trials[:, positions], self.layers[:, positions])

    def on_relabellings(self, window: np.ndarray, orders: np.ndarray) -> np.ndarray:
        """Relabelling the model RDM equals relabelling the brain RDM, and each layer is relabelled
        once for every population."""
        permuted = permuted_vectors(self.layers, orders, self.n)  # layers × orders × pairs of the window
        brain = self.all_trials[:, sub_rdm_positions(window, self.n)]
        scores = self.score(brain, permuted.reshape(-1, permuted.shape[-1]))
        return scores.reshape(len(self.brains), len(self.layers), len(orders)).transpose(2, 0, 1)

    def on_half(self, fold: int, stimuli: np.ndarray) -> np.ndarray:
        positions = sub_rdm_positions(stimuli, self.n)
        return self.score(self.half_a[:, fold % self.half_a.shape[1], positions], self.layers[:, positions])

    def on_containers(self) -> list[np.ndarray]:
        return [self.score(brain.container_bootstrap, self.layers) for brain in self.brains]


def score_layers(
    brains: list[BrainRDMs], layers: np.ndarray, pathways: np.ndarray, statistics: Statistics, comparison: str,
    stimulus: str, ceilings: list[dict] | None = None, device: str | None = None,
) -> tuple[pd.DataFrame, dict[str, np.ndarray]]:  # fmt: skip
    """One row per population × layer; ``layers`` (layers × pairs) are the model's RDM vectors and
    ``pathways`` their pathway names (the best layer is chosen within each); ``ceilings`` each
    population's noise ceiling (``noise_ceiling``), None for none; ``device`` as for
    ``compare.compare``. With the table, the resampled scores behind it, which group statistics
    pair across models (``frame.Resampled.resamples``).

    Any grouping of the populations gives the same numbers.
    """
    score = partial(compare, method=comparison, device=device)
    flags, scorable = layer_flags(layers)
    plan = Plan.drawn(statistics, stimulus, stimuli_of_pairs(layers.shape[1]))
    blocks = [RDMBlock(score, brains, layers[scorable], np.flatnonzero(scorable))] if scorable.any() else []
    what = f"{stimulus}, {len(brains)} population(s) × {scorable.sum()} layer(s): resampling"
    counts = [len(brain.container_bootstrap) for brain in brains]
    resampled = resample(blocks, len(blocks), len(brains), len(layers), brains[0].half_a.shape[0], counts, plan, what)
    flags = np.stack([_score_flags(brain, flags, resampled.observed[position], comparison) for position, brain in enumerate(brains)])
    methods = plan.methods(
        statistics,
        max(counts),
        f"{comparison} of the layer RDM with the all-trial brain RDM against the same under {{relabellings}} of the "
        "model RDM (the score, the mean over half-trial RDMs, measures the same shared structure)",
    )
    table = metric_table(
        resampled, [brain.key for brain in brains], pathways, statistics, flags,
        [brain.containers_note for brain in brains], ceilings, methods,
    )  # fmt: skip
    table["comparison"] = comparison
    return table, resampled.resamples()

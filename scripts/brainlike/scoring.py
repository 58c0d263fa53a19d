"""Scores of a model's layers against brain populations, with intervals, p-values and a held-out
best layer.

The score of a layer is the reference study's: the comparison with each random half-trial brain
RDM, averaged over them. Around it (each resample drawn as ``resampling`` allows for the
stimulus: exchangeable scenes, or the segments of a continuous movie):
- bootstrap over stimuli: each draw resamples the stimuli of one half-trial RDM (a different split
  per draw, so the interval also carries the split-to-split spread);
- bootstrap over containers: the brain RDMs built from containers drawn with replacement
  (``rdm.population_rdms``); empty, with the reason, for a population of one container;
- permutation p of the reported score itself: the model RDM relabelled, the comparison with every
  half-trial RDM averaged, per relabelling;
- held-out best layer: per pathway, the layer chosen on one half of the stimuli is scored on the
  other half (half-trial RDMs, like the score).
A layer whose RDM is constant or undefined has no score (NaN), hence no p, interval or place in a
best-layer choice; ``score_flag`` says why, for it and for any other undefined or partial score.
Random draws depend on the seed and the stimulus set only, so every model and population sees
the same draws (common random numbers; the same config gives the same bytes).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from functools import partial

import numpy as np
import pandas as pd

from .compare import compare
from .inference import (
    PERMUTED_ENTRIES,
    bootstrap_pairs,
    held_out_best_layer,
    percentile_interval,
    permutation_p,
    permuted_vectors,
    sub_rdm_positions,
)
from .logs import Progress
from .rdm import StoredRDMs, containers_note
from .resampling import Continuous, Exchangeable, design
from .seeds import labelled_rng

log = logging.getLogger(__name__)


def _done(steps: int) -> None:
    """What a resampling loop reports its progress to when nobody listens."""


@dataclass(frozen=True)
class Inference:
    method: str
    seed: int
    stimulus_bootstraps: int
    permutations: int
    ci_level: float
    best_layer_folds: int
    continuous: bool = False  # the stimuli are consecutive segments of one movie (see resampling)
    device: str | None = None  # a torch device for the Kendall counts (compare.compare)

    @classmethod
    def from_params(cls, params, method: str, device: str | None = None) -> "Inference":
        """The settings a metric rule passes as params (the rsa keys every metric shares)."""
        return cls(
            method=method,
            seed=params.seed,
            stimulus_bootstraps=params.stimulus_bootstraps,
            permutations=params.permutations,
            ci_level=params.ci_level,
            best_layer_folds=params.best_layer_folds,
            continuous=params.continuous,
            device=device,
        )


@dataclass
class BrainRDMs:
    """One population's RDM vectors, by kind (see ``rdm.population_rdms``)."""

    key: dict
    half_a: np.ndarray
    container_bootstrap: np.ndarray
    containers: int

    @classmethod
    def from_stored(cls, rdms: StoredRDMs) -> "BrainRDMs":
        kinds = np.asarray(rdms.rdm_descriptors["kind"])
        vectors = rdms.get_vectors()
        key = {"area": rdms.descriptors["area"], "depth": int(rdms.descriptors["depth"])}
        return cls(key, vectors[kinds == "half_a"], vectors[kinds == "container_bootstrap"], int(rdms.descriptors["containers"]))


@dataclass(frozen=True)
class Plan:
    """The resamples of one stimulus set, the same for every model, population and metric (common
    random numbers): stimulus-bootstrap draws, relabellings and halvings (see ``resampling``)."""

    stimuli: Exchangeable | Continuous
    draws: np.ndarray
    orders: np.ndarray
    halvings: np.ndarray

    @classmethod
    def drawn(cls, settings: Inference, stimulus: str, n_stimuli: int) -> "Plan":
        stimuli = design(n_stimuli, settings.continuous)
        return cls(
            stimuli,
            stimuli.bootstrap_draws(labelled_rng(settings.seed, "stimulus bootstrap", stimulus), settings.stimulus_bootstraps),
            stimuli.relabellings(labelled_rng(settings.seed, "permutation", stimulus), settings.permutations),
            stimuli.halvings(labelled_rng(settings.seed, "best layer", stimulus), settings.best_layer_folds),
        )

    def methods(self, settings: Inference, container_draws: int, p_of: str) -> dict[str, str]:
        """The table's method columns; ``p_of`` says what the p compares, with ``{relabellings}``."""
        return {
            "ci_method": (
                f"{settings.ci_level:.0%} percentile bootstrap: {self.stimuli.bootstrap_method(len(self.draws))}, "
                f"{container_draws} container draws"
            ),
            "p_method": "one-sided; " + p_of.format(relabellings=self.stimuli.relabelling_method(len(self.orders))),
            "best_layer_method": (
                f"{self.stimuli.halving_method(len(self.halvings))}, chosen per pathway on one half, scored on the other"
            ),
        }


@dataclass
class Resampled:
    """One metric's scores of a model's layers against populations, and the resamples behind
    them; every metric (RSA, encoding, CKA) fills one, so every metric's table has one layout."""

    observed: np.ndarray  # populations × layers
    score_sd: np.ndarray  # populations × layers: spread over the brain resamples the score averages
    bootstrap: np.ndarray  # stimulus draws × populations × layers
    container_draws: list[np.ndarray]  # per population: container draws × layers (none: empty)
    p: np.ndarray  # populations × layers
    halvings: np.ndarray  # folds × 2 halves × populations × layers
    flags: np.ndarray  # populations × layers: why a score is missing or partial ("" if neither)

    def table(
        self, keys: list[dict], pathways: np.ndarray, ci_level: float, container_notes: list[str], brain_resamples: int
    ) -> pd.DataFrame:
        """One row per population × layer; the best layer is chosen within each of ``pathways``."""
        stimulus_low, stimulus_high = percentile_interval(self.bootstrap, ci_level)
        rows = []
        for position, key in enumerate(keys):
            container_low, container_high = percentile_interval(self.container_draws[position], ci_level)
            if len(self.halvings):
                selected, held_out = held_out_best_layer(self.halvings[:, :, position], pathways)
            else:
                selected = held_out = np.full(len(pathways), np.nan)
            rows.append(
                pd.DataFrame(
                    {
                        **key,
                        "score": self.observed[position],
                        "score_sd": self.score_sd[position],
                        "brain_resamples": brain_resamples,
                        "ci_low_stimuli": stimulus_low[position],
                        "ci_high_stimuli": stimulus_high[position],
                        "ci_low_containers": container_low,
                        "ci_high_containers": container_high,
                        "ci_containers_note": container_notes[position],
                        "p": self.p[position],
                        "best_layer_selected": selected,
                        "best_layer_held_out_score": held_out,
                        "layer_position": np.arange(len(pathways)),
                        "score_flag": self.flags[position],
                    }
                )
            )
        return pd.concat(rows, ignore_index=True)

    def resamples(self) -> dict[str, np.ndarray]:
        """What group statistics pair across models."""
        return {"bootstrap": self.bootstrap, "halvings": self.halvings}


def _n_stimuli(pairs: int) -> int:
    return int(round((1 + np.sqrt(1 + 8 * pairs)) / 2))


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


def _stimulus_bootstrap(score, half_a: np.ndarray, layers: np.ndarray, draws: np.ndarray, advance=_done) -> np.ndarray:
    """draws × populations × layers: each draw resamples the stimuli of half-trial RDM draw mod splits."""
    n, splits = _n_stimuli(layers.shape[1]), half_a.shape[1]
    scores = np.empty((len(draws), len(half_a), len(layers)))
    for index, draw in enumerate(draws):
        positions, weights = bootstrap_pairs(draw, n)
        scores[index] = score(half_a[:, index % splits, positions], layers[:, positions], weights=weights)
        advance(1)
    return scores


def _permutation_p(
    score, half_a: np.ndarray, layers: np.ndarray, observed: np.ndarray, orders: np.ndarray, advance=_done
) -> np.ndarray:
    """populations × layers: p of the mean score over half-trial RDMs against the same mean with the
    model RDM relabelled (the same as relabelling every brain RDM, and each layer is relabelled once
    for all of them)."""
    if len(orders) == 0:
        return np.full(observed.shape, np.nan)
    populations, splits, pairs = half_a.shape
    references = half_a.reshape(-1, pairs)
    null = np.empty((len(orders), populations, len(layers)))
    # Bounds both the relabelled layer vectors and the scores of a batch to PERMUTED_ENTRIES.
    batch = max(1, PERMUTED_ENTRIES // max(layers.size, len(references) * len(layers), 1))
    for start in range(0, len(orders), batch):
        chunk = orders[start : start + batch]
        permuted = permuted_vectors(layers, chunk)  # layers × chunk × pairs
        scores = score(references, permuted.reshape(-1, pairs)).reshape(populations, splits, len(layers), len(chunk))
        null[start : start + len(chunk)] = scores.mean(axis=1).transpose(2, 0, 1)
        advance(len(chunk))
    return permutation_p(observed, null)


def _halving_scores(score, half_a: np.ndarray, layers: np.ndarray, halvings: np.ndarray, advance=_done) -> np.ndarray:
    """folds × 2 × populations × layers: scores on each half of each stimulus halving."""
    n, splits = _n_stimuli(layers.shape[1]), half_a.shape[1]
    scores = np.empty((len(halvings), 2, len(half_a), len(layers)))
    for fold, halves in enumerate(halvings):
        for side, stimuli in enumerate(halves):
            positions = sub_rdm_positions(stimuli, n)
            scores[fold, side] = score(half_a[:, fold % splits, positions], layers[:, positions])
        advance(1)
    return scores


def _with_layers(values: np.ndarray, scorable: np.ndarray) -> np.ndarray:
    """Scores of the scorable layers (last axis) placed among all layers, NaN for the others."""
    full = np.full(values.shape[:-1] + scorable.shape, np.nan)
    full[..., scorable] = values
    return full


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
    flags, scorable = layer_flags(layers)
    valid = layers[scorable]
    half_a = np.stack([brain.half_a for brain in brains])  # populations × splits × pairs
    splits = half_a.shape[1]
    per_split = score(half_a.reshape(-1, half_a.shape[-1]), valid).reshape(len(brains), splits, -1)
    observed = per_split.mean(axis=1)
    plan = Plan.drawn(settings, stimulus, n)
    draws, orders, halvings = plan.draws, plan.orders, plan.halvings
    what = f"{stimulus}, {len(brains)} population(s) × {len(valid)} layer(s): resampling"
    with Progress(len(draws) + len(orders) + len(halvings), what, "resample", log) as progress:
        bootstrap = _with_layers(_stimulus_bootstrap(score, half_a, valid, draws, progress.advance), scorable)
        p = _with_layers(_permutation_p(score, half_a, valid, observed, orders, progress.advance), scorable)
        halving_scores = _with_layers(_halving_scores(score, half_a, valid, halvings, progress.advance), scorable)
    per_split, observed = _with_layers(per_split, scorable), _with_layers(observed, scorable)

    container_draws = [_with_layers(score(brain.container_bootstrap, valid), scorable) for brain in brains]
    flags = np.stack([_score_flags(brain, flags, observed[position], settings.method) for position, brain in enumerate(brains)])
    resampled = Resampled(observed, per_split.std(axis=1, ddof=1), bootstrap, container_draws, p, halving_scores, flags)
    notes = [containers_note(brain.containers) for brain in brains]
    table = resampled.table([brain.key for brain in brains], pathways, settings.ci_level, notes, splits)
    table["comparison"] = settings.method
    methods = plan.methods(
        settings,
        max(len(brain.container_bootstrap) for brain in brains),
        "the mean over the half-trial RDMs (the score) against the same mean under {relabellings} of the model RDM",
    )
    return table.assign(**methods), resampled.resamples()


LEADING = ["stimulus", "area", "depth", "model", "weights", "pathway", "layer", "layer_index"]


def labelled_table(table: pd.DataFrame, layers: list[dict], stimulus: str, model: str, weights: str) -> pd.DataFrame:
    """A metric's table (``Resampled.table``) with the model's layer names (``layers``: pathway, layer
    and index of each position, as the activation store lists them) and its identity in front."""
    position = table.pop("layer_position").to_numpy()
    table = table.assign(
        stimulus=stimulus,
        model=model,
        weights=weights,
        pathway=np.asarray([layer["pathway"] for layer in layers])[position],
        layer=np.asarray([layer["layer"] for layer in layers])[position],
        layer_index=np.asarray([int(layer["index"]) for layer in layers])[position],
    )
    flagged = table[table["score_flag"] != ""].groupby(["pathway", "layer", "score_flag"], sort=False)
    for (pathway, layer, flag), rows in flagged:
        log.warning("%s %s, %d of %d populations: %s", pathway, layer, len(rows), table["area"].size // len(layers), flag)
    return table[LEADING + [column for column in table if column not in LEADING]]


def resample_arrays(resamples: dict[str, np.ndarray], table: pd.DataFrame, layers: list[dict]) -> dict[str, np.ndarray]:
    """What a metric job keeps beside its table for group statistics: the resampled scores and the
    populations and layers along their axes."""
    populations = table.drop_duplicates(["area", "depth"])
    return {
        **resamples,
        "area": populations["area"].to_numpy(dtype=str),
        "depth": populations["depth"].to_numpy(dtype=int),
        "pathway": np.asarray([layer["pathway"] for layer in layers], dtype=str),
        "layer": np.asarray([layer["layer"] for layer in layers], dtype=str),
    }

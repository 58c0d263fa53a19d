"""The inference every metric shares, written once: the resampling plan, the loops over it, NaN
placement, progress, and the table they fill.

A metric (``rsa``, ``encoding`` for ridge, ``cka``) supplies only its scorers, one ``LayerBlock`` per
group of layers it scores together (all of them at once, or one layer at a time where each layer is
fitted), and its ceilings. Around its score the frame draws, from ``Plan`` (common random numbers:
the same draws for every model, population and metric):
- stimulus bootstrap: each draw resamples the stimuli (``resampling`` says how, per stimulus kind)
  and, for scores over half-trial data, uses another split;
- permutation p: the metric's test statistic (the score, or a cheaper statistic of the same relation)
  recomputed under relabellings of the stimuli;
- held-out best layer: per pathway the layer chosen on one half of the stimuli, scored on the other;
- container bootstrap: the metric's scores on containers drawn with replacement (animals).
A layer the metric does not score (a constant or undefined layer) keeps NaN everywhere, so it has no
p, interval or place in a best-layer choice; the metric's flags say why.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Iterable, Protocol

import numpy as np
import pandas as pd

from .inference import held_out_best_layer, percentile_interval
from .logs import Progress
from .resampling import Continuous, Exchangeable, Relabellings, design
from .seeds import Stream, labelled_rng

log = logging.getLogger(__name__)

# Columns every score table leads with, in this order (those a table has).
LEADING_COLUMNS = ["metric", "stimulus", "area", "depth", "modality", "cre_line", "model", "weights", "pathway", "layer",
                   "layer_index", "score"]  # fmt: skip


@dataclass(frozen=True)
class Statistics:
    """The ``statistics`` config keys a metric job uses, and the kind of stimulus set."""

    seed: int
    stimulus_bootstraps: int
    permutations: int
    ci_level: float
    best_layer_folds: int
    continuous: bool = False  # the stimuli are consecutive segments of one movie (see resampling)

    @classmethod
    def from_params(cls, params) -> Statistics:
        return cls(
            seed=params.seed,
            stimulus_bootstraps=params.stimulus_bootstraps,
            permutations=params.permutations,
            ci_level=params.ci_level,
            best_layer_folds=params.best_layer_folds,
            continuous=params.continuous,
        )


@dataclass(frozen=True)
class Plan:
    """The resamples of one stimulus set, the same for every model, population and metric (common
    random numbers): stimulus-bootstrap draws, relabellings and halvings (see ``resampling``)."""

    stimuli: Exchangeable | Continuous
    draws: np.ndarray
    relabellings: Relabellings
    halvings: np.ndarray

    @classmethod
    def drawn(cls, statistics: Statistics, stimulus: str, n_stimuli: int) -> Plan:
        stimuli = design(n_stimuli, statistics.continuous)
        seed = statistics.seed
        return cls(
            stimuli,
            stimuli.bootstrap_draws(labelled_rng(seed, Stream.STIMULUS_BOOTSTRAP, stimulus), statistics.stimulus_bootstraps),
            stimuli.relabellings(labelled_rng(seed, Stream.RELABELLING, stimulus), statistics.permutations),
            stimuli.halvings(labelled_rng(seed, Stream.HALVING, stimulus), statistics.best_layer_folds),
        )

    def methods(self, statistics: Statistics, container_draws: int, p_of: str) -> dict[str, str]:
        """The table's method columns; ``p_of`` says what the p compares, with ``{relabellings}``."""
        return {
            "ci_method": (
                f"{statistics.ci_level:.0%} percentile bootstrap: {self.stimuli.bootstrap_method(len(self.draws))}, "
                f"{container_draws} container draws"
            ),
            "p_method": "one-sided; " + p_of.format(relabellings=self.stimuli.relabelling_method(len(self.relabellings))),
            "best_layer_method": (
                f"{self.stimuli.halving_method(len(self.halvings))}, chosen per pathway on one half, scored on the other"
            ),
        }


class LayerBlock(Protocol):
    """A metric's scorers for the layers at ``positions`` (among all of the model's layers), each
    returning populations × those layers (the last axis in the order of ``positions``)."""

    positions: np.ndarray
    relabelling_batch: int  # relabellings scored per call of ``on_relabellings`` (bounds memory)

    def per_split(self) -> np.ndarray:
        """populations × brain resamples × layers: the scores the reported score averages."""

    def on_draw(self, index: int, draw: np.ndarray) -> np.ndarray:
        """Scores on stimulus-bootstrap draw ``index`` (stimulus indices, with repeats)."""

    def p_observed(self, window: np.ndarray) -> np.ndarray:
        """The statistic the permutation p tests (the score, or a cheaper statistic of the same
        relation), on the stimuli ``window`` (``resampling.Relabellings``)."""

    def on_relabellings(self, window: np.ndarray, orders: np.ndarray) -> np.ndarray:
        """orders × populations × layers: ``p_observed`` with the brain side at ``window`` and the
        model side at each order's stimuli."""

    def on_half(self, fold: int, stimuli: np.ndarray) -> np.ndarray:
        """Scores on one half (ascending stimulus indices) of halving ``fold``."""

    def on_containers(self) -> list[np.ndarray]:
        """Per population: container draws × layers."""


@dataclass
class Resampled:
    """One metric's scores of a model's layers against populations, and the resamples behind
    them; every metric fills one, so every metric's table has one layout."""

    observed: np.ndarray  # populations × layers
    score_sd: np.ndarray  # populations × layers: spread over the brain resamples the score averages
    bootstrap: np.ndarray  # stimulus draws × populations × layers
    container_draws: list[np.ndarray]  # per population: container draws × layers (none: empty)
    p: np.ndarray  # populations × layers
    halvings: np.ndarray  # folds × 2 halves × populations × layers
    brain_resamples: int

    def table(
        self, keys: list[dict], pathways: np.ndarray, ci_level: float, container_notes: list[str], flags: np.ndarray
    ) -> pd.DataFrame:
        """One row per population × layer; the best layer is chosen within each of ``pathways``."""
        stimulus_low, stimulus_high = percentile_interval(self.bootstrap, ci_level)
        rows = []
        for position, key in enumerate(keys):
            container_low, container_high = percentile_interval(self.container_draws[position], ci_level)
            if len(self.halvings):
                held_out, selected = held_out_best_layer(self.halvings[:, :, position], pathways)
            else:
                selected = held_out = np.full(len(pathways), np.nan)
            rows.append(
                pd.DataFrame(
                    {
                        **key,
                        "score": self.observed[position],
                        "score_sd": self.score_sd[position],
                        "brain_resamples": self.brain_resamples,
                        "ci_low_stimuli": stimulus_low[position],
                        "ci_high_stimuli": stimulus_high[position],
                        "ci_low_containers": container_low,
                        "ci_high_containers": container_high,
                        "ci_containers_note": container_notes[position],
                        "p": self.p[position],
                        "best_layer_selected": selected,
                        "best_layer_held_out_score": held_out,
                        "layer_position": np.arange(len(pathways)),
                        "score_flag": flags[position],
                    }
                )
            )
        return pd.concat(rows, ignore_index=True)

    def resamples(self) -> dict[str, np.ndarray]:
        """What group statistics pair across models."""
        return {"bootstrap": self.bootstrap, "halvings": self.halvings}


def resample(
    blocks: Iterable[LayerBlock | None], block_count: int, populations: int, layers: int, brain_resamples: int,
    container_counts: list[int], plan: Plan, what: str,
) -> Resampled:  # fmt: skip
    """Every block's scores and resamples, placed among all ``layers`` (NaN where no block scores;
    a None block is a group of layers the metric found it cannot score)."""
    shape = (populations, layers)
    relabellings = plan.relabellings
    per_block = len(plan.draws) + len(relabellings) + len(plan.halvings)
    observed, score_sd, p = np.full(shape, np.nan), np.full(shape, np.nan), np.full(shape, np.nan)
    bootstrap = np.full((len(plan.draws),) + shape, np.nan)
    halvings = np.full((len(plan.halvings), 2) + shape, np.nan)
    container_draws = [np.full((count, layers), np.nan) for count in container_counts]
    with Progress(block_count * per_block, what, "resample", log) as progress:
        for block in blocks:
            if block is None:
                progress.advance(per_block)
                continue
            at = block.positions
            per_split = block.per_split()
            observed[:, at] = per_split.mean(axis=1)
            if brain_resamples > 1:
                score_sd[:, at] = per_split.std(axis=1, ddof=1)
            for index, draw in enumerate(plan.draws):
                bootstrap[index][:, at] = block.on_draw(index, draw)
                progress.advance(1)
            if len(relabellings):
                null = np.empty((len(relabellings), populations, len(at)))
                for start in range(0, len(relabellings), block.relabelling_batch):
                    chunk = relabellings.orders[start : start + block.relabelling_batch]
                    null[start : start + len(chunk)] = block.on_relabellings(relabellings.window, chunk)
                    progress.advance(len(chunk))
                tested = relabellings.p(block.p_observed(relabellings.window), null)
                p[:, at] = np.where(np.isnan(observed[:, at]), np.nan, tested)
            for fold, halves in enumerate(plan.halvings):
                for side, stimuli in enumerate(halves):
                    halvings[fold, side][:, at] = block.on_half(fold, stimuli)
                progress.advance(1)
            for drawn, scores in zip(container_draws, block.on_containers()):
                drawn[:, at] = scores
    return Resampled(observed, score_sd, bootstrap, container_draws, p, halvings, brain_resamples)


def metric_table(
    resampled: Resampled, keys: list[dict], pathways: np.ndarray, statistics: Statistics, flags: np.ndarray,
    container_notes: list[str], ceilings: list[dict] | None, methods: dict[str, str],
    noise_corrected: np.ndarray | None = None,
) -> pd.DataFrame:  # fmt: skip
    """One row per population × layer with each population's ceiling (``ceilings``: one dict of
    ceiling columns per population, None where there is none); ``noise_corrected`` (populations ×
    layers) where the metric corrects per cell, else the score over ``ceiling_noise_free`` (the score
    a model equal to the noise-free response reaches), so every metric's corrected score is on one
    scale: 1 for such a model."""
    table = resampled.table(keys, pathways, statistics.ci_level, container_notes, flags)
    if ceilings is not None:
        ceiling = pd.DataFrame([{**key, **values} for key, values in zip(keys, ceilings)])
        table = table.merge(ceiling, on=list(keys[0]), how="left", validate="many_to_one")
    if noise_corrected is not None:
        table["score_noise_corrected"] = np.ravel(noise_corrected)
    elif "ceiling_noise_free" in table:
        table["score_noise_corrected"] = table["score"] / table["ceiling_noise_free"]
    else:
        table["score_noise_corrected"] = np.nan
    return table.assign(**methods)


def guard_corrections(table: pd.DataFrame, alpha: float, floor: float, max_squared_se: float) -> pd.DataFrame:
    """The table with ``ceiling_above_chance`` and ``score_noise_corrected`` kept only where the
    ceiling is reliably above ``floor``: its p below ``alpha``, its noise-free value
    (``ceiling_noise_free``) at least ``floor``, and the standard error of its square
    (``ceiling_squared_se``, ``noise_ceiling.ceiling_errors``) or its own (``ceiling_se``) at most
    ``max_squared_se``. Elsewhere the corrected score is NaN, and ``noise_corrected_flag`` says why:
    a ratio to a ceiling near zero would be noise (a noise-free model's would read 114 at a
    split-half τ of 0.001), and a ratio to an imprecise ceiling is biased by which of them a limit
    keeps. The ceiling's own standard error is smallest where chance lifted the ceiling (a square
    root is steeper near 0), so a limit on it alone, or on its ratio to the ceiling, keeps mostly
    lifted ceilings, whose ratios read low; the square's does not favour them. Below a ceiling of
    0.5 the square's is the smaller, so it is the one that decides; above, the ceiling's own does,
    where a lift is small beside the ceiling. A flag the metric set (ridge's unreliable predictions)
    stands where the ceiling gives none."""
    ceiling, p = table["ceiling_noise_free"].to_numpy(dtype=float), table["ceiling_p"].to_numpy(dtype=float)
    se, squared_se = (table[column].to_numpy(dtype=float) for column in ("ceiling_se", "ceiling_squared_se"))
    imprecise = (squared_se > max_squared_se) & ~(se <= max_squared_se)
    above = p < alpha
    # Why a population has no ceiling, where its ceiling job said (a published RDM).
    notes = table["ceiling_note"].fillna("").to_numpy(dtype=object) if "ceiling_note" in table else np.full(len(table), "", object)
    no_ceiling = np.where(notes == "", "no ceiling for this population", notes)
    flag = np.select(
        [np.isnan(ceiling), np.isnan(p), ~above, ceiling < floor, np.isnan(squared_se), imprecise],
        [
            no_ceiling,
            "no ceiling p (statistics.permutations: 0), so the ceiling is not shown above chance",
            f"ceiling not above chance (ceiling_p ≥ statistics.alpha = {alpha})",
            f"ceiling below statistics.ceiling_floor = {floor} (ceiling_noise_free)",
            "no ceiling_squared_se (the ceiling is undefined on halves of the stimuli), so its precision is not known",
            f"ceiling too imprecise (ceiling_squared_se and ceiling_se > statistics.ceiling_squared_max_se = {max_squared_se})",
        ],
        table["noise_corrected_flag"].fillna("") if "noise_corrected_flag" in table else "",
    )
    corrected = table["score_noise_corrected"].where(flag == "")
    return table.assign(ceiling_above_chance=above, score_noise_corrected=corrected, noise_corrected_flag=flag)


def labelled_table(table: pd.DataFrame, layers: list[dict], stimulus: str, model: str, weights: str, metric: str) -> pd.DataFrame:
    """A metric's table (``metric_table``) with the model's layer names (``layers``: pathway, layer
    and index of each position, as the activation store lists them) and its identity in front."""
    position = table.pop("layer_position").to_numpy()
    table = table.assign(
        metric=metric,
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
    return leading_first(table)


def leading_first(table: pd.DataFrame) -> pd.DataFrame:
    """The table with ``LEADING_COLUMNS`` (those it has) first, the rest in their order."""
    leading = [column for column in LEADING_COLUMNS if column in table]
    return table[leading + [column for column in table if column not in leading]]


def resample_arrays(resamples: dict[str, np.ndarray], table: pd.DataFrame, layers: list[dict]) -> dict[str, np.ndarray]:
    """What a metric job keeps beside its table for group statistics: the resampled scores and the
    populations and layers along their axes."""
    populations = table.drop_duplicates(["area", "depth"])
    return {
        **resamples,
        "area": populations["area"].to_numpy(dtype=str),
        "depth": populations["depth"].astype(str).to_numpy(dtype=str),
        "pathway": np.asarray([layer["pathway"] for layer in layers], dtype=str),
        "layer": np.asarray([layer["layer"] for layer in layers], dtype=str),
    }

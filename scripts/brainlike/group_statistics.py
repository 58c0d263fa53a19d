"""Groups of models and contrasts between them: the study's answer, with its uncertainty.

Per model and stimulus set the compare job keeps, beside its table, the resampled scores behind
its intervals: the stimulus-bootstrap draws (draws × populations × layers) and the scores on both
halves of each stimulus halving (folds × 2 × populations × layers). Every model sees the same
draws and halvings (common random numbers), so two groups' draws are paired and a group's best
layer is chosen over the same halvings as a single model's.

A tensor recorded under several pathways (the reference network's shared stem ``s1`` and its
concatenated ``out``: one module path in two pathways' lists) is one column here, its pathway
label the pathways joined with "+"; each pathway's best layer still competes over all the layers
on that pathway, shared ones included.
"""

from __future__ import annotations

import itertools
import math
import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.stats import spearmanr

from .depths import depth_of_every, depth_value
from .inference import fdr, held_out_choice, percentile_interval
from .layer_names import PIXEL_PATHWAY
from .seeds import Stream, labelled_rng

# Member assignments enumerated exactly up to this many; beyond it, random assignments.
MAX_EXACT_ASSIGNMENTS = 20_000
SD_DDOF = 1


@dataclass
class ModelScores:
    """One model's scores on one stimulus set, one column per distinct tensor."""

    columns: pd.DataFrame  # pathway (label), layer, pathways (tuple), position (in the model's layer list)
    sequences: dict[str, np.ndarray]  # pathway → its columns in the order the pathway records them
    populations: pd.DataFrame  # area, depth
    score: np.ndarray  # populations × columns
    noise_corrected: np.ndarray  # populations × columns
    bootstrap: np.ndarray  # draws × populations × columns
    halvings: np.ndarray  # folds × 2 × populations × columns

    @classmethod
    def from_model(cls, table: pd.DataFrame, resamples: dict) -> "ModelScores":
        """``table``: the model's rows of the τ table on one stimulus set; ``resamples``: its compare
        job's resampled scores (``pathway``, ``layer``, ``area``, ``depth``, ``bootstrap``, ``halvings``)."""
        columns, sequences = distinct_tensors(np.asarray(resamples["pathway"]), np.asarray(resamples["layer"]))
        populations = pd.DataFrame({"area": np.asarray(resamples["area"]), "depth": [depth_value(depth) for depth in np.asarray(resamples["depth"]).tolist()]})
        keyed = table.set_index(["area", "depth", "pathway", "layer"])
        first = [pathways[0] for pathways in columns["pathways"]]
        index = [
            (area, depth, pathway, layer)
            for area, depth in populations.itertuples(index=False)
            for pathway, layer in zip(first, columns["layer"])
        ]
        shape = (len(populations), len(columns))
        positions = columns["position"].to_numpy()
        return cls(
            columns=columns,
            sequences=sequences,
            populations=populations,
            score=keyed.loc[index, "score"].to_numpy().reshape(shape),
            noise_corrected=keyed.loc[index, "score_noise_corrected"].to_numpy().reshape(shape),
            bootstrap=np.asarray(resamples["bootstrap"])[..., positions],
            halvings=np.asarray(resamples["halvings"])[..., positions],
        )


def distinct_tensors(pathways: np.ndarray, layers: np.ndarray) -> tuple[pd.DataFrame, dict[str, np.ndarray]]:
    """One row per distinct tensor of a model's layer list (a layer name recorded under several
    pathways is the same module's output, labelled with the pathways joined by "+"), and per
    pathway (the pixel baseline aside) its columns in the order the pathway records them: the
    layers that compete for its best layer."""
    rows, sequences = {}, {}
    for position, (pathway, layer) in enumerate(zip(pathways, layers)):
        if layer in rows:
            rows[layer]["pathways"] += (pathway,)
        else:
            rows[layer] = {"layer": layer, "pathways": (pathway,), "position": position}
        if pathway != PIXEL_PATHWAY:
            sequences.setdefault(pathway, []).append(list(rows).index(layer))
    columns = pd.DataFrame(list(rows.values()))
    columns.insert(0, "pathway", ["+".join(pathways) for pathways in columns["pathways"]])
    return columns, {pathway: np.array(sequence) for pathway, sequence in sequences.items()}


def _stacked(models: dict[str, ModelScores], members: list[str], group: str) -> dict[str, np.ndarray]:
    missing = [member for member in members if member not in models]
    if missing:
        raise ValueError(f"group {group!r}: members {missing} have no scores")
    first = models[members[0]]
    for member in members[1:]:
        other = models[member]
        if not (other.columns[["pathway", "layer"]].equals(first.columns[["pathway", "layer"]])
                and other.populations.equals(first.populations)):  # fmt: skip
            raise ValueError(
                f"group {group!r}: {member} records other layers or populations than {members[0]}; a group's "
                "members must share one architecture's layer list"
            )
    return {
        name: np.stack([getattr(models[member], name) for member in members])
        for name in ("score", "noise_corrected", "bootstrap", "halvings")
    }


def _relative_depth(sequence: np.ndarray, chosen: np.ndarray) -> np.ndarray:
    """Position of chosen columns along their pathway's sequence, 0 (first) … 1 (last)."""
    place = {column: index for index, column in enumerate(sequence)}
    return np.array([place[column] for column in np.ravel(chosen)]).reshape(np.shape(chosen)) / max(len(sequence) - 1, 1)


def _hierarchy(areas: list[str], area_rank: dict[str, int], relative_depth: np.ndarray) -> float:
    """Spearman ρ between the areas' order in the config and their best layers' relative depth."""
    ranks = [area_rank[area] for area in areas]
    if len(set(ranks)) < 3 or np.ptp(relative_depth) == 0 or not np.isfinite(relative_depth).all():
        return np.nan
    return float(spearmanr(ranks, relative_depth).statistic)


def group_tables(
    models: dict[str, ModelScores], groups: dict[str, list[str]], area_order: list[str], ci_level: float
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(per population × group × tensor statistics, per population × group × pathway best layers).

    The second carries the hierarchy statistic: per group, pathway and depth, the Spearman ρ
    between the areas' order in the config and the relative depth of each area's held-out best
    layer (the layer chosen most often), with a stimulus-bootstrap interval (the layer chosen on
    each draw by the group median).
    """
    area_rank = {area: rank for rank, area in enumerate(area_order)}
    layer_rows, best_rows = [], []
    for group, members in groups.items():
        stacked = _stacked(models, members, group)
        first = models[members[0]]
        columns, populations = first.columns, first.populations
        for position, (area, depth) in enumerate(populations.itertuples(index=False)):
            frame = {"area": area, "depth": depth, "group": group, "members": len(members),
                     "pathway": columns["pathway"], "layer": columns["layer"]}  # fmt: skip
            for prefix, values in (("score", stacked["score"][:, position]),
                                   ("noise_corrected", stacked["noise_corrected"][:, position])):  # fmt: skip
                frame |= {
                    f"{prefix}_median": np.median(values, axis=0),
                    f"{prefix}_mean": values.mean(axis=0),
                    f"{prefix}_sd": values.std(axis=0, ddof=SD_DDOF) if len(members) > SD_DDOF else np.nan,
                    f"{prefix}_min": values.min(axis=0),
                    f"{prefix}_max": values.max(axis=0),
                }
            layer_rows.append(pd.DataFrame(frame))
        halvings = np.median(stacked["halvings"], axis=0)  # folds × 2 × populations × columns
        draws = np.median(stacked["bootstrap"], axis=0)  # draws × populations × columns
        for pathway, candidates in first.sequences.items():
            held_out, fraction = held_out_choice(np.moveaxis(halvings[..., candidates], 2, 0))
            best = candidates[np.argmax(fraction, axis=-1)]
            relative = _relative_depth(candidates, best)
            drawn_scores = draws[..., candidates]
            drawn = candidates[np.argmax(np.where(np.isfinite(drawn_scores), drawn_scores, -np.inf), axis=-1)]
            drawn_relative = _relative_depth(candidates, drawn)
            for depth in np.unique(populations["depth"]):
                at_depth = np.flatnonzero(populations["depth"].to_numpy() == depth)
                areas = populations["area"].to_numpy()[at_depth].tolist()
                rho = _hierarchy(areas, area_rank, relative[at_depth])
                rho_draws = np.array([_hierarchy(areas, area_rank, row[at_depth]) for row in drawn_relative])
                finite = rho_draws[np.isfinite(rho_draws)]
                low, high = percentile_interval(finite, ci_level) if len(finite) else (np.nan, np.nan)
                for area, position in zip(areas, at_depth):
                    ci_low, ci_high = percentile_interval(draws[:, position, best[position]], ci_level)
                    best_rows.append({
                        "area": area, "depth": depth_value(depth), "group": group,
                        "members": len(members), "pathway": pathway, "best_layer": columns["layer"].iloc[best[position]],
                        "best_layer_selected": fraction[position].max(), "best_layer_held_out_score": held_out[position],
                        "best_layer_score": np.median(stacked["score"][:, position, best[position]]),
                        "best_layer_ci_low": ci_low, "best_layer_ci_high": ci_high,
                        "best_layer_relative_depth": relative[position], "hierarchy_rho": rho,
                        "hierarchy_ci_low": low, "hierarchy_ci_high": high,
                    })  # fmt: skip
    layers = pd.concat(layer_rows, ignore_index=True)
    layers["sd_ddof"] = SD_DDOF
    best = pd.DataFrame(best_rows)
    best["best_layer_method"] = (
        "per pathway, the layer with the highest group median on one random half of the stimuli, scored "
        "(group median) on the other, over the compare jobs' halvings; best_layer is the layer chosen most often, "
        f"best_layer_score its group median on all stimuli, with a {ci_level:.0%} percentile interval of the group "
        "median over the stimulus bootstrap draws"
    )
    best["hierarchy_method"] = (
        "Spearman rho between the areas' order in the config and best_layer_relative_depth (0 first, 1 last "
        f"layer of the pathway), per depth; {ci_level:.0%} percentile interval over the stimulus bootstrap draws, "
        "the best layer chosen on each draw by the group median"
    )
    return layers, best


def assignments(n_a: int, n_b: int, rng: np.random.Generator, random_count: int) -> tuple[np.ndarray, bool]:
    """Ways to split n_a + n_b members into groups of n_a and n_b: (assignments × members booleans,
    True = group A, the observed split first; exact). Exact when there are at most
    MAX_EXACT_ASSIGNMENTS, else the observed split and ``random_count`` random ones."""
    n = n_a + n_b
    observed = np.arange(n) < n_a
    if math.comb(n, n_a) <= MAX_EXACT_ASSIGNMENTS:
        splits = np.zeros((math.comb(n, n_a), n), dtype=bool)
        for row, chosen in enumerate(itertools.combinations(range(n), n_a)):
            splits[row, list(chosen)] = True
        first = np.flatnonzero((splits == observed).all(axis=1))[0]
        return np.concatenate([splits[[first]], np.delete(splits, first, axis=0)]), True
    drawn = np.argsort(rng.random((random_count, n)), axis=1) < n_a
    return np.concatenate([observed[None], drawn]), False


def _median_difference(values: np.ndarray, split: np.ndarray) -> np.ndarray:
    """Median over group A members minus median over group B (members on the first axis)."""
    return np.median(values[split], axis=0) - np.median(values[~split], axis=0)


def _mean_difference(values: np.ndarray, split: np.ndarray) -> np.ndarray:
    return values[split].mean(axis=0) - values[~split].mean(axis=0)


# Member assignments whose group means are held at once (float64 entries): about 64 MB.
ASSIGNMENT_CHUNK_ENTRIES = 1 << 23


def _assignment_means(values: np.ndarray, splits: np.ndarray) -> np.ndarray:
    """Each assignment's mean over its members (``values``' first axis): assignments ×
    values.shape[1:], NaN wherever a member it averages is NaN, as ``values[split].mean(axis=0)``
    gives; one matrix product for all assignments, not one mean per assignment."""
    missing = np.isnan(values)
    members = splits.astype(float)
    means = np.tensordot(members / members.sum(axis=1, keepdims=True), np.where(missing, 0.0, values), axes=1)
    means[np.tensordot(members, missing.astype(float), axes=1) > 0] = np.nan
    return means


def _held_out_group_means(halvings: np.ndarray, splits: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per assignment, each group's held-out best-layer score (``held_out_choice`` of its mean
    member) per population: (assignments × populations) for group A and for group B.
    ``halvings``: members × populations × folds × 2 × candidate layers."""
    chunk = max(1, ASSIGNMENT_CHUNK_ENTRIES // max(1, halvings[0].size))
    means_a, means_b = [], []
    for start in range(0, len(splits), chunk):
        part = splits[start : start + chunk]
        means_a.append(held_out_choice(_assignment_means(halvings, part))[0])
        means_b.append(held_out_choice(_assignment_means(halvings, ~part))[0])
    return np.concatenate(means_a), np.concatenate(means_b)


def _assignment_p(null: np.ndarray) -> np.ndarray:
    """Two-sided p over assignments of members to groups, of the first row (the observed split) among all rows: the share of splits whose
    |difference| is at least the observed one (the observed counts itself). NaN stays NaN."""
    observed = np.abs(null[0])
    p = (np.abs(null) >= observed - 1e-12 * np.abs(observed)).mean(axis=0)
    return np.where(np.isfinite(observed), p, np.nan)


def contrast_table(
    models: dict[str, ModelScores], groups: dict[str, list[str]], contrasts: list[list[str]], ci_level: float,
    rng: np.random.Generator, random_count: int,
) -> pd.DataFrame:  # fmt: skip
    """Per contrast × population × tensor, and per contrast × population × pathway at the groups'
    held-out best layers, and per contrast × pathway across populations: the difference of group
    means (the statistic the permutation p tests; the difference of medians beside it), with its
    paired bootstrap interval and its p over assignments of the members to the groups (q: see
    ``summarise``). Every row's p permutes whole members, so what the members share across
    populations (their checkpoint, their stimuli) moves with them and never passes for a group effect."""
    rows = []
    for group_a, group_b in contrasts:
        for group in (group_a, group_b):
            if group not in groups:
                raise ValueError(f"contrasts: {group!r} is not a group (groups: {sorted(groups)})")
        members = groups[group_a] + groups[group_b]
        stacked = _stacked(models, members, f"{group_a} vs {group_b}")
        first = models[members[0]]
        columns, populations = first.columns, first.populations
        splits, exact = assignments(len(groups[group_a]), len(groups[group_b]), rng, random_count)
        label = f"{group_a} − {group_b}"
        common = {"contrast": label, "group_a": group_a, "group_b": group_b,
                  "members_a": len(groups[group_a]), "members_b": len(groups[group_b])}  # fmt: skip
        # The test statistic is the difference of group means: with medians, a split that keeps most
        # of each group together is as extreme as the true one, so p could never reach its minimum.
        p_method = (
            f"two-sided permutation test of the difference of group means, over {'all' if exact else 'the observed and'} "
            f"{len(splits) - (not exact)} {'' if exact else 'random '}assignments of the {len(members)} members to the "
            "two groups"
        )
        # Every tensor: differences of means, paired over the same bootstrap draws.
        scores = stacked["score"]  # members × populations × columns
        in_a = splits[0]
        difference = _mean_difference(scores, in_a)
        low, high = percentile_interval(_mean_difference(stacked["bootstrap"], in_a), ci_level)
        p = _assignment_p(np.stack([_mean_difference(scores, split) for split in splits]))
        median_difference = _median_difference(scores, in_a)
        for position, (area, depth) in enumerate(populations.itertuples(index=False)):
            rows.append(pd.DataFrame({
                **common, "at": "layer", "area": area, "depth": depth, "pathway": columns["pathway"],
                "layer": columns["layer"], "mean_a": scores[in_a, position].mean(axis=0),
                "mean_b": scores[~in_a, position].mean(axis=0), "difference": difference[position],
                "median_a": np.median(scores[in_a, position], axis=0), "median_b": np.median(scores[~in_a, position], axis=0),
                "median_difference": median_difference[position], "ci_low": low[position], "ci_high": high[position],
                "p": p[position], "p_method": p_method,
                "ci_method": f"{ci_level:.0%} percentile interval of the difference over the stimulus bootstrap "
                             "draws (both groups on the same draws)",
            }))  # fmt: skip
        # Each group's held-out best layer, chosen and scored on the same halvings.
        for pathway, candidates in first.sequences.items():
            halvings = np.moveaxis(stacked["halvings"][..., candidates], 3, 1)  # members × populations × folds × 2 × c
            group_a_means, group_b_means = _held_out_group_means(halvings, splits)
            per_split = group_a_means - group_b_means  # assignments × populations
            mean_a, mean_b = group_a_means[0], group_b_means[0]
            median_a = held_out_choice(np.median(halvings[in_a], axis=0))[0]
            median_b = held_out_choice(np.median(halvings[~in_a], axis=0))[0]
            rows.append(pd.DataFrame({
                **common, "at": "held-out best layer", "area": populations["area"], "depth": populations["depth"],
                "pathway": pathway, "layer": "", "mean_a": mean_a, "mean_b": mean_b, "difference": per_split[0],
                "median_a": median_a, "median_b": median_b, "median_difference": median_a - median_b,
                "ci_low": np.nan, "ci_high": np.nan, "p": _assignment_p(per_split), "p_method": p_method,
                "ci_method": "none: a held-out score has no stimulus bootstrap (its halvings already split the stimuli)",
            }))  # fmt: skip
            favour_a, favour_b = int((per_split[0] > 0).sum()), int((per_split[0] < 0).sum())
            # Across populations: the mean over populations of the held-out difference, its p over the
            # same member assignments (a sign test over populations would treat populations as
            # independent, though every population sees the same members).
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)  # a pathway undefined everywhere
                across = np.nanmean(per_split, axis=1)
            rows.append(pd.DataFrame([{
                **common, "at": "across populations", "area": "all", "depth": depth_of_every(populations["depth"]), "pathway": pathway, "layer": "",
                "difference": across[0], "median_difference": float(np.nanmedian(per_split[0])) if favour_a + favour_b else np.nan,
                "ci_low": np.nan, "ci_high": np.nan, "p": float(_assignment_p(across[:, None])[0]),
                "favour_a": favour_a, "favour_b": favour_b,
                "p_method": p_method.replace("difference of group means", "mean over populations of the held-out "
                                             "best-layer difference of group means"),
                "ci_method": "none",
            }]))  # fmt: skip
    return pd.concat(rows, ignore_index=True)


def summarise(
    models: dict[str, dict[str, ModelScores]], groups: dict[str, list[str]], contrasts: list[list[str]],
    area_order: list[str], ci_level: float, seed: int, random_count: int,
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:  # fmt: skip
    """Group, best-layer and contrast tables over every stimulus set (``models``: stimulus → model →
    scores). BH q within each family of the contrast table: per contrast, its held-out best-layer
    rows (the primary question), its per-layer rows and its across-population rows are separate
    families over the stimulus sets, so the many per-layer tests never dilute the few primary ones.
    Random member assignments (used only where an exact enumeration is too long) depend on the seed
    and the stimulus set."""
    layers, best, contrast = [], [], []
    for stimulus, scores in models.items():
        if groups:
            group_layers, group_best = group_tables(scores, groups, area_order, ci_level)
            layers.append(group_layers.assign(stimulus=stimulus))
            best.append(group_best.assign(stimulus=stimulus))
        if contrasts:
            rng = labelled_rng(seed, Stream.MEMBER_ASSIGNMENTS, stimulus)
            contrast.append(contrast_table(scores, groups, contrasts, ci_level, rng, random_count).assign(stimulus=stimulus))
    tables = [pd.concat(parts, ignore_index=True) if parts else pd.DataFrame() for parts in (layers, best, contrast)]
    if contrasts:
        table = tables[2]
        table["q"] = np.nan
        for (contrast, at), family in table.groupby(["contrast", "at"], sort=False):
            table.loc[family.index, "q"] = fdr(family["p"].to_numpy())
        table["q_family"] = "Benjamini-Hochberg within " + table["contrast"] + ", " + table["at"] + " rows"
    return tuple(_stimulus_first(table) for table in tables)


def _stimulus_first(table: pd.DataFrame) -> pd.DataFrame:
    if "stimulus" not in table:
        return table
    return table[["stimulus", *(column for column in table if column != "stimulus")]]

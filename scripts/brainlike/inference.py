"""Inference on RDM comparisons: resampled stimuli, relabelled stimuli, held-out layer choice, FDR.

RDMs are handled as rsatoolbox's vectors (upper triangle, row by row). Resampling stimuli maps to
a selection of vector positions: a bootstrap draw keeps every pair of drawn stimuli except the
pairs of a stimulus with its own copy (rsatoolbox leaves those out too), each pair weighted by
how often the draw repeats it; a permutation relabels the stimuli of one RDM.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd

from .layer_names import PIXEL_PATHWAY

# Relabelled RDM entries held at a time (float64, 128 MB): permutations are applied in batches.
PERMUTED_ENTRIES = 1 << 24


def _positions(n: int) -> np.ndarray:
    """n × n matrix of vector positions of each stimulus pair (−1 on the diagonal)."""
    rows, columns = np.triu_indices(n, k=1)
    positions = np.full((n, n), -1, dtype=np.int64)
    positions[rows, columns] = positions[columns, rows] = np.arange(len(rows))
    return positions


def permuted_vectors(vectors: np.ndarray, orders: np.ndarray, n_stimuli: int | None = None) -> np.ndarray:
    """RDM vectors (..., pairs) with stimulus ``order[i]`` moved to place i, for one order (m,)
    or several (k, m): (..., pairs of m) or (..., k, pairs of m). ``n_stimuli`` is the vectors'
    stimulus count when an order picks only m of them (distinct), m by default."""
    m = orders.shape[-1]
    rows, columns = np.triu_indices(m, k=1)
    return vectors[..., _positions(n_stimuli or m)[orders[..., rows], orders[..., columns]]]


def bootstrap_pairs(draw: np.ndarray, n_stimuli: int) -> tuple[np.ndarray, np.ndarray]:
    """The stimulus pairs of a bootstrap draw (stimulus indices, with repeats): the vector position of
    each pair of distinct drawn stimuli, and how many times the draw holds it (the product of the two
    stimuli's counts). ``compare`` with these weights equals the comparison of the draw's RDMs with
    every repeated pair written out."""
    stimuli, counts = np.unique(draw, return_counts=True)
    rows, columns = np.triu_indices(len(stimuli), k=1)
    return _positions(n_stimuli)[stimuli[rows], stimuli[columns]], counts[rows] * counts[columns]


def permutation_p(observed, null: np.ndarray) -> np.ndarray | float:
    """One-sided p that the observed value is this large by chance: (1 + #null ≥ observed) / (1 + #null).

    ``null`` has the permutations on its first axis and broadcasts against ``observed``.
    A NaN observed value has a NaN p: an undefined score is never significant. A NaN null draw
    (a relabelling under which the statistic is undefined) counts in neither the numerator nor the
    denominator, so it never makes a p smaller.
    """
    null, observed = np.asarray(null), np.asarray(observed)
    defined = ~np.isnan(null)
    p = (1 + (null >= observed).sum(axis=0)) / (1 + defined.sum(axis=0))
    p = np.where(np.isnan(observed), np.nan, p)
    return float(p) if np.ndim(p) == 0 else p


def percentile_interval(draws: np.ndarray, level: float) -> tuple[np.ndarray, np.ndarray]:
    """Percentile bootstrap interval over the first axis of ``draws``."""
    tail = (1 - level) / 2 * 100
    if len(draws) == 0:
        nan = np.full(np.shape(draws)[1:], np.nan)
        return nan, nan
    return np.percentile(draws, tail, axis=0), np.percentile(draws, 100 - tail, axis=0)


def held_out_choice(halving_scores: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Choose on one half, score on the other: (..., folds, 2, layers) → (held-out score (...),
    fraction of choices per layer (..., layers)). A NaN layer is never chosen; a half where every
    layer is NaN chooses nothing and leaves its held-out score out (NaN if no half chooses)."""
    finite = np.isfinite(halving_scores)
    any_finite = finite.any(axis=-1)  # (..., folds, 2)
    chosen = np.argmax(np.where(finite, halving_scores, -np.inf), axis=-1)
    tested = np.take_along_axis(halving_scores[..., ::-1, :], chosen[..., None], axis=-1)[..., 0]
    tested = np.where(any_finite, tested, np.nan)
    picks = (chosen[..., None] == np.arange(halving_scores.shape[-1])) & any_finite[..., None]
    with np.errstate(invalid="ignore"):
        fraction = picks.sum(axis=(-3, -2)) / any_finite.sum(axis=(-2, -1))[..., None]
    fraction = np.nan_to_num(fraction, nan=0.0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # a population whose every layer is NaN
        return np.nanmean(tested, axis=(-2, -1)), fraction


def held_out_best_layer(fold_scores: np.ndarray, groups: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``held_out_choice`` per group of competing layers (a model's pathway).

    ``fold_scores``: (folds, 2, layers) scores on the two stimulus halves of each fold; ``groups``:
    (layers,) labels. Returns, per layer, the held-out score of its group's choices (mean over
    folds and both directions) and the fraction of choices that picked it, in ``held_out_choice``'s
    order.
    """
    held_out = np.zeros(fold_scores.shape[-1])
    selected = np.zeros(fold_scores.shape[-1])
    for group in np.unique(groups):
        members = np.flatnonzero(groups == group)
        held_out[members], selected[members] = held_out_choice(fold_scores[..., members])
    return held_out, selected


def sub_rdm_positions(stimuli: np.ndarray, n_stimuli: int) -> np.ndarray:
    """Vector positions of the RDM restricted to ``stimuli`` (distinct, ascending)."""
    rows, columns = np.triu_indices(len(stimuli), k=1)
    return _positions(n_stimuli)[stimuli[rows], stimuli[columns]]


def fdr(p: np.ndarray) -> np.ndarray:
    """Benjamini–Hochberg q-values over all finite p (NaN stays NaN)."""
    p = np.asarray(p, dtype=float)
    q = np.full(p.shape, np.nan)
    finite = np.isfinite(p)
    if finite.any():
        from scipy.stats import false_discovery_control  # 0.6 s of import the statistics jobs do not need

        q[finite] = false_discovery_control(p[finite], method="bh")
    return q


# FDR families: the table columns that define one family of tests.
# Every family lies within one metric: adding a metric changes no other metric's q.
FDR_FAMILIES = {"model_stimulus": ["metric", "model", "stimulus"], "stimulus": ["metric", "stimulus"], "table": ["metric"]}


def table_q(table: pd.DataFrame, family: str) -> tuple[np.ndarray, str]:
    """BH q of a score table's p within each family (``FDR_FAMILIES``), each test counted once.

    A tensor recorded under several pathways (a shared stem) is one test, as is a pixel baseline
    seen by several models through the same pixels (equal scores); its q is given to every row.
    Returns the q column and its method text.
    """
    if family not in FDR_FAMILIES:
        raise ValueError(f"statistics.fdr_family: {family!r} is not one of {', '.join(FDR_FAMILIES)}")
    is_pixels = table["pathway"].to_numpy() == PIXEL_PATHWAY
    # The same test has the same identity: the model's tensor, or the pixel RDM (known by its score).
    tensor = np.where(is_pixels, PIXEL_PATHWAY + ":" + table["score"].map(repr), table["model"] + ":" + table["layer"])
    identity = table[["stimulus", "area", "depth"]].assign(tensor=tensor)
    grouping = FDR_FAMILIES[family]
    family_id = table.groupby(grouping, sort=False).ngroup()
    tests = identity.assign(family=family_id.to_numpy(), p=table["p"].to_numpy())
    first = tests.drop_duplicates(["family", "stimulus", "area", "depth", "tensor"])
    q = pd.Series(np.nan, index=first.index)
    for _, members in first.groupby("family"):
        q[members.index] = fdr(members["p"].to_numpy())
    keyed = first.assign(q=q).set_index(["family", "stimulus", "area", "depth", "tensor"])["q"]
    values = keyed.loc[pd.MultiIndex.from_frame(tests[["family", "stimulus", "area", "depth", "tensor"]])].to_numpy()
    scope = {"model_stimulus": "per metric, model and stimulus set", "stimulus": "per metric and stimulus set",
             "table": "per metric over the whole table"}  # fmt: skip
    return values, (
        f"Benjamini-Hochberg {scope[family]}, each test once (a tensor under several pathways, a pixel "
        "baseline shared by models), NaN p left out"
    )

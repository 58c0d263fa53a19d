"""Inference on RDM comparisons: resampled stimuli, relabelled stimuli, held-out layer choice, FDR.

RDMs are handled as rsatoolbox's vectors (upper triangle, row by row). Resampling stimuli maps to
a selection of vector positions: a bootstrap draw keeps every pair of drawn stimuli except the
pairs of a stimulus with its own copy (rsatoolbox leaves those out too), a permutation relabels
the stimuli of one RDM.
"""

from __future__ import annotations

import numpy as np
from scipy.stats import false_discovery_control

# Relabelled RDM entries held at a time (float64, 128 MB): permutations are applied in batches.
PERMUTED_ENTRIES = 1 << 24


def _positions(n: int) -> np.ndarray:
    """n × n matrix of vector positions of each stimulus pair (−1 on the diagonal)."""
    rows, columns = np.triu_indices(n, k=1)
    positions = np.full((n, n), -1, dtype=np.int64)
    positions[rows, columns] = positions[columns, rows] = np.arange(len(rows))
    return positions


def permuted_vectors(vectors: np.ndarray, orders: np.ndarray) -> np.ndarray:
    """RDM vectors (..., pairs) with stimulus ``order[i]`` moved to place i, for one order (n,)
    or several (k, n): (..., pairs) or (..., k, pairs)."""
    n = orders.shape[-1]
    rows, columns = np.triu_indices(n, k=1)
    return vectors[..., _positions(n)[orders[..., rows], orders[..., columns]]]


def bootstrap_positions(draw: np.ndarray, n_stimuli: int) -> np.ndarray:
    """Vector positions of the stimulus pairs of a bootstrap draw (stimulus indices, with repeats)."""
    rows, columns = np.triu_indices(len(draw), k=1)
    distinct = draw[rows] != draw[columns]
    return _positions(n_stimuli)[draw[rows[distinct]], draw[columns[distinct]]]


def bootstrap_draws(rng: np.random.Generator, count: int, n_stimuli: int) -> np.ndarray:
    """``count`` draws of ``n_stimuli`` stimuli with replacement, each with at least two distinct."""
    draws = rng.integers(0, n_stimuli, size=(count, n_stimuli))
    for row in np.flatnonzero(np.ptp(draws, axis=1) == 0):
        while np.ptp(draws[row]) == 0:
            draws[row] = rng.integers(0, n_stimuli, size=n_stimuli)
    return draws


def permutation_p(observed, null: np.ndarray) -> np.ndarray | float:
    """One-sided p that the observed value is this large by chance: (1 + #null ≥ observed) / (1 + #null).

    ``null`` has the permutations on its first axis and broadcasts against ``observed``.
    """
    null = np.asarray(null)
    p = (1 + (null >= np.asarray(observed)).sum(axis=0)) / (1 + len(null))
    return float(p) if np.ndim(p) == 0 else p


def percentile_interval(draws: np.ndarray, level: float) -> tuple[np.ndarray, np.ndarray]:
    """Percentile bootstrap interval over the first axis of ``draws``."""
    tail = (1 - level) / 2 * 100
    if len(draws) == 0:
        nan = np.full(np.shape(draws)[1:], np.nan)
        return nan, nan
    return np.percentile(draws, tail, axis=0), np.percentile(draws, 100 - tail, axis=0)


def held_out_best_layer(fold_scores: np.ndarray, groups: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Choose a layer on one half of the stimuli, score it on the other.

    ``fold_scores``: (folds, 2, layers) scores on the two stimulus halves of each fold; ``groups``:
    (layers,) labels of the layers that compete (a model's pathway). Returns, per layer, the
    fraction of choices that picked it, and the held-out score of its group's choices (mean over
    folds and both directions).
    """
    selected = np.zeros(fold_scores.shape[-1])
    held_out = np.zeros(fold_scores.shape[-1])
    for group in np.unique(groups):
        members = np.flatnonzero(groups == group)
        scores = fold_scores[..., members]
        chosen = np.argmax(scores, axis=-1)  # (folds, 2): the layer picked on each half
        # The layer picked on half 0 is scored on half 1 and vice versa.
        other_half = scores[:, ::-1]
        tested = np.take_along_axis(other_half, chosen[..., None], axis=-1)[..., 0]
        selected[members] = np.bincount(chosen.ravel(), minlength=len(members)) / chosen.size
        held_out[members] = tested.mean()
    return selected, held_out


def stimulus_halves(rng: np.random.Generator, folds: int, n_stimuli: int) -> np.ndarray:
    """Random halvings of the stimuli: (folds, 2, ⌊n/2⌋) stimulus indices (the odd one out unused)."""
    half = n_stimuli // 2
    orders = np.argsort(rng.random((folds, n_stimuli)), axis=1)[:, : 2 * half]
    return np.sort(orders.reshape(folds, 2, half), axis=-1)


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
        q[finite] = false_discovery_control(p[finite], method="bh")
    return q

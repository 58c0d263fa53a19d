"""Kendall's τ-a between RDM vectors: one reference vector against a batch, exact with ties.

τ-a = (concordant − discordant pairs) / (n(n−1)/2), ties counted as neither (rsatoolbox's
``compare(method="tau-a")``). Counting is exact in integers: sort once by (reference, other),
then the discordant pairs are the strict inversions of the other vector in that order, counted
by a bottom-up merge sort that runs on the whole batch at once — O(n log² n) numpy work per
vector, no Python loop over pairs.
"""

from __future__ import annotations

import numpy as np


def _dense_ranks(values: np.ndarray) -> np.ndarray:
    """Per row, 0-based ranks with ties sharing a rank: (b, n) float → (b, n) int64."""
    order = np.argsort(values, axis=1, kind="stable")
    ordered = np.take_along_axis(values, order, axis=1)
    step = np.concatenate([np.zeros((len(values), 1), dtype=np.int64), (np.diff(ordered, axis=1) != 0)], axis=1)
    ranks = np.empty_like(order)
    np.put_along_axis(ranks, order, np.cumsum(step, axis=1), axis=1)
    return ranks


def _tied_pairs(sorted_keys: np.ndarray) -> np.ndarray:
    """Per row of row-sorted integer keys, the number of pairs with equal keys."""
    b, n = sorted_keys.shape
    new_run = np.concatenate([np.ones((b, 1), bool), sorted_keys[:, 1:] != sorted_keys[:, :-1]], axis=1)
    run_id = np.cumsum(new_run, axis=1) - 1 + (np.arange(b) * n)[:, None]
    lengths = np.bincount(run_id.ravel(), minlength=b * n).reshape(b, n)
    return (lengths * (lengths - 1) // 2).sum(axis=1)


def _strict_inversions(sequence: np.ndarray) -> np.ndarray:
    """Per row, the number of pairs i < j with sequence[i] > sequence[j] (values in [0, n))."""
    b, n = sequence.shape
    size = 1 << max(n - 1, 0).bit_length()
    # Padding with a value above every rank, at the end, adds no strict inversion.
    current = np.full((b, size), n, dtype=np.int64)
    current[:, :n] = sequence
    inversions = np.zeros(b, dtype=np.int64)
    width = 1
    span = n + 1  # keeps the values of different blocks apart in one global sorted array
    while width < size:
        n_blocks = size // (2 * width)
        blocks = current.reshape(b * n_blocks, 2, width)
        offsets = (np.arange(b * n_blocks) * span)[:, None]
        left = (blocks[:, 0, :] + offsets).ravel()
        right = (blocks[:, 1, :] + offsets).ravel()
        # For each right element, the left elements of its own block that are <= it.
        not_greater = np.searchsorted(left, right, side="right") - np.repeat(np.arange(b * n_blocks) * width, width)
        inversions += (width - not_greater).reshape(b, -1).sum(axis=1)
        current = np.sort(blocks.reshape(b * n_blocks, 2 * width), axis=1).reshape(b, size)
        width *= 2
    return inversions


def _tau_a_batch(reference: np.ndarray, others: np.ndarray) -> np.ndarray:
    n = reference.shape[0]
    reference_rank = _dense_ranks(reference[None, :])[0]
    other_rank = _dense_ranks(others)
    # One key orders by reference first and the other second; equal keys are joint ties.
    key = reference_rank[None, :] * n + other_rank
    order = np.argsort(key, axis=1, kind="stable")
    discordant = _strict_inversions(np.take_along_axis(other_rank, order, axis=1))
    joint_ties = _tied_pairs(np.take_along_axis(key, order, axis=1))
    reference_ties = _tied_pairs(np.sort(reference_rank)[None, :])[0]
    other_ties = _tied_pairs(np.sort(other_rank, axis=1))
    total = n * (n - 1) // 2
    concordant_minus_discordant = total - reference_ties - other_ties + joint_ties - 2 * discordant
    return concordant_minus_discordant / total


def tau_a(reference: np.ndarray, others: np.ndarray) -> np.ndarray:
    """τ-a of ``reference`` (n,) against each row of ``others`` (b, n) or a single (n,) vector.

    Positions where either vector is NaN are left out of that pair's count.
    """
    reference = np.asarray(reference, dtype=np.float64)
    others = np.asarray(others, dtype=np.float64)
    single = others.ndim == 1
    others = np.atleast_2d(others)
    if others.shape[1] != reference.shape[0]:
        raise ValueError(f"RDM vectors differ in length: {reference.shape[0]} and {others.shape[1]}")
    missing = np.isnan(others) | np.isnan(reference)[None, :]
    result = np.empty(len(others))
    complete = ~missing.any(axis=1)
    if complete.any():
        result[complete] = _tau_a_batch(reference, others[complete])
    for row in np.flatnonzero(~complete):
        keep = ~missing[row]
        result[row] = _tau_a_batch(reference[keep], others[row][None, keep])[0] if keep.sum() > 1 else np.nan
    return result[0] if single else result

"""Pearson correlation as dot products of centred, unit-length vectors, shared by the RDM
comparisons (rows), the encoding scores and the split-half reliabilities (columns)."""

from __future__ import annotations

import numpy as np


def unit_vectors(values: np.ndarray, axis: int) -> tuple[np.ndarray, np.ndarray]:
    """Each vector along ``axis`` centred and scaled to unit length, zeros for a constant vector,
    and which vectors vary: the Pearson r of two vectors is then their dot product.

    Constancy is exact (no spread), not a zero norm: a constant vector's mean rounds, and the
    rounding left after centring would otherwise become a unit vector and a correlation of ±1.
    """
    varies = np.ptp(values, axis=axis, keepdims=True) > 0
    centred = np.where(varies, values - values.mean(axis=axis, keepdims=True), 0.0)
    norm = np.sqrt((centred * centred).sum(axis=axis, keepdims=True))
    return np.divide(centred, norm, out=np.zeros_like(centred), where=varies), varies.squeeze(axis)


def columnwise_r(first: np.ndarray, second: np.ndarray, axis: int = 0) -> np.ndarray:
    """Pearson r of each pair of vectors along ``axis`` of two arrays of one shape (by default the
    columns of rows × columns); NaN where either vector is constant."""
    (first, first_varies), (second, second_varies) = unit_vectors(first, axis), unit_vectors(second, axis)
    return np.where(first_varies & second_varies, (first * second).sum(axis=axis), np.nan)


def relabelled_columnwise_r(
    first: np.ndarray, second: np.ndarray, orders: np.ndarray, constant: float = np.nan
) -> np.ndarray:
    """``columnwise_r(first[order], second)`` for each row order in ``orders`` (k × rows): (k × columns),
    ``constant`` where either column is constant.

    The columns are standardised once: reordering rows changes no column's mean or length."""
    (first, first_varies), (second, second_varies) = unit_vectors(first, 0), unit_vectors(second, 0)
    products = np.empty((len(orders), first.shape[1]))
    for index, order in enumerate(orders):
        products[index] = (first[order] * second).sum(axis=0)
    return np.where(first_varies & second_varies, products, constant)

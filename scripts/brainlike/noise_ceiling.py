"""Split-half noise ceiling: how well one half of the trials predicts the other.

For each random split of the trials (drawn per stimulus), τ-a between the RDM of half A and the
RDM of half B; the ceiling is summarised, as in the reference study, by the median and the
standard deviation over splits.
"""

from __future__ import annotations

import numpy as np

from .compare import tau_a
from .rdm import upper


def split_half_taus(halves_a: np.ndarray, halves_b: np.ndarray) -> np.ndarray:
    """τ-a between the two halves of every split: (splits, n, n) × 2 → (splits,)."""
    vectors_a, vectors_b = upper(halves_a), upper(halves_b)
    return np.array([tau_a(a, b) for a, b in zip(vectors_a, vectors_b)])


def summarise(taus: np.ndarray) -> dict[str, float]:
    return {
        "ceiling_median": float(np.median(taus)),
        "ceiling_sd": float(np.std(taus, ddof=1)),
        "ceiling_splits": int(len(taus)),
    }

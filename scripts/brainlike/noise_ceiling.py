"""Noise ceilings: how well the brain data predicts itself, the most a model could score.

Split-half (the reference study): for each random split of the trials, the comparison between
the RDMs of half A and half B, summarised by the median and SD over splits; optionally
Spearman–Brown-corrected to the full trial count (correlation-based comparisons only). Its
p-value asks whether the halves share stimulus structure at all: the first split's comparison
against the same with its B half relabelled (exact for exchangeable stimuli, and 1/splits of the
cost of relabelling every split, whose median has the same null hypothesis).

Between animals (leave one container out, as rsatoolbox's ``boot_noise_ceiling``): each
container's RDM against the pooled RDM of the other containers (lower bound) and of all
containers (upper bound), averaged over containers. Pooling follows rsatoolbox's ``pool_rdm``:
mean ranks for rank comparisons, mean standardised vectors for Pearson.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .compare import RANK_METHODS, compare, compare_pairs
from .inference import PERMUTED_ENTRIES, permuted_vectors, sub_rdm_positions
from .populations import spearman_brown
from .rdm import MIN_CONTAINERS, containers_note, stimuli_of_pairs
from .resampling import Relabellings

CORRELATION_METHODS = ("spearman", "pearson")


def noise_free_score(split_half: np.ndarray, method: str) -> np.ndarray:
    """The score against one half that a model equal to the population's noise-free response would
    reach, from the comparison of two halves (each the shared signal plus independent noise): √r
    for Pearson r, and through the Gaussian relations of τ (Greiner: τ = (2/π) arcsin r) and of
    Spearman's ρ (ρ = (6/π) arcsin(r/2)) for the rank comparisons. A negative split-half value (no
    shared signal) gives 0."""
    clipped = np.clip(split_half, 0, None)
    if method in ("tau-a", "tau-b"):
        return 2 / np.pi * np.arcsin(np.sqrt(np.sin(np.pi * clipped / 2)))
    if method == "spearman":
        return 6 / np.pi * np.arcsin(np.sqrt(2 * np.sin(np.pi * clipped / 6)) / 2)
    return np.sqrt(clipped)


# Splits a split-half ceiling is recomputed on in each half of a halving of the stimuli (for its
# standard error), rotating through all of them over the halvings: the median over 10 carries a
# little more of the split-to-split spread than the median over all of them, so the standard error
# errs high, at a tenth of the cost with the default 100 splits.
SPLITS_PER_HALF = 10


def halving_splits(halving: int, splits: int) -> np.ndarray:
    """The splits that halving ``halving`` recomputes a ceiling on (in both of its halves)."""
    return (halving * SPLITS_PER_HALF + np.arange(min(SPLITS_PER_HALF, splits))) % splits


def ceiling_se(halved: np.ndarray) -> float:
    """A ceiling's standard error from its values on the two halves of the stimuli of each halving
    (halvings × 2): √ the mean of (a − b)² / 4. A statistic whose variance falls as 1/n (n stimuli)
    has twice its variance on half of them, so (a − b)² / 4 estimates its variance on all n (the
    delete-half jackknife). Unlike a bootstrap draw, a half holds no copies of a stimulus, which
    would count as more stimuli than they are (a bootstrap SD erred high by 1.3–1.7 ×); a term of
    order 1/n², the pairs' own noise in an RDM or Gram matrix, is counted twice, so it still errs
    high where that noise dominates. Halvings of a movie are contiguous runs, which keep most of its
    slow drift within a half (tests: 0.85 of the true SE of a mean of 60 AR(1) segments at φ = 0.8,
    where random halvings read a third). A halving with a half undefined is left out; NaN without any."""
    differences = np.diff(halved, axis=1)[:, 0]
    differences = differences[np.isfinite(differences)]
    return float(np.sqrt(np.mean(differences**2) / 4)) if len(differences) else float("nan")


def ceiling_errors(halved: np.ndarray) -> dict:
    """The standard errors of a ceiling (``ceiling_se``) and of its square (``ceiling_squared_se``,
    the share of the trial-mean response's variance a perfect model explains), each ``ceiling_se``
    of the values on the halves of each halving. Below a ceiling of 0.5 the limit on noise
    correction reads the square's (``frame.guard_corrections``): a square root is steeper near 0,
    so the ceiling's own standard error is smallest where chance lifted the ceiling, and a limit on
    it kept mostly those, whose ratios read low (ridge: 0.87 at a ceiling of 0.37); the square's
    does not favour them (tests/test_noise_correction.py)."""
    return {"ceiling_se": ceiling_se(halved), "ceiling_squared_se": ceiling_se(halved**2)}


def _halved_ceilings(
    halves_a: np.ndarray, halves_b: np.ndarray, halvings: np.ndarray, method: str, device: str | None
) -> np.ndarray:
    """The noise-free ceiling on each half of the stimuli of each halving (halvings × 2), each
    from its halving's ``halving_splits``: only each split's own pair of halves is compared, for
    many halvings in one call, about PERMUTED_ENTRIES entries at a time."""
    n = stimuli_of_pairs(halves_a.shape[1])
    splits = min(SPLITS_PER_HALF, len(halves_a))
    width = halvings.shape[2] * (halvings.shape[2] - 1) // 2
    chunk = max(1, PERMUTED_ENTRIES // max(1, splits * 2 * width))
    halved = []
    for start in range(0, len(halvings), chunk):
        rows_a, rows_b = [], []
        for index in range(start, min(start + chunk, len(halvings))):
            chosen = halving_splits(index, len(halves_a))
            positions = np.concatenate([sub_rdm_positions(stimuli, n) for stimuli in halvings[index]])
            rows_a.append(halves_a[np.ix_(chosen, positions)].reshape(-1, width))  # split × side rows
            rows_b.append(halves_b[np.ix_(chosen, positions)].reshape(-1, width))
        matched = compare_pairs(np.concatenate(rows_a), np.concatenate(rows_b), method, device)
        halved.append(np.median(noise_free_score(matched.reshape(-1, splits, 2), method), axis=1))
    return np.concatenate(halved) if halved else np.empty((0, 2))


def split_half(
    halves_a: np.ndarray,
    halves_b: np.ndarray,
    method: str,
    correct: bool,
    relabellings: Relabellings,
    halvings: np.ndarray,
    device: str | None = None,
) -> dict:
    """Split-half ceiling of RDM vectors (splits × pairs) of halves A and B.

    ``relabellings``: of the stimuli, for the p-value (none: no p); ``halvings``: of the stimuli
    (halvings × 2 × half, ``resampling.ceiling_halvings``), on each half of which the noise-free
    ceiling is recomputed (on ``halving_splits``) for its standard error; ``device``: as for
    ``compare.compare``.
    """
    if correct and method not in CORRELATION_METHODS:
        raise ValueError(
            f"rsa.spearman_brown applies to correlation-based comparisons ({', '.join(CORRELATION_METHODS)}), "
            f"not {method}"
        )
    per_split = np.array([compare(a, b, method, device)[0, 0] for a, b in zip(halves_a, halves_b)])
    n = stimuli_of_pairs(halves_a.shape[1])
    fixed = halves_a[0][sub_rdm_positions(relabellings.window, n)]
    observed = compare(fixed, halves_b[0][sub_rdm_positions(relabellings.window, n)], method, device)[0, 0]
    null = np.empty(len(relabellings))
    batch = max(1, PERMUTED_ENTRIES // halves_b.shape[1])
    for start in range(0, len(relabellings), batch):
        orders = relabellings.orders[start : start + batch]
        null[start : start + batch] = compare(fixed, permuted_vectors(halves_b[0], orders, n), method, device)[0]
    noise_free = noise_free_score(per_split, method)
    halved = _halved_ceilings(halves_a, halves_b, halvings, method, device)
    if correct:
        per_split = spearman_brown(per_split)
    return {
        "ceiling_noise_free": float(np.median(noise_free)),
        "ceiling_median": float(np.median(per_split)),
        "ceiling_sd": float(np.std(per_split, ddof=1)),
        "ceiling_splits": int(len(per_split)),
        **ceiling_errors(halved),
        "ceiling_p": float(relabellings.p(observed, null)) if len(relabellings) else float("nan"),
        "ceiling_method": f"split-half {method}" + (", Spearman-Brown corrected" if correct else ""),
        "ceiling_note": "",
    }


# The ceiling columns of a published RDM (data.source: rdms), which has no trials to split.
PUBLISHED_CEILING_NOTE = "published RDM: no trials to split, so no split-half ceiling"


def published_ceiling(lower: float, upper: float) -> dict:
    """The ceiling columns of a published RDM: no split-half ceiling (``ceiling_note`` says why),
    and the bounds its manifest gives (NaN where it gives none), as published: in their authors'
    comparison, so they are not recomputed and nothing is corrected by them."""
    given = not (np.isnan(lower) and np.isnan(upper))
    return {
        "ceiling_noise_free": float("nan"),
        "ceiling_median": float("nan"),
        "ceiling_sd": float("nan"),
        "ceiling_se": float("nan"),
        "ceiling_squared_se": float("nan"),
        "ceiling_splits": 0,
        "ceiling_p": float("nan"),
        "ceiling_method": "none",
        "ceiling_note": PUBLISHED_CEILING_NOTE,
        "ceiling_p_method": "",
        "ceiling_lower": float(lower),
        "ceiling_upper": float(upper),
        "ceiling_bound_containers": 0,
        "ceiling_bound_note": "" if given else "published RDM: the manifest gives no ceiling bounds",
        "ceiling_bound_method": "published with the RDM (data.rdms.manifest), in its authors' comparison" if given else "none",
    }


def pool(vectors: np.ndarray, method: str) -> np.ndarray:
    """One RDM vector standing for several (rsatoolbox's ``pool_rdm``); NaN entries are skipped."""
    if method in RANK_METHODS:
        # Average ranks, NaN left out (scipy's rankdata, but pandas is loaded already and
        # scipy.stats would add 1.4 s to every ceiling job's start).
        transformed = pd.DataFrame(vectors).rank(axis=1).to_numpy()
    else:
        centred = vectors - np.nanmean(vectors, axis=1, keepdims=True)
        transformed = centred / np.nanstd(centred, axis=1, keepdims=True)
    return np.nanmean(transformed, axis=0)


def between_animal(container_vectors: np.ndarray, method: str, device: str | None = None) -> dict:
    """Leave-one-container-out bounds from one RDM vector per container (containers × pairs)."""
    count = len(container_vectors)
    bounds = {"ceiling_lower": float("nan"), "ceiling_upper": float("nan"), "ceiling_bound_containers": count,
              "ceiling_bound_note": containers_note(count)}  # fmt: skip
    if count >= MIN_CONTAINERS:
        everyone = pool(container_vectors, method)
        lower = [
            compare(pool(np.delete(container_vectors, left_out, axis=0), method), container_vectors[left_out], method, device)[
                0, 0
            ]
            for left_out in range(count)
        ]
        upper = compare(everyone, container_vectors, method, device)[0]
        bounds.update(ceiling_lower=float(np.mean(lower)), ceiling_upper=float(np.mean(upper)))
    bounds["ceiling_bound_method"] = f"leave one container out, {method} against pooled RDMs"
    return bounds

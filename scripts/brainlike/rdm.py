"""Representational dissimilarity matrices: 1 − Pearson r between stimulus response patterns.

Same definition as rsatoolbox's ``calc_rdm(method="correlation")``: each stimulus's pattern is
centred over its features (cells or units) and the RDM entry is one minus the correlation of two
patterns. Sums are accumulated in float64, over feature chunks, so a layer of any width costs
memory for one chunk and the n × n accumulators only. RDMs are saved as rsatoolbox ``RDMs``
(hdf5), so users can load them with ``rsatoolbox.rdm.load_rdm``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import rsatoolbox

from .splits import half_means

# Columns read at a time from a zarr layer: 118 or 900 rows × 2**16 float64 ≈ 60 / 470 MB.
COLUMN_CHUNK = 1 << 16


def _rdm_from_sums(gram: np.ndarray, sums: np.ndarray, n_features: int) -> np.ndarray:
    centred = gram - np.einsum("...i,...j->...ij", sums, sums) / n_features
    scale = np.sqrt(np.einsum("...ii->...i", centred))
    correlation = centred / scale[..., :, None] / scale[..., None, :]
    # Rounding can leave the two triangles 1e-16 apart and the diagonal off zero: mirror the upper
    # triangle (the vector rsatoolbox keeps) and set the diagonal to 0, as defined.
    upper_triangle = np.triu(1.0 - correlation, k=1)
    return upper_triangle + np.swapaxes(upper_triangle, -1, -2)


def correlation_rdm(patterns) -> np.ndarray:
    """n × n RDM of ``patterns`` (n stimuli × p features, numpy or zarr), read in column chunks."""
    n, p = patterns.shape
    gram = np.zeros((n, n))
    sums = np.zeros(n)
    for start in range(0, p, COLUMN_CHUNK):
        chunk = np.asarray(patterns[:, start : start + COLUMN_CHUNK], dtype=np.float64)
        gram += chunk @ chunk.T
        sums += chunk.sum(axis=1)
    return _rdm_from_sums(gram, sums, p)


def correlation_rdms(patterns: np.ndarray) -> np.ndarray:
    """RDMs of a stack of pattern sets: (k, n, p) → (k, n, n)."""
    patterns = np.asarray(patterns, dtype=np.float64)
    gram = patterns @ np.swapaxes(patterns, -1, -2)
    return _rdm_from_sums(gram, patterns.sum(axis=-1), patterns.shape[-1])


def upper(rdms: np.ndarray) -> np.ndarray:
    """Entries above the diagonal, row by row (rsatoolbox's vector order): (..., n, n) → (..., n(n-1)/2)."""
    n = rdms.shape[-1]
    rows, columns = np.triu_indices(n, k=1)
    return rdms[..., rows, columns]


def split_half_rdms(responses: np.ndarray, splits: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """RDMs of the trial-averaged halves of each split (``splits.random_splits``) of ``responses``
    (trials × stimuli × cells).

    Returns two (splits, stimuli, stimuli) stacks. The A halves are the reference's "random
    half-trial" brain RDMs; A against B is its split-half noise ceiling.
    """
    halves = np.empty((len(splits), 2, responses.shape[1], responses.shape[1]))
    for position, order in enumerate(splits):
        halves[position] = correlation_rdms(np.stack(half_means(responses, order)))
    return halves[:, 0], halves[:, 1]


def save_rdms(path: Path, rdms: np.ndarray, rdm_descriptors: dict, descriptors: dict) -> None:
    """Write a stack of n × n RDMs as an rsatoolbox ``RDMs`` hdf5 file (atomically)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    rsatoolbox.rdm.RDMs(
        dissimilarities=upper(rdms),
        dissimilarity_measure="correlation",
        descriptors=descriptors,
        rdm_descriptors=rdm_descriptors,
        pattern_descriptors={"stimulus": np.arange(rdms.shape[-1])},
    ).save(str(partial), file_type="hdf5", overwrite=True)
    partial.replace(path)


def load_rdms(path: Path) -> rsatoolbox.rdm.RDMs:
    return rsatoolbox.rdm.load_rdm(str(path), file_type="hdf5")

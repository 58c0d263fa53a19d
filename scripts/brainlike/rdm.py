"""Representational dissimilarity matrices from stimulus response patterns (stimuli × features).

Two of rsatoolbox's ``calc_rdm`` distances, with its definitions: ``correlation`` (1 − Pearson r
between two stimuli's patterns, each centred over its features) and ``euclidean`` (squared
Euclidean distance divided by the number of features). Both follow from the stimulus × stimulus
Gram matrix and the pattern sums, which are accumulated in float64 over feature chunks, so a layer
of any width costs memory for one chunk and the n × n accumulators only. RDMs are saved as
rsatoolbox ``RDMs`` (hdf5), so users can load them with ``rsatoolbox.rdm.load_rdm``; the workflow's
own jobs read and write that layout with h5py alone (``StoredRDMs``), since importing rsatoolbox
loads its plotting stack, about 2 s of every job's start-up.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

import h5py
import numpy as np

from .splits import half_means

# Containers (animals) an interval or bound across animals needs.
MIN_CONTAINERS = 2

DISTANCES = {"correlation": "correlation", "euclidean": "squared euclidean"}  # ours → rsatoolbox's measure name

# Columns read at a time from a zarr layer (the width of the activation stores' chunks, so each
# chunk is decoded once) and columns converted to float64 at a time: with 900 rows, about 240 MB
# of float32 and 120 MB of float64.
COLUMN_CHUNK = 1 << 16
FLOAT64_BLOCK = 1 << 14


def containers_note(count: int) -> str:
    """Why an interval or bound across animals is empty ("" when it is not)."""
    if count >= MIN_CONTAINERS:
        return ""
    return f"{count} container{'s' * (count != 1)}: a statistic across animals needs at least {MIN_CONTAINERS}"


def container_draws(rng: np.random.Generator, container_ids: np.ndarray, count: int) -> list[np.ndarray]:
    """The cells of containers drawn with replacement, ``count`` times (each draw as many containers
    as there are); none for fewer than MIN_CONTAINERS containers (a resample of one animal says
    nothing about animals)."""
    containers = np.unique(container_ids)
    draws = []
    for _ in range(count if len(containers) >= MIN_CONTAINERS else 0):
        chosen = rng.choice(containers, size=len(containers), replace=True)
        draws.append(np.concatenate([np.flatnonzero(container_ids == c) for c in chosen]))
    return draws


def stimulus_gram(patterns) -> tuple[np.ndarray, np.ndarray]:
    """Stimulus × stimulus Gram matrix (float64) and per-stimulus sums of ``patterns`` (n stimuli ×
    p features, numpy or zarr), read in column chunks: a layer of any width costs one chunk."""
    n, p = patterns.shape
    gram = np.zeros((n, n))
    sums = np.zeros(n)
    for start in range(0, p, COLUMN_CHUNK):
        chunk = np.asarray(patterns[:, start : start + COLUMN_CHUNK])
        for block_start in range(0, chunk.shape[1], FLOAT64_BLOCK):
            block = chunk[:, block_start : block_start + FLOAT64_BLOCK].astype(np.float64)
            gram += block @ block.T
            sums += block.sum(axis=1)
    return gram, sums


def _rdm_from_sums(gram: np.ndarray, sums: np.ndarray, n_features: int, distance: str) -> np.ndarray:
    squares = np.einsum("...ii->...i", gram)
    if distance == "euclidean":
        dissimilarity = (squares[..., :, None] + squares[..., None, :] - 2 * gram) / n_features
    elif distance == "correlation":
        centred = gram - np.einsum("...i,...j->...ij", sums, sums) / n_features
        scale = np.sqrt(np.einsum("...ii->...i", centred))
        # A constant pattern has no correlation: its pairs are NaN, flagged where they are scored.
        with np.errstate(invalid="ignore", divide="ignore"):
            dissimilarity = 1.0 - centred / scale[..., :, None] / scale[..., None, :]
    else:
        raise ValueError(f"unknown RDM distance {distance!r}; valid: {', '.join(DISTANCES)}")
    # Rounding can leave the two triangles 1e-16 apart and the diagonal off zero: mirror the upper
    # triangle (the vector rsatoolbox keeps) and set the diagonal to 0, as defined.
    upper_triangle = np.triu(dissimilarity, k=1)
    return upper_triangle + np.swapaxes(upper_triangle, -1, -2)


def rdm_from_patterns(patterns, distance: str = "correlation") -> np.ndarray:
    """n × n RDM of ``patterns`` (n stimuli × p features, numpy or zarr), read in column chunks."""
    gram, sums = stimulus_gram(patterns)
    return _rdm_from_sums(gram, sums, patterns.shape[1], distance)


def rdms_from_pattern_stack(patterns: np.ndarray, distance: str = "correlation") -> np.ndarray:
    """RDMs of a stack of pattern sets: (k, n, p) → (k, n, n)."""
    patterns = np.asarray(patterns, dtype=np.float64)
    gram = patterns @ np.swapaxes(patterns, -1, -2)
    return _rdm_from_sums(gram, patterns.sum(axis=-1), patterns.shape[-1], distance)


def upper(rdms: np.ndarray) -> np.ndarray:
    """Entries above the diagonal, row by row (rsatoolbox's vector order): (..., n, n) → (..., n(n-1)/2)."""
    n = rdms.shape[-1]
    rows, columns = np.triu_indices(n, k=1)
    return rdms[..., rows, columns]


def population_rdms(
    responses: np.ndarray,
    container_ids: np.ndarray,
    splits: np.ndarray,
    distance: str,
    rng: np.random.Generator,
    container_bootstraps: int,
) -> tuple[np.ndarray, dict]:
    """Every brain RDM the statistics use, from one population (trials × stimuli × cells).

    kind ``half_a`` / ``half_b`` (index: split of ``splits.random_splits``): the trial-averaged halves
    of every split; the A halves are the reference's random half-trial brain RDMs, A against B its
    split-half noise ceiling. ``all`` (index 0): every trial, the population's RDM to look at.
    ``container`` (descriptor ``container``: its id): every trial of one animal's cells, for the
    between-animal bounds; containers with fewer than 2 cells have no RDM. ``container_bootstrap`` (index: draw):
    the cells of containers drawn with replacement, half A of split ``draw mod splits``, so each
    draw scores at the same trial count as the half-trial RDMs; none for a population of fewer
    than MIN_CONTAINERS containers (a resample of one animal says nothing about animals).
    Returns the (k, n, n) stack and its rdm_descriptors ``kind``, ``index`` (position within the
    kind) and ``container`` (the id as text for kind container, else empty).
    """
    stacks, kinds, indices, container_labels = [], [], [], []

    def add(rdms: np.ndarray, kind: str, containers=None) -> None:
        stacks.append(rdms)
        kinds.extend([kind] * len(rdms))
        indices.extend(range(len(rdms)))
        container_labels.extend([str(c) for c in containers] if containers is not None else [""] * len(rdms))

    halves = np.stack([rdms_from_pattern_stack(np.stack(half_means(responses, order)), distance) for order in splits])
    add(halves[:, 0], "half_a")
    add(halves[:, 1], "half_b")
    add(rdm_from_patterns(responses.mean(axis=0), distance)[None], "all")
    containers, cell_counts = np.unique(container_ids, return_counts=True)
    with_rdm = containers[cell_counts >= 2]
    add(
        np.stack([rdm_from_patterns(responses[:, :, container_ids == c].mean(axis=0), distance) for c in with_rdm]),
        "container",
        with_rdm,
    )
    draws = []
    for draw, cells in enumerate(container_draws(rng, container_ids, container_bootstraps)):
        half_a, _ = half_means(responses[:, :, cells], splits[draw % len(splits)])
        draws.append(rdm_from_patterns(half_a, distance))
    add(np.stack(draws) if draws else np.empty((0,) + halves.shape[-2:]), "container_bootstrap")
    return np.concatenate(stacks), {"kind": kinds, "index": indices, "container": container_labels}


def _write_group(group: h5py.Group, values: dict) -> None:
    """rsatoolbox's hdf5 layout of a descriptor dict: text as attributes, anything else (text arrays as
    bytes) as datasets."""
    for key, value in values.items():
        if isinstance(value, str):
            group.attrs[key] = value
            continue
        value = np.asarray(value)
        group[key] = value.astype("S") if value.dtype.kind == "U" else value


def _read_group(group: h5py.Group) -> dict:
    values = {key: str(value) for key, value in group.attrs.items()}
    for key, dataset in group.items():
        value = dataset[()]
        if isinstance(value, np.ndarray):
            values[key] = value.astype(str) if value.dtype.kind == "S" else value
        else:
            values[key] = value.item() if isinstance(value, np.generic) else value
    return values


def stimuli_of_pairs(pairs: int) -> int:
    """The stimulus count n of an RDM vector of n (n − 1) / 2 pairs."""
    return int(round((1 + np.sqrt(1 + 8 * pairs)) / 2))


@dataclass(frozen=True)
class StoredRDMs:
    """A stack of RDMs as an rsatoolbox ``RDMs`` hdf5 file holds them. The accessors carry
    rsatoolbox's names; ``to_rsatoolbox`` builds the full object for its analyses."""

    dissimilarities: np.ndarray  # (RDMs, n(n-1)/2): upper triangles, row by row
    descriptors: dict
    rdm_descriptors: dict[str, np.ndarray]
    pattern_descriptors: dict[str, np.ndarray]
    dissimilarity_measure: str

    @property
    def n_cond(self) -> int:
        return stimuli_of_pairs(self.dissimilarities.shape[1])

    def get_vectors(self) -> np.ndarray:
        return self.dissimilarities

    def get_matrices(self) -> np.ndarray:
        n = self.n_cond
        matrices = np.zeros((len(self.dissimilarities), n, n))
        rows, columns = np.triu_indices(n, k=1)
        matrices[:, rows, columns] = self.dissimilarities
        matrices[:, columns, rows] = self.dissimilarities
        return matrices

    def to_rsatoolbox(self):
        import rsatoolbox

        return rsatoolbox.rdm.RDMs(
            dissimilarities=self.dissimilarities,
            dissimilarity_measure=self.dissimilarity_measure,
            descriptors=self.descriptors,
            rdm_descriptors=self.rdm_descriptors,
            pattern_descriptors=self.pattern_descriptors,
        )


def save_rdms(path: Path, rdms: np.ndarray, rdm_descriptors: dict, descriptors: dict, distance: str) -> None:
    """Write a stack of n × n RDMs of one of ``DISTANCES`` as an rsatoolbox ``RDMs`` hdf5 file (atomically)."""
    save_rdm_vectors(path, upper(rdms), rdm_descriptors, descriptors, DISTANCES[distance])


def save_rdm_vectors(path: Path, vectors: np.ndarray, rdm_descriptors: dict, descriptors: dict, measure: str) -> None:
    """Write RDM vectors (RDMs × pairs, rsatoolbox's order) of dissimilarity ``measure`` as an
    rsatoolbox ``RDMs`` hdf5 file (atomically)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    partial.unlink(missing_ok=True)
    n = stimuli_of_pairs(vectors.shape[1])
    # rsatoolbox numbers RDMs and patterns in an ``index`` descriptor unless one is given.
    rdm_descriptors = {"index": np.arange(len(vectors)), **rdm_descriptors}
    with h5py.File(partial, "w") as handle:
        handle.attrs["rsatoolbox_version"] = metadata.version("rsatoolbox")
        handle.attrs["dissimilarity_measure"] = measure
        handle["dissimilarities"] = vectors
        for name, values in (("descriptors", descriptors), ("rdm_descriptors", rdm_descriptors),
                             ("pattern_descriptors", {"index": np.arange(n), "stimulus": np.arange(n)})):  # fmt: skip
            _write_group(handle.create_group(name), values)
    partial.replace(path)


def load_rdms(path: Path) -> StoredRDMs:
    """An rsatoolbox ``RDMs`` hdf5 file, whoever wrote it."""
    with h5py.File(path, "r") as handle:
        return StoredRDMs(
            dissimilarities=handle["dissimilarities"][()],
            descriptors=_read_group(handle["descriptors"]),
            rdm_descriptors=_read_group(handle["rdm_descriptors"]),
            pattern_descriptors=_read_group(handle["pattern_descriptors"]),
            dissimilarity_measure=str(handle.attrs["dissimilarity_measure"]),
        )

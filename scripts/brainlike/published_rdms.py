"""Published brain RDMs (``data.source: rdms``): one RDM per population, listed in a manifest.

The manifest (CSV) places each RDM in the grid:

    area,depth,stimulus,file,stimulus_order,ceiling_lower,ceiling_upper
    VISp,175,natural_scenes,VISp_175.npy,,0.31,0.42

``file`` (relative to the manifest) is an n × n ``.npy`` matrix, or an rsatoolbox ``RDMs`` hdf5
file holding one RDM (rsatoolbox's ``RDMs.save``). Its rows are the stimuli of the set, in the
set's order unless said otherwise: for ``.npy``, by ``stimulus_order`` (a text or ``.npy`` file of
the set position of each row); for hdf5, by the RDM's ``stimulus`` pattern descriptor where it has
one (rsatoolbox's own labels). The RDM is put into the set's order. ``ceiling_lower`` and
``ceiling_upper`` (optional) are the published noise ceiling's bounds, carried into the tables as
such. ``depth`` is a number of µm, or ``all``. Only the entries above the diagonal are read (the
diagonal of a dissimilarity is 0 by definition, and some files store NaN there).

An RDM is refused, naming its file, when it is not square, not symmetric, has NaN or infinite
entries (off the diagonal), or has a stimulus count or order that is not the set's; every check
runs before any job.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd

from .depths import ALL, depth_value
from .own_data import load_array
from .rdm import load_rdms, stimuli_of_pairs

MANIFEST_COLUMNS = ("area", "depth", "stimulus", "file")
CEILING_COLUMNS = ("ceiling_lower", "ceiling_upper")
HDF5_SUFFIXES = (".hdf5", ".h5")
# Largest |A − Aᵀ| accepted, relative to the largest |A|: a matrix written in float32 and mirrored
# by hand passes, a different upper and lower triangle does not.
SYMMETRY_TOLERANCE = 1e-6


@dataclass(frozen=True)
class PublishedRDM:
    """One population's RDM in the stimulus set's order, and what the manifest says of it."""

    vector: np.ndarray  # the entries above the diagonal, row by row (float64)
    measure: str
    file: Path
    ceiling_lower: float
    ceiling_upper: float


def read_manifest(path: Path) -> pd.DataFrame:
    """The manifest with ``file`` and ``stimulus_order`` as paths and ``depth`` as the tables hold it."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"data.rdms.manifest: no file {path}")
    stat = path.stat()
    return _parsed_manifest(path, stat.st_mtime_ns, stat.st_size).copy()


# A plan looks up every population's row: one parse per version of the file (its time and size).
@lru_cache(maxsize=4)
def _parsed_manifest(path: Path, _mtime_ns: int, _size: int) -> pd.DataFrame:
    manifest = pd.read_csv(path, dtype={"depth": str, "stimulus_order": str}, float_precision="round_trip")
    missing = [column for column in MANIFEST_COLUMNS if column not in manifest.columns]
    if missing:
        raise ValueError(f"{path}: missing column(s) {missing}; required: {list(MANIFEST_COLUMNS)}")
    depths = manifest["depth"].str.strip()
    bad = ~(depths.str.fullmatch(r"\d+") | (depths == ALL))
    if bad.any():
        rows = manifest.index[bad]
        raise ValueError(
            f"{path}: column depth holds values that are neither numbers nor '{ALL}' "
            f"({sorted(set(manifest['depth'][rows].astype(str)))[:5]}, rows {[row + 2 for row in rows[:5]]} as file "
            "lines); write each depth as a number of µm, e.g. 200, or all"
        )
    manifest["depth"] = [depth_value(depth) for depth in depths]
    for column in CEILING_COLUMNS:
        if column not in manifest:
            manifest[column] = np.nan
        values = pd.to_numeric(manifest[column], errors="coerce")
        if (values.isna() & manifest[column].notna()).any():
            raise ValueError(f"{path}: column {column} holds values that are not numbers; leave a cell empty for none")
        manifest[column] = values.astype(float)
    repeated = manifest[manifest.duplicated(["area", "depth", "stimulus"], keep=False)]
    if not repeated.empty:
        raise ValueError(
            f"{path}: rows {[index + 2 for index in repeated.index]} (file lines) list the same area, depth and "
            "stimulus; one RDM per population"
        )
    manifest["file"] = [path.parent / file for file in manifest["file"]]
    orders = manifest["stimulus_order"] if "stimulus_order" in manifest else pd.Series([None] * len(manifest))
    manifest["stimulus_order"] = [path.parent / order if isinstance(order, str) and order.strip() else None for order in orders]
    return manifest


def population_row(manifest_path: Path, area: str, depth, stimulus: str) -> pd.Series:
    """The manifest's row of one population."""
    manifest = read_manifest(manifest_path)
    depth = depth_value(depth)
    rows = manifest[(manifest["area"] == area) & (manifest["depth"] == depth) & (manifest["stimulus"] == stimulus)]
    if rows.empty:
        listed = sorted({(row.area, str(row.depth), row.stimulus) for row in manifest.itertuples()})
        raise ValueError(
            f"{manifest_path}: no row for area {area}, depth {depth}, stimulus {stimulus} (data.areas × data.depths × "
            f"data.stimuli); it lists {listed[:6]}{' …' if len(listed) > 6 else ''}"
        )
    return rows.iloc[0]


def _stimulus_order(path: Path) -> np.ndarray:
    values = load_array(path) if path.suffix == ".npy" else np.loadtxt(path, ndmin=1)
    values = np.asarray(values)
    if values.ndim != 1 or not np.all(np.mod(values, 1) == 0):
        raise ValueError(f"{path}: a stimulus order is one whole number per RDM row (its position in the stimulus set)")
    return values.astype(np.int64)


def _read_matrix(path: Path) -> tuple[np.ndarray, str, np.ndarray | None]:
    """(RDM vector, its dissimilarity measure, the stimulus of each row where the file says)."""
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such RDM file (data.rdms.manifest's column file)")
    if path.suffix.lower() in HDF5_SUFFIXES:
        try:
            stored = load_rdms(path)
        except (OSError, KeyError) as error:
            raise ValueError(f"{path}: not an rsatoolbox RDMs hdf5 file (rsatoolbox's RDMs.save writes one): {error}") from None
        if len(stored.dissimilarities) != 1:
            raise ValueError(
                f"{path}: holds {len(stored.dissimilarities)} RDMs; the manifest gives one per population: save the one "
                "to score (e.g. rsatoolbox's rdms.subset(...).save(path))"
            )
        vector = np.asarray(stored.dissimilarities[0], dtype=np.float64)
        pairs = len(vector)
        if stimuli_of_pairs(pairs) * (stimuli_of_pairs(pairs) - 1) // 2 != pairs:
            raise ValueError(f"{path}: {pairs} dissimilarities are not the pairs of any stimulus count")
        bad = ~np.isfinite(vector)
        if bad.any():
            row, column = (index[np.argmax(bad)] for index in np.triu_indices(stimuli_of_pairs(pairs), k=1))
            raise ValueError(
                f"{path}: {bad.sum()} NaN or infinite dissimilarities (the first at row {row}, column {column}); every "
                "stimulus pair needs one"
            )
        labels = stored.pattern_descriptors.get("stimulus")
        return vector, stored.dissimilarity_measure, None if labels is None else np.asarray(labels)
    if path.suffix != ".npy":
        raise ValueError(f"{path}: an RDM is an .npy matrix or an rsatoolbox hdf5 file ({', '.join(HDF5_SUFFIXES)})")
    matrix = load_array(path)
    if matrix.ndim != 2 or matrix.shape[0] != matrix.shape[1]:
        raise ValueError(f"{path}: an RDM is a square stimuli × stimuli matrix, got shape {matrix.shape}")
    if not np.issubdtype(matrix.dtype, np.number):
        raise ValueError(f"{path}: an RDM holds numbers, got dtype {matrix.dtype}")
    matrix = matrix.astype(np.float64)
    off_diagonal = ~np.eye(len(matrix), dtype=bool)
    bad = ~np.isfinite(matrix) & off_diagonal
    if bad.any():
        row, column = np.argwhere(bad)[0]
        raise ValueError(
            f"{path}: {bad.sum()} NaN or infinite entries off the diagonal (the first at row {row}, column {column}); "
            "every stimulus pair needs a dissimilarity"
        )
    asymmetry = np.abs(matrix - matrix.T)[off_diagonal].max(initial=0.0)
    scale = np.abs(matrix[off_diagonal]).max(initial=0.0)
    if asymmetry > SYMMETRY_TOLERANCE * max(scale, np.finfo(float).tiny):
        row, column = np.unravel_index(np.argmax(np.abs(matrix - matrix.T) * off_diagonal), matrix.shape)
        raise ValueError(
            f"{path}: not symmetric: entry ({row}, {column}) is {matrix[row, column]:.6g} and ({column}, {row}) is "
            f"{matrix[column, row]:.6g}; an RDM gives each pair one dissimilarity"
        )
    rows, columns = np.triu_indices(len(matrix), k=1)
    return matrix[rows, columns], "unknown (.npy)", None


def _in_set_order(vector: np.ndarray, order: np.ndarray, n_stimuli: int, where: str) -> np.ndarray:
    """The RDM vector with its rows moved to the set's order; ``order[k]`` is row k's stimulus."""
    if len(order) != n_stimuli or not np.array_equal(np.sort(order), np.arange(n_stimuli)):
        values, counts = np.unique(order, return_counts=True)
        repeated = values[counts > 1]
        outside = np.unique(order[(order < 0) | (order >= n_stimuli)])
        raise ValueError(
            f"{where}: the stimulus order must name each of the set's {n_stimuli} stimuli (positions 0 to "
            f"{n_stimuli - 1}) once; it has {len(order)} entries"
            + (f", outside the set {outside[:5].tolist()}" if len(outside) else "")
            + (f", repeated {repeated[:5].tolist()}" if len(repeated) else "")
        )
    n = n_stimuli
    matrix = np.zeros((n, n))
    rows, columns = np.triu_indices(n, k=1)
    matrix[rows, columns] = vector
    matrix[columns, rows] = vector
    position = np.argsort(order)  # the RDM row of each stimulus in the set's order
    return matrix[np.ix_(position, position)][rows, columns]


def read_rdm(row: pd.Series, n_stimuli: int, stimulus_source: str) -> PublishedRDM:
    """One manifest row's RDM, checked and in the stimulus set's order; ``stimulus_source`` names the
    set's file for errors."""
    path = Path(row["file"])
    vector, measure, labels = _read_matrix(path)
    n = stimuli_of_pairs(len(vector))
    if n != n_stimuli:
        raise ValueError(
            f"{path}: {n} stimuli, but the stimulus set {row['stimulus']} ({stimulus_source}) has {n_stimuli}; an RDM "
            "of a different stimulus set, or one with stimuli left out or blanks kept"
        )
    order_file = row.get("stimulus_order")
    if labels is not None and order_file is not None:
        raise ValueError(
            f"{path}: the file's stimulus pattern descriptor gives its order, and the manifest's stimulus_order "
            f"({order_file}) gives another; give it once"
        )
    if order_file is not None:
        vector = _in_set_order(vector, _stimulus_order(Path(order_file)), n_stimuli, f"{path} (order {order_file})")
    elif labels is not None:
        if not np.issubdtype(np.asarray(labels).dtype, np.integer):
            raise ValueError(f"{path}: its stimulus pattern descriptor holds {labels[:3]!r}…, not set positions (0 to {n - 1})")
        vector = _in_set_order(vector, np.asarray(labels, dtype=np.int64), n_stimuli, f"{path} (pattern descriptor stimulus)")
    return PublishedRDM(vector, measure, path, float(row["ceiling_lower"]), float(row["ceiling_upper"]))


def check_manifest(manifest_path: Path, populations: list[tuple[str, object, str]], stimulus_counts: dict[str, tuple[int, str]]) -> None:
    """Read and check every population's RDM (``populations``: area, depth, stimulus) against its
    stimulus set (``stimulus_counts``: stimulus → (count, the set's file)); the first fault is raised."""
    for area, depth, stimulus in populations:
        count, source = stimulus_counts[stimulus]
        read_rdm(population_row(manifest_path, area, depth, stimulus), count, source)

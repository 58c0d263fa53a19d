"""A population: every recording of one area × depth × stimulus pooled, then cells selected.

Runs in the main environment on the data stage's hand-over (brainlike.recordings), for the Brain
Observatory and your own data alike. The response file keeps each cell's container (animal), which
the between-animal ceiling and the container bootstrap need; its JSON sidecar records every choice
and count, which the tables read without loading the tensors.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np

from .atomic import write_npz
from .depths import depth_title
from .recordings import sidecar
from .seeds import Stream, labelled_rng
from .splits import half_means, random_splits

log = logging.getLogger(__name__)

# Labels of a recording that are counts, not per-cell labels.
COUNTS = ("trials", "stimuli", "units")


def matched_cells(recordings: list[dict]) -> list[dict]:
    """Cells recorded in every session of their container, once each, their sessions' repeats joined."""
    merged = []
    for container in sorted({recording["container_id"] for recording in recordings}):
        sessions = sorted(
            (recording for recording in recordings if recording["container_id"] == container),
            key=lambda recording: recording["session_type"],
        )
        common = sorted(set.intersection(*(set(session["unit_id"].tolist()) for session in sessions)))
        columns = []
        for session in sessions:
            position = {unit: column for column, unit in enumerate(session["unit_id"].tolist())}
            columns.append(session["responses"][:, :, [position[unit] for unit in common]])
        merged.append({
            **sessions[0],
            "session_type": "+".join(session["session_type"] for session in sessions),
            "responses": np.concatenate(columns, axis=0),
            "unit_id": np.array(common, dtype=sessions[0]["unit_id"].dtype),
        })  # fmt: skip
    return merged


def pool(recordings: list[dict]) -> tuple[dict[str, np.ndarray], dict]:
    """Recordings side by side: responses (trials × stimuli × cells, each recording cut to the trials
    all have) and, per cell, its unit id and every label of its recording; with a record of the
    trials each recording had and how many were dropped to pool them."""
    if not recordings:
        raise ValueError("no recording to pool")
    trials = [recording["responses"].shape[0] for recording in recordings]
    n_trials = min(trials)
    record = {"trials_used": n_trials, "trials_dropped": int(sum(trials) - n_trials * len(trials))}
    if record["trials_dropped"]:
        record["trials_per_recording"] = {
            f"{recording['container_id']} {recording.get('session_type', '')}".strip(): count
            for recording, count in zip(recordings, trials)
        }
        log.warning("recordings have %s trials: each is cut to the %d all have", sorted(set(trials)), n_trials)
    labels = [key for key in recordings[0] if key not in ("responses", "unit_id", *COUNTS)]
    arrays = {
        "responses": np.concatenate([recording["responses"][:n_trials] for recording in recordings], axis=2),
        "unit_id": np.concatenate([recording["unit_id"] for recording in recordings]),
    }
    for label in labels:
        arrays[label] = np.concatenate(
            [np.full(len(recording["unit_id"]), recording[label]) for recording in recordings]
        )
    return arrays, record


def split_half_correlations(responses: np.ndarray, splits: np.ndarray, subsets: np.ndarray | None = None) -> np.ndarray:
    """Each cell's Pearson r across stimuli between the two halves' mean responses, averaged over
    the splits of the trials (``splits.random_splits``): (cells,). With ``subsets`` (k × m stimulus
    indices, none twice in a row) the same on each subset of the stimuli: (k × cells). A cell
    constant in a half (on a subset) gets r = 0 for that split."""
    n = responses.shape[1]
    rows = np.arange(n)[None] if subsets is None else subsets
    member = np.zeros((len(rows), n))
    np.put_along_axis(member, rows, 1.0, axis=1)
    total = np.zeros((len(rows), responses.shape[2]))
    for order in splits:
        a, b = half_means(responses, order)
        total += _subset_correlations(member, a - a.mean(axis=0), b - b.mean(axis=0))
    total /= len(splits)
    return total[0] if subsets is None else total


def _subset_correlations(member: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Pearson r of each column of ``a`` with its column of ``b`` (stimuli × cells, centred on all
    stimuli) over each subset of the stimuli (``member``: subsets × stimuli, 1 where in), from
    sums, so a subset costs matrix products rather than a copy of its rows. 0 where a column's
    variance on the subset is below 1e-12 of its second moment there: constant up to the sums'
    rounding (about m · 1e-16 of it), whose r would otherwise be noise."""
    size = member.sum(axis=1, keepdims=True)
    sum_a, sum_b = member @ a, member @ b
    square_a, square_b = member @ (a * a), member @ (b * b)
    variance_a, variance_b = square_a - sum_a**2 / size, square_b - sum_b**2 / size
    covariance = member @ (a * b) - sum_a * sum_b / size
    varies = (variance_a > 1e-12 * square_a) & (variance_b > 1e-12 * square_b)
    return np.where(varies, covariance / np.sqrt(np.where(varies, variance_a * variance_b, 1.0)), 0.0)


def spearman_brown(r: np.ndarray) -> np.ndarray:
    """The reliability of the full trial count from a split-half r: 2r / (1 + r)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return 2 * r / (1 + r)


def split_half_reliability(responses: np.ndarray, n_splits: int, rng: np.random.Generator) -> np.ndarray:
    """Spearman–Brown-corrected split-half reliability of each cell: (trials × stimuli × cells) → (cells,).

    For each random split of the trials (drawn per stimulus), the Pearson r across stimuli between
    the two halves' mean responses; r is averaged over splits and corrected to the full trial
    count's reliability, 2r / (1 + r). A cell with no variance in a half gets r = 0 for that split.
    """
    splits = random_splits(rng, n_splits, *responses.shape[:2])
    return spearman_brown(split_half_correlations(responses, splits))


def select_cells(
    arrays: dict, population: str, cells: dict, running_p: np.ndarray | None, running_statistic: str | None
) -> tuple[dict, dict]:
    """Apply the config's ``cells`` options to a pooled population: (kept arrays, record of each step).

    ``arrays`` holds ``responses`` (trials × stimuli × cells) and per-cell arrays. ``running_p``
    is each cell's running-modulation p-value where the data source has one (NaN where a cell
    has none), else None.
    """
    n_cells = arrays["responses"].shape[2]
    keep = np.ones(n_cells, dtype=bool)
    record = {"cells_recorded": n_cells}
    threshold = cells["reliability_threshold"]
    if threshold is not None:
        rng = labelled_rng(cells["seed"], Stream.RELIABILITY, population)
        reliability = split_half_reliability(arrays["responses"], cells["reliability_splits"], rng)
        keep &= reliability >= threshold
        record["reliability"] = {
            "method": "split-half, Spearman-Brown corrected", "threshold": threshold,
            "splits": cells["reliability_splits"], "removed": int((reliability < threshold).sum()),
        }  # fmt: skip
    if cells["exclude_running_modulated"]:
        if running_p is None:
            record["running_modulation"] = {"statistic": None, "note": "no running statistic for this stimulus"}
        else:
            modulated = running_p < cells["running_p_threshold"]
            keep &= ~modulated
            record["running_modulation"] = {
                "statistic": running_statistic, "threshold": cells["running_p_threshold"],
                "removed": int(modulated.sum()), "without_statistic": int(np.isnan(running_p).sum()),
            }  # fmt: skip
    record["cells_kept"] = int(keep.sum())
    if keep.sum() < cells["min_cells"]:
        raise ValueError(
            f"population {population} has {int(keep.sum())} cells after selection {record}, fewer than "
            f"cells.min_cells = {cells['min_cells']}: lower it, relax the selection, or leave the population out"
        )
    kept = {key: value[..., keep] if key == "responses" else value[keep] for key, value in arrays.items()}
    return kept, record


def check_signal(arrays: dict, label: str) -> None:
    """Responses must be finite and a population needs two trials per stimulus for its split halves."""
    responses = arrays["responses"]
    bad = ~np.isfinite(responses)
    if bad.any():
        cells = np.flatnonzero(bad.any(axis=(0, 1)))
        containers = sorted({str(container) for container in arrays["container_id"][cells]})
        raise ValueError(
            f"population {label}: {bad.sum()} NaN or infinite responses in {len(cells)} cells of containers "
            f"{containers}; the recordings must be finite (leave those containers out with data.containers)"
        )
    if responses.shape[0] < 2:
        raise ValueError(f"population {label}: {responses.shape[0]} trial per stimulus; split halves need at least 2")


def drop_silent_containers(arrays: dict, label: str) -> tuple[dict, dict]:
    """Leave out containers (animals) whose every cell is constant: they carry no signal, and their
    own RDM is undefined. Constant cells of live containers stay (as in the reference) and are
    counted. Returns the arrays and a record of both counts."""
    responses = arrays["responses"]
    constant = np.ptp(responses.reshape(-1, responses.shape[2]), axis=0) == 0
    containers = arrays["container_id"]
    silent = sorted({str(c) for c in np.unique(containers) if constant[containers == c].all()}, key=str)
    left_out = np.isin(containers.astype(str), silent)
    # A left-out container's cells are counted apart: among the kept cells they would read as constant ones.
    record = {"constant_cells": int((constant & ~left_out).sum()), "silent_containers": silent,
              "silent_container_cells": int(left_out.sum())}  # fmt: skip
    if silent:
        log.warning("population %s: containers %s have no cell whose response varies; left out", label, silent)
        keep = ~left_out
        if not keep.any():
            raise ValueError(f"population {label}: no cell's response varies in any container {silent}")
        arrays = {key: value[..., keep] if key == "responses" else value[keep] for key, value in arrays.items()}
    return arrays, record


def population(
    recordings: list[dict], metadata: dict, cells: dict, movie_sessions: str | None, running: dict | None
) -> tuple[dict[str, np.ndarray], dict]:
    """Pool and select one population: (arrays, metadata).

    ``movie_sessions`` is responses.natural_movie_one.sessions for the movie (``matched``: cells
    recorded in every session, counted once), None otherwise. ``running`` maps cell id → AllenSDK's
    running-modulation p-value (None where a cell has none) when running-modulated cells are to be
    excluded and the data have the statistic, else None.
    """
    label = f"{metadata['stimulus']} {metadata['area']} {depth_title(metadata['depth'])}"
    n_recordings = len(recordings)
    if movie_sessions == "matched":
        recordings = matched_cells(recordings)
    arrays, pooling = pool(recordings)
    check_signal(arrays, label)
    arrays, silent = drop_silent_containers(arrays, label)
    running_p = None
    if running is not None:
        running_p = np.array([np.nan if running.get(str(unit)) is None else running[str(unit)] for unit in arrays["unit_id"]])
    arrays, selection = select_cells(arrays, label, cells, running_p, "p_run_mod_ns" if running is not None else None)
    selection = {**pooling, **silent, **selection}
    trials, stimuli, n_cells = arrays["responses"].shape
    containers, counts = np.unique(arrays["container_id"], return_counts=True)
    options = dict(metadata["options"], **({"sessions": movie_sessions} if movie_sessions else {}))
    described = {
        **{key: metadata[key] for key in ("stimulus", "area", "depth", "cre_line", "signal")},
        "options": options, "recordings": n_recordings, "trials": trials, "stimuli": stimuli, "cells": n_cells,
        "containers": len(containers),
        "cells_per_container": {str(container): int(count) for container, count in zip(containers.tolist(), counts)},
        "selection": selection,
    }  # fmt: skip
    return arrays, described


def write_population(path: Path, arrays: dict[str, np.ndarray], metadata: dict) -> None:
    write_npz(path, arrays)
    partial = sidecar(path).with_name(sidecar(path).name + ".partial")
    partial.write_text(json.dumps(metadata, indent=1))
    partial.replace(sidecar(path))


def read_metadata(path: Path) -> dict:
    """A population's description (its JSON sidecar), without loading its tensors."""
    return json.loads(sidecar(path).read_text())

"""Response tensors from one experiment's traces and stimulus table (numpy only).

Runs in the AllenSDK environment (numpy 1.23) as well as the main one, so it sticks to numpy
features both have.
"""

from __future__ import annotations

import numpy as np

from .seeds import labelled_rng
from .splits import half_means, random_splits


def scene_responses(
    trace: np.ndarray,
    frame: np.ndarray,
    start: np.ndarray,
    end: np.ndarray,
    n_images: int,
    window: str = "trial_start",
    window_frames: int = 15,
    statistic: str = "sum",
    blanks: str = "drop",
) -> np.ndarray:
    """natural_scenes: trials × images × cells (× images + 1 with the blank kept, as the last).

    A trial's response is the sum (or mean) of ``trace`` over ``window_frames`` acquisition
    frames from the trial's start frame (``window="trial_start"``, the reference's 15 frames,
    ≈ 0.5 s, which overlaps the next image) or over the presentation's own [start, end)
    (``window="presentation"``). ``frame`` is the image shown per presentation, -1 for the blank;
    trial k of an image is its k-th presentation in time. Images shown unequally often keep their
    first ``min(count)`` trials.
    """
    if window not in ("trial_start", "presentation"):
        raise ValueError(f"natural_scenes.window: {window!r} is not 'trial_start' or 'presentation'")
    if statistic not in ("sum", "mean"):
        raise ValueError(f"natural_scenes.statistic: {statistic!r} is not 'sum' or 'mean'")
    if blanks not in ("drop", "keep"):
        raise ValueError(f"natural_scenes.blanks: {blanks!r} is not 'drop' or 'keep'")
    order = np.argsort(start, kind="stable")
    frame = np.asarray(frame)[order].astype(int)
    start, end = np.asarray(start)[order].astype(int), np.asarray(end)[order].astype(int)
    # The blank, when kept, is condition n_images.
    condition = np.where(frame < 0, n_images if blanks == "keep" else -1, frame)
    shown = condition >= 0
    condition, start, end = condition[shown], start[shown], end[shown]
    n_conditions = n_images + (blanks == "keep")
    counts = np.bincount(condition, minlength=n_conditions)
    if counts.min() == 0:
        raise ValueError(f"natural_scenes: conditions {np.flatnonzero(counts == 0).tolist()} are never shown")
    stop = start + window_frames if window == "trial_start" else end
    if np.any(stop <= start):
        raise ValueError("natural_scenes: a presentation has no frames in its window")
    if stop.max() > trace.shape[1]:
        raise ValueError(f"natural_scenes: a window runs past the trace's {trace.shape[1]} frames")
    cumulative = np.concatenate([np.zeros((trace.shape[0], 1)), np.cumsum(trace, axis=1, dtype=np.float64)], axis=1)
    windowed = cumulative[:, stop] - cumulative[:, start]  # cells × presentations
    if statistic == "mean":
        windowed = windowed / (stop - start)
    n_trials = int(counts.min())
    responses = np.empty((n_trials, n_conditions, trace.shape[0]))
    for index in range(n_conditions):
        responses[:, index, :] = windowed[:, condition == index][:, :n_trials].T
    return responses


def movie_responses(
    trace: np.ndarray,
    frame: np.ndarray,
    start: np.ndarray,
    n_frames: int,
    segment_frames: int,
    latency_frames: int = 0,
) -> np.ndarray:
    """natural_movie_one: repeats × segments × cells.

    The response to a movie frame is the trace ``latency_frames`` after the frame's start frame;
    repeats are consecutive runs of ``n_frames`` presentations in time; segment s is the mean over
    movie frames [s·segment_frames, (s+1)·segment_frames) (the reference's 60 segments of 15).
    """
    if n_frames % segment_frames:
        raise ValueError(f"natural_movie_one: {n_frames} frames do not split into {segment_frames}-frame segments")
    order = np.argsort(start, kind="stable")
    frame, start = np.asarray(frame)[order].astype(int), np.asarray(start)[order].astype(int)
    n_repeats = len(frame) // n_frames
    if n_repeats == 0 or len(frame) % n_frames:
        raise ValueError(f"natural_movie_one: {len(frame)} presentations are not whole repeats of {n_frames} frames")
    expected = np.tile(np.arange(n_frames), n_repeats)
    if not np.array_equal(frame, expected):
        raise ValueError("natural_movie_one: repeats do not show frames 0..n-1 in order")
    read_at = start + latency_frames
    if read_at.min() < 0 or read_at.max() >= trace.shape[1]:
        raise ValueError(f"natural_movie_one: a latency of {latency_frames} frames reads outside the trace")
    values = trace[:, read_at].T.reshape(n_repeats, n_frames, trace.shape[0])
    return values.reshape(n_repeats, n_frames // segment_frames, segment_frames, -1).mean(axis=2)


def segment_of_frame(n_frames: int, segment_frames: int) -> np.ndarray:
    """Segment index of each movie frame: the grouping the model stage averages features over."""
    return np.arange(n_frames) // segment_frames


def pool_cells(tensors: list[np.ndarray]) -> np.ndarray:
    """Several recordings' trials × stimuli × cells side by side, each cut to the trials all have."""
    n_trials = min(tensor.shape[0] for tensor in tensors)
    return np.concatenate([tensor[:n_trials] for tensor in tensors], axis=2)


def split_half_reliability(responses: np.ndarray, n_splits: int, rng: np.random.Generator) -> np.ndarray:
    """Spearman–Brown-corrected split-half reliability of each cell: (trials × stimuli × cells) → (cells,).

    For each random split of the trials (drawn per stimulus), the Pearson r across stimuli between
    the two halves' mean responses; r is averaged over splits and corrected to the full trial
    count's reliability, 2r / (1 + r). A cell with no variance in a half gets r = 0 for that split.
    """
    total = np.zeros(responses.shape[2])
    for order in random_splits(rng, n_splits, *responses.shape[:2]):
        a, b = half_means(responses, order)
        a = a - a.mean(axis=0)
        b = b - b.mean(axis=0)
        norm = np.sqrt((a * a).sum(axis=0) * (b * b).sum(axis=0))
        total += np.divide((a * b).sum(axis=0), norm, out=np.zeros_like(norm), where=norm > 0)
    r = total / n_splits
    return 2 * r / (1 + r)


def select_cells(
    arrays: dict, population: str, options: dict, running_p: np.ndarray | None, running_statistic: str | None
) -> tuple[dict, dict]:
    """Apply the ``cells`` options to a pooled population: (kept arrays, record of each step).

    ``arrays`` holds ``responses`` (trials × stimuli × cells) and per-cell arrays. ``running_p``
    is each cell's running-modulation p-value where the data source has one (NaN where a cell
    has none), else None.
    """
    cells = options["cells"]
    n_cells = arrays["responses"].shape[2]
    keep = np.ones(n_cells, dtype=bool)
    record = {"cells_recorded": n_cells}
    threshold = cells["reliability_threshold"]
    if threshold is not None:
        rng = labelled_rng(options["seed"], "reliability", population)
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

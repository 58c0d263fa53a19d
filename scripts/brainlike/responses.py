"""Response tensors from one experiment's traces and stimulus table (numpy only).

Runs in the AllenSDK environment (numpy 1.23): pooling and cell selection, which run in the main
environment, are in brainlike.populations.
"""

from __future__ import annotations

import numpy as np



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

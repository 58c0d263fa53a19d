"""Response tensors from one experiment's traces and stimulus table (numpy only).

Runs in the AllenSDK environment (numpy 1.23) as well as the main one, so it sticks to numpy
features both have.
"""

from __future__ import annotations

import numpy as np


def scene_responses(trace: np.ndarray, frame: np.ndarray, start: np.ndarray, n_images: int, window: int) -> np.ndarray:
    """natural_scenes: trials × images × cells, each the sum of ``trace`` over ``window`` frames
    from the trial's start frame (the reference's 15 frames, ≈ 0.5 s).

    ``frame`` is the image shown per presentation (-1 = blank, dropped); trial k of an image is
    its k-th presentation in time. Images shown unequally often keep their first
    ``min(count)`` trials.
    """
    order = np.argsort(start, kind="stable")
    frame, start = np.asarray(frame)[order].astype(int), np.asarray(start)[order].astype(int)
    shown = frame >= 0
    frame, start = frame[shown], start[shown]
    counts = np.bincount(frame, minlength=n_images)
    if counts.min() == 0:
        raise ValueError(f"natural_scenes: images {np.flatnonzero(counts == 0).tolist()} are never shown")
    n_trials = int(counts.min())
    if start.max() + window > trace.shape[1]:
        raise ValueError(f"natural_scenes: a {window}-frame window runs past the trace's {trace.shape[1]} frames")
    cumulative = np.concatenate([np.zeros((trace.shape[0], 1)), np.cumsum(trace, axis=1, dtype=np.float64)], axis=1)
    windowed = cumulative[:, start + window] - cumulative[:, start]  # cells × presentations
    responses = np.empty((n_trials, n_images, trace.shape[0]))
    for image in range(n_images):
        responses[:, image, :] = windowed[:, frame == image][:, :n_trials].T
    return responses


def movie_responses(
    trace: np.ndarray, frame: np.ndarray, start: np.ndarray, n_frames: int, segment_frames: int
) -> np.ndarray:
    """natural_movie_one: repeats × segments × cells.

    The response to a movie frame is the trace at the frame's start; repeats are consecutive runs
    of ``n_frames`` presentations in time; segment s is the mean over movie frames
    [s·segment_frames, (s+1)·segment_frames) (the reference's 60 segments of 15 frames).
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
    values = trace[:, start].T.reshape(n_repeats, n_frames, trace.shape[0])
    return values.reshape(n_repeats, n_frames // segment_frames, segment_frames, -1).mean(axis=2)


def segment_of_frame(n_frames: int, segment_frames: int) -> np.ndarray:
    """Segment index of each movie frame: the grouping the model stage averages features over."""
    return np.arange(n_frames) // segment_frames

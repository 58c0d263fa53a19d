"""Response tensors from one recording's traces (2-photon) or spike times (Neuropixels) and its
stimulus table (numpy only).

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
    start, end = np.asarray(start).astype(int), np.asarray(end).astype(int)
    stop = start + window_frames if window == "trial_start" else end
    if np.any(stop <= start):
        raise ValueError("natural_scenes: a presentation has no frames in its window")
    if stop.max() > trace.shape[1]:
        raise ValueError(f"natural_scenes: a window runs past the trace's {trace.shape[1]} frames")
    cumulative = np.concatenate([np.zeros((trace.shape[0], 1)), np.cumsum(trace, axis=1, dtype=np.float64)], axis=1)
    windowed = cumulative[:, stop] - cumulative[:, start]  # cells × presentations
    if statistic == "mean":
        windowed = windowed / (stop - start)
    return trials_by_image(windowed, frame, start, n_images, blanks)


def scene_spike_counts(
    spike_times: list[np.ndarray], frame: np.ndarray, onset: np.ndarray, n_images: int, window_s: tuple[float, float],
    blanks: str = "drop",
) -> np.ndarray:  # fmt: skip
    """natural_scenes from spikes: trials × images × units of spike counts in [onset + window_s[0],
    onset + window_s[1]) (seconds), trials arranged as in ``scene_responses``."""
    low, high = window_s
    if not high > low:
        raise ValueError(f"natural_scenes window {list(window_s)} s is empty: its end must be after its start")
    onset = np.asarray(onset, dtype=np.float64)
    counts = window_counts(spike_times, onset + low, onset + high)
    return trials_by_image(counts, frame, onset, n_images, blanks)


def window_counts(spike_times: list[np.ndarray], start: np.ndarray, stop: np.ndarray) -> np.ndarray:
    """units × windows: each unit's spikes in every [start, stop) (seconds; spike times sorted)."""
    counts = np.empty((len(spike_times), len(start)))
    for unit, times in enumerate(spike_times):
        counts[unit] = np.searchsorted(times, stop, side="left") - np.searchsorted(times, start, side="left")
    return counts


def trials_by_image(
    values: np.ndarray, frame: np.ndarray, start: np.ndarray, n_images: int, blanks: str = "drop"
) -> np.ndarray:
    """cells × presentations → trials × images × cells (+ the blank as the last image if kept).

    ``frame`` is the image shown per presentation, -1 for the blank; trial k of an image is its
    k-th presentation in time (``start``). Images shown unequally often keep their first
    ``min(count)`` trials.
    """
    if blanks not in ("drop", "keep"):
        raise ValueError(f"natural_scenes.blanks: {blanks!r} is not 'drop' or 'keep'")
    order = np.argsort(start, kind="stable")
    frame, values = np.asarray(frame)[order].astype(int), np.asarray(values)[:, order]
    # The blank, when kept, is condition n_images.
    condition = np.where(frame < 0, n_images if blanks == "keep" else -1, frame)
    shown = condition >= 0
    condition, values = condition[shown], values[:, shown]
    n_conditions = n_images + (blanks == "keep")
    counts = np.bincount(condition, minlength=n_conditions)
    if counts.min() == 0:
        raise ValueError(f"natural_scenes: conditions {np.flatnonzero(counts == 0).tolist()} are never shown")
    n_trials = int(counts.min())
    responses = np.empty((n_trials, n_conditions, values.shape[0]))
    for index in range(n_conditions):
        responses[:, index, :] = values[:, condition == index][:, :n_trials].T
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
    start = np.asarray(start).astype(int)
    read_at = start + latency_frames
    if read_at.min() < 0 or read_at.max() >= trace.shape[1]:
        raise ValueError(f"natural_movie_one: a latency of {latency_frames} frames reads outside the trace")
    return segment_means(trace[:, read_at], frame, start, n_frames, segment_frames)


def movie_spike_counts(
    spike_times: list[np.ndarray], frame: np.ndarray, start: np.ndarray, stop: np.ndarray, n_frames: int,
    segment_frames: int,
) -> np.ndarray:  # fmt: skip
    """natural_movie_one from spikes: repeats × segments × units, each movie frame's spike count
    over its own presentation [start, stop) (seconds), averaged over the segment's frames."""
    return segment_means(window_counts(spike_times, np.asarray(start), np.asarray(stop)), frame, start, n_frames, segment_frames)


def segment_means(
    values: np.ndarray, frame: np.ndarray, start: np.ndarray, n_frames: int, segment_frames: int
) -> np.ndarray:
    """cells × frame presentations → repeats × segments × cells.

    Repeats are consecutive runs of ``n_frames`` presentations in time (``start``), each showing
    frames 0..n-1 in order; segment s is the mean over movie frames [s·segment_frames,
    (s+1)·segment_frames).
    """
    if n_frames % segment_frames:
        raise ValueError(f"natural_movie_one: {n_frames} frames do not split into {segment_frames}-frame segments")
    order = np.argsort(start, kind="stable")
    frame, values = np.asarray(frame)[order].astype(int), np.asarray(values)[:, order]
    n_repeats = len(frame) // n_frames
    if n_repeats == 0 or len(frame) % n_frames:
        raise ValueError(f"natural_movie_one: {len(frame)} presentations are not whole repeats of {n_frames} frames")
    if not np.array_equal(frame, np.tile(np.arange(n_frames), n_repeats)):
        raise ValueError("natural_movie_one: repeats do not show frames 0..n-1 in order")
    per_frame = values.T.reshape(n_repeats, n_frames, values.shape[0])
    return per_frame.reshape(n_repeats, n_frames // segment_frames, segment_frames, -1).mean(axis=2)

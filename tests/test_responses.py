"""Response tensors equal values computed by hand from the raw traces and stimulus tables."""

import h5py
import numpy as np
import pytest
from conftest import small_config

from brainlike.responses import movie_responses, scene_responses


def raw_experiment(cache, experiment_id):
    """Events and stimulus tables read straight from the files, without allensdk."""
    events = np.load(cache / "ophys_experiment_events" / f"{experiment_id}_events.npz")["ev"].astype(np.float64)
    tables = {}
    with h5py.File(cache / "ophys_experiment_data" / f"{experiment_id}.nwb", "r") as nwb:
        for stimulus in ("natural_scenes", "natural_movie_one"):
            group = nwb[f"stimulus/presentation/{stimulus}_stimulus"]
            tables[stimulus] = (group["data"][()].astype(int), group["frame_duration"][()].astype(int))
    return events, tables


@pytest.fixture(scope="module")
def population(workflow_run):
    results = workflow_run / "results"
    # Read once: an npz file unpacks an array again at each lookup (the scene loop makes thousands).
    scenes = dict(np.load(results / "responses" / "natural_scenes" / "VISp" / "175.npz"))
    movie = dict(np.load(results / "responses" / "natural_movie_one" / "VISp" / "175.npz"))
    return results / "embedded" / "cache", scenes, movie


def test_scene_responses_are_15_frame_event_sums_by_hand(population):
    cache, scenes, _movie = population
    window = small_config()["responses"]["natural_scenes"]["window_frames"]
    for experiment_id in np.unique(scenes["experiment_id"]):
        events, tables = raw_experiment(cache, experiment_id)
        frames, durations = tables["natural_scenes"]
        cells = scenes["experiment_id"] == experiment_id
        seen = {}
        for frame, (start, _end) in zip(frames, durations):
            if frame < 0:
                continue
            trial = seen.get(frame, 0)
            seen[frame] = trial + 1
            expected = sum(events[:, start + offset] for offset in range(window))
            np.testing.assert_allclose(scenes["responses"][trial, frame, cells], expected, rtol=1e-12, atol=1e-9)
    assert scenes["responses"].shape[:2] == (small_config()["embedded"]["scene_trials"], 118)


def test_movie_responses_are_segment_means_of_frame_starts_by_hand(population):
    cache, _scenes, movie = population
    segment = small_config()["responses"]["natural_movie_one"]["segment_frames"]
    experiment_id = np.unique(movie["experiment_id"])[0]
    events, tables = raw_experiment(cache, experiment_id)
    frames, durations = tables["natural_movie_one"]
    cells = movie["experiment_id"] == experiment_id
    for repeat in range(movie["responses"].shape[0]):
        for index in (0, 17, 59):
            starts = [durations[repeat * 900 + frame, 0] for frame in range(index * segment, (index + 1) * segment)]
            assert all(frames[repeat * 900 + f] == f for f in range(index * segment, (index + 1) * segment))
            expected = np.mean([events[:, start] for start in starts], axis=0)
            np.testing.assert_allclose(movie["responses"][repeat, index, cells], expected, rtol=1e-12, atol=1e-9)


def test_population_keeps_each_cells_container(population):
    _cache, scenes, movie = population
    for data in (scenes, movie):
        assert len(data["container_id"]) == data["responses"].shape[2] == len(data["unit_id"])
        # Cell ids are experiment id × 1000 + index in the generator: the container follows.
        assert len(np.unique(data["container_id"])) == small_config()["embedded"]["containers_per_population"]


def test_scene_responses_drop_blanks_and_keep_common_trials():
    trace = np.arange(40, dtype=float)[None, :]  # one cell, value = frame index
    frame = np.array([0, -1, 1, 0, 1, 0])
    start = np.array([0, 5, 10, 15, 20, 25])
    responses = scene_responses(trace, frame, start, start + 4, n_images=2, window_frames=3)
    # Image 0 shown 3 times, image 1 twice: 2 trials each; sum of frames s, s+1, s+2 = 3s + 3.
    np.testing.assert_array_equal(responses[:, :, 0], [[3, 33], [48, 63]])


def test_scene_responses_reject_a_window_past_the_trace():
    with pytest.raises(ValueError, match="runs past the trace"):
        scene_responses(np.zeros((1, 10)), np.array([0]), np.array([8]), np.array([9]), n_images=1, window_frames=3)


def test_movie_responses_reject_partial_repeats_and_bad_segments():
    trace = np.zeros((1, 100))
    with pytest.raises(ValueError, match="not whole repeats"):
        movie_responses(trace, np.arange(5), np.arange(5), n_frames=4, segment_frames=2)
    with pytest.raises(ValueError, match="do not split"):
        movie_responses(trace, np.arange(4), np.arange(4), n_frames=4, segment_frames=3)

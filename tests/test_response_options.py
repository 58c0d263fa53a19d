"""Every response and cell-selection option against values computed by hand from the raw files."""

import copy
import json
import subprocess

import h5py
import numpy as np
import pytest
from conftest import ALLENSDK_PYTHON, default_config

from brainlike.embedded_cache import generate
from brainlike.populations import population
from brainlike.recordings import read_recordings

AREA, DEPTH = "VISp", 175


def options(**changes) -> dict:
    config = default_config()
    result = {**copy.deepcopy(config["responses"]), "cells": dict(config["cells"], min_cells=1), "seed": 3}
    for path, value in changes.items():
        *parents, leaf = path.split("__")
        node = result
        for parent in parents:
            node = node[parent]
        node[leaf] = value
    return result


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    """Three sessions per container, matched cells, undriven and running-modulated cells."""
    config = default_config()
    embedded = dict(
        config["embedded"],
        areas={AREA: {"layer": "_blocks.2", "noise": 0.3}},
        depths=[DEPTH],
        containers_per_population=2,
        cells_per_experiment=30,
        matched_cells=10,
        unreliable_fraction=0.3,
        running_modulated_fraction=0.2,
        sessions=["three_session_A", "three_session_B", "three_session_C"],
        scene_trials=6,
        movie_repeats=3,
        scene_template_shape=[48, 60],
        movie_template_shape=[24, 48],
    )
    models = copy.deepcopy(config["models"])
    models["efficientnet_lite0"]["input"]["size"] = 64
    out = tmp_path_factory.mktemp("options") / "embedded"
    generate(embedded, config["data"]["cre_line"], models, out)
    return out


def allensdk(*args: str) -> None:
    result = subprocess.run([str(ALLENSDK_PYTHON), "-m", "brainlike.allen_data", *args], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-3000:]


def run(cache, tmp_path, stimulus, opts):
    """The data stage as the workflow runs it: AllenSDK reads the recordings (its environment), then
    the population is pooled and its cells selected (this one)."""
    out = tmp_path / f"{stimulus}.npz"
    manifest = str(cache / "cache/manifest.json")
    population_args = ["--manifest", manifest, "--cre-line", "Cux2-CreERT2", "--area", AREA, "--depth", str(DEPTH)]
    reading = {"signal": opts["signal"], **{k: v for k, v in opts[stimulus].items() if k != "sessions"}}
    allensdk("recordings", *population_args, "--stimulus", stimulus, "--options", json.dumps(reading), "--out", str(out))
    running = None
    if opts["cells"]["exclude_running_modulated"] and stimulus == "natural_scenes":
        allensdk("running-modulation", *population_args, "--out", str(tmp_path / "running.json"))
        running = json.loads((tmp_path / "running.json").read_text())
    recordings, metadata = read_recordings(out)
    sessions = opts["natural_movie_one"]["sessions"] if stimulus == "natural_movie_one" else None
    arrays, described = population(recordings, metadata, {**opts["cells"], "seed": opts["seed"]}, sessions, running)
    return arrays | {"metadata": described}


def raw(cache, experiment_id, signal="events"):
    """(cell ids, trace, {stimulus: (frame, start, end)}) straight from the files, no allensdk."""
    with h5py.File(cache / "cache/ophys_experiment_data" / f"{experiment_id}.nwb", "r") as nwb:
        ids = nwb["processing/brain_observatory_pipeline/ImageSegmentation/cell_specimen_ids"][()]
        trace = nwb["processing/brain_observatory_pipeline/DfOverF/imaging_plane_1/data"][()].astype(np.float64)
        tables = {}
        for stimulus in nwb["stimulus/presentation"]:
            group = nwb[f"stimulus/presentation/{stimulus}"]
            duration = group["frame_duration"][()].astype(int)
            tables[stimulus.removesuffix("_stimulus")] = (group["data"][()].astype(int), duration[:, 0], duration[:, 1])
    if signal == "events":
        trace = np.load(cache / "cache/ophys_experiment_events" / f"{experiment_id}_events.npz")["ev"].astype(np.float64)
    return ids, trace, tables


def hand_scenes(cache, data, signal="events", window="trial_start", frames=15, statistic="sum", blanks="drop"):
    """Expected trials × conditions × cells, one presentation at a time."""
    expected = np.full(data["responses"].shape, np.nan)
    for experiment_id in np.unique(data["experiment_id"]):
        ids, trace, tables = raw(cache, experiment_id, signal)
        frame, start, end = tables["natural_scenes"]
        columns = np.flatnonzero(data["experiment_id"] == experiment_id)
        rows = [list(ids).index(cell) for cell in data["unit_id"][columns]]
        seen = {}
        for shown, first, last in zip(frame, start, end):
            condition = 118 if shown < 0 else shown
            if shown < 0 and blanks == "drop":
                continue
            trial = seen.get(condition, 0)
            seen[condition] = trial + 1
            if trial >= expected.shape[0]:
                continue
            stop = first + frames if window == "trial_start" else last
            values = trace[rows, first:stop].sum(axis=1)
            expected[trial, condition, columns] = values / (stop - first) if statistic == "mean" else values
    return expected


@pytest.mark.parametrize(
    "changes",
    [
        {},
        {"natural_scenes__window": "presentation", "natural_scenes__statistic": "mean"},
        {"natural_scenes__window_frames": 4, "natural_scenes__blanks": "keep"},
        {"signal": "dff", "natural_scenes__statistic": "mean"},
    ],
    ids=["reference", "presentation-mean", "short-window-blanks-kept", "dff"],
)
def test_scene_options_match_hand_computation(cache, tmp_path, changes):
    opts = options(**changes)
    data = run(cache, tmp_path, "natural_scenes", opts)
    scenes = opts["natural_scenes"]
    assert data["responses"].shape[:2] == (6, 119 if scenes["blanks"] == "keep" else 118)
    expected = hand_scenes(cache, data, opts["signal"], scenes["window"], scenes["window_frames"],
                           scenes["statistic"], scenes["blanks"])  # fmt: skip
    np.testing.assert_allclose(data["responses"], expected, rtol=1e-10, atol=1e-9)
    assert data["metadata"]["options"] == scenes and data["metadata"]["signal"] == opts["signal"]
    assert data["metadata"]["trials"] == 6 and data["metadata"]["cells"] == data["responses"].shape[2]


def hand_movie(cache, experiment_id, cell_ids, latency, segment):
    ids, trace, tables = raw(cache, experiment_id)
    frame, start, _end = tables["natural_movie_one"]
    rows = [list(ids).index(cell) for cell in cell_ids]
    repeats = len(frame) // 900
    values = np.empty((repeats, 900 // segment, len(rows)))
    for repeat in range(repeats):
        for index in range(900 // segment):
            shown = range(repeat * 900 + index * segment, repeat * 900 + (index + 1) * segment)
            values[repeat, index] = np.mean([trace[rows, start[p] + latency] for p in shown], axis=0)
    return values


def test_movie_pooled_sessions_with_latency(cache, tmp_path):
    data = run(cache, tmp_path, "natural_movie_one", options(natural_movie_one__latency_frames=3))
    # Every session's cells: 2 containers × 3 sessions × 30 cells, matched cells counted 3 times.
    assert data["responses"].shape == (3, 60, 180)
    assert sorted(set(data["session_type"])) == ["three_session_A", "three_session_B", "three_session_C"]
    for experiment_id in np.unique(data["experiment_id"]):
        columns = data["experiment_id"] == experiment_id
        expected = hand_movie(cache, experiment_id, data["unit_id"][columns], 3, 15)
        np.testing.assert_allclose(data["responses"][:, :, columns], expected, rtol=1e-10, atol=1e-9)


def test_movie_matched_cells_counted_once_with_all_repeats(cache, tmp_path):
    data = run(cache, tmp_path, "natural_movie_one", options(natural_movie_one__sessions="matched",
                                                            natural_movie_one__segment_frames=30))  # fmt: skip
    assert data["responses"].shape == (9, 30, 20)  # 3 sessions × 3 repeats; 10 matched cells × 2 containers
    assert len(set(data["unit_id"])) == 20
    containers = json.loads((cache / "cache/experiment_containers.json").read_text())
    experiments = json.loads((cache / "cache/ophys_experiments.json").read_text())
    for container in containers:
        columns = data["container_id"] == container["id"]
        sessions = sorted((e for e in experiments if e["experiment_container_id"] == container["id"]),
                          key=lambda e: e["stimulus_name"])  # fmt: skip
        expected = np.concatenate(
            [hand_movie(cache, e["id"], data["unit_id"][columns], 0, 30) for e in sessions], axis=0
        )
        np.testing.assert_allclose(data["responses"][:, :, columns], expected, rtol=1e-10, atol=1e-9)


def test_reliability_filter_keeps_exactly_the_driven_cells(cache, tmp_path):
    truth = json.loads((cache / "truth.json").read_text())
    opts = options(cells__reliability_threshold=0.75, natural_scenes__window="presentation")
    data = run(cache, tmp_path, "natural_scenes", opts)
    everything = run(cache, tmp_path, "natural_scenes", options())
    undriven = set(truth["undriven_cells"])
    driven = {int(cell) for cell in everything["unit_id"]} - undriven
    assert 0 < len(undriven & set(everything["unit_id"].tolist())) < len(everything["unit_id"])
    assert set(data["unit_id"].tolist()) == driven
    selection = data["metadata"]["selection"]
    assert selection["reliability"]["removed"] == len(everything["unit_id"]) - len(driven)
    assert selection["cells_kept"] == len(driven)


def test_running_modulated_cells_are_excluded_where_allensdk_has_the_statistic(cache, tmp_path):
    truth = json.loads((cache / "truth.json").read_text())
    everything = run(cache, tmp_path, "natural_scenes", options())
    data = run(cache, tmp_path, "natural_scenes", options(cells__exclude_running_modulated=True))
    modulated = set(truth["running_modulated_cells"]) & set(everything["unit_id"].tolist())
    assert modulated
    assert set(data["unit_id"].tolist()) == set(everything["unit_id"].tolist()) - modulated
    assert data["metadata"]["selection"]["running_modulation"]["removed"] == len(modulated)
    movie = run(cache, tmp_path, "natural_movie_one", options(cells__exclude_running_modulated=True))
    assert movie["metadata"]["selection"]["running_modulation"]["statistic"] is None
    assert movie["responses"].shape[2] == 180


def test_too_few_cells_fails_naming_the_population(cache, tmp_path):
    with pytest.raises(ValueError, match="population natural_scenes VISp 175 µm has 60 cells .* cells.min_cells = 1000"):
        run(cache, tmp_path, "natural_scenes", options(cells__min_cells=1000))

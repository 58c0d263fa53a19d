"""Fault suite: what a user can get wrong, and what the workflow must do about it.

Every case ends in a clear error that names the key, file or value and what would be valid, or in
a logged exclusion counted in the population's record; never in a silent NaN or a changed number.
The session prints how many cases ran and passed (tests/conftest.py, ``pytest_terminal_summary``).
"""

import copy
import json
import logging
import os
import re
import shutil
import signal
import subprocess
import time
from pathlib import Path

import h5py
import numpy as np
import pandas as pd
import pytest
import torch
import yaml
from conftest import (
    copy_of_run,
    ALLENSDK_PYTHON,
    ROOT,
    SNAKEMAKE,
    default_config,
    digest,
    snakemake,
    write_config,
    write_neuropixels_index,
)

from brainlike.allen_index import CELL_METRICS_FILES, INDEX_FILES, experiment_files, population_experiments
from brainlike.embedded_cache import write_index
from brainlike.downloads import CorruptFileError, verify_events, verify_nwb
from brainlike.models import check_entry, load_model
from brainlike.own_data import population_recordings
from brainlike.populations import population
from brainlike.frame import Statistics
from brainlike.rsa import BrainRDMs, score_layers
from brainlike.weights import fit, read_state_dict

CRE_LINE = default_config()["data"]["cre_line"]
CELLS = {"reliability_threshold": None, "reliability_splits": 10, "seed": 0, "exclude_running_modulated": False,
         "running_p_threshold": 0.05, "min_cells": 2}  # fmt: skip
LITE = copy.deepcopy(default_config()["models"]["efficientnet_lite0"])
VIDEO = {"family": "two_pathway_video", "weights": {"random_seed": 0}, "pathways": {"p1": None},
         "input": {"size": 64, "frames": 15, "mean": [0.5] * 3, "std": [0.5] * 3}}  # fmt: skip


# --- Config: refused before any job runs, naming the key, the bad value and the valid ones ----------

def second_model(config, **changes):
    config["models"]["second"] = {**copy.deepcopy(LITE), "weights": {"random_seed": 5}, **changes}


CONFIG_FAULTS = [
    (lambda c: c["data"].update(source="alen"),
     "'alen' is not one of ['embedded', 'allen', 'own', 'embedded_neuropixels', 'allen_neuropixels', 'rdms']"),
    # Published RDMs: the source's block, its stimulus sets, and the metrics that need trials.
    (lambda c: c["data"].update(source="rdms"), "data.source is rdms: set data.rdms (manifest and stimuli"),
    (lambda c: c["data"].update(source="rdms", rdms={"manifest": "m.csv", "stimuli": {"natural_scenes": "s.npy"}}),
     "data.stimuli ['natural_movie_one'] are not keys of data.rdms.stimuli (['natural_scenes'])"),
    (lambda c: c["data"].update(source="rdms", stimuli=["mine"], rdms={"manifest": "m.csv", "stimuli": {"mine": "t.npz"}}),
     "data.rdms.stimuli ['mine']: an .npz stimulus set is an Allen template (results/templates/<stimulus>.npz), of natural_scenes or natural_movie_one"),
    (lambda c: c["data"].update(source="rdms", stimuli=["natural_scenes"], rdms={"manifest": "m.csv", "stimuli": {"natural_scenes": "s.npy"}})
     or c.update(metrics=["rsa", "ridge"]),
     "metrics ['rsa', 'ridge']: published RDMs (data.source: rdms) have no trials or cells for ridge or CKA; set metrics: [rsa]"),
    # The Neuropixels sources: every unit of an area is one population, read with its own options.
    (lambda c: c["data"].update(source="embedded_neuropixels"), "a Neuropixels source scores every unit of an area together; set data.depths: [all]"),
    (lambda c: c["data"].update(depths=["all"]), "'all' is for the Neuropixels sources"),
    (lambda c: c["data"].update(depths=["deep"]), "'deep' is not valid under any of the given schemas"),
    (lambda c: c["data"].update(source="embedded_neuropixels", depths=["all"]) or c["data"]["neuropixels"].update(scene_window_s=[0.3, 0.1]),
     "data.neuropixels.scene_window_s [0.3, 0.1]: the window's end must be after its start"),
    (lambda c: c["data"].update(source="embedded_neuropixels", depths=["all"]) or c["cells"].update(exclude_running_modulated=True),
     "cells.exclude_running_modulated: true reads the 2-photon cache's running-modulation statistic"),
    (lambda c: c["data"].update(source="embedded_neuropixels", depths=["all"]) or c["embedded"].pop("neuropixels"),
     "data.source is embedded_neuropixels: set embedded.neuropixels"),
    (lambda c: c["data"].update(source="allen_neuropixels", depths=["all"], offline=True),
     "data.offline is true, but the Neuropixels cache data/allen_neuropixels has no ['manifest.json', 'sessions.csv'"),
    (lambda c: c["data"].update(source="embedded_neuropixels", depths=["all"], containers={"VISp": [1]}),
     "a Neuropixels source selects sessions (mice) with data.neuropixels.sessions"),
    (lambda c: c["data"]["neuropixels"]["units"].update(presence_ratio_minimum=1.5), "1.5 is not valid under any of the given schemas"),
    (lambda c: c["statistics"].update(splits=1), "1 is less than the minimum of 2"),
    (lambda c: c.update(metrics=["rsa", "svm"]), "'svm' is not one of ['rsa', 'ridge', 'cka']"),
    (lambda c: c.update(metrics=[]), "[] should be non-empty"),
    (lambda c: c["encoding"].update(alphas=[1, -1]), "-1 is less than or equal to the minimum of 0"),
    (lambda c: c["encoding"].update(folds=1), "1 is less than the minimum of 2"),
    (lambda c: c["encoding"].update(device="gpu"), "'gpu' is not valid under any of the given schemas"),
    (lambda c: c["statistics"].update(splits="100"), "'100' is not of type 'integer'"),
    (lambda c: c["data"].update(areas=["VISp", "V-1"]), "'V-1' does not match"),
    (lambda c: c["data"].update(areas=["VISp", "VISrl"]), "ask for areas ['VISrl']"),
    (lambda c: c["data"].update(depths=[175, 500]), "and depths [500] that embedded does not generate"),
    (lambda c: c["data"].update(stimuli=["gratings"]), "the Brain Observatory stimuli are natural_scenes and"),
    (lambda c: c["data"].update(source="own"), "data.source is own: set data.own"),
    (lambda c: c["data"].update(containers={"VISrl": None}), "data.containers lists areas ['VISrl']"),
    (lambda c: c.update(modalities={"a": {}, "b": {"results": "results/a"}}),
     "modalities: results folder(s) ['results/a'] belong to more than one entry"),
    (lambda c: c.update(modalities={"two-photon": {}}), "'two-photon' does not match"),
    (lambda c: c["models"]["efficientnet_lite0"].pop("input"), "'input' is a required property"),
    (lambda c: c["responses"]["natural_movie_one"].update(segment_frames=7), "7 is not one of"),
    (lambda c: c["embedded"].update(source_model="resnet"), "embedded.source_model: 'resnet' is not a model"),
    (lambda c: c.update(extra_key=1), "Additional properties are not allowed ('extra_key' was unexpected)"),
    (lambda c: c["rsa"].update(distance="cosine"), "'cosine' is not one of ['correlation', 'euclidean']"),
    (lambda c: c["rsa"].update(comparison="cosine"), "'cosine' is not one of ['tau-a', 'tau-b', 'spearman', 'pearson']"),
    (lambda c: c["rsa"].update(spearman_brown=True), "rsa.spearman_brown: true corrects correlation-based ceilings"),
    (lambda c: c["rsa"].update(permutations=50, seed=3),
     "config keys moved: rsa.seed is now statistics.seed; rsa.permutations is now statistics.permutations"),
    (lambda c: c["statistics"].update(ceiling_max_se=0.08),
     "config keys moved: statistics.ceiling_max_se is now statistics.ceiling_squared_max_se, a limit on the standard error"),
    (lambda c: c["statistics"].update(ci_level=1.5), "1.5 is greater than or equal to the maximum of 1"),
    (lambda c: c["statistics"].update(fdr_family="animal"), "'animal' is not one of ['model_stimulus', 'stimulus', 'table']"),
    (lambda c: c["statistics"].update(device="gpu"), "'gpu' is not valid under any of the given schemas"),
    (lambda c: c["activations"].update(device="gpu"), "'gpu' does not match '^(auto|cpu|mps|cuda(:[0-9]+)?)$'"),
    # A local run's devices are looked for when it is planned, not in its first job that needs one.
    (lambda c: c["statistics"].update(device="cuda:99"),
     "statistics.device: 'cuda:99', but this machine, which runs the jobs of a local run, has"),
    (lambda c: c["activations"].update(device="cuda:99"),
     "activations.device: 'cuda:99', but this machine, which runs the jobs of a local run, has"),
    (lambda c: c["contrasts"].append(["rat", "random init"]), "contrasts[1]: ['rat', 'random init'] must name two"),
    (lambda c: c["models"]["random_lite0"].update(members={}), "should be non-empty"),
    (lambda c: c["models"].update(random_lite0_seed1=c["models"]["efficientnet_lite0"]),
     "models.random_lite0_seed1: model name 'random_lite0_seed1' is already taken"),
    (lambda c: c["models"]["efficientnet_lite0"].pop("weights"), "models.efficientnet_lite0: set weights"),
    # A second model's mistakes fail the dry run, not the run minutes later.
    (lambda c: second_model(c, pathways={"main": ["_blocks.1", "_blocks.99"]}),
     "models.second.pathways.main: no such layer(s) ['_blocks.99']"),
    (lambda c: second_model(c, pathways={"ventral": None}), "models.second.pathways.ventral: no default layers"),
    (lambda c: second_model(c, input={**LITE["input"], "size": 8}), "models.second.input: the network cannot take 8 × 8"),
    (lambda c: second_model(c, family="keras"), "'keras' is not one of"),
    (lambda c: c["models"].update(video={**VIDEO, "weights": {"checkpoint": "missing/rat1.ckpt"}}),
     "models.video.weights.checkpoint: no file missing/rat1.ckpt"),
    # A group member's mistakes name the entry that declares the group.
    (lambda c: c["models"]["random_lite0"].update(pathways={"main": ["_blocks.99"]}),
     "models.random_lite0.pathways.main: no such layer(s) ['_blocks.99']; list them with `python -m brainlike.models random_lite0`"),
    (lambda c: c["models"].update(rat={**VIDEO, "members": {"checkpoints": ["missing/rat1.ckpt"]}}) or c["models"]["rat"].pop("weights"),
     "models.rat.members.checkpoints: no file missing/rat1.ckpt"),
    (lambda c: c["models"].update(video={**VIDEO, "input": {**VIDEO["input"], "size": 64}}) or c["models"]["video"]["input"].pop("frames"),
     "models.video.input.frames: two_pathway_video is a video network"),
    (lambda c: c["models"].update(own={**VIDEO, "family": "torch_module", "module": "nowhere.nets:Net",
                                       "pathways": {"main": ["conv"]}, "input": LITE["input"]}),
     "models.own.module: cannot import 'nowhere.nets:Net'"),
    (lambda c: c["models"].update(own={**VIDEO, "family": "torch_module", "pathways": {"main": ["conv"]}, "input": LITE["input"]}),
     "models.own.module: torch_module builds your own class; give its import path, package.module:Class"),
]


@pytest.mark.parametrize("change, message", CONFIG_FAULTS)
def test_bad_config_fails_before_any_job_naming_the_key(tmp_path, change, message):
    config = copy.deepcopy(default_config())
    change(config)
    write_config(tmp_path, config)
    result = snakemake(tmp_path, "-n", check=False)
    assert result.returncode != 0
    assert message in result.stdout + result.stderr, (result.stdout + result.stderr)[-3000:]
    assert not (tmp_path / "results").exists()


@pytest.mark.parametrize(
    "cre_line, depths, message",
    [
        (CRE_LINE, [175, 375], f"no experiment showing natural_scenes in a {CRE_LINE} container of VISp at 375 µm. "
                               f"VISp {CRE_LINE} containers are at depths [175, 275] µm (data.depths); VISp has "
                               f"containers of the Cre lines ['{CRE_LINE}'] (data.cre_line)"),
        ("Cux2", [175], "in a Cux2 container of VISp at 175 µm. VISp Cux2 containers are at depths [] µm (data.depths); "
                        f"VISp has containers of the Cre lines ['{CRE_LINE}'] (data.cre_line)"),
    ],
)  # fmt: skip
def test_an_allen_population_without_containers_is_named_with_what_there_is(tmp_path, cre_line, depths, message):
    cache = tmp_path / "allen"
    write_index(cache, [(1000, "VISp", 175), (2000, "VISp", 275), (3000, "VISl", 375)], CRE_LINE, ["three_session_B"])
    config = copy.deepcopy(default_config())
    config["data"].update(source="allen", allen_manifest=str(cache / "manifest.json"), areas=["VISp"], depths=depths,
                          cre_line=cre_line)  # fmt: skip
    write_config(tmp_path, config)
    result = snakemake(tmp_path, "-n", check=False)
    assert result.returncode != 0
    assert message in result.stdout + result.stderr, (result.stdout + result.stderr)[-3000:]
    assert not (tmp_path / "results").exists()


# --- Data: your own recordings --------------------------------------------------------------------

N_STIMULI = 6


def own_population(tmp_path, arrays: dict[str, np.ndarray], extra_rows: str = ""):
    """Write per-animal arrays and a manifest, read them as the recordings job does, pool them as the
    responses job does: (arrays, metadata)."""
    lines = ["animal,area,depth,stimulus,file"]
    for animal, responses in arrays.items():
        np.save(tmp_path / f"{animal}.npy", responses)
        lines.append(f"{animal},V1,100,s,{animal}.npy")
    (tmp_path / "manifest.csv").write_text("\n".join(lines) + "\n" + extra_rows)
    recordings, metadata = population_recordings(tmp_path / "manifest.csv", "V1", 100, "s", N_STIMULI, "own")
    return population(recordings, metadata, CELLS, None, None)


def responses(rng, trials=4, units=5):
    return rng.normal(size=(trials, N_STIMULI, units))


@pytest.mark.parametrize(
    "areas, sessions, message",
    [
        (["VISp", "VISl"], None, "has no VISl unit that passes the quality filters {'isi_violations_maximum': 0.5, "
                                 "'amplitude_cutoff_maximum': 0.1, 'presence_ratio_minimum': 0.95} in a session showing"),
        (["VISam"], None, "has no VISam unit that passes the quality filters"),
        (["VISp"], [1, 2], "data.neuropixels.sessions: sessions {'2': 'functional_connectivity'} do not show natural_scenes"),
    ],
)
def test_a_neuropixels_population_without_units_or_stimulus_is_named_before_any_job(tmp_path, areas, sessions, message):
    """allen_neuropixels reads the cache's tables while it plans: a population with nothing to read
    is an error then, naming the filters or the sessions, not a job that fails later."""
    write_neuropixels_index(tmp_path / "npx")
    (tmp_path / "npx" / "manifest.json").write_text("{}")
    config = default_config()
    config["data"].update(source="allen_neuropixels", depths=["all"], areas=areas)
    config["data"]["neuropixels"].update(manifest="npx/manifest.json", sessions=sessions)
    write_config(tmp_path, config)
    result = snakemake(tmp_path, "-n", check=False)
    assert result.returncode != 0
    assert message in result.stdout + result.stderr, (result.stdout + result.stderr)[-3000:]


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_non_finite_responses_name_the_file_and_the_first_place(tmp_path, bad):
    rng = np.random.default_rng(0)
    broken = responses(rng)
    broken[2, 3, 1] = bad
    with pytest.raises(ValueError, match=r"m2\.npy: 1 NaN or infinite responses \(the first at trial 2, stimulus 3, unit 1\)"):
        own_population(tmp_path, {"m1": responses(rng), "m2": broken})


def test_an_array_in_another_axis_order_is_named_with_the_fix(tmp_path):
    rng = np.random.default_rng(1)
    swapped = np.moveaxis(responses(rng, trials=4), 1, 0)  # stimuli × trials × units
    with pytest.raises(ValueError, match=r"m1\.npy: .* 6 stimuli .*got shape \(6, 4, 5\); axis 0 has 6 entries.*moveaxis\(array, 0, 1\)"):
        own_population(tmp_path, {"m1": swapped})


def test_a_manifest_row_listed_twice_is_refused(tmp_path):
    rng = np.random.default_rng(2)
    with pytest.raises(ValueError, match=r"manifest\.csv: rows \[2, 3\] .* list animal or file \['m1'\] twice"):
        own_population(tmp_path, {"m1": responses(rng)}, extra_rows="m1,V1,100,s,m1.npy\n")


def test_an_array_saved_units_stimuli_trials_is_not_cut_silently(tmp_path):
    """40 units × 6 stimuli × 24 trials has the stimuli on axis 1, so its shape passes; read as 40
    trials of 24 units, pooling would cut it to the other animal's 4 trials."""
    rng = np.random.default_rng(5)
    swapped = np.moveaxis(responses(rng, trials=24, units=40), [0, 2], [2, 0])
    with pytest.raises(ValueError, match=r"manifest\.csv: pooling would cut \['m1\.npy'\] from \[40\] trials to 4 \(the fewest, "
                                         r"in \['m2\.npy'\]\).*save np\.swapaxes\(array, 0, 2\)"):  # fmt: skip
        own_population(tmp_path, {"m1": swapped, "m2": responses(rng)})


def test_an_object_array_names_its_file(tmp_path):
    rng = np.random.default_rng(6)
    np.save(tmp_path / "m1.npy", np.array([responses(rng), None], dtype=object), allow_pickle=True)
    (tmp_path / "manifest.csv").write_text("animal,area,depth,stimulus,file\nm1,V1,100,s,m1.npy\n")
    with pytest.raises(ValueError, match=r"m1\.npy: an object \(pickled\) array, which is read only as numbers"):
        population_recordings(tmp_path / "manifest.csv", "V1", 100, "s", N_STIMULI, "own")


def test_a_depth_written_with_its_unit_is_named_as_not_a_number(tmp_path):
    rng = np.random.default_rng(7)
    np.save(tmp_path / "m1.npy", responses(rng))
    (tmp_path / "manifest.csv").write_text("animal,area,depth,stimulus,file\nm1,V1,200um,s,m1.npy\n")
    with pytest.raises(ValueError, match=r"manifest\.csv: column depth holds values that are not numbers \(\['200um'\], rows \[2\]"):
        population_recordings(tmp_path / "manifest.csv", "V1", 200, "s", N_STIMULI, "own")


def test_unequal_trial_counts_are_cut_to_the_shortest_and_recorded(tmp_path, caplog):
    rng = np.random.default_rng(3)
    with caplog.at_level(logging.WARNING):
        arrays, metadata = own_population(tmp_path, {"m1": responses(rng, trials=6), "m2": responses(rng, trials=4)})
    assert arrays["responses"].shape == (4, N_STIMULI, 10)
    assert metadata["selection"]["trials_used"] == 4 and metadata["selection"]["trials_dropped"] == 2
    assert metadata["selection"]["trials_per_recording"] == {"m1": 6, "m2": 4}
    assert "each is cut to the 4 all have" in caplog.text


def test_a_dead_unit_is_counted_and_a_dead_animal_left_out(tmp_path, caplog):
    rng = np.random.default_rng(4)
    live = responses(rng)
    live[:, :, 0] = 0.0  # a unit that never responds
    with caplog.at_level(logging.WARNING):
        arrays, metadata = own_population(tmp_path, {"m1": live, "m2": np.zeros((4, N_STIMULI, 5))})
    # The left-out animal's 5 cells are neither recorded nor constant cells of the population.
    assert metadata["selection"]["constant_cells"] == 1 and metadata["selection"]["silent_containers"] == ["m2"]
    assert metadata["selection"]["silent_container_cells"] == 5 and metadata["selection"]["cells_recorded"] == 5
    assert set(arrays["container_id"]) == {"m1"} and metadata["containers"] == 1
    assert "containers ['m2'] have no cell whose response varies; left out" in caplog.text


def test_too_few_trials_or_cells_are_refused(tmp_path):
    rng = np.random.default_rng(5)
    with pytest.raises(ValueError, match=r"m1\.npy: 1 trial; split halves need at least 2"):
        own_population(tmp_path, {"m1": responses(rng, trials=1)})
    with pytest.raises(ValueError, match=r"has 1 cells after selection .* fewer than cells.min_cells = 2"):
        own_population(tmp_path, {"m1": responses(rng, units=1)})


# --- Data: published RDMs ---------------------------------------------------------------------------

def symmetric(rng, n=N_STIMULI):
    upper_triangle = np.triu(rng.random((n, n)), k=1)
    return upper_triangle + upper_triangle.T


def with_nan(matrix):
    matrix = matrix.copy()
    matrix[1, 3] = matrix[3, 1] = np.nan
    return matrix


def asymmetric(matrix):
    matrix = matrix.copy()
    matrix[0, 2] += 0.5
    return matrix


def two_rdms(path, rng):
    from brainlike.rdm import save_rdms

    save_rdms(path, np.stack([symmetric(rng), symmetric(rng)]), {"kind": ["a", "b"]}, {}, "correlation")


def hdf5_with_nan(path, rng):
    from brainlike.rdm import save_rdms

    save_rdms(path, with_nan(symmetric(rng))[None], {"kind": ["all"]}, {}, "correlation")


RDM_FAULTS = [
    ("not square", lambda rng: rng.random((N_STIMULI, N_STIMULI - 1)), {}, "an RDM is a square stimuli × stimuli matrix, got shape (6, 5)"),
    ("not symmetric", lambda rng: asymmetric(symmetric(rng)), {}, "not symmetric: entry (0, 2) is"),
    ("NaN", lambda rng: with_nan(symmetric(rng)), {}, "2 NaN or infinite entries off the diagonal (the first at row 1, column 3)"),
    ("another set", lambda rng: symmetric(rng, N_STIMULI + 1), {}, "7 stimuli, but the stimulus set s (stimuli.npy) has 6"),
    ("order repeats", symmetric, {"order": [0, 0, 2, 3, 4, 5]}, "name each of the set's 6 stimuli (positions 0 to 5) once; it has 6 entries, repeated [0]"),
    ("order outside", symmetric, {"order": [0, 1, 2, 3, 4, 9]}, "it has 6 entries, outside the set [9]"),
    ("two RDMs", two_rdms, {}, "holds 2 RDMs; the manifest gives one per population"),
    ("NaN in hdf5", hdf5_with_nan, {}, "1 NaN or infinite dissimilarities (the first at row 1, column 3)"),
    ("no row", symmetric, {"area": "LM"}, "no row for area V1, depth 100, stimulus s (data.areas × data.depths × data.stimuli); it lists [('LM', '100', 's')]"),
    ("depth with unit", symmetric, {"depth": "100um"}, "column depth holds values that are neither numbers nor 'all' (['100um']"),
]  # fmt: skip


def write_published(folder: Path, rng, make, area="V1", depth="100", order=None) -> Path:
    """One published RDM of a 6-stimulus set ``s`` (V1, 100 µm), made by ``make``, and its manifest."""
    if make in (two_rdms, hdf5_with_nan):
        file = "rdm.hdf5"
        make(folder / file, rng)
    else:
        file = "rdm.npy"
        np.save(folder / file, make(rng))
    row = {"area": area, "depth": depth, "stimulus": "s", "file": file}
    if order is not None:
        (folder / "order.txt").write_text("\n".join(map(str, order)))
        row["stimulus_order"] = "order.txt"
    pd.DataFrame([row]).to_csv(folder / "manifest.csv", index=False)
    return folder / "manifest.csv"


@pytest.mark.parametrize("case, make, options, message", RDM_FAULTS, ids=[case[0] for case in RDM_FAULTS])
def test_an_unusable_published_rdm_is_refused_naming_its_file(tmp_path, case, make, options, message):
    from brainlike.published_rdms import check_manifest

    manifest = write_published(tmp_path, np.random.default_rng(3), make, **options)
    with pytest.raises(ValueError) as raised:
        check_manifest(manifest, [("V1", 100, "s")], {"s": (N_STIMULI, "stimuli.npy")})
    assert message in str(raised.value)
    assert str(tmp_path) in str(raised.value)  # the manifest or the RDM file, by its path


def test_a_published_rdm_is_checked_before_any_job(tmp_path):
    """The checks run while the workflow plans: a dry run fails naming the file, and nothing is written."""
    write_published(tmp_path, np.random.default_rng(3), lambda rng: asymmetric(symmetric(rng)))
    np.save(tmp_path / "stimuli.npy", np.zeros((N_STIMULI, 8, 8), np.uint8))
    config = default_config()
    config["data"].update(source="rdms", areas=["V1"], depths=[100], stimuli=["s"], cre_line="published",
                          rdms={"manifest": "manifest.csv", "stimuli": {"s": "stimuli.npy"}})  # fmt: skip
    config["metrics"] = ["rsa"]
    write_config(tmp_path, config)
    result = snakemake(tmp_path, "-n", check=False)
    assert result.returncode != 0
    assert "rdm.npy: not symmetric: entry (0, 2)" in result.stdout + result.stderr, (result.stdout + result.stderr)[-3000:]
    assert not (tmp_path / "results").exists()


def test_truncated_or_corrupt_cache_files_are_named(tmp_path):
    nwb = tmp_path / "500.nwb"
    with h5py.File(nwb, "w") as handle:
        handle.create_dataset("processing/x", data=np.zeros(1000))
    nwb.write_bytes(nwb.read_bytes()[:1500])
    with pytest.raises(CorruptFileError, match=r"500\.nwb is truncated or corrupt"):
        verify_nwb(nwb)
    events = tmp_path / "500_events.npz"
    np.savez_compressed(events, ev=np.ones((3, 100)))
    events.write_bytes(events.read_bytes()[:40])
    with pytest.raises(CorruptFileError, match=r"500_events\.npz is truncated or corrupt"):
        verify_events(events)


def population_cache(workflow_run, destination: Path, area: str, depth: int) -> None:
    """A copy of the suite's generated cache holding only one population's files."""
    source = workflow_run / "results" / "embedded" / "cache"
    destination.mkdir()
    for name in ("manifest.json", *INDEX_FILES, *CELL_METRICS_FILES):
        shutil.copy(source / name, destination / name)
    experiments = [record["id"] for record in json.loads((source / INDEX_FILES[1]).read_text())
                   if record["targeted_structure"]["acronym"] == area and record["imaging_depth"] == depth]  # fmt: skip
    for experiment in experiments:
        for path in experiment_files(source, experiment).values():
            target = destination / path.relative_to(source)
            target.parent.mkdir(exist_ok=True)
            shutil.copy(path, target)


def allen_data(*args) -> subprocess.CompletedProcess:
    return subprocess.run([str(ALLENSDK_PYTHON), "-m", "brainlike.allen_data", *map(str, args)], cwd=ROOT / "scripts",
                          capture_output=True, text=True)  # fmt: skip


def test_an_nwb_file_without_the_stimulus_its_session_shows_is_named(workflow_run, tmp_path):
    cache = tmp_path / "cache"
    population_cache(workflow_run, cache, "VISp", 175)
    experiment = population_experiments(cache, "VISp", 175, CRE_LINE, "natural_scenes", None)[0]["id"]
    nwb = experiment_files(cache, experiment)["nwb"]
    with h5py.File(nwb, "a") as handle:
        del handle["stimulus/presentation/natural_scenes_stimulus"]
        del handle["stimulus/templates/natural_movie_one_image_stack"]
    options = json.dumps({"signal": "events", **default_config()["responses"]["natural_scenes"]})
    result = allen_data("recordings", "--manifest", cache / "manifest.json", "--cre-line", CRE_LINE, "--area", "VISp",
                        "--depth", 175, "--stimulus", "natural_scenes", "--options", options, "--out", tmp_path / "r.npz")  # fmt: skip
    assert result.returncode != 0
    assert (f"MissingStimulusError: {nwb}: experiment {experiment} has no natural_scenes stimulus table "
            "(it has ['natural_movie_one'])") in result.stderr, result.stderr[-2000:]  # fmt: skip
    assert "delete it and rerun" in result.stderr and "data.containers" in result.stderr
    result = allen_data("template", "--manifest", cache / "manifest.json", "--stimulus", "natural_movie_one",
                        "--experiment", experiment, "--out", tmp_path / "t.npz")  # fmt: skip
    assert result.returncode != 0
    assert "has no natural_movie_one template (it has ['natural_scenes'])" in result.stderr, result.stderr[-2000:]
    assert not list(tmp_path.glob("*.npz*"))


# --- Models -----------------------------------------------------------------------------------------

class Tiny(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = torch.nn.Conv2d(3, 4, 3)


def test_a_checkpoint_of_another_architecture_lists_its_keys_in_the_config_words(tmp_path):
    other = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), torch.nn.Linear(2, 2))
    torch.save(other.state_dict(), tmp_path / "other.pt")
    state = read_state_dict(tmp_path / "other.pt", "models.tiny.weights.checkpoint")
    with pytest.raises(ValueError) as error:
        fit(Tiny(), state, tmp_path / "other.pt", "models.tiny.weights.checkpoint")
    message = str(error.value)
    assert message.startswith(f"models.tiny.weights.checkpoint: {tmp_path / 'other.pt'} does not fit Tiny")
    assert "missing: conv.weight, conv.bias" in message and "unexpected: 0.weight, 0.bias, 1.weight, 1.bias" in message
    wider = torch.nn.Module()
    wider.conv = torch.nn.Conv2d(3, 8, 3)
    with pytest.raises(ValueError, match=r"other shapes: conv.weight \(8, 3, 3, 3\) ≠ \(4, 3, 3, 3\)"):
        fit(Tiny(), wider.state_dict(), tmp_path / "wide.pt", "models.tiny.weights.checkpoint")


@pytest.mark.parametrize("layout", ["plain", "lightning"])
def test_a_state_dict_given_as_a_visualnet_checkpoint_says_what_one_must_hold(tmp_path, layout):
    """An ImageNet EfficientNet state dict, plain or in a Lightning layout (state_dict and
    hyper_parameters, but no VisualNet backbone), named as a two_pathway_video checkpoint."""
    state = load_model("lite", {**LITE, "weights": {"random_seed": 0}}).network.state_dict()
    path = tmp_path / "lite.ckpt"
    torch.save(state if layout == "plain" else {"state_dict": state, "hyper_parameters": {"lr": 0.1}}, path)
    entry = {**VIDEO, "weights": {"checkpoint": str(path)}}
    held = r"it holds \['_blocks" if layout == "plain" else r"its state_dict has 0 weights under network\.backbone\."
    with pytest.raises(ValueError, match=rf"models\.video\.weights\.checkpoint: .*lite\.ckpt is not a VisualNet checkpoint: {held}"
                                         r".*holds state_dict, with the weights under network\.backbone\.\*, and hyper_parameters"):  # fmt: skip
        load_model("video", entry)


class RunsCode:
    def __reduce__(self):
        import os

        return os.system, ("echo this should never run",)


def test_a_checkpoint_whose_pickle_runs_code_is_refused_naming_what_it_imports(tmp_path):
    path = tmp_path / "evil.pt"
    torch.save({"conv.weight": RunsCode()}, path)
    with pytest.raises(ValueError, match=r"models.tiny.weights.checkpoint: .*evil\.pt was refused: its pickle asks for "
                                         r"(posix|os)\.system"):  # fmt: skip
        read_state_dict(path, "models.tiny.weights.checkpoint")
    path.write_bytes(b"not a torch file")
    with pytest.raises(ValueError, match=r"evil\.pt (is not a readable torch file|was refused)"):
        read_state_dict(path, "models.tiny.weights.checkpoint")


def test_model_entries_are_checked_on_the_meta_device_without_weights():
    check_entry("lite", LITE)  # the trained network's architecture, no weights read
    with pytest.raises(ValueError, match=r"models.lite.input: the network cannot take 8 × 8 pixels"):
        check_entry("lite", {**LITE, "input": {**LITE["input"], "size": 8}})
    with pytest.raises(ValueError, match=r"models.lite.input.frames: efficientnet_lite is an image network"):
        check_entry("lite", {**LITE, "input": {**LITE["input"], "frames": 15}})
    with pytest.raises(ValueError, match=r"models.lite.family: unknown family 'keras'"):
        load_model("lite", {**LITE, "family": "keras"})


def test_zero_variance_units_give_a_flagged_layer_never_a_score():
    rng = np.random.default_rng(6)
    n = 12
    rows, columns = np.triu_indices(n, 1)
    brain_patterns = rng.normal(size=(3, n, 10))
    centred = brain_patterns - brain_patterns.mean(axis=2, keepdims=True)
    corr = np.einsum("kif,kjf->kij", centred, centred) / np.sqrt(
        np.einsum("kif,kif->ki", centred, centred)[:, :, None] * np.einsum("kjf,kjf->kj", centred, centred)[:, None, :])
    halves = (1 - corr)[:, rows, columns]
    brain = BrainRDMs({"area": "A", "depth": 0}, halves, np.empty((0, len(rows))), containers_note="", all_trials=halves.mean(axis=0))
    dead_layer = np.full((1, len(rows)), np.nan)  # every unit constant: correlation distance undefined
    settings = Statistics(seed=0, stimulus_bootstraps=5, permutations=9, ci_level=0.9, best_layer_folds=2)
    table, _ = score_layers([brain], dead_layer, np.array(["main"]), settings, "tau-a", "s")
    assert np.isnan(table[["score", "p", "ci_low_stimuli"]].to_numpy(dtype=float)).all()
    assert table["score_flag"].iloc[0].startswith("model RDM undefined")


# --- Interruption, determinism and concurrency on a real run ----------------------------------------

# What the interrupted run recomputes: every model stage and what follows it (the brain stages are
# not among the killed ones, so they stay done).
RECOMPUTED = ["activations", "rdms/models", "tau", "tables", "figures", "logs"]
# Stage killed → the rule whose job was running, and the log that shows it has started.
KILLED = {"extraction": ("extract_activations", "activations"), "RDMs": ("model_rdms", "model_rdms"),
          "table write": ("tables", "tables.log")}  # fmt: skip


def start(workdir: Path) -> subprocess.Popen:
    command = [*SNAKEMAKE, "-s", str(ROOT / "workflow" / "Snakefile"), "-d", str(workdir), "--cores", "2",
               "--rerun-incomplete"]  # fmt: skip
    return subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True)


def started_logs(log: Path) -> set[Path]:
    return {log} if log.is_file() else set(log.rglob("*.log")) if log.is_dir() else set()


def kill_once_started(run: subprocess.Popen, log: Path, before: set[Path], timeout: float = 900) -> None:
    """SIGKILL the whole run (Snakemake and its jobs) as soon as a log under ``log`` (a job's log
    file, or a folder of them) that was not in ``before`` shows that a job has started."""
    deadline = time.monotonic() + timeout
    while not started_logs(log) - before:
        if run.poll() is not None:
            raise AssertionError(f"the run ended before a job wrote {log}:\n{run.stdout.read()[-3000:]}")
        if time.monotonic() > deadline:
            os.killpg(run.pid, signal.SIGKILL)
            raise AssertionError(f"no job wrote {log} within {timeout} s")
        time.sleep(0.02)
    os.killpg(run.pid, signal.SIGKILL)
    run.wait()


def test_killed_runs_resume_to_the_same_bytes_and_a_second_run_is_refused(workflow_run, workflow_results_digest, tmp_path):
    """SIGKILL during extraction, RDMs and the table write, then rerun: what was running is planned
    again (nothing half-written counts as done) and the results equal the uninterrupted run's bit for
    bit. While a run holds the folder, a second invocation is refused by Snakemake's lock."""
    workdir = tmp_path / "run"
    copy_of_run(workflow_run, workdir)
    for folder in RECOMPUTED:
        shutil.rmtree(workdir / "results" / folder)
    logs = workdir / "results" / "logs"
    for stage, (rule, log) in KILLED.items():
        before = started_logs(logs / log)
        run = start(workdir)
        if stage == "extraction":
            time.sleep(5)  # the run has locked the folder
            # As scripts/run-workflow.sh runs it: --rerun-incomplete would redo the running jobs' outputs.
            second = snakemake(workdir, "--cores", "1", "--rerun-incomplete", check=False)
            assert second.returncode != 0 and "LockException" in second.stdout + second.stderr, second.stderr[-2000:]
        kill_once_started(run, logs / log, before)
        snakemake(workdir, "--unlock")
        planned = snakemake(workdir, "-n", "--quiet", "rules", "--rerun-incomplete").stdout
        assert re.search(rf"^{rule}\s+\d+", planned, re.MULTILINE), (stage, planned)
    # The groups' tables, which read the score table: the figures after them are the run's own test.
    snakemake(workdir, "results/tables/group_best_layers.csv", "--cores", "2", "--rerun-incomplete")
    resumed = digest(workdir / "results")
    for name in ("tables/scores.csv", "tables/scores.parquet", "tables/populations.csv", "tables/groups.csv",
                 "tables/group_best_layers.csv"):  # fmt: skip
        assert resumed[name] == workflow_results_digest[name], name


# Columns no random draw enters: the population's make-up and the all-trial between-animal bounds.
FIXED_COLUMNS = ["stimulus", "area", "depth", "model", "pathway", "layer", "layer_index", "cells", "containers",
                 "trials", "stimuli", "ceiling_lower", "ceiling_upper", "ceiling_bound_containers"]  # fmt: skip
RESAMPLED_COLUMNS = ["score", "ci_low_stimuli", "ci_high_stimuli", "ci_low_containers", "p", "best_layer_selected",
                     "ceiling_median"]  # fmt: skip


def test_changing_only_the_statistics_seed_moves_only_the_resampled_columns(workflow_run, tmp_path):
    """On the scenes (the movie's resamples draw from the same seed alike)."""
    workdir = tmp_path / "seed"
    copy_of_run(workflow_run, workdir)
    config = yaml.safe_load((workdir / "config" / "config.yaml").read_text())
    config["statistics"]["seed"] += 1
    overlay = tmp_path / "seed.yaml"
    overlay.write_text(yaml.safe_dump({"statistics": config["statistics"], "data": {"stimuli": ["natural_scenes"]}}))
    snakemake(workdir, "results/tables/scores.parquet", "--cores", "2", "--configfile", str(overlay))
    before = pd.read_parquet(workflow_run / "results" / "tables" / "scores.parquet").query("stimulus == 'natural_scenes'")
    after = pd.read_parquet(workdir / "results" / "tables" / "scores.parquet")
    pd.testing.assert_frame_equal(before[FIXED_COLUMNS].reset_index(drop=True), after[FIXED_COLUMNS])
    for column in RESAMPLED_COLUMNS:
        assert not before[column].reset_index(drop=True).equals(after[column]), column
    populations = pd.read_csv(workflow_run / "results" / "tables" / "populations.csv").query("stimulus == 'natural_scenes'")
    pd.testing.assert_frame_equal(pd.read_csv(workdir / "results" / "tables" / "populations.csv"), populations.reset_index(drop=True))


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has a GPU")
def test_a_requested_gpu_that_is_missing_is_named_with_its_key():
    from brainlike.devices import resolve

    with pytest.raises(RuntimeError, match=r"statistics.device: 'cuda', but this job's machine has 0 CUDA device\(s\).*null"):
        resolve("cuda", "statistics.device")
    with pytest.raises(RuntimeError, match=r"activations.device: 'cuda:1'.*auto or cpu"):
        resolve("cuda:1", "activations.device")
    with pytest.raises(RuntimeError, match=r"encoding.device: 'cuda'.*null \(himalaya's numpy backend on the CPU\)"):
        resolve("cuda", "encoding.device")
    assert resolve("auto", "activations.device") == "cpu" and resolve(None, "statistics.device") is None


def test_a_score_table_of_an_earlier_version_is_named_with_the_rerun_it_needs(workflow_run, tmp_path):
    """Snakemake reruns a job when its script changes, not the package the script imports, so an
    upgrade can leave score tables without a column the table rule reads (ceiling_squared_se)."""
    workdir = tmp_path / "run"
    copy_of_run(workflow_run, workdir)
    scores = workdir / "results" / "tau" / "efficientnet_lite0" / "natural_scenes.parquet"
    pd.read_parquet(scores).drop(columns="ceiling_squared_se").to_parquet(scores)
    result = snakemake(workdir, "--cores", "1", "--forcerun", "tables", "results/tables/scores.parquet", check=False)
    log = (workdir / "results" / "logs" / "tables.log").read_text()
    assert result.returncode != 0
    assert ("results/tau/efficientnet_lite0/natural_scenes.parquet: no ceiling_squared_se column (written by an earlier "
            "version of the workflow); rerun the ceilings and the scores on them: snakemake --forcerun noise_ceiling encode cka") in log  # fmt: skip

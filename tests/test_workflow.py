"""The whole workflow on a small embedded data set: planted truth recovered, numbers equal to rsatoolbox."""

import json

import numpy as np
import pandas as pd
import pytest
import zarr
from conftest import NOISE_LADDER, PLANTED, RECORDED, small_config
from rsatoolbox.data import Dataset
from rsatoolbox.rdm import RDMs, calc_rdm, compare, load_rdm

from brainlike.resampling import Continuous
from brainlike.seeds import labelled_rng
from brainlike.splits import random_splits

STIMULI = ["natural_scenes", "natural_movie_one"]
DEPTHS = [175, 275]


def load_rdms(path):
    """The workflow's RDM files read by rsatoolbox itself."""
    return load_rdm(str(path), file_type="hdf5")


@pytest.fixture(scope="module")
def table(workflow_run):
    return pd.read_parquet(workflow_run / "results" / "tables" / "scores.parquet")


def test_outputs_are_complete(workflow_run, table):
    csv = pd.read_csv(workflow_run / "results" / "tables" / "scores.csv")
    layers = len(RECORDED) + 1  # and the pixel baseline
    assert len(csv) == len(table) == len(STIMULI) * len(DEPTHS) * (len(PLANTED) + len(NOISE_LADDER) - 1) * layers
    for stimulus in STIMULI:
        for depth in DEPTHS:
            figure = workflow_run / "results" / "figures" / "rsa" / stimulus / f"{depth}um.png"
            assert figure.stat().st_size > 10_000
    assert not list((workflow_run / "results").rglob("*.partial*"))


@pytest.mark.parametrize("stimulus", STIMULI)
@pytest.mark.parametrize("area", sorted(PLANTED))
def test_best_layer_is_the_planted_one(table, stimulus, area):
    for depth in DEPTHS:
        scores = table[(table["stimulus"] == stimulus) & (table["area"] == area) & (table["depth"] == depth)]
        best = scores.loc[scores["score"].idxmax(), "layer"]
        assert scores.loc[scores["pathway"] == "pixels", "score"].iloc[0] < scores["score"].max()
        assert best == PLANTED[area], scores[["layer", "score"]].to_string()


@pytest.mark.parametrize("stimulus", STIMULI)
@pytest.mark.parametrize("area", sorted(PLANTED))
def test_inference_on_the_planted_layer(table, stimulus, area):
    permutations = small_config()["statistics"]["permutations"]
    # The movie's 60 segments take the shift test: its smallest p is 1 / (N + 1) for N shifts each way.
    smallest_p = 1 / (permutations + 1) if stimulus == "natural_scenes" else 1 / (Continuous(60).max_shift(permutations) + 1)
    for depth in DEPTHS:
        scores = table[(table["stimulus"] == stimulus) & (table["area"] == area) & (table["depth"] == depth)]
        planted = scores[scores["layer"] == PLANTED[area]].iloc[0]
        # Chosen on held-out stimuli (every time for scenes; most often for the movie, whose contiguous
        # halves differ more than random ones), far beyond chance, inside its own intervals.
        layers = scores[scores["pathway"] != "pixels"]  # the pixel baseline is a pathway of its own
        assert layers.loc[layers["best_layer_selected"].idxmax(), "layer"] == PLANTED[area]
        assert planted["best_layer_selected"] >= (1.0 if stimulus == "natural_scenes" else 0.75)
        assert planted["p"] == pytest.approx(smallest_p) and planted["q"] <= planted["p"] * 2
        assert planted["ci_low_stimuli"] < planted["score"] < planted["ci_high_stimuli"]
        assert planted["ci_low_containers"] < planted["score"] < planted["ci_high_containers"] + 0.05
        assert planted["ceiling_above_chance"]
        assert planted["noise_corrected_flag"] == ""
        assert planted["score_noise_corrected"] == pytest.approx(planted["score"] / planted["ceiling_noise_free"])


def test_between_animal_bounds_equal_rsatoolbox(workflow_run, table):
    from rsatoolbox.inference import boot_noise_ceiling

    stimulus, area, depth = "natural_scenes", "VISl", 175
    brain = load_rdms(workflow_run / "results" / "rdms" / "brain" / stimulus / area / f"{depth}.hdf5")
    containers = brain.subset("kind", "container")
    assert len(containers) == small_config()["embedded"]["containers_per_population"]
    with pytest.warns(UserWarning, match="averaged ranks"):
        lower, upper = boot_noise_ceiling(containers, method="tau-a", rdm_descriptor="index")
    row = table[(table["stimulus"] == stimulus) & (table["area"] == area) & (table["depth"] == depth)].iloc[0]
    assert row["ceiling_lower"] == pytest.approx(lower, abs=1e-12)
    assert row["ceiling_upper"] == pytest.approx(upper, abs=1e-12)


@pytest.mark.parametrize("stimulus", STIMULI)
def test_noise_ceiling_falls_as_planted_noise_rises(table, stimulus):
    for depth in DEPTHS:
        ceilings = [
            table[(table["stimulus"] == stimulus) & (table["area"] == area) & (table["depth"] == depth)][
                "ceiling_median"
            ].iloc[0]
            for area, _noise in NOISE_LADDER
        ]
        assert ceilings[0] > ceilings[1] > ceilings[2], ceilings
        assert ceilings[0] > 0.3


def test_table_describes_populations(table):
    config = small_config()["embedded"]
    assert set(table["containers"]) == {config["containers_per_population"]}
    assert set(table["cells"]) == {config["containers_per_population"] * config["cells_per_experiment"]}
    scenes = table[table["stimulus"] == "natural_scenes"]
    movie = table[table["stimulus"] == "natural_movie_one"]
    assert set(scenes["stimuli"]) == {118} and set(scenes["trials"]) == {config["scene_trials"]}
    assert set(movie["stimuli"]) == {60} and set(movie["trials"]) == {config["movie_repeats"]}
    assert set(table["comparison"]) == {"tau-a"} and set(table["distance"]) == {"correlation"}
    assert set(table["ceiling_method"]) == {"split-half tau-a"}
    assert set(table["weights"]) == {"imagenet"} and set(table["cre_line"]) == {"Cux2-CreERT2"}
    assert set(table["modality"]) == {"2-photon"}
    assert list(table.columns[:12]) == [
        "metric", "stimulus", "area", "depth", "modality", "cre_line", "model", "weights", "pathway", "layer",
        "layer_index", "score",
    ]  # fmt: skip
    for column in ("score_sd", "ci_low_stimuli", "ci_high_stimuli", "ci_low_containers", "ci_high_containers", "p", "q",
                   "best_layer_selected", "best_layer_held_out_score", "ceiling_median", "ceiling_sd", "ceiling_p",
                   "ceiling_lower", "ceiling_upper", "ceiling_above_chance", "ceiling_noise_free", "cells",
                   "containers", "stimuli", "ci_method", "p_method", "best_layer_method", "ceiling_bound_method"):  # fmt: skip
        assert table[column].notna().all(), column
    # A noise-corrected score only where the ceiling is reliably above the floor, else the reason.
    usable = table["noise_corrected_flag"] == ""
    assert table.loc[usable, "score_noise_corrected"].notna().all()
    assert table.loc[~usable, "score_noise_corrected"].isna().all()
    statistics = small_config()["statistics"]
    # Every split-half ceiling has standard errors, from halvings of the stimuli.
    assert table[["ceiling_se", "ceiling_squared_se"]].notna().all().all()
    guarded = (
        (table["ceiling_noise_free"] < statistics["ceiling_floor"]) | ~table["ceiling_above_chance"]
        | ((table[["ceiling_se", "ceiling_squared_se"]] > statistics["ceiling_squared_max_se"]).all(axis=1))
    )  # fmt: skip
    assert (~usable == guarded).all()


@pytest.mark.parametrize("stimulus", STIMULI)
def test_model_rdms_equal_rsatoolbox_on_the_zarr_store(workflow_run, stimulus):
    results = workflow_run / "results"
    store = zarr.open_group(results / "activations" / "efficientnet_lite0" / f"{stimulus}.zarr", mode="r")
    ours = load_rdms(results / "rdms" / "models" / "efficientnet_lite0" / f"{stimulus}.hdf5")
    assert list(ours.rdm_descriptors["layer"]) == ["input", *RECORDED]
    for position, (pathway, layer) in enumerate([("pixels", "input")] + [("main", layer) for layer in RECORDED]):
        patterns = np.asarray(store[f"{pathway}/{layer}"], dtype=np.float64)
        reference = calc_rdm(Dataset(patterns), method="correlation")
        np.testing.assert_allclose(ours.get_vectors()[position], reference.get_vectors()[0], rtol=0, atol=1e-10)


@pytest.mark.parametrize("stimulus", STIMULI)
def test_brain_rdms_and_taus_equal_rsatoolbox(workflow_run, table, stimulus):
    results = workflow_run / "results"
    config = small_config()
    model = load_rdms(results / "rdms" / "models" / "efficientnet_lite0" / f"{stimulus}.hdf5")
    area, depth = "VISl", 275
    population = np.load(results / "responses" / stimulus / area / f"{depth}.npz")["responses"]
    brain = load_rdms(results / "rdms" / "brain" / stimulus / area / f"{depth}.hdf5")
    # The same seed gives the same splits: recompute every half-trial RDM with rsatoolbox.
    rng = labelled_rng(config["statistics"]["seed"], stimulus, area, str(depth))
    splits = random_splits(rng, config["statistics"]["splits"], *population.shape[:2])
    half = population.shape[0] // 2
    columns = np.arange(population.shape[1])[None, :]
    halves_a = []
    for position, order in enumerate(splits):
        for label, trials in (("a", order[:half]), ("b", order[half:])):
            mean = population[trials, columns].mean(axis=0)
            reference = calc_rdm(Dataset(mean), method="correlation").get_vectors()[0]
            stored = brain.subset("kind", f"half_{label}").subset("index", position).get_vectors()[0]
            np.testing.assert_allclose(stored, reference, rtol=0, atol=1e-10)
            if label == "a":
                halves_a.append(reference)
    # τ per layer: mean over the half-trial brain RDMs of rsatoolbox's τ-a.
    taus = compare(RDMs(np.array(halves_a)), model, method="tau-a")  # halves × layers
    scores = table[(table["stimulus"] == stimulus) & (table["area"] == area) & (table["depth"] == depth)]
    np.testing.assert_allclose(scores.sort_values("layer_index")["score"], taus.mean(axis=0), rtol=0, atol=1e-10)
    # Noise ceiling: τ-a of half A against half B of each split.
    halves_b = brain.subset("kind", "half_b").get_vectors()
    ceiling = [compare(RDMs(a[None]), RDMs(b[None]), method="tau-a")[0, 0] for a, b in zip(halves_a, halves_b)]
    summary = json.loads((results / "noise_ceiling" / stimulus / area / f"{depth}.json").read_text())
    assert summary["ceiling_median"] == pytest.approx(np.median(ceiling), abs=1e-10)
    assert summary["ceiling_sd"] == pytest.approx(np.std(ceiling, ddof=1), abs=1e-10)


def test_activation_store_layout(workflow_run):
    store = zarr.open_group(
        workflow_run / "results" / "activations" / "efficientnet_lite0" / "natural_movie_one.zarr", mode="r"
    )
    layers = store.attrs["layers"]
    assert [layer["layer"] for layer in layers] == ["input", *RECORDED]
    assert [layer["index"] for layer in layers] == list(range(len(RECORDED) + 1))
    assert store.attrs["n_rows"] == 60 and store.attrs["stimulus"] == "natural_movie_one"
    for layer in layers:
        array = store[f"{layer['pathway']}/{layer['layer']}"]
        assert array.shape == (60, int(np.prod(layer["shape"])))
        assert array.dtype == np.float32


def test_rerun_has_nothing_to_do(workflow_run):
    from conftest import snakemake

    dry = snakemake(workflow_run, "-n")
    assert "Nothing to be done" in dry.stdout + dry.stderr


def test_other_distance_and_comparison_rerun_only_the_statistics(workflow_run, tmp_path):
    """rsa.distance euclidean and rsa.comparison spearman (Spearman-Brown corrected) on a copy of the run,
    for one population (the others would rerun alike): the data and activations are kept, every RDM and
    score is redone, and equals rsatoolbox."""
    from conftest import copy_of_run, snakemake, write_config

    workdir = tmp_path / "run"
    copy_of_run(workflow_run, workdir)
    config = small_config()
    config["rsa"].update(distance="euclidean", comparison="spearman", spearman_brown=True)
    config["data"].update(areas=["VISp"], depths=[175], stimuli=["natural_scenes"])
    write_config(workdir, config)
    summary = snakemake(workdir, "-n", "--quiet", "rules").stdout
    assert "extract_activations" not in summary and "responses" not in summary
    assert "model_rdms" in summary and "compare" in summary and "noise_ceiling" in summary
    snakemake(workdir, "results/tables/scores.parquet", "--cores", "2")
    results = workdir / "results"
    table = pd.read_parquet(results / "tables" / "scores.parquet")
    assert set(table["comparison"]) == {"spearman"} and set(table["distance"]) == {"squared euclidean"}
    assert set(table["ceiling_method"]) == {"split-half spearman, Spearman-Brown corrected"}
    stimulus, area, depth = "natural_scenes", "VISp", 175
    store = zarr.open_group(results / "activations" / "efficientnet_lite0" / f"{stimulus}.zarr", mode="r")
    model = load_rdms(results / "rdms" / "models" / "efficientnet_lite0" / f"{stimulus}.hdf5")
    patterns = np.asarray(store[f"main/{PLANTED[area]}"], dtype=np.float64)
    position = list(model.rdm_descriptors["layer"]).index(PLANTED[area])
    reference = calc_rdm(Dataset(patterns), method="euclidean").get_vectors()[0]
    np.testing.assert_allclose(model.get_vectors()[position], reference, rtol=1e-10)
    brain = load_rdms(results / "rdms" / "brain" / stimulus / area / f"{depth}.hdf5").subset("kind", "half_a")
    expected = compare(brain, model, method="spearman").mean(axis=0)
    scores = table[(table["stimulus"] == stimulus) & (table["area"] == area) & (table["depth"] == depth)]
    np.testing.assert_allclose(scores.sort_values("layer_index")["score"], expected, rtol=0, atol=1e-10)
    assert scores.loc[scores["score"].idxmax(), "layer"] == PLANTED[area]


def test_long_jobs_log_their_progress(workflow_run):
    logs = workflow_run / "results" / "logs"
    extraction = (logs / "activations" / "efficientnet_lite0" / "natural_scenes.log").read_text()
    assert "efficientnet_lite0: extraction: 118/118 rows (100 %)" in extraction and "rows/s, about" in extraction
    scoring = (logs / "compare" / "efficientnet_lite0" / "natural_movie_one.log").read_text()
    assert "natural_movie_one, " in scoring and "resamples (100 %)" in scoring and "left" in scoring

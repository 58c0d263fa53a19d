"""Published brain RDMs (data.source: rdms): the embedded run's own all-trial brain RDMs, exported
with rsatoolbox (one population as an .npy matrix in another row order), scored as a new source.

What must hold against the trial-level run on the same data: the relabelling p (it compares the
layer with the all-trial RDM in both) bit for bit, the best layer of every population, and each
score equal to scipy's Kendall τ of the layer's and the published RDM's pairs. The named
differences: no split-half ceiling (its flag says why), no interval across animals (no per-animal
RDMs), and a stimulus bootstrap of the one RDM, not of random half-trial RDMs.
"""

import json

import numpy as np
import pandas as pd
import pytest
from conftest import PERMUTED, PUBLISHED, digest
from scipy.stats import kendalltau

from brainlike.noise_ceiling import PUBLISHED_CEILING_NOTE
from brainlike.rdm import load_rdms
from brainlike.rsa import PUBLISHED_CONTAINERS_NOTE
from brainlike.stimuli import model_stimuli, template_count

KEY = ["stimulus", "area", "depth", "model", "pathway", "layer"]


@pytest.fixture(scope="module")
def tables(rdms_run):
    trial = pd.read_parquet(rdms_run / "results" / "tables" / "scores.parquet")
    published = pd.read_parquet(rdms_run / "results_rdms" / "tables" / "scores.parquet")
    return trial.merge(published, on=KEY, suffixes=("_trial", "_published"), validate="one_to_one"), published


def test_every_population_is_scored_and_its_p_is_the_trial_runs(tables):
    joined, published = tables
    assert len(joined) == len(published) == 6 * 7  # the planted areas at 175 µm × 2 stimuli, 7 layers (pixels, 6 blocks)
    assert (published["modality"] == "published RDM").all()
    np.testing.assert_array_equal(joined["p_trial"], joined["p_published"])


def test_each_score_is_kendalls_tau_of_the_layer_and_the_published_rdm(rdms_run, tables):
    """scipy's τ (τ-b, equal to τ-a here: neither RDM has tied pairs) of the model's layer RDM and the
    trial run's all-trial brain RDM, the one that was published (for PERMUTED, in another order)."""
    _, published = tables
    for stimulus, area, depth in [PERMUTED, ("natural_movie_one", "VISam", "175")]:
        brain = load_rdms(rdms_run / "results" / "rdms" / "brain" / stimulus / area / f"{depth}.hdf5")
        all_trials = brain.get_vectors()[np.asarray(brain.rdm_descriptors["kind"]) == "all"][0]
        model = load_rdms(rdms_run / "results_rdms" / "rdms" / "models" / "efficientnet_lite0" / f"{stimulus}.hdf5")
        rows = published[(published["stimulus"] == stimulus) & (published["area"] == area) & (published["depth"] == int(depth))]
        for layer, vector in zip(model.rdm_descriptors["layer"], model.get_vectors()):
            assert len(np.unique(vector)) == len(vector) and len(np.unique(all_trials)) == len(all_trials)
            expected = kendalltau(vector, all_trials).statistic
            assert rows.loc[rows["layer"] == layer, "score"].item() == pytest.approx(expected, abs=1e-12), (area, layer)


def best_layers(joined, column):
    best = joined.loc[joined.groupby(["stimulus", "area", "depth"])[column].idxmax()]
    return dict(zip(zip(best["stimulus"], best["area"], best["depth"]), best["layer"]))


def test_the_best_layer_of_every_population_is_the_trial_runs(tables):
    joined, _ = tables
    assert best_layers(joined, "score_published") == best_layers(joined, "score_trial")
    # The all-trial RDM is less noisy than a half-trial one: its τ is mostly above the mean over
    # halves that the trial run reports.
    difference = joined["score_published"] - joined["score_trial"]
    assert (difference > 0).mean() > 0.8


def test_what_a_published_rdm_cannot_give_is_empty_with_the_reason(tables):
    _, published = tables
    for column in ("ceiling_median", "ceiling_noise_free", "score_noise_corrected", "ci_low_containers", "score_sd"):
        assert published[column].isna().all(), column
    assert (published["noise_corrected_flag"] == PUBLISHED_CEILING_NOTE).all()
    assert (published["ci_containers_note"] == PUBLISHED_CONTAINERS_NOTE).all()
    assert published["ci_low_stimuli"].notna().all() and (published["ci_low_stimuli"] < published["ci_high_stimuli"]).all()
    assert published["cells"].isna().all() and published["trials"].isna().all()


def test_published_ceiling_bounds_are_carried_as_given(rdms_run, tables):
    _, published = tables
    stimulus, area, depth = PERMUTED
    given = json.loads((rdms_run / "results" / "noise_ceiling" / stimulus / area / f"{depth}.json").read_text())
    population = (published["stimulus"] == stimulus) & (published["area"] == area) & (published["depth"] == int(depth))
    assert (published.loc[population, "ceiling_lower"] == given["ceiling_lower"]).all()
    assert (published.loc[population, "ceiling_upper"] == given["ceiling_upper"]).all()
    assert published.loc[~population, "ceiling_lower"].isna().all()
    assert published.loc[~population, "ceiling_bound_note"].str.contains("gives no ceiling bounds").all()


def test_the_store_holds_the_published_rdm_in_the_sets_order(rdms_run):
    """The permuted .npy's rows are put back into the stimulus set's order."""
    stimulus, area, depth = PERMUTED
    stored = load_rdms(rdms_run / "results_rdms" / "rdms" / "brain" / stimulus / area / f"{depth}.hdf5")
    trial = load_rdms(rdms_run / "results" / "rdms" / "brain" / stimulus / area / f"{depth}.hdf5")
    assert list(stored.rdm_descriptors["kind"]) == ["all"]
    np.testing.assert_array_equal(stored.get_vectors()[0], trial.get_vectors()[np.asarray(trial.rdm_descriptors["kind"]) == "all"][0])
    order = np.loadtxt(rdms_run / PUBLISHED / "permuted_order.txt", dtype=int)
    assert sorted(order) == list(range(stored.n_cond)) and (order != np.arange(stored.n_cond)).mean() > 0.9


def test_the_trial_runs_results_are_untouched(rdms_run, workflow_results_digest):
    assert digest(rdms_run / "results") == workflow_results_digest


@pytest.mark.parametrize("stimulus, frames, blanks, segment_frames", [("natural_scenes", 118, "drop", None),
                                                                      ("natural_scenes", 118, "keep", None),
                                                                      ("natural_movie_one", 900, None, 15),
                                                                      ("natural_movie_one", 900, None, 30)])  # fmt: skip
def test_a_templates_stimulus_count_is_read_from_its_header(tmp_path, stimulus, frames, blanks, segment_frames):
    """The plan-time count equals the rows the stimuli job makes of the whole template."""
    path = tmp_path / "template.npz"
    np.savez(path, images=np.zeros((frames, 3, 4), np.uint8))
    made = model_stimuli(np.load(path)["images"], stimulus, blanks, segment_frames)
    assert template_count(path, stimulus, blanks, segment_frames) == len(np.unique(made["groups"]))


def test_the_manifest_is_parsed_once_per_version_of_its_file(tmp_path):
    """The plan looks up every population's row; a rewritten manifest is read anew, and a caller's
    change to the frame it got does not reach the next caller."""
    from brainlike.published_rdms import population_row, read_manifest

    path = tmp_path / "manifest.csv"
    path.write_text("area,depth,stimulus,file\nVISp,175,natural_scenes,a.npy\n")
    first = read_manifest(path)
    first.loc[0, "area"] = "changed"
    assert population_row(path, "VISp", "175", "natural_scenes")["file"] == tmp_path / "a.npy"
    path.write_text("area,depth,stimulus,file\nVISp,175,natural_scenes,bb.npy\nVISl,all,natural_scenes,c.npy\n")
    assert population_row(path, "VISp", "175", "natural_scenes")["file"] == tmp_path / "bb.npy"
    assert list(read_manifest(path)["depth"]) == [175, "all"]

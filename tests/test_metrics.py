"""Every metric end to end: the ridge and CKA rules added to a completed run by a config overlay,
their scores on the planted populations, and the tables, groups and figures that gather them."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest
import zarr
from conftest import PLANTED, metrics_config

from brainlike.cka import centred_gram, debiased_cka
from brainlike.splits import half_means, population_splits


@pytest.fixture(scope="module")
def scores(metrics_run) -> pd.DataFrame:
    return pd.read_parquet(metrics_run[0] / "results" / "tables" / "scores.parquet")


def test_adding_metrics_runs_their_jobs_and_the_gathering_ones_only(metrics_run):
    _, log = metrics_run
    assert set(re.findall(r"^(?:local)?rule (\w+):", log, re.MULTILINE)) == {
        "encode", "cka", "tables", "groups", "figure", "best_layer_figure", "interactive_figures", "provenance", "all",
    }  # fmt: skip


@pytest.mark.parametrize("metric", ["ridge", "cka"])
def test_the_planted_layer_scores_best_in_every_planted_population(scores, metric):
    rows = scores[(scores["metric"] == metric) & (scores["pathway"] == "main") & scores["area"].isin(list(PLANTED))]
    best = rows.loc[rows.groupby(["stimulus", "area", "depth"])["score"].idxmax()]
    assert len(best) == 2 * len(PLANTED) * 2
    assert (best["layer"] == best["area"].map(PLANTED)).all(), best[["stimulus", "area", "depth", "layer"]]
    assert (best["p"] <= 0.05).all() and (best["ci_low_stimuli"] > 0).all()
    assert (best["ceiling_above_chance"]).all()


def test_rsa_rows_are_the_rsa_run_s_rows(scores, workflow_run):
    """Adding metrics changes no RSA number, q included (each metric is its own FDR family)."""
    rsa = scores[scores["metric"] == "rsa"].reset_index(drop=True)
    alone = pd.read_parquet(workflow_run / "results" / "tables" / "scores.parquet")
    # Columns other metrics leave empty (e.g. the between-animal bounds' container count) turn float.
    pd.testing.assert_frame_equal(rsa[alone.columns], alone, check_dtype=False)
    assert set(scores["metric"]) == {"rsa", "ridge", "cka"}
    assert scores.groupby("metric").size().nunique() == 1


def test_a_cka_score_recomputed_from_the_job_s_inputs(metrics_run, scores):
    """The CKA of one layer with one population from the zarr store and the responses file, by the
    definition (features centred over stimuli, the mean over the population's half-trial splits)."""
    workdir, _ = metrics_run
    config = metrics_config()
    row = scores[(scores["metric"] == "cka") & (scores["stimulus"] == "natural_scenes") & (scores["area"] == "VISl")
                 & (scores["depth"] == 175) & (scores["layer"] == "_blocks.7")].iloc[0]  # fmt: skip
    store = zarr.open_group(workdir / "results/activations/efficientnet_lite0/natural_scenes.zarr", mode="r")
    features = np.asarray(store["main/_blocks.7"][:], dtype=np.float64)
    responses = np.load(workdir / "results/responses/natural_scenes/VISl/175.npz")["responses"]
    splits = population_splits(config["statistics"]["seed"], config["statistics"]["splits"], "natural_scenes", "VISl", 175,
                               *responses.shape[:2])  # fmt: skip
    per_split = [debiased_cka(centred_gram(features)[None], centred_gram(half_means(responses, order)[0])[None])[0, 0]
                 for order in splits]  # fmt: skip
    assert row["score"] == pytest.approx(np.mean(per_split), rel=1e-9)


def test_groups_and_figures_exist_for_every_metric(metrics_run, workflow_run):
    workdir, _ = metrics_run
    groups = pd.read_parquet(workdir / "results" / "tables" / "groups.parquet")
    assert set(groups["metric"]) == {"rsa", "ridge", "cka"}
    alone = pd.read_parquet(workflow_run / "results" / "tables" / "groups.parquet")
    pd.testing.assert_frame_equal(groups[groups["metric"] == "rsa"].reset_index(drop=True), alone)
    for metric in ("rsa", "ridge", "cka"):
        for stimulus in ("natural_scenes", "natural_movie_one"):
            folder = workdir / "results" / "figures" / metric / stimulus
            for name in ("175um.png", "275um_noise_corrected.png", "175um.html", "best_layers.png"):
                assert (folder / name).stat().st_size > 10_000, folder / name

"""Model groups end to end: planted group differences, the reference checkpoints' groups, both figures.

One run on a copy of the embedded run (its data jobs are reused): group "readout" holds four
sparse random projections of the generator's own network (noisy readouts of the planted layers),
group "random init" four random initialisations of the same architecture, and the reference
study's checkpoints (two of each five) as groups "rat" and "tree shrew", declared once each.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from conftest import PLANTED, REFERENCE_MEMBERS, group_config, small_config

from brainlike.depths import depth_value
from brainlike.figures.best_layers import best_layer_summary
from brainlike.figures.layers import scores_over_layers

AREAS = list(PLANTED)


@pytest.fixture(scope="module")
def tables(groups_run):
    folder = groups_run / "results" / "tables"
    tables = {name: pd.read_parquet(folder / f"{name}.parquet") for name in ("groups", "group_best_layers", "contrasts")}
    return {"tau": pd.read_parquet(folder / "scores.parquet"), **tables}


def test_the_planted_contrast_has_its_sign_and_the_smallest_p_in_every_planted_population(tables):
    contrasts = tables["contrasts"]
    readout = contrasts[contrasts["contrast"] == "readout − random init"]
    minimum = 2 / 70  # 4 vs 4 members: 70 assignments, the observed one and its mirror image
    for (stimulus, area, depth), rows in readout[readout["at"] == "layer"].groupby(["stimulus", "area", "depth"]):
        planted = rows[rows["layer"] == PLANTED[area]].iloc[0]
        assert planted["difference"] > 0 and planted["p"] == pytest.approx(minimum), (stimulus, area, depth)
        assert planted["ci_low"] > 0
    best = readout[readout["at"] == "held-out best layer"]
    assert (best["difference"] > 0).all() and np.allclose(best["p"], minimum)
    summary = readout[readout["at"] == "across populations"]
    assert len(summary) == 1  # per stimulus: the scenes
    assert (summary["favour_a"] == 6).all() and (summary["favour_b"] == 0).all()  # 3 areas × 2 depths
    assert contrasts["q"].notna().sum() == contrasts["p"].notna().sum()


def test_group_statistics_equal_pandas_over_the_tau_table(tables):
    tau, groups = tables["tau"], tables["groups"]
    members = tau[tau["model"].str.startswith("rat_")]
    members = members[~((members["pathway"] == "p2") & members["layer"].isin(["s1", "out"]))]  # shared: once
    expected = members.groupby(["stimulus", "area", "depth", "layer"])["score"].agg(["median", "mean", "std", "min", "max"])
    rat = groups[groups["group"] == "rat"].set_index(["stimulus", "area", "depth", "layer"]).loc[expected.index]
    for statistic in ("median", "mean", "min", "max"):
        np.testing.assert_allclose(rat[f"score_{statistic}"], expected[statistic], rtol=1e-12)
    # The SD of members that score alike (the pixels: one input) is a rounding residue, not exactly 0.
    np.testing.assert_allclose(rat["score_sd"], expected["std"], rtol=1e-10, atol=1e-15)
    assert set(rat["members"]) == {REFERENCE_MEMBERS}


def test_no_duplicate_rows_for_shared_layers_or_the_pixels(tables):
    groups, contrasts = tables["groups"], tables["contrasts"]
    key = ["stimulus", "area", "depth", "group", "layer"]
    assert not groups.duplicated(key).any()
    rat = groups[(groups["group"] == "rat") & (groups["area"] == "VISp") & (groups["depth"] == 175)
                 & (groups["stimulus"] == "natural_scenes")]  # fmt: skip
    assert len(rat) == 1 + 1 + 6 + 6 + 1  # pixels, s1, six blocks per pathway, out
    assert set(rat.loc[rat["layer"].isin(["s1", "out"]), "pathway"]) == {"p1+p2"}
    layer_rows = contrasts[contrasts["at"] == "layer"]
    assert not layer_rows.duplicated(["contrast", "stimulus", "area", "depth", "layer"]).any()


def test_the_group_best_layer_is_the_planted_one(tables):
    best = tables["group_best_layers"]
    readout = best[best["group"] == "readout"]
    for row in readout.itertuples():
        assert row.best_layer == PLANTED[row.area], row
    # The planted layers deepen with the areas' order (VISp, VISl, VISam): the hierarchy is perfect.
    assert (readout["hierarchy_rho"] == 1).all()


def _plotted(figure) -> dict:
    """{(panel title, series, pathway): plotted y values} of every errorbar container of a figure."""
    values = {}
    for ax in figure.axes:
        for container in ax.containers:
            series, pathway = container.get_label().split("|")
            values[(ax.get_title(), series, pathway)] = np.asarray(container.lines[0].get_data()[1]).tolist()
    return values


def test_the_reference_figure_shows_the_tables(groups_run, tables):
    tau, groups = tables["tau"], tables["groups"]
    stimulus, depth = "natural_scenes", 275
    scores = tau[(tau["stimulus"] == stimulus) & (tau["depth"] == depth)]
    at = groups[(groups["stimulus"] == stimulus) & (groups["depth"] == depth)]
    config = group_config()
    from brainlike.model_groups import expand_models

    models, members, _ = expand_models(config["models"])
    figure = scores_over_layers(scores, at, members, list(models), AREAS, {}, "test")
    plotted = _plotted(figure)
    rat = at[(at["group"] == "rat") & (at["area"] == "VISl")]
    # Every rat tensor once (the shared s1 and out, and the pixels, not once per pathway), at its median.
    shown = [y for (area, series, _), ys in plotted.items() if area == "VISl" and series == "rat" for y in ys]
    assert sorted(shown) == pytest.approx(sorted(rat["score_median"]))
    single = plotted[("VISl", "efficientnet_lite0", "main")]
    row = scores[(scores["model"] == "efficientnet_lite0") & (scores["area"] == "VISl") & (scores["pathway"] == "main")]
    assert sorted(single) == pytest.approx(sorted(row["score"]))
    for suffix in ("png", "svg"):
        for name in (f"{depth}um", f"{depth}um_noise_corrected"):
            assert (groups_run / "results" / "figures" / "rsa" / stimulus / f"{name}.{suffix}").stat().st_size > 10_000


def test_the_best_layer_figure_shows_the_tables(groups_run, tables):
    best, contrasts = tables["group_best_layers"], tables["contrasts"]
    stimulus = "natural_scenes"
    best = best[best["stimulus"] == stimulus]
    marks = contrasts[(contrasts["stimulus"] == stimulus) & (contrasts["at"] == "held-out best layer")]
    figure = best_layer_summary(best, marks, AREAS, {}, "tau-a", "test")
    plotted = _plotted(figure)
    rows = best[(best["group"] == "rat") & (best["pathway"] == "p2") & (best["depth"] == 175)]
    shown = plotted[("175 µm", "rat", "p2")]
    assert sorted(shown) == pytest.approx(sorted(rows["best_layer_score"]))
    # The filled markers are the held-out scores the axis names first.
    held_out = {line.get_label(): line.get_ydata() for ax in figure.axes[:1] for line in ax.lines}
    assert sorted(held_out["rat|p2|held-out"]) == pytest.approx(sorted(rows["best_layer_held_out_score"]))
    assert "held-out" in figure.axes[0].get_ylabel()
    texts = " ".join(text.get_text() for ax in figure.axes for text in ax.texts)
    assert "C1 main: q=" in texts and "C2 p1: q=" in texts  # C1: readout − random init, C2: rat − tree shrew
    labels = [text.get_text() for text in figure.legends[0].get_texts()]
    assert "C2: rat − tree shrew, held-out best layers, q (BH)" in labels
    for suffix in ("png", "svg"):
        assert (groups_run / "results" / "figures" / "rsa" / stimulus / f"best_layers.{suffix}").stat().st_size > 10_000


def test_the_interactive_best_layer_figure_holds_the_tables(groups_run, tables):
    best, contrasts = tables["group_best_layers"], tables["contrasts"]
    figure = json.loads((groups_run / "results" / "figures" / "rsa" / "natural_scenes" / "best_layers.plotly.json").read_text())
    best = best[best["stimulus"] == "natural_scenes"]
    traces = {(t["meta"]["group"], t["meta"]["pathway"], t["meta"]["depth"], t["meta"]["value"]): t for t in figure["data"]}
    assert len(traces) == 2 * len(best.groupby(["group", "pathway", "depth"]))
    column = {"held-out": "best_layer_held_out_score", "all stimuli": "best_layer_score"}
    for (group, pathway, depth, value), trace in traces.items():
        rows = best[(best["group"] == group) & (best["pathway"] == pathway) & (best["depth"] == depth)].set_index("area")
        assert trace["x"] == AREAS  # the config's order
        assert trace["y"] == pytest.approx(rows.loc[trace["x"], column[value]].tolist(), abs=1e-12)
        if value == "all stimuli":
            upper = rows.loc[trace["x"], "best_layer_ci_high"] - rows.loc[trace["x"], "best_layer_score"]
            assert trace["error_y"]["array"] == pytest.approx(upper.tolist(), abs=1e-12)
        for area, hover in zip(trace["x"], trace["hovertext"]):
            assert f"best layer {rows.loc[area, 'best_layer']}:" in hover
    # Each point's hover carries its group's contrast at that population, with the table's q.
    contrast = contrasts[(contrasts["stimulus"] == "natural_scenes") & (contrasts["at"] == "held-out best layer")
                         & (contrasts["area"] == "VISl") & (contrasts["depth"] == 275)].iloc[0]  # fmt: skip
    assert contrast["contrast"] == "readout − random init"
    for group in ("readout", "random init"):
        hover = traces[(group, "main", 275, "held-out")]["hovertext"][1]
        assert f"{contrast['contrast']}: difference {contrast['difference']:+.4f}, p {contrast['p']:.3g}, q {contrast['q']:.3g}" in hover


def test_the_paired_draws_are_each_models_own_interval_draws(groups_run, tables):
    """The resampled scores the groups read are the draws behind each model's own interval."""
    tau = tables["tau"]
    for model in ("random_seed1", "rat_rat2"):
        rows = tau[(tau["model"] == model) & (tau["stimulus"] == "natural_scenes")]
        with np.load(groups_run / "results" / "tau" / model / "natural_scenes.resamples.npz") as resamples:
            draws = resamples["bootstrap"]  # draws × populations × layers
            areas, depths = resamples["area"], resamples["depth"]
        level = (1 - small_config()["statistics"]["ci_level"]) / 2 * 100
        for position, (area, depth) in enumerate(zip(areas, depths)):
            at = rows[(rows["area"] == area) & (rows["depth"] == depth_value(depth))].sort_values("layer_index")
            np.testing.assert_allclose(at["ci_low_stimuli"], np.percentile(draws[:, position], level, axis=0))
            np.testing.assert_allclose(at["ci_high_stimuli"], np.percentile(draws[:, position], 100 - level, axis=0))

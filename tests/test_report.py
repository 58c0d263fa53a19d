"""Snakemake's HTML report of a complete run: every figure and table, captioned, and the provenance."""

import base64
import hashlib
import json
import re

import numpy as np
import pandas as pd
import pytest
import yaml

from brainlike.provenance import provenance_table


def _embedded(html: str, variable: str):
    """A JSON object the report assigns to a JavaScript variable."""
    start = html.index(f"var {variable} = {{") + len(f"var {variable} = ")
    return json.JSONDecoder().raw_decode(html, start)[0]


@pytest.fixture(scope="module")
def report(workflow_report):
    html = workflow_report.read_text()
    return _embedded(html, "results"), _embedded(html, "categories")


def test_the_report_is_light(workflow_report):
    """plotly.js is in it once (the page of interactive figures) and PNGs carry a palette."""
    assert workflow_report.stat().st_size <= 12_000_000


def test_the_report_holds_every_figure_and_table_with_their_bytes(workflow_run, report):
    results, categories = report
    # Every PNG, and the interactive figures on their one page (each standalone HTML file stays out:
    # it would embed plotly.js once more).
    figures = sorted(str(p.relative_to(workflow_run)) for p in (workflow_run / "results" / "figures").rglob("*.png"))
    figures.append("results/figures/interactive.html")
    tables = sorted(str(p.relative_to(workflow_run)) for p in (workflow_run / "results" / "tables").glob("*.csv"))
    provenance = ["results/provenance/config.yaml", "results/provenance/provenance.csv"]
    assert figures and len(tables) == 5
    assert sorted(results) == sorted(figures + tables + provenance)
    for name, entry in results.items():
        assert base64.b64decode(entry["data_uri"].split("base64,", 1)[1]) == (workflow_run / name).read_bytes(), name
        assert entry["caption"].strip(), f"{name} has no caption"
    assert set(categories) == {"Figures", "Tables", "Provenance"}
    assert set(categories["Figures"]) == {"rsa: natural_scenes", "rsa: natural_movie_one", "interactive"}


def test_captions_say_how_the_numbers_were_computed(workflow_run, report):
    results, _categories = report
    config = yaml.safe_load((workflow_run / "config" / "config.yaml").read_text())
    caption = results["results/figures/rsa/natural_movie_one/175um.png"]["caption"]
    assert config["rsa"]["comparison"] in caption and "natural_movie_one" in caption and "175 µm" in caption
    assert f"{config['statistics']['splits']} trial halvings" in caption and "p_method" in caption
    assert results["results/figures/rsa/natural_movie_one/175um_noise_corrected.png"]["labels"]["view"] == "noise-corrected"


def test_provenance_lists_software_recordings_and_the_config(workflow_run):
    table = pd.read_csv(workflow_run / "results" / "provenance" / "provenance.csv")
    software = dict(zip(table.loc[table["section"] == "software", "item"], table.loc[table["section"] == "software", "value"]))
    assert {"python", "snakemake", "torch", "numpy", "rsatoolbox", "zarr", "allensdk"} <= set(software)
    assert software["allensdk"][0].isdigit(), software["allensdk"]
    data = table[table["section"] == "data"]
    for sidecar in (workflow_run / "results" / "recordings").rglob("*.json"):
        if sidecar.name.endswith(".running.json"):
            continue
        population = json.loads(sidecar.read_text())
        listed = data.loc[data["item"] == f"{population['stimulus']} {population['area']} {population['depth']}", "value"]
        assert len(listed) == len(population["recordings"])
        assert all(f"experiment_id {r['experiment_id']}," in v for r, v in zip(population["recordings"], listed))
    assert table.loc[table["section"] == "workflow", "value"].iloc[0]
    written = yaml.safe_load((workflow_run / "results" / "provenance" / "config.yaml").read_text())
    config = yaml.safe_load((workflow_run / "config" / "config.yaml").read_text())
    assert written["rsa"] == config["rsa"] and written["statistics"] == config["statistics"]


def test_weight_files_are_listed_with_their_sha256(tmp_path):
    weights = tmp_path / "rat1.ckpt"
    weights.write_bytes(b"weights" * 1000)
    table = provenance_table([], {"rat_rat1": [str(weights)]}, tmp_path, None)
    row = table[table["section"] == "weights"].iloc[0]
    assert row["item"] == "rat_rat1"
    assert row["value"] == f"rat1.ckpt sha256 {hashlib.sha256(b'weights' * 1000).hexdigest()}"
    assert table.loc[table["item"] == "commit", "value"].iloc[0] == "not a git checkout"
    assert "allensdk" not in set(table["item"])


def test_interactive_figure_values_are_the_tables(workflow_run):
    results = workflow_run / "results"
    table = pd.read_parquet(results / "tables" / "scores.parquet")
    groups = pd.read_parquet(results / "tables" / "groups.parquet")
    figure = json.loads((results / "figures" / "rsa" / "natural_scenes" / "175um.plotly.json").read_text())
    traces = {(t["meta"]["view"], t["meta"]["series"], t["meta"]["area"]): t for t in figure["data"]}
    rows = table[(table["stimulus"] == "natural_scenes") & (table["depth"] == 175) & (table["area"] == "VISp")
                 & (table["model"] == "efficientnet_lite0")].sort_values("layer_index")  # fmt: skip
    for view, column in (("raw", "score"), ("noise-corrected", "score_noise_corrected")):
        trace = traces[(view, "efficientnet_lite0", "VISp")]
        assert trace["y"] == pytest.approx(rows[column].tolist(), abs=1e-12)
        assert trace["visible"] == (view == "raw")
    hover = np.array(traces[("raw", "efficientnet_lite0", "VISp")]["customdata"], dtype=float)
    assert hover[:, 2] == pytest.approx(rows["p"].to_numpy()) and hover[:, 4] == pytest.approx(rows["cells"].to_numpy())
    group = traces[("raw", "ImageNet-trained", "VISp")]
    medians = groups[(groups["stimulus"] == "natural_scenes") & (groups["depth"] == 175) & (groups["area"] == "VISp")
                     & (groups["group"] == "ImageNet-trained")]  # fmt: skip
    assert sorted(group["y"]) == pytest.approx(sorted(medians["score_median"]), abs=1e-12)
    assert traces[("raw", "split-half noise ceiling (median ± SD)", "VISp")]["y"] == [rows["ceiling_median"].iloc[0]] * 2
    assert traces[("noise-corrected", "1: a model equal to the noise-free response", "VISp")]["y"] == [1.0, 1.0]
    html = (results / "figures" / "rsa" / "natural_scenes" / "175um.html").read_text()
    # plotly.js inside, no script fetched from anywhere: it opens offline.
    assert re.search(r"<script[^>]*\ssrc=", html) is None and len(html) > 1_000_000

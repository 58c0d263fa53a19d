"""Both modalities in one config (config key modalities): the embedded run's folder as the 2-photon
entry and the embedded Neuropixels cache as the other (conftest's MODALITIES), in one run.

What must hold: the 2-photon entry, complete already, reruns nothing; the Neuropixels entry is the
run its config makes alone (nothing to do for that config afterwards, tests/test_reruns.py); the
tables put together are each entry's own rows under its folder, bit for bit; group statistics stay
within an entry; each entry draws its own figures.
"""

import re

import pandas as pd
import pytest
from conftest import (
    MODALITIES,
    NEUROPIXELS_RESULTS,
    ROOT,
    digest,
    modalities_config,
    small_config,
    snakemake,
    write_config,
)

from brainlike.modalities import TABLES, combined, entry_configs

FOLDERS = ["results", NEUROPIXELS_RESULTS]


def test_the_complete_entry_reruns_nothing_and_the_other_runs_whole(neuropixels_run, workflow_results_digest):
    log = (neuropixels_run / "modalities.log").read_text()
    ran = set(re.findall(r"^(?:local)?rule (\w+):", log, re.MULTILINE))
    assert not {rule for rule in ran if rule.startswith("two_photon_")}, ran
    assert {"neuropixels_recordings", "neuropixels_compare", "neuropixels_groups", "modalities_tables"} <= ran
    assert digest(neuropixels_run / "results") == workflow_results_digest


@pytest.mark.parametrize("name", list(TABLES))
def test_the_tables_put_together_are_each_entrys_rows_under_its_folder(neuropixels_run, name):
    suffix = TABLES[name][0]
    read = pd.read_parquet if suffix == "parquet" else pd.read_csv
    together = read(neuropixels_run / MODALITIES["results"] / "tables" / f"{name}.{suffix}")
    owns = {folder: read(neuropixels_run / folder / "tables" / f"{name}.{suffix}") for folder in FOLDERS}
    # The small config declares no contrasts: that table is empty in both entries.
    assert list(together["results"].unique()) == [folder for folder, own in owns.items() if len(own)]
    assert len(together) == sum(map(len, owns.values())) and together.columns[0] == "results"
    for folder, own in owns.items():
        rows = together[together["results"] == folder].drop(columns="results").reset_index(drop=True)
        if "depth" in own:
            own = own.astype({"depth": str})  # µm beside "all": text in the table put together
            assert rows["depth"].map(type).eq(str).all()
        pd.testing.assert_frame_equal(rows, own[rows.columns], check_exact=True, check_dtype=False)
    if name == "scores":
        assert set(together["modality"]) == {"2-photon", "Neuropixels"}
        assert set(together.loc[together["results"] == NEUROPIXELS_RESULTS, "depth"]) == {"all"}
        assert set(together.loc[together["results"] == "results", "depth"]) == {"175", "275"}


def test_group_statistics_and_figures_stay_within_an_entry(neuropixels_run):
    """Each entry's groups table is its own run's (the 2-photon one untouched by the other entry);
    each entry's figures are in its folder, one per depth of its own."""
    groups = pd.read_parquet(neuropixels_run / MODALITIES["results"] / "tables" / "groups.parquet")
    for folder, depths in (("results", {"175", "275"}), (NEUROPIXELS_RESULTS, {"all"})):
        assert set(groups.loc[groups["results"] == folder, "depth"].astype(str)) <= depths | {"-1", "all"}
    for path in ("results/figures/rsa/natural_scenes/175um.png", f"{NEUROPIXELS_RESULTS}/figures/rsa/natural_scenes/all.png"):
        assert (neuropixels_run / path).stat().st_size > 10_000, path


def test_an_entry_config_is_the_config_with_its_overlay():
    config = modalities_config()
    entries = entry_configs(config)
    assert list(entries) == ["two_photon", "neuropixels"]
    assert entries["two_photon"] == {key: value for key, value in config.items() if key != "modalities"} | {"results": "results"}
    assert entries["neuropixels"]["data"]["source"] == "embedded_neuropixels"
    assert entries["neuropixels"]["data"]["stimuli"] == config["data"]["stimuli"]  # the rest from the config
    default = entry_configs(config | {"modalities": {"npx": {"data": {"depths": ["all"]}}}})
    assert default["npx"]["results"] == "results_modalities/npx"


@pytest.mark.parametrize(
    "modalities, message",
    [
        ({"a": {"results": "x"}, "b": {"results": "x/"}}, r"results folder\(s\) \['x'\] belong to more than one entry"),
        ({"a": {"results": "results_modalities"}}, r"\['results_modalities'\] belong to more than one entry, or to the run itself"),
        ({"a": {"modalities": {"b": {}}}}, r"modalities.a sets modalities: entries do not nest"),
    ],
)
def test_entries_that_would_share_a_folder_or_nest_are_refused(modalities, message):
    with pytest.raises(ValueError, match=message):
        entry_configs(modalities_config() | {"modalities": modalities})


def test_depth_becomes_text_only_beside_all():
    microns = pd.DataFrame({"depth": [175, 275], "score": [0.1, 0.2]})
    both = combined({"a": microns, "b": pd.DataFrame({"depth": ["all"], "score": [0.3]})})
    assert list(both["depth"]) == ["175", "275", "all"] and list(both["results"]) == ["a", "a", "b"]
    assert combined({"a": microns, "b": microns})["depth"].dtype.kind == "i"


@pytest.mark.parametrize(
    "overlay, message",
    [
        ({"data": {"depths": "all"}}, "modalities.neuropixels: the config with this entry's overlay is not valid"),
        ({"data": {"source": "embedded_neuropixels", "depths": [175]}}, "module neuropixels: data.depths [175]: a Neuropixels source"),
    ],
)  # fmt: skip
def test_an_invalid_entry_is_named_before_any_job(tmp_path, overlay, message):
    """A schema error (every entry is checked before any is planned) and a cross-key one (checked
    when the entry is planned: first here) name the entry."""
    write_config(tmp_path, small_config() | {"modalities": {"neuropixels": overlay, "two_photon": {}}})
    result = snakemake(tmp_path, "-n", check=False)
    assert result.returncode != 0
    assert message in result.stdout + result.stderr


def test_the_preset_plans_both_entries_from_nothing(tmp_path):
    """config/two_modalities.yaml over the small config: every job of both entries, from nothing."""
    config = small_config()
    write_config(tmp_path, config)
    result = snakemake(tmp_path, "-n", "--quiet", "rules", "--configfile", str(ROOT / "config" / "two_modalities.yaml"))
    counts = dict(re.findall(r"^(\w+)\s+(\d+)$", result.stdout, re.MULTILINE))
    assert {"two_photon_embedded_cache", "two_photon_compare", "neuropixels_embedded_neuropixels_cache",
            "neuropixels_compare", "modalities_tables"} <= set(counts), counts  # fmt: skip
    assert counts["neuropixels_recordings"] == str(len(config["data"]["areas"]) * len(config["data"]["stimuli"]))

"""Config validation, lint, the real-Allen preset's offline dry run, and generator reproducibility."""

import copy
import csv
import filecmp
import shutil
import subprocess

import pytest
import yaml
from conftest import ROOT, SHARED, SNAKEMAKE, default_config, write_config

from brainlike.embedded_cache import generate, write_index


def test_lint_and_format_are_clean():
    lint = subprocess.run([*SNAKEMAKE, "--lint"], cwd=ROOT, capture_output=True, text=True)
    assert lint.returncode == 0 and "Congratulations" in lint.stdout + lint.stderr, lint.stdout + lint.stderr
    fmt = subprocess.run([str(ROOT / ".venvs/main/bin/snakefmt"), "--check", "workflow"], cwd=ROOT, capture_output=True)
    assert fmt.returncode == 0, fmt.stderr.decode()


def preset_dry_run(workdir, *overlays, preset=ROOT / "config/allen_reference.yaml"):
    command = [*SNAKEMAKE, "-s", str(ROOT / "workflow/Snakefile"), "-d", str(workdir), "-n", "--quiet", "rules",
               "--configfile", str(preset), *map(str, overlays)]  # fmt: skip
    # A network namespace of its own has no route anywhere: any lookup or connection would fail.
    result = subprocess.run(["unshare", "--net", *command], capture_output=True, text=True)
    counts = {}
    for line in result.stdout.splitlines():
        parts = line.split()
        if len(parts) == 2 and parts[1].isdigit():
            counts[parts[0]] = int(parts[1])
    return result, counts


def test_real_allen_preset_fetches_the_index_first_then_every_file_by_its_own_job(tmp_path):
    """Without a cache, a dry run plans the index checkpoint; with an index (here a synthetic one of
    the preset's containers, no data files), every file a population reads is a download job."""
    write_config(tmp_path, default_config())
    result, counts = preset_dry_run(tmp_path)
    assert result.returncode == 0, (result.stdout + result.stderr)[-3000:]
    assert counts["allen_index"] == 1 and "download" not in counts and "embedded_cache" not in counts
    preset = yaml.safe_load((ROOT / "config/allen_reference.yaml").read_text())["data"]
    listed = [(cid, area, 175 if index % 2 else 275) for area, ids in preset["containers"].items() if ids
              for index, cid in enumerate(ids)]  # fmt: skip
    rl = [(900000000, "VISrl", 175), (900001000, "VISrl", 275)]
    write_index(tmp_path / "data/allen_brain_observatory", listed + rl, "Cux2-CreERT2",
                ["three_session_A", "three_session_B", "three_session_C"])  # fmt: skip
    result, counts = preset_dry_run(tmp_path)
    assert result.returncode == 0, (result.stdout + result.stderr)[-3000:]
    assert "allen_index" not in counts
    assert counts["recordings"] == counts["responses"] == 6 * 2 * 2  # areas (VISrl included) × depths × stimuli
    assert counts["noise_ceiling"] == 24 and counts["figure"] == 4
    assert counts["download"] == (63 + 2) * 3 * 2  # every session's NWB and events file, one job each
    offline = tmp_path / "offline.yaml"
    offline.write_text("data: {offline: true}\n")
    result, _counts = preset_dry_run(tmp_path, offline)
    assert result.returncode != 0
    assert "data.offline is true, but" in result.stdout + result.stderr
    assert "ophys_experiment_data" in result.stdout + result.stderr


def test_real_allen_preset_lists_the_reference_containers():
    table = SHARED / "data" / "reference_containers.csv"
    if not table.exists():
        pytest.skip("the reference container table lives in ../shared")
    with table.open() as handle:
        reference = {int(row["experiment_container_id"]) for row in csv.DictReader(handle)}
    with table.open() as handle:
        by_area = {}
        for row in csv.DictReader(handle):
            by_area.setdefault(row["area"], set()).add(int(row["experiment_container_id"]))
    preset = yaml.safe_load((ROOT / "config/allen_reference.yaml").read_text())["data"]
    listed = {area: set(ids) for area, ids in preset["containers"].items() if ids}
    assert listed == by_area and set().union(*listed.values()) == reference
    assert preset["containers"]["VISrl"] is None and "VISrl" in preset["area_notes"]


def test_real_neuropixels_preset_fetches_the_index_first_then_every_session_by_its_own_job(tmp_path):
    """Without a cache, a dry run of config/allen_neuropixels.yaml plans the index checkpoint; with
    an index (three brain_observatory_1.1 sessions recording the six areas, one functional
    connectivity session that does not show the scenes), each session a population reads is a
    download job of its own, and nothing else is fetched."""
    write_config(tmp_path, default_config())
    preset = ROOT / "config/allen_neuropixels.yaml"
    result, counts = preset_dry_run(tmp_path, preset=preset)
    assert result.returncode == 0, (result.stdout + result.stderr)[-3000:]
    assert counts["neuropixels_index"] == 1 and "download_session" not in counts and "embedded_cache" not in counts
    areas = yaml.safe_load(preset.read_text())["data"]["areas"]
    sessions = {101: "brain_observatory_1.1", 102: "brain_observatory_1.1", 103: "brain_observatory_1.1",
                104: "functional_connectivity"}  # fmt: skip
    tables = {"sessions.csv": [], "probes.csv": [], "channels.csv": [], "units.csv": []}
    for session, kind in sessions.items():
        tables["sessions.csv"].append({"id": session, "session_type": kind})
        for position, area in enumerate(areas):
            probe = session * 10 + position
            tables["probes.csv"].append({"id": probe, "ecephys_session_id": session})
            tables["channels.csv"].append({"id": probe * 10, "ecephys_probe_id": probe, "ecephys_structure_acronym": area})
            tables["units.csv"].append({"id": probe * 100, "ecephys_channel_id": probe * 10, "quality": "good",
                                        "isi_violations": 0.1, "amplitude_cutoff": 0.01, "presence_ratio": 0.99, "snr": 2})  # fmt: skip
    cache = tmp_path / "data/allen_neuropixels"
    cache.mkdir(parents=True)
    (cache / "manifest.json").write_text("{}")
    for name, rows in tables.items():
        with (cache / name).open("w", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
            writer.writeheader()
            writer.writerows(rows)
    result, counts = preset_dry_run(tmp_path, preset=preset)
    assert result.returncode == 0, (result.stdout + result.stderr)[-3000:]
    assert "neuropixels_index" not in counts
    assert counts["recordings"] == counts["responses"] == 6 * 2  # areas × stimuli, depth all
    assert counts["download_session"] == 3  # every brain_observatory_1.1 session once, whatever reads it
    offline = tmp_path / "offline.yaml"
    offline.write_text("data: {offline: true}\n")
    result, _counts = preset_dry_run(tmp_path, offline, preset=preset)
    assert result.returncode != 0
    assert "data.offline is true, but" in result.stdout + result.stderr and "session_101.nwb" in result.stdout + result.stderr


def tiny_embedded() -> tuple[dict, dict]:
    config = copy.deepcopy(default_config())
    embedded = config["embedded"]
    embedded.update(
        areas={"VISp": {"layer": "_blocks.1", "noise": 1.0}},
        depths=[175],
        containers_per_population=1,
        cells_per_experiment=4,
        matched_cells=2,
        sessions=["three_session_B"],
        scene_trials=2,
        movie_repeats=2,
        scene_template_shape=[24, 30],
        # Not smaller: each frame's anti-aliasing blur widens as the frame shrinks (16 × 32 frames
        # took 26 s of a 29 s cache; at these the cache takes 14 s).
        movie_template_shape=[48, 96],
    )
    config["models"]["efficientnet_lite0"]["input"]["size"] = 32
    return embedded, config["models"]


def test_same_seed_same_bytes_from_any_number_of_writers_other_seed_other_bytes(tmp_path):
    embedded, models = tiny_embedded()
    embedded["sessions"] = ["three_session_A", "three_session_B"]
    generate(embedded, "Cux2-CreERT2", models, tmp_path / "one")
    generate(embedded, "Cux2-CreERT2", models, tmp_path / "two", workers=2)
    comparison = filecmp.dircmp(tmp_path / "one", tmp_path / "two")
    files = sorted(p.relative_to(tmp_path / "one") for p in (tmp_path / "one").rglob("*") if p.is_file())
    assert len(files) == 10  # manifest, 4 API record files, truth, two NWB, two events files
    for name in files:
        assert (tmp_path / "one" / name).read_bytes() == (tmp_path / "two" / name).read_bytes(), name
    assert not comparison.left_only and not comparison.right_only
    generate({**embedded, "seed": embedded["seed"] + 1}, "Cux2-CreERT2", models, tmp_path / "three")
    nwb = next((tmp_path / "one").rglob("*.nwb")).relative_to(tmp_path / "one")
    assert (tmp_path / "one" / nwb).read_bytes() != (tmp_path / "three" / nwb).read_bytes()
    shutil.rmtree(tmp_path)

"""The Visual Coding Neuropixels source: the generated cache read through AllenSDK, offline; spike
counts checked against a hand count of the NWB files; units against Allen's filters by hand; the
planted layers recovered; and the real-data path (index, session files, offline) on the same cache."""

import csv
import json
import os
import shutil
import subprocess
import threading

import h5py
import numpy as np
import pandas as pd
import pytest
import yaml
from conftest import (
    ALLENSDK_PYTHON,
    NEUROPIXELS_RESULTS,
    PLANTED,
    ROOT,
    SNAKEMAKE,
    neuropixels_config,
    snakemake,
    write_neuropixels_index,
)

from brainlike.configs import merged
from brainlike.ecephys_index import population_sessions
from brainlike.recordings import read_recordings

FILTERS = {"isi_violations_maximum": 0.5, "amplitude_cutoff_maximum": 0.1, "presence_ratio_minimum": 0.95}


def cache_of(run):
    return run / NEUROPIXELS_RESULTS / "embedded_neuropixels" / "cache"


def hand_spike_times(nwb_path):
    """unit id → spike times, read with h5py from the NWB's ragged units table (not AllenSDK)."""
    with h5py.File(nwb_path, "r") as nwb:
        ids = nwb["units/id"][()]
        ends = nwb["units/spike_times_index"][()]
        times = nwb["units/spike_times"][()]
    starts = np.concatenate([[0], ends[:-1]])
    return {int(unit): times[start:end] for unit, start, end in zip(ids, starts, ends)}


def hand_presentations(nwb_path, stimulus):
    with h5py.File(nwb_path, "r") as nwb:
        table = nwb[f"intervals/{stimulus}_presentations"]
        return table["start_time"][()], table["stop_time"][()], table["frame"][()]


def test_scene_counts_are_a_hand_count_of_the_nwb_spike_times_in_the_window(neuropixels_run):
    recordings, metadata = read_recordings(neuropixels_run / NEUROPIXELS_RESULTS / "recordings" / "natural_scenes" / "VISp" / "all.npz")
    assert metadata["depth"] == "all" and metadata["signal"] == "spike counts"
    low, high = neuropixels_config()["data"]["neuropixels"]["scene_window_s"]
    for recording in recordings:
        session = recording["container_id"]
        nwb = cache_of(neuropixels_run) / f"session_{session}" / f"session_{session}.nwb"
        spikes = hand_spike_times(nwb)
        start, _stop, frame = hand_presentations(nwb, "natural_scenes")
        responses = recording["responses"]
        # Trial k of an image: its k-th presentation in time.
        onsets = np.stack([np.sort(start[frame == image])[: responses.shape[0]] for image in range(responses.shape[1])], axis=1)
        for column, unit in enumerate(recording["unit_id"]):
            times = spikes[int(unit)]
            # Every spike against every window, by comparison (the reader counts by binary search).
            inside = (times >= onsets[..., None] + low) & (times < onsets[..., None] + high)
            np.testing.assert_array_equal(responses[:, :, column], inside.sum(axis=-1), err_msg=f"{session} {unit}")


def test_movie_counts_are_per_frame_hand_counts_averaged_in_segments(neuropixels_run):
    recordings, _ = read_recordings(neuropixels_run / NEUROPIXELS_RESULTS / "recordings" / "natural_movie_one" / "VISl" / "all.npz")
    segment = neuropixels_config()["responses"]["natural_movie_one"]["segment_frames"]
    recording = recordings[0]
    session = recording["container_id"]
    nwb = cache_of(neuropixels_run) / f"session_{session}" / f"session_{session}.nwb"
    spikes = hand_spike_times(nwb)
    start, stop, frame = hand_presentations(nwb, "natural_movie_one")
    order = np.argsort(start)
    start, stop, frame = start[order], stop[order], frame[order]
    repeats = len(frame) // 900
    for column in (0, len(recording["unit_id"]) - 1):
        times = spikes[int(recording["unit_id"][column])]
        per_frame = np.array([np.count_nonzero((times >= a) & (times < b)) for a, b in zip(start, stop)], dtype=float)
        expected = per_frame.reshape(repeats, 900 // segment, segment).mean(axis=2)
        np.testing.assert_allclose(recording["responses"][:, :, column], expected, rtol=0, atol=1e-12)


def test_units_are_the_area_units_that_pass_allens_filters_by_hand(neuropixels_run):
    cache = cache_of(neuropixels_run)
    truth = json.loads((neuropixels_run / NEUROPIXELS_RESULTS / "embedded_neuropixels" / "truth.json").read_text())
    rows = lambda name: list(csv.DictReader(open(cache / name)))  # noqa: E731
    area_of_channel = {row["id"]: row["ecephys_structure_acronym"] for row in rows("channels.csv")}
    for area in PLANTED:
        recordings, _ = read_recordings(neuropixels_run / NEUROPIXELS_RESULTS / "recordings" / "natural_scenes" / area / "all.npz")
        read = sorted(int(unit) for recording in recordings for unit in recording["unit_id"])
        expected = sorted(
            int(row["id"]) for row in rows("units.csv")
            if area_of_channel[row["ecephys_channel_id"]] == area and float(row["isi_violations"]) <= 0.5
            and float(row["amplitude_cutoff"]) <= 0.1 and float(row["presence_ratio"]) >= 0.95
        )  # fmt: skip
        assert read == expected
        assert not set(read) & set(truth["units"]["failing"])
        # Every session is a container: the animal a unit's bootstrap and between-animal bound keep.
        assert [recording["container_id"] for recording in recordings] == sorted({r["container_id"] for r in recordings})
        assert len(recordings) == neuropixels_config()["embedded"]["neuropixels"]["sessions"]


def test_the_planted_layer_is_best_in_every_planted_population(neuropixels_run):
    scores = pd.read_parquet(neuropixels_run / NEUROPIXELS_RESULTS / "tables" / "scores.parquet")
    scores = scores[scores["model"] == "efficientnet_lite0"]
    assert set(scores["depth"]) == {"all"} and set(scores["modality"]) == {"Neuropixels"}
    assert set(scores["cre_line"]) == {"all genotypes"}
    for (stimulus, area), rows in scores.groupby(["stimulus", "area"]):
        best = rows.loc[rows["score"].idxmax()]
        assert best["layer"] == PLANTED[area], (stimulus, area, rows[["layer", "score"]].to_string())
        assert best["ceiling_median"] > 0.5, (stimulus, area, best["ceiling_median"])
    for path in ("figures/rsa/natural_scenes/all.png", "figures/rsa/natural_movie_one/all_noise_corrected.png"):
        assert (neuropixels_run / NEUROPIXELS_RESULTS / path).stat().st_size > 10_000


def test_the_real_data_path_reads_the_same_counts_offline_from_the_index_and_session_files(neuropixels_run):
    """allen_neuropixels on the generated cache, without a network: the index is read while the DAG
    is built, each population's job lists its session files, and it reads what the embedded run read."""
    path = neuropixels_run / "npx_allen.yaml"
    overlay = {"results": "results_npx_allen",
               "data": {"source": "allen_neuropixels", "offline": True,
                        "neuropixels": {"manifest": f"{NEUROPIXELS_RESULTS}/embedded_neuropixels/cache/manifest.json"}}}  # fmt: skip
    path.write_text(yaml.safe_dump(merged(neuropixels_config(), overlay), sort_keys=False))
    target = "results_npx_allen/recordings/natural_scenes/VISam/all.npz"
    command = [*SNAKEMAKE, "-s", str(ROOT / "workflow" / "Snakefile"), "-d", str(neuropixels_run), target, "--cores", "2",
               "--configfile", str(path)]  # fmt: skip
    result = subprocess.run(["unshare", "--net", *command], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    real, _ = read_recordings(neuropixels_run / target)
    embedded, _ = read_recordings(neuropixels_run / NEUROPIXELS_RESULTS / "recordings" / "natural_scenes" / "VISam" / "all.npz")
    assert [r["container_id"] for r in real] == [r["container_id"] for r in embedded]
    for a, b in zip(real, embedded):
        np.testing.assert_array_equal(a["responses"], b["responses"])
        np.testing.assert_array_equal(a["unit_id"], b["unit_id"])

    # An area no unit of which passes the filters is named before any job runs.
    strict = merged(yaml.safe_load(path.read_text()), {"data": {"neuropixels": {"units": {"presence_ratio_minimum": 1.0}}}})
    path.write_text(yaml.safe_dump(strict, sort_keys=False))
    failed = snakemake(neuropixels_run, "-n", "--configfile", str(path), check=False)
    assert failed.returncode != 0
    assert "has no VISp unit that passes the quality filters" in failed.stderr + failed.stdout
    assert "presence_ratio_minimum" in failed.stderr + failed.stdout


def test_index_sessions_filters_and_errors_by_hand(tmp_path):
    """The DAG's reading of the CSV index, on tables small enough to check by eye."""
    write_neuropixels_index(tmp_path)
    sessions = population_sessions(tmp_path, "VISp", "natural_scenes", None, FILTERS)
    # Session 2 is a functional_connectivity session (no natural scenes); unit 1001 is not "good".
    assert sessions == [{"id": 1, "session_type": "brain_observatory_1.1", "units": 1}]
    with pytest.raises(ValueError, match=r"no VISl unit that passes .*2 such sessions.*1 VISl units before"):
        population_sessions(tmp_path, "VISl", "natural_scenes", None, FILTERS)
    # With the ISI filter off, the empty amplitude cutoff still fails (NaN passes no filter).
    with pytest.raises(ValueError, match="no VISl unit"):
        population_sessions(tmp_path, "VISl", "natural_scenes", None, {**FILTERS, "isi_violations_maximum": None})
    loose = {"isi_violations_maximum": None, "amplitude_cutoff_maximum": None, "presence_ratio_minimum": None}
    assert population_sessions(tmp_path, "VISl", "natural_scenes", None, loose)[0]["id"] == 3
    with pytest.raises(ValueError, match="no VISl unit"):
        population_sessions(tmp_path, "VISl", "natural_scenes", None, {**loose, "snr_minimum": 1.0})
    with pytest.raises(ValueError, match=r"sessions \{'2': 'functional_connectivity'\} do not show natural_scenes"):
        population_sessions(tmp_path, "VISp", "natural_scenes", [1, 2], FILTERS)
    with pytest.raises(ValueError, match=r"sessions \['9'\] are not in the cache"):
        population_sessions(tmp_path, "VISp", "natural_scenes", [9], FILTERS)


def test_the_same_drives_write_the_same_bytes(neuropixels_run, tmp_path):
    """The cache writer on the run's own drives, again: every file (NWB, tables, templates, truth)
    byte for byte what the run wrote."""
    embedded = neuropixels_config()["embedded"]
    keys = ("seed", "source_model", "areas", "scene_trials", "movie_repeats", "neuropixels")
    result = subprocess.run(
        [str(ALLENSDK_PYTHON), "-m", "brainlike.embedded_ecephys_cache",
         "--drives", str(neuropixels_run / NEUROPIXELS_RESULTS / "planted" / "neuropixels_drives.npz"),
         "--config", json.dumps({key: embedded[key] for key in keys}), "--out", str(tmp_path / "again")],
        capture_output=True, text=True, env={**os.environ, "PYTHONPATH": str(ROOT / "scripts")},
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    written = neuropixels_run / NEUROPIXELS_RESULTS / "embedded_neuropixels"
    # Snakemake marks a directory output with a timestamp file of its own.
    files = sorted(path.relative_to(written) for path in written.rglob("*") if path.is_file() and path.name != ".snakemake_timestamp")
    assert files == sorted(path.relative_to(tmp_path / "again") for path in (tmp_path / "again").rglob("*") if path.is_file())
    for name in files:
        assert (written / name).read_bytes() == (tmp_path / "again" / name).read_bytes(), name


def test_a_session_file_is_downloaded_verified_and_a_truncated_one_named(neuropixels_run, tmp_path):
    """The download rule's function on a session NWB, from a local server standing in for the Allen
    API: a truncated file in place is named and fetched again, a valid one kept; the address comes
    from the API's well-known-file query for the session; a truncated file is named when read."""
    from test_downloads import Server

    source = next(cache_of(neuropixels_run).glob("session_*/session_*.nwb"))
    session = int(source.parent.name.removeprefix("session_"))
    server = Server({f"/{source.name}": source.read_bytes()})
    threading.Thread(target=server.serve_forever, daemon=True).start()
    cache = tmp_path / "cache"
    target = cache / source.parent.name / source.name
    target.parent.mkdir(parents=True)
    target.write_bytes(source.read_bytes()[:1000])
    script = f"""
from brainlike.downloads import allen_url_of, download_file

class Api:
    api_url = {server.url!r}
    def model_query(self, model, criteria):
        assert model == "WellKnownFile" and "[name$eq'EcephysNwb']" in criteria, criteria
        assert "[attachable_type$eq'EcephysSession'][attachable_id$eq{session}]" in criteria, criteria
        return [{{"download_link": "/session_{session}.nwb"}}]

url_of = allen_url_of(Api())
print(download_file({str(target)!r}, url_of))
print(download_file({str(target)!r}, url_of))
"""
    result = subprocess.run([str(ALLENSDK_PYTHON), "-c", script], capture_output=True, text=True,
                            env={**os.environ, "PYTHONPATH": str(ROOT / "scripts")})  # fmt: skip
    server.shutdown()
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.split() == ["downloaded", "valid"]
    assert "truncated or corrupt" in result.stderr
    assert target.read_bytes() == source.read_bytes()

    shutil.copytree(cache_of(neuropixels_run), tmp_path / "copy")
    broken = tmp_path / "copy" / source.parent.name / source.name
    broken.write_bytes(source.read_bytes()[: source.stat().st_size // 2])
    result = subprocess.run(
        [str(ALLENSDK_PYTHON), "-m", "brainlike.ecephys_data", "recordings", "--manifest", str(tmp_path / "copy" / "manifest.json"),
         "--area", "VISp", "--stimulus", "natural_scenes", "--filters", json.dumps(neuropixels_config()["data"]["neuropixels"]["units"]),
         "--options", json.dumps({"window_s": [0, 0.25], "blanks": "drop"}), "--out", str(tmp_path / "out.npz")],
        capture_output=True, text=True, env={**os.environ, "PYTHONPATH": str(ROOT / "scripts")},
    )  # fmt: skip
    assert result.returncode != 0
    assert f"CorruptFileError: {broken} is truncated or corrupt" in result.stderr, result.stderr[-2000:]
    assert not (tmp_path / "out.npz").exists()

"""The generated cache is read by allensdk's own readers, offline, without any connection attempt."""

import json
import subprocess
from pathlib import Path

import h5py
import numpy as np
import pytest
from conftest import ALLENSDK_PYTHON, small_config

PROBE = Path(__file__).with_name("allensdk_probe.py")


def probe(manifest: Path, mode: str) -> dict:
    result = subprocess.run([str(ALLENSDK_PYTHON), str(PROBE), str(manifest), mode], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def manifest(workflow_run):
    return workflow_run / "results" / "embedded" / "cache" / "manifest.json"


def test_allensdk_reads_every_part_of_the_cache_offline(manifest):
    config = small_config()["embedded"]
    report = probe(manifest, "offline")
    assert "error" not in report, report.get("error")
    assert report["network_attempts"] == []
    n_containers = len(config["areas"]) * len(config["depths"]) * config["containers_per_population"]
    assert report["containers"] == n_containers
    assert report["scene_experiments"] == report["movie_experiments"] == n_containers
    n_cells = config["cells_per_experiment"]
    assert report["dff_shape"][0] == report["events_shape"][0] == n_cells
    assert report["dff_shape"][1] == report["events_shape"][1]
    assert report["frame_interval"] == pytest.approx(1 / 30)
    assert report["events_min"] >= 0
    assert report["cells"] == n_cells
    scenes = report["natural_scenes_table"]
    assert scenes["rows"] == 119 * config["scene_trials"] and scenes["columns"] == ["frame", "start", "end"]
    movie = report["natural_movie_one_table"]
    assert movie["rows"] == 900 * config["movie_repeats"] and movie["columns"] == ["frame", "start", "end", "repeat"]
    assert report["natural_scenes_template"] == [118, *config["scene_template_shape"]]
    assert report["natural_movie_one_template"] == [900, *config["movie_template_shape"]]
    assert set(report["stimuli"]) == {"natural_scenes", "natural_movie_one"}
    metadata = report["metadata"]
    assert metadata["cre_line"] == small_config()["data"]["cre_line"]
    assert metadata["targeted_structure"] in config["areas"]
    assert int(metadata["imaging_depth_um"]) in config["depths"]
    assert metadata["session_type"] == "three_session_B"
    assert metadata["pipeline_version"] == "3.0"


def test_a_file_missing_from_the_offline_cache_is_named_not_downloaded(manifest):
    report = probe(manifest, "offline")
    assert "OfflineCacheError" in report["missing"]
    assert "999.nwb" in report["missing"]
    assert report["network_attempts"] == []


def test_the_network_guard_sees_allensdks_own_api_go_online(manifest):
    """Without the offline API, allensdk queries the eye-tracking list: the probe catches it."""
    report = probe(manifest, "online")
    assert report["network_attempts"], report


def test_nwb_text_fields_are_fixed_length_bytes(manifest):
    nwb = next((manifest.parent / "ophys_experiment_data").glob("*.nwb"))
    with h5py.File(nwb, "r") as handle:
        for key in ("general/session_type", "general/subject/genotype", "session_start_time"):
            assert handle[key].dtype.kind == "S", key
        assert handle["stimulus/templates/natural_scenes_image_stack/data"].dtype == np.uint8


NWB_2_ROUND_TRIP = """
import datetime, sys
import numpy as np
from pynwb import NWBHDF5IO, NWBFile
from allensdk.brain_observatory.ecephys.ecephys_project_cache import EcephysProjectCache

nwb = NWBFile(session_description="units", identifier="round-trip",
              session_start_time=datetime.datetime(2019, 1, 1, tzinfo=datetime.timezone.utc))
nwb.add_unit(spike_times=np.array([0.25, 0.5, 1.0]))
with NWBHDF5IO(sys.argv[1], "w") as io:
    io.write(nwb)
with NWBHDF5IO(sys.argv[1], "r") as io:
    print(list(io.read().units["spike_times"][0]))
"""


def test_the_allensdk_environment_writes_and_reads_nwb_2(tmp_path):
    """The pinned pynwb and hdmf make an NWB 2 file and read it back, beside AllenSDK's
    Neuropixels cache class (hdmf 6.2.0 could not make an NWBFile at all)."""
    result = subprocess.run([str(ALLENSDK_PYTHON), "-c", NWB_2_ROUND_TRIP, str(tmp_path / "units.nwb")],
                            capture_output=True, text=True)  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.strip() == "[0.25, 0.5, 1.0]"

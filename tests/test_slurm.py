"""The workflow through the SLURM profile on a real single-node SLURM cluster.

On a copy of the suite's local run, with one population's chain and one model's extraction forced
to rerun up to the score table, every job goes through sbatch (checked against the controller's own job
records), and what they write equals the local run's bit for bit; a forced rerun of one target
submits exactly one job, and a failing job fails the run naming its log.
"""

import os
import re

import numpy as np
import pytest
import zarr
from conftest import ROOT, copy_of_run, small_config, snakemake, write_config
from slurm_cluster import Cluster, available

reason = available()
pytestmark = pytest.mark.skipif(reason is not None, reason=reason or "")

SITE = [
    "--profile", str(ROOT / "workflow/profiles/slurm"),
    # This test cluster's site settings: no accounting database, two cores, jobs of seconds (the
    # profile's first status check 10 s after each submission would be most of each stage's time).
    "--slurm-no-account", "--slurm-status-command", "squeue", "--max-threads", "2",
    "--slurm-init-seconds-before-status-checks", "2",
]  # fmt: skip


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    instance = Cluster(tmp_path_factory.mktemp("slurm"))
    instance.start()
    yield instance
    instance.stop()


# Forced on the copy: a population's recordings (an AllenSDK-environment job, then its responses,
# brain RDMs and ceiling) and a model × stimulus extraction (then its RDMs and scores), up to the
# score table (TARGET): every kind of data and statistics job but the shared cache and stimuli. A
# figure job goes through sbatch in the single-target test; each stage more costs a status poll.
FORCED = ["results/recordings/natural_scenes/VISp/175.npz", "results/activations/efficientnet_lite0/natural_scenes.zarr"]
TARGET = "results/tables/scores.parquet"
RERUN = {"recordings", "responses", "brain_rdms", "noise_ceiling", "extract_activations", "model_rdms", "compare",
         "tables"}  # fmt: skip


@pytest.fixture(scope="module")
def slurm_run(cluster, workflow_run, tmp_path_factory):
    env = {"BRAINLIKE_PARTITION": "debug", "BRAINLIKE_GPU_PARTITION": "debug", "BRAINLIKE_ACCOUNT": "none"}
    os.environ.update(env)
    workdir = tmp_path_factory.mktemp("slurm_workflow") / "run"
    copy_of_run(workflow_run, workdir)
    result = snakemake(workdir, *SITE, TARGET, "--forcerun", *FORCED)
    return workdir, result


def test_every_job_went_through_sbatch(cluster, slurm_run):
    _workdir, result = slurm_run
    records = cluster.completed_jobs()
    log = result.stdout + result.stderr
    steps = re.findall(r"(\d+) of (\d+) steps \(100%\) done", log)
    assert steps, log[-3000:]
    done = int(steps[-1][0])
    assert all(record["JobState"] == "COMPLETED" for record in records)
    assert all(record["Partition"] == "debug" for record in records)
    # Every job ran as a SLURM job (the local ones, `all` and the provenance table, are not on the way to the target).
    assert not re.findall(r"^localrule (\w+):", log, re.MULTILINE)
    assert len(records) == done, (len(records), done)
    assert set(re.findall(r"^rule (\w+):", log, re.MULTILINE)) == RERUN


def test_results_equal_a_local_run_bit_for_bit(slurm_run, workflow_run):
    workdir, _ = slurm_run
    rerun = ["tables/scores.csv", "tables/scores.parquet", "tables/populations.csv",
             "recordings/natural_scenes/VISp/175.npz", "responses/natural_scenes/VISp/175.npz",
             "noise_ceiling/natural_scenes/VISp/175.json", "tau/efficientnet_lite0/natural_scenes.resamples.npz"]  # fmt: skip
    for path in rerun:
        assert (workdir / "results" / path).read_bytes() == (workflow_run / "results" / path).read_bytes(), path
    ours = zarr.open_group(workdir / "results/activations/efficientnet_lite0/natural_scenes.zarr", mode="r")
    local = zarr.open_group(workflow_run / "results/activations/efficientnet_lite0/natural_scenes.zarr", mode="r")
    for layer in ours.attrs["layers"]:
        key = f"{layer['pathway']}/{layer['layer']}"
        assert np.array_equal(ours[key][:], local[key][:]), key


def test_a_forced_single_target_rerun_submits_exactly_one_job(cluster, slurm_run):
    workdir, _ = slurm_run
    before = len(cluster.completed_jobs())
    # The target before --forcerun, which takes every argument after it.
    target = "results/figures/rsa/natural_scenes/175um.png"
    snakemake(workdir, *SITE, target, "--forcerun", target)
    records = cluster.completed_jobs()
    assert len(records) == before + 1 and records[-1]["JobState"] == "COMPLETED"


def test_a_failing_job_fails_the_run_and_names_its_log(cluster, slurm_run):
    workdir, _ = slurm_run
    config = small_config()
    config["cells"]["min_cells"] = 100_000
    write_config(workdir, config)
    target = "results/responses/natural_scenes/VISp/175.npz"
    result = snakemake(workdir, *SITE, target, check=False)
    log = result.stdout + result.stderr
    assert result.returncode != 0
    assert "results/logs/responses/natural_scenes/VISp/175.log" in log
    assert cluster.completed_jobs()[-1]["JobState"] == "FAILED"
    assert "fewer than cells.min_cells = 100000" in (workdir / "results/logs/responses/natural_scenes/VISp/175.log").read_text()

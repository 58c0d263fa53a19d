"""Shared fixtures: the project's environments and one small end-to-end run of the workflow."""

from __future__ import annotations

import copy
import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path


# Each worker computes on its share of the cores (all of them without xdist). Left at their defaults,
# BLAS, OpenMP and torch start a thread per core in every worker, and on the suite's small matrices
# the threads of two workers wait on each other: the encoding tests ran at half the speed of one
# thread. The variables reach the libraries loaded from here on (scipy's own BLAS, torch);
# threadpoolctl the ones a plugin loaded already. Snakemake sets each job's own from its rule's threads.
WORKER_THREADS = max(1, (os.cpu_count() or 1) // int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1")))
for _variable in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_variable] = str(WORKER_THREADS)

import numpy as np
import pytest
import yaml
import forked_snakemake
from filelock import FileLock
from threadpoolctl import threadpool_limits
from _pytest.nodeid import NodeId

from brainlike.configs import merged

threadpool_limits(WORKER_THREADS)

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
ALLENSDK_PYTHON = ROOT / ".venvs" / "allensdk" / "bin" / "python"
SNAKEMAKE = [sys.executable, "-m", "snakemake"]

# Stage ends of EfficientNet-Lite0: blocks inside one stage are near copies of each other (residual
# updates), so the planted layers and the recorded ones are one per stage.
RECORDED = ["_blocks.0", "_blocks.2", "_blocks.4", "_blocks.7", "_blocks.10", "_blocks.14"]
PLANTED = {"VISp": "_blocks.2", "VISl": "_blocks.7", "VISam": "_blocks.10"}
# Same layer as VISl, more trial noise: their ceilings must fall in this order.
NOISE_LADDER = [("VISl", 0.5), ("VISal", 2.0), ("VISpm", 6.0)]


def default_config() -> dict:
    return yaml.safe_load((ROOT / "config" / "config.yaml").read_text())


def small_config() -> dict:
    """The default config shrunk to a quick run with a known answer."""
    config = copy.deepcopy(default_config())
    areas = {area: {"layer": layer, "noise": 0.5} for area, layer in PLANTED.items()}
    areas.update({area: {"layer": PLANTED["VISl"], "noise": noise} for area, noise in NOISE_LADDER})
    config["embedded"].update(
        areas=areas,
        depths=[175, 275],
        containers_per_population=2,
        cells_per_experiment=300,
        unreliable_fraction=0.0,  # every cell carries the planted signal
        sessions=["three_session_B"],
        scene_trials=8,
        movie_repeats=6,
        scene_template_shape=[96, 122],
        movie_template_shape=[48, 96],
    )
    config["data"].update(areas=list(areas), depths=[175, 275])
    model = config["models"]["efficientnet_lite0"]
    model["input"]["size"] = 128
    model["pathways"] = {"main": RECORDED}
    # One model (a group of one): the group statistics run, the contrasts are tests/test_groups.py's.
    config["models"] = {"efficientnet_lite0": model}
    config["contrasts"] = []
    config["statistics"]["splits"] = 20
    # A tenth of the default: ridge refits a ridge for every relabelling.
    config["statistics"]["permutations"] = 100
    config["envs"]["allensdk_python"] = str(ALLENSDK_PYTHON)
    return config


def write_config(workdir: Path, config: dict) -> None:
    (workdir / "config").mkdir(parents=True, exist_ok=True)
    (workdir / "config" / "config.yaml").write_text(yaml.safe_dump(config, sort_keys=False))


def snakemake(workdir: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    """A run of the workflow in ``workdir``; a dry run (``-n``) is forked from a process that has
    imported Snakemake already (the suite makes hundreds)."""
    argv = ["-s", str(ROOT / "workflow" / "Snakefile"), "-d", str(workdir), *args]
    if "-n" in args:
        result = forked_snakemake.run(argv)
    else:
        result = subprocess.run([*SNAKEMAKE, *argv], capture_output=True, text=True)
    if check and result.returncode != 0:
        raise AssertionError(f"snakemake {' '.join(args)} failed:\n{result.stdout[-5000:]}\n{result.stderr[-5000:]}")
    return result


@pytest.fixture(scope="session")
def workflow_run(tmp_path_factory, worker_id) -> Path:
    """A working directory of one complete run of the workflow on the small embedded config, this
    worker's own copy (its tests may change it). The run itself is made once per session: under
    pytest-xdist by the first worker to ask, while the others wait for it, so that it has both
    cores rather than each worker making it again on one."""
    root = tmp_path_factory.getbasetemp()
    shared = (root if worker_id == "master" else root.parent) / "embedded-run"
    with FileLock(f"{shared}.lock"):
        if not shared.exists():
            partial = shared.with_name(f"{shared.name}.partial")
            shutil.rmtree(partial, ignore_errors=True)
            write_config(partial, small_config())
            snakemake(partial, "--cores", "2")
            partial.rename(shared)
    workdir = tmp_path_factory.mktemp("workflow") / "run"
    copy_of_run(shared, workdir)
    return workdir


@pytest.fixture(scope="session")
def workflow_report(workflow_run, tmp_path_factory) -> Path:
    """Snakemake's HTML report of the embedded run."""
    path = tmp_path_factory.mktemp("report") / "report.html"
    snakemake(workflow_run, "--report", str(path))
    return path


def own_base_config() -> dict:
    """The default config under the own-data example, with its one trained model only."""
    config = default_config()
    config["models"] = {"efficientnet_lite0": config["models"]["efficientnet_lite0"]}
    config["contrasts"] = []
    config["envs"]["allensdk_python"] = str(ALLENSDK_PYTHON)
    return config


@pytest.fixture(scope="session")
def own_run(tmp_path_factory) -> Path:
    """The working directory of one complete run of the own-data example config, on a copy of the
    example's files; beside them the same manifest and stimuli under other names (manifest_copy.csv,
    stimuli.npy), for tests that point the config at other files."""
    from brainlike.own_data import load_stimuli

    workdir = tmp_path_factory.mktemp("own")
    config = own_base_config()
    write_config(workdir, config)
    example = workdir / "config" / "examples" / "own_data"
    shutil.copytree(ROOT / "config" / "examples" / "own_data", example)
    snakemake(workdir, "--cores", "2", "--configfile", str(ROOT / "config" / "own_data_example.yaml"))
    shutil.copy(example / "manifest.csv", example / "manifest_copy.csv")
    np.save(example / "stimuli.npy", load_stimuli(example / "stimuli"))
    return workdir


def digest(folder: Path) -> dict[str, str]:
    """Every file under ``folder`` and the SHA-256 of its bytes."""
    return {
        str(path.relative_to(folder)): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(folder.rglob("*"))
        if path.is_file()
    }


# The embedded run's generated cache read as real Allen data, into a results folder of its own: the
# scenes' populations (every area and depth), which read every kind of cache file (the movie's
# reading is the embedded run's own, tested there).
ALLEN_OVERLAY = {
    "results": "results_allen",
    "data": {"source": "allen", "allen_manifest": "results/embedded/cache/manifest.json", "offline": True,
             "stimuli": ["natural_scenes"]},
}


@pytest.fixture(scope="session")
def workflow_results_digest(workflow_run) -> dict[str, str]:
    """The embedded run's results as they were before any other config ran in its folder."""
    return digest(workflow_run / "results")


@pytest.fixture(scope="session")
def allen_run(workflow_run, workflow_results_digest) -> Path:
    """data.source allen on the embedded run's generated cache, in the same folder (results_allen),
    with no network at all: a network namespace of its own has no route anywhere."""
    path = workflow_run / "allen.yaml"
    path.write_text(yaml.safe_dump(merged(small_config(), ALLEN_OVERLAY), sort_keys=False))
    command = [*SNAKEMAKE, "-s", str(ROOT / "workflow" / "Snakefile"), "-d", str(workflow_run), "--cores", "2",
               "--configfile", str(path)]  # fmt: skip
    result = subprocess.run(["unshare", "--net", *command], capture_output=True, text=True)
    if result.returncode != 0:
        raise AssertionError(f"the allen run failed:\n{result.stdout[-5000:]}\n{result.stderr[-5000:]}")
    path.unlink()
    return workflow_run


# Published RDMs: the embedded run's all-trial brain RDMs exported with rsatoolbox, one file per
# population, into the run's folder; one of them (PERMUTED) as an .npy matrix with its rows in another
# order and a stimulus_order file, with the trial run's between-animal bounds as its published ceiling.
PUBLISHED = "published"
PERMUTED = ("natural_scenes", "VISp", "175")


def rdms_config() -> dict:
    """The small config on the RDMs its embedded run's brain RDM jobs wrote, published as above,
    with the trial run's stimulus templates; the planted areas at 175 µm (of the 20 populations the
    manifest lists), results in results_rdms."""
    config = small_config()
    stimuli = {stimulus: f"results/templates/{stimulus}.npz" for stimulus in config["data"]["stimuli"]}
    return merged(config, {"results": "results_rdms", "metrics": ["rsa"], "data": {
        "source": "rdms", "areas": list(PLANTED), "depths": [175],
        "rdms": {"manifest": f"{PUBLISHED}/manifest.csv", "stimuli": stimuli, "continuous": ["natural_movie_one"]}}})  # fmt: skip


def publish_rdms(run: Path) -> Path:
    """Export every brain RDM store of ``run`` as a published RDM (see PUBLISHED); the manifest."""
    import pandas as pd
    import rsatoolbox

    folder = run / PUBLISHED
    folder.mkdir(exist_ok=True)
    rows = []
    for path in sorted((run / "results" / "rdms" / "brain").glob("*/*/*.hdf5")):
        stimulus, area, depth = path.parts[-3], path.parts[-2], path.stem
        rdm = rsatoolbox.rdm.load_rdm(str(path)).subset("kind", "all")
        row = {"area": area, "depth": depth, "stimulus": stimulus}
        if (stimulus, area, depth) == PERMUTED:
            order = np.random.default_rng(0).permutation(rdm.n_cond)
            np.save(folder / "permuted.npy", rdm.get_matrices()[0][np.ix_(order, order)])
            (folder / "permuted_order.txt").write_text("\n".join(map(str, order)) + "\n")
            ceiling = json.loads((run / "results" / "noise_ceiling" / stimulus / area / f"{depth}.json").read_text())
            row |= {"file": "permuted.npy", "stimulus_order": "permuted_order.txt",
                    "ceiling_lower": ceiling["ceiling_lower"], "ceiling_upper": ceiling["ceiling_upper"]}  # fmt: skip
        else:
            row["file"] = f"{stimulus}_{area}_{depth}.hdf5"
            rdm.save(str(folder / row["file"]), file_type="hdf5", overwrite=True)
        rows.append(row)
    pd.DataFrame(rows).to_csv(folder / "manifest.csv", index=False)
    return folder / "manifest.csv"


def copy_of_run(run: Path, workdir: Path) -> None:
    """A copy of the embedded run's folder without the other sources' runs made in it."""
    shutil.copytree(run, workdir, symlinks=True, ignore=shutil.ignore_patterns("results_allen", "allen.yaml", "results_rdms", PUBLISHED))


@pytest.fixture(scope="session")
def rdms_run(workflow_run, workflow_results_digest) -> Path:
    """data.source rdms on the embedded run's own brain RDMs (rdms_config), in the same folder; beside
    the published files, copies of the manifest and of the scenes' stimulus set under other names
    (manifest_copy.csv, natural_scenes_copy.npz), for tests that point the config at other files."""
    manifest = publish_rdms(workflow_run)
    path = workflow_run / "rdms.yaml"
    path.write_text(yaml.safe_dump(rdms_config(), sort_keys=False))
    snakemake(workflow_run, "--cores", "2", "--configfile", str(path))
    path.unlink()
    shutil.copy(manifest, manifest.with_name("manifest_copy.csv"))
    shutil.copy(workflow_run / "results" / "templates" / "natural_scenes.npz", manifest.with_name("natural_scenes_copy.npz"))
    return workflow_run


# The embedded Neuropixels cache (units of the generator's five areas, two sessions of 120 each), its
# planted areas read, every unit of each: the Neuropixels entry of MODALITIES, in a folder of its own.
# Each recordings job reads every session through AllenSDK, so the sessions and units set its time.
NEUROPIXELS_RESULTS = "results_neuropixels"
NEUROPIXELS_OVERLAY = {"results": NEUROPIXELS_RESULTS,
                       "embedded": {"neuropixels": {"sessions": 2, "units_per_area": 120}},
                       "data": {"source": "embedded_neuropixels", "depths": ["all"], "areas": list(PLANTED)}}  # fmt: skip
# Both modalities in one config: the embedded run's own folder as the 2-photon entry (complete, so
# nothing of it reruns), the Neuropixels entry made from nothing, every table of both in one.
MODALITIES = {"results": "results_modalities",
              "modalities": {"two_photon": {"results": "results"}, "neuropixels": NEUROPIXELS_OVERLAY}}  # fmt: skip


def neuropixels_config() -> dict:
    """The Neuropixels entry of modalities_config() as a config of its own: the same jobs."""
    return merged(small_config(), NEUROPIXELS_OVERLAY)


def modalities_config() -> dict:
    return merged(small_config(), MODALITIES)


@pytest.fixture(scope="session")
def neuropixels_run(workflow_run, tmp_path_factory) -> Path:
    """A copy of the embedded run after a run of modalities_config() in it; the run's log in
    modalities.log."""
    workdir = tmp_path_factory.mktemp("modalities") / "run"
    copy_of_run(workflow_run, workdir)
    path = workdir / "modalities.yaml"
    path.write_text(yaml.safe_dump(modalities_config(), sort_keys=False))
    result = snakemake(workdir, "--cores", "2", "--configfile", str(path))
    (workdir / "modalities.log").write_text(result.stdout + result.stderr)
    return workdir


# A Neuropixels cache index small enough to check by eye: session 2 is functional_connectivity (no
# natural scenes); unit 1001 is not "good"; VISl's one unit fails the ISI filter and has no amplitude
# cutoff (NaN passes no filter) and a low SNR.
NEUROPIXELS_INDEX = {
    "sessions.csv": [{"id": 1, "session_type": "brain_observatory_1.1"}, {"id": 2, "session_type": "functional_connectivity"},
                     {"id": 3, "session_type": "brain_observatory_1.1"}],
    "probes.csv": [{"id": 10, "ecephys_session_id": 1}, {"id": 20, "ecephys_session_id": 2}, {"id": 30, "ecephys_session_id": 3}],
    "channels.csv": [{"id": 100, "ecephys_probe_id": 10, "ecephys_structure_acronym": "VISp"},
                     {"id": 200, "ecephys_probe_id": 20, "ecephys_structure_acronym": "VISp"},
                     {"id": 300, "ecephys_probe_id": 30, "ecephys_structure_acronym": "VISl"}],
    "units.csv": [
        {"id": 1000, "ecephys_channel_id": 100, "quality": "good", "isi_violations": 0.1, "amplitude_cutoff": 0.05, "presence_ratio": 0.99, "snr": 2.0},
        {"id": 1001, "ecephys_channel_id": 100, "quality": "noise", "isi_violations": 0.1, "amplitude_cutoff": 0.05, "presence_ratio": 0.99, "snr": 2.0},
        {"id": 2000, "ecephys_channel_id": 200, "quality": "good", "isi_violations": 0.1, "amplitude_cutoff": 0.05, "presence_ratio": 0.99, "snr": 2.0},
        {"id": 3000, "ecephys_channel_id": 300, "quality": "good", "isi_violations": 0.9, "amplitude_cutoff": "", "presence_ratio": 0.99, "snr": 0.5},
    ],
}  # fmt: skip


def write_neuropixels_index(folder: Path) -> None:
    import pandas as pd

    folder.mkdir(parents=True, exist_ok=True)
    for name, rows in NEUROPIXELS_INDEX.items():
        pd.DataFrame(rows).to_csv(folder / name, index=False)


CHECKPOINTS = SHARED / "data" / "crijnen_checkpoints"
CONTRASTS = [["readout", "random init"], ["rat", "tree shrew"]]
# Of each reference group's five checkpoints: two show every group mechanism (shared tensors, both
# pathways, a contrast, a spread over members) at 40 % of the extraction; the planted contrast keeps
# its four against four.
REFERENCE_MEMBERS = 2


def group_config() -> dict:
    """The small config with groups: "readout" holds four sparse random projections of the
    generator's own network (noisy readouts of the planted layers), "random init" four random
    initialisations of that architecture, "rat" and "tree shrew" three of the reference study's
    checkpoints each, declared once each; the planted areas and the natural scenes only."""
    config = small_config()
    base = config["models"]["efficientnet_lite0"]
    base.pop("group")  # a model outside every group: drawn as its own line
    lite = {key: base[key] for key in ("family", "variant", "input", "pathways")}
    readouts = {
        f"readout{seed}": {**lite, "weights": "imagenet", "group": "readout", "max_features": 1024,
                           "feature_reduction": "random_projection", "projection_seed": seed}
        for seed in range(4)
    }  # fmt: skip
    # Small inputs keep the run short: 5 frames of 64 × 64 (a third of the video models' time at 15
    # frames), projections to 1024 features (building a 4096-row projection matrix per layer width
    # took two thirds of a readout's extraction).
    video = {"family": "two_pathway_video", "out_merge": "concat", "pathways": {"p1": None, "p2": None},
             "input": {"size": 64, "frames": 5, "mean": "checkpoint", "std": "checkpoint", "resize": "stretch"}}  # fmt: skip
    config["models"] |= readouts | {
        "random": {**lite, "group": "random init", "members": {"random_seeds": [1, 2, 3, 4]}},
        "rat": {**video, "group": "rat", "members": {"checkpoints": [str(CHECKPOINTS / f"rat{i}.ckpt") for i in range(1, REFERENCE_MEMBERS + 1)]}},
        "ts": {**video, "group": "tree shrew", "members": {"checkpoints": [str(CHECKPOINTS / f"ts{i}.ckpt") for i in range(1, REFERENCE_MEMBERS + 1)]}},
    }  # fmt: skip
    config["contrasts"] = CONTRASTS
    config["data"]["areas"] = list(PLANTED)
    # The scenes only: the group statistics read each model's resamples whatever the stimulus (the
    # movie's contiguous halvings and block draws are each model's own, tested on the embedded run),
    # and the movie's extractions were half of this run's time.
    config["data"]["stimuli"] = ["natural_scenes"]
    # Group statistics pair the members' bootstrap draws and halvings, not their permutation p: a
    # few relabellings keep this run of 15 models short.
    config["statistics"]["permutations"] = 20
    return config


@pytest.fixture(scope="session")
def groups_run(workflow_run, tmp_path_factory):
    if not CHECKPOINTS.exists():
        pytest.skip("the reference checkpoints live in ../shared")
    workdir = tmp_path_factory.mktemp("groups") / "run"
    copy_of_run(workflow_run, workdir)
    path = workdir / "groups.yaml"
    path.write_text(yaml.safe_dump(group_config(), sort_keys=False))
    snakemake(workdir, "--cores", "2", "--configfile", str(path))
    return workdir


# Every metric on the small config's data: the RSA run plus the ridge and CKA rules.
METRICS_OVERLAY = {"metrics": ["rsa", "ridge", "cka"]}


def metrics_config() -> dict:
    return merged(small_config(), METRICS_OVERLAY)


@pytest.fixture(scope="session")
def metrics_run(workflow_run, tmp_path_factory) -> tuple[Path, str]:
    """A copy of the embedded run with every metric added by a config overlay, and that run's log
    (what it ran)."""
    workdir = tmp_path_factory.mktemp("metrics") / "run"
    copy_of_run(workflow_run, workdir)
    path = workdir / "metrics.yaml"
    path.write_text(yaml.safe_dump(metrics_config(), sort_keys=False))
    result = snakemake(workdir, "--cores", "2", "--configfile", str(path))
    return workdir, result.stdout + result.stderr


# The session fixtures that read the embedded run only; the others are runs made from it (or, the own
# data run, beside it) and the rerun map reads them all.
EMBEDDED_RUN_FIXTURES = {"workflow_run", "workflow_report", "workflow_results_digest"}


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config, items):
    """Groups for pytest-xdist's loadgroup. The tests that read runs made from the embedded run
    (a session fixture of this file) are one group, on one worker, so each run is made once; the
    tests that read the embedded run alone are another, on another worker, which waits for the
    embedded run (made once, ``workflow_run``) and then goes on beside the first. Every other
    file is a group of its own, so a module's own fixtures are made once too."""
    for item in items:
        definitions = getattr(item, "_fixtureinfo").name2fixturedefs.values()
        runs = {fixture.argname for chain in definitions for fixture in chain
                if fixture.scope == "session" and fixture.func.__module__ == __name__}  # fmt: skip
        group = "runs" if runs - EMBEDDED_RUN_FIXTURES else "embedded run" if runs else item.path.name
        item.add_marker(pytest.mark.xdist_group(group))
        if getattr(config.option, "loadgroup", False):
            # xdist 3.8 tells a worker's groups to the scheduler by a suffix of each test's id,
            # written where pytest 8 kept the id; pytest 9 keeps it as a NodeId.
            item._id = NodeId.parse(f"{item.nodeid}@{group}")
    # The scheduler hands out groups in the order of their first test, the first two to different
    # workers: the two long groups first, so they never wait on one worker for each other. Within the
    # runs, those not made from the embedded run (the own-data example's) come first: they fill the
    # cores the embedded run leaves idle while it is made (its first job, the cache, runs alone).
    items.sort(key=lambda item: ({"runs": 0, "embedded run": 1}.get(item.get_closest_marker("xdist_group").args[0], 2),
                                 "workflow_run" in item.fixturenames))


def pytest_terminal_summary(terminalreporter):
    """The fault suite's count, for the closing note: cases tried and passed."""
    outcomes = {}
    for outcome in ("passed", "failed", "error"):
        for report in terminalreporter.stats.get(outcome, []):
            if getattr(report, "nodeid", "").startswith("tests/test_faults.py") and report.when == "call":
                outcomes[outcome] = outcomes.get(outcome, 0) + 1
    if outcomes:
        tried = sum(outcomes.values())
        terminalreporter.write_line(f"fault suite: {tried} cases tried, {outcomes.get('passed', 0)} passed")

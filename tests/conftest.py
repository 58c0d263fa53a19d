"""Shared fixtures: the project's environments and one small end-to-end run of the workflow."""

from __future__ import annotations

import copy
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

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
    config["rsa"]["splits"] = 20
    config["envs"]["allensdk_python"] = str(ALLENSDK_PYTHON)
    return config


def write_config(workdir: Path, config: dict) -> None:
    (workdir / "config").mkdir(parents=True, exist_ok=True)
    (workdir / "config" / "config.yaml").write_text(yaml.safe_dump(config, sort_keys=False))


def snakemake(workdir: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    result = subprocess.run(
        [*SNAKEMAKE, "-s", str(ROOT / "workflow" / "Snakefile"), "-d", str(workdir), *args],
        capture_output=True,
        text=True,
    )
    if check and result.returncode != 0:
        raise AssertionError(f"snakemake {' '.join(args)} failed:\n{result.stdout[-5000:]}\n{result.stderr[-5000:]}")
    return result


@pytest.fixture(scope="session")
def workflow_run(tmp_path_factory) -> Path:
    """The working directory of one complete run of the workflow on the small embedded config."""
    workdir = tmp_path_factory.mktemp("workflow")
    write_config(workdir, small_config())
    snakemake(workdir, "--cores", "2")
    return workdir

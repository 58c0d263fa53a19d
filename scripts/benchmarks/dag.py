"""Benchmark: the DAG of the full real-Allen grid with a zoo of 30 models, and what one edit reruns.

Prints JSON: the dry run's wall time (target: under 10 seconds on a 2-core machine) and job count
per rule; with ``--reruns``, for the default config and for the full grid, how many jobs a dry
run schedules after each of a few everyday edits of a completed run (the test suite checks the
job counts against a budget; time is only reported here).

The real grid's cache index is synthesised from the preset's container lists (an experiment per
session type per container, four VISrl containers per depth), so no network is needed. A
"completed run" is made without running anything: every output is created empty and recorded
with ``snakemake --touch``, which stores the params and inputs Snakemake compares on the next run.

    .venvs/main/bin/python scripts/benchmarks/dag.py [--models 30] [--reruns]
"""

from __future__ import annotations

import argparse
import copy
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

from brainlike.configs import merged
from brainlike.embedded_cache import write_index

ROOT = Path(__file__).resolve().parents[2]
IMAGENET = {"mean": [0.485, 0.456, 0.406], "std": [0.229, 0.224, 0.225]}
SESSIONS = ["three_session_A", "three_session_B", "three_session_C"]
# Outputs that are folders (activation stores, the generated cache).
FOLDER_SUFFIXES = (".zarr", "/embedded")


def zoo(n_models: int) -> dict:
    """A mixed zoo: random-init VisualNets, torchvision ResNet-18s and EfficientNet-Lite0s."""
    kinds = [
        ("visualnet", {"family": "two_pathway_video", "input": {"size": 64, "frames": 15, "mean": [0.5] * 3,
                       "std": [0.25] * 3}, "pathways": {"p1": None, "p2": None}}),
        ("resnet18", {"family": "torchvision", "variant": "resnet18", "input": {"size": 224, **IMAGENET},
                      "pathways": {"main": None}}),
        ("lite0", {"family": "efficientnet_lite", "variant": "efficientnet-lite0", "input": {"size": 224, **IMAGENET},
                   "pathways": {"main": None}}),
    ]  # fmt: skip
    return {
        f"{kinds[index % 3][0]}_{index}": {**kinds[index % 3][1], "weights": {"random_seed": index}}
        for index in range(n_models)
    }


def real_grid(workdir: Path, n_models: int) -> dict:
    """The preset's config with the zoo, and a synthetic index of its containers in workdir."""
    preset = yaml.safe_load((ROOT / "config/allen_reference.yaml").read_text())
    config = merged(yaml.safe_load((ROOT / "config/config.yaml").read_text()), preset)
    config["models"].update(zoo(n_models))
    data = config["data"]
    # The preset lists containers per area; the real index gives each its depth: here they alternate.
    depths = data["depths"]
    containers = [(cid, area, depths[index % len(depths)])
                  for area, ids in data["containers"].items() if ids for index, cid in enumerate(ids)]  # fmt: skip
    rl = [(900_000_000 + 1000 * index, "VISrl", depth) for index, depth in enumerate(data["depths"] * 4)]
    write_index(workdir / Path(data["allen_manifest"]).parent, containers + rl, data["cre_line"], SESSIONS)
    return config


def snakemake(workdir: Path, config: dict, *args: str) -> subprocess.CompletedProcess:
    path = workdir / "run.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    result = subprocess.run(
        [sys.executable, "-m", "snakemake", "-s", str(ROOT / "workflow/Snakefile"), "-d", str(workdir),
         "--configfile", str(path), *args],
        capture_output=True, text=True,
    )  # fmt: skip
    if result.returncode != 0:
        raise SystemExit(result.stdout[-5000:] + result.stderr[-5000:])
    return result


def job_counts(result: subprocess.CompletedProcess) -> dict[str, int]:
    counts = {}
    for line in result.stdout.splitlines():
        parts = line.split()
        if len(parts) == 2 and parts[1].isdigit():
            counts[parts[0]] = int(parts[1])
    return counts


def dry_run(workdir: Path, config: dict) -> tuple[float, dict[str, int]]:
    start = time.perf_counter()
    result = snakemake(workdir, config, "-n", "--quiet", "rules")
    return time.perf_counter() - start, job_counts(result)


def complete_without_running(workdir: Path, config: dict) -> None:
    """Every output of the DAG created empty, then recorded as made by this config (--touch)."""
    summary = snakemake(workdir, config, "--summary").stdout.splitlines()
    for line in summary[summary.index(next(l for l in summary if l.startswith("output_file"))) + 1 :]:
        path = workdir / line.split("\t")[0]
        if str(path).endswith(FOLDER_SUFFIXES):
            path.mkdir(parents=True, exist_ok=True)
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.touch()
    snakemake(workdir, config, "--touch", "--forceall", "--cores", "1", "--quiet", "all")


def edits(config: dict) -> dict[str, dict]:
    """Everyday edits of a config: name → the edited config."""
    first = next(iter(config["models"]))
    new_model = copy.deepcopy(config["models"][first]) | {"weights": {"random_seed": 1}}
    return {
        "statistics.seed": merged(config, {"statistics": {"seed": config["statistics"]["seed"] + 1}}),
        "statistics.alpha": merged(config, {"statistics": {"alpha": 0.01}}),
        "add a model": merged(config, {"models": {"added_model": new_model}}),
        f"models.{first}.input.size": merged(config, {"models": {first: {"input": {"size": 96}}}}),
        "cells.reliability_threshold": merged(config, {"cells": {"reliability_threshold": 0.5}}),
    }


def reruns(workdir: Path, config: dict) -> dict:
    complete_without_running(workdir, config)
    _seconds, unchanged = dry_run(workdir, config)
    if unchanged:
        raise SystemExit(f"a completed run still schedules jobs: {unchanged}")
    return {name: dry_run(workdir, edited)[1] for name, edited in edits(config).items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", type=int, default=30)
    parser.add_argument("--reruns", action="store_true", help="also count the jobs a few edits rerun")
    args = parser.parse_args()
    report = {}
    with tempfile.TemporaryDirectory() as folder:
        workdir = Path(folder)
        config = real_grid(workdir, args.models)
        seconds, counts = dry_run(workdir, config)
        report["full_grid"] = {"seconds": round(seconds, 2), "jobs": counts}
        if args.reruns:
            report["full_grid"]["reruns"] = reruns(workdir, config)
    if args.reruns:
        with tempfile.TemporaryDirectory() as folder:
            default = yaml.safe_load((ROOT / "config/config.yaml").read_text())
            report["default"] = {"reruns": reruns(Path(folder), default)}
    print(json.dumps(report))


if __name__ == "__main__":
    main()

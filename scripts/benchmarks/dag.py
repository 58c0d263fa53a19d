"""Benchmark: dry run (DAG building) of the full real-Allen grid with a zoo of 30 models.

Target: under 10 seconds on a 2-core machine. Prints the wall time and the job count per rule as
JSON (the test suite checks the job counts against a budget; time is only reported here).

    .venvs/main/bin/python scripts/benchmarks/dag.py [--models 30]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
IMAGENET = {"mean": [0.485, 0.456, 0.406], "std": [0.229, 0.224, 0.225]}


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


def dry_run(n_models: int) -> dict:
    with tempfile.TemporaryDirectory() as folder:
        workdir = Path(folder)
        (workdir / "config").mkdir()
        (workdir / "config/config.yaml").write_text((ROOT / "config/config.yaml").read_text())
        overlay = workdir / "zoo.yaml"
        overlay.write_text(yaml.safe_dump({"models": zoo(n_models)}))
        start = time.perf_counter()
        result = subprocess.run(
            [sys.executable, "-m", "snakemake", "-s", str(ROOT / "workflow/Snakefile"), "-d", str(workdir), "-n",
             "--quiet", "rules", "--configfile", str(ROOT / "config/allen_reference.yaml"), str(overlay)],
            capture_output=True, text=True,
        )  # fmt: skip
        seconds = time.perf_counter() - start
    if result.returncode != 0:
        raise SystemExit(result.stdout + result.stderr)
    counts = {}
    for line in result.stdout.splitlines():
        parts = line.split()
        if len(parts) == 2 and parts[1].isdigit():
            counts[parts[0]] = int(parts[1])
    return {"seconds": round(seconds, 2), "jobs": counts}


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", type=int, default=30)
    print(json.dumps(dry_run(parser.parse_args().models)))

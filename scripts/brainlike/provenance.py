"""What a results folder was computed from: software, workflow commit, data ids and weight files.

One tidy table (section, item, value) for the report, written by the provenance rule. Nothing in
it depends on when or where it was written, so the same config and checkout give the same bytes.
"""

from __future__ import annotations

import hashlib
import json
import platform
import subprocess
from importlib import metadata
from pathlib import Path

import pandas as pd

# The main environment's packages whose versions can change a number in the results.
PACKAGES = ("snakemake", "torch", "numpy", "scipy", "pandas", "zarr", "rsatoolbox", "efficientnet-lite-pytorch")
RECORDING_IDS = ("container_id", "experiment_id", "session_type", "animal", "file")


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _installed(package: str) -> str:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return "not installed"


def _allensdk_version(python: str) -> str:
    result = subprocess.run([python, "-c", "import allensdk; print(allensdk.__version__)"], capture_output=True, text=True)
    return result.stdout.strip() if result.returncode == 0 else f"not importable with {python}"


def _commit(workflow_dir: Path) -> str:
    """The checkout's commit, marked when files differ from it."""
    git = ["git", "-C", str(workflow_dir)]
    head = subprocess.run([*git, "rev-parse", "HEAD"], capture_output=True, text=True)
    if head.returncode != 0:
        return "not a git checkout"
    dirty = subprocess.run([*git, "status", "--porcelain", "--untracked-files=no"], capture_output=True, text=True)
    return head.stdout.strip() + (" (with uncommitted changes)" if dirty.stdout.strip() else "")


def provenance_table(
    recordings: list[Path], weight_files: dict[str, list[str]], workflow_dir: Path, allensdk_python: str | None,
    published_rdms: list[Path] = (),
) -> pd.DataFrame:  # fmt: skip
    """Rows (section, item, value): software versions, the workflow's commit, each population's
    recordings (experiment ids, or own data's labels) or published RDM file (its sha256), and the
    sha256 of each model's weight files.

    ``recordings``: the populations' recordings sidecars (JSON); ``weight_files``: model → files.
    """
    rows = [("software", "python", platform.python_version())]
    rows += [("software", package, _installed(package)) for package in PACKAGES]
    if allensdk_python is not None:
        rows.append(("software", "allensdk", _allensdk_version(allensdk_python)))
    rows.append(("workflow", "commit", _commit(workflow_dir)))
    for path in recordings:
        population = json.loads(Path(path).read_text())
        name = f"{population['stimulus']} {population['area']} {population['depth']}"
        for recording in population["recordings"]:
            ids = ", ".join(f"{key} {recording[key]}" for key in RECORDING_IDS if key in recording)
            rows.append(("data", name, ids))
    for path in published_rdms:
        rows.append(("data", "published RDM", f"{Path(path).name} sha256 {sha256(Path(path))}"))
    for model, files in weight_files.items():
        for file in files:
            rows.append(("weights", model, f"{Path(file).name} sha256 {sha256(Path(file))}"))
    return pd.DataFrame(rows, columns=["section", "item", "value"])

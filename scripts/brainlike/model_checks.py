"""What the workflow checks of every model entry while it plans, and the architectures it remembers.

Each entry's declaration is checked on every plan (a weight file that must exist, a clip length
that fits the family). Its architecture is built without weights on torch's meta device and run
once (``models.check_architecture``), so a misspelt layer or an input the network cannot take fails
before any job runs; that costs the torch import and the meta pass, about 4 s of every plan and
dry run. An architecture that passed is remembered in the working directory's
``.snakemake/brainlike/architectures`` under a key of its entry and of the software that builds it
(the packages' versions and this package's model code), and the next plan skips it; a new entry,
package version or model file is checked again. A user's own module (family ``torch_module``) is
checked on every plan: its code is outside the key.
"""

from __future__ import annotations

import hashlib
import json
from importlib import metadata
from pathlib import Path

from .model_groups import ConfigKeys

VIDEO_FAMILIES = ("two_pathway_video",)
MEMORY = Path(".snakemake") / "brainlike" / "architectures"
# What builds an architecture: these distributions, and this package's model code.
BUILDERS = ("torch", "torchvision", "timm", "open_clip_torch", "efficientnet-lite-pytorch")
MODEL_CODE = ("models.py", "model_checks.py", "model_groups.py", "visualnet.py", "weights.py")


def check_declaration(entry: dict, keys: ConfigKeys) -> None:
    """The checks that read no network: the weight file exists, a torch_module names its class, a
    video model has a clip length and an image model none."""
    weights = entry.get("weights")
    if isinstance(weights, dict) and "checkpoint" in weights and not Path(weights["checkpoint"]).is_file():
        raise ValueError(f"{keys.checkpoint}: no file {weights['checkpoint']}")
    if entry["family"] == "torch_module" and "module" not in entry:
        raise ValueError(f"{keys.entry}.module: torch_module builds your own class; give its import path, package.module:Class")
    if entry["family"] in VIDEO_FAMILIES and not entry["input"].get("frames"):
        raise ValueError(f"{keys.entry}.input.frames: {entry['family']} is a video network; give the clip length in frames")
    if entry["family"] not in VIDEO_FAMILIES and entry["input"].get("frames"):
        raise ValueError(f"{keys.entry}.input.frames: {entry['family']} is an image network; remove frames")


def architecture(entry: dict) -> dict:
    """The entry with what does not change the network's layers or their shapes set aside: random
    weights, no normalisation."""
    return {**entry, "weights": {"random_seed": 0}, "input": {**entry["input"], "mean": [0.0] * 3, "std": [1.0] * 3}}


def _software() -> dict:
    versions = {}
    for name in BUILDERS:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    here = Path(__file__).parent
    code = hashlib.sha256(b"".join((here / name).read_bytes() for name in MODEL_CODE)).hexdigest()
    return {"packages": versions, "model_code": code}


def check_models(entries: dict[str, dict], declared: dict[str, ConfigKeys], memory: Path = MEMORY) -> None:
    """Every entry's declaration, and each architecture not remembered in ``memory`` (a group's
    members share one), each error naming its key."""
    software = None
    for name, entry in entries.items():
        keys = declared[name]
        check_declaration(entry, keys)
        built = architecture(entry)
        if entry["family"] == "torch_module":
            key = None
        else:
            software = software or _software()
            key = hashlib.sha256(json.dumps({"architecture": built, "software": software}, sort_keys=True).encode()).hexdigest()
            if (memory / key).exists():
                continue
        from .models import check_architecture  # torch: only for an architecture not yet checked

        check_architecture(name, built, keys)
        if key is not None:
            memory.mkdir(parents=True, exist_ok=True)
            (memory / key).touch()

"""Model groups in the config: a group of instances of one architecture declared once.

A model entry names its ``group`` (a free label such as "rat" or "random init"), or declares
``members``, which expand into one model per checkpoint or per random seed, each its own
extraction job and wildcard:

    models:
      rat:
        family: two_pathway_video
        group: rat
        members: {checkpoints: [models/crijnen/rat1.ckpt, models/crijnen/rat2.ckpt]}
        input: {...}
        pathways: {p1: null, p2: null}

gives models ``rat_rat1`` and ``rat_rat2`` (``<entry>_<checkpoint file stem>``; seeds give
``<entry>_seed<N>``), both in group ``rat`` (the entry's name when ``group`` is absent).
"""

from __future__ import annotations

import copy
import re
from pathlib import Path
from typing import NamedTuple

# Keys that say how a model is grouped, not how it computes: stripped from the entry its jobs get.
GROUPING_KEYS = ("group", "members")


class ConfigKeys(NamedTuple):
    """Where a model is declared, for error messages: its entry and the key that names its weight file."""

    entry: str
    checkpoint: str

    @classmethod
    def of(cls, name: str) -> ConfigKeys:
        return cls(f"models.{name}", f"models.{name}.weights.checkpoint")


def expand_models(models: dict) -> tuple[dict, dict[str, list[str]], dict[str, ConfigKeys]]:
    """(model name → entry without grouping keys, group → member names in order, model name → the
    config keys it was declared with: a member's errors name its group's entry, not its own name)."""
    expanded, groups, declared = {}, {}, {}

    def add(name: str, entry: dict, group: str | None, key: str) -> None:
        if not re.fullmatch(r"[A-Za-z0-9_]+", name):
            raise ValueError(f"{key}: member name {name!r} may hold only letters, digits and underscores; rename the file")
        if name in expanded:
            raise ValueError(f"{key}: model name {name!r} is already taken; rename the entry or its member")
        expanded[name] = entry
        declared[name] = ConfigKeys(key.partition(".members")[0], key if ".members" in key else f"{key}.weights.checkpoint")
        if group is not None:
            groups.setdefault(group, []).append(name)

    for name, entry in models.items():
        base = {key: copy.deepcopy(value) for key, value in entry.items() if key not in GROUPING_KEYS}
        members = entry.get("members")
        if members is None:
            if "weights" not in entry:
                raise ValueError(f"models.{name}: set weights (imagenet, {{published: TAG}}, {{checkpoint: PATH}}, {{random_seed: N}}), "
                                 "or members for a group of instances")  # fmt: skip
            add(name, base, entry.get("group"), f"models.{name}")
            continue
        group = entry.get("group", name)
        if "weights" in entry:
            raise ValueError(f"models.{name}: members gives each member its weights; remove weights")
        checkpoints, seeds = members.get("checkpoints", []), members.get("random_seeds", [])
        if not checkpoints and not seeds:
            raise ValueError(f"models.{name}.members: an empty group; list checkpoints or random_seeds")
        for checkpoint in checkpoints:
            add(f"{name}_{Path(checkpoint).stem}", {**base, "weights": {"checkpoint": checkpoint}}, group,
                f"models.{name}.members.checkpoints")  # fmt: skip
        for seed in seeds:
            add(f"{name}_seed{seed}", {**base, "weights": {"random_seed": seed}}, group,
                f"models.{name}.members.random_seeds")  # fmt: skip
    return expanded, groups, declared

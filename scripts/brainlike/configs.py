"""Config files layered as Snakemake layers them, keys that moved, and config values Snakemake is not to track."""

from __future__ import annotations

import copy


def merged(base: dict, overlay: dict) -> dict:
    """``overlay`` on top of ``base``, as Snakemake merges a --configfile into the config: nested
    mappings key by key, anything else replaced."""
    result = copy.deepcopy(base)
    for key, value in overlay.items():
        if isinstance(value, dict) and isinstance(result.get(key), dict):
            result[key] = merged(result[key], value)
        else:
            result[key] = copy.deepcopy(value)
    return result


# Keys of an earlier layout → where they live now. The statistics every metric shares left the rsa
# block; the limit on a ceiling's precision moved to its square, so its old value means nothing now.
MOVED_KEYS = {
    f"rsa.{key}": f"statistics.{key}"
    for key in ("seed", "splits", "stimulus_bootstraps", "container_bootstraps", "permutations", "ci_level",
                "best_layer_folds", "alpha", "fdr_family", "device")
} | {"statistics.ceiling_max_se": "statistics.ceiling_squared_max_se, a limit on the standard error of the squared ceiling"}  # fmt: skip


def check_moved_keys(config: dict) -> None:
    """Fail on a key of an earlier layout, naming its new place (before the schema's generic
    "additional properties" message could hide it)."""
    found = []
    for old, new in MOVED_KEYS.items():
        section, key = old.split(".")
        if isinstance(config.get(section), dict) and key in config[section]:
            found.append(f"{old} is now {new}")
    if found:
        raise ValueError("config keys moved: " + "; ".join(found) + " (see config/README.md)")


class Untracked:
    """A param that says where or how to run, not what to compute: Snakemake records only plain
    values (str, numbers, containers) for its params rerun trigger, so wrapping one here keeps a
    change of it (the AllenSDK interpreter's path, the device that counts Kendall pairs) from
    rerunning jobs whose results it cannot change. Shell commands see the value as text; scripts
    read ``.value``."""

    def __init__(self, value):
        self.value = value

    def __str__(self):
        return str(self.value)

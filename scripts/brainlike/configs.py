"""Config files layered as Snakemake layers them, and config values Snakemake is not to track."""

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

"""Config files layered as Snakemake layers them."""

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

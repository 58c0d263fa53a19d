"""A population's depth label: an imaging depth in µm (2-photon, own data), or ``all`` (every unit
of an area, the Neuropixels sources)."""

from __future__ import annotations

ALL = "all"


def depth_value(label: str | int) -> int | str:
    """The depth as the tables hold it: an int in µm, or "all"."""
    return ALL if str(label) == ALL else int(label)


def depth_title(depth: str | int) -> str:
    """The depth as figures and logs name it."""
    return "all depths" if str(depth) == ALL else f"{depth} µm"


def depth_stem(depth: str | int) -> str:
    """The depth as figure file names hold it ("175um", "all")."""
    return ALL if str(depth) == ALL else f"{depth}um"


def depth_of_every(depths) -> int | str:
    """The depth of a row that pools every population: -1 beside depths in µm, "all" beside "all"
    (a table's depth column holds one type)."""
    return ALL if any(str(depth) == ALL for depth in depths) else -1

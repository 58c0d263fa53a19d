"""Which Visual Coding Neuropixels sessions a population needs, read from a cache's CSV index
(no allensdk).

AllenSDK's ``EcephysProjectCache`` keeps four tables beside its manifest: sessions, probes,
channels and units. A unit's area is its peak channel's ``ecephys_structure_acronym``, its session
the channel's probe's ``ecephys_session_id``. The workflow builds its DAG from these tables: a
population's job lists the NWB file of every session with units of its area that pass the quality
filters, so a session replaced on disk reruns exactly its dependants, and an area with no unit
passing the filters is an error before any job runs. The AllenSDK job that reads a population
checks that AllenSDK keeps the same sessions.

Pure Python (csv): it runs while Snakemake parses the workflow (main environment) and in the
AllenSDK environment alike.
"""

from __future__ import annotations

import csv
import math
from collections import Counter
from functools import lru_cache
from pathlib import Path

SESSIONS_FILE, PROBES_FILE, CHANNELS_FILE, UNITS_FILE = "sessions.csv", "probes.csv", "channels.csv", "units.csv"
INDEX_FILES = (SESSIONS_FILE, PROBES_FILE, CHANNELS_FILE, UNITS_FILE)
NWB_PATTERN = "session_{session}/session_{session}.nwb"
# The Visual Coding Neuropixels session types that show natural_scenes and natural_movie_one
# (functional_connectivity sessions show neither the scenes nor the same movie repeats).
SESSION_TYPES_OF_STIMULUS = {
    "natural_scenes": ("brain_observatory_1.1",),
    "natural_movie_one": ("brain_observatory_1.1",),
}
# Quality filter key (config data.neuropixels.units) → (units.csv column, kept when).
UNIT_FILTERS = {
    "isi_violations_maximum": ("isi_violations", lambda value, limit: value <= limit),
    "amplitude_cutoff_maximum": ("amplitude_cutoff", lambda value, limit: value <= limit),
    "presence_ratio_minimum": ("presence_ratio", lambda value, limit: value >= limit),
    "snr_minimum": ("snr", lambda value, limit: value >= limit),
}
REQUIRED_COLUMNS = {
    SESSIONS_FILE: ("id", "session_type"),
    PROBES_FILE: ("id", "ecephys_session_id"),
    CHANNELS_FILE: ("id", "ecephys_probe_id", "ecephys_structure_acronym"),
    UNITS_FILE: ("id", "ecephys_channel_id"),
}


@lru_cache(maxsize=None)
def _table(path: Path) -> tuple[dict, ...]:
    try:
        with open(path, newline="") as handle:
            rows = tuple(csv.DictReader(handle))
    except FileNotFoundError:
        raise ValueError(f"{path}: the Neuropixels cache has no {path.name}; fetch the index (`snakemake neuropixels_index`)") from None
    missing = [column for column in REQUIRED_COLUMNS[path.name] if rows and column not in rows[0]]
    if not rows or missing:
        raise ValueError(
            f"{path} is not an EcephysProjectCache {path.name}: "
            + ("it has no rows" if not rows else f"it has no column {missing} (columns: {sorted(rows[0])})")
        )
    return rows


def _number(text: str) -> float:
    """A CSV cell as a number; empty or unparseable cells are NaN, which no filter keeps."""
    try:
        return float(text)
    except (TypeError, ValueError):
        return math.nan


def passes(unit: dict, filters: dict, where: Path) -> bool:
    """Whether a units.csv row passes every quality filter that is set (None: not applied).
    AllenSDK keeps only units whose quality is "good" where the column exists; so does this."""
    if unit.get("quality", "good") != "good":
        return False
    for key, limit in filters.items():
        if limit is None:
            continue
        column, keep = UNIT_FILTERS[key]
        if column not in unit:
            raise ValueError(f"{where}: data.neuropixels.units.{key} is set, but the table has no {column} column")
        if not keep(_number(unit[column]), limit):
            return False
    return True


def channel_places(cache_dir: Path) -> dict[str, tuple[str, str]]:
    """channel id → (session id, area acronym)."""
    cache_dir = Path(cache_dir)
    session_of_probe = {probe["id"]: probe["ecephys_session_id"] for probe in _table(cache_dir / PROBES_FILE)}
    return {
        channel["id"]: (session_of_probe.get(channel["ecephys_probe_id"]), channel["ecephys_structure_acronym"])
        for channel in _table(cache_dir / CHANNELS_FILE)
    }


def population_sessions(
    cache_dir: Path, area: str, stimulus: str, session_ids: list[int] | None, filters: dict
) -> list[dict]:
    """Sessions showing ``stimulus`` with at least one ``area`` unit passing ``filters`` (only those
    of ``session_ids`` unless None), sorted by id; each ``{"id", "session_type", "units"}``."""
    cache_dir = Path(cache_dir)
    if stimulus not in SESSION_TYPES_OF_STIMULUS:
        raise ValueError(f"stimulus {stimulus!r} is not one of {sorted(SESSION_TYPES_OF_STIMULUS)}")
    sessions = {row["id"]: row for row in _table(cache_dir / SESSIONS_FILE)}
    if session_ids is not None:
        listed = [str(session) for session in session_ids]
        unknown = sorted(set(listed) - set(sessions))
        if unknown:
            raise ValueError(f"data.neuropixels.sessions: sessions {unknown} are not in the cache {cache_dir} ({SESSIONS_FILE})")
        wrong_type = {
            session: sessions[session]["session_type"]
            for session in listed
            if sessions[session]["session_type"] not in SESSION_TYPES_OF_STIMULUS[stimulus]
        }
        if wrong_type:
            raise ValueError(
                f"data.neuropixels.sessions: sessions {wrong_type} do not show {stimulus} (only "
                f"{list(SESSION_TYPES_OF_STIMULUS[stimulus])} sessions do); leave them out of data.neuropixels.sessions"
            )
        sessions = {session: sessions[session] for session in listed}
    showing = {
        session for session, row in sessions.items() if row["session_type"] in SESSION_TYPES_OF_STIMULUS[stimulus]
    }
    where = channel_places(cache_dir)
    recorded, kept = Counter(), Counter()
    for unit in _table(cache_dir / UNITS_FILE):
        session, unit_area = where.get(unit["ecephys_channel_id"], (None, None))
        if unit_area != area or session not in showing:
            continue
        recorded[session] += 1
        if passes(unit, filters, cache_dir / UNITS_FILE):
            kept[session] += 1
    if not kept:
        set_filters = {key: limit for key, limit in filters.items() if limit is not None}
        raise ValueError(
            f"the Neuropixels cache {cache_dir} has no {area} unit that passes the quality filters {set_filters} "
            f"in a session showing {stimulus} ({len(showing)} such sessions"
            f"{'' if session_ids is None else ' among data.neuropixels.sessions'}; {sum(recorded.values())} {area} "
            f"units before the filters). Areas with units: {sorted({area for _, area in where.values() if area})} "
            "(data.areas); the filters are data.neuropixels.units"
        )
    return [
        {"id": int(session), "session_type": sessions[session]["session_type"], "units": kept[session]}
        for session in sorted(kept, key=int)
    ]


def session_file(cache_dir: Path, session_id: int) -> Path:
    """A session's NWB file in a cache, where AllenSDK keeps it."""
    return Path(cache_dir) / NWB_PATTERN.format(session=session_id)

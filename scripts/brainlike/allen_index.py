"""Which Brain Observatory files a population needs, read from a cache's JSON index (no allensdk).

The workflow builds its DAG from this: a population's job lists the NWB and events file of every
experiment it reads as inputs, so a file replaced on disk reruns exactly its dependants. The
AllenSDK job that reads a population checks that AllenSDK selects the same experiments.

Pure Python: it runs while Snakemake parses the workflow (main environment) and in the AllenSDK
environment alike.
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path

# AllenSDK's cache layout under the manifest's directory (the keys of its manifest.json).
CONTAINERS_FILE = "experiment_containers.json"
EXPERIMENTS_FILE = "ophys_experiments.json"
CELL_SPECIMENS_FILE = "cell_specimens.json"
STIMULUS_MAPPINGS_FILE = "stimulus_mappings.json"
INDEX_FILES = (CONTAINERS_FILE, EXPERIMENTS_FILE)
CELL_METRICS_FILES = (CELL_SPECIMENS_FILE, STIMULUS_MAPPINGS_FILE)
NWB_PATTERN = "ophys_experiment_data/{experiment}.nwb"
EVENTS_PATTERN = "ophys_experiment_events/{experiment}_events.npz"

# The Brain Observatory's session types and the stimuli they show (allensdk's stimulus_info).
SESSIONS_OF_STIMULUS = {
    "natural_scenes": ("three_session_B",),
    "natural_movie_one": ("three_session_A", "three_session_B", "three_session_C", "three_session_C2"),
}


def driver_line(record: dict) -> str | None:
    """The Cre line of a container or experiment record: its first driver line named *Cre*."""
    for line in record["specimen"]["donor"]["transgenic_lines"]:
        if line["transgenic_line_type_name"] == "driver" and "Cre" in line["name"]:
            return line["name"]
    return None


@lru_cache(maxsize=None)
def _read(path: Path) -> list[dict]:
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError as error:
        raise ValueError(f"{path} is not valid JSON ({error}); delete it and rerun to fetch it again") from error


def population_experiments(
    cache_dir: Path, area: str, depth: int, cre_line: str, stimulus: str, container_ids: list[int] | None
) -> list[dict]:
    """Experiments showing ``stimulus`` in the non-failed containers of area × depth × Cre line
    (only those of ``container_ids`` unless None), sorted by (container, experiment).

    Each is ``{"id", "container_id", "session_type"}``.
    """
    cache_dir = Path(cache_dir)
    if stimulus not in SESSIONS_OF_STIMULUS:
        raise ValueError(f"stimulus {stimulus!r} is not one of {sorted(SESSIONS_OF_STIMULUS)}")
    of_area = [
        container
        for container in _read(cache_dir / CONTAINERS_FILE)
        if not container.get("failed", False)
        and container["targeted_structure"]["acronym"] == area
        and driver_line(container) == cre_line
    ]
    if container_ids is not None:
        unknown = sorted(set(container_ids) - {container["id"] for container in of_area})
        if unknown:
            raise ValueError(
                f"data.containers: containers {unknown} listed for {area} are not {area} {cre_line} containers of "
                f"the cache {cache_dir} (or are marked failed)"
            )
    containers = {
        container["id"]
        for container in of_area
        if container["imaging_depth"] == depth and (container_ids is None or container["id"] in container_ids)
    }
    experiments = [
        {"id": record["id"], "container_id": record["experiment_container_id"], "session_type": record["stimulus_name"]}
        for record in _read(cache_dir / EXPERIMENTS_FILE)
        if record["experiment_container_id"] in containers
        and not record.get("experiment_container", {}).get("failed", False)
        and record["stimulus_name"] in SESSIONS_OF_STIMULUS[stimulus]
    ]
    if not experiments:
        depths = sorted({container["imaging_depth"] for container in of_area})
        lines = sorted({driver_line(container) or "none" for container in _read(cache_dir / CONTAINERS_FILE)
                        if container["targeted_structure"]["acronym"] == area})  # fmt: skip
        raise ValueError(
            f"the cache {cache_dir} has no experiment showing {stimulus} in a {cre_line} container of {area} at "
            f"{depth} µm{'' if container_ids is None else f' among data.containers {sorted(container_ids)}'}. "
            f"{area} {cre_line} containers are at depths {depths} µm (data.depths); {area} has containers of the "
            f"Cre lines {lines} (data.cre_line)"
        )
    return sorted(experiments, key=lambda experiment: (experiment["container_id"], experiment["id"]))


def experiment_files(cache_dir: Path, experiment_id: int) -> dict[str, Path]:
    """The NWB and events file of one experiment in a cache."""
    return {
        "nwb": Path(cache_dir) / NWB_PATTERN.format(experiment=experiment_id),
        "events": Path(cache_dir) / EVENTS_PATTERN.format(experiment=experiment_id),
    }

"""Read Brain Observatory data through AllenSDK: per-experiment responses, stimulus templates,
running modulation; and fetch a cache's index.

Runs in the AllenSDK environment and only reads: it writes plain arrays with a JSON sidecar
(brainlike.recordings), and everything numeric after that runs in the main environment. The reading
commands open the cache with an API that refuses every network call (``open_cache(manifest,
offline=True)``), so a file missing from the cache is a clear error naming it, never a download
attempt or a hang; only ``index`` and ``cell-metrics`` go online, to fetch the cache's JSON records.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import h5py
import numpy as np
from allensdk.api.queries.brain_observatory_api import BrainObservatoryApi
from allensdk.core.brain_observatory_cache import BrainObservatoryCache

from . import allen_index
from .atomic import write_npz
from .downloads import CorruptFileError, OfflineCacheError, verify_events, verify_nwb
from .recordings import write_recordings
from .responses import movie_responses, scene_responses
from .stimuli import N_MOVIE_FRAMES, N_SCENES


class MissingStimulusError(ValueError):
    """An NWB file without the stimulus table or template its experiment's session type promises."""


def _missing(cache: BrainObservatoryCache, experiment_id: int, what: str, has: list[str]) -> MissingStimulusError:
    path = cache.get_cache_path(None, cache.EXPERIMENT_DATA_KEY, experiment_id)
    return MissingStimulusError(
        f"{path}: experiment {experiment_id} has no {what} (it has {sorted(has)}), although the cache index says "
        "its session shows it. The file is incomplete or not a Brain Observatory NWB file: delete it and rerun "
        "(the download rule fetches it again; embedded data: the embedded_cache rule writes it again), or leave "
        "its container out with data.containers"
    )


class OfflineBrainObservatoryApi(BrainObservatoryApi):
    """An API that serves nothing: everything must already be in the cache.

    ``BrainObservatoryCache.get_ophys_experiments`` queries the eye-tracking file list even when
    its cache is complete; that one query is answered with no files.
    """

    def __init__(self, cache_dir: Path):
        super().__init__()
        self._cache_dir = cache_dir

    def template_query(self, template_name, entry_name, **kwargs):
        if entry_name == "all_eye_mapping_files":
            return []
        raise OfflineCacheError(
            f"offline cache {self._cache_dir}: the data for {entry_name} {kwargs} is not in it, and this "
            "cache refuses network access"
        )

    def _cached_file(self, experiment_id, file_name, what):
        # allensdk's "lazy" strategy downloads only a missing file; offline, a missing file is an error.
        if not Path(file_name).is_file():
            raise OfflineCacheError(
                f"offline cache {self._cache_dir}: the {what} of experiment {experiment_id} is missing "
                f"({file_name}), and this cache refuses network access"
            )

    def save_ophys_experiment_data(self, ophys_experiment_id, file_name, **_):
        self._cached_file(ophys_experiment_id, file_name, "NWB file")

    def save_ophys_experiment_event_data(self, ophys_experiment_id, file_name, **_):
        self._cached_file(ophys_experiment_id, file_name, "events file")

    def save_ophys_experiment_analysis_data(self, ophys_experiment_id, file_name, **_):
        self._cached_file(ophys_experiment_id, file_name, "analysis file")

    def retrieve_parsed_json_over_http(self, url, post=False):
        raise OfflineCacheError(f"offline cache {self._cache_dir}: refused network query {url}")

    def retrieve_file_over_http(self, url, file_path, zipped=False):
        raise OfflineCacheError(f"offline cache {self._cache_dir}: refused download of {file_path}")


def open_cache(manifest: Path, offline: bool) -> BrainObservatoryCache:
    manifest = Path(manifest)
    if offline:
        if not manifest.is_file():
            raise OfflineCacheError(f"offline cache: no manifest at {manifest}")
        return BrainObservatoryCache(manifest_file=str(manifest), api=OfflineBrainObservatoryApi(manifest.parent))
    return BrainObservatoryCache(manifest_file=str(manifest))


def find_containers(
    cache: BrainObservatoryCache, area: str, depth: int, cre_line: str, container_ids: list[int] | None
) -> list[dict]:
    """The containers of area × depth × Cre line (those of ``container_ids`` only, unless None)."""
    containers = cache.get_experiment_containers(
        ids=container_ids, targeted_structures=[area], imaging_depths=[depth], cre_lines=[cre_line]
    )
    if not containers:
        available = sorted(
            {(c["targeted_structure"], c["imaging_depth"], c["cre_line"]) for c in cache.get_experiment_containers()}
        )
        raise ValueError(
            f"no experiment container for area {area}, depth {depth} µm, Cre line {cre_line}"
            f"{'' if container_ids is None else ' among data.containers'}; "
            f"the cache has (area, depth, Cre line): {available}"
        )
    return containers


def find_experiments(
    cache: BrainObservatoryCache, area: str, depth: int, cre_line: str, stimulus: str, container_ids: list[int] | None
) -> list[dict]:
    """Experiments showing ``stimulus`` in the containers of area × depth × Cre line, sorted by
    (container, experiment)."""
    containers = find_containers(cache, area, depth, cre_line, container_ids)
    experiments = cache.get_ophys_experiments(
        experiment_container_ids=[c["id"] for c in containers], stimuli=[stimulus]
    )
    if not experiments:
        raise ValueError(f"no experiment shows {stimulus} in containers {[c['id'] for c in containers]}")
    return sorted(experiments, key=lambda e: (e["experiment_container_id"], e["id"]))


def _checked(cache: BrainObservatoryCache, key: str, experiment_id: int, verify) -> None:
    """A file already in the cache must be whole: a truncated one is named, not read half-way."""
    path = Path(cache.get_cache_path(None, key, experiment_id))
    if path.exists():
        try:
            verify(path)
        except CorruptFileError as error:
            raise CorruptFileError(
                f"{error}. Delete it and rerun: the download rule (real data) fetches it again, the "
                "embedded_cache rule (embedded data) writes it again"
            ) from error


def _trace(cache: BrainObservatoryCache, experiment_id: int, signal: str) -> tuple[np.ndarray, np.ndarray]:
    """(cell specimen ids, cells × frames trace) of one experiment."""
    _checked(cache, cache.EXPERIMENT_DATA_KEY, experiment_id, verify_nwb)
    data_set = cache.get_ophys_experiment_data(experiment_id)
    if signal == "events":
        _checked(cache, cache.EVENTS_DATA_KEY, experiment_id, verify_events)
        trace = cache.get_ophys_experiment_events(experiment_id)
    elif signal == "dff":
        _timestamps, trace = data_set.get_dff_traces()
    else:
        raise ValueError(f"responses.signal: {signal!r} is not one of 'events', 'dff'")
    return np.asarray(data_set.get_cell_specimen_ids()), np.asarray(trace, dtype=np.float64)


def experiment_responses(cache: BrainObservatoryCache, experiment_id: int, stimulus: str, options: dict) -> dict:
    """One experiment's responses: ``{"responses": trials × stimuli × cells, "unit_id": cell ids}``.

    ``options``: ``signal`` and the stimulus's own options (the config's ``responses.<stimulus>``).
    """
    cell_ids, trace = _trace(cache, experiment_id, options["signal"])
    data_set = cache.get_ophys_experiment_data(experiment_id)
    if stimulus not in data_set.list_stimuli():
        raise _missing(cache, experiment_id, f"{stimulus} stimulus table", data_set.list_stimuli())
    table = data_set.get_stimulus_table(stimulus)
    frame, start, end = (table[column].to_numpy() for column in ("frame", "start", "end"))
    if stimulus == "natural_scenes":
        responses = scene_responses(
            trace, frame, start, end, N_SCENES, options["window"], options["window_frames"], options["statistic"],
            options["blanks"],
        )  # fmt: skip
    elif stimulus == "natural_movie_one":
        responses = movie_responses(trace, frame, start, N_MOVIE_FRAMES, options["segment_frames"], options["latency_frames"])
    else:
        raise ValueError(f"stimulus {stimulus!r} is not one of 'natural_scenes', 'natural_movie_one'")
    return {"responses": responses, "unit_id": cell_ids.astype(np.int64)}


def population_recordings(
    cache: BrainObservatoryCache, area: str, depth: int, cre_line: str, stimulus: str, options: dict,
    container_ids: list[int] | None,
) -> tuple[list[dict], dict]:  # fmt: skip
    """Every experiment of area × depth × Cre line showing ``stimulus``: (recordings, metadata).

    The workflow listed this job's input files from the cache's index (brainlike.allen_index);
    AllenSDK's own selection must be the same experiments, or the job would read files it was not
    given.
    """
    experiments = find_experiments(cache, area, depth, cre_line, stimulus, container_ids)
    found = sorted(experiment["id"] for experiment in experiments)
    cache_dir = Path(cache.manifest_path).parent
    listed = sorted(e["id"] for e in allen_index.population_experiments(cache_dir, area, depth, cre_line, stimulus, container_ids))
    if found != listed:
        raise ValueError(
            f"{stimulus} {area} {depth} µm: AllenSDK selects experiments {found}, the workflow's reading of the "
            f"cache index in {cache_dir} listed {listed}; please report this with the two index files"
        )
    recordings = [
        {
            **experiment_responses(cache, experiment["id"], stimulus, options),
            "container_id": experiment["experiment_container_id"],
            "experiment_id": experiment["id"],
            "session_type": experiment["session_type"],
        }
        for experiment in experiments
    ]
    metadata = {"area": area, "depth": depth, "cre_line": cre_line, "stimulus": stimulus, "signal": options["signal"],
                "options": {key: value for key, value in options.items() if key != "signal"}}  # fmt: skip
    return recordings, metadata


def stimulus_template(cache: BrainObservatoryCache, stimulus: str, experiment_id: int) -> dict[str, np.ndarray]:
    """The stimulus as shown (n × H × W uint8), from one experiment's NWB file."""
    _checked(cache, cache.EXPERIMENT_DATA_KEY, experiment_id, verify_nwb)
    data_set = cache.get_ophys_experiment_data(experiment_id)
    try:
        images = data_set.get_stimulus_template(stimulus)
    except KeyError:
        with h5py.File(data_set.nwb_file, "r") as nwb:
            templates = [name.removesuffix("_image_stack") for name in nwb.get("stimulus/templates", {})]
        raise _missing(cache, experiment_id, f"{stimulus} template", templates) from None
    return {"images": np.asarray(images, dtype=np.uint8), "experiment_id": np.array(experiment_id)}


def first_experiment(
    cache: BrainObservatoryCache, areas: list[str], depths: list[int], cre_line: str, stimulus: str,
    containers: dict[str, list[int] | None],
) -> int:  # fmt: skip
    """The first experiment (areas, then depths, in the config's order) that shows ``stimulus``."""
    for area in areas:
        for depth in depths:
            try:
                return find_experiments(cache, area, depth, cre_line, stimulus, containers.get(area))[0]["id"]
            except ValueError:
                continue
    raise ValueError(f"no experiment in areas {areas}, depths {depths}, Cre line {cre_line} shows {stimulus}")


def running_modulation(
    cache: BrainObservatoryCache, area: str, depth: int, cre_line: str, container_ids: list[int] | None
) -> dict[int, float | None]:
    """AllenSDK's running-modulation p-value (p_run_mod_ns, natural_scenes) of every cell of the
    population's containers; None where a cell has none."""
    containers = [container["id"] for container in find_containers(cache, area, depth, cre_line, container_ids)]
    return {
        int(cell["cell_specimen_id"]): cell.get("p_run_mod_ns")
        for cell in cache.get_cell_specimens(experiment_container_ids=containers)
    }


def fetch_index(manifest: Path) -> None:
    """Fetch the cache's container and experiment records (online; writes them beside the manifest)."""
    cache = open_cache(manifest, offline=False)
    cache.get_experiment_containers()
    cache.get_ophys_experiments()


def fetch_cell_metrics(manifest: Path) -> None:
    """Fetch the cache's cell records and stimulus mappings (online), for running modulation."""
    open_cache(manifest, offline=False).get_cell_specimens()


def _write_json(path: Path, payload) -> None:
    partial = path.with_name(path.name + ".partial")
    partial.write_text(json.dumps(payload, indent=1))
    partial.replace(path)


def main(argv: list[str] | None = None) -> None:
    """Command line of the data stage's AllenSDK rules (run with the AllenSDK environment's Python)."""
    parser = argparse.ArgumentParser(description=main.__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    population = argparse.ArgumentParser(add_help=False)
    population.add_argument("--manifest", required=True, type=Path)
    population.add_argument("--cre-line", required=True)
    population.add_argument("--area", required=True)
    population.add_argument("--depth", required=True, type=int)
    population.add_argument("--containers", nargs="*", type=int, help="container ids to keep (default: all)")
    population.add_argument("--out", required=True, type=Path)
    recordings = commands.add_parser("recordings", parents=[population], help="per-experiment responses")
    recordings.add_argument("--stimulus", required=True)
    recordings.add_argument("--options", required=True, type=json.loads,
                            help="JSON: signal and the config's responses.<stimulus> options")  # fmt: skip
    commands.add_parser("running-modulation", parents=[population], help="p_run_mod_ns of every cell")
    template = commands.add_parser("template", help="the stimulus template as shown")
    template.add_argument("--manifest", required=True, type=Path)
    template.add_argument("--stimulus", required=True)
    template.add_argument("--experiment", type=int, help="read it from this experiment")
    template.add_argument("--search", type=json.loads,
                          help='JSON {"areas", "depths", "cre_line", "containers"}: read it from the first experiment found')  # fmt: skip
    template.add_argument("--out", required=True, type=Path)
    for name in ("index", "cell-metrics"):
        online = commands.add_parser(name, help="fetch the cache's JSON records (online)")
        online.add_argument("--manifest", required=True, type=Path)
    args = parser.parse_args(argv)
    if args.command == "index":
        fetch_index(args.manifest)
        return
    if args.command == "cell-metrics":
        fetch_cell_metrics(args.manifest)
        return
    cache = open_cache(args.manifest, offline=True)
    if args.command == "template":
        experiment = args.experiment
        if experiment is None:
            search = args.search
            experiment = first_experiment(
                cache, search["areas"], search["depths"], search["cre_line"], args.stimulus, search["containers"]
            )
        write_npz(args.out, stimulus_template(cache, args.stimulus, experiment))
    elif args.command == "recordings":
        parts, metadata = population_recordings(
            cache, args.area, args.depth, args.cre_line, args.stimulus, args.options, args.containers
        )
        write_recordings(args.out, parts, metadata)
    else:
        p_values = running_modulation(cache, args.area, args.depth, args.cre_line, args.containers)
        _write_json(args.out, {str(cell): p for cell, p in sorted(p_values.items())})


if __name__ == "__main__":
    main()

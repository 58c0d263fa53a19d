"""Read Brain Observatory data through AllenSDK: populations of cells and stimulus templates.

Runs in the AllenSDK environment. ``open_cache(manifest, offline=True)`` gives a
``BrainObservatoryCache`` whose API refuses every network call, so a file missing from a local
cache is a clear error naming it, never a download attempt or a hang.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
from allensdk.api.queries.brain_observatory_api import BrainObservatoryApi
from allensdk.core.brain_observatory_cache import BrainObservatoryCache

from .atomic import write_npz
from .downloads import CorruptFileError, verify_events, verify_nwb
from .responses import movie_responses, pool_cells, scene_responses, segment_of_frame, select_cells

N_SCENES = 118
N_MOVIE_FRAMES = 900
MEAN_GREY = 127  # the Brain Observatory's blank screen: mean luminance


class OfflineCacheError(RuntimeError):
    pass


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
            "cache refuses network access (data.source: embedded)"
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


def find_experiments(
    cache: BrainObservatoryCache, area: str, depth: int, cre_line: str, stimulus: str, container_ids: list[int] | None
) -> list[dict]:
    """Experiments showing ``stimulus`` in the containers of area × depth × Cre line (those of
    ``container_ids`` only, unless None)."""
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


def _experiment_responses(
    cache: BrainObservatoryCache, experiment_id: int, stimulus: str, options: dict
) -> tuple[np.ndarray, np.ndarray]:
    """(cell specimen ids, trials × stimuli × cells) of one experiment."""
    cell_ids, trace = _trace(cache, experiment_id, options["signal"])
    table = cache.get_ophys_experiment_data(experiment_id).get_stimulus_table(stimulus)
    frame, start, end = (table[column].to_numpy() for column in ("frame", "start", "end"))
    if stimulus == "natural_scenes":
        scenes = options["natural_scenes"]
        responses = scene_responses(
            trace, frame, start, end, N_SCENES, scenes["window"], scenes["window_frames"], scenes["statistic"],
            scenes["blanks"],
        )  # fmt: skip
    elif stimulus == "natural_movie_one":
        movie = options["natural_movie_one"]
        responses = movie_responses(trace, frame, start, N_MOVIE_FRAMES, movie["segment_frames"], movie["latency_frames"])
    else:
        raise ValueError(f"stimulus {stimulus!r} is not one of 'natural_scenes', 'natural_movie_one'")
    return cell_ids, responses


def _matched_cells(parts: list[tuple[dict, np.ndarray, np.ndarray]]) -> list[tuple[dict, np.ndarray, np.ndarray]]:
    """Cells recorded in every session of their container, once each, their sessions' repeats joined."""
    merged = []
    for container_id in sorted({experiment["experiment_container_id"] for experiment, _, _ in parts}):
        sessions = sorted(
            (part for part in parts if part[0]["experiment_container_id"] == container_id),
            key=lambda part: part[0]["session_type"],
        )
        common = sorted(set.intersection(*(set(ids.tolist()) for _, ids, _ in sessions)))
        columns = []
        for _, ids, responses in sessions:
            position = {cell: column for column, cell in enumerate(ids.tolist())}
            columns.append(responses[:, :, [position[cell] for cell in common]])
        joined = np.concatenate(columns, axis=0)
        first = dict(sessions[0][0], session_type="+".join(part[0]["session_type"] for part in sessions))
        merged.append((first, np.array(common, dtype=np.int64), joined))
    return merged


def population_responses(
    cache: BrainObservatoryCache,
    area: str,
    depth: int,
    cre_line: str,
    stimulus: str,
    options: dict,
    container_ids: list[int] | None,
) -> tuple[dict[str, np.ndarray], dict]:
    """Every selected cell of area × depth × Cre line pooled: (arrays, metadata).

    ``arrays["responses"]`` is trials × stimuli × cells. Experiments with more trials than the
    others keep their first trials, so trial k exists for every cell. ``options`` is the config's
    ``responses`` section plus ``cells`` (selection) and ``seed``. The metadata records every
    choice and how many cells each selection step removed.
    """
    parts = []
    for experiment in find_experiments(cache, area, depth, cre_line, stimulus, container_ids):
        cell_ids, responses = _experiment_responses(cache, experiment["id"], stimulus, options)
        parts.append((experiment, np.asarray(cell_ids, dtype=np.int64), responses))
    n_experiments = len(parts)
    if stimulus == "natural_movie_one" and options["natural_movie_one"]["sessions"] == "matched":
        parts = _matched_cells(parts)
    arrays = {
        "responses": pool_cells([responses for _, _, responses in parts]),
        "cell_specimen_id": np.concatenate([ids for _, ids, _ in parts]),
        "container_id": np.concatenate([np.full(len(ids), e["experiment_container_id"]) for e, ids, _ in parts]),
        "experiment_id": np.concatenate([np.full(len(ids), e["id"]) for e, ids, _ in parts]),
        "session_type": np.concatenate([np.full(len(ids), e["session_type"]) for e, ids, _ in parts]),
    }
    running_p = None
    if options["cells"]["exclude_running_modulated"] and stimulus == "natural_scenes":
        metrics = {
            cell["cell_specimen_id"]: cell.get("p_run_mod_ns")
            for cell in cache.get_cell_specimens(ids=arrays["cell_specimen_id"].tolist())
        }
        running_p = np.array([np.nan if metrics.get(i) is None else metrics[i] for i in arrays["cell_specimen_id"]])
    arrays, selection = select_cells(arrays, f"{stimulus} {area} {depth} µm", options, running_p, "p_run_mod_ns")
    metadata = {
        "area": area, "depth": depth, "cre_line": cre_line, "stimulus": stimulus,
        "signal": options["signal"], "options": options[stimulus],
        "experiments": n_experiments, "trials": arrays["responses"].shape[0],
        "selection": selection,
    }  # fmt: skip
    return arrays, metadata


def stimulus_templates(
    cache: BrainObservatoryCache, areas: list[str], depths: list[int], cre_line: str, stimulus: str,
    options: dict, container_ids: list[int] | None,
) -> dict[str, np.ndarray]:  # fmt: skip
    """The stimulus as shown (n × H × W uint8) and the model stage's grouping of it into rows.

    natural_scenes with the blank kept gets a mean-grey image as its last condition; the movie's
    frames are grouped into the same segments as the neural responses.
    """
    for area in areas:
        for depth in depths:
            try:
                experiment = find_experiments(cache, area, depth, cre_line, stimulus, container_ids)[0]
            except ValueError:
                continue
            images = np.asarray(
                cache.get_ophys_experiment_data(experiment["id"]).get_stimulus_template(stimulus), dtype=np.uint8
            )
            if stimulus == "natural_movie_one":
                groups = segment_of_frame(len(images), options["natural_movie_one"]["segment_frames"])
            else:
                if options["natural_scenes"]["blanks"] == "keep":
                    images = np.concatenate([images, np.full((1, *images.shape[1:]), MEAN_GREY, dtype=np.uint8)])
                groups = np.arange(len(images))
            return {"images": images, "groups": groups, "experiment_id": experiment["id"]}
    raise ValueError(f"no experiment in areas {areas}, depths {depths}, Cre line {cre_line} shows {stimulus}")


def main(argv: list[str] | None = None) -> None:
    """Command line of the data stage's rules (run with the AllenSDK environment's Python)."""
    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("what", choices=["responses", "stimulus"])
    parser.add_argument("--manifest", required=True, type=Path)
    parser.add_argument("--offline", action="store_true", help="refuse all network access")
    parser.add_argument("--cre-line", required=True)
    parser.add_argument("--stimulus", required=True)
    parser.add_argument("--areas", nargs="+", required=True)
    parser.add_argument("--depths", nargs="+", type=int, required=True)
    parser.add_argument("--containers", nargs="*", type=int, help="container ids to keep (default: all)")
    parser.add_argument(
        "--options", required=True, type=json.loads,
        help="JSON: the config's responses section, plus cells (selection) and seed",
    )  # fmt: skip
    parser.add_argument("--out", required=True, type=Path)
    args = parser.parse_args(argv)
    cache = open_cache(args.manifest, args.offline)
    if args.what == "stimulus":
        arrays = stimulus_templates(
            cache, args.areas, args.depths, args.cre_line, args.stimulus, args.options, args.containers
        )
    else:
        (area,), (depth,) = args.areas, args.depths
        arrays, metadata = population_responses(
            cache, area, depth, args.cre_line, args.stimulus, args.options, args.containers
        )
        arrays["metadata"] = np.array(json.dumps(metadata))
    write_npz(args.out, arrays)


if __name__ == "__main__":
    main()

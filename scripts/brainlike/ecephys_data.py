"""Read Visual Coding Neuropixels data through AllenSDK's ``EcephysProjectCache``: per-session spike
counts of one area's units, stimulus templates; and fetch a cache's index.

Runs in the AllenSDK environment and only reads; it hands over the same per-recording tensors as
the 2-photon reader (brainlike.recordings), with a session (one mouse) in the role of the 2-photon
container. Reading opens the cache with a fetch API that serves nothing and a stream writer that
refuses every download, so a missing file is a clear error naming it, never a download attempt;
only ``index`` and ``template`` (where data.offline is not true) go online.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import pynwb
from allensdk.brain_observatory.ecephys.ecephys_project_api import EcephysProjectFixedApi
from allensdk.brain_observatory.ecephys.ecephys_project_cache import EcephysProjectCache
from allensdk.brain_observatory.ecephys.ecephys_session import EcephysSession

from . import ecephys_index
from .atomic import write_npz
from .downloads import CorruptFileError, OfflineCacheError, verify_session_nwb
from .recordings import write_recordings
from .responses import movie_spike_counts, scene_spike_counts
from .stimuli import N_MOVIE_FRAMES, N_SCENES

# The filters AllenSDK applies itself when it opens a session; SNR is applied here after.
ALLENSDK_FILTERS = ("isi_violations_maximum", "amplitude_cutoff_maximum", "presence_ratio_minimum")
SIGNAL = "spike counts"
# Neuropixels sessions pool mice of several genotypes; the tables' cre_line column says so.
GENOTYPES = "all genotypes"


def _refuse_download(*_args, **_kwargs):
    raise OfflineCacheError("this cache refuses network access: the file is not in it")


def open_cache(manifest: Path, offline: bool) -> EcephysProjectCache:
    """The cache at ``manifest``; offline, one that never goes online and never deletes a file it
    failed to read (``fetch_tries=1``: AllenSDK's retry of a failed read removes the file)."""
    manifest = Path(manifest)
    if offline:
        missing = [name for name in ecephys_index.INDEX_FILES if not (manifest.parent / name).is_file()]
        if missing:
            raise OfflineCacheError(f"offline Neuropixels cache {manifest.parent}: it has no {missing}")
        return EcephysProjectCache(
            manifest=str(manifest), fetch_api=EcephysProjectFixedApi(), stream_writer=_refuse_download, fetch_tries=1
        )
    return EcephysProjectCache.from_warehouse(manifest=str(manifest))


def _session(cache: EcephysProjectCache, session_id: int, filters: dict):
    path = Path(cache.get_cache_path(None, cache.SESSION_NWB_KEY, session_id, session_id))
    if not path.is_file():
        raise OfflineCacheError(f"{path}: session {session_id}'s NWB file is not in the cache (the download rule fetches it)")
    try:
        verify_session_nwb(path)
    except CorruptFileError as error:
        raise CorruptFileError(
            f"{error}. Delete it and rerun: the download rule (real data) fetches it again, the embedded "
            "Neuropixels rule writes it again"
        ) from error
    # AllenSDK's NWB API reads the whole file again for every table asked of it (seven reads of about
    # 1.2 s each per session on pynwb 2.8). The session is built as the cache's get_session_data
    # builds it, with its API handed the file read once through the attribute NwbApi.from_nwbfile sets.
    api = cache._build_nwb_api_for_session(
        path, session_id, filter_by_validity=True, **{key: filters.get(key) for key in ALLENSDK_FILTERS}
    )
    api._nwbfile = pynwb.NWBHDF5IO(str(path), "r", load_namespaces=True).read()
    return EcephysSession(api=api, test=True)


def session_responses(
    cache: EcephysProjectCache, session_id: int, area: str, stimulus: str, filters: dict, options: dict
) -> dict:
    """One session's responses of one area's units: ``{"responses": trials × stimuli × units,
    "unit_id"}``. Scenes: spike counts in ``options["window_s"]`` after each onset; movie: each
    frame's spike count over its presentation, averaged into ``options["segment_frames"]``-frame
    segments."""
    session = _session(cache, session_id, filters)
    units = session.units
    units = units[units["ecephys_structure_acronym"] == area]
    if filters.get("snr_minimum") is not None:
        units = units[units["snr"] >= filters["snr_minimum"]]
    if units.empty:
        raise ValueError(
            f"session {session_id}: AllenSDK keeps no {area} unit under the filters {filters}, although the "
            "cache's units.csv lists some; the session's NWB file and its CSV index disagree (fetch both again)"
        )
    table = session.stimulus_presentations
    table = table[table["stimulus_name"] == stimulus]
    if table.empty:
        shown = sorted(set(session.stimulus_presentations["stimulus_name"]))
        raise ValueError(f"session {session_id} does not show {stimulus} (it shows {shown})")
    spike_times = [np.asarray(session.spike_times[unit]) for unit in units.index]
    frame = table["frame"].astype(float).to_numpy()
    start, stop = table["start_time"].to_numpy(dtype=float), table["stop_time"].to_numpy(dtype=float)
    if stimulus == "natural_scenes":
        responses = scene_spike_counts(spike_times, frame, start, N_SCENES, tuple(options["window_s"]), options["blanks"])
    elif stimulus == "natural_movie_one":
        responses = movie_spike_counts(spike_times, frame, start, stop, N_MOVIE_FRAMES, options["segment_frames"])
    else:
        raise ValueError(f"stimulus {stimulus!r} is not one of 'natural_scenes', 'natural_movie_one'")
    return {"responses": responses, "unit_id": units.index.to_numpy(dtype=np.int64)}


def population_recordings(
    cache: EcephysProjectCache, area: str, stimulus: str, session_ids: list[int] | None, filters: dict, options: dict
) -> tuple[list[dict], dict]:
    """Every session with ``area`` units passing ``filters`` that shows ``stimulus``: (recordings,
    metadata), each session one recording with the session as its container (its animal)."""
    cache_dir = Path(cache.manifest_path).parent
    sessions = ecephys_index.population_sessions(cache_dir, area, stimulus, session_ids, filters)
    recordings = [
        {
            **session_responses(cache, session["id"], area, stimulus, filters, options),
            "container_id": session["id"],
            "experiment_id": session["id"],
            "session_type": session["session_type"],
        }
        for session in sessions
    ]
    metadata = {"area": area, "depth": "all", "cre_line": GENOTYPES, "stimulus": stimulus, "signal": SIGNAL,
                "options": options, "unit_filters": filters}  # fmt: skip
    return recordings, metadata


def stimulus_template(cache: EcephysProjectCache, stimulus: str) -> dict[str, np.ndarray]:
    """The stimulus as shown (n × H × W uint8), from the cache's template files."""
    if stimulus == "natural_scenes":
        images = [cache.get_natural_scene_template(number) for number in range(N_SCENES)]
    elif stimulus == "natural_movie_one":
        images = cache.get_natural_movie_template(1)
    else:
        raise ValueError(f"stimulus {stimulus!r} is not one of 'natural_scenes', 'natural_movie_one'")
    return {"images": np.asarray(images, dtype=np.uint8)}


def fetch_index(manifest: Path) -> None:
    """Fetch the cache's session, probe, channel and unit tables (online; written beside the manifest)."""
    cache = open_cache(manifest, offline=False)
    cache.get_session_table()
    cache.get_probes()
    cache.get_channels()
    cache.get_units()


def main(argv: list[str] | None = None) -> None:
    """Command line of the Neuropixels data rules (run with the AllenSDK environment's Python)."""
    parser = argparse.ArgumentParser(description=main.__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    recordings = commands.add_parser("recordings", help="per-session spike counts of one area")
    recordings.add_argument("--manifest", required=True, type=Path)
    recordings.add_argument("--area", required=True)
    recordings.add_argument("--stimulus", required=True)
    recordings.add_argument("--sessions", nargs="*", type=int, help="session ids to keep (default: all)")
    recordings.add_argument("--filters", required=True, type=json.loads, help="JSON: data.neuropixels.units")
    recordings.add_argument("--options", required=True, type=json.loads, help="JSON: window_s, blanks, segment_frames")
    recordings.add_argument("--out", required=True, type=Path)
    template = commands.add_parser("template", help="the stimulus template as shown")
    template.add_argument("--manifest", required=True, type=Path)
    template.add_argument("--stimulus", required=True)
    template.add_argument("--offline", action="store_true", help="never download a missing template file")
    template.add_argument("--out", required=True, type=Path)
    index = commands.add_parser("index", help="fetch the cache's CSV tables (online)")
    index.add_argument("--manifest", required=True, type=Path)
    args = parser.parse_args(argv)
    if args.command == "index":
        fetch_index(args.manifest)
    elif args.command == "template":
        write_npz(args.out, stimulus_template(open_cache(args.manifest, offline=args.offline), args.stimulus))
    else:
        parts, metadata = population_recordings(
            open_cache(args.manifest, offline=True), args.area, args.stimulus, args.sessions or None, args.filters,
            args.options,
        )  # fmt: skip
        write_recordings(args.out, parts, metadata)


if __name__ == "__main__":
    main()

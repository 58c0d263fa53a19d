"""Downloads of Brain Observatory files that are atomic, verified, retried and resumable.

allensdk streams a file straight to its final name, with no retry, resume or check; an interrupted
download leaves a truncated NWB that fails much later with an HDF5 error. Here a file is fetched
to ``<name>.partial`` (continued with an HTTP Range request after an interruption), opened and
checked, and only then renamed into place. A file already in place is checked first: a valid one
is never fetched again; a truncated or corrupt one is reported by name and fetched again.

Runs in the AllenSDK environment (numpy 1.23); imports allensdk only to resolve download URLs.
One file per job: a population's job lists every file it reads as an input.
"""

from __future__ import annotations

import argparse
import logging
import re
import time
import zipfile
from pathlib import Path
from typing import Callable

import h5py
import numpy as np
import requests

log = logging.getLogger(__name__)

CHUNK_BYTES = 1 << 20
PIPELINE = "processing/brain_observatory_pipeline"


class CorruptFileError(RuntimeError):
    pass


class OfflineCacheError(RuntimeError):
    """A reader of an offline cache (2-photon or Neuropixels) was asked for a file it does not hold."""


class DownloadError(RuntimeError):
    pass


def verify_nwb(path: Path) -> None:
    """Open a Brain Observatory NWB file and read its traces; raise CorruptFileError naming it."""
    try:
        with h5py.File(path, "r") as nwb:
            dff = nwb[f"{PIPELINE}/DfOverF/imaging_plane_1"]
            traces = dff["data"][()]  # reading every chunk catches truncation anywhere in the file
            n_timestamps = len(dff["timestamps"][()])
            n_cells = len(nwb[f"{PIPELINE}/ImageSegmentation/cell_specimen_ids"][()])
            if "stimulus/presentation" not in nwb:
                raise CorruptFileError(f"{path}: no stimulus/presentation group")
    except CorruptFileError:
        raise
    except (OSError, KeyError, ValueError) as error:
        raise CorruptFileError(f"{path} is truncated or corrupt: {error}") from error
    if traces.ndim != 2 or traces.shape != (n_cells, n_timestamps):
        raise CorruptFileError(
            f"{path}: dF/F is {traces.shape}, expected {n_cells} cells × {n_timestamps} timestamps"
        )


def verify_events(path: Path) -> None:
    """Open an events file and read its events; raise CorruptFileError naming it."""
    try:
        with np.load(path, allow_pickle=False) as events:
            values = events["ev"]
    except (OSError, KeyError, ValueError, EOFError, zipfile.BadZipFile) as error:
        raise CorruptFileError(f"{path} is truncated or corrupt: {error}") from error
    if values.ndim != 2:
        raise CorruptFileError(f"{path}: events are {values.shape}, expected cells × frames")


def verify_session_nwb(path: Path) -> None:
    """Open a Visual Coding Neuropixels session NWB file and read its spike times; raise
    CorruptFileError naming it."""
    try:
        with h5py.File(path, "r") as nwb:
            spike_times = nwb["units/spike_times"][()]  # reading every chunk catches truncation anywhere
            n_units = len(nwb["units/id"][()])
            n_indexed = len(nwb["units/spike_times_index"][()])
            presentations = [name for name in nwb.get("intervals", {}) if name.endswith("_presentations")]
    except (OSError, KeyError, ValueError) as error:
        raise CorruptFileError(f"{path} is truncated or corrupt, or not a Neuropixels session NWB file: {error}") from error
    if n_indexed != n_units or spike_times.ndim != 1:
        raise CorruptFileError(f"{path}: {n_units} units but {n_indexed} spike-time index entries")
    if not presentations:
        raise CorruptFileError(f"{path}: no stimulus presentation table (intervals/*_presentations)")


def fetch(
    url: str,
    destination: Path,
    verify: Callable[[Path], None],
    attempts: int = 5,
    backoff_seconds: float = 2.0,
    timeout_seconds: float = 60.0,
) -> str:
    """Make ``destination`` a verified copy of ``url``; return "valid" or "downloaded"."""
    destination = Path(destination)
    if destination.exists():
        try:
            verify(destination)
            return "valid"
        except CorruptFileError as error:
            log.warning("%s; fetching it again", error)
            destination.unlink()
    destination.parent.mkdir(parents=True, exist_ok=True)
    partial = destination.with_name(destination.name + ".partial")
    last_error: Exception | None = None
    for attempt in range(attempts):
        if attempt:
            time.sleep(backoff_seconds * 2 ** (attempt - 1))
        try:
            _stream(url, partial, timeout_seconds)
            verify(partial)
        except CorruptFileError as error:
            # Complete by length but unreadable: resuming would only append to garbage.
            partial.unlink(missing_ok=True)
            last_error = error
            log.warning("attempt %d/%d: %s", attempt + 1, attempts, error)
            continue
        except (requests.RequestException, OSError) as error:
            last_error = error
            log.warning("attempt %d/%d for %s stopped: %s", attempt + 1, attempts, url, error)
            continue
        partial.replace(destination)
        return "downloaded"
    raise DownloadError(f"{url} -> {destination}: failed after {attempts} attempts; last error: {last_error}")


def _stream(url: str, partial: Path, timeout_seconds: float) -> None:
    """Append the rest of ``url`` to ``partial``, continuing from its current size."""
    offset = partial.stat().st_size if partial.exists() else 0
    headers = {"Range": f"bytes={offset}-"} if offset else {}
    with requests.get(url, stream=True, headers=headers, timeout=timeout_seconds) as response:
        if response.status_code == 416:  # nothing left after offset: the partial file is whole
            return
        response.raise_for_status()
        resumed = offset and response.status_code == 206
        if offset and not resumed:
            log.info("%s: the server ignored the range request; starting over", url)
        expected = response.headers.get("Content-Length")
        start = offset if resumed else 0
        written = start
        with open(partial, "ab" if resumed else "wb") as handle:
            for chunk in response.iter_content(CHUNK_BYTES):
                handle.write(chunk)
                written += len(chunk)
                if (written >> 20) // 64 > ((written - len(chunk)) >> 20) // 64:
                    log.info("%s: %d MB written", partial.name, written >> 20)
        if expected is not None and written - start < int(expected):
            raise requests.ConnectionError(f"{url}: connection closed after {written} of {start + int(expected)} bytes")


FILES = {
    # kind: (allensdk query entry, verifier, pattern of its file name)
    "nwb": ("ophys_experiment_data", verify_nwb, re.compile(r"(\d+)\.nwb")),
    "events": ("ophys_events_file", verify_events, re.compile(r"(\d+)_events\.npz")),
    "session": ("EcephysNwb", verify_session_nwb, re.compile(r"session_(\d+)\.nwb")),
}


def kind_of(path: Path) -> tuple[str, int]:
    """(kind, experiment id) of a cache file named as AllenSDK names it."""
    for kind, (_entry, _verify, pattern) in FILES.items():
        match = pattern.fullmatch(Path(path).name)
        if match:
            return kind, int(match.group(1))
    raise ValueError(
        f"{path}: not an experiment's NWB (<id>.nwb) or events file (<id>_events.npz), or a Neuropixels "
        "session's NWB (session_<id>.nwb)"
    )


def download_file(path: Path, url_of: Callable[[str, int], str], **fetch_options) -> str:
    """Make ``path`` (an experiment's NWB or events file) a verified copy; return the outcome."""
    kind, experiment_id = kind_of(path)
    outcome = fetch(url_of(kind, experiment_id), path, FILES[kind][1], **fetch_options)
    log.info("experiment %d %s: %s (%s, %d bytes)", experiment_id, kind, outcome, path, Path(path).stat().st_size)
    return outcome


def allen_url_of(api) -> Callable[[str, int], str]:
    """The public download address of an experiment's (or a Neuropixels session's) file, from the
    Allen API."""

    def url_of(kind: str, experiment_id: int) -> str:
        entry = FILES[kind][0]
        if kind == "session":
            links = api.model_query(
                "WellKnownFile",
                criteria=f"well_known_file_type[name$eq'{entry}'][attachable_type$eq'EcephysSession']"
                f"[attachable_id$eq{experiment_id}]",
            )
        else:
            links = api.template_query("brain_observatory_queries", entry, ophys_experiment_id=experiment_id)
        if not links:
            raise DownloadError(f"the Allen API lists no {kind} file for experiment {experiment_id}")
        return api.api_url + links[0]["download_link"]

    return url_of


def main(argv: list[str] | None = None) -> None:
    """Command line of the download rule (run with the AllenSDK environment's Python)."""
    from allensdk.api.queries.brain_observatory_api import BrainObservatoryApi

    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("--file", required=True, type=Path, help="the cache file to fetch and verify")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    download_file(args.file, allen_url_of(BrainObservatoryApi()))


if __name__ == "__main__":
    main()

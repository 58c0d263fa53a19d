"""Write the embedded Visual Coding Neuropixels cache, in AllenSDK's own format, from planted drives.

The cache holds what ``EcephysProjectCache`` reads offline: its four CSV tables (sessions, probes,
channels, units), one NWB 2 file per session written with AllenSDK's own writer classes (the ones
Allen wrote the released files with: probes, channels, units with their spike times, stimulus
presentations) and the stimulus templates. The manifest is AllenSDK's own, written by opening the
cache. Runs in the AllenSDK environment.

Every session records every area with one probe. A unit's spikes are an inhomogeneous Poisson
process whose rate is constant within each stimulus presentation: ``RATE_HZ`` × gain × softplus
of (drive + trial noise + baseline), the drive being the unit's readout of its area's planted
layer (brainlike.embedded_units) and the trial noise independent per presentation. Between
stimulus blocks and during blanks the drive is 0. A fraction of the units fail one of AllenSDK's
quality filters (``failing_units``), one filter each in turn; ``truth.json`` lists them.
Same inputs, same bytes.
"""

from __future__ import annotations

import argparse
import json
import shutil
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path

import hdmf.container
import numpy as np
import pandas as pd
import pynwb
import SimpleITK as sitk
from pynwb.epoch import TimeIntervals
from allensdk.brain_observatory.ecephys._channel import Channel
from allensdk.brain_observatory.ecephys._channels import Channels
from allensdk.brain_observatory.ecephys._probe import Probe
from allensdk.brain_observatory.ecephys._unit import Unit
from allensdk.brain_observatory.ecephys._units import Units
from allensdk.brain_observatory.ecephys.probes import Probes
from allensdk.brain_observatory.ecephys.write_nwb.__main__ import add_metadata_to_nwbfile
from allensdk.brain_observatory.nwb import add_stimulus_timestamps

from . import ecephys_index
from .ecephys_data import open_cache
from .embedded_units import STIMULI, drive_key, driven_key, template_key
from .seeds import labelled_rng
from .stimuli import N_MOVIE_FRAMES, N_SCENES

SESSION_TYPE = "brain_observatory_1.1"
FIRST_SESSION_ID = 750_000_000
RATE_HZ = 20.0  # a unit's rate at gain 1 and drive 0 is RATE_HZ × softplus(SHARPNESS·BASELINE)/SHARPNESS ≈ 21 Hz
GAIN_SD = 0.1  # log-normal spread of the units' gains
BASELINE_MEAN, BASELINE_SD = 1.0, 0.1
SHARPNESS = 2.0
SCENE_SECONDS = 0.25
MOVIE_FRAME_SECONDS = 1 / 30
GAP_SECONDS = 5.0
CHANNELS_PER_PROBE = 4
WAVEFORM_SAMPLES = 20
STRUCTURE_IDS = {"VISp": 385, "VISl": 409, "VISal": 402, "VISrl": 417, "VISam": 394, "VISpm": 533}
PROBE_NAMES = ("probeA", "probeB", "probeC", "probeD", "probeE", "probeF")
PASSING_METRICS = {"isi_violations": 0.05, "amplitude_cutoff": 0.01, "presence_ratio": 0.99}
# Each failing unit breaks one of AllenSDK's default filters, in turn.
FAILING_METRICS = ({"isi_violations": 2.0}, {"amplitude_cutoff": 0.3}, {"presence_ratio": 0.5})


def presentations(scene_trials: int, movie_repeats: int, rng: np.random.Generator) -> pd.DataFrame:
    """A session's natural_scenes block (every image and the blank, -1, once per round, rounds
    shuffled independently) and its natural_movie_one block, as AllenSDK's stimulus table."""
    frame = np.concatenate([rng.permutation(np.arange(-1, N_SCENES)) for _ in range(scene_trials)])
    scene_start = GAP_SECONDS + SCENE_SECONDS * np.arange(len(frame))
    movie_first = scene_start[-1] + SCENE_SECONDS + GAP_SECONDS
    movie_start = movie_first + MOVIE_FRAME_SECONDS * np.arange(N_MOVIE_FRAMES * movie_repeats)
    blocks = [
        ("natural_scenes", 0, frame, scene_start, SCENE_SECONDS),
        ("natural_movie_one", 1, np.tile(np.arange(N_MOVIE_FRAMES), movie_repeats), movie_start, MOVIE_FRAME_SECONDS),
    ]
    return pd.concat(
        [
            pd.DataFrame({
                "start_time": start, "stop_time": start + duration, "stimulus_name": name,
                # int64 throughout: AllenSDK reads a float column of 0s and 1s back as booleans.
                "stimulus_block": np.int64(block), "stimulus_index": np.int64(block), "frame": frames.astype(np.int64),
            })  # fmt: skip
            for name, block, frames, start, duration in blocks
        ],
        ignore_index=True,
    )


def spike_trains(rates: np.ndarray, start: np.ndarray, stop: np.ndarray, rng: np.random.Generator) -> list[np.ndarray]:
    """Per unit, sorted spike times of a Poisson process with rate ``rates[unit, interval]`` (Hz)
    constant within each [start, stop)."""
    duration = stop - start
    trains = []
    for unit_rates in rates:
        counts = rng.poisson(unit_rates * duration)
        times = np.repeat(start, counts) + rng.random(counts.sum()) * np.repeat(duration, counts)
        trains.append(np.sort(times))
    return trains


def unit_rates(
    table: pd.DataFrame, drives: dict[str, np.ndarray], noise: float, gain: np.ndarray, baseline: np.ndarray,
    rng: np.random.Generator,
) -> np.ndarray:  # fmt: skip
    """units × presentations: each presentation's rate (Hz); blanks have drive 0."""
    drive = np.zeros((len(gain), len(table)))
    for stimulus in STIMULI:
        rows = np.flatnonzero((table["stimulus_name"] == stimulus).to_numpy() & (table["frame"] >= 0).to_numpy())
        drive[:, rows] = drives[stimulus][table["frame"].to_numpy()[rows]].T
    response = drive + noise * rng.standard_normal(drive.shape) + baseline[:, None]
    return RATE_HZ * gain[:, None] * np.logaddexp(0.0, SHARPNESS * response) / SHARPNESS


def _quality(units: int, failing_fraction: float, rng: np.random.Generator) -> tuple[list[dict], np.ndarray]:
    failing = rng.random(units) < failing_fraction
    metrics = []
    for position in range(units):
        unit = {**PASSING_METRICS, "snr": float(rng.uniform(1.5, 4.0))}
        if failing[position]:
            unit.update(FAILING_METRICS[int(failing[:position].sum()) % len(FAILING_METRICS)])
        metrics.append(unit)
    return metrics, failing


@contextmanager
def _object_ids_from(rng: np.random.Generator) -> Iterator[None]:
    """NWB gives every object a random UUID (hdmf draws uuid4 as each container is made): drawn
    here from the session's own stream instead, so the same inputs write the same bytes."""
    drawn = hdmf.container.uuid4
    hdmf.container.uuid4 = lambda: uuid.UUID(bytes=rng.bytes(16), version=4)
    try:
        yield
    finally:
        hdmf.container.uuid4 = drawn


def write_session(path: Path, session_id: int, table: pd.DataFrame, probes: list[Probe], rng: np.random.Generator) -> None:
    with _object_ids_from(rng):
        nwbfile = _session_file(session_id, table, probes)
        path.parent.mkdir(parents=True, exist_ok=True)
        with pynwb.NWBHDF5IO(str(path), "w") as io:
            io.write(nwbfile, cache_spec=True)


def _session_file(session_id: int, table: pd.DataFrame, probes: list[Probe]) -> pynwb.NWBFile:
    nwbfile = pynwb.NWBFile(
        session_description="Embedded Visual Coding Neuropixels session (planted ground truth)",
        identifier=str(session_id),  # AllenSDK's reader checks that it is the session id
        session_id=str(session_id),
        session_start_time=datetime(2019, 1, 1, 9, 0, 0, tzinfo=timezone.utc),
        file_create_date=datetime(2019, 1, 1, 9, 0, 0, tzinfo=timezone.utc),  # same inputs, same bytes
        institution="brainlike embedded cache",
    )
    add_metadata_to_nwbfile(nwbfile, {
        "specimen_name": f"embedded-{session_id}", "age_in_days": 100.0, "full_genotype": "wt/wt",
        "strain": "C57BL/6J", "sex": "M", "stimulus_name": SESSION_TYPE, "donor_id": session_id, "species": "Mus musculus",
    })  # fmt: skip
    nwbfile = add_stimulus_timestamps(nwbfile, table["start_time"].to_numpy())
    # The tables Allen's writer (Presentations.to_nwb) makes, one per stimulus, built a column at a
    # time: its row-by-row build checks every earlier row again (183 s for one session's 10,000 rows).
    for name, rows in table.groupby("stimulus_name", sort=True):
        nwbfile.add_time_intervals(TimeIntervals.from_dataframe(
            rows.reset_index(drop=True), name=f"{name}_presentations",
            table_description=f"Presentation times and stimulus details for '{name}' stimuli.",
        ))  # fmt: skip
    Probes(probes=probes).to_nwb(nwbfile=nwbfile)
    return nwbfile


def _channels(probe_id: int, area_index: int, area: str) -> tuple[list[Channel], list[dict]]:
    """A probe's channels, all in ``area``: AllenSDK's Channel objects (for the NWB file) and the
    channels.csv rows, from one record of each channel's geometry."""
    channels, rows = [], []
    for position in range(CHANNELS_PER_PROBE):
        channel_id = probe_id * 100 + position
        geometry = {"probe_horizontal_position": 43, "probe_vertical_position": 20 * position,
                    "anterior_posterior_ccf_coordinate": 8000.0 + area_index,
                    "dorsal_ventral_ccf_coordinate": 1000.0 - 20 * position, "left_right_ccf_coordinate": 7600.0}  # fmt: skip
        channels.append(Channel(id=channel_id, probe_id=probe_id, valid_data=True, probe_channel_number=position,
                                structure_acronym=area, **geometry))  # fmt: skip
        rows.append({"id": channel_id, "ecephys_probe_id": probe_id, "local_index": position, **geometry,
                     "ecephys_structure_id": STRUCTURE_IDS[area], "ecephys_structure_acronym": area})  # fmt: skip
    return channels, rows


def _probe(
    session_id: int, session_index: int, area_index: int, area: str, table: pd.DataFrame, planted: dict, config: dict
) -> tuple[Probe, dict[str, list[dict]], dict[str, list[int]]]:  # fmt: skip
    """One session's probe in one area: AllenSDK's Probe (its channels and units, with spike trains
    drawn from the planted drives), its rows of the channel, unit and probe tables, and which of its
    units read nothing (``undriven``) or fail a quality filter (``failing``)."""
    per_session = config["neuropixels"]["units_per_area"]
    probe_id = session_id + 1 + area_index
    channels, channel_rows = _channels(probe_id, area_index, area)
    units_of_session = slice(session_index * per_session, (session_index + 1) * per_session)
    drives = {stimulus: planted[drive_key(stimulus, area)][:, units_of_session].astype(np.float64) for stimulus in STIMULI}
    driven = planted[driven_key(area)][units_of_session]
    unit_rng = labelled_rng(config["seed"], "neuropixels spikes", session_index, area)
    gain = unit_rng.lognormal(0.0, GAIN_SD, per_session)
    baseline = unit_rng.normal(BASELINE_MEAN, BASELINE_SD, per_session)
    quality, failing = _quality(per_session, config["neuropixels"]["failing_units"], unit_rng)
    rates = unit_rates(table, drives, config["areas"][area]["noise"], gain, baseline, unit_rng)
    # The gaps before, between and after the blocks, at each unit's drive-0 rate.
    background = RATE_HZ * gain * np.logaddexp(0.0, SHARPNESS * baseline) / SHARPNESS
    edges = _gaps(table)
    starts = np.concatenate([table["start_time"].to_numpy(), edges[:, 0]])
    stops = np.concatenate([table["stop_time"].to_numpy(), edges[:, 1]])
    all_rates = np.concatenate([rates, np.repeat(background[:, None], len(edges), axis=1)], axis=1)
    trains = spike_trains(all_rates, starts, stops, unit_rng)
    units, unit_rows = [], []
    for position, (times, metrics) in enumerate(zip(trains, quality)):
        record = {"id": probe_id * 1000 + position, "quality": "good", "firing_rate": float(len(times) / stops.max()), **metrics}
        channel_id = channels[position % CHANNELS_PER_PROBE].id
        units.append(Unit(
            peak_channel_id=channel_id, local_index=position, cluster_id=position, spike_times=times,
            spike_amplitudes=np.full(len(times), 1e-4), mean_waveforms=np.zeros((CHANNELS_PER_PROBE, WAVEFORM_SAMPLES)),
            **record,
        ))  # fmt: skip
        unit_rows.append({"id": record["id"], "ecephys_channel_id": channel_id} | record)
    unit_ids = [row["id"] for row in unit_rows]
    probe_row = {"id": probe_id, "ecephys_session_id": session_id, "name": PROBE_NAMES[area_index],
                 "sampling_rate": 30000.0, "lfp_sampling_rate": 2500.0, "phase": "3a", "has_lfp_data": False}  # fmt: skip
    probe = Probe(id=probe_id, name=PROBE_NAMES[area_index], channels=Channels(channels), units=Units(units), sampling_rate=30000.0)
    rows = {ecephys_index.UNITS_FILE: unit_rows, ecephys_index.CHANNELS_FILE: channel_rows, ecephys_index.PROBES_FILE: [probe_row]}
    truth = {"undriven": [unit for unit, reads in zip(unit_ids, driven) if not reads],
             "failing": [unit for unit, fails in zip(unit_ids, failing) if fails]}  # fmt: skip
    return probe, rows, truth


def write_cache(drives_file: Path, config: dict, out_dir: Path) -> None:
    """Write ``out_dir/cache`` (the Neuropixels cache) and ``out_dir/truth.json`` from the drives
    written by brainlike.embedded_units. ``config`` is the validated ``embedded`` section."""
    out_dir = Path(out_dir)
    partial = out_dir.with_name(out_dir.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    cache = partial / "cache"
    cache.mkdir(parents=True)
    layout, seed, areas = config["neuropixels"], config["seed"], sorted(config["areas"])
    if len(areas) > len(PROBE_NAMES) or set(areas) - set(STRUCTURE_IDS):
        raise ValueError(f"embedded.areas {areas}: the Neuropixels cache records at most the six areas {sorted(STRUCTURE_IDS)}")
    with np.load(drives_file) as arrays:
        planted = {key: arrays[key] for key in arrays.files}
    rows = {name: [] for name in ecephys_index.INDEX_FILES}
    truth_units = {"undriven": [], "failing": []}
    for session_index in range(layout["sessions"]):
        session_id = FIRST_SESSION_ID + 1000 * session_index
        rng = labelled_rng(seed, "neuropixels session", session_index)
        table = presentations(config["scene_trials"], config["movie_repeats"], rng)
        probes = []
        for area_index, area in enumerate(areas):
            probe, probe_rows, probe_truth = _probe(session_id, session_index, area_index, area, table, planted, config)
            probes.append(probe)
            for name, records in probe_rows.items():
                rows[name].extend(records)
            for kind, unit_ids in probe_truth.items():
                truth_units[kind].extend(unit_ids)
        rows[ecephys_index.SESSIONS_FILE].append({
            "id": session_id, "published_at": "2019-10-03T00:00:00Z", "specimen_id": session_id + 999,
            "session_type": SESSION_TYPE, "age_in_days": 100.0, "sex": "M", "genotype": "wt/wt",
        })  # fmt: skip
        write_session(ecephys_index.session_file(cache, session_id), session_id, table, probes,
                      labelled_rng(seed, "neuropixels object ids", session_index))  # fmt: skip
        print(f"embedded Neuropixels cache: session {session_id} written", flush=True)
    for name, records in rows.items():
        pd.DataFrame(records).to_csv(cache / name, index=False)
    _write_templates(cache, {stimulus: planted[template_key(stimulus)] for stimulus in STIMULI})
    open_cache(cache / "manifest.json", offline=True)  # AllenSDK writes its own manifest
    truth = {"source_model": config["source_model"], "areas": config["areas"], "units": truth_units, "config": config}
    (partial / "truth.json").write_text(json.dumps(truth, indent=1, sort_keys=True))
    if out_dir.exists():
        shutil.rmtree(out_dir)
    partial.rename(out_dir)


def _gaps(table: pd.DataFrame) -> np.ndarray:
    """[start, stop) of the stretches without a presentation: before, between and after the blocks
    of ``table``, in time order as ``presentations`` builds it."""
    start, stop = table["start_time"].to_numpy(), table["stop_time"].to_numpy()
    between = np.flatnonzero(start[1:] > stop[:-1] + 1e-9)
    return np.array([[0.0, start[0]], *[[stop[i], start[i + 1]] for i in between], [stop[-1], stop[-1] + GAP_SECONDS]])


def _write_templates(cache: Path, templates: dict[str, np.ndarray]) -> None:
    """Where and how AllenSDK reads them: one TIFF per scene, the movie as a .npy named .h5."""
    scenes = cache / "natural_scene_templates"
    scenes.mkdir()
    for number, image in enumerate(templates["natural_scenes"]):
        sitk.WriteImage(sitk.GetImageFromArray(image), str(scenes / f"natural_scene_{number}.tiff"))
    movies = cache / "natural_movie_templates"
    movies.mkdir()
    with open(movies / "natural_movie_1.h5", "wb") as handle:
        np.save(handle, templates["natural_movie_one"])


def main(argv: list[str] | None = None) -> None:
    """Command line of the embedded Neuropixels cache rule (the AllenSDK environment's Python)."""
    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("--drives", required=True, type=Path)
    parser.add_argument("--config", required=True, type=json.loads, help="JSON: the embedded section")
    parser.add_argument("--out", required=True, type=Path)
    args = parser.parse_args(argv)
    write_cache(args.drives, args.config, args.out)


if __name__ == "__main__":
    main()

"""Generate a small Brain Observatory cache with planted ground truth, in AllenSDK's own format.

The cache holds what ``allensdk.core.brain_observatory_cache.BrainObservatoryCache`` reads: the
manifest, the API records (containers, experiments, cells, stimulus mappings), one NWB 1.x file per
experiment (dF/F, timestamps, stimulus tables, stimulus templates, metadata) and one L0 events file
per experiment. Nothing here imports allensdk, so the data stage's reads are a real test of the
format.

Stimuli are natural images: crops of the photographs bundled with scikit-image (natural_scenes,
118 images), and a camera path panning and zooming over a mosaic of them (natural_movie_one, 900
frames). Each area's cells are noisy readouts of one layer of a reference network (``truth``): a
cell's drive for a stimulus is a sparse random projection of that layer's activation pattern
(centred and scaled per stimulus, so the population geometry is the layer's correlation geometry);
every presentation adds independent Gaussian trial noise, and the events are a rectified response.
The truth is written beside the cache as ``truth.json``. Same config, same bytes.
"""

from __future__ import annotations

import json
import logging
import multiprocessing
import shutil
import sys
import zipfile
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import h5py
import numpy as np
import torch
from scipy import sparse
from skimage import data as skdata
from skimage.color import rgb2gray
from skimage.transform import resize

from .activations import iter_activations, layer_shapes
from .models import LoadedModel, load_model
from .seeds import labelled_rng
from .stimuli import N_MOVIE_FRAMES, N_SCENES

log = logging.getLogger(__name__)

FRAME_RATE_HZ = 30.0
SCENE_FRAMES = (7, 8)  # 250 ms at 30 Hz, alternating so the mean is 7.5 frames
READOUT_FEATURES = 512  # features each cell reads, so weights stay small for any layer size
GAP_FRAMES = 60
# A cell's events are gain × softplus(drive + trial noise + baseline). The population RDM is 1 −
# Pearson across cells, so what differs between cells and not between stimuli enters every pattern:
# widely spread gains and baselines (log-normal 0.3, baselines N(−0.5, 0.3), half the cells near
# silence) made a reliable geometry of their own, and the movie, whose segments differ little,
# lost its planted layer (VISp 275 µm: τ 0.33 at a ceiling of 0.83, a layer of another stage
# ahead). One operating point in the softplus's near-linear range keeps the layer's geometry.
GAIN_SD = 0.1  # log-normal spread of the cells' gains
BASELINE_MEAN, BASELINE_SD = 1.0, 0.1  # the cells' operating points on the softplus
SHARPNESS = 2.0  # of the softplus: higher is closer to a rectifier
STIMULI_OF_SESSION = {
    "three_session_A": ["natural_movie_one"],
    "three_session_B": ["natural_scenes", "natural_movie_one"],
    "three_session_C": ["natural_movie_one"],
}
PHOTOGRAPHS = [
    "astronaut", "camera", "chelsea", "coffee", "rocket", "hubble_deep_field",
    "immunohistochemistry", "moon", "grass", "gravel", "brick", "retina", "coins", "page",
]  # fmt: skip
REPORTER_LINE = "Ai93(TITL-GCaMP6f)"
MANIFEST = {
    "manifest": [
        {"type": "manifest_version", "value": "1.3"},
        {"key": "BASEDIR", "type": "dir", "spec": "."},
        *[
            {"key": key, "type": "file", "spec": spec, "parent_key": "BASEDIR"}
            for key, spec in [
                ("EXPERIMENT_CONTAINERS", "experiment_containers.json"),
                ("EXPERIMENTS", "ophys_experiments.json"),
                ("EXPERIMENT_DATA", "ophys_experiment_data/%d.nwb"),
                ("ANALYSIS_DATA", "ophys_experiment_analysis/%d_%s_analysis.h5"),
                ("EVENTS_DATA", "ophys_experiment_events/%d_events.npz"),
                ("CELL_SPECIMENS", "cell_specimens.json"),
                ("STIMULUS_MAPPINGS", "stimulus_mappings.json"),
                ("EYE_GAZE_DATA", "ophys_eye_gaze_mapping/%d_eyetracking_dlc_to_screen_mapping.h5"),
            ]
        ],
    ]
}


def _photographs() -> list[np.ndarray]:
    """scikit-image's bundled photographs as float greyscale in [0, 1]."""
    images = []
    for name in PHOTOGRAPHS:
        image = np.asarray(getattr(skdata, name)(), dtype=np.float64)
        if image.ndim == 3:
            image = rgb2gray(image[..., :3] / (255.0 if image.max() > 1 else 1.0))
        elif image.max() > 1:
            image = image / 255.0
        images.append(image)
    return images


def natural_scenes(seed: int, shape: tuple[int, int]) -> np.ndarray:
    """118 greyscale uint8 crops (random photograph, scale, position and mirror)."""
    rng = labelled_rng(seed, "natural_scenes")
    photographs = _photographs()
    aspect = shape[1] / shape[0]
    scenes = np.empty((N_SCENES, *shape), dtype=np.uint8)
    for index in range(N_SCENES):
        photo = photographs[rng.integers(len(photographs))]
        height = int(rng.uniform(0.35, 0.9) * min(photo.shape[0], photo.shape[1] / aspect))
        width = int(height * aspect)
        top = rng.integers(photo.shape[0] - height + 1)
        left = rng.integers(photo.shape[1] - width + 1)
        crop = photo[top : top + height, left : left + width]
        if rng.random() < 0.5:
            crop = crop[:, ::-1]
        scenes[index] = np.round(255 * resize(crop, shape, anti_aliasing=True)).clip(0, 255)
    return scenes


def natural_movie(seed: int, shape: tuple[int, int]) -> np.ndarray:
    """900 greyscale uint8 frames of a camera panning and zooming over a photo mosaic."""
    rng = labelled_rng(seed, "natural_movie_one")
    tile = 256
    photographs = [resize(photo, (tile, tile), anti_aliasing=True) for photo in _photographs()]
    order = rng.permutation(len(photographs))
    columns = 4
    rows = int(np.ceil(len(order) / columns))
    mosaic = np.zeros((rows * tile, columns * tile))
    for slot, photo_index in enumerate(order):
        row, column = divmod(slot, columns)
        mosaic[row * tile : (row + 1) * tile, column * tile : (column + 1) * tile] = photographs[photo_index]
    # A smooth random camera path: a few slow sinusoids for centre and zoom.
    t = np.linspace(0.0, 1.0, N_MOVIE_FRAMES)
    aspect = shape[1] / shape[0]

    def path(low: float, high: float) -> np.ndarray:
        phases = rng.uniform(0, 2 * np.pi, 3)
        wave = sum(np.sin(2 * np.pi * (k + 1) * t + phases[k]) / (k + 1) for k in range(3))
        wave = (wave - wave.min()) / (wave.max() - wave.min())
        return low + (high - low) * wave

    height = path(0.6 * tile, 1.8 * tile)
    width = height * aspect
    centre_y = path(height.max() / 2, mosaic.shape[0] - height.max() / 2)
    centre_x = path(width.max() / 2, mosaic.shape[1] - width.max() / 2)
    frames = np.empty((N_MOVIE_FRAMES, *shape), dtype=np.uint8)
    for index in range(N_MOVIE_FRAMES):
        top = int(round(centre_y[index] - height[index] / 2))
        left = int(round(centre_x[index] - width[index] / 2))
        crop = mosaic[top : top + int(height[index]), left : left + int(width[index])]
        frames[index] = np.round(255 * resize(crop, shape, anti_aliasing=True)).clip(0, 255)
    return frames


@dataclass(frozen=True)
class Readout:
    """Sparse random readout of one layer: cell c reads ``features[:, index[c]] @ weight[c]``."""

    index: np.ndarray  # cells × READOUT_FEATURES
    weight: np.ndarray  # cells × READOUT_FEATURES

    def matrix(self, n_features: int) -> sparse.csr_array:
        """The readout as a sparse cells × features matrix (a feature read twice by a cell counts
        twice), so that drives are one sparse product per batch, not a stimuli × cells ×
        READOUT_FEATURES gather (which took a third of the embedded cache's time)."""
        cells, per_cell = self.index.shape
        return sparse.csr_array(
            (self.weight.ravel(), self.index.ravel(), np.arange(0, cells * per_cell + 1, per_cell)),
            shape=(cells, n_features),
        )


def planted_drives(
    planted: LoadedModel, images: np.ndarray, readouts: dict[str, list[Readout]], batch_size: int
) -> dict[str, list[np.ndarray]]:
    """Drive (stimuli × cells) of every readout, from one pass over ``images``.

    ``planted`` records one layer per area (pathway = area). Each image's layer pattern is
    centred and scaled to unit variance first, so a readout's population geometry is the layer's
    correlation geometry, which is what a 1 − Pearson RDM of the layer sees.
    """
    drives = {area: [np.empty((len(images), len(r.index))) for r in area_readouts]
              for area, area_readouts in readouts.items()}  # fmt: skip
    matrices = {}
    groups = np.arange(len(images))
    for first, batch in iter_activations(planted, images, groups, batch_size, torch.device("cpu"), stop_after_recorded=True):
        for area, (layer,) in planted.pathways.items():
            features = batch[(area, layer)].astype(np.float64)
            features -= features.mean(axis=1, keepdims=True)
            features /= features.std(axis=1, keepdims=True)
            if area not in matrices:
                matrices[area] = [readout.matrix(features.shape[1]) for readout in readouts[area]]
            for drive, matrix in zip(drives[area], matrices[area]):
                drive[first : first + len(features)] = (matrix @ features.T).T
    for area_drives in drives.values():
        for drive in area_drives:
            drive /= np.sqrt(READOUT_FEATURES)
    return drives


@dataclass
class Presentation:
    """One stimulus block of a session: presented frame index and [start, end) acquisition frames."""

    stimulus: str
    frame: np.ndarray
    start: np.ndarray
    end: np.ndarray


def session_timeline(session_type: str, scene_trials: int, movie_repeats: int, rng) -> tuple[list[Presentation], int]:
    """The stimulus blocks of one session and its length in acquisition frames."""
    blocks = []
    now = GAP_FRAMES
    for stimulus in STIMULI_OF_SESSION[session_type]:
        if stimulus == "natural_scenes":
            # Each image (and the blank, -1) once per round, rounds shuffled independently.
            frame = np.concatenate([rng.permutation(np.arange(-1, N_SCENES)) for _ in range(scene_trials)])
            durations = np.resize(SCENE_FRAMES, len(frame))
        else:
            frame = np.tile(np.arange(N_MOVIE_FRAMES), movie_repeats)
            durations = np.ones(len(frame), dtype=int)
        start = now + np.concatenate([[0], np.cumsum(durations)[:-1]])
        end = start + durations
        blocks.append(Presentation(stimulus, frame, start, end))
        now = int(end[-1]) + GAP_FRAMES
    return blocks, now + GAP_FRAMES


def _events_and_dff(
    blocks: list[Presentation], n_frames: int, drives: dict[str, np.ndarray], noise: float, lag_frames: int, rng
) -> tuple[np.ndarray, np.ndarray]:
    """L0-like events (cells × frames) and dF/F for one experiment's cells."""
    n_cells = next(iter(drives.values())).shape[1]
    gain = rng.lognormal(0.0, GAIN_SD, n_cells)
    baseline = rng.normal(BASELINE_MEAN, BASELINE_SD, n_cells)
    events = np.zeros((n_cells, n_frames))
    for block in blocks:
        drive = np.where(block.frame[:, None] >= 0, drives[block.stimulus][np.maximum(block.frame, 0)], 0.0)
        response = drive + noise * rng.standard_normal(drive.shape)
        # Softplus keeps events non-negative and close to linear in the drive around the baseline.
        amplitude = gain * np.logaddexp(0.0, SHARPNESS * (response + baseline)) / SHARPNESS
        np.add.at(events.T, block.start + lag_frames, amplitude)
    kernel = np.exp(-np.arange(45) / 15.0)  # GCaMP6f-like decay, τ = 0.5 s
    dff = np.stack([np.convolve(trace, kernel)[:n_frames] for trace in events])
    dff = 0.1 * dff + 0.02 * rng.standard_normal(dff.shape)
    # Rounded to the precision real dF/F carries, which keeps the files small.
    return events.astype(np.float32), np.round(dff, 4).astype(np.float32)


def _new_cells(first_id: int, n_cells: int, n_features: int, config: dict, rng: np.random.Generator) -> list[dict]:
    """Cells with their readout of the source layer and their cell-specimen record.

    An undriven cell (``unreliable_fraction``) reads nothing: its responses are noise alone. A
    running-modulated cell (``running_modulated_fraction``) gets a running-modulation p-value
    under 0.05 in its record, as allensdk's cell metrics would show.
    """
    driven = rng.random(n_cells) >= config["unreliable_fraction"]
    running = rng.random(n_cells) < config["running_modulated_fraction"]
    p_running = np.where(running, rng.uniform(0.0, 0.01, n_cells), rng.uniform(0.05, 1.0, n_cells))
    index = rng.integers(0, n_features, (n_cells, READOUT_FEATURES))
    weight = rng.standard_normal((n_cells, READOUT_FEATURES)) * driven[:, None]
    return [
        {
            "cell_specimen_id": first_id + position,
            "index": index[position],
            "weight": weight[position],
            "record": {
                "cell_specimen_id": first_id + position,
                "failed_experiment_container": False,
                "p_run_mod_ns": float(p_running[position]),
                "run_mod_ns": float(rng.normal(0.0, 0.1) + (0.5 if running[position] else 0.0)),
                "driven": bool(driven[position]),
            },
        }
        for position in range(n_cells)
    ]


def _text(value: str) -> np.ndarray:
    # allensdk decodes fixed-length byte strings; variable-length ones break its data set constructor.
    return np.bytes_(value)


def _write_nwb(
    path: Path,
    experiment: dict,
    container: dict,
    blocks: list[Presentation],
    n_frames: int,
    dff: np.ndarray,
    cell_ids: np.ndarray,
    templates: dict[str, np.ndarray],
) -> None:
    with h5py.File(path, "w") as nwb:
        nwb["nwb_version"] = _text("NWB-1.0.6")
        nwb["session_start_time"] = _text(experiment["date_of_acquisition"])
        nwb["identifier"] = _text(f"embedded-{experiment['id']}")
        general = nwb.create_group("general")
        general["session_type"] = _text(experiment["stimulus_name"])
        general["session_id"] = _text(str(experiment["id"]))
        general["experiment_container_id"] = _text(str(container["id"]))
        general["specimen_name"] = _text(container["specimen"]["name"])
        general["generated_by"] = np.array([_text("brainlike embedded cache"), _text("3.0")])
        general["fov"] = _text("400x400 microns (512 x 512 pixels)")
        general["devices/2-photon microscope"] = _text(
            "Embedded synthetic microscope. embedded-0 Please contact the workflow authors for details."
        )
        general["subject/age"] = _text("100 days")
        general["subject/sex"] = _text("unknown")
        general["subject/genotype"] = _text(f"{container['cre_line']};{REPORTER_LINE}")
        plane = general.create_group("optophysiology/imaging_plane_1")
        plane["imaging depth"] = _text(f"{container['imaging_depth']} microns")
        plane["location"] = _text(container["targeted_structure"]["acronym"])
        plane["indicator"] = _text("GCaMP6f")
        plane["excitation_lambda"] = _text("910 nanometers")

        pipeline = nwb.create_group("processing/brain_observatory_pipeline")
        timestamps = np.arange(n_frames) / FRAME_RATE_HZ
        trace = pipeline.create_group("DfOverF/imaging_plane_1")
        trace.create_dataset("data", data=dff, compression="gzip", compression_opts=1, shuffle=True)
        trace["timestamps"] = timestamps
        segmentation = pipeline.create_group("ImageSegmentation")
        segmentation["cell_specimen_ids"] = cell_ids
        segmentation["roi_ids"] = np.array([_text(str(i)) for i in range(len(cell_ids))])

        for block in blocks:
            group = nwb.create_group(f"stimulus/presentation/{block.stimulus}_stimulus")
            group["data"] = block.frame.astype(np.float32)
            group["frame_duration"] = np.stack([block.start, block.end], axis=1).astype(np.float64)
            group["timestamps"] = block.start / FRAME_RATE_HZ
            stack = nwb.create_group(f"stimulus/templates/{block.stimulus}_image_stack")
            stack.create_dataset("data", data=templates[block.stimulus], compression="gzip", compression_opts=1)


@dataclass
class _Experiment:
    """What one experiment's files are written from."""

    cache: Path
    experiment: dict
    container: dict
    drives: dict[str, np.ndarray]  # stimulus → stimuli × cells
    cell_ids: np.ndarray
    noise: float
    rng: np.random.Generator


# Set before the experiments are written: the stimulus templates every NWB holds and (scene
# trials, movie repeats, response lag); forked writers inherit them rather than receive them per job.
_shared: dict = {}


def _written(jobs: list[_Experiment], workers: int) -> Iterator[_Experiment]:
    """Write every experiment's files, yielding each job once its files are written, in order.
    Several processes write only where fork is the platform's safe default (Linux): on macOS a
    fork after torch's threads have run can hang, and spawn would rerun the rule script."""
    if workers > 1 and sys.platform.startswith("linux"):
        with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("fork")) as pool:
            for job, _ in zip(jobs, pool.map(_write_experiment, jobs)):
                yield job
    else:
        for job in jobs:
            _write_experiment(job)
            yield job


def _write_experiment(job: _Experiment) -> None:
    scene_trials, movie_repeats, lag_frames = _shared["settings"]
    blocks, n_frames = session_timeline(job.experiment["stimulus_name"], scene_trials, movie_repeats, job.rng)
    events, dff = _events_and_dff(blocks, n_frames, job.drives, job.noise, lag_frames, job.rng)
    experiment_id = job.experiment["id"]
    _write_nwb(
        job.cache / "ophys_experiment_data" / f"{experiment_id}.nwb",
        job.experiment, job.container, blocks, n_frames, dff, job.cell_ids, _shared["templates"],
    )  # fmt: skip
    _write_npz(job.cache / "ophys_experiment_events" / f"{experiment_id}_events.npz", ev=events)


def _write_npz(path: Path, **arrays: np.ndarray) -> None:
    """``np.savez_compressed`` at the fastest deflate level: mostly-zero event traces compress
    nearly as well, in a fifth of the time."""
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=1) as archive:
        for name, array in arrays.items():
            with archive.open(f"{name}.npy", "w", force_zip64=True) as member:
                np.lib.format.write_array(member, np.asanyarray(array), allow_pickle=False)


def _container_record(container_id: int, area: str, depth: int, cre_line: str, donor: str) -> dict:
    return {
        "id": container_id,
        "imaging_depth": depth,
        "targeted_structure": {"acronym": area},
        "specimen": {
            "name": f"{cre_line};Camk2a-tTA;{REPORTER_LINE}-{donor}",
            "donor": {
                "external_donor_name": donor,
                "date_of_birth": "2016-01-01T00:00:00Z",
                "conditions": [],
                "transgenic_lines": [
                    {"name": cre_line, "transgenic_line_type_name": "driver"},
                    {"name": REPORTER_LINE, "transgenic_line_type_name": "reporter"},
                ],
            },
        },
        "failed": False,
        "cre_line": cre_line,
    }


def _experiment_record(experiment_id: int, container: dict, session_type: str) -> dict:
    return {
        "id": experiment_id,
        "imaging_depth": container["imaging_depth"],
        "targeted_structure": container["targeted_structure"],
        "specimen": container["specimen"],
        "experiment_container_id": container["id"],
        "experiment_container": {"failed": False},
        "stimulus_name": session_type,
        "date_of_acquisition": "2016-04-11T00:00:00Z",
        "failed": False,
    }


def write_index(cache_dir: Path, containers: list[tuple[int, str, int]], cre_line: str, sessions: list[str]) -> None:
    """Only a cache's manifest and index (no data files): containers (id, area, depth), each with an
    experiment per session type (ids container id + 1, + 2, …). For building DAGs of real-sized grids."""
    records = [_container_record(cid, area, depth, cre_line, f"donor-{cid}") for cid, area, depth in containers]
    experiments = [
        _experiment_record(record["id"] + 1 + index, record, session)
        for record in records
        for index, session in enumerate(sessions)
    ]
    for record in records:
        del record["cre_line"]
    cache_dir = Path(cache_dir)
    cache_dir.mkdir(parents=True, exist_ok=True)
    for name, payload in (("manifest.json", MANIFEST), ("experiment_containers.json", records),
                          ("ophys_experiments.json", experiments)):  # fmt: skip
        (cache_dir / name).write_text(json.dumps(payload, indent=1))


def stimulus_templates(config: dict) -> dict[str, np.ndarray]:
    """The generated stimuli as shown, by stimulus name (``config``: the ``embedded`` section)."""
    return {
        "natural_scenes": natural_scenes(config["seed"], tuple(config["scene_template_shape"])),
        "natural_movie_one": natural_movie(config["seed"], tuple(config["movie_template_shape"])),
    }


def planted_source(config: dict, models: dict, images: np.ndarray) -> tuple[LoadedModel, dict[str, int]]:
    """The source network recording each area's planted layer (pathway = area), and the number of
    features of each area's layer."""
    source = load_model(config["source_model"], models[config["source_model"]])
    planted = LoadedModel(
        source.name, source.network, source.input_spec,
        {area: [truth["layer"]] for area, truth in config["areas"].items()},
    )  # fmt: skip
    shapes = layer_shapes(planted, images, torch.device("cpu"))
    return planted, {area: int(np.prod(shapes[(area, layer)][1])) for area, (layer,) in planted.pathways.items()}


def generate(config: dict, cre_line: str, models: dict, out_dir: Path, workers: int = 1) -> None:
    """Write ``out_dir/cache`` (the Brain Observatory cache) and ``out_dir/truth.json``.

    ``config`` is the validated ``embedded`` section; ``models`` the ``models`` section, which
    supplies the reference network named by ``config["source_model"]``. Every container gets
    ``cre_line`` as its driver line. ``workers`` processes write the experiments' files.
    """
    out_dir = Path(out_dir)
    partial = out_dir.with_name(out_dir.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    cache = partial / "cache"
    for sub in ("ophys_experiment_data", "ophys_experiment_events"):
        (cache / sub).mkdir(parents=True)
    seed = config["seed"]
    templates = stimulus_templates(config)
    planted, n_features = planted_source(config, models, templates["natural_scenes"])

    containers, plan, cells = [], [], {}
    next_id = 1_000_000
    for area in config["areas"]:
        for depth in config["depths"]:
            for replicate in range(config["containers_per_population"]):
                container = _container_record(next_id, area, depth, cre_line, f"{area}-{depth}-{replicate}")
                containers.append(container)
                # Matched cells are recorded in every session of the container, with one readout.
                matched = _new_cells(
                    next_id * 1000, config["matched_cells"], n_features[area], config,
                    labelled_rng(seed, area, depth, replicate),
                )  # fmt: skip
                for session_index, session_type in enumerate(config["sessions"]):
                    experiment_id = next_id + 1 + session_index
                    rng = labelled_rng(seed, area, depth, replicate, session_type)
                    unique = _new_cells(
                        experiment_id * 1000, config["cells_per_experiment"] - config["matched_cells"],
                        n_features[area], config, rng,
                    )  # fmt: skip
                    experiment_cells = [*matched, *unique]
                    for cell in experiment_cells:
                        cells[cell["cell_specimen_id"]] = {**cell["record"], "experiment_container_id": next_id}
                    readout = Readout(
                        index=np.stack([cell["index"] for cell in experiment_cells]),
                        weight=np.stack([cell["weight"] for cell in experiment_cells]),
                    )
                    cell_ids = np.array([cell["cell_specimen_id"] for cell in experiment_cells])
                    plan.append((area, container, experiment_id, session_type, readout, cell_ids, rng))
                next_id += 100
    readouts = {area: [item[4] for item in plan if item[0] == area] for area in config["areas"]}
    drives = {
        stimulus: planted_drives(planted, images, readouts, config["batch_size"])
        for stimulus, images in templates.items()
    }
    position_in_area = {area: 0 for area in config["areas"]}
    jobs = []
    for area, container, experiment_id, session_type, readout, cell_ids, rng in plan:
        position = position_in_area[area]
        position_in_area[area] += 1
        experiment_drives = {stimulus: drives[stimulus][area][position] for stimulus in STIMULI_OF_SESSION[session_type]}
        jobs.append(_Experiment(
            cache, _experiment_record(experiment_id, container, session_type), container, experiment_drives, cell_ids,
            config["areas"][area]["noise"], rng,
        ))  # fmt: skip
    settings = (config["scene_trials"], config["movie_repeats"], config["response_lag_frames"])
    _shared.update(templates=templates, settings=settings)
    # Each experiment draws from its own stream, so the files do not depend on which worker writes them.
    for job in _written(jobs, workers):
        experiment, container = job.experiment, job.container
        log.info("embedded cache: experiment %d (%s, %d µm, %s) written", experiment["id"],
                 container["targeted_structure"]["acronym"], container["imaging_depth"], experiment["stimulus_name"])  # fmt: skip
    experiments = [job.experiment for job in jobs]

    for container in containers:
        del container["cre_line"]
    truth = {
        "source_model": planted.name,
        "areas": config["areas"],
        "cre_line": cre_line,
        "undriven_cells": sorted(i for i, cell in cells.items() if not cell.pop("driven")),
        "running_modulated_cells": sorted(i for i, cell in cells.items() if cell["p_run_mod_ns"] < 0.05),
        "config": config,
    }
    records = {
        "manifest.json": MANIFEST,
        "experiment_containers.json": containers,
        "ophys_experiments.json": experiments,
        "cell_specimens.json": list(cells.values()),
        "stimulus_mappings.json": [],
    }
    for name, payload in records.items():
        (cache / name).write_text(json.dumps(payload, indent=1))
    (partial / "truth.json").write_text(json.dumps(truth, indent=1))
    if out_dir.exists():
        shutil.rmtree(out_dir)
    partial.rename(out_dir)

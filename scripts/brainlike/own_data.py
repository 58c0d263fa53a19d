"""Your own data: stimuli from an image folder or an array file, responses from per-animal arrays.

A manifest (CSV) lists one response array per row, with the labels that place it in the grid:

    animal,area,depth,stimulus,file
    mouse1,V1,200,gratings_and_scenes,mouse1_V1.npy

``file`` (relative to the manifest) holds a trials × stimuli × units array (``.npy``); extra
columns are kept as labels. Rows of one area × depth × stimulus are pooled into one population,
each unit keeping its animal (the "container" of the Allen data), and flow into the same RDM, τ
and noise-ceiling stages. Stimuli are greyscale, in the order of their file names in a folder
(PNG, JPEG, TIFF) or of the first axis of an ``.npy`` array (n × H × W, or n × H × W × 3 colour,
uint8 or floats in [0, 1]).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from skimage import io
from skimage.color import rgb2gray


MANIFEST_COLUMNS = ("animal", "area", "depth", "stimulus", "file")
IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".tif", ".tiff"}


def _to_grey_uint8(images: np.ndarray, source: Path) -> np.ndarray:
    images = np.asarray(images)
    if images.ndim == 4 and images.shape[-1] in (3, 4):
        scale = 255.0 if images.dtype == np.uint8 else 1.0
        images = rgb2gray(images[..., :3] / scale) * 255.0
    elif images.ndim != 3:
        raise ValueError(f"{source}: stimuli must be n × H × W (or n × H × W × 3), got shape {images.shape}")
    elif images.dtype != np.uint8:
        images = images * 255.0
    if images.dtype != np.uint8:
        if images.min() < 0 or images.max() > 255.0 + 1e-6:
            raise ValueError(f"{source}: float stimuli must lie in [0, 1]")
        images = np.round(images).astype(np.uint8)
    return images


def load_array(path: Path) -> np.ndarray:
    """An ``.npy`` array, read without unpickling: an object array is refused naming the file."""
    try:
        return np.load(path, allow_pickle=False)
    except ValueError as error:
        if "allow_pickle" not in str(error):
            raise ValueError(f"{path}: not a readable .npy array ({error})") from None
        raise ValueError(
            f"{path}: an object (pickled) array, which is read only as numbers; save a numeric array, "
            "e.g. np.save(path, np.asarray(values, dtype=float))"
        ) from None


def stimulus_files(path: Path) -> list[str]:
    """The files a stimulus set is read from: a folder's images (sorted by name), or the array file."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"stimulus set (data.own.stimuli or data.rdms.stimuli): no folder or file {path}")
    if not path.is_dir():
        return [str(path)]
    files = sorted(str(p) for p in path.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
    if not files:
        raise ValueError(f"{path}: no image files ({', '.join(sorted(IMAGE_SUFFIXES))})")
    return files


def load_stimuli(path: Path) -> np.ndarray:
    """Greyscale uint8 stimuli (n × H × W) from an image folder or an ``.npy`` array."""
    path = Path(path)
    if path.is_dir():
        files = [Path(file) for file in stimulus_files(path)]
        images = []
        for file in files:
            image = _to_grey_uint8(io.imread(file)[None], file)[0]
            if images and image.shape != images[0].shape:
                raise ValueError(f"{file}: {image.shape[1]}×{image.shape[0]} pixels, but {files[0].name} is "
                                 f"{images[0].shape[1]}×{images[0].shape[0]}; all stimuli must have one size")  # fmt: skip
            images.append(image)
        return np.stack(images)
    if path.suffix == ".npy":
        return _to_grey_uint8(load_array(path), path)
    raise ValueError(f"{path}: stimuli must be a folder of images or an .npy array")


def stimulus_count(path: Path) -> int:
    """The stimuli in a set (without reading its images): images of a folder, rows of an .npy."""
    path = Path(path)
    if path.is_dir():
        return len(stimulus_files(path))
    if path.suffix == ".npy":
        return int(np.load(path, mmap_mode="r", allow_pickle=False).shape[0])
    return len(load_stimuli(path))  # refuses the file, naming what a set may be


def read_manifest(path: Path) -> pd.DataFrame:
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"data.own.manifest: no file {path}")
    manifest = pd.read_csv(path)
    missing = [column for column in MANIFEST_COLUMNS if column not in manifest.columns]
    if missing:
        raise ValueError(f"{path}: missing column(s) {missing}; required: {list(MANIFEST_COLUMNS)}")
    depths = pd.to_numeric(manifest["depth"], errors="coerce")
    if depths.isna().any():
        rows = manifest.index[depths.isna()]
        raise ValueError(
            f"{path}: column depth holds values that are not numbers ({sorted(set(manifest['depth'][rows].astype(str)))[:5]}, "
            f"rows {[row + 2 for row in rows[:5]]} as file lines); write each depth as a number of µm, e.g. 200"
        )
    manifest["depth"] = depths
    manifest["file"] = [path.parent / file for file in manifest["file"]]
    return manifest


def manifest_rows(manifest_path: Path, area: str, depth: int, stimulus: str) -> pd.DataFrame:
    """The manifest's rows of one population (the workflow lists their files as the job's inputs)."""
    manifest = read_manifest(manifest_path)
    rows = manifest[(manifest["area"] == area) & (manifest["depth"] == depth) & (manifest["stimulus"] == stimulus)]
    if rows.empty:
        raise ValueError(f"{manifest_path}: no row for area {area}, depth {depth}, stimulus {stimulus}")
    return rows


def check_responses(responses: np.ndarray, path: Path, n_stimuli: int) -> None:
    """A response array must be trials × stimuli × units, finite; its shape is checked against the
    stimulus count (axis 1), and a stimulus count found on another axis says how to fix the order."""
    shape = responses.shape
    if responses.ndim != 3 or shape[1] != n_stimuli:
        elsewhere = [axis for axis in range(responses.ndim) if shape[axis] == n_stimuli]
        hint = (
            f"; axis {elsewhere[0]} has {n_stimuli} entries, so the axes look ordered otherwise: save "
            f"np.moveaxis(array, {elsewhere[0]}, 1) if that axis is the stimuli"
            if responses.ndim == 3 and elsewhere
            else ""
        )
        raise ValueError(
            f"{path}: responses must be trials × stimuli × units with {n_stimuli} stimuli (the stimulus set's "
            f"count, on axis 1), got shape {shape}{hint}"
        )
    if not np.issubdtype(responses.dtype, np.number):
        raise ValueError(f"{path}: responses must be numbers, got dtype {responses.dtype}")
    bad = ~np.isfinite(responses)
    if bad.any():
        trial, stimulus, unit = np.argwhere(bad)[0]
        raise ValueError(
            f"{path}: {bad.sum()} NaN or infinite responses (the first at trial {trial}, stimulus {stimulus}, unit "
            f"{unit}); replace missing trials or drop the units before scoring"
        )
    if shape[0] < 2:
        raise ValueError(f"{path}: {shape[0]} trial; split halves need at least 2 trials per stimulus")


def population_recordings(
    manifest_path: Path, area: str, depth: int, stimulus: str, n_stimuli: int, cre_line: str
) -> tuple[list[dict], dict]:
    """One recording per manifest row of area × depth × ``stimulus``: (recordings, metadata).

    A unit's container is its animal."""
    rows = manifest_rows(manifest_path, area, depth, stimulus)
    repeated = rows[rows.duplicated("file", keep=False) | rows.duplicated("animal", keep=False)]
    if not repeated.empty:
        raise ValueError(
            f"{manifest_path}: rows {[index + 2 for index in repeated.index]} (file lines) list animal or file "
            f"{sorted(set(repeated['animal'].astype(str)))} twice for area {area}, depth {depth}, stimulus {stimulus}; "
            "one row per animal and population (its units would count twice)"
        )
    recordings, trials = [], {}
    for row in rows.itertuples():
        responses = load_array(row.file)
        check_responses(responses, Path(row.file), n_stimuli)
        trials[Path(row.file).name] = responses.shape[0]
        recordings.append({"responses": responses.astype(np.float64), "unit_id": np.arange(responses.shape[2]),
                           "container_id": str(row.animal)})  # fmt: skip
    _check_trial_counts(trials, manifest_path)
    metadata = {"area": area, "depth": depth, "stimulus": stimulus, "cre_line": cre_line, "signal": "own responses",
                "options": {"manifest": str(manifest_path)}}  # fmt: skip
    return recordings, metadata


def _check_trial_counts(trials: dict[str, int], manifest_path: Path) -> None:
    """Pooling cuts every animal to the fewest trials any has; refuse a cut of more than half an
    animal's trials, which is more often an array saved units × stimuli × trials than data."""
    fewest = min(trials.values())
    cut = {name: count for name, count in trials.items() if count > 2 * fewest}
    if cut:
        raise ValueError(
            f"{manifest_path}: pooling would cut {sorted(cut)} from {sorted(set(cut.values()))} trials to {fewest} (the "
            f"fewest, in {sorted(name for name, count in trials.items() if count == fewest)}), dropping more than half "
            "of them. If an array is saved units × stimuli × trials, save np.swapaxes(array, 0, 2); if the trial "
            "counts truly differ, keep the same trials for every animal in its file"
        )


def write_example(folder: Path, seed: int = 0) -> None:
    """A small own-data example: 24 natural images and two animals × two areas of responses.

    V1 units read out pixels (a random linear projection of each image), LM units read out
    local contrast energy, both with trial-to-trial noise.
    """
    from skimage.filters import gaussian

    from .embedded_cache import natural_scenes

    folder = Path(folder)
    images = natural_scenes(seed, (64, 64))[:24]
    (folder / "stimuli").mkdir(parents=True, exist_ok=True)
    for index, image in enumerate(images):
        io.imsave(folder / "stimuli" / f"image_{index:02d}.png", image, check_contrast=False)
    pixels = images.reshape(len(images), -1) / 255.0
    smooth = np.stack([gaussian(image / 255.0, 2) for image in images])
    energy = np.stack([gaussian((image / 255.0 - s) ** 2, 3) for image, s in zip(images, smooth)])
    features = {"V1": pixels - pixels.mean(axis=1, keepdims=True),
                "LM": energy.reshape(len(images), -1) - energy.reshape(len(images), -1).mean(axis=1, keepdims=True)}  # fmt: skip
    rng = np.random.default_rng(seed)
    rows = []
    for animal in ("mouse1", "mouse2"):
        for area, feature in features.items():
            drive = feature @ rng.standard_normal((feature.shape[1], 40))
            drive /= drive.std(axis=0, keepdims=True)
            responses = drive[None] + 0.7 * rng.standard_normal((6, *drive.shape))
            name = f"{animal}_{area}.npy"
            np.save(folder / name, responses.astype(np.float32))
            rows.append({"animal": animal, "area": area, "depth": 200, "stimulus": "example_images", "file": name})
    pd.DataFrame(rows).to_csv(folder / "manifest.csv", index=False)

"""The Brain Observatory's stimuli and the model stage's view of them (numpy only: both environments).

The model stage reads one file per stimulus: the images as shown (n × H × W uint8) and ``groups``,
the row of the response matrix each image belongs to (movie frames are averaged per segment, as
the neural responses are).
"""

from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np

N_SCENES = 118
N_MOVIE_FRAMES = 900
MEAN_GREY = 127  # the Brain Observatory's blank screen: mean luminance


def segment_of_frame(n_frames: int, segment_frames: int) -> np.ndarray:
    """Segment index of each movie frame: the grouping the model stage averages features over."""
    if n_frames % segment_frames:
        raise ValueError(f"{n_frames} movie frames do not split into segments of {segment_frames} frames")
    return np.arange(n_frames) // segment_frames


def model_stimuli(template: np.ndarray, stimulus: str, blanks: str | None, segment_frames: int | None) -> dict:
    """A Brain Observatory template as the model stage sees it: ``{"images", "groups"}``.

    natural_scenes with ``blanks == "keep"`` gets a mean-grey image as its last condition (the
    responses keep the blank as condition 118); natural_movie_one's frames are grouped into
    ``segment_frames``-frame segments.
    """
    images = np.asarray(template, dtype=np.uint8)
    if stimulus == "natural_movie_one":
        return {"images": images, "groups": segment_of_frame(len(images), segment_frames)}
    if stimulus != "natural_scenes":
        raise ValueError(f"stimulus {stimulus!r} is not one of 'natural_scenes', 'natural_movie_one'")
    if blanks == "keep":
        images = np.concatenate([images, np.full((1, *images.shape[1:]), MEAN_GREY, dtype=np.uint8)])
    return {"images": images, "groups": np.arange(len(images))}


def template_count(path: Path, stimulus: str, blanks: str | None, segment_frames: int | None) -> int:
    """The stimuli ``model_stimuli`` makes of a template file (``images``, as the stimulus_template
    rule writes it), from the array's header alone: a real template is hundreds of MB."""
    path = Path(path)
    try:
        with zipfile.ZipFile(path) as archive, archive.open("images.npy") as member:
            version = np.lib.format.read_magic(member)
            header = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
            shape = header(member)[0]
    except (OSError, KeyError, ValueError, zipfile.BadZipFile) as error:
        raise ValueError(f"{path}: not a stimulus template (an .npz with images, as results/templates/ holds): {error}") from None
    if stimulus == "natural_movie_one":
        return int(segment_of_frame(shape[0], segment_frames)[-1]) + 1
    if stimulus == "natural_scenes":
        return shape[0] + (blanks == "keep")
    raise ValueError(f"{path}: a template is of natural_scenes or natural_movie_one, not {stimulus!r} (give its images instead)")

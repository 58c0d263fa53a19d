"""The planted drives of the embedded Neuropixels cache's units, and the file that hands them from
the main environment (torch) to the AllenSDK one.

Each area's units read out the same planted layer of the same source network as the embedded
2-photon cells (brainlike.embedded_cache): a unit's drive for a stimulus is a sparse random
projection of the layer's standardised activation pattern. This module computes the drives of
every unit of every session and writes them, with the stimuli as shown, to one npz; the AllenSDK
environment turns them into spike trains and writes the cache (brainlike.embedded_ecephys_cache).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .atomic import write_npz
from .seeds import labelled_rng

STIMULI = ("natural_scenes", "natural_movie_one")


def drive_key(stimulus: str, area: str) -> str:
    return f"drive__{stimulus}__{area}"


def driven_key(area: str) -> str:
    return f"driven__{area}"


def template_key(stimulus: str) -> str:
    return f"template__{stimulus}"


def unit_drives(config: dict, models: dict, out: Path) -> None:
    """Write ``out`` (npz): each stimulus's template, and per stimulus × area the drive (stimuli ×
    units, the units of every session in session order) and whether each unit reads anything.

    ``config`` is the validated ``embedded`` section; its ``neuropixels`` block sets the sessions
    and units per area, its ``unreliable_fraction`` the units that read nothing.
    """
    # torch and the source network: the main environment only; the AllenSDK one reads the keys.
    from .embedded_cache import READOUT_FEATURES, Readout, planted_drives, planted_source, stimulus_templates

    layout = config["neuropixels"]
    templates = stimulus_templates(config)
    planted, n_features = planted_source(config, models, templates["natural_scenes"])
    readouts, arrays = {}, {}
    for area in config["areas"]:
        rng = labelled_rng(config["seed"], "neuropixels units", area)
        n_units = layout["sessions"] * layout["units_per_area"]
        driven = rng.random(n_units) >= config["unreliable_fraction"]
        readouts[area] = [
            Readout(
                index=rng.integers(0, n_features[area], (n_units, READOUT_FEATURES)),
                weight=rng.standard_normal((n_units, READOUT_FEATURES)) * driven[:, None],
            )
        ]
        arrays[driven_key(area)] = driven
    for stimulus in STIMULI:
        arrays[template_key(stimulus)] = templates[stimulus]
        drives = planted_drives(planted, templates[stimulus], readouts, config["batch_size"])
        for area, (drive,) in drives.items():
            arrays[drive_key(stimulus, area)] = drive.astype(np.float32)
    write_npz(out, arrays)

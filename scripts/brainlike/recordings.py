"""The data stage's hand-over: the response tensors of every recording of one population.

A data source's reader (AllenSDK for the Brain Observatory, the manifest reader for your own data)
writes, for one area × depth × stimulus, one trials × stimuli × units tensor per recording (an
experiment, or one animal's array) with its unit ids into an npz, and a JSON sidecar beside it that
says what each recording is and how its responses were read. Pooling and cell selection
(brainlike.populations) read it in the main environment.

numpy and json only: it is written in the AllenSDK environment (numpy 1.23) and read in the main one.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from .atomic import write_npz


def sidecar(path: Path) -> Path:
    return Path(path).with_suffix(".json")


def write_recordings(path: Path, recordings: list[dict], metadata: dict) -> None:
    """``recordings``: per recording ``{"responses", "unit_id", "container_id", ...labels}``; the
    arrays go to ``path`` (npz), the labels and ``metadata`` to its JSON sidecar."""
    arrays, labels = {}, []
    for index, recording in enumerate(recordings):
        responses = np.asarray(recording["responses"], dtype=np.float64)
        unit_id = np.asarray(recording["unit_id"])
        if responses.ndim != 3 or responses.shape[2] != len(unit_id):
            raise ValueError(f"recording {index}: responses {responses.shape} do not match {len(unit_id)} unit ids")
        arrays[f"responses_{index}"], arrays[f"unit_id_{index}"] = responses, unit_id
        labels.append({
            **{key: value for key, value in recording.items() if key not in ("responses", "unit_id")},
            "trials": responses.shape[0], "stimuli": responses.shape[1], "units": responses.shape[2],
        })  # fmt: skip
    write_npz(path, arrays)
    partial = sidecar(path).with_name(sidecar(path).name + ".partial")
    partial.write_text(json.dumps({**metadata, "recordings": labels}, indent=1, default=_plain))
    partial.replace(sidecar(path))


def read_recordings(path: Path) -> tuple[list[dict], dict]:
    """(recordings with their arrays, metadata): the inverse of write_recordings."""
    metadata = json.loads(sidecar(path).read_text())
    labels = metadata.pop("recordings")
    with np.load(path, allow_pickle=False) as arrays:
        recordings = [
            {**label, "responses": arrays[f"responses_{index}"], "unit_id": arrays[f"unit_id_{index}"]}
            for index, label in enumerate(labels)
        ]
    return recordings, metadata


def _plain(value):
    """numpy scalars in labels (ids read from NWB files) as plain JSON numbers."""
    if isinstance(value, np.generic):
        return value.item()
    raise TypeError(f"{value!r} is not JSON serialisable")

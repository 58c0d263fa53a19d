"""Reading the activation stores that ``activations.write_store`` records (layout in its module).

Kept apart from the recording code so the jobs that only read a store (model RDMs, encoding, CKA)
start without importing torch.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import zarr

from .rdm import stimulus_gram


def open_layers(path: Path) -> tuple[zarr.Group, list[dict]]:
    """The store at ``path`` and its layer list, in recording order."""
    root = zarr.open_group(Path(path), mode="r")
    return root, list(root.attrs["layers"])


def layer_grams(path: Path) -> tuple[list[dict], list[np.ndarray]]:
    """The store's layer list and each layer's stimulus × stimulus Gram matrix (``rdm.stimulus_gram``:
    uncentred, float64), a tensor recorded under several pathways read once."""
    root, layers = open_layers(path)
    grams = {}
    for layer in layers:
        if layer["layer"] not in grams:
            grams[layer["layer"]] = stimulus_gram(root[f"{layer['pathway']}/{layer['layer']}"])[0]
    return layers, [grams[layer["layer"]] for layer in layers]

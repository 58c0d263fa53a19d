"""Record layer activations of a model for a stimulus set, batch by batch, into a zarr store.

Store layout: one array per recorded layer at ``<pathway>/<layer>``, rows = stimuli (or movie
segments), columns = the layer's output flattened in C order; the root attribute ``layers`` lists
pathway, layer, index and the unflattened shape of one row. The store appears under its final name
only once every row is written.
"""

from __future__ import annotations

import logging
import shutil
import warnings
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
import zarr

from .layer_names import PIXEL_LAYER, PIXEL_PATHWAY
from .logs import Progress
from .models import FeatureCap, InputSpec, LoadedModel
from .stimuli import MEAN_GREY

log = logging.getLogger(__name__)

# Columns per chunk: a chunk of a 118-row layer stays near 30 MB uncompressed.
FEATURE_CHUNK = 1 << 16


# zstd level 1: on ReLU activations it compresses about as well as zarr's default (level 3) at
# about 1.5 times its speed, and encoding competes with the forward passes for the same cores.
COMPRESSOR = zarr.codecs.ZstdCodec(level=1)
# Every chunk is written: zarr's check for all-fill-value chunks (its default) scans each chunk
# and cost as much CPU as compressing it (scripts/benchmarks/extraction.py).
ARRAY_CONFIG = {"write_empty_chunks": True}

PIXELS = (PIXEL_PATHWAY, PIXEL_LAYER)  # the pixel baseline's (pathway, layer) key


def _square(images: np.ndarray) -> np.ndarray:
    """Pad to a square with mean grey, the image centred."""
    n, height, width = images.shape
    side = max(height, width)
    padded = np.full((n, side, side), MEAN_GREY, dtype=images.dtype)
    top, left = (side - height) // 2, (side - width) // 2
    padded[:, top : top + height, left : left + width] = images
    return padded


def to_input(images: np.ndarray, spec: InputSpec) -> torch.Tensor:
    """Greyscale uint8 images (n, H, W) → normalised (n, 3, size, size) float tensor.

    ``spec.resize == "stretch"`` resizes to a square without keeping the aspect ratio (the
    reference study); ``"pad"`` pads to a square with mean grey first.
    """
    if spec.resize == "pad":
        images = _square(images)
    elif spec.resize != "stretch":
        raise ValueError(f"input.resize: {spec.resize!r} is not 'stretch' or 'pad'")
    x = torch.from_numpy(np.ascontiguousarray(images)).float().div_(255.0)[:, None]
    x = F.interpolate(x, size=(spec.size, spec.size), mode="bilinear", antialias=True, align_corners=False)
    x = x.expand(-1, 3, -1, -1)
    mean = torch.tensor(spec.mean).view(1, 3, 1, 1)
    std = torch.tensor(spec.std).view(1, 3, 1, 1)
    return (x - mean) / std


def network_input(images: np.ndarray, rows: np.ndarray, spec: InputSpec) -> torch.Tensor:
    """The network's input for images grouped into rows (0, 1, ...).

    Image networks get one input per image. Video networks get one clip per row: a row of one
    image becomes a still clip of ``spec.frames`` frames; a row of ``spec.frames`` images (a movie
    segment) is played in order.
    """
    x = to_input(images, spec)
    if spec.frames is None:
        return x
    clips = []
    for row in range(int(rows[-1]) + 1):
        frames = x[rows == row]
        if len(frames) == 1:
            frames = frames.expand(spec.frames, -1, -1, -1)
        elif len(frames) != spec.frames:
            raise ValueError(
                f"a row of {len(frames)} frames cannot feed a {spec.frames}-frame clip: make the movie segments "
                f"{spec.frames} frames long (responses.natural_movie_one.segment_frames)"
            )
        clips.append(frames.transpose(0, 1))  # frames × C × H × W → C × frames × H × W
    return torch.stack(clips)


class _RowFeatures:
    """What one row keeps of each layer's output: a video layer is averaged over time (the
    reference), then a layer wider than the cap is brought down to it, by spatial average pooling
    until it fits, or by a sparse random projection of the row centred over its features
    (scikit-learn's SparseRandomProjection with the cap's seed: the same matrix for every layer of
    a width, every run), which keeps correlation distances between rows approximately."""

    def __init__(self, video: bool, cap: FeatureCap | None, device: torch.device):
        self.video, self.cap, self.device = video, cap, device
        self._projections: dict[int, torch.Tensor] = {}

    def _projection(self, width: int) -> torch.Tensor:
        if width not in self._projections:
            from sklearn.random_projection import SparseRandomProjection

            matrix = SparseRandomProjection(n_components=self.cap.max_features, random_state=self.cap.seed)
            # fit reads only the width (and checks the values are finite).
            components = matrix.fit(np.zeros((1, width), dtype=np.float32)).components_.tocsr().astype(np.float32)
            with warnings.catch_warnings():
                warnings.filterwarnings("ignore", message="Sparse CSR tensor support is in beta")
                self._projections[width] = torch.sparse_csr_tensor(
                    torch.from_numpy(components.indptr).long(),
                    torch.from_numpy(components.indices).long(),
                    torch.from_numpy(components.data),
                    size=components.shape,
                    check_invariants=True,
                ).to(self.device)
        return self._projections[width]

    def _time_averaged(self, output: torch.Tensor) -> torch.Tensor:
        return output.mean(dim=2) if self.video else output

    def _pooled(self, output: torch.Tensor) -> torch.Tensor:
        if output.ndim != 4:
            return output
        channels, height, width = output.shape[1:]
        side = max(1, int((self.cap.max_features / channels) ** 0.5))
        return F.adaptive_avg_pool2d(output, (min(side, height), min(side, width)))

    def _capped(self, output: torch.Tensor) -> bool:
        return self.cap is not None and output[0].numel() > self.cap.max_features

    def stored_shape(self, output: torch.Tensor) -> tuple:
        """Shape of what one row keeps (without building a projection)."""
        output = self._time_averaged(output)
        if not self._capped(output):
            return tuple(output.shape[1:])
        if self.cap.method == "random_projection":
            return (self.cap.max_features,)
        return tuple(self._pooled(output).shape[1:])

    def __call__(self, output: torch.Tensor) -> torch.Tensor:
        """Rows × kept features."""
        output = self._time_averaged(output)
        if not self._capped(output):
            return output.flatten(1)
        if self.cap.method == "random_projection":
            # Centre each row first: its mean is what a correlation RDM ignores, and left in, the
            # projection would turn it into a component shared by every row.
            flat = output.flatten(1).float()
            flat = flat - flat.mean(dim=1, keepdim=True)
            return torch.sparse.mm(self._projection(flat.shape[1]), flat.T).T
        return self._pooled(output).flatten(1)


def _reduction(cap: FeatureCap | None, output_shape: tuple, stored_shape: tuple) -> str | None:
    """How a layer was brought down to the cap, as recorded in the store (None: kept whole)."""
    if output_shape == stored_shape:
        return None
    if cap.method == "pool":
        return "spatial average pooling to max_features"
    return f"rows centred, then sparse random projection to max_features (scikit-learn SparseRandomProjection, seed {cap.seed})"


class _AllRecorded(Exception):
    """Raised by a recorder that stops the pass once every recorded layer has its output."""


class _Recorder:
    """Forward hooks that keep a private copy of each recorded module's output; with
    ``stop_when_complete``, the pass stops (``_AllRecorded``) after the last of them."""

    def __init__(self, model: LoadedModel, stop_when_complete: bool = False):
        modules = dict(model.network.named_modules())
        self._keys = model.layers()
        self._stop_when_complete = stop_when_complete
        self.outputs: dict[tuple[str, str], torch.Tensor] = {}
        self._handles = []
        for pathway, layer in self._keys:
            self._handles.append(modules[layer].register_forward_hook(self._hook(pathway, layer)))

    def run(self, network: torch.nn.Module, x: torch.Tensor) -> None:
        self.outputs = {}
        try:
            network(x)
        except _AllRecorded:
            pass

    def _hook(self, pathway: str, layer: str):
        def keep(_module, _inputs, output):
            # clone: a later in-place op (ReLU(inplace=True), `x += skip`) would change the tensor.
            self.outputs[(pathway, layer)] = output.detach().clone()
            if self._stop_when_complete and len(self.outputs) == len(self._keys):
                raise _AllRecorded

        return keep

    def close(self) -> None:
        for handle in self._handles:
            handle.remove()


def _batches(groups: np.ndarray, batch_size: int) -> Iterator[np.ndarray]:
    """Consecutive runs of whole groups holding about ``batch_size`` images each."""
    boundaries = np.flatnonzero(np.diff(groups)) + 1
    ends = np.concatenate([boundaries, [len(groups)]])
    batch_start = 0
    for end in ends:
        if end - batch_start >= batch_size or end == len(groups):
            yield np.arange(batch_start, end)
            batch_start = end


def iter_activations(
    model: LoadedModel,
    images: np.ndarray,
    groups: np.ndarray,
    batch_size: int,
    device: torch.device,
    stop_after_recorded: bool = False,
) -> Iterator[tuple[int, dict[tuple[str, str], np.ndarray]]]:
    """Yield (first row, {(pathway, layer): rows × features}) batch by batch.

    ``groups`` gives each image's output row, non-decreasing. For an image network, images sharing
    a row are averaged (the frames of a movie segment); a video network sees each row as one clip.
    Rows are float32, flattened in C order; the pixel baseline is under ``PIXELS``.
    ``stop_after_recorded``: skip the layers after the deepest recorded one (for a network whose
    recorded layers are its only outputs of interest).
    """
    if np.any(np.diff(groups) < 0) or groups[0] != 0 or np.any(np.diff(groups) > 1):
        raise ValueError("groups must number output rows 0, 1, 2, ... in order")
    video = model.input_spec.frames is not None
    network = model.network.to(device)
    features = _RowFeatures(video, model.cap, device)
    recorder = _Recorder(model, stop_after_recorded)
    try:
        with torch.inference_mode():
            for index in _batches(groups, batch_size):
                rows = groups[index] - groups[index[0]]
                x = network_input(images[index], rows, model.input_spec).to(device)
                recorder.run(network, x)
                outputs = {PIXELS: x, **recorder.outputs}
                if video or rows[-1] + 1 == len(rows):  # one input per row: nothing to average
                    batch = {key: features(out).float().cpu().numpy() for key, out in outputs.items()}
                else:
                    batch = {key: _group_means(features(out), rows, device) for key, out in outputs.items()}
                yield int(groups[index[0]]), batch
    finally:
        recorder.close()


def _group_means(flat: torch.Tensor, rows: np.ndarray, device: torch.device) -> np.ndarray:
    n_rows = int(rows[-1]) + 1
    index = torch.from_numpy(rows).to(device)
    sums = torch.zeros(n_rows, flat.shape[1], dtype=torch.float64, device=device).index_add_(0, index, flat.double())
    counts = torch.bincount(index, minlength=n_rows)
    return (sums / counts[:, None]).float().cpu().numpy()


def layer_shapes(model: LoadedModel, images: np.ndarray, device: torch.device) -> dict[tuple[str, str], tuple]:
    """(output shape, stored shape) of one row of every recorded layer, from one image: the output
    without its batch (and, for video, time) axis, and what is kept of it after any cap."""
    recorder = _Recorder(model)
    video = model.input_spec.frames is not None
    features = _RowFeatures(video, model.cap, device)
    try:
        with torch.inference_mode():
            x = network_input(images[:1], np.zeros(1, dtype=int), model.input_spec).to(device)
            recorder.run(model.network.to(device), x)
            outputs = {PIXELS: x, **recorder.outputs}
            return {
                key: (tuple(output.shape[1:2]) + tuple(output.shape[3 if video else 2 :]),
                      features.stored_shape(output))
                for key, output in outputs.items()
            }  # fmt: skip
    finally:
        recorder.close()


def write_store(
    path: Path,
    model: LoadedModel,
    images: np.ndarray,
    groups: np.ndarray,
    batch_size: int,
    device: torch.device,
    attrs: dict,
) -> None:
    """Record every layer of ``model`` on ``images`` into a new zarr store at ``path``."""
    path = Path(path)
    partial = path.with_name(path.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    try:
        _fill_store(partial, model, images, groups, batch_size, device, attrs)
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        raise
    if path.exists():
        shutil.rmtree(path)
    partial.rename(path)


def _fill_store(
    path: Path, model: LoadedModel, images: np.ndarray, groups: np.ndarray, batch_size: int, device: torch.device,
    attrs: dict,
) -> None:  # fmt: skip
    n_rows = int(groups[-1]) + 1
    shapes = layer_shapes(model, images, device)
    root = zarr.open_group(path, mode="w")
    arrays = {}
    recorded = [PIXELS, *model.layers()]
    for pathway, layer in recorded:
        n_features = int(np.prod(shapes[(pathway, layer)][1]))
        arrays[(pathway, layer)] = root.require_group(pathway).create_array(
            layer,
            shape=(n_rows, n_features),
            chunks=(min(n_rows, batch_size), min(n_features, FEATURE_CHUNK)),
            dtype="float32",
            compressors=COMPRESSOR,
            config=ARRAY_CONFIG,
        )
    root.attrs.update(
        {
            **attrs,
            "model": model.name,
            "n_rows": n_rows,
            "max_features": model.cap.max_features if model.cap else None,
            "feature_reduction": model.cap.method if model.cap else None,
            "layers": [
                {
                    "pathway": pathway, "layer": layer, "index": index,
                    "shape": list(shapes[(pathway, layer)][1]), "output_shape": list(shapes[(pathway, layer)][0]),
                    "reduction": _reduction(model.cap, *shapes[(pathway, layer)]),
                }  # fmt: skip
                for index, (pathway, layer) in enumerate(recorded)
            ],
        }
    )
    # Compressing and writing a batch (numcodecs releases the GIL) overlaps the next forward pass;
    # at most one batch waits, so memory stays bounded by two batches.
    with ThreadPoolExecutor(max_workers=1) as writer, Progress(n_rows, f"{model.name}: extraction", "row", log) as progress:
        pending = None
        for first_row, batch in iter_activations(model, images, groups, batch_size, device):
            if pending is not None:
                pending.result()
            pending = writer.submit(_write_batch, arrays, first_row, batch)
            progress.advance(len(next(iter(batch.values()))))
        if pending is not None:
            pending.result()


def _write_batch(arrays: dict, first_row: int, batch: dict) -> None:
    for key, rows in batch.items():
        arrays[key][first_row : first_row + len(rows)] = rows

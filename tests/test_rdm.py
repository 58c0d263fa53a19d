"""RDMs: equal to rsatoolbox's correlation RDMs, from memory and from chunked zarr reads."""

import numpy as np
import pytest
import zarr
from rsatoolbox.data import Dataset
from rsatoolbox.rdm import calc_rdm

from brainlike import rdm
from brainlike.rdm import correlation_rdm, correlation_rdms, load_rdms, save_rdms, split_half_rdms, upper
from brainlike.splits import random_splits


def rsatoolbox_vector(patterns):
    return calc_rdm(Dataset(np.asarray(patterns, dtype=np.float64)), method="correlation").get_vectors()[0]


def test_rdm_equals_rsatoolbox_on_relu_like_features():
    rng = np.random.default_rng(0)
    patterns = np.maximum(rng.normal(1.0, 2.0, (30, 500)), 0)
    np.testing.assert_allclose(upper(correlation_rdm(patterns)), rsatoolbox_vector(patterns), rtol=0, atol=1e-12)


def test_chunked_zarr_read_equals_in_memory(tmp_path, monkeypatch):
    rng = np.random.default_rng(1)
    patterns = rng.normal(0.5, 1.0, (25, 1000)).astype(np.float32)
    array = zarr.open_array(tmp_path / "layer.zarr", mode="w", shape=patterns.shape, chunks=(25, 128), dtype="float32")
    array[:] = patterns
    monkeypatch.setattr(rdm, "COLUMN_CHUNK", 300)  # chunks that do not divide the width
    np.testing.assert_allclose(upper(correlation_rdm(array)), rsatoolbox_vector(patterns), rtol=0, atol=1e-10)


def test_stacked_rdms_equal_one_by_one():
    rng = np.random.default_rng(2)
    stack = rng.normal(size=(3, 12, 40))
    np.testing.assert_allclose(correlation_rdms(stack), [correlation_rdm(p) for p in stack], rtol=0, atol=1e-13)


def test_planted_geometry():
    base = np.random.default_rng(3).normal(size=200)
    patterns = np.stack([base, 2 * base + 5, -base, np.roll(base, 50)])
    matrix = correlation_rdm(patterns)
    assert matrix[0, 1] == pytest.approx(0.0, abs=1e-12)  # affine copies: r = 1
    assert matrix[0, 2] == pytest.approx(2.0, abs=1e-12)  # sign flip: r = −1
    assert np.all(np.diag(matrix) == 0) and np.allclose(matrix, matrix.T)


def test_split_halves_partition_the_trials_per_stimulus():
    splits = random_splits(np.random.default_rng(4), n_splits=5, n_trials=7, n_stimuli=3)
    assert splits.shape == (5, 7, 3)
    assert np.all(np.sort(splits, axis=1) == np.arange(7)[None, :, None])
    # Trials whose responses mark the trial: a half's mean is the mean of its trial indices.
    responses = np.broadcast_to(np.arange(7.0)[:, None, None], (7, 3, 4)) + np.arange(4.0)[None, None, :] ** 2
    halves_a, halves_b = split_half_rdms(responses, splits)
    assert halves_a.shape == halves_b.shape == (5, 3, 3)
    with pytest.raises(ValueError, match="at least 2 trials"):
        random_splits(np.random.default_rng(0), 2, 1, 3)


def test_saved_rdms_load_in_rsatoolbox(tmp_path):
    rng = np.random.default_rng(5)
    matrices = correlation_rdms(rng.normal(size=(2, 6, 20)))
    save_rdms(tmp_path / "r.hdf5", matrices, {"layer": ["a", "b"]}, {"model": "m"})
    loaded = load_rdms(tmp_path / "r.hdf5")
    np.testing.assert_array_equal(loaded.get_matrices(), matrices)
    assert list(loaded.rdm_descriptors["layer"]) == ["a", "b"] and loaded.dissimilarity_measure == "correlation"

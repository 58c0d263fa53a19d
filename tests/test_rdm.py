"""RDMs: equal to rsatoolbox's calc_rdm, from memory and from chunked zarr reads; every brain RDM kind."""

import numpy as np
import pytest
import zarr
from rsatoolbox.data import Dataset
from rsatoolbox.rdm import calc_rdm, load_rdm

from brainlike import rdm
from brainlike.rdm import (
    DISTANCES,
    load_rdms,
    population_rdms,
    rdm_from_patterns,
    rdms_from_pattern_stack,
    save_rdms,
    upper,
)
from brainlike.splits import random_splits


def rsatoolbox_vector(patterns, distance="correlation"):
    return calc_rdm(Dataset(np.asarray(patterns, dtype=np.float64)), method=distance).get_vectors()[0]


@pytest.mark.parametrize("distance", DISTANCES)
def test_rdm_equals_rsatoolbox_on_relu_like_features(distance):
    rng = np.random.default_rng(0)
    patterns = np.maximum(rng.normal(1.0, 2.0, (30, 500)), 0)
    ours = upper(rdm_from_patterns(patterns, distance))
    np.testing.assert_allclose(ours, rsatoolbox_vector(patterns, distance), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("distance", DISTANCES)
def test_chunked_zarr_read_equals_in_memory(tmp_path, monkeypatch, distance):
    rng = np.random.default_rng(1)
    patterns = rng.normal(0.5, 1.0, (25, 1000)).astype(np.float32)
    array = zarr.open_array(tmp_path / "layer.zarr", mode="w", shape=patterns.shape, chunks=(25, 128), dtype="float32")
    array[:] = patterns
    monkeypatch.setattr(rdm, "COLUMN_CHUNK", 300)  # chunks that do not divide the width
    ours = upper(rdm_from_patterns(array, distance))
    np.testing.assert_allclose(ours, rsatoolbox_vector(patterns, distance), rtol=1e-10, atol=1e-10)


def test_stacked_rdms_equal_one_by_one():
    rng = np.random.default_rng(2)
    stack = rng.normal(size=(3, 12, 40))
    for distance in DISTANCES:
        np.testing.assert_allclose(
            rdms_from_pattern_stack(stack, distance), [rdm_from_patterns(p, distance) for p in stack], rtol=0, atol=1e-12
        )


def test_planted_geometry():
    base = np.random.default_rng(3).normal(size=200)
    patterns = np.stack([base, 2 * base + 5, -base, np.roll(base, 50)])
    matrix = rdm_from_patterns(patterns)
    assert matrix[0, 1] == pytest.approx(0.0, abs=1e-12)  # affine copies: r = 1
    assert matrix[0, 2] == pytest.approx(2.0, abs=1e-12)  # sign flip: r = −1
    assert np.all(np.diag(matrix) == 0) and np.allclose(matrix, matrix.T)
    assert rdm_from_patterns(patterns, "euclidean")[0, 2] == pytest.approx(np.mean((2 * base) ** 2), rel=1e-12)
    with pytest.raises(ValueError, match="unknown RDM distance 'cosine'; valid: correlation, euclidean"):
        rdm_from_patterns(patterns, "cosine")


def test_population_rdms_are_the_documented_kinds():
    rng = np.random.default_rng(4)
    trials, stimuli = 6, 9
    container_ids = np.repeat(["m11", "m22", "m33"], [5, 1, 4])  # m22 has a single cell; ids may be text
    responses = rng.normal(size=(trials, stimuli, len(container_ids)))
    splits = random_splits(rng, 3, trials, stimuli)
    stack, descriptors = population_rdms(responses, container_ids, splits, "correlation", np.random.default_rng(0), 4)
    kinds, indices = np.array(descriptors["kind"]), np.array(descriptors["index"])
    containers = np.array(descriptors["container"])
    assert list(kinds) == ["half_a"] * 3 + ["half_b"] * 3 + ["all"] + ["container"] * 2 + ["container_bootstrap"] * 4
    assert list(containers[kinds == "container"]) == ["m11", "m33"] and set(containers[kinds != "container"]) == {""}
    assert list(indices[kinds == "half_b"]) == [0, 1, 2] and list(indices[kinds == "container"]) == [0, 1]
    vectors = upper(stack)
    columns = np.arange(stimuli)[None, :]
    for split, order in enumerate(splits):
        half_a = responses[order[: trials // 2], columns].mean(axis=0)
        half_b = responses[order[trials // 2 :], columns].mean(axis=0)
        np.testing.assert_allclose(vectors[split], rsatoolbox_vector(half_a), atol=1e-12)
        np.testing.assert_allclose(vectors[3 + split], rsatoolbox_vector(half_b), atol=1e-12)
    np.testing.assert_allclose(vectors[6], rsatoolbox_vector(responses.mean(axis=0)), atol=1e-12)
    np.testing.assert_allclose(vectors[8], rsatoolbox_vector(responses[:, :, container_ids == "m33"].mean(axis=0)), atol=1e-12)
    # Container draws: the same generator gives the same containers; draw d uses split d mod 3.
    draw_rng = np.random.default_rng(0)
    for draw in range(4):
        chosen = draw_rng.choice(["m11", "m22", "m33"], size=3, replace=True)
        cells = np.concatenate([np.flatnonzero(container_ids == c) for c in chosen])
        order = splits[draw % 3]
        half_a = responses[order[: trials // 2], columns][:, :, cells].mean(axis=0)
        np.testing.assert_allclose(vectors[9 + draw], rsatoolbox_vector(half_a), atol=1e-12)


def test_split_halves_partition_the_trials_per_stimulus():
    splits = random_splits(np.random.default_rng(4), n_splits=5, n_trials=7, n_stimuli=3)
    assert splits.shape == (5, 7, 3)
    assert np.all(np.sort(splits, axis=1) == np.arange(7)[None, :, None])
    with pytest.raises(ValueError, match="at least 2 trials"):
        random_splits(np.random.default_rng(0), 2, 1, 3)


@pytest.mark.parametrize("distance", DISTANCES)
def test_saved_rdms_load_in_rsatoolbox(tmp_path, distance):
    """Our files are rsatoolbox's: rsatoolbox reads what the workflow writes, and the workflow reads
    what rsatoolbox writes, descriptors included."""
    rng = np.random.default_rng(5)
    matrices = rdms_from_pattern_stack(rng.normal(size=(2, 6, 20)), distance)
    save_rdms(tmp_path / "r.hdf5", matrices, {"layer": ["a", "b"], "index": [3, 7]}, {"model": "m", "depth": 175}, distance)
    theirs = load_rdm(str(tmp_path / "r.hdf5"), file_type="hdf5")
    np.testing.assert_array_equal(theirs.get_matrices(), matrices)
    assert list(theirs.rdm_descriptors["layer"]) == ["a", "b"] and list(theirs.rdm_descriptors["index"]) == [3, 7]
    assert theirs.dissimilarity_measure == DISTANCES[distance] and theirs.descriptors == {"model": "m", "depth": 175}
    assert list(theirs.pattern_descriptors["stimulus"]) == list(range(6))

    theirs.save(str(tmp_path / "theirs.hdf5"), file_type="hdf5")
    for path in ("r.hdf5", "theirs.hdf5"):
        ours = load_rdms(tmp_path / path)
        np.testing.assert_array_equal(ours.get_matrices(), matrices)
        np.testing.assert_array_equal(ours.get_vectors(), theirs.get_vectors())
        assert list(ours.rdm_descriptors["layer"]) == ["a", "b"] and list(ours.rdm_descriptors["index"]) == [3, 7]
        assert ours.descriptors == {"model": "m", "depth": 175} and ours.n_cond == 6
        assert ours.dissimilarity_measure == DISTANCES[distance]
    converted = load_rdms(tmp_path / "r.hdf5").to_rsatoolbox()
    np.testing.assert_array_equal(converted.get_matrices(), matrices)
    assert list(converted.rdm_descriptors["layer"]) == ["a", "b"]

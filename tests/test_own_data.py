"""Your own data: stimuli and response arrays flow through the same RDM, τ and ceiling stages."""

import filecmp

import numpy as np
import pandas as pd
import pytest
from conftest import ROOT
from skimage import io

from brainlike.own_data import load_stimuli, population_recordings, read_manifest, write_example

EXAMPLE = ROOT / "config" / "examples" / "own_data"


def test_example_config_runs_end_to_end(own_run):
    tmp_path = own_run
    table = pd.read_parquet(tmp_path / "results" / "tables" / "scores.parquet")
    assert set(table["area"]) == {"V1", "LM"} and set(table["stimulus"]) == {"example_images"}
    assert len(table) == 2 * 8  # two areas × (the last block of each EfficientNet-Lite0 stage and the pixel baseline)
    assert set(table["containers"]) == {2} and set(table["cells"]) == {80} and set(table["stimuli"]) == {24}
    assert (table["ceiling_median"] > 0.3).all()
    populations = pd.read_csv(tmp_path / "results" / "tables" / "populations.csv")
    assert set(populations["container_id"]) == {"mouse1", "mouse2"}
    assert (tmp_path / "results" / "figures" / "rsa" / "example_images" / "200um.png").exists()


def test_committed_example_is_what_write_example_makes(tmp_path):
    write_example(tmp_path)
    comparison = filecmp.dircmp(EXAMPLE, tmp_path)
    assert not comparison.left_only and not comparison.right_only
    for path in EXAMPLE.rglob("*"):
        if path.is_file():
            assert path.read_bytes() == (tmp_path / path.relative_to(EXAMPLE)).read_bytes(), path.name


def test_stimuli_from_folder_and_array_agree(tmp_path):
    folder = load_stimuli(EXAMPLE / "stimuli")
    assert folder.shape == (24, 64, 64) and folder.dtype == np.uint8
    np.save(tmp_path / "stimuli.npy", folder.astype(np.float32) / 255.0)
    np.testing.assert_array_equal(load_stimuli(tmp_path / "stimuli.npy"), folder)
    colour = np.repeat(folder[..., None], 3, axis=-1)
    np.save(tmp_path / "colour.npy", colour)
    assert np.abs(load_stimuli(tmp_path / "colour.npy").astype(int) - folder).max() <= 1


def test_bad_stimuli_are_named(tmp_path):
    (tmp_path / "set").mkdir()
    io.imsave(tmp_path / "set" / "a.png", np.zeros((8, 8), np.uint8), check_contrast=False)
    io.imsave(tmp_path / "set" / "b.png", np.zeros((8, 9), np.uint8), check_contrast=False)
    with pytest.raises(ValueError, match=r"b\.png: 9×8 pixels, but a\.png is 8×8"):
        load_stimuli(tmp_path / "set")
    with pytest.raises(ValueError, match="no image files"):
        load_stimuli(tmp_path)
    np.save(tmp_path / "bad.npy", np.full((2, 4, 4), 3.0))
    with pytest.raises(ValueError, match=r"bad\.npy: float stimuli must lie in \[0, 1\]"):
        load_stimuli(tmp_path / "bad.npy")


def test_bad_manifest_and_arrays_are_named(tmp_path):
    (tmp_path / "m.csv").write_text("animal,area,file\nm1,V1,x.npy\n")
    with pytest.raises(ValueError, match=r"m\.csv: missing column\(s\) \['depth', 'stimulus'\]"):
        read_manifest(tmp_path / "m.csv")
    np.save(tmp_path / "x.npy", np.zeros((3, 5, 2)))
    (tmp_path / "m.csv").write_text("animal,area,depth,stimulus,file\nm1,V1,100,s,x.npy\n")
    with pytest.raises(ValueError, match=r"x\.npy: responses must be trials × stimuli × units with 24 stimuli .*, got shape \(3, 5, 2\)"):
        population_recordings(tmp_path / "m.csv", "V1", 100, "s", 24, "example")
    with pytest.raises(ValueError, match="no row for area LM"):
        population_recordings(tmp_path / "m.csv", "LM", 100, "s", 5, "example")

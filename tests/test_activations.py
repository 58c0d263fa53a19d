"""Activations: hooks capture the right tensors, the trained model classifies, stores are complete."""

from pathlib import Path

import numpy as np
import pytest
import torch
import zarr
from conftest import default_config
from skimage import data as skdata
from skimage.color import rgb2gray

from brainlike import activations
from brainlike.activations import iter_activations, to_input, write_store
from brainlike.models import FeatureCap, available_layers, load_model

CPU = torch.device("cpu")


@pytest.fixture(scope="module")
def lite0():
    entry = default_config()["models"]["efficientnet_lite0"]
    # Every block (the default config records one per stage).
    return load_model("efficientnet_lite0", {**entry, "pathways": {"main": None}, "input": {**entry["input"], "size": 96}})


@pytest.fixture(scope="module")
def images():
    rng = np.random.default_rng(0)
    return rng.integers(0, 256, (7, 40, 50), dtype=np.uint8)


def test_hooked_blocks_equal_a_manual_forward_pass(lite0, images):
    network = lite0.network
    recorded = {}
    for first, batch in iter_activations(lite0, images, np.arange(len(images)), batch_size=3, device=CPU):
        for (_pathway, layer), rows in batch.items():
            recorded.setdefault(layer, []).append(rows)
    manual = {}
    with torch.inference_mode():
        for start in range(0, len(images), 3):  # the same batches, so the same floating-point sums
            x = network._swish(network._bn0(network._conv_stem(to_input(images[start : start + 3], lite0.input_spec))))
            for index, block in enumerate(network._blocks):
                x = block(x)
                manual.setdefault(f"_blocks.{index}", []).append(x.flatten(1).numpy().copy())
    for layer, rows in manual.items():
        np.testing.assert_allclose(np.concatenate(recorded[layer]), np.concatenate(rows), rtol=1e-6, atol=1e-6)
    assert len(recorded) == len(network._blocks) + 1 == 17
    # The pixel baseline is the network's own input.
    pixels = to_input(images, lite0.input_spec).flatten(1).numpy()
    np.testing.assert_allclose(np.concatenate(recorded["input"]), pixels, rtol=1e-6, atol=1e-6)


def test_rows_of_a_group_are_the_mean_of_its_images(lite0, images):
    groups = np.array([0, 0, 1, 1, 1, 2, 3])
    single = {}
    for _, batch in iter_activations(lite0, images, np.arange(7), batch_size=7, device=CPU):
        single = batch
    grouped = {}
    for first, batch in iter_activations(lite0, images, groups, batch_size=2, device=CPU):
        for key, rows in batch.items():
            grouped.setdefault(key, []).append(rows)
    for key, rows in single.items():
        expected = np.stack([rows[groups == g].mean(axis=0) for g in range(4)])
        np.testing.assert_allclose(np.concatenate(grouped[key]), expected, rtol=1e-5, atol=1e-6)


def test_groups_must_number_rows_in_order(lite0, images):
    with pytest.raises(ValueError, match="groups must number output rows"):
        next(iter_activations(lite0, images, np.array([0, 2, 2, 3, 4, 5, 6]), 2, CPU))


def test_trained_efficientnet_lite0_sees_a_cat():
    entry = default_config()["models"]["efficientnet_lite0"]
    model = load_model("efficientnet_lite0", entry)
    cat = np.round(255 * rgb2gray(skdata.chelsea())).astype(np.uint8)[None]
    with torch.inference_mode():
        logits = model.network(to_input(cat, model.input_spec))
    # ImageNet classes 281-285 are the domestic cats (tabby, tiger cat, Persian, Siamese, Egyptian).
    assert int(logits.argmax()) in range(281, 286)
    random_entry = {**entry, "weights": {"random_seed": 0}}
    with torch.inference_mode():
        random_logits = load_model("random", random_entry).network(to_input(cat, model.input_spec))
    assert not torch.allclose(logits, random_logits)


def test_unknown_layer_is_named_with_a_way_to_list_layers():
    entry = {**default_config()["models"]["efficientnet_lite0"], "pathways": {"main": ["_blocks.99"]}}
    with pytest.raises(ValueError, match=r"models.lite.pathways.main: no such layer\(s\) \['_blocks.99'\]"):
        load_model("lite", entry)
    assert "_blocks.15" in available_layers(load_model("lite", default_config()["models"]["efficientnet_lite0"]).network)


def test_store_has_every_layer_and_its_shape(lite0, images, tmp_path):
    path = tmp_path / "store.zarr"
    write_store(path, lite0, images, np.arange(len(images)), 4, CPU, {"stimulus": "test"})
    root = zarr.open_group(path, mode="r")
    assert root.attrs["stimulus"] == "test" and root.attrs["n_rows"] == 7
    assert [layer["layer"] for layer in root.attrs["layers"]] == ["input"] + [f"_blocks.{i}" for i in range(16)]
    assert root.attrs["layers"][0] == {"pathway": "pixels", "layer": "input", "index": 0, "shape": [3, 96, 96],
                                       "output_shape": [3, 96, 96], "reduction": None}  # fmt: skip
    first = root.attrs["layers"][1]
    assert root["main/_blocks.0"].shape == (7, int(np.prod(first["shape"])))
    assert not (tmp_path / "store.zarr.partial").exists()


def test_a_failed_extraction_leaves_no_store(lite0, images, tmp_path, monkeypatch):
    def fail_after_first_batch(*args, **kwargs):
        yield 0, {key: np.zeros((1, 1), np.float32) for key in lite0.layers()}
        raise RuntimeError("out of memory")

    monkeypatch.setattr(activations, "iter_activations", fail_after_first_batch)
    with pytest.raises(RuntimeError, match="out of memory"):
        write_store(tmp_path / "store.zarr", lite0, images, np.arange(len(images)), 4, CPU, {})
    assert list(tmp_path.iterdir()) == []


def test_a_feature_cap_pools_wide_layers_and_is_recorded(lite0, images, tmp_path):
    from dataclasses import replace

    capped = replace(lite0, cap=FeatureCap(2000))
    path = tmp_path / "capped.zarr"
    write_store(path, capped, images, np.arange(len(images)), 4, CPU, {})
    root = zarr.open_group(path, mode="r")
    assert root.attrs["max_features"] == 2000
    for layer in root.attrs["layers"]:
        stored = root[f"{layer['pathway']}/{layer['layer']}"]
        assert stored.shape[1] == int(np.prod(layer["shape"])) <= max(2000, layer["shape"][0])
        wide = int(np.prod(layer["output_shape"])) > 2000
        assert (layer["reduction"] is not None) == wide
    # Pooling is an average over space: the first block's pooled map equals torch's own pooling.
    first = next(layer for layer in root.attrs["layers"] if layer["layer"] == "_blocks.0")
    with torch.inference_mode():
        x = lite0.network._swish(lite0.network._bn0(lite0.network._conv_stem(to_input(images, lite0.input_spec))))
        pooled = torch.nn.functional.adaptive_avg_pool2d(lite0.network._blocks[0](x), first["shape"][1:])
    np.testing.assert_allclose(root["main/_blocks.0"][:], pooled.flatten(1).numpy(), rtol=1e-5, atol=1e-5)


def test_a_random_projection_cap_equals_scikit_learn_and_keeps_the_rdm(lite0, images, tmp_path):
    from dataclasses import replace

    from sklearn.random_projection import SparseRandomProjection

    from brainlike.compare import compare
    from brainlike.rdm import rdm_from_patterns, upper

    camera = skdata.camera()  # 512 × 512: 21 overlapping crops, images with shared structure
    many = np.stack([camera[row : row + 160 : 4, column : column + 200 : 4] for row in range(0, 350, 60) for column in range(0, 300, 100)][:21])
    whole, projected, again = tmp_path / "whole.zarr", tmp_path / "projected.zarr", tmp_path / "again.zarr"
    capped = replace(lite0, cap=FeatureCap(3000, "random_projection", seed=5))
    write_store(whole, lite0, many, np.arange(len(many)), 8, CPU, {})
    write_store(projected, capped, many, np.arange(len(many)), 8, CPU, {})
    write_store(again, capped, many, np.arange(len(many)), 8, CPU, {})
    whole_root, root = zarr.open_group(whole, mode="r"), zarr.open_group(projected, mode="r")
    assert root.attrs["feature_reduction"] == "random_projection"
    for layer in root.attrs["layers"]:
        key = f"{layer['pathway']}/{layer['layer']}"
        full = whole_root[key][:]
        if full.shape[1] <= 3000:
            assert layer["reduction"] is None
            np.testing.assert_array_equal(root[key][:], full)
            continue
        assert layer["shape"] == [3000] and "random projection" in layer["reduction"] and "seed 5" in layer["reduction"]
        # scikit-learn's own projection of the whole layer, rows centred, with the same seed.
        centred = full - full.mean(axis=1, keepdims=True)
        expected = SparseRandomProjection(3000, random_state=5).fit(centred).transform(centred)
        np.testing.assert_allclose(root[key][:], expected, rtol=1e-4, atol=1e-4 * np.abs(expected).max())
        np.testing.assert_array_equal(root[key][:], zarr.open_group(again, mode="r")[key][:])
        # Distances survive: the projected layer's correlation RDM follows the whole layer's.
        agreement = compare(upper(rdm_from_patterns(full)), upper(rdm_from_patterns(root[key][:])), "pearson")[0, 0]
        assert agreement > 0.9, (key, agreement)


class TinyNet(torch.nn.Module):
    """A user's own network, importable as tests.test_activations:TinyNet."""

    def __init__(self):
        super().__init__()
        self.conv = torch.nn.Conv2d(3, 4, 3)
        self.act = torch.nn.ReLU()

    def forward(self, x):
        return self.act(self.conv(x))


def test_a_users_own_module_loads_from_its_import_path_and_checkpoint(images, tmp_path, monkeypatch):
    monkeypatch.syspath_prepend(str(Path(__file__).parent))
    torch.manual_seed(3)
    reference = TinyNet()
    torch.save(reference.state_dict(), tmp_path / "tiny.pt")
    entry = {
        "family": "torch_module", "module": "test_activations:TinyNet",
        "weights": {"checkpoint": str(tmp_path / "tiny.pt")},
        "input": {"size": 12, "mean": [0.5] * 3, "std": [0.25] * 3, "resize": "pad"},
        "pathways": {"own": ["conv", "act"]},
    }  # fmt: skip
    model = load_model("tiny", entry)
    batch = next(iter_activations(model, images, np.arange(len(images)), 7, CPU))[1]
    with torch.inference_mode():
        expected = reference.conv(to_input(images, model.input_spec))
    np.testing.assert_allclose(batch[("own", "conv")], expected.flatten(1).numpy(), rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(batch[("own", "act")], expected.clamp(min=0).flatten(1).numpy(), rtol=1e-6, atol=1e-6)
    with pytest.raises(ValueError, match="models.tiny.pathways.own: no default layers"):
        load_model("tiny", {**entry, "pathways": {"own": None}})
    with pytest.raises(ValueError, match="models.tiny.weights: torch_module takes"):
        load_model("tiny", {**entry, "weights": "imagenet"})


def test_pad_to_square_keeps_the_aspect_ratio(lite0):
    from dataclasses import replace

    wide = np.zeros((1, 10, 40), dtype=np.uint8)
    wide[:, :, :] = 255
    spec = replace(lite0.input_spec, size=40, resize="pad", mean=(0.0,) * 3, std=(1.0,) * 3)
    x = to_input(wide, spec)[0, 0].numpy()
    # 40 × 40 after padding: rows 15..24 white, the rest mean grey.
    assert x[20, 20] == pytest.approx(1.0) and x[2, 20] == pytest.approx(127 / 255, abs=1e-6)
    stretched = to_input(wide, replace(spec, resize="stretch"))[0, 0].numpy()
    assert stretched.min() == pytest.approx(1.0)


def test_trained_efficientnet_lite1_sees_a_cat():
    entry = {**default_config()["models"]["efficientnet_lite0"], "variant": "efficientnet-lite1"}
    entry["input"] = {**entry["input"], "size": 240}
    model = load_model("efficientnet_lite1", entry)
    cat = np.round(255 * rgb2gray(skdata.chelsea())).astype(np.uint8)[None]
    with torch.inference_mode():
        logits = model.network(to_input(cat, model.input_spec))
    assert int(logits.argmax()) in range(281, 286)


def test_the_feature_cap_comes_from_the_config():
    entry = default_config()["models"]["efficientnet_lite0"]
    assert load_model("m", entry).cap is None
    pooled = load_model("m", {**entry, "max_features": 500})
    assert pooled.cap == FeatureCap(500, "pool", 0)
    projected = load_model("m", {**entry, "max_features": 500, "feature_reduction": "random_projection", "projection_seed": 3})
    assert projected.cap == FeatureCap(500, "random_projection", 3)

"""The reference two-pathway video models: strict, code-free loading, and the right tensors recorded."""

import pickle

import numpy as np
import pytest
import torch
import zarr
from conftest import SHARED

from brainlike.activations import PIXELS, iter_activations, network_input, write_store
from brainlike.models import load_model
from brainlike.visualnet import VisualNet, load_visualnet, read_checkpoint

CHECKPOINTS = SHARED / "data" / "crijnen_checkpoints"
NAMES = [f"rat{i}" for i in range(1, 6)] + [f"ts{i}" for i in range(1, 6)]
CPU = torch.device("cpu")
needs_checkpoints = pytest.mark.skipif(not CHECKPOINTS.exists(), reason="the reference checkpoints live in ../shared")


def entry(name: str) -> dict:
    return {
        "family": "two_pathway_video",
        "weights": {"checkpoint": str(CHECKPOINTS / f"{name}.ckpt")},
        "out_merge": "concat",
        "input": {"size": 64, "frames": 15, "mean": "checkpoint", "std": "checkpoint"},
        "pathways": {"p1": None, "p2": None},
    }


@needs_checkpoints
@pytest.mark.parametrize("name", NAMES)
def test_every_checkpoint_loads_strictly(name):
    backbone, hyper_parameters = read_checkpoint(CHECKPOINTS / f"{name}.ckpt")
    assert len(backbone) == 234
    network, _ = load_visualnet(CHECKPOINTS / f"{name}.ckpt", "concat", "models.x.weights.checkpoint")  # strict=True inside
    assert set(network.state_dict()) == set(backbone)
    assert hyper_parameters["network"]["backbone"]["num_res_blocks"] == 6


@needs_checkpoints
def test_rat_and_tree_shrew_normalisations_are_the_published_ones():
    rat = load_model("rat1", entry("rat1")).input_spec
    shrew = load_model("ts1", entry("ts1")).input_spec
    np.testing.assert_allclose(rat.mean, [0.4992, 0.4975, 0.4928], atol=1e-4)
    np.testing.assert_allclose(rat.std, [0.2379, 0.2291, 0.2454], atol=1e-4)
    np.testing.assert_allclose(shrew.mean, [0.4809, 0.4859, 0.4901], atol=1e-4)
    np.testing.assert_allclose(shrew.std, [0.2381, 0.2350, 0.2474], atol=1e-4)


def natural_clip_images() -> np.ndarray:
    """108 greyscale crops of scikit-image's photographs, 128 × 128."""
    from PIL import Image
    from skimage import data as skimage_data
    from skimage.color import rgb2gray

    crops = []
    names = ["camera", "astronaut", "coffee", "chelsea", "rocket", "coins", "moon", "page", "text", "brick", "grass", "gravel"]
    for name in names:
        image = getattr(skimage_data, name)()
        image = (rgb2gray(image) * 255).astype(np.uint8) if image.ndim == 3 else image
        height, width = image.shape
        for row in range(3):
            for column in range(3):
                top, left = row * height // 4, column * width // 4
                crop = image[top : top + height // 2, left : left + width // 2]
                crops.append(np.asarray(Image.fromarray(crop).resize((128, 128))))
    return np.stack(crops)


@needs_checkpoints
def test_batch_norm_statistics_check_the_rebuild_layer_by_layer():
    """Every BatchNorm's input on natural clips against its stored running statistics: a wrong
    structural choice would break the agreement from the first layer where it occurs.

    The stem's running variances are matched by clips normalised with the checkpoint's mean and SD,
    and missed by far without normalisation. Its running means depend on the clips' brightness
    (these photographs are darker than the training video, normalised mean about -0.2, which flips
    their sign), so they test nothing there; after the stem every block's input means follow the
    stored ones in both pathways. (Variances of the self-motion pathway's later blocks fall to a
    fraction of the stored ones: static clips hold no motion.)"""
    model = load_model("rat1", entry("rat1"))
    network, spec = model.network, model.input_spec
    images = natural_clip_images()
    seen = {}
    norms = {name: module for name, module in network.named_modules() if isinstance(module, torch.nn.BatchNorm3d)}

    def keep(name):
        return lambda module, inputs, output: seen.setdefault(name, []).append(inputs[0])

    handles = [module.register_forward_hook(keep(name)) for name, module in norms.items()]
    with torch.inference_mode():
        normalised = network_input(images, np.arange(len(images)), spec)
        std, mean = (torch.tensor(values).view(1, 3, 1, 1, 1) for values in (spec.std, spec.mean))
        network(normalised)
        network.s1(normalised * std + mean)
    for handle in handles:
        handle.remove()
    running = norms["s1.bn1"].running_var.numpy()
    fitted, unfitted = (inputs.var(dim=(0, 2, 3, 4)).numpy() for inputs in seen["s1.bn1"])
    assert np.corrcoef(fitted, running)[0, 1] > 0.9
    assert 0.3 < np.median(fitted / running) < 3
    assert np.median(unfitted / running) < 0.15
    for name, module in norms.items():
        if name != "s1.bn1":
            means = seen[name][0].mean(dim=(0, 2, 3, 4)).numpy()
            assert np.corrcoef(means, module.running_mean.numpy())[0, 1] > 0.75, name


def test_a_checkpoint_naming_other_code_is_refused(tmp_path):
    class Payload:
        def __reduce__(self):
            return (print, ("this must never run",))

    path = tmp_path / "evil.ckpt"
    torch.save({"state_dict": {}, "hyper_parameters": Payload()}, path)
    with pytest.raises(pickle.UnpicklingError, match=r"evil\.ckpt: refused: the file names print, outside"):
        read_checkpoint(path)


@needs_checkpoints
def test_hooked_layers_equal_a_manual_forward_pass():
    model = load_model("rat1", entry("rat1"))
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (4, 30, 40), dtype=np.uint8)
    recorded = {}
    for _, batch in iter_activations(model, images, np.arange(4), batch_size=4, device=CPU):
        recorded = batch
    network = model.network
    with torch.inference_mode():
        clip = network_input(images, np.arange(4), model.input_spec)
        stem = network.s1(clip)
        manual = {("p1", "s1"): stem, ("p2", "s1"): stem}
        outputs = []
        for path, pathway in ((network.path0, "p1"), (network.path1, "p2")):
            x = stem
            for block in range(6):
                x = getattr(path.res_blocks, f"res{block}")(x)
                manual[(pathway, f"path{pathway[-1] and int(pathway[-1]) - 1}.res_blocks.res{block}")] = x
            outputs.append(x)
        manual[("p1", "out")] = manual[("p2", "out")] = torch.cat(outputs, dim=1)
    for key, tensor in manual.items():
        expected = tensor.mean(dim=2).flatten(1).numpy()  # time averaged, then flattened
        np.testing.assert_allclose(recorded[key], expected, rtol=1e-5, atol=1e-6, err_msg=str(key))
    assert recorded[("p1", "s1")].shape == (4, 128 * 16 * 16)
    assert recorded[("p1", "path0.res_blocks.res0")].shape == (4, 64 * 16 * 16)
    assert recorded[("p1", "out")].shape == (4, 128 * 16 * 16)
    np.testing.assert_allclose(recorded[PIXELS], clip.mean(dim=2).flatten(1).numpy(), rtol=1e-6)


def test_movie_segments_play_as_clips_and_scenes_as_still_clips():
    spec = load_model("random", {**entry("rat1"), "weights": {"random_seed": 0},
                                 "input": {"size": 16, "frames": 3, "mean": [0.5] * 3, "std": [0.25] * 3}}).input_spec  # fmt: skip
    frames = np.stack([np.full((8, 8), value, dtype=np.uint8) for value in (0, 128, 255, 64, 64, 64)])
    clips = network_input(frames, np.array([0, 0, 0, 1, 1, 1]), spec)
    assert clips.shape == (2, 3, 3, 16, 16)
    np.testing.assert_allclose(clips[0, 0, :, 0, 0].numpy(), [(v / 255 - 0.5) / 0.25 for v in (0, 128, 255)], atol=1e-6)
    still = network_input(frames[:1], np.array([0]), spec)
    assert still.shape == (1, 3, 3, 16, 16) and torch.equal(still[0, :, 0], still[0, :, 2])
    with pytest.raises(ValueError, match="a row of 2 frames cannot feed a 3-frame clip"):
        network_input(frames[:2], np.array([0, 0]), spec)


@needs_checkpoints
def test_reference_model_runs_on_the_embedded_stimuli(workflow_run, tmp_path):
    model = load_model("rat1", entry("rat1"))
    trained = load_model("rat1", entry("rat1")).network.state_dict()["s1.conv1.weight"]
    untrained = VisualNet().state_dict()["s1.conv1.weight"]
    assert not torch.equal(trained, untrained)
    for stimulus, rows in (("natural_scenes", 118), ("natural_movie_one", 60)):
        stimuli = np.load(workflow_run / "results" / "stimuli" / f"{stimulus}.npz")
        path = tmp_path / f"{stimulus}.zarr"
        write_store(path, model, stimuli["images"], stimuli["groups"], 16, CPU, {"stimulus": stimulus})
        root = zarr.open_group(path, mode="r")
        assert len(root.attrs["layers"]) == 1 + 2 * 8  # pixels, then s1, six blocks and out per pathway
        block = np.asarray(root["p1/path0.res_blocks.res5"])
        assert block.shape == (rows, 64 * 16 * 16) and np.isfinite(block).all() and block.std() > 0

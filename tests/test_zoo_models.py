"""timm and OpenCLIP models: random initialisation, local state dicts, published weights by tag (a
clear error where they cannot be fetched), default layers, hooks, and the config check."""


import huggingface_hub
import numpy as np
import pandas as pd
import pytest
import torch
import yaml
from conftest import copy_of_run, snakemake

from brainlike.activations import iter_activations, to_input
from brainlike.models import check_entry, load_model

IMAGES = np.random.default_rng(0).integers(0, 256, (3, 40, 40), dtype=np.uint8)


def timm_entry(weights, variant="resnet18") -> dict:
    return {"family": "timm", "variant": variant, "weights": weights, "pathways": {"main": None},
            "input": {"size": 64, "mean": "checkpoint", "std": "checkpoint"}}  # fmt: skip


def clip_entry(weights, variant="ViT-S-32") -> dict:
    return {"family": "open_clip", "variant": variant, "weights": weights, "pathways": {"main": None},
            "input": {"size": 224, "mean": "checkpoint", "std": "checkpoint"}}  # fmt: skip


def recorded(model) -> dict[tuple[str, str], np.ndarray]:
    return next(iter_activations(model, IMAGES, np.arange(len(IMAGES)), len(IMAGES), torch.device("cpu")))[1]


@pytest.fixture
def offline(monkeypatch):
    """The Hugging Face hub unreachable at once, as on a machine without internet."""
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)


def test_random_timm_network_records_its_stages():
    model = load_model("r18", timm_entry({"random_seed": 1}))
    assert model.pathways["main"] == ["act1", "layer1", "layer2", "layer3", "layer4"]
    assert model.input_spec.mean == (0.485, 0.456, 0.406)
    batch = recorded(model)
    net = model.network
    with torch.inference_mode():
        x = net.maxpool(net.act1(net.bn1(net.conv1(to_input(IMAGES, model.input_spec)))))
        for name in ("layer1", "layer2", "layer3", "layer4"):
            x = getattr(net, name)(x)
            np.testing.assert_allclose(batch[("main", name)], x.flatten(1).numpy(), rtol=1e-5, atol=1e-5)
    again = load_model("r18", timm_entry({"random_seed": 1})).network.state_dict()["conv1.weight"]
    assert torch.equal(again, net.state_dict()["conv1.weight"])


def test_a_timm_state_dict_loads_strictly_and_a_wrong_one_is_named(tmp_path):
    import timm

    torch.manual_seed(5)
    reference = timm.create_model("resnet18", pretrained=False)
    torch.save(reference.state_dict(), tmp_path / "r18.pt")
    model = load_model("mine", timm_entry({"checkpoint": str(tmp_path / "r18.pt")}))
    assert torch.equal(model.network.state_dict()["fc.weight"], reference.state_dict()["fc.weight"])
    with pytest.raises(ValueError, match=r"models.mine.weights.checkpoint: .*r18.pt does not fit ResNet.*missing: layer1.2.conv1.weight"):
        load_model("mine", timm_entry({"checkpoint": str(tmp_path / "r18.pt")}, variant="resnet34"))


def test_timm_published_weights_by_tag_or_a_way_out(offline):
    with pytest.raises(ValueError, match=r"models.r18.weights.published: resnet18 has no weights 'in1k'; published: \[.*'a1_in1k'"):
        load_model("r18", timm_entry({"published": "in1k"}))
    with pytest.raises(RuntimeError, match=r"resnet18.a1_in1k \(Hugging Face hub repository timm/resnet18.a1_in1k\).*HF_HOME.*checkpoint: PATH"):
        load_model("r18", timm_entry({"published": "a1_in1k"}))
    with pytest.raises(ValueError, match=r"models.x.variant: 'resnet19' is not a timm architecture"):
        load_model("x", timm_entry({"random_seed": 0}, variant="resnet19"))


def test_random_open_clip_image_tower_records_its_residual_blocks():
    model = load_model("clip", clip_entry({"random_seed": 2}))
    assert model.pathways["main"] == [f"transformer.resblocks.{index}" for index in range(12)]
    assert model.input_spec.mean == pytest.approx((0.48145466, 0.4578275, 0.40821073))
    batch = recorded(model)
    assert set(batch) == {("main", layer) for layer in model.pathways["main"]} | {("pixels", "input")}
    # The tower's output is its last block's, normalised and projected: the hooks saw the real pass.
    tower = model.network
    with torch.inference_mode():
        output = tower(to_input(IMAGES, model.input_spec))
        tokens = torch.from_numpy(batch[("main", "transformer.resblocks.11")]).view(len(IMAGES), 50, -1)
        np.testing.assert_allclose(tower.ln_post(tokens[:, 0]) @ tower.proj, output, rtol=1e-4, atol=1e-5)


def test_open_clip_published_weights_by_tag_or_a_way_out(offline):
    with pytest.raises(ValueError, match=r"ViT-B-32 has no weights 'laion'; published: \[.*'laion2b_s34b_b79k'"):
        load_model("clip", clip_entry({"published": "laion"}, variant="ViT-B-32"))
    with pytest.raises(RuntimeError, match=r"ViT-B-32 laion2b_s34b_b79k \(Hugging Face hub repository laion/CLIP-ViT-B-32-laion2B-s34B-b79K\).*HF_HOME"):
        load_model("clip", clip_entry({"published": "laion2b_s34b_b79k"}, variant="ViT-B-32"))


def test_zoo_entries_are_checked_on_the_meta_device():
    check_entry("r18", timm_entry({"random_seed": 0}))
    check_entry("clip", clip_entry({"random_seed": 0}))
    with pytest.raises(ValueError, match=r"models.clip.input: the network cannot take 64 × 64 pixels"):
        check_entry("clip", {**clip_entry({"random_seed": 0}), "input": {"size": 64, "mean": "checkpoint", "std": "checkpoint"}})
    with pytest.raises(ValueError, match=r"models.r18.pathways.main: no such layer\(s\) \['layer5'\]"):
        check_entry("r18", {**timm_entry({"random_seed": 0}), "pathways": {"main": ["layer5"]}})


def test_timm_and_open_clip_models_are_extracted_and_scored_end_to_end(workflow_run, tmp_path):
    """Both families added to a completed run by a config overlay: their scenes extraction, RDMs
    and scores run as jobs of the workflow, one row per population × default layer, every score a
    number with its p."""
    workdir = tmp_path / "run"
    copy_of_run(workflow_run, workdir)
    zoo = {"timm_r18": timm_entry({"random_seed": 3}), "clip_s32": clip_entry({"random_seed": 4})}
    overlay = tmp_path / "zoo.yaml"
    overlay.write_text(yaml.safe_dump({"models": zoo}))
    targets = [f"results/tau/{name}/natural_scenes.parquet" for name in zoo]
    snakemake(workdir, *targets, "--cores", "2", "--configfile", str(overlay))
    populations = pd.read_parquet(workflow_run / "results/tau/efficientnet_lite0/natural_scenes.parquet")[["area", "depth"]]
    for name, layers in (("timm_r18", ["act1", "layer1", "layer2", "layer3", "layer4"]),
                         ("clip_s32", [f"transformer.resblocks.{index}" for index in range(12)])):  # fmt: skip
        table = pd.read_parquet(workdir / f"results/tau/{name}/natural_scenes.parquet")
        assert sorted(table.loc[table["pathway"] == "main", "layer"].unique()) == sorted(layers), name
        assert len(table[table["pathway"] == "main"]) == len(layers) * len(populations.drop_duplicates()), name
        assert table["score"].notna().all() and table["p"].between(0, 1, inclusive="right").all(), name

"""torchvision architectures: random initialisation always, trained weights where they can be fetched."""

import numpy as np
import pytest
import torch
import torchvision

from brainlike.activations import iter_activations, to_input
from brainlike.models import load_model

IMAGENET = {"size": 64, "mean": [0.485, 0.456, 0.406], "std": [0.229, 0.224, 0.225]}


def resnet18(weights) -> dict:
    return {"family": "torchvision", "variant": "resnet18", "weights": weights, "input": IMAGENET,
            "pathways": {"main": None}}  # fmt: skip


def test_random_resnet18_default_layers_and_hooks():
    model = load_model("resnet18", resnet18({"random_seed": 1}))
    assert model.pathways["main"] == ["conv1", "bn1", "relu", "maxpool", "layer1.0", "layer1.1", "layer2.0",
                                      "layer2.1", "layer3.0", "layer3.1", "layer4.0", "layer4.1", "avgpool"]  # fmt: skip
    images = np.random.default_rng(0).integers(0, 256, (3, 32, 32), dtype=np.uint8)
    batch = next(iter_activations(model, images, np.arange(3), 3, torch.device("cpu")))[1]
    net = model.network
    with torch.inference_mode():
        x = net.maxpool(net.relu(net.bn1(net.conv1(to_input(images, model.input_spec)))))
        for name in ("layer1", "layer2", "layer3", "layer4"):
            for index, block in enumerate(getattr(net, name)):
                x = block(x)
                np.testing.assert_allclose(batch[("main", f"{name}.{index}")], x.flatten(1).numpy(), rtol=1e-5, atol=1e-5)
    # ReLU(inplace=True) modifies its input: the recorder keeps the output it returned, a copy.
    assert (batch[("main", "relu")] >= 0).all()
    again = load_model("resnet18", resnet18({"random_seed": 1})).network.state_dict()["conv1.weight"]
    assert torch.equal(again, net.state_dict()["conv1.weight"])


def test_a_state_dict_checkpoint_loads_strictly(tmp_path):
    torch.manual_seed(5)
    reference = torchvision.models.resnet18()
    torch.save(reference.state_dict(), tmp_path / "r18.pt")
    model = load_model("mine", resnet18({"checkpoint": str(tmp_path / "r18.pt")}))
    assert torch.equal(model.network.state_dict()["fc.weight"], reference.state_dict()["fc.weight"])


def test_trained_weights_that_cannot_be_fetched_fail_with_a_way_out(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))

    def offline(*args, **kwargs):
        raise OSError("no network")

    monkeypatch.setattr(torch.hub, "download_url_to_file", offline)
    with pytest.raises(RuntimeError, match=r"could not fetch the trained weights of resnet18 from https://.*hub/checkpoints"):
        load_model("resnet18", resnet18("imagenet"))


def test_unknown_architecture_is_named():
    with pytest.raises(ValueError, match="'resnet19' is not a torchvision model"):
        load_model("x", {**resnet18({"random_seed": 0}), "variant": "resnet19"})

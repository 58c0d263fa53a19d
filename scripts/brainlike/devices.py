"""The torch device a job runs on, checked in the job: the machine that plans a run (a cluster's
login node) need not have the GPU its jobs ask for."""

from __future__ import annotations

# What each device key can say instead of an absent GPU.
FALLBACKS = {"activations.device": "auto or cpu", "encoding.device": "null (himalaya's numpy backend on the CPU)"}


def resolve(device: str | None, key: str, machine: str = "this job's machine") -> str | None:
    """``auto`` → cuda when present, else cpu; a named CUDA device must exist on this machine.
    ``key`` names the config key in the error, ``machine`` the machine; None (numba on the CPU)
    and ``cpu`` pass through without importing torch (2 s of a job's start-up)."""
    if device is None or device == "cpu":
        return device
    import torch

    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device is not None and device.startswith("cuda"):
        index = int(device.partition(":")[2] or 0)
        if not torch.cuda.is_available() or index >= torch.cuda.device_count():
            found = torch.cuda.device_count() if torch.cuda.is_available() else 0
            raise RuntimeError(
                f"{key}: {device!r}, but {machine} has {found} CUDA device(s); send the job to a GPU node "
                f"(the rule asks for the gpu resource), or set {key} to "
                + FALLBACKS.get(key, "null (numba on the CPU)")
            )
    return device

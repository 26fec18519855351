"""Which torch device a run or an evaluation uses.

A service of training, scoring and `benchmark perf` alike, so it lives below all of them:
evaluation must not import the training loop just to pick a device.
"""
from __future__ import annotations

import torch


class DeviceError(RuntimeError):
    """The device asked for is not available here."""


def resolve_device(name: str) -> torch.device:
    """`auto` -> cuda when one is visible, else cpu; an explicit cuda without CUDA is refused."""
    name = str(name)
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(name)
    except RuntimeError as exc:
        raise DeviceError(f"device={name} is not a torch device name: use auto, cpu, cuda or cuda:N") from exc
    if device.type == "cuda" and not torch.cuda.is_available():
        raise DeviceError(f"device={name} asked for but CUDA is not available: use device=cpu or device=auto")
    return device

"""The losses of the steps not yet logged, kept on the device until one transfer reads them all.

`train_step` returns detached 0-d tensors (models/base.py). Turning each into a float every step
is a host sync per loss per step: on a GPU at batch 1 that waits out the whole queued step and
the next one cannot be launched ahead. Here a step's losses wait, and `drain()` copies every
waiting value in one `torch.stack(...).tolist()` -- when a log row is due and before anything
is saved (sample grid, checkpoint), so a non-finite loss is still found before a checkpoint
could hold the step that made it.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import torch


@dataclass
class StepLosses:
    """One step's losses as floats, and what the trainer logs beside them."""

    iteration: int          # 0-based index of the step
    losses: dict[str, float]
    extra: dict = field(default_factory=dict)

    def non_finite(self) -> list[str]:
        return [k for k, v in self.losses.items() if not math.isfinite(v)]


class LossBuffer:
    """Steps appended with their loss tensors; `drain()` returns them as floats, oldest first."""

    def __init__(self) -> None:
        self._steps: list[tuple[int, dict, dict]] = []

    def __len__(self) -> int:
        return len(self._steps)

    def add(self, iteration: int, losses: dict, **extra) -> None:
        self._steps.append((iteration, losses, extra))

    def drain(self) -> list[StepLosses]:
        """Every waiting step as floats (one device -> host transfer), and forget them."""
        if not self._steps:
            return []
        flat = [v for _, losses, _ in self._steps for v in losses.values()]
        device = next((v.device for v in flat if isinstance(v, torch.Tensor)), torch.device("cpu"))
        # A model may hand back plain floats (a contract breach, or a test's injected NaN):
        # they join the one transfer as tensors so mixed dicts still drain in one go.
        values = torch.stack([
            (v.detach() if isinstance(v, torch.Tensor) else torch.tensor(float(v)))
            .to(device=device, dtype=torch.float32).reshape(()) for v in flat]).tolist()
        out, at = [], 0
        for iteration, losses, extra in self._steps:
            out.append(StepLosses(iteration, dict(zip(losses, values[at:at + len(losses)])), extra))
            at += len(losses)
        self._steps.clear()
        return out

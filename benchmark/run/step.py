"""One training iteration, as the trainer runs it and as `benchmark perf` times it.

Both build the model with `build_trainable` and step it with `TrainStep`, so what perf calls
"the whole step" (benchmark/perf/step.py) is the trainer's iteration by construction, not a copy
of it: batch to the device, channels-last if asked, `train_step` (losses, image pools,
optimisers, schedulers), and the step's losses handed to the LossBuffer, unread.
"""
from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

import torch
from omegaconf import DictConfig
from torch import nn

from benchmark.run.loss_buffer import LossBuffer

T = TypeVar("T", torch.Tensor, nn.Module)


def to_channels_last(x: T) -> T:
    """`x`, a module or a 4-d tensor, in channels-last memory format (trainer.channels_last)."""
    if isinstance(x, nn.Module):
        return x.to(memory_format=torch.channels_last)
    return x.contiguous(memory_format=torch.channels_last)


def build_trainable(cfg: DictConfig, device: torch.device, lr_lambda: Callable[[int], float]):
    """(model of `cfg` on `device` with its precision and optimisers set, precision used).

    The order matters: the precision picks the Adam implementation (models/base.py), so it is
    configured before the optimisers.
    """
    from benchmark.model_registry import build_model

    model = build_model(cfg).to(device)
    if cfg.trainer.channels_last:
        model = to_channels_last(model)
    precision = model.configure_precision(cfg.trainer.precision, device)  # auto -> bf16 | fp32
    model.configure_optimizers(lr=float(cfg.trainer.lr),
                               betas=(float(cfg.trainer.beta1), float(cfg.trainer.beta2)),
                               lr_lambda=lr_lambda)
    return model, precision


class TrainStep:
    """`step(iteration, batch)`: one optimisation step on a loader batch; its losses (detached
    device tensors, no host sync) wait in `losses` with the lr the step used and the speed."""

    def __init__(self, model, device: torch.device, *, channels_last: bool,
                 losses: LossBuffer | None = None) -> None:
        self.model, self.device, self.channels_last = model, device, channels_last
        self.losses = losses if losses is not None else LossBuffer()
        self.tick = time.perf_counter()

    def inputs(self, batch: dict) -> tuple[torch.Tensor, torch.Tensor]:
        """The batch's X and Y on the device, in the model's memory format."""
        x = batch["X"].to(self.device, non_blocking=True)
        y = batch["Y"].to(self.device, non_blocking=True)
        if self.channels_last:
            x, y = to_channels_last(x), to_channels_last(y)
        return x, y

    def __call__(self, iteration: int, batch: dict) -> None:
        x, y = self.inputs(batch)
        lr = self.model.learning_rate()  # the rate this step uses (the step advances the schedule)
        losses = self.model.train_step(x, y)  # detached tensors: no host sync (loss_buffer.py)
        now = time.perf_counter()
        self.losses.add(iteration, losses, lr=lr, it_per_s=round(1.0 / max(now - self.tick, 1e-9), 3))
        self.tick = now

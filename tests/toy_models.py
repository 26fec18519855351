"""Tiny external models for the contract check: one that honours the contract, and one for each
way of breaking it that `benchmark check` must catch, in one line naming the check.

They live outside the packages on purpose, as a user's own models do, and are named by import
path (`model.family=toy_models:AttachedLosses`; tests/ is on sys.path under pytest).
"""
from __future__ import annotations

import torch
from torch import nn

from models.base import TranslationModel


class ToyTranslator(TranslationModel):
    """Two 3x3 convolutions ending in tanh and an L1 objective: the smallest honest model."""

    def __init__(self, seed: int = 0) -> None:
        super().__init__()
        self.G = nn.Conv2d(3, 3, 3, padding=1)
        self.F = nn.Conv2d(3, 3, 3, padding=1)

    @classmethod
    def from_config(cls, model_cfg, network_cfg, *, seed: int) -> ToyTranslator:
        return cls(seed)

    def parameter_groups(self) -> dict[str, list[nn.Parameter]]:
        return {"G": [*self.G.parameters(), *self.F.parameters()]}

    def output(self, net: nn.Module, images: torch.Tensor) -> torch.Tensor:
        return torch.tanh(net(images))

    def inputs(self, x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return x, y

    def objective(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        x, y = self.inputs(x, y)
        return (self.output(self.G, x) - y).abs().mean() + (self.output(self.F, y) - x).abs().mean()

    def train_step(self, x: torch.Tensor, y: torch.Tensor) -> dict[str, torch.Tensor]:
        loss = self.objective(x, y)
        self._optimise("G", loss)
        self._finish_step()
        self.step_schedulers()
        return {"loss_L1": loss.detach()}

    @torch.no_grad()
    def translate(self, images: torch.Tensor, direction: str) -> torch.Tensor:
        return self.output(self.G if direction == "X2Y" else self.F, images)


class AttachedLosses(ToyTranslator):
    """Broken: returns the loss still attached to the autograd graph (no `.detach()`)."""

    def train_step(self, x, y):
        loss = self.objective(x, y)
        self._optimise("G", loss)
        self._finish_step()
        self.step_schedulers()
        return {"loss_L1": loss}


class ZeroOneRange(ToyTranslator):
    """Broken: images in [0, 1] (a sigmoid) where the contract says [-1, 1]."""

    def output(self, net, images):
        return torch.sigmoid(net(images))


class ByteRange(ToyTranslator):
    """Broken: images in [0, 255], as an 8-bit file holds them."""

    def output(self, net, images):
        return (torch.tanh(net(images)) + 1) * 127.5


class UnsavedGenerator(ToyTranslator):
    """Broken: input noise from a private generator that the checkpoint does not hold, so a
    resumed run draws the noise of steps 1, 2 again instead of that of steps 3, 4."""

    def __init__(self, seed: int = 0) -> None:
        super().__init__(seed)
        self.noise = torch.Generator().manual_seed(seed)

    def inputs(self, x, y):
        return x + 0.1 * torch.randn(x.shape, generator=self.noise), y


class SavedGenerator(UnsavedGenerator):
    """The fix of UnsavedGenerator: the generator's state travels in the checkpoint."""

    def extra_training_state(self) -> dict:
        return {"noise": self.noise.get_state()}

    def load_extra_training_state(self, state: dict) -> None:
        self.noise.set_state(state["noise"])


class NotAModel:
    """Not a TranslationModel at all."""


class WithoutFromConfig(TranslationModel):
    """Broken: a TranslationModel that never says how to build itself from a config."""

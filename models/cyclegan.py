"""The CycleGAN family: one model whose loss terms are switched and weighted by config.

Objective (the paper's eq. 3, generalised so that Tables 4-5 are presets of one model):

    λ_gan_y·L_GAN(G, D_Y) + λ_gan_x·L_GAN(F, D_X)
      + λ_forward·‖F(G(x)) − x‖₁ + λ_backward·‖G(F(y)) − y‖₁
      + λ_identity·(‖G(y) − y‖₁ + ‖F(x) − x‖₁)

A variant builds and computes only what its weights use: with λ_gan_y = 0 there is no D_Y,
with λ_forward = 0 no reconstruction F(G(x)) is computed. Discriminators see generated images
through a 50-image history (ImagePool) and their objective is halved, as in the paper.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn
from torch.nn import functional as nnf

from models.base import TranslationModel, set_requires_grad
from models.gan_loss import GANLoss
from models.image_pool import ImagePool
from models.networks import PatchDiscriminator, ResnetGenerator, init_weights


@dataclass(frozen=True)
class LossWeights:
    gan_y: float = 1.0
    gan_x: float = 1.0
    forward: float = 10.0
    backward: float = 10.0
    identity: float = 0.0

    @classmethod
    def from_config(cls, model_cfg) -> LossWeights:
        return cls(gan_y=float(model_cfg.lambda_gan_y), gan_x=float(model_cfg.lambda_gan_x),
                   forward=float(model_cfg.lambda_forward), backward=float(model_cfg.lambda_backward),
                   identity=float(model_cfg.lambda_identity))


class CycleGANFamily(TranslationModel):
    """G: X -> Y, F: Y -> X, and the discriminators D_Y, D_X that the weights ask for."""

    def __init__(self, weights: LossWeights, *, base_filters: int = 64, n_blocks: int = 9,
                 disc_base_filters: int = 64, disc_layers: int = 3, gan_mode: str = "lsgan",
                 pool_size: int = 50, init_std: float = 0.02, seed: int = 0,
                 channels: tuple[int, int] = (3, 3)) -> None:
        super().__init__()
        if weights.gan_y == weights.gan_x == weights.forward == weights.backward == weights.identity == 0:
            raise ValueError("every loss weight is 0: set at least one of model.lambda_* > 0")
        self.weights = weights
        cx, cy = channels
        self.G = ResnetGenerator(cx, cy, base_filters=base_filters, n_blocks=n_blocks)
        self.F = ResnetGenerator(cy, cx, base_filters=base_filters, n_blocks=n_blocks)
        self.D_Y = (PatchDiscriminator(cy, base_filters=disc_base_filters, n_layers=disc_layers)
                    if weights.gan_y > 0 else None)
        self.D_X = (PatchDiscriminator(cx, base_filters=disc_base_filters, n_layers=disc_layers)
                    if weights.gan_x > 0 else None)
        for net in self.networks().values():
            init_weights(net, std=init_std)
        self.gan_loss = GANLoss(gan_mode)
        # Each pool draws from its own generator so a resumed run replays the same choices.
        self.pool_y = ImagePool(pool_size, torch.Generator().manual_seed(seed * 2 + 1))
        self.pool_x = ImagePool(pool_size, torch.Generator().manual_seed(seed * 2 + 2))

    @classmethod
    def from_config(cls, model_cfg, network_cfg, *, seed: int) -> CycleGANFamily:
        return cls(LossWeights.from_config(model_cfg), base_filters=network_cfg.base_filters,
                   n_blocks=network_cfg.n_blocks, disc_base_filters=network_cfg.disc_base_filters,
                   disc_layers=network_cfg.disc_layers, gan_mode=model_cfg.gan_mode,
                   pool_size=model_cfg.pool_size, init_std=network_cfg.init_std, seed=seed)

    def networks(self) -> dict[str, nn.Module]:
        nets = {"G": self.G, "F": self.F, "D_X": self.D_X, "D_Y": self.D_Y}
        return {k: v for k, v in nets.items() if v is not None}

    def discriminators(self) -> list[nn.Module]:
        return [d for d in (self.D_X, self.D_Y) if d is not None]

    def parameter_groups(self) -> dict[str, list[nn.Parameter]]:
        # One Adam over both generators (their losses are coupled by the cycle terms) and one
        # over both discriminators, as in the paper's code.
        return {"G": [*self.G.parameters(), *self.F.parameters()],
                "D": [p for d in self.discriminators() for p in d.parameters()]}

    # -- the objective -------------------------------------------------------------------------
    def generator_losses(self, x: torch.Tensor, y: torch.Tensor):
        """The weighted generator terms, and the fakes the discriminators need."""
        w = self.weights
        losses: dict[str, torch.Tensor] = {}
        need_fake_y = w.gan_y > 0 or w.forward > 0
        need_fake_x = w.gan_x > 0 or w.backward > 0
        fake_y = self.G(x) if need_fake_y else None
        fake_x = self.F(y) if need_fake_x else None
        if w.gan_y > 0:
            losses["G_gan_y"] = w.gan_y * self.gan_loss.generator_loss(self.D_Y(fake_y))
        if w.gan_x > 0:
            losses["F_gan_x"] = w.gan_x * self.gan_loss.generator_loss(self.D_X(fake_x))
        if w.forward > 0:
            losses["forward_cycle"] = w.forward * nnf.l1_loss(self.F(fake_y).float(), x.float())
        if w.backward > 0:
            losses["backward_cycle"] = w.backward * nnf.l1_loss(self.G(fake_x).float(), y.float())
        if w.identity > 0:
            losses["identity"] = w.identity * (nnf.l1_loss(self.G(y).float(), y.float())
                                               + nnf.l1_loss(self.F(x).float(), x.float()))
        return losses, fake_y, fake_x

    def discriminator_losses(self, x, y, fake_y, fake_x) -> dict[str, torch.Tensor]:
        """Each discriminator's objective, halved (docs/protocol.md), on pooled fakes."""
        losses: dict[str, torch.Tensor] = {}
        if self.D_Y is not None:
            pooled = self.pool_y.query(fake_y.detach())
            losses["D_Y"] = 0.5 * self.gan_loss.discriminator_loss(self.D_Y(y), self.D_Y(pooled))
        if self.D_X is not None:
            pooled = self.pool_x.query(fake_x.detach())
            losses["D_X"] = 0.5 * self.gan_loss.discriminator_loss(self.D_X(x), self.D_X(pooled))
        return losses

    def train_step(self, x: torch.Tensor, y: torch.Tensor) -> dict[str, torch.Tensor]:
        device_type = x.device.type
        set_requires_grad(self.discriminators(), False)
        with self.autocast(device_type):
            g_losses, fake_y, fake_x = self.generator_losses(x, y)
        loss_g = sum(g_losses.values())
        self._optimise("G", loss_g)
        d_losses: dict[str, torch.Tensor] = {}
        if self.discriminators():
            set_requires_grad(self.discriminators(), True)
            with self.autocast(device_type):
                d_losses = self.discriminator_losses(x, y, fake_y, fake_x)
            self._optimise("D", sum(d_losses.values()))
        self._finish_step()
        self.step_schedulers()
        # Detached tensors, not floats: no host sync here (models/base.py, train_step).
        out = {f"loss_{k}": v.detach() for k, v in {**g_losses, **d_losses}.items()}
        out["loss_G_total"] = loss_g.detach()
        return out

    @torch.no_grad()
    def translate(self, images: torch.Tensor, direction: str) -> torch.Tensor:
        net = {"X2Y": self.G, "Y2X": self.F}.get(direction)
        if net is None:
            raise ValueError(f"direction {direction!r}: valid directions are X2Y, Y2X")
        with self.autocast(images.device.type):
            return net(images).float()

    @torch.no_grad()
    def sample_rows(self, x, y):
        """Figure 4 of the paper: x, G(x), F(G(x)) and y, F(y), G(F(y))."""
        fake_y, fake_x = self.translate(x, "X2Y"), self.translate(y, "Y2X")
        return [("x", x), ("G(x)", fake_y), ("F(G(x))", self.translate(fake_y, "Y2X")),
                ("y", y), ("F(y)", fake_x), ("G(F(y))", self.translate(fake_x, "X2Y"))]

    # -- exact resume ------------------------------------------------------------------------
    def extra_training_state(self) -> dict:
        return {"pool_x": self.pool_x.state_dict(), "pool_y": self.pool_y.state_dict()}

    def load_extra_training_state(self, state: dict) -> None:
        if "pool_x" in state:
            self.pool_x.load_state_dict(state["pool_x"])
            self.pool_y.load_state_dict(state["pool_y"])

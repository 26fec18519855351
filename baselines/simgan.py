"""SimGAN ("pixel loss + GAN", Shrivastava et al. 2017) as the CycleGAN paper ran it (Sec. 5.1.2).

Per direction, an adversarial loss plus a self-regularisation term that keeps the output close
to its own input:

    G: X -> Y   L_GAN(G, D_Y) + λ·‖x − G(x)‖₁
    F: Y -> X   L_GAN(F, D_X) + λ·‖y − F(y)‖₁

Two independent mappings (nothing couples G and F: no cycle), each with CycleGAN's ResNet
generator, 70x70 PatchGAN, LSGAN loss, halved discriminator objective and 50-image pool, so
that a row of Tables 2-3 differs from CycleGAN only by the regulariser. The feature-loss
baseline (baselines/feature_loss.py) is this class with `regulariser` comparing features.
"""
from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as nnf

from baselines.common import TwoMappings, loss_report, patch_discriminator, resnet_generator, seeded_pool
from models.base import set_requires_grad
from models.gan_loss import GANLoss


class SimGAN(TwoMappings):
    """G with D_Y and F with D_X, each held near its input by λ·regulariser(input, output)."""

    regulariser_name = "self_reg"

    def __init__(self, network_cfg, *, lambda_reg: float, gan_mode: str = "lsgan",
                 pool_size: int = 50, seed: int = 0) -> None:
        super().__init__()
        if lambda_reg < 0:
            raise ValueError(f"model.lambda_reg={lambda_reg}: the regulariser weight must be >= 0")
        self.lambda_reg = float(lambda_reg)
        self.G = resnet_generator(network_cfg)
        self.F = resnet_generator(network_cfg)
        self.D_Y = patch_discriminator(network_cfg)
        self.D_X = patch_discriminator(network_cfg)
        self.gan_loss = GANLoss(gan_mode)
        self.pools = {"pool_y": seeded_pool(pool_size, seed, 1),
                      "pool_x": seeded_pool(pool_size, seed, 2)}

    @classmethod
    def from_config(cls, model_cfg, network_cfg, *, seed: int) -> SimGAN:
        return cls(network_cfg, lambda_reg=float(model_cfg.lambda_reg), gan_mode=model_cfg.gan_mode,
                   pool_size=int(model_cfg.pool_size), seed=seed)

    def networks(self) -> dict[str, nn.Module]:
        return {"G": self.G, "F": self.F, "D_X": self.D_X, "D_Y": self.D_Y}

    def parameter_groups(self) -> dict[str, list[nn.Parameter]]:
        return {"G": [*self.G.parameters(), *self.F.parameters()],
                "D": [*self.D_X.parameters(), *self.D_Y.parameters()]}

    def regulariser(self, source: torch.Tensor, translated: torch.Tensor) -> torch.Tensor:
        """SimGAN's self-regularisation: the output stays close to its input, pixel by pixel."""
        return nnf.l1_loss(translated.float(), source.float())

    def train_step(self, x: torch.Tensor, y: torch.Tensor) -> dict[str, torch.Tensor]:
        device_type = x.device.type
        set_requires_grad([self.D_X, self.D_Y], False)
        with self.autocast(device_type):
            fake_y, fake_x = self.G(x), self.F(y)
            g_losses = {"G_gan_y": self.gan_loss.generator_loss(self.D_Y(fake_y)),
                        "F_gan_x": self.gan_loss.generator_loss(self.D_X(fake_x))}
            if self.lambda_reg > 0:
                g_losses[f"G_{self.regulariser_name}"] = self.lambda_reg * self.regulariser(x, fake_y)
                g_losses[f"F_{self.regulariser_name}"] = self.lambda_reg * self.regulariser(y, fake_x)
        loss_g = sum(g_losses.values())
        self._optimise("G", loss_g)
        set_requires_grad([self.D_X, self.D_Y], True)
        with self.autocast(device_type):
            pooled_y = self.pools["pool_y"].query(fake_y.detach())
            pooled_x = self.pools["pool_x"].query(fake_x.detach())
            d_losses = {
                "D_Y": 0.5 * self.gan_loss.discriminator_loss(self.D_Y(y), self.D_Y(pooled_y)),
                "D_X": 0.5 * self.gan_loss.discriminator_loss(self.D_X(x), self.D_X(pooled_x))}
        self._optimise("D", sum(d_losses.values()))
        self._finish_step()
        self.step_schedulers()
        return loss_report({**g_losses, **d_losses}, loss_g)

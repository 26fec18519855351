"""BiGAN/ALI's inverse-mapping objective applied to images (CycleGAN paper, Sec. 5.1.2).

BiGAN (Donahue et al. 2017) and ALI (Dumoulin et al. 2017) learn an encoder E next to a
generator G with ONE discriminator on joint pairs: it tells (x, E(x)) from (G(z), z), and E
and G are trained to swap its verdicts; at the optimum E inverts G. Applied to two image
domains: G: X -> Y plays the encoder, F: Y -> X the generator, and D sees 6-channel pairs

    (x, G(x))  labelled "X-side" (1)       (F(y), y)  labelled "Y-side" (0)

G and F minimise D's loss with the labels swapped; there is no cycle loss. The adversarial
form (LSGAN), the halved D objective, the networks (ResNet G and F, a 70x70 PatchGAN taking 6
channels) and the 50-pair history pools are CycleGAN's.
"""
from __future__ import annotations

import torch
from torch import nn

from baselines.common import TwoMappings, loss_report, patch_discriminator, resnet_generator, seeded_pool
from models.base import set_requires_grad
from models.gan_loss import GANLoss


class BiGAN(TwoMappings):
    """G: X -> Y, F: Y -> X and one joint discriminator D on (X-image, Y-image) pairs."""

    def __init__(self, network_cfg, *, gan_mode: str = "lsgan", pool_size: int = 50,
                 seed: int = 0) -> None:
        super().__init__()
        self.G = resnet_generator(network_cfg)
        self.F = resnet_generator(network_cfg)
        self.D = patch_discriminator(network_cfg, in_channels=6)
        self.gan_loss = GANLoss(gan_mode)
        self.pools = {"pool_x_side": seeded_pool(pool_size, seed, 1),
                      "pool_y_side": seeded_pool(pool_size, seed, 2)}

    @classmethod
    def from_config(cls, model_cfg, network_cfg, *, seed: int) -> BiGAN:
        return cls(network_cfg, gan_mode=model_cfg.gan_mode, pool_size=int(model_cfg.pool_size),
                   seed=seed)

    def networks(self) -> dict[str, nn.Module]:
        return {"G": self.G, "F": self.F, "D": self.D}

    def parameter_groups(self) -> dict[str, list[nn.Parameter]]:
        return {"G": [*self.G.parameters(), *self.F.parameters()], "D": list(self.D.parameters())}

    @staticmethod
    def joint(x_image: torch.Tensor, y_image: torch.Tensor) -> torch.Tensor:
        """The pair D judges: X-domain image then Y-domain image, along channels."""
        return torch.cat([x_image, y_image], dim=1)

    def train_step(self, x: torch.Tensor, y: torch.Tensor) -> dict[str, torch.Tensor]:
        device_type = x.device.type
        set_requires_grad([self.D], False)
        with self.autocast(device_type):
            x_side = self.joint(x, self.G(x))  # (x, G(x)): "encoder" pairs, D's label 1
            y_side = self.joint(self.F(y), y)  # (F(y), y): "generator" pairs, D's label 0
            # G and F minimise D's objective with the verdicts swapped.
            g_losses = {"GF_joint": self.gan_loss.discriminator_loss(pred_real=self.D(y_side),
                                                                     pred_fake=self.D(x_side))}
        loss_g = sum(g_losses.values())
        self._optimise("G", loss_g)
        set_requires_grad([self.D], True)
        with self.autocast(device_type):
            pooled_x_side = self.pools["pool_x_side"].query(x_side.detach())
            pooled_y_side = self.pools["pool_y_side"].query(y_side.detach())
            d_losses = {"D": 0.5 * self.gan_loss.discriminator_loss(
                pred_real=self.D(pooled_x_side), pred_fake=self.D(pooled_y_side))}
        self._optimise("D", d_losses["D"])
        self._finish_step()
        self.step_schedulers()
        return loss_report({**g_losses, **d_losses}, loss_g)

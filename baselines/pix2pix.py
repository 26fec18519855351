"""pix2pix (Isola et al., CVPR 2017): the paired upper bound of Tables 2-3, one per direction.

    G: X -> Y   L_cGAN(G, D_Y) + λ_L1·‖y − G(x)‖₁,  D_Y judging (x, y) against (x, G(x))
    F: Y -> X   L_cGAN(F, D_X) + λ_L1·‖x − F(y)‖₁,  D_X judging (y, x) against (y, F(y))

U-Net generators (models/networks.py, dropout 0.5 in the 8x-filter decoder levels), 70x70
PatchGANs on 6-channel (input, output) pairs, λ_L1 = 100, halved D objective: pix2pix's
definition. It trains on ALIGNED pairs: `needs_aligned_pairs` makes `benchmark train` feed
y at x's index (same crop and flip) and refuse an unaligned dataset before training.
The U-Net depth follows the training resolution (num_downs = log2(crop), capped at 8: 1x1
bottleneck, 7 levels at 128² and 8 at 256² as in pix2pix).
"""
from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn import functional as nnf

from baselines.common import TwoMappings, loss_report, patch_discriminator, seeded_pool
from models.base import set_requires_grad
from models.gan_loss import GANLoss
from models.networks import UnetGenerator, init_weights


def unet_depth(resolution: int) -> int:
    """pix2pix's num_downs for a square training crop: down to a 1x1 bottleneck, at most 8."""
    depth = int(math.log2(resolution)) if resolution > 0 else 0
    if 2 ** depth != resolution or depth < 5:
        raise ValueError(f"pix2pix's U-Net needs a power-of-two crop >= 32, got data.crop_size="
                         f"{resolution}: use 32, 64, 128 or 256 (or set model.num_downs)")
    return min(depth, 8)


class Pix2Pix(TwoMappings):
    """Two conditional GANs with L1: G with D_Y on (x, ·) pairs, F with D_X on (y, ·) pairs."""

    needs_aligned_pairs = True

    def __init__(self, network_cfg, *, num_downs: int, lambda_l1: float = 100.0,
                 gan_mode: str = "vanilla", pool_size: int = 0, seed: int = 0) -> None:
        super().__init__()
        std = float(network_cfg.init_std)
        f = int(network_cfg.base_filters)
        self.G = init_weights(UnetGenerator(3, 3, num_downs=num_downs, base_filters=f), std)
        self.F = init_weights(UnetGenerator(3, 3, num_downs=num_downs, base_filters=f), std)
        self.D_Y = patch_discriminator(network_cfg, in_channels=6)
        self.D_X = patch_discriminator(network_cfg, in_channels=6)
        self.lambda_l1 = float(lambda_l1)
        self.gan_loss = GANLoss(gan_mode)
        self.pools = {"pool_y": seeded_pool(pool_size, seed, 1),
                      "pool_x": seeded_pool(pool_size, seed, 2)}

    @classmethod
    def from_config(cls, model_cfg, network_cfg, *, seed: int) -> Pix2Pix:
        num_downs = model_cfg.get("num_downs") or unet_depth(int(model_cfg.resolution))
        return cls(network_cfg, num_downs=int(num_downs), lambda_l1=float(model_cfg.lambda_l1),
                   gan_mode=model_cfg.gan_mode, pool_size=int(model_cfg.pool_size), seed=seed)

    def networks(self) -> dict[str, nn.Module]:
        return {"G": self.G, "F": self.F, "D_X": self.D_X, "D_Y": self.D_Y}

    def parameter_groups(self) -> dict[str, list[nn.Parameter]]:
        return {"G": [*self.G.parameters(), *self.F.parameters()],
                "D": [*self.D_X.parameters(), *self.D_Y.parameters()]}

    def train_step(self, x: torch.Tensor, y: torch.Tensor) -> dict[str, torch.Tensor]:
        """`x` and `y` are aligned: y[i] is the ground truth of x[i]."""
        device_type = x.device.type
        set_requires_grad([self.D_X, self.D_Y], False)
        with self.autocast(device_type):
            fake_y, fake_x = self.G(x), self.F(y)
            pair_y, pair_x = torch.cat([x, fake_y], 1), torch.cat([y, fake_x], 1)
            g_losses = {"G_gan_y": self.gan_loss.generator_loss(self.D_Y(pair_y)),
                        "F_gan_x": self.gan_loss.generator_loss(self.D_X(pair_x)),
                        "G_l1": self.lambda_l1 * nnf.l1_loss(fake_y.float(), y.float()),
                        "F_l1": self.lambda_l1 * nnf.l1_loss(fake_x.float(), x.float())}
        loss_g = sum(g_losses.values())
        self._optimise("G", loss_g)
        set_requires_grad([self.D_X, self.D_Y], True)
        with self.autocast(device_type):
            fake_pair_y = self.pools["pool_y"].query(pair_y.detach())
            fake_pair_x = self.pools["pool_x"].query(pair_x.detach())
            d_losses = {
                "D_Y": 0.5 * self.gan_loss.discriminator_loss(self.D_Y(torch.cat([x, y], 1)),
                                                              self.D_Y(fake_pair_y)),
                "D_X": 0.5 * self.gan_loss.discriminator_loss(self.D_X(torch.cat([y, x], 1)),
                                                              self.D_X(fake_pair_x))}
        self._optimise("D", sum(d_losses.values()))
        self._finish_step()
        self.step_schedulers()
        return loss_report({**g_losses, **d_losses}, loss_g)

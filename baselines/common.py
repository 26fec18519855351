"""What the baselines share with CycleGAN: its networks, its image pools and its loss contract.

docs/protocol.md: "All but CoGAN used CycleGAN's architecture and training settings." So every
baseline except CoGAN builds its generators and discriminators from the same profile keys
(`network.*`) with the same initialisation, and seeds its image pools the way CycleGAN does,
so that a difference in a table comes from the objective, not from a different network.
"""
from __future__ import annotations

import torch
from torch import nn

from models.base import TranslationModel
from models.image_pool import ImagePool
from models.networks import PatchDiscriminator, ResnetGenerator, init_weights


def resnet_generator(network_cfg, in_channels: int = 3, out_channels: int = 3) -> ResnetGenerator:
    """CycleGAN's generator at the profile's width and depth, N(0, init_std) initialised."""
    net = ResnetGenerator(in_channels, out_channels, base_filters=int(network_cfg.base_filters),
                          n_blocks=int(network_cfg.n_blocks))
    return init_weights(net, std=float(network_cfg.init_std))


def patch_discriminator(network_cfg, in_channels: int = 3) -> PatchDiscriminator:
    """The 70x70 PatchGAN (6 input channels for a discriminator on (input, output) pairs)."""
    net = PatchDiscriminator(in_channels, base_filters=int(network_cfg.disc_base_filters),
                             n_layers=int(network_cfg.disc_layers))
    return init_weights(net, std=float(network_cfg.init_std))


def seeded_pool(size: int, seed: int, stream: int) -> ImagePool:
    """A pool with its own generator (seed, stream): a resumed run replays the same choices."""
    return ImagePool(int(size), torch.Generator().manual_seed(int(seed) * 2 + stream))


def pools_state(pools: dict[str, ImagePool]) -> dict:
    return {name: pool.state_dict() for name, pool in pools.items()}


def load_pools_state(pools: dict[str, ImagePool], state: dict) -> None:
    for name, pool in pools.items():
        if name in state:
            pool.load_state_dict(state[name])


def loss_report(losses: dict[str, torch.Tensor], total_g: torch.Tensor) -> dict[str, torch.Tensor]:
    """The train_step contract: name -> detached 0-d tensor (the trainer syncs when it logs)."""
    out = {f"loss_{k}": v.detach() for k, v in losses.items()}
    out["loss_G_total"] = total_g.detach()
    return out


def pick(nets: dict[str, nn.Module], direction: str) -> nn.Module:
    """The network translating along `direction`, or one line naming the valid directions."""
    if direction not in nets:
        raise ValueError(f"direction {direction!r}: valid directions are {', '.join(nets)}")
    return nets[direction]


class TwoMappings(TranslationModel):
    """A baseline with CycleGAN's two mappings G: X->Y and F: Y->X and image pools in `self.pools`.

    Translation and the pools' resume state are the same for SimGAN, the feature loss, BiGAN and
    pix2pix; only their objectives (train_step) differ.
    """

    G: nn.Module
    F: nn.Module
    pools: dict[str, ImagePool]

    @torch.no_grad()
    def translate(self, images: torch.Tensor, direction: str) -> torch.Tensor:
        net = pick({"X2Y": self.G, "Y2X": self.F}, direction)
        with self.autocast(images.device.type):
            return net(images).float()

    def extra_training_state(self) -> dict:
        return pools_state(self.pools)

    def load_extra_training_state(self, state: dict) -> None:
        load_pools_state(self.pools, state)

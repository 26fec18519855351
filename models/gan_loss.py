"""Adversarial losses: the paper's least-squares form and the two usual alternatives.

CycleGAN trains with LSGAN (docs/protocol.md, eq. 1): the generator minimises (D(G(x)) - 1)^2 and the
discriminator (D(y) - 1)^2 + D(G(x))^2. "vanilla" (the original GAN's log loss on logits) and
"hinge" are here so the suite can ask what the choice of adversarial loss buys.

The discriminator objective returned here is the FULL sum of its real and fake terms; the paper
halves it to slow D down relative to G, and that halving is the CALLER's job (multiply
``discriminator_loss`` by 0.5), so the factor is visible where the update is written.

Predictions are cast to float32 before the loss: under autocast the discriminator may emit
bf16/fp16 logits, and squaring or exponentiating them in half precision loses the small
differences the gradients are made of.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

MODES = ("lsgan", "vanilla", "hinge")


class GANLoss:
    """Generator and discriminator objectives for one adversarial loss ``mode``.

    Stateless: the targets (1 for real, 0 for fake) are built to match each prediction, so one
    instance serves any device, dtype and PatchGAN map size.
    """

    def __init__(self, mode: str = "lsgan") -> None:
        if mode not in MODES:
            raise ValueError(f"unknown GAN loss mode {mode!r}; use one of {', '.join(MODES)}")
        self.mode = mode

    def __repr__(self) -> str:
        return f"GANLoss(mode={self.mode!r})"

    def generator_loss(self, pred_fake: torch.Tensor) -> torch.Tensor:
        """What G minimises given D's output on generated images: make D call them real."""
        pred = pred_fake.float()
        if self.mode == "lsgan":
            return (pred - 1.0).pow(2).mean()
        if self.mode == "vanilla":
            return F.binary_cross_entropy_with_logits(pred, torch.ones_like(pred))
        return -pred.mean()  # hinge

    def discriminator_loss(self, pred_real: torch.Tensor, pred_fake: torch.Tensor) -> torch.Tensor:
        """What D minimises: real term + fake term, NOT halved (the caller applies the paper's 0.5).

        ``pred_fake`` must come from detached generated images (e.g. from the image pool) so
        that this loss does not reach the generator.
        """
        real = pred_real.float()
        fake = pred_fake.float()
        if self.mode == "lsgan":
            return (real - 1.0).pow(2).mean() + fake.pow(2).mean()
        if self.mode == "vanilla":
            return (F.binary_cross_entropy_with_logits(real, torch.ones_like(real))
                    + F.binary_cross_entropy_with_logits(fake, torch.zeros_like(fake)))
        return F.relu(1.0 - real).mean() + F.relu(1.0 + fake).mean()  # hinge

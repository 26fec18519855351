"""CoGAN (Liu & Tuzel, NeurIPS 2016): coupled GANs, and translation by latent inversion.

Two GANs, one per domain, draw from ONE noise vector z. Weight sharing is the only thing that
ties the domains together (no paired data, no cycle):

* generators share their FIRST layers — those turn z into high-level structure (layout,
  objects) — and keep their last `private_generator_layers` layers per domain, which render
  domain-specific detail (photo texture vs flat label colours);
* discriminators keep their first `private_discriminator_layers` layers per domain (low-level
  features of each domain) and share the LAST layers (high-level judgement).

The shared layers are single modules used by both paths, so their Parameters are literally the
same objects in G_X and G_Y (and in D_X and D_Y): one update moves both.

Architecture (docs/protocol.md: CoGAN is the one baseline NOT on CycleGAN's networks): a DCGAN-style
pair sized to the training crop. G: z (1x1) -> 4x4 by a 4x4 transposed conv, then stride-2
transposed convs doubling the size and halving the width (base_filters at the last hidden
level) up to the crop, tanh. D mirrors it: stride-2 4x4 convs down to 4x4, then a 4x4 conv to
one logit. InstanceNorm (no affine) after every hidden layer but D's first, as in the rest of
the suite; it behaves the same in train and eval mode, which the test-time inversion relies
on. Crop 32 (smoke): 3 upsamplings; 64 (cpu): 4; 128 (paper): 5.

Translation x -> y (the CycleGAN paper's protocol): find z* minimising the reconstruction
loss between G_X(z) and x with Adam (`model.inversion.{steps, lr, loss}`), then return
G_Y(z*). It runs batched; each image's loss term involves only its own z and Adam is
element-wise, so every image is optimised independently of its batch-mates. It costs `steps`
forward+backward passes of G per batch: `translation_cost` records images and seconds (also
logged), for the evaluator and the notes.
"""
from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass

import torch
from torch import nn

from baselines.common import loss_report, pick
from models.base import TranslationModel, set_requires_grad
from models.gan_loss import GANLoss
from models.networks import init_weights

log = logging.getLogger(__name__)


def upsampling_levels(resolution: int) -> int:
    """Stride-2 levels between the 4x4 seed map and the crop: log2(resolution / 4)."""
    levels = int(round(math.log2(resolution / 4))) if resolution >= 8 else 0
    if levels < 1 or 4 * 2 ** levels != resolution:
        raise ValueError(f"CoGAN needs a power-of-two crop >= 8, got data.crop_size={resolution}: "
                         "use 32, 64, 128 or 256")
    return levels


def _split(layers: list[nn.Module], n_private: int, *, private_last: bool, what: str):
    if not 1 <= n_private < len(layers):
        raise ValueError(f"model.private_{what}_layers={n_private}: must be between 1 and "
                         f"{len(layers) - 1} (the {what} has {len(layers)} layers at this crop)")
    if private_last:
        return layers[:-n_private], layers[-n_private:]
    return layers[n_private:], layers[:n_private]


class CoupledGenerators(nn.Module):
    """z -> (G_X(z), G_Y(z)): a shared trunk, then one private head per domain."""

    def __init__(self, resolution: int, z_dim: int, base_filters: int, private_layers: int) -> None:
        super().__init__()
        levels = upsampling_levels(resolution)

        def layers() -> list[nn.Module]:
            width = base_filters * 2 ** (levels - 1)
            out: list[nn.Module] = [nn.Sequential(nn.ConvTranspose2d(z_dim, width, 4, 1, 0),
                                                  nn.InstanceNorm2d(width), nn.ReLU())]
            for _ in range(levels - 1):
                out.append(nn.Sequential(nn.ConvTranspose2d(width, width // 2, 4, 2, 1),
                                         nn.InstanceNorm2d(width // 2), nn.ReLU()))
                width //= 2
            out.append(nn.Sequential(nn.ConvTranspose2d(width, 3, 4, 2, 1), nn.Tanh()))
            return out

        shared, head_x = _split(layers(), private_layers, private_last=True, what="generator")
        _, head_y = _split(layers(), private_layers, private_last=True, what="generator")
        self.z_dim = z_dim
        self.shared = nn.Sequential(*shared)
        self.private = nn.ModuleDict({"X": nn.Sequential(*head_x), "Y": nn.Sequential(*head_y)})

    def generator(self, domain: str) -> nn.Sequential:
        """G_X or G_Y as one network (its trunk is the shared module itself)."""
        return nn.Sequential(self.shared, self.private[domain])

    def render(self, z: torch.Tensor, domain: str) -> torch.Tensor:
        return self.private[domain](self.shared(z))

    def forward(self, z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        h = self.shared(z)
        return self.private["X"](h), self.private["Y"](h)


class CoupledDiscriminators(nn.Module):
    """image -> logit per domain: one private stem per domain, then a shared judge."""

    def __init__(self, resolution: int, base_filters: int, private_layers: int) -> None:
        super().__init__()
        levels = upsampling_levels(resolution)

        def layers() -> list[nn.Module]:
            out: list[nn.Module] = [nn.Sequential(nn.Conv2d(3, base_filters, 4, 2, 1), nn.LeakyReLU(0.2))]
            width = base_filters
            for _ in range(levels - 1):
                out.append(nn.Sequential(nn.Conv2d(width, 2 * width, 4, 2, 1),
                                         nn.InstanceNorm2d(2 * width), nn.LeakyReLU(0.2)))
                width *= 2
            out.append(nn.Conv2d(width, 1, 4, 1, 0))
            return out

        shared, stem_x = _split(layers(), private_layers, private_last=False, what="discriminator")
        _, stem_y = _split(layers(), private_layers, private_last=False, what="discriminator")
        self.private = nn.ModuleDict({"X": nn.Sequential(*stem_x), "Y": nn.Sequential(*stem_y)})
        self.shared = nn.Sequential(*shared)

    def discriminator(self, domain: str) -> nn.Sequential:
        """D_X or D_Y as one network (its judge is the shared module itself)."""
        return nn.Sequential(self.private[domain], self.shared)

    def forward(self, images: torch.Tensor, domain: str) -> torch.Tensor:
        return self.shared(self.private[domain](images))


@dataclass(frozen=True)
class Inversion:
    """How translation finds z*: Adam on z for `steps` steps on the `loss` to the input."""
    steps: int = 200
    lr: float = 0.05
    loss: str = "l1"
    seed: int = 0

    @classmethod
    def from_config(cls, cfg) -> Inversion:
        inv = cls(int(cfg.steps), float(cfg.lr), str(cfg.loss), int(cfg.seed))
        if inv.loss not in ("l1", "mse") or inv.steps < 1 or inv.lr <= 0:
            raise ValueError(f"model.inversion={cfg}: loss must be l1 or mse, steps >= 1, lr > 0")
        return inv


class CoGAN(TranslationModel):
    """Coupled generators G_X, G_Y from one z and coupled discriminators D_X, D_Y."""

    def __init__(self, *, resolution: int, z_dim: int = 100, base_filters: int = 64,
                 disc_base_filters: int = 64, private_generator_layers: int = 1,
                 private_discriminator_layers: int = 1, gan_mode: str = "lsgan",
                 init_std: float = 0.02, inversion: Inversion = Inversion(), seed: int = 0) -> None:
        super().__init__()
        self.G = init_weights(CoupledGenerators(resolution, z_dim, base_filters,
                                                private_generator_layers), std=init_std)
        self.D = init_weights(CoupledDiscriminators(resolution, disc_base_filters,
                                                    private_discriminator_layers), std=init_std)
        self.gan_loss = GANLoss(gan_mode)
        self.inversion = inversion
        self.seed = int(seed)
        # z for training comes from its own stream, saved with the checkpoint (exact resume).
        self.z_stream = torch.Generator().manual_seed(self.seed * 2 + 3)
        self.translation_cost = {"images": 0, "seconds": 0.0}

    @classmethod
    def from_config(cls, model_cfg, network_cfg, *, seed: int) -> CoGAN:
        return cls(resolution=int(model_cfg.resolution), z_dim=int(model_cfg.z_dim),
                   base_filters=int(network_cfg.base_filters),
                   disc_base_filters=int(network_cfg.disc_base_filters),
                   private_generator_layers=int(model_cfg.private_generator_layers),
                   private_discriminator_layers=int(model_cfg.private_discriminator_layers),
                   gan_mode=model_cfg.gan_mode, init_std=float(network_cfg.init_std),
                   inversion=Inversion.from_config(model_cfg.inversion), seed=seed)

    def networks(self) -> dict[str, nn.Module]:
        return {"G": self.G, "D": self.D}

    def parameter_groups(self) -> dict[str, list[nn.Parameter]]:
        return {"G": list(self.G.parameters()), "D": list(self.D.parameters())}

    def sample_z(self, n: int, device, generator: torch.Generator | None = None) -> torch.Tensor:
        z = torch.randn(n, self.G.z_dim, 1, 1, generator=generator or self.z_stream)
        return z.to(device)

    def train_step(self, x: torch.Tensor, y: torch.Tensor) -> dict[str, torch.Tensor]:
        device_type = x.device.type
        z = self.sample_z(x.shape[0], x.device)
        set_requires_grad([self.D], False)
        with self.autocast(device_type):
            fake_x, fake_y = self.G(z)
            g_losses = {"G_X_gan": self.gan_loss.generator_loss(self.D(fake_x, "X")),
                        "G_Y_gan": self.gan_loss.generator_loss(self.D(fake_y, "Y"))}
        loss_g = sum(g_losses.values())
        self._optimise("G", loss_g)
        set_requires_grad([self.D], True)
        with self.autocast(device_type):
            d_losses = {
                "D_X": 0.5 * self.gan_loss.discriminator_loss(self.D(x, "X"), self.D(fake_x.detach(), "X")),
                "D_Y": 0.5 * self.gan_loss.discriminator_loss(self.D(y, "Y"), self.D(fake_y.detach(), "Y"))}
        self._optimise("D", sum(d_losses.values()))
        self._finish_step()
        self.step_schedulers()
        return loss_report({**g_losses, **d_losses}, loss_g)

    # -- translation by inversion ----------------------------------------------------------------
    def invert(self, images: torch.Tensor, domain: str) -> torch.Tensor:
        """z* with G_<domain>(z*) ≈ images: Adam on z alone (G's weights get no gradient)."""
        inv = self.inversion
        start = torch.Generator().manual_seed(inv.seed)
        # gradients even when the caller scores under no_grad or inference_mode
        with torch.inference_mode(False), torch.enable_grad():
            # one draw per image, so image i starts from the same z whatever the batch size
            z = torch.cat([self.sample_z(1, images.device, start) for _ in range(images.shape[0])])
            z.requires_grad_(True)
            opt = torch.optim.Adam([z], lr=inv.lr)
            target = images.float().clone()
            for _ in range(inv.steps):
                with self.autocast(images.device.type):
                    out = self.G.render(z, domain).float()
                err = (out - target).abs() if inv.loss == "l1" else (out - target).pow(2)
                # a sum of per-image means: each z gets the gradient of its own image only
                loss = err.flatten(1).mean(1).sum()
                (z.grad,) = torch.autograd.grad(loss, [z])
                opt.step()
        return z.detach()

    @torch.no_grad()
    def reconstruction_error(self, images: torch.Tensor, z: torch.Tensor, domain: str) -> torch.Tensor:
        """Per-image mean |G_<domain>(z) − images|: what the inversion lowers."""
        return (self.G.render(z, domain).float() - images.float()).abs().flatten(1).mean(1)

    @torch.no_grad()
    def translate(self, images: torch.Tensor, direction: str) -> torch.Tensor:
        source, target = pick({"X2Y": ("X", "Y"), "Y2X": ("Y", "X")}, direction)
        start = time.perf_counter()
        z = self.invert(images, source)
        with self.autocast(images.device.type):
            out = self.G.render(z, target).float()
        if out.device.type == "cuda":
            torch.cuda.synchronize(out.device)
        seconds = time.perf_counter() - start
        self.translation_cost["images"] += images.shape[0]
        self.translation_cost["seconds"] += seconds
        log.info("CoGAN %s: inverted %d images in %.2f s (%d Adam steps on z)", direction,
                 images.shape[0], seconds, self.inversion.steps)
        return out

    @torch.no_grad()
    def sample_rows(self, x: torch.Tensor, y: torch.Tensor) -> list[tuple[str, torch.Tensor]]:
        """Translations by inversion, and a coupled pair G_X(z), G_Y(z) from fixed noise."""
        z = self.sample_z(x.shape[0], x.device, torch.Generator().manual_seed(self.seed))
        fake_x, fake_y = self.G(z)
        return [("x", x), ("G_Y(z*(x))", self.translate(x, "X2Y")),
                ("y", y), ("G_X(z*(y))", self.translate(y, "Y2X")),
                ("G_X(z)", fake_x.float()), ("G_Y(z)", fake_y.float())]

    # -- exact resume -------------------------------------------------------------------------------
    def extra_training_state(self) -> dict:
        return {"z_stream": self.z_stream.get_state()}

    def load_extra_training_state(self, state: dict) -> None:
        if "z_stream" in state:
            self.z_stream.set_state(state["z_stream"])

"""CUT and FastCUT (Park, Efros, Zhang, Zhu, "Contrastive Learning for Unpaired Image-to-Image
Translation", ECCV 2020) as a `TranslationModel` from outside the benchmark's packages.

One-sided: a single generator G translates one way, trained by

    λ_GAN·L_GAN(G, D) + λ_NCE·PatchNCE(source, G(source))            FastCUT (λ_NCE = 10)
    λ_GAN·L_GAN(G, D) + λ_NCE·½(PatchNCE(source, G(source))
                                + PatchNCE(target, G(target)))       CUT     (λ_NCE = 1)

where PatchNCE (cut_example/patchnce.py) compares the encoder features of the output with
those of the input, patch by patch, at five layers of G, through an MLP head per layer. The
second term of CUT, the identity NCE on the target domain, is the paper's regulariser against
needless changes. FastCUT drops it, weighs NCE 10x, and adds the flip-equivariance term of the
reference code: with probability ½ the step's inputs are mirrored before G and the output's
features mirrored back before they are compared. Both are this one class; the two model YAMLs
(examples/cut/conf/model/) are the presets, as `--CUT_mode` is in the reference code.

Which way: `model.direction` (default "Y2X"). The suite names domains X = photos and Y = label
maps on Cityscapes and on the synthetic scenes (benchmark/conf/dataset/cityscapes.yaml), and the
CUT paper scores labels -> photo, so Y2X. The model declares only that direction: only it is
translated, scored and shown in the tables (the photo -> labels rows say "not provided").

Reused from the suite, unchanged, so a table's rows differ by the objective and not by the
networks: `models.networks.ResnetGenerator` (G), the 70x70 `PatchDiscriminator` (D), their
N(0, init_std) initialisation, `models.gan_loss.GANLoss` (LSGAN) and the trainer's Adam and
schedule. Where this departs from the reference code, and why, is in examples/cut/README.md.
"""
from __future__ import annotations

import torch
from torch import nn

from cut_example.patchnce import (
    PAPER_TAPS,
    PatchHeads,
    encode,
    encoder_layers,
    patch_nce,
    resolve_taps,
    sample_positions,
)
from models.base import DIRECTIONS, TranslationModel, set_requires_grad
from models.gan_loss import GANLoss
from models.networks import PatchDiscriminator, ResnetGenerator, init_weights


class CUT(TranslationModel):
    """G (the generator, whose encoder also encodes the patches), D (a PatchGAN on the target
    domain) and H (the PatchNCE heads, one MLP per tapped layer)."""

    #: The suite's Cityscapes direction the CUT paper scores; `model.direction` may change it.
    directions = ("Y2X",)

    def __init__(self, *, direction: str = "Y2X", lambda_gan: float = 1.0, lambda_nce: float = 1.0,
                 nce_idt: bool = True, nce_layers=PAPER_TAPS, num_patches: int = 256, head_width: int = 256,
                 temperature: float = 0.07, flip_equivariance: bool = False, gan_mode: str = "lsgan",
                 base_filters: int = 64, n_blocks: int = 9, disc_base_filters: int = 64, disc_layers: int = 3,
                 init_std: float = 0.02, seed: int = 0) -> None:
        super().__init__()
        if direction not in DIRECTIONS:
            raise ValueError(f"model.direction={direction!r}: valid directions are {', '.join(DIRECTIONS)}")
        for key, value in (("lambda_gan", lambda_gan), ("lambda_nce", lambda_nce)):
            if value < 0:
                raise ValueError(f"model.{key}={value}: a loss weight must be >= 0")
        if lambda_gan == lambda_nce == 0:
            raise ValueError("model.lambda_gan and model.lambda_nce are both 0: nothing would train G")
        if temperature <= 0 or num_patches < 1 or head_width < 1:
            raise ValueError(f"model.nce_temperature={temperature}, model.num_patches={num_patches}, "
                             f"model.head_width={head_width}: each must be > 0")
        self.directions = (direction,)
        self.lambda_gan, self.lambda_nce, self.nce_idt = float(lambda_gan), float(lambda_nce), bool(nce_idt)
        self.num_patches, self.temperature = int(num_patches), float(temperature)
        self.flip_equivariance = bool(flip_equivariance)
        self.G = ResnetGenerator(3, 3, base_filters=base_filters, n_blocks=n_blocks)
        self.D = PatchDiscriminator(3, base_filters=disc_base_filters, n_layers=disc_layers)
        self.taps, widths = resolve_taps(self.G, list(nce_layers))
        self.H = PatchHeads(widths, head_width)
        for net in (self.G, self.D, self.H):
            init_weights(net, std=init_std)
        self.gan_loss = GANLoss(gan_mode)
        # Patch positions and FastCUT's flips are drawn from the model's own generator, seeded
        # from the run seed and saved in the checkpoint: a resumed run draws what the
        # uninterrupted one would have (the reference code draws them from numpy's global RNG).
        self.rng = torch.Generator().manual_seed(int(seed) * 2 + 1)

    @classmethod
    def from_config(cls, model_cfg, network_cfg, *, seed: int) -> CUT:
        return cls(direction=str(model_cfg.direction), lambda_gan=float(model_cfg.lambda_gan),
                   lambda_nce=float(model_cfg.lambda_nce), nce_idt=bool(model_cfg.nce_idt),
                   nce_layers=[str(t) for t in model_cfg.nce_layers], num_patches=int(model_cfg.num_patches),
                   head_width=int(model_cfg.head_width), temperature=float(model_cfg.nce_temperature),
                   flip_equivariance=bool(model_cfg.flip_equivariance), gan_mode=str(model_cfg.gan_mode),
                   base_filters=int(network_cfg.base_filters), n_blocks=int(network_cfg.n_blocks),
                   disc_base_filters=int(network_cfg.disc_base_filters),
                   disc_layers=int(network_cfg.disc_layers), init_std=float(network_cfg.init_std), seed=seed)

    def parameter_groups(self) -> dict[str, list[nn.Parameter]]:
        # G and the heads minimise one loss and share the lr and betas: one Adam over both is the
        # reference code's two (Adam's state is per parameter), and steps them together.
        return {"G": [*self.G.parameters(), *self.H.parameters()], "D": list(self.D.parameters())}

    # -- the objective -------------------------------------------------------------------------
    def oriented(self, x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(source, target) of the step: X -> Y for "X2Y", Y -> X for "Y2X"."""
        return (x, y) if self.directions[0] == "X2Y" else (y, x)

    def nce_loss(self, source: torch.Tensor, output: torch.Tensor, flipped: bool) -> torch.Tensor:
        """λ_NCE x the mean over the taps of PatchNCE(source, output): the output's patches are
        the queries, the source's the keys, drawn at the same random positions."""
        layers = encoder_layers(self.G)
        queries = encode(layers, output, self.taps)
        if flipped:  # the output was made from the mirrored source: mirror its features back
            queries = [torch.flip(q, dims=[3]) for q in queries]
        with torch.no_grad():  # the keys are constants of the loss (patchnce.patch_nce)
            keys = encode(layers, source, self.taps)
        ids = sample_positions(keys, self.num_patches, self.rng)
        with torch.autocast(source.device.type, enabled=False):
            q = self.H(queries, ids)
            with torch.no_grad():
                k = self.H(keys, ids)
            per_tap = [patch_nce(qi, ki, self.temperature) for qi, ki in zip(q, k)]
        return self.lambda_nce * torch.stack(per_tap).mean()

    def train_step(self, x: torch.Tensor, y: torch.Tensor) -> dict[str, torch.Tensor]:
        source, target = self.oriented(x, y)
        device_type = source.device.type
        flipped = self.flip_equivariance and bool(torch.rand((), generator=self.rng) < 0.5)
        with self.autocast(device_type):
            real = torch.cat([source, target]) if self.nce_idt else source
            fakes = self.G(torch.flip(real, dims=[3]) if flipped else real)
        fake, identity = fakes[:len(source)], fakes[len(source):]
        # D first, then G against the updated D, as in the reference code; no image pool.
        set_requires_grad([self.D], True)
        with self.autocast(device_type):
            loss_d = 0.5 * self.gan_loss.discriminator_loss(self.D(target), self.D(fake.detach()))
        self._optimise("D", loss_d)
        set_requires_grad([self.D], False)
        losses: dict[str, torch.Tensor] = {}
        with self.autocast(device_type):
            if self.lambda_gan > 0:
                losses["G_GAN"] = self.lambda_gan * self.gan_loss.generator_loss(self.D(fake))
            if self.lambda_nce > 0:
                losses["NCE"] = self.nce_loss(source, fake, flipped)
                if self.nce_idt:
                    losses["NCE_Y"] = self.nce_loss(target, identity, flipped)
        loss_g = losses.get("G_GAN", 0.0)
        if "NCE" in losses:  # CUT averages the two NCE terms (the reference code's loss_NCE_both)
            loss_g = loss_g + (0.5 * (losses["NCE"] + losses["NCE_Y"]) if "NCE_Y" in losses else losses["NCE"])
        self._optimise("G", loss_g)
        set_requires_grad([self.D], True)
        self._finish_step()
        self.step_schedulers()
        out = {f"loss_{k}": v.detach() for k, v in losses.items()}
        out["loss_D"] = loss_d.detach()
        out["loss_G_total"] = loss_g.detach()
        return out

    # -- translation -----------------------------------------------------------------------------
    @torch.no_grad()
    def translate(self, images: torch.Tensor, direction: str) -> torch.Tensor:
        if direction not in self.directions:
            raise ValueError(f"direction {direction!r}: this CUT model translates {self.directions[0]} only "
                             "(model.direction)")
        with self.autocast(images.device.type):
            return self.G(images).float()

    @torch.no_grad()
    def sample_rows(self, x: torch.Tensor, y: torch.Tensor) -> list[tuple[str, torch.Tensor]]:
        """The source, its translation G(source), and the target domain's images beside them."""
        source, target = self.oriented(x, y)
        s, t = ("x", "y") if self.directions[0] == "X2Y" else ("y", "x")
        return [(s, source), (f"G({s})", self.translate(source, self.directions[0])), (t, target)]

    # -- exact resume ---------------------------------------------------------------------------
    def extra_training_state(self) -> dict:
        return {"rng": self.rng.get_state()}

    def load_extra_training_state(self, state: dict) -> None:
        if "rng" in state:
            self.rng.set_state(state["rng"])

"""PatchNCE (Park, Efros, Zhang, Zhu, ECCV 2020, Sec. 3.2): features of the generator's own
encoder, taken at several layers, a small MLP head per layer, and a contrastive loss per patch.

Why the generator's encoder and not a fixed network: CUT reuses the first half of G as the
feature extractor, so the loss asks that a patch of G(x) *encodes* like the patch of x at the
same place, and unlike the other patches of x. The encoder here is this suite's
`models.networks.ResnetGenerator` as it is, read layer by layer (`encoder_layers`): nothing in
`models/` knows that CUT exists, and a run's G is the very network CycleGAN's rows train.

Taps are named, not numbered, because the reference code's indices (0, 4, 8, 12, 16) count the
layers of its own generator, which has anti-aliased (blur-pool) downsampling layers this one
does not: its 4 and 8 are the two downsampling convolutions, 12 and 16 residual blocks 1 and 5.
The same places in this generator are `input`, `down1`, `down2`, `block1` and `block5`.
"""
from __future__ import annotations

import re
from collections.abc import Sequence

import torch
from torch import nn
from torch.nn import functional as nnf

from models.networks import ResidualBlock, ResnetGenerator

#: The taps of the paper's CUT: RGB pixels, both downsampling convolutions, residual blocks 1 and 5.
PAPER_TAPS = ("input", "down1", "down2", "block1", "block5")
#: Where each named encoder tap sits in `ResnetGenerator.encoder` (its layout: pad, c7s1 conv, norm,
#: ReLU, stride-2 conv, norm, ReLU, stride-2 conv, norm, ReLU). `input` is the reflection-padded
#: image, as the reference code's layer 0 is.
ENCODER_TAPS = {"input": 0, "down1": 4, "down2": 7}
_BLOCK = re.compile(r"^block([1-9]\d*)$")


class TapError(ValueError):
    """A tap name this generator does not have, or a generator not laid out as expected."""


def encoder_layers(generator: ResnetGenerator) -> list[nn.Module]:
    """The layers the taps index: the encoder's, then the residual blocks', in forward order."""
    return [*generator.encoder, *generator.blocks]


def resolve_taps(generator: ResnetGenerator, names: Sequence[str]) -> tuple[list[int], list[int]]:
    """(layer index, output channels) per tap, in the order of `names`.

    `blockN` beyond the generator's residual blocks is its last block: the smoke and CPU
    profiles train 2- and 6-block generators, where the paper's `block5` would otherwise not
    exist (at 6 and 9 blocks, the paper's sizes, every tap is the paper's own). Two names that
    land on one layer are refused rather than counted twice.
    """
    encoder = generator.encoder
    down = [encoder[ENCODER_TAPS["down1"]], encoder[ENCODER_TAPS["down2"]]]
    if not (isinstance(encoder[0], nn.ReflectionPad2d) and all(
            isinstance(m, nn.Conv2d) and m.stride == (2, 2) for m in down)
            and all(isinstance(b, ResidualBlock) for b in generator.blocks)):
        raise TapError("models.networks.ResnetGenerator is no longer pad, conv, norm, ReLU, stride-2 conv, ..., "
                       "stride-2 conv, ..., residual blocks: update ENCODER_TAPS in cut_example/patchnce.py")
    blocks = len(generator.blocks)
    indices, channels = [], []
    for name in names:
        if name in ENCODER_TAPS:
            index = ENCODER_TAPS[name]
            width = encoder[1].in_channels if name == "input" else encoder[index].out_channels
        elif (match := _BLOCK.match(str(name))) and blocks > 0:
            block = min(int(match.group(1)), blocks) - 1
            index, width = len(encoder) + block, down[1].out_channels
        else:
            raise TapError(f"model.nce_layers: unknown tap {name!r}; valid: input, down1, down2, "
                           f"block1 .. block{max(blocks, 1)} (this generator has {blocks} residual blocks)")
        if index in indices:
            raise TapError(f"model.nce_layers: {name!r} is the same layer as an earlier tap "
                           f"(a {blocks}-block generator): list each layer once")
        indices.append(index)
        channels.append(width)
    return indices, channels


def encode(layers: Sequence[nn.Module], images: torch.Tensor, taps: Sequence[int]) -> list[torch.Tensor]:
    """The outputs of `layers` at the indices `taps`, in the order of `taps`; the layers after the
    deepest tap are not run (the decoder never is)."""
    wanted = set(taps)
    found: dict[int, torch.Tensor] = {}
    features = images
    for index, layer in enumerate(layers[:max(taps) + 1]):
        features = layer(features)
        if index in wanted:
            found[index] = features
    return [found[t] for t in taps]


def l2_normalise(features: torch.Tensor) -> torch.Tensor:
    """Unit length along the last axis; the small constant keeps an all-zero patch finite."""
    return features / (features.norm(dim=-1, keepdim=True) + 1e-7)


class PatchHeads(nn.Module):
    """One two-layer MLP per tap (Linear, ReLU, Linear: C -> width -> width), the paper's H_l.

    Built with every layer's width known up front, not on the first batch as the reference code
    does: the optimiser then owns the heads from the start, their initial weights come from the
    run's seed like every other network's, and a resumed run finds them in the checkpoint.
    """

    def __init__(self, in_channels: Sequence[int], width: int = 256) -> None:
        super().__init__()
        self.mlps = nn.ModuleList(
            nn.Sequential(nn.Linear(c, width), nn.ReLU(), nn.Linear(width, width)) for c in in_channels)

    def forward(self, features: Sequence[torch.Tensor], ids: Sequence[torch.Tensor]) -> list[torch.Tensor]:
        """Per tap: the patches at `ids` (flat positions of the H x W map) of every image,
        through its MLP and L2-normalised: (batch, len(ids), width)."""
        out = []
        for mlp, feature, where in zip(self.mlps, features, ids):
            flat = feature.flatten(2).transpose(1, 2)           # (B, H*W, C)
            patches = flat[:, where.to(flat.device), :].float()  # the loss is computed in fp32
            out.append(l2_normalise(mlp(patches)))
        return out


def sample_positions(features: Sequence[torch.Tensor], num_patches: int,
                     generator: torch.Generator) -> list[torch.Tensor]:
    """Per tap, `num_patches` distinct flat positions drawn at random (all of them where the
    map is smaller), the same for every image of the batch, as in the reference code."""
    ids = []
    for feature in features:
        count = feature.shape[2] * feature.shape[3]
        ids.append(torch.randperm(count, generator=generator)[:min(num_patches, count)])
    return ids


def patch_nce(query: torch.Tensor, key: torch.Tensor, temperature: float) -> torch.Tensor:
    """The PatchNCE loss of one tap: mean over patches of a (1 + S)-way classification.

    `query`, `key`: (B, S, C), unit vectors of the S patches of the output and of the input.
    Each query's positive is the key at its own position; its negatives are the other S - 1
    keys of the *same* image (the paper's internal negatives; never other images of the
    batch). The keys are constants (detached, as in the reference code): only the output's
    encoding is pulled towards the input's, not the reverse. The diagonal of the negatives is
    the positive again, so it is masked with -10 (exp(-10 / 0.07) is nothing).
    """
    key = key.detach()
    positive = (query * key).sum(dim=-1, keepdim=True)                   # (B, S, 1)
    negative = torch.bmm(query, key.transpose(1, 2))                     # (B, S, S)
    same = torch.eye(negative.shape[-1], dtype=torch.bool, device=negative.device)
    negative = negative.masked_fill(same, -10.0)
    logits = torch.cat([positive, negative], dim=-1) / temperature       # (B, S, 1 + S)
    target = torch.zeros(logits.shape[:-1], dtype=torch.long, device=logits.device)
    return nnf.cross_entropy(logits.flatten(0, 1), target.flatten())

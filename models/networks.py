"""The networks of CycleGAN (Appendix 7.2 of the paper) and pix2pix's U-Net.

Everything the suite trains is built from these three networks, so their exact shape is part of
what is being reproduced: the parameter counts below are the ones the paper's public code prints
(11,378,179 for the 9-block generator, 2,764,737 for the 70x70 PatchGAN) and the tests pin them.

Design choices shared by all networks, and why:
* InstanceNorm2d without affine parameters and without running statistics (the paper's choice);
  convolutions therefore keep their bias, which the norm would otherwise make redundant.
* Plain ``nn`` layers only, no in-place activations and no custom autograd, so the modules run
  unchanged on CUDA, under ``torch.autocast`` (bf16/fp16) and with channels_last tensors.
* ``norm="none"`` exists for tests (InstanceNorm couples every position of a map, which hides
  a network's receptive field) and for variants that want to drop normalisation.
"""
from __future__ import annotations

import torch
from torch import nn

NORMS = ("instance", "none")


def _check_norm(norm: str) -> None:
    if norm not in NORMS:
        raise ValueError(f"unknown norm {norm!r}; use one of {', '.join(NORMS)}")


def _norm(norm: str, channels: int) -> nn.Module:
    """The normalisation layer after a conv: InstanceNorm (no affine, no running stats) or none."""
    _check_norm(norm)
    if norm == "instance":
        return nn.InstanceNorm2d(channels, affine=False, track_running_stats=False)
    return nn.Identity()


def _check_divisible(x: torch.Tensor, factor: int, net: str, why: str) -> None:
    """Fail with the fix instead of a shape mismatch deep inside the network."""
    if x.dim() != 4:
        raise ValueError(f"{net} expects a 4-D batch [B, C, H, W], got shape {tuple(x.shape)}")
    height, width = x.shape[-2:]
    if height % factor or width % factor:
        raise ValueError(
            f"{net} needs height and width divisible by {factor} ({why}), got {height}x{width}; "
            f"resize or crop the input to a multiple of {factor}"
        )


class ResidualBlock(nn.Module):
    """Rk of the paper: two 3x3 convs with reflection padding, added back to the input."""

    def __init__(self, channels: int, norm: str = "instance") -> None:
        super().__init__()
        self.body = nn.Sequential(
            nn.ReflectionPad2d(1),
            nn.Conv2d(channels, channels, kernel_size=3, bias=True),
            _norm(norm, channels),
            nn.ReLU(),
            nn.ReflectionPad2d(1),
            nn.Conv2d(channels, channels, kernel_size=3, bias=True),
            _norm(norm, channels),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x)


class ResnetGenerator(nn.Module):
    """Johnson et al.'s generator: c7s1-64, d128, d256, R256 x n, u128, u64, c7s1-3, tanh.

    n_blocks = 9 for 256x256 training images, 6 for 128x128 (the paper's rule). The two stride-2
    convs pad with zeros (as in the public code); the 7x7 convs and residual blocks reflect.
    Input height and width must be multiples of 4 so the output has the input's size.
    """

    def __init__(
        self,
        in_channels: int = 3,
        out_channels: int = 3,
        base_filters: int = 64,
        n_blocks: int = 9,
        norm: str = "instance",
    ) -> None:
        super().__init__()
        _check_norm(norm)
        if n_blocks < 0:
            raise ValueError(f"n_blocks must be >= 0, got {n_blocks}")
        f = base_filters
        self.encoder = nn.Sequential(
            nn.ReflectionPad2d(3),
            nn.Conv2d(in_channels, f, kernel_size=7, bias=True),  # c7s1-64
            _norm(norm, f),
            nn.ReLU(),
            nn.Conv2d(f, 2 * f, kernel_size=3, stride=2, padding=1, bias=True),  # d128
            _norm(norm, 2 * f),
            nn.ReLU(),
            nn.Conv2d(2 * f, 4 * f, kernel_size=3, stride=2, padding=1, bias=True),  # d256
            _norm(norm, 4 * f),
            nn.ReLU(),
        )
        self.blocks = nn.Sequential(*(ResidualBlock(4 * f, norm) for _ in range(n_blocks)))
        self.decoder = nn.Sequential(
            nn.ConvTranspose2d(4 * f, 2 * f, kernel_size=3, stride=2, padding=1,
                               output_padding=1, bias=True),  # u128
            _norm(norm, 2 * f),
            nn.ReLU(),
            nn.ConvTranspose2d(2 * f, f, kernel_size=3, stride=2, padding=1,
                               output_padding=1, bias=True),  # u64
            _norm(norm, f),
            nn.ReLU(),
            nn.ReflectionPad2d(3),
            nn.Conv2d(f, out_channels, kernel_size=7, bias=True),  # c7s1-3
            nn.Tanh(),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        _check_divisible(x, 4, "ResnetGenerator", "two stride-2 downsamplings")
        return self.decoder(self.blocks(self.encoder(x)))


class _UnetBlock(nn.Module):
    """One level of the U-Net: downsample, run the inner levels, upsample, concat the skip.

    ``inner`` is None for the innermost level (the bottleneck). The outermost level returns the
    image (tanh) instead of concatenating its input, which is where the skip would end.
    """

    def __init__(
        self,
        outer_channels: int,
        inner_channels: int,
        inner: _UnetBlock | None = None,
        *,
        in_channels: int | None = None,
        outermost: bool = False,
        dropout: bool = False,
        norm: str = "instance",
    ) -> None:
        super().__init__()
        self.outermost = outermost
        in_channels = outer_channels if in_channels is None else in_channels
        down_conv = nn.Conv2d(in_channels, inner_channels, kernel_size=4, stride=2, padding=1,
                              bias=True)
        # Without an inner level the upsampling sees only the bottleneck, else bottleneck + skip.
        up_in = inner_channels if inner is None else 2 * inner_channels
        up_conv = nn.ConvTranspose2d(up_in, outer_channels, kernel_size=4, stride=2, padding=1,
                                     bias=True)
        if outermost:
            down = [down_conv]
            up = [nn.ReLU(), up_conv, nn.Tanh()]
        elif inner is None:
            # The bottleneck is 1x1 at the paper's sizes: InstanceNorm there would zero it.
            down = [nn.LeakyReLU(0.2), down_conv]
            up = [nn.ReLU(), up_conv, _norm(norm, outer_channels)]
        else:
            down = [nn.LeakyReLU(0.2), down_conv, _norm(norm, inner_channels)]
            up = [nn.ReLU(), up_conv, _norm(norm, outer_channels)]
        if dropout:
            up.append(nn.Dropout(0.5))
        self.down = nn.Sequential(*down)
        self.inner = inner if inner is not None else nn.Identity()
        self.up = nn.Sequential(*up)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.up(self.inner(self.down(x)))
        return y if self.outermost else torch.cat([x, y], dim=1)


class UnetGenerator(nn.Module):
    """pix2pix's U-Net: num_downs stride-2 levels with skip connections between mirrored levels.

    num_downs = 8 for 256x256 images (down to a 1x1 bottleneck), 7 for 128x128. Filters double
    from base_filters up to 8 x base_filters; the levels that stay at 8 x base_filters between
    the bottleneck and the 4x level (three of them for num_downs = 8) apply dropout 0.5 in their
    decoder, pix2pix's only source of noise. Dropout follows ``train()``/``eval()``; pix2pix kept
    it on at test time, which a caller gets by leaving the module in train mode.
    """

    def __init__(
        self,
        in_channels: int = 3,
        out_channels: int = 3,
        num_downs: int = 8,
        base_filters: int = 64,
        norm: str = "instance",
    ) -> None:
        super().__init__()
        _check_norm(norm)
        if num_downs < 5:
            raise ValueError(f"UnetGenerator needs num_downs >= 5 (8 for 256x256, 7 for 128x128),"
                             f" got {num_downs}")
        self.num_downs = num_downs
        f = base_filters
        block = _UnetBlock(8 * f, 8 * f, norm=norm)  # bottleneck
        for _ in range(num_downs - 5):
            block = _UnetBlock(8 * f, 8 * f, block, dropout=True, norm=norm)
        block = _UnetBlock(4 * f, 8 * f, block, norm=norm)
        block = _UnetBlock(2 * f, 4 * f, block, norm=norm)
        block = _UnetBlock(f, 2 * f, block, norm=norm)
        self.model = _UnetBlock(out_channels, f, block, in_channels=in_channels, outermost=True,
                                norm=norm)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        _check_divisible(x, 2 ** self.num_downs, "UnetGenerator",
                         f"num_downs={self.num_downs} stride-2 levels")
        return self.model(x)


class PatchDiscriminator(nn.Module):
    """The 70x70 PatchGAN: C64-C128-C256-C512 then a 1-channel conv, one logit per patch.

    4x4 convs with padding 1, stride 2 for the first n_layers convs and 1 for the last two,
    LeakyReLU 0.2, InstanceNorm on every conv but the first and the last. With n_layers = 3 each
    output sees a 70x70 input patch (30x30 outputs for a 256x256 input); n_layers = 1 and 2 give
    16x16 and 34x34 patches. Use in_channels = 6 for pix2pix's conditional (input, output) pairs.
    """

    def __init__(
        self,
        in_channels: int = 3,
        base_filters: int = 64,
        n_layers: int = 3,
        norm: str = "instance",
    ) -> None:
        super().__init__()
        _check_norm(norm)
        if n_layers < 1:
            raise ValueError(f"PatchDiscriminator needs n_layers >= 1, got {n_layers}")
        f = base_filters
        layers: list[nn.Module] = [
            nn.Conv2d(in_channels, f, kernel_size=4, stride=2, padding=1, bias=True),
            nn.LeakyReLU(0.2),
        ]
        channels = f
        for i in range(1, n_layers + 1):
            out = f * min(2 ** i, 8)
            stride = 2 if i < n_layers else 1  # the last of these keeps the resolution
            layers += [
                nn.Conv2d(channels, out, kernel_size=4, stride=stride, padding=1, bias=True),
                _norm(norm, out),
                nn.LeakyReLU(0.2),
            ]
            channels = out
        layers.append(nn.Conv2d(channels, 1, kernel_size=4, stride=1, padding=1, bias=True))
        self.model = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() != 4:
            raise ValueError(
                f"PatchDiscriminator expects a 4-D batch [B, C, H, W], got shape {tuple(x.shape)}")
        return self.model(x)


_WEIGHTED = (nn.Conv1d, nn.Conv2d, nn.Conv3d, nn.ConvTranspose1d, nn.ConvTranspose2d,
             nn.ConvTranspose3d, nn.Linear)
_NORMS = (nn.modules.batchnorm._BatchNorm, nn.modules.instancenorm._InstanceNorm, nn.GroupNorm,
          nn.LayerNorm)


@torch.no_grad()
def init_weights(net: nn.Module, std: float = 0.02) -> nn.Module:
    """The paper's initialisation: conv/linear weights from N(0, std), biases 0.

    Norm layers with affine parameters (none in the paper's networks) get weight N(1, std) and
    bias 0, so that a norm starts close to the identity. Returns ``net`` for chaining.
    """
    for module in net.modules():
        if isinstance(module, _WEIGHTED):
            nn.init.normal_(module.weight, 0.0, std)
            if module.bias is not None:
                nn.init.zeros_(module.bias)
        elif isinstance(module, _NORMS):
            if getattr(module, "weight", None) is not None:
                nn.init.normal_(module.weight, 1.0, std)
            if getattr(module, "bias", None) is not None:
                nn.init.zeros_(module.bias)
    return net


def count_parameters(net: nn.Module, trainable_only: bool = False) -> int:
    """Number of scalar parameters, the figure the paper's code prints (11.378 M, 2.765 M)."""
    return sum(p.numel() for p in net.parameters() if p.requires_grad or not trainable_only)

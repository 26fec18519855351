"""The networks match the paper's Appendix 7.2: exact parameter counts, output sizes, the 70x70
receptive field (measured from gradients), initialisation, and mixed precision/channels_last."""
from __future__ import annotations

import pytest
import torch
from torch import nn

from models.networks import PatchDiscriminator, ResnetGenerator, UnetGenerator, count_parameters, init_weights


def _conv(cin: int, cout: int, k: int) -> int:
    return cin * cout * k * k + cout


# --- ResnetGenerator -------------------------------------------------------------------------

@pytest.mark.parametrize("n_blocks, expected", [(9, 11_378_179), (6, 7_837_699)])
def test_resnet_generator_parameter_count_matches_paper(n_blocks, expected):
    with torch.device("meta"):  # counting needs no storage
        net = ResnetGenerator(base_filters=64, n_blocks=n_blocks)
    assert count_parameters(net) == expected


def test_resnet_generator_layers_follow_appendix():
    net = ResnetGenerator(n_blocks=2, base_filters=8)
    convs = [m for m in net.modules() if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d))]
    assert [(m.kernel_size, m.stride) for m in convs[:3]] == [((7, 7), (1, 1)), ((3, 3), (2, 2)),
                                                              ((3, 3), (2, 2))]
    ups = [m for m in convs if isinstance(m, nn.ConvTranspose2d)]
    assert [(m.stride, m.padding, m.output_padding) for m in ups] == [((2, 2), (1, 1), (1, 1))] * 2
    assert all(m.bias is not None for m in convs)
    norms = [m for m in net.modules() if isinstance(m, nn.InstanceNorm2d)]
    assert norms and all(not m.affine and not m.track_running_stats for m in norms)
    pads = [m.padding for m in net.modules() if isinstance(m, nn.ReflectionPad2d)]
    assert pads.count((3, 3, 3, 3)) == 2 and pads.count((1, 1, 1, 1)) == 4
    assert isinstance(list(net.modules())[-1], nn.Tanh)


def test_resnet_generator_output_shape_and_range():
    net = ResnetGenerator(in_channels=3, out_channels=1, base_filters=8, n_blocks=2)
    y = net(torch.randn(2, 3, 36, 28) * 10)
    assert y.shape == (2, 1, 36, 28)
    assert y.abs().max() <= 1.0


def test_resnet_generator_rejects_size_not_multiple_of_4():
    with pytest.raises(ValueError, match="divisible by 4"):
        ResnetGenerator(base_filters=8, n_blocks=1)(torch.randn(1, 3, 30, 32))


# --- UnetGenerator ---------------------------------------------------------------------------

@pytest.mark.parametrize("size, num_downs", [(256, 8), (128, 7)])
def test_unet_output_shape(size, num_downs):
    net = UnetGenerator(in_channels=3, out_channels=2, num_downs=num_downs, base_filters=4)
    y = net(torch.randn(1, 3, size, size))
    assert y.shape == (1, 2, size, size)
    assert y.abs().max() <= 1.0


def test_unet_parameter_count_matches_channel_layout():
    # Down: 3-64-128-256-512-512-512-512-512; up mirrors it with the skip doubling the input.
    down = [(3, 64), (64, 128), (128, 256), (256, 512)] + [(512, 512)] * 4
    up = [(512, 512)] + [(1024, 512)] * 3 + [(1024, 256), (512, 128), (256, 64), (128, 3)]
    expected = sum(_conv(cin, cout, 4) for cin, cout in down + up)
    with torch.device("meta"):  # counting needs no storage
        net = UnetGenerator(num_downs=8, base_filters=64)
    assert count_parameters(net) == expected


@pytest.mark.parametrize("num_downs, n_dropout", [(8, 3), (7, 2), (6, 1)])
def test_unet_dropout_in_decoder_next_to_bottleneck(num_downs, n_dropout):
    with torch.device("meta"):
        net = UnetGenerator(num_downs=num_downs)
    drops = [m for m in net.modules() if isinstance(m, nn.Dropout)]
    assert len(drops) == n_dropout and all(m.p == 0.5 for m in drops)


def test_unet_dropout_follows_train_and_eval():
    net = UnetGenerator(num_downs=6, base_filters=4)
    x = torch.randn(1, 3, 64, 64)
    net.eval()
    assert torch.equal(net(x), net(x))
    net.train()
    assert not torch.equal(net(x), net(x))  # pix2pix's noise


def test_unet_skip_connections_carry_the_input_past_a_dead_bottleneck():
    # Zero the bottleneck's decoder: an encoder-decoder without skips would then output a
    # constant image; the U-Net's skips still carry the input to the output.
    net = init_weights(UnetGenerator(num_downs=5, base_filters=4)).eval()
    bottleneck = net.model
    while not isinstance(bottleneck.inner, nn.Identity):
        bottleneck = bottleneck.inner
    up_conv = bottleneck.up[1]
    with torch.no_grad():
        up_conv.weight.zero_()
        up_conv.bias.zero_()
    a, b = net(torch.randn(1, 3, 32, 32)), net(torch.randn(1, 3, 32, 32))
    assert not torch.allclose(a, b)


@pytest.mark.parametrize("shape", [(1, 3, 100, 128), (1, 3, 128, 96)])
def test_unet_rejects_size_not_divisible(shape):
    with pytest.raises(ValueError, match=r"divisible by 128"):
        UnetGenerator(num_downs=7, base_filters=4)(torch.randn(*shape))


def test_unet_rejects_too_few_levels():
    with pytest.raises(ValueError, match="num_downs"):
        UnetGenerator(num_downs=4)


# --- PatchDiscriminator ----------------------------------------------------------------------

def test_patch_discriminator_parameter_count_and_output_size():
    with torch.device("meta"):
        net = PatchDiscriminator(in_channels=3, base_filters=64, n_layers=3)
    assert count_parameters(net) == 2_764_737
    small = PatchDiscriminator(base_filters=4)
    assert small(torch.randn(1, 3, 256, 256)).shape == (1, 1, 30, 30)


def test_patch_discriminator_layout():
    with torch.device("meta"):
        net = PatchDiscriminator(base_filters=64)
    convs = [m for m in net.modules() if isinstance(m, nn.Conv2d)]
    assert [m.out_channels for m in convs] == [64, 128, 256, 512, 1]
    assert [m.stride[0] for m in convs] == [2, 2, 2, 1, 1]
    assert all(m.kernel_size == (4, 4) and m.padding == (1, 1) and m.bias is not None
               for m in convs)
    norms = [m for m in net.modules() if isinstance(m, nn.InstanceNorm2d)]
    assert len(norms) == 3 and all(not m.affine for m in norms)
    # No norm between the first conv and its activation.
    assert isinstance(net.model[1], nn.LeakyReLU) and net.model[1].negative_slope == 0.2


@pytest.mark.parametrize("n_layers, field", [(3, 70), (2, 34), (1, 16)])
def test_patch_discriminator_receptive_field_from_gradients(n_layers, field):
    torch.manual_seed(0)
    net = PatchDiscriminator(base_filters=4, n_layers=n_layers, norm="none")
    x = torch.randn(1, 3, 256, 256, requires_grad=True)
    out = net(x)
    h, w = out.shape[-2:]
    out[0, 0, h // 2, w // 2].backward()
    nonzero = x.grad.abs().sum(1)[0] != 0
    rows = nonzero.any(1).nonzero().flatten()
    cols = nonzero.any(0).nonzero().flatten()
    assert rows.max() - rows.min() + 1 == field
    assert cols.max() - cols.min() + 1 == field
    assert int(nonzero.sum()) == field * field  # the whole square, not just its corners


def test_unknown_norm_is_rejected():
    with pytest.raises(ValueError, match="instance, none"):
        PatchDiscriminator(norm="batch")


# --- init_weights, count_parameters ----------------------------------------------------------

def test_init_weights_draws_from_normal_and_zeroes_biases():
    torch.manual_seed(0)
    net = init_weights(ResnetGenerator(base_filters=16, n_blocks=2), std=0.02)
    weights = torch.cat([m.weight.flatten() for m in net.modules()
                         if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d))])
    assert abs(weights.mean().item()) < 1e-3
    assert weights.std().item() == pytest.approx(0.02, rel=0.02)
    assert all(torch.count_nonzero(m.bias) == 0 for m in net.modules()
               if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)))


def test_init_weights_handles_linear_and_affine_norms():
    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(400, 300), nn.InstanceNorm2d(5000, affine=True),
                        nn.BatchNorm2d(3))
    init_weights(net, std=0.1)
    assert net[0].weight.std().item() == pytest.approx(0.1, rel=0.03)
    assert torch.count_nonzero(net[0].bias) == 0
    assert net[1].weight.mean().item() == pytest.approx(1.0, abs=0.01)
    assert net[1].weight.std().item() == pytest.approx(0.1, rel=0.05)
    assert torch.count_nonzero(net[1].bias) == 0 and torch.count_nonzero(net[2].bias) == 0


def test_count_parameters_trainable_only():
    net = nn.Sequential(nn.Linear(3, 4), nn.Linear(4, 2))
    net[0].requires_grad_(False)
    assert count_parameters(net) == 16 + 10
    assert count_parameters(net, trainable_only=True) == 10


# --- precision and memory format ------------------------------------------------------------

NETS = [
    (lambda: ResnetGenerator(base_filters=8, n_blocks=2), (2, 3, 32, 32), (2, 3, 32, 32)),
    (lambda: UnetGenerator(num_downs=5, base_filters=8), (2, 3, 32, 32), (2, 3, 32, 32)),
    (lambda: PatchDiscriminator(base_filters=8), (2, 3, 64, 64), (2, 1, 6, 6)),
]


@pytest.mark.parametrize("make, in_shape, out_shape", NETS)
def test_forward_backward_under_bf16_autocast_and_channels_last(make, in_shape, out_shape):
    torch.manual_seed(0)
    net = init_weights(make()).to(memory_format=torch.channels_last)
    x = torch.randn(*in_shape).to(memory_format=torch.channels_last)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        y = net(x)
    assert y.shape == out_shape and y.dtype == torch.bfloat16
    assert torch.isfinite(y).all()
    y.float().mean().backward()
    assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in net.parameters())
    # channels_last alone must not change the function.
    ref = make()
    ref.load_state_dict(net.state_dict())
    with torch.no_grad():
        net.eval(), ref.eval()
        assert torch.allclose(net(x), ref(x.contiguous()), atol=1e-5)

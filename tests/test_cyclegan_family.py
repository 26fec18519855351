"""The CycleGAN family: each preset computes exactly its loss terms and trains exactly its nets."""
from __future__ import annotations

import pytest
import torch
from model_contract import ModelContract

from models.base import set_requires_grad

PRESETS = {
    # preset: (loss terms, networks built, G calls, F calls per generator step)
    "cyclegan": ({"G_gan_y", "F_gan_x", "forward_cycle", "backward_cycle"}, {"G", "F", "D_X", "D_Y"}, 2, 2),
    "gan_only": ({"G_gan_y", "F_gan_x"}, {"G", "F", "D_X", "D_Y"}, 1, 1),
    "cycle_only": ({"forward_cycle", "backward_cycle"}, {"G", "F"}, 2, 2),
    "gan_forward": ({"G_gan_y", "F_gan_x", "forward_cycle"}, {"G", "F", "D_X", "D_Y"}, 1, 2),
    "gan_backward": ({"G_gan_y", "F_gan_x", "backward_cycle"}, {"G", "F", "D_X", "D_Y"}, 2, 1),
}


def _contract_class(preset: str):
    return type(f"TestContract_{preset}", (ModelContract,), {"overrides": [f"model={preset}"]})


for _preset in PRESETS:
    globals()[f"TestContract_{_preset}"] = _contract_class(_preset)


@pytest.mark.parametrize("preset", PRESETS)
def test_preset_loss_terms_networks_and_gradients(preset):
    terms, nets, g_calls, f_calls = PRESETS[preset]
    _, model = _contract_class(preset)().make()
    assert set(model.networks()) == nets
    calls = {"G": 0, "F": 0}
    hooks = [getattr(model, n).register_forward_hook(lambda *_, n=n: calls.__setitem__(n, calls[n] + 1))
             for n in ("G", "F")]
    x, y = ModelContract().batch()
    set_requires_grad(model.discriminators(), False)  # as train_step does
    losses, _, _ = model.generator_losses(x, y)
    for h in hooks:
        h.remove()
    assert set(losses) == terms
    assert all(float(v.detach()) > 0 for v in losses.values())
    assert (calls["G"], calls["F"]) == (g_calls, f_calls), "a variant computed a term it does not use"
    # every generator receives a gradient from the generator objective, discriminators none
    model.zero_grad(set_to_none=True)
    sum(losses.values()).backward()
    for name, net in model.networks().items():
        got = any(p.grad is not None and p.grad.abs().sum() > 0 for p in net.parameters())
        assert got == (name in {"G", "F"}), f"{preset}: gradient into {name} = {got}"


@pytest.mark.parametrize("preset", ["cyclegan", "gan_forward"])
def test_discriminator_step_trains_only_discriminators(preset):
    _, model = _contract_class(preset)().make()
    x, y = ModelContract().batch()
    _, fake_y, fake_x = model.generator_losses(x, y)
    d_losses = model.discriminator_losses(x, y, fake_y, fake_x)
    assert set(d_losses) == {"D_Y", "D_X"}
    model.zero_grad(set_to_none=True)
    sum(d_losses.values()).backward()
    for name, net in model.networks().items():
        got = any(p.grad is not None and p.grad.abs().sum() > 0 for p in net.parameters())
        assert got == name.startswith("D"), f"D step sent a gradient into {name}"


def test_lsgan_discriminator_objective_is_halved():
    _, model = _contract_class("cyclegan")().make()
    x, y = ModelContract().batch()
    _, fake_y, fake_x = model.generator_losses(x, y)
    model.pool_y.size = 0  # compare against the raw fake, not a pooled one
    model.pool_x.size = 0
    d = model.discriminator_losses(x, y, fake_y, fake_x)
    with torch.no_grad():
        expected = 0.5 * (((model.D_Y(y) - 1) ** 2).mean() + (model.D_Y(fake_y) ** 2).mean())
    assert torch.allclose(d["D_Y"], expected, atol=1e-6)


def test_all_loss_weights_zero_is_refused():
    from benchmark.config import compose_config
    from benchmark.model_registry import build_model

    cfg = compose_config(["profile=smoke", "model=cycle_only", "model.lambda_forward=0",
                          "model.lambda_backward=0"])
    with pytest.raises(ValueError, match="lambda"):
        build_model(cfg)

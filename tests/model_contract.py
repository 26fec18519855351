"""The contract every translation model honours, as a mixin.

Each model (the CycleGAN presets and every baseline) gets a test class that subclasses
`ModelContract` and names its config overrides; the whole contract is then tested for free.
"""
from __future__ import annotations

import math

import torch

from benchmark.config import compose_config
from benchmark.model_registry import build_model

SIZE = 32


class ModelContract:
    overrides: list[str] = []

    def make(self):
        cfg = compose_config(["profile=smoke", *self.overrides])
        torch.manual_seed(0)
        model = build_model(cfg)
        model.configure_optimizers(lr=2e-4, betas=(0.5, 0.999), lr_lambda=lambda step: 1.0)
        model.configure_precision("fp32", torch.device("cpu"))
        return cfg, model

    def batch(self, seed: int = 0):
        g = torch.Generator().manual_seed(seed)
        return (torch.rand(1, 3, SIZE, SIZE, generator=g) * 2 - 1,
                torch.rand(1, 3, SIZE, SIZE, generator=g) * 2 - 1)

    def test_directions_and_networks(self):
        _, model = self.make()
        assert set(model.directions) <= {"X2Y", "Y2X"} and model.directions
        assert model.networks(), "a model must expose its networks"

    def test_train_step_returns_finite_losses_and_updates_weights(self):
        _, model = self.make()
        before = {k: v.clone() for k, v in model.state_dict().items()}
        x, y = self.batch()
        losses = model.train_step(x, y)
        assert losses and all(k.startswith("loss_") for k in losses)
        # the contract: detached 0-d tensors (the trainer syncs with the host only when it logs)
        for name, value in losses.items():
            assert torch.is_tensor(value) and value.dim() == 0 and not value.requires_grad, name
        assert all(math.isfinite(float(v)) for v in losses.values())
        changed = [k for k, v in model.state_dict().items() if not torch.equal(v, before[k])]
        assert changed, "one training step changed no weight"

    def test_translate_shape_and_range(self):
        _, model = self.make()
        x, y = self.batch()
        for direction in model.directions:
            out = model.translate(x if direction == "X2Y" else y, direction)
            assert out.shape == x.shape and out.abs().max() <= 1.0 + 1e-6

    def test_state_round_trip_rebuilds_the_same_model(self):
        _, model = self.make()
        x, y = self.batch()
        model.train_step(x, y)
        _, fresh = self.make()
        fresh.load_state_dict(model.state_dict())
        fresh.load_training_state(model.training_state())
        model.eval(), fresh.eval()
        for direction in model.directions:
            inp = x if direction == "X2Y" else y
            assert torch.equal(model.translate(inp, direction), fresh.translate(inp, direction))
        # the optimiser state travelled too: the next step is identical
        model.train(), fresh.train()
        torch.manual_seed(1)
        a = model.train_step(*self.batch(1))
        torch.manual_seed(1)
        b = fresh.train_step(*self.batch(1))
        assert {k: float(v) for k, v in a.items()} == {k: float(v) for k, v in b.items()}

    def test_sample_rows(self):
        _, model = self.make()
        rows = model.sample_rows(*self.batch())
        assert len(rows) >= 2 and all(t.shape[-1] == SIZE for _, t in rows)

"""The contract every translation model honours, as a mixin over the shipped checks.

Each model (the CycleGAN presets and every baseline) gets a test class that subclasses
`ModelContract` and names its config overrides; the whole contract is then tested for free,
by the same code `benchmark check` runs on a user's model (benchmark/contract.py).
"""
from __future__ import annotations

from benchmark.config import compose_config
from benchmark.contract import ContractHarness, check_overrides

SIZE = 32


class ModelContract:
    overrides: list[str] = []

    def harness(self) -> ContractHarness:
        harness = ContractHarness(compose_config(check_overrides(self.overrides)))
        harness.check_build()  # raises ContractError with the reason
        return harness

    def make(self):
        """(config, a freshly built model with fp32 precision and optimisers)."""
        harness = self.harness()
        return harness.cfg, harness.model

    def batch(self, seed: int = 0):
        """(x, y), one training sample of the check's synthetic data (each `seed` another)."""
        return ContractHarness(compose_config(check_overrides(self.overrides))).batch(seed)

    def test_build_directions_and_networks(self):
        self.harness()

    def test_train_step_returns_finite_detached_losses_and_updates_weights(self):
        self.harness().check_losses()

    def test_translate_shape_and_range(self):
        self.harness().check_translate()

    def test_checkpoint_resume_is_bit_identical(self, tmp_path):
        self.harness().check_resume(tmp_path)

    def test_sample_rows(self):
        harness = self.harness()
        rows = harness.model.sample_rows(*harness.batch())
        assert len(rows) >= 2 and all(t.shape[-1] == SIZE for _, t in rows)

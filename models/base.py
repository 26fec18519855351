"""The contract every translation model honours: the CycleGAN family, every baseline, yours.

The trainer, the evaluator and the reports talk to models only through `TranslationModel`, so
a new method is one class plus one config, and it need not live in this repository: a model
YAML may name any subclass by import path, `family: mypkg.translation:MyMethod`. Directions
are named from the domains: "X2Y" is G (X -> Y), "Y2X" is F (Y -> X); a one-way method
provides only one of them. `benchmark check model=...` tests a class against this contract
(benchmark/contract.py) before its first GPU-hour. A complete external method::

    # mypkg/translation.py, named by a model YAML in a --config-dir, model/mymethod.yaml:
    #   {name: mymethod, family: mypkg.translation:MyMethod, lambda_l1: 10.0}
    import torch

    from models.base import TranslationModel
    from models.gan_loss import GANLoss
    from models.networks import PatchDiscriminator, ResnetGenerator, init_weights


    class MyMethod(TranslationModel):  # one-sided: G translates X -> Y, an L1 term keeps G(x) near x
        directions = ("X2Y",)

        def __init__(self, filters: int, blocks: int, lambda_l1: float) -> None:
            super().__init__()
            self.G = init_weights(ResnetGenerator(3, 3, base_filters=filters, n_blocks=blocks))
            self.D_Y = init_weights(PatchDiscriminator(3, base_filters=filters))
            self.gan, self.lambda_l1 = GANLoss("lsgan"), lambda_l1

        @classmethod
        def from_config(cls, model_cfg, network_cfg, *, seed: int) -> "MyMethod":
            return cls(int(network_cfg.base_filters), int(network_cfg.n_blocks), float(model_cfg.lambda_l1))

        def parameter_groups(self):
            return {"G": list(self.G.parameters()), "D": list(self.D_Y.parameters())}

        def train_step(self, x, y):
            fake = self.G(x)
            loss_g = self.gan.generator_loss(self.D_Y(fake)) + self.lambda_l1 * (fake - x).abs().mean()
            self._optimise("G", loss_g)
            loss_d = 0.5 * self.gan.discriminator_loss(self.D_Y(y), self.D_Y(fake.detach()))
            self._optimise("D", loss_d)
            self._finish_step()
            self.step_schedulers()
            return {"loss_G": loss_g.detach(), "loss_D": loss_d.detach()}

        @torch.no_grad()
        def translate(self, images, direction):
            return self.G(images)  # ends in tanh: [-1, 1]

Its whole state is in its modules and optimisers, so `state_dict()` and the default
`training_state()` resume it exactly; a model with more (an image pool, a counter, its own
torch.Generator) returns it from `extra_training_state()`.
"""
from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

from models.precision import AMP_DTYPES, resolve_precision

DIRECTIONS = ("X2Y", "Y2X")


class TranslationModel(nn.Module):
    """Networks, their optimisers and schedulers, and one training step.

    A subclass implements `from_config`, `parameter_groups`, `train_step` and `translate`, sets
    `directions` (and `needs_aligned_pairs` if it trains on pairs), and builds only the networks
    its objective uses, as attributes (so `networks()` and `state_dict()` find them). The
    trainer calls, in this order: `from_config` (after seeding every RNG with the run seed),
    `configure_precision`, `configure_optimizers`, then `train_step` once per iteration; the
    evaluator calls `eval()` and `translate`. Everything an exact resume needs beyond
    `state_dict()` (the optimisers, schedulers, grad scaler, and `extra_training_state()`: image
    pools, counters, private generators) is returned by `training_state()`.
    """

    #: The directions `translate` supports, a non-empty subset of ("X2Y", "Y2X"); only these
    #: are scored, and the sample grid shows only these.
    directions: tuple[str, ...] = DIRECTIONS
    #: False (unpaired, the default): each step's y is drawn at random from Y, whatever the
    #: dataset. True (pix2pix): the model trains on aligned (x, y) pairs, so the trainer feeds y
    #: at x's index with the same crop and flip, and a dataset without aligned pairs (an
    #: unaligned folder, |X| != |Y|) is refused before training (benchmark/model_registry.py).
    needs_aligned_pairs: bool = False
    #: Optional: a static method `(model_cfg) -> None` run before training (and before a suite
    #: submits anything) that raises one clear line when something the model needs besides data
    #: is missing, e.g. pretrained weights (baselines/feature_loss.py fetches them or names the option).
    check_training_requirements: Callable | None = None

    def __init__(self) -> None:
        super().__init__()
        self.optimizers: dict[str, torch.optim.Optimizer] = {}
        self.schedulers: dict[str, torch.optim.lr_scheduler.LRScheduler] = {}
        self.precision = "fp32"
        self.amp_dtype: torch.dtype | None = None
        self.scaler: torch.amp.GradScaler | None = None

    # -- set-up --------------------------------------------------------------------------
    @classmethod
    def from_config(cls, model_cfg, network_cfg, *, seed: int) -> TranslationModel:
        """The model of a run, weights initialised: how every process builds it.

        `model_cfg` is the model YAML (its own keys: loss weights, ...), `network_cfg` the
        profile's sizes (`base_filters`, `n_blocks`, `disc_base_filters`, `disc_layers`,
        `init_std`), `seed` the run seed, for RNGs the model keeps itself (every global RNG is
        already seeded with it). A pure function of these three: a run rebuilt in a job or on
        resume must be the same model, since the run's identity is a hash of this config.
        """
        raise NotImplementedError(
            f"{cls.__module__}.{cls.__qualname__} does not define the classmethod "
            "from_config(model_cfg, network_cfg, *, seed): add it (models/base.py shows an example)")

    def parameter_groups(self) -> dict[str, list[nn.Parameter]]:
        """Optimiser name -> parameters, e.g. {"G": G+F params, "D": D_X+D_Y params}: one Adam
        each (`configure_optimizers`), stepped by name with `_optimise(name, loss)`."""
        raise NotImplementedError(f"{type(self).__qualname__} does not define parameter_groups()")

    def configure_optimizers(self, *, lr: float, betas: tuple[float, float],
                             lr_lambda: Callable[[int], float]) -> None:
        """Adam per parameter group with the paper's schedule (a factor of the base lr per step).

        In fp32 Adam is torch's default implementation, so fp32 runs stay bit-identical to the
        runs already in the store (and a run resumed across versions stays exact). Under
        autocast (configure_precision first) it is the fused kernel: 2.5-4.5x faster on the CPU
        (measured: 22 -> 8 ms per step at the cpu profile, ~10% of the step) and one launch per
        optimiser on a GPU, at the price of different float rounding, which only new run
        identities (precision is in the hash) see.
        """
        fused = {"fused": True} if self.precision != "fp32" else {}
        self.optimizers = {name: torch.optim.Adam(params, lr=lr, betas=betas, **fused)
                           for name, params in self.parameter_groups().items() if params}
        self.schedulers = {name: torch.optim.lr_scheduler.LambdaLR(opt, lr_lambda)
                           for name, opt in self.optimizers.items()}

    def configure_precision(self, precision: str, device: torch.device) -> str:
        """fp32, or autocast to bf16/fp16 (`auto`: bf16 where the device does it natively, see
        models/precision.py); fp16 needs a grad scaler (on CUDA). Returns the precision used."""
        self.precision = resolve_precision(precision, device)
        self.amp_dtype = AMP_DTYPES[self.precision]
        self.scaler = (torch.amp.GradScaler(device.type)
                       if self.precision == "fp16" and device.type == "cuda" else None)
        return self.precision

    def autocast(self, device_type: str):
        return torch.autocast(device_type, dtype=self.amp_dtype or torch.float32,
                              enabled=self.amp_dtype is not None)

    # -- the interface ---------------------------------------------------------------------
    def networks(self) -> dict[str, nn.Module]:
        """The named networks this model actually built (G, F, D_X, D_Y, ...)."""
        return {name: module for name, module in self.named_children()}

    def train_step(self, x: torch.Tensor, y: torch.Tensor) -> dict[str, torch.Tensor]:
        """One optimisation step on an unpaired (or, with `needs_aligned_pairs`, paired) batch.

        `x`, `y`: (N, 3, H, W) in [-1, 1] on the model's device. The step zeroes, backpropagates
        and steps its own optimisers (`_optimise`), then calls `_finish_step()` and
        `step_schedulers()` once. Returns `loss_<term>` (train_log.csv's and the report's loss
        plot's columns) -> finite, detached 0-d tensor (`loss.detach()`): a tensor still
        attached to the graph keeps the step's activations alive until the trainer logs it.
        Prefer tensors to Python floats: a float is a host sync per loss per step on a GPU,
        which at batch 1 costs as much as the step; the trainer converts every loss in one
        transfer when it logs them (floats are accepted).
        """
        raise NotImplementedError(f"{type(self).__qualname__} does not define train_step(x, y)")

    @torch.no_grad()
    def translate(self, images: torch.Tensor, direction: str) -> torch.Tensor:
        """Translate a batch in [-1, 1] along `direction` ("X2Y" or "Y2X", one of `directions`).

        Returns a detached float tensor of the input's shape with every value in [-1, 1] (a
        tanh output; an image in [0, 1] would be scored as a dark, washed-out one). Called in
        `eval()` mode, on a batch of any size.
        """
        raise NotImplementedError(f"{type(self).__qualname__} does not define translate(images, direction)")

    @torch.no_grad()
    def sample_rows(self, x: torch.Tensor, y: torch.Tensor) -> list[tuple[str, torch.Tensor]]:
        """Rows of the sample grid: inputs, translations and (where defined) reconstructions."""
        rows: list[tuple[str, torch.Tensor]] = [("x", x)]
        if "X2Y" in self.directions:
            rows.append(("G(x)", self.translate(x, "X2Y")))
        rows.append(("y", y))
        if "Y2X" in self.directions:
            rows.append(("F(y)", self.translate(y, "Y2X")))
        return rows

    def step_schedulers(self) -> None:
        for scheduler in self.schedulers.values():
            scheduler.step()

    def learning_rate(self) -> float:
        opt = next(iter(self.optimizers.values()), None)
        return float(opt.param_groups[0]["lr"]) if opt else 0.0

    # -- exact resume ------------------------------------------------------------------------
    # A checkpoint holds `state_dict()` and `training_state()`; a resumed run rebuilds the model
    # with `from_config`, loads both and must then take exactly the steps the uninterrupted run
    # takes. Checkpoints load with torch.load(weights_only=True): the state may hold tensors
    # (a torch.Generator's `get_state()`), numbers, strings and plain containers, not objects.
    def training_state(self) -> dict:
        return {
            "optimizers": {k: v.state_dict() for k, v in self.optimizers.items()},
            "schedulers": {k: v.state_dict() for k, v in self.schedulers.items()},
            "scaler": self.scaler.state_dict() if self.scaler else None,
            "extra": self.extra_training_state(),
        }

    def load_training_state(self, state: dict) -> None:
        for k, v in state["optimizers"].items():
            self.optimizers[k].load_state_dict(v)
        for k, v in state["schedulers"].items():
            self.schedulers[k].load_state_dict(v)
        if self.scaler and state.get("scaler"):
            self.scaler.load_state_dict(state["scaler"])
        self.load_extra_training_state(state.get("extra") or {})

    def extra_training_state(self) -> dict:
        """Model-specific state outside nn.Module (image pools, step counters, the state of a
        torch.Generator the model draws from): whatever the next step depends on."""
        return {}

    def load_extra_training_state(self, state: dict) -> None:
        pass

    # -- helpers for subclasses ------------------------------------------------------------------
    def _optimise(self, name: str, loss: torch.Tensor) -> None:
        opt = self.optimizers[name]
        opt.zero_grad(set_to_none=True)
        if self.scaler:
            self.scaler.scale(loss).backward()
            self.scaler.step(opt)
        else:
            loss.backward()
            opt.step()

    def _finish_step(self) -> None:
        if self.scaler:
            self.scaler.update()


def set_requires_grad(modules, flag: bool) -> None:
    """Freeze the discriminators while the generators step (saves their gradient work)."""
    for module in modules:
        if module is not None:
            for p in module.parameters():
                p.requires_grad_(flag)

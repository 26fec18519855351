"""The contract every translation model honours: the CycleGAN family and every baseline.

The trainer, the evaluator and the reports talk to models only through this interface, so a
new variant or baseline is one file plus one config. Directions are named from the domains:
"X2Y" is G (X -> Y), "Y2X" is F (Y -> X); a one-way baseline provides only one of them.
"""
from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

from models.precision import AMP_DTYPES, resolve_precision

DIRECTIONS = ("X2Y", "Y2X")


class TranslationModel(nn.Module):
    """Networks, their optimisers and schedulers, and one training step.

    Subclasses build only the networks their objective uses, set `directions`, and implement
    `train_step` and `translate`. Everything an exact resume needs beyond `state_dict()` (the
    optimisers, schedulers, image pools, grad scaler) is returned by `training_state()`.
    """

    directions: tuple[str, ...] = DIRECTIONS

    def __init__(self) -> None:
        super().__init__()
        self.optimizers: dict[str, torch.optim.Optimizer] = {}
        self.schedulers: dict[str, torch.optim.lr_scheduler.LRScheduler] = {}
        self.precision = "fp32"
        self.amp_dtype: torch.dtype | None = None
        self.scaler: torch.amp.GradScaler | None = None

    # -- set-up --------------------------------------------------------------------------
    def parameter_groups(self) -> dict[str, list[nn.Parameter]]:
        """Optimiser name -> parameters, e.g. {"G": G+F params, "D": D_X+D_Y params}."""
        raise NotImplementedError

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
        """One optimisation step on an unpaired (or, for paired baselines, paired) batch.

        Returns loss name -> detached 0-d tensor (`loss.detach()`), never a Python float: a
        float is a host sync per loss per step on a GPU, which at batch 1 costs as much as the
        step; the trainer converts the losses in one transfer when it logs them.
        """
        raise NotImplementedError

    @torch.no_grad()
    def translate(self, images: torch.Tensor, direction: str) -> torch.Tensor:
        """Translate a batch in [-1, 1] along `direction` ("X2Y" or "Y2X")."""
        raise NotImplementedError

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
        """Model-specific state outside nn.Module (image pools, ...)."""
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

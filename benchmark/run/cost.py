"""What a command is about to train, and what it will cost on this device, said before it starts.

Why: `benchmark run ablations cityscapes` runs the paper's protocol (200 epochs of 2975
images per run); on a laptop CPU that is weeks, which a user should learn in the first second,
not after a night. The estimate comes from a short measured step of the real model (the
config's networks and losses), not from a table: a couple of optimisation steps at a reduced
crop, scaled by pixels (every network here is convolutional, so a step's work grows with
the pixel count), which keeps the measurement to a second or two even for the paper's nets
on a CPU. On a GPU the step is measured at the full crop.

Where the estimate is absurd for the launcher (local runs longer than LOCAL_LIMIT_H), the
command stops with one line offering `profile=cpu`, `launcher=slurm` or `--yes`.
"""
from __future__ import annotations

import copy
import time
from dataclasses import dataclass

import torch
from omegaconf import DictConfig, open_dict

#: A local (in-process) plan estimated above this many hours stops unless --yes is given.
LOCAL_LIMIT_H = 24.0
#: Side of the crop the step is timed at on a CPU (then scaled by pixels to the real crop).
CPU_PROBE_SIDE = 32
#: Timed steps after one warm-up step.
TIMED_STEPS = 2


class CostTooHighError(ValueError):
    """The plan would run far longer than sensible on this launcher."""


@dataclass
class Estimate:
    seconds_per_iteration: float
    iterations: int          # to train, summed over the runs
    runs: int
    device: str
    measured_at: int         # crop side the step was timed at

    @property
    def seconds(self) -> float:
        return self.seconds_per_iteration * self.iterations


def duration(seconds: float) -> str:
    for unit, size in (("days", 86400), ("h", 3600), ("min", 60)):
        if seconds >= size:
            return f"{seconds / size:.1f} {unit}"
    return f"{seconds:.0f} s"


def seconds_per_iteration(cfg: DictConfig, device: torch.device) -> tuple[float, int]:
    """(seconds of one training iteration at the config's crop and batch, crop side timed)."""
    crop = int(cfg.data.crop_size)
    side = crop if device.type == "cuda" else min(crop, CPU_PROBE_SIDE)
    if side != crop:
        try:
            return _timed_step(_at_crop(cfg, side), device, side) * (crop / side) ** 2, side
        except RuntimeError:  # a network that cannot take the smaller crop: time the real one
            pass
    return _timed_step(cfg, device, crop), crop


def _at_crop(cfg: DictConfig, side: int) -> DictConfig:
    """The config with its crop set to `side`; models sized to the crop (CoGAN, the U-Net) follow
    it through their `${data.crop_size}` interpolations, so the probe builds them for `side`."""
    probe = copy.deepcopy(cfg)
    with open_dict(probe):
        probe.data.crop_size = side
    return probe


def _timed_step(cfg: DictConfig, device: torch.device, side: int) -> float:
    """Seconds of one optimisation step of the config's model on random `side`² batches, the
    model built as the trainer builds it (precision, optimisers, memory format)."""
    from benchmark.run.step import build_trainable, to_channels_last

    batch = int(cfg.trainer.batch_size)
    with torch.random.fork_rng(devices=[]):
        model, _ = build_trainable(cfg, device, lambda step: 1.0)
        x = torch.rand(batch, 3, side, side, device=device) * 2 - 1
        y = torch.rand(batch, 3, side, side, device=device) * 2 - 1
        if cfg.trainer.channels_last:
            x, y = to_channels_last(x), to_channels_last(y)
        model.train_step(x, y)  # warm-up: allocations, cuDNN algorithm search
        _sync(device)
        start = time.perf_counter()
        for _ in range(TIMED_STEPS):
            model.train_step(x, y)
        _sync(device)
        return (time.perf_counter() - start) / TIMED_STEPS


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def describe_plan(cfg: DictConfig, *, runs: int, iterations_per_run: int, what: str) -> str:
    net = cfg.network
    return (f"plan: {what}, profile={cfg.get('profile', '?')} ({net.base_filters} filters, {net.n_blocks} "
            f"blocks, {cfg.data.crop_size}² crops, batch {cfg.trainer.batch_size}, "
            f"{iterations_per_run:,} iterations a run), {runs} run(s) to train, "
            f"launcher={cfg.launcher.name}")


def check_cost(cfg: DictConfig, *, runs: int, iterations: int, what: str, iterations_per_run: int,
               confirmed: bool, printer=print) -> Estimate | None:
    """Print the plan and the measured estimate; stop (CostTooHighError) when it is absurd here.

    Nothing is measured when nothing needs training (`runs == 0`).
    """
    from benchmark.device import resolve_device

    printer(describe_plan(cfg, runs=runs, iterations_per_run=iterations_per_run, what=what))
    if runs == 0 or iterations <= 0:
        return None
    device = resolve_device(cfg.device)
    per_it, side = seconds_per_iteration(cfg, device)
    est = Estimate(per_it, iterations, runs, str(device), side)
    scaled = "" if side == int(cfg.data.crop_size) else f", timed at {side}² and scaled by pixels"
    where = "here" if cfg.launcher.name != "slurm" else "on this machine (the cluster's nodes may differ)"
    printer(f"estimate: {per_it:.3g} s/iteration on {device} {where}{scaled} -> "
            f"{duration(est.seconds)} of training for {iterations:,} iterations")
    local = cfg.launcher.name != "slurm"
    if local and est.seconds > LOCAL_LIMIT_H * 3600 and not confirmed:
        raise CostTooHighError(
            f"this would train for about {duration(est.seconds)} on this machine's {device} "
            f"(profile={cfg.get('profile', '?')}, launcher={cfg.launcher.name}, more than "
            f"{LOCAL_LIMIT_H:g} h): use profile=cpu for a run sized for a CPU, launcher=slurm for a "
            "cluster, or add --yes to start anyway")
    return est

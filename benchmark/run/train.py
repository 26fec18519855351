"""One training run: the loop, its log, sample grids and exact, atomic checkpoints.

The loop is the paper's (Section 4, Appendix 7.1): Adam(2e-4, β=(0.5, 0.999)), a constant lr
then a linear decay to zero, one unpaired batch per iteration with Y drawn at random. Every
source of randomness is either a function of (seed, sample index) — the data — or saved in the
checkpoint — weights init, image pools, dropout — so a killed run started again with the same
command resumes and ends with the same weights as one that was never interrupted.
"""
from __future__ import annotations

import csv
import io
import math
import random
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from omegaconf import DictConfig
from torch.utils.data import DataLoader
from tqdm import tqdm

from benchmark import atomic
from benchmark.config import config_hash, identity_diff, recorded_config, run_dir_of
from benchmark.data import open_domains
from benchmark.data.iteration import UnpairedIterations, iteration_sampler
from benchmark.device import resolve_device
from benchmark.model_registry import check_training_data
from benchmark.provenance import environment
from benchmark.run.checkpoint import CHECKPOINT, load_latest, remove_stale_temporaries, save_checkpoint
from benchmark.run.curves import open_curves
from benchmark.run.loss_buffer import LossBuffer
from benchmark.run.samples import sample_batch, save_sample_grid
from benchmark.run.step import TrainStep, build_trainable
from benchmark.run.store import RunDirRefusedError, read_run_config, write_status

CHECKPOINT_FORMAT = 1


class NonFiniteLossError(RuntimeError):
    """A loss became NaN or inf; the run stops and its last good checkpoint is kept."""


class CheckpointMismatchError(RunDirRefusedError):
    """A run directory holds a checkpoint of a different config."""


class ConfigEditedError(RunDirRefusedError):
    """A run directory's config.yaml says another config than the one asked to train there."""


def iteration_budget(trainer_cfg, epoch_length: int) -> tuple[int, int]:
    """(total iterations, iteration where the linear decay starts).

    The paper counts epochs of max(|X|, |Y|) images (100 constant + 100 decaying); the other
    profiles give an iteration budget and the fraction of it that decays.
    """
    batch = int(trainer_cfg.batch_size)
    if trainer_cfg.epochs is not None:
        per_epoch = math.ceil(epoch_length / batch)
        constant = int(trainer_cfg.epochs) * per_epoch
        return constant + int(trainer_cfg.decay_epochs or 0) * per_epoch, constant
    total = int(trainer_cfg.iterations)
    return total, total - int(round(total * float(trainer_cfg.decay_fraction)))


def linear_decay(decay_start: int, total: int):
    """lr factor at a step: 1 until `decay_start`, then linearly down to 0 at `total`."""
    span = max(total - decay_start, 1)

    def factor(step: int) -> float:
        return 1.0 - max(0, step - decay_start) / span

    return factor


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def rng_state() -> dict:
    return {"python": random.getstate(), "numpy": np.random.get_state(),
            "torch": torch.get_rng_state(),
            "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else None}


def set_rng_state(state: dict) -> None:
    random.setstate(state["python"])
    np.random.set_state(state["numpy"])
    torch.set_rng_state(state["torch"])
    if state.get("cuda") is not None and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


class TrainLog:
    """train_log.csv: one row per logged iteration, appended as training goes.

    Appending keeps the per-iteration cost flat; on resume the rows after the checkpoint are
    cut off (rewritten atomically), so the log never holds iterations that were redone.
    """

    def __init__(self, path: Path, resume_from: int) -> None:
        self.path = path
        self.columns: list[str] | None = None
        if path.exists():
            rows = list(csv.DictReader(path.open()))
            kept = [r for r in rows if int(r["iteration"]) < resume_from]
            if rows:
                self.columns = list(rows[0].keys())
            if len(kept) != len(rows) and self.columns:
                buf = io.StringIO()
                writer = csv.DictWriter(buf, fieldnames=self.columns)
                writer.writeheader()
                writer.writerows(kept)
                atomic.write_text(path, buf.getvalue())
        self._fh = None

    def write(self, row: dict) -> None:
        if self._fh is None:
            new = self.columns is None
            self.columns = self.columns or list(row)
            self._fh = self.path.open("a", newline="")
            self._writer = csv.DictWriter(self._fh, fieldnames=self.columns, extrasaction="ignore")
            if new:
                self._writer.writeheader()
        self._writer.writerow(row)

    def flush(self) -> None:
        if self._fh:
            self._fh.flush()

    def close(self) -> None:
        if self._fh:
            self._fh.close()
            self._fh = None


@dataclass
class _Run:
    """What the loop needs of one run, set up by `_open_run`."""

    cfg: DictConfig
    run_dir: Path
    device: torch.device
    config: dict          # the resolved config, as config.yaml and every checkpoint hold it
    chash: str
    data: UnpairedIterations
    total: int
    model: torch.nn.Module
    start: int            # the iteration training goes on from (0, or the checkpoint's)

    def result(self, iteration: int) -> dict:
        return {"run_dir": str(self.run_dir), "iteration": iteration, "total": self.total,
                "resumed_from": self.start}


def train(cfg: DictConfig, run_dir: Path | None = None, *, stop_after: int | None = None) -> dict:
    """Train the run of `cfg` in `run_dir` (default: its store directory), resuming if possible.

    `stop_after` ends this call after that many iterations (a checkpoint is written first), as
    if the job had been killed then: tests and time-limited jobs use it.
    """
    run = _open_run(cfg, Path(run_dir or run_dir_of(cfg)))
    if run.start >= run.total:
        write_status(run.run_dir, "trained", iteration=run.start, total=run.total)
        return run.result(run.start)
    end = run.total if stop_after is None else min(run.total, run.start + int(stop_after))
    return _loop(run, end)


def _open_run(cfg: DictConfig, run_dir: Path) -> _Run:
    """Seed, open the data, build the model and optimisers, resume from the latest checkpoint,
    and write config.yaml and env.json."""
    run_dir.mkdir(parents=True, exist_ok=True)
    device = resolve_device(cfg.device)
    config = recorded_config(cfg)  # dataset root absolute, and the dataset's content fingerprint
    chash = config_hash(config)

    seed_everything(int(cfg.seed))
    pair = open_domains(cfg.dataset, cfg.dataset.train_split)
    data = UnpairedIterations(pair, load_size=cfg.data.load_size, crop_size=cfg.data.crop_size,
                              flip=cfg.data.flip, seed=int(cfg.seed),
                              paired=check_training_data(cfg, pair))  # fails here, before training
    total, decay_start = iteration_budget(cfg.trainer, data.epoch_length)
    model, precision = build_trainable(cfg, device, linear_decay(decay_start, total))
    start = _resume(run_dir, model, config, chash)
    _check_recorded_config(run_dir, config)  # before config.yaml is rewritten
    atomic.write_text(run_dir / "config.yaml", _yaml(config))
    # The hash keeps the literal trainer.precision ("auto"); what it meant on this device is here.
    atomic.write_json(run_dir / "env.json", {**environment(device), "config_hash": chash,
                                             "dataset_fingerprint": config["dataset"].get("fingerprint"),
                                             "precision": precision,
                                             "precision_requested": str(cfg.trainer.precision)})
    return _Run(cfg, run_dir, device, config, chash, data, total, model, start)


def _check_recorded_config(run_dir: Path, config: dict) -> None:
    """Refuse a run directory whose config.yaml names another run than `config`: edited by hand,
    or left by another config. It would otherwise be overwritten without a word."""
    recorded = read_run_config(run_dir)
    if recorded is None:
        return
    diff = identity_diff(recorded, config)
    if diff:
        raise ConfigEditedError(f"{run_dir / 'config.yaml'} differs from the config asked for ({'; '.join(diff)}): "
                                "it was edited by hand or belongs to another run; restore it, or use another "
                                "run_dir= (settings are changed with key=value overrides, which make a new run)")


def _resume(run_dir: Path, model, config: dict, chash: str) -> int:
    """Load the latest good checkpoint of `run_dir` into `model` and the RNGs; its iteration (0
    when there is none). A checkpoint of another config is refused, never overwritten."""
    remove_stale_temporaries(run_dir)  # left by a writer killed mid-save
    ckpt = load_latest(run_dir)
    if ckpt is None:
        return 0
    if ckpt.get("config_hash") != chash:
        diff = identity_diff(ckpt.get("config", {}), config)
        raise CheckpointMismatchError(
            f"{run_dir / CHECKPOINT} was written by another config ({'; '.join(diff) or 'format differs'}): "
            "refusing to resume; use another run_dir= or delete that checkpoint")
    model.load_state_dict(ckpt["model"])
    model.load_training_state(ckpt["training"])
    set_rng_state(ckpt["rng"])
    return int(ckpt["iteration"])


def _loop(run: _Run, end: int) -> dict:
    """Iterations `run.start` .. `end`: log rows, sample grids and checkpoints as they fall due."""
    cfg, run_dir, total, trainer = run.cfg, run.run_dir, run.total, run.cfg.trainer
    sample_x, sample_y = sample_batch(cfg, run.device)
    log = TrainLog(run_dir / "train_log.csv", resume_from=run.start)
    loader = DataLoader(run.data, batch_sampler=iteration_sampler(run.start, end - run.start,
                                                                  int(trainer.batch_size)),
                        num_workers=int(cfg.data.num_workers), pin_memory=run.device.type == "cuda")
    write_status(run_dir, "running", iteration=run.start, total=total)
    bar = tqdm(total=total, initial=run.start, desc=f"{cfg.model.name} s{cfg.seed}", unit="it",
               disable=not cfg.progress, dynamic_ncols=True)
    step = TrainStep(run.model, run.device, channels_last=bool(trainer.channels_last))
    curves = open_curves(str(cfg.get("logger", "csv")), run_dir, run.start)
    iteration, log_every = run.start, int(trainer.log_every)
    try:
        for batch in loader:
            step(iteration, batch)
            iteration += 1
            bar.update(1)
            sample_due = iteration % int(trainer.sample_every) == 0 or iteration == total
            checkpoint_due = iteration % int(trainer.checkpoint_every) == 0 or iteration in (end, total)
            if iteration % log_every == 0 or sample_due or checkpoint_due:
                _log_losses(step.losses, log, curves, bar, run_dir, log_every)
            if sample_due:
                grid = save_sample_grid(run.model, sample_x, sample_y,
                                        run_dir / "samples" / f"iter_{iteration:07d}.png")
                curves.image(iteration - 1, "samples", grid)
            if checkpoint_due:
                log.flush()
                curves.flush()
                _save_checkpoint(run, iteration)
                write_status(run_dir, "running" if iteration < total else "trained",
                             iteration=iteration, total=total)
    finally:
        log.close()
        curves.close()
        bar.close()
    return run.result(iteration)


def _log_losses(pending: LossBuffer, log: TrainLog, curves, bar, run_dir: Path, log_every: int) -> None:
    """Log the waiting steps' losses and stop at the first non-finite one (run before every
    save, so a checkpoint never holds a bad step)."""
    for step in pending.drain():
        bad = step.non_finite()
        if bad:
            write_status(run_dir, "failed", iteration=step.iteration,
                         error=f"non-finite {', '.join(bad)} at iteration {step.iteration}")
            raise NonFiniteLossError(f"non-finite loss ({', '.join(bad)}) at iteration "
                                     f"{step.iteration} of {run_dir}; the last good checkpoint is kept")
        if (step.iteration + 1) % log_every == 0:
            log.write({"iteration": step.iteration, **step.losses, **step.extra})
            curves.scalars(step.iteration, {**step.losses, "learning_rate": step.extra["lr"],
                                            "s_per_iteration": 1.0 / max(step.extra["it_per_s"], 1e-3)})
            if not bar.disable:
                bar.set_postfix({k.removeprefix("loss_"): f"{v:.3f}" for k, v in step.losses.items()
                                 if k != "loss_G_total"}, refresh=False)


def _save_checkpoint(run: _Run, iteration: int) -> None:
    state = {"format": CHECKPOINT_FORMAT, "iteration": iteration, "total_iterations": run.total,
             "config": run.config, "config_hash": run.chash, "model": run.model.state_dict(),
             "training": run.model.training_state(), "rng": rng_state()}
    save_checkpoint(run.run_dir, state, iteration=iteration)


def _yaml(config: dict) -> str:
    from omegaconf import OmegaConf

    from benchmark.config import escape_interpolations

    return OmegaConf.to_yaml(OmegaConf.create(escape_interpolations(config)))  # loads back as written


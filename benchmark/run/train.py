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
import time
from pathlib import Path

import numpy as np
import torch
from omegaconf import DictConfig
from torch.utils.data import DataLoader
from tqdm import tqdm

from benchmark import atomic
from benchmark.model_registry import build_model, check_training_data
from benchmark.run.checkpoint import CHECKPOINT, load_latest, remove_stale_temporaries, save_checkpoint
from benchmark.config import config_hash, identity_diff, resolved_dict, run_dir_of
from benchmark.data import open_domains
from benchmark.data.iteration import UnpairedIterations, iteration_sampler
from benchmark.run.loss_buffer import LossBuffer
from benchmark.device import resolve_device
from benchmark.provenance import environment
from benchmark.run.store import write_status
from benchmark.run.samples import sample_batch, save_sample_grid

CHECKPOINT_FORMAT = 1


class NonFiniteLossError(RuntimeError):
    """A loss became NaN or inf; the run stops and its last good checkpoint is kept."""


class CheckpointMismatchError(ValueError):
    """A run directory holds a checkpoint of a different config."""


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


def _save_checkpoint(run_dir: Path, model, iteration: int, total: int, config: dict, chash: str) -> None:
    state = {"format": CHECKPOINT_FORMAT, "iteration": iteration, "total_iterations": total,
             "config": config, "config_hash": chash, "model": model.state_dict(),
             "training": model.training_state(), "rng": rng_state()}
    save_checkpoint(run_dir, state, iteration=iteration)


def train(cfg: DictConfig, run_dir: Path | None = None, *, stop_after: int | None = None) -> dict:
    """Train the run of `cfg` in `run_dir` (default: its store directory), resuming if possible.

    `stop_after` ends this call after that many iterations (a checkpoint is written first), as
    if the job had been killed then: tests and time-limited jobs use it.
    """
    run_dir = Path(run_dir or run_dir_of(cfg))
    run_dir.mkdir(parents=True, exist_ok=True)
    device = resolve_device(cfg.device)
    config = resolved_dict(cfg)
    chash = config_hash(cfg)

    seed_everything(int(cfg.seed))
    pair = open_domains(cfg.dataset, cfg.dataset.train_split)
    data = UnpairedIterations(pair, load_size=cfg.data.load_size, crop_size=cfg.data.crop_size,
                              flip=cfg.data.flip, seed=int(cfg.seed),
                              paired=check_training_data(cfg, pair))  # fails here, before training
    total, decay_start = iteration_budget(cfg.trainer, data.epoch_length)
    model = build_model(cfg).to(device)
    if cfg.trainer.channels_last:
        model = model.to(memory_format=torch.channels_last)
    # before the optimisers: the precision picks the Adam implementation (models/base.py)
    precision = model.configure_precision(cfg.trainer.precision, device)  # auto -> bf16 | fp32
    model.configure_optimizers(lr=float(cfg.trainer.lr),
                               betas=(float(cfg.trainer.beta1), float(cfg.trainer.beta2)),
                               lr_lambda=linear_decay(decay_start, total))

    start = 0
    ckpt_path = run_dir / CHECKPOINT
    remove_stale_temporaries(run_dir)  # left by a writer killed mid-save
    ckpt = load_latest(run_dir)
    if ckpt is not None:
        if ckpt.get("config_hash") != chash:
            diff = identity_diff(ckpt.get("config", {}), config)
            raise CheckpointMismatchError(
                f"{ckpt_path} was written by another config ({'; '.join(diff) or 'format differs'}): "
                "refusing to resume; use another run_dir= or delete that checkpoint")
        model.load_state_dict(ckpt["model"])
        model.load_training_state(ckpt["training"])
        set_rng_state(ckpt["rng"])
        start = int(ckpt["iteration"])
        del ckpt
    atomic.write_text(run_dir / "config.yaml", _yaml(config))
    # The hash keeps the literal trainer.precision ("auto"); what it meant on this device is here.
    atomic.write_json(run_dir / "env.json", {**environment(device), "config_hash": chash,
                                             "precision": precision,
                                             "precision_requested": str(cfg.trainer.precision)})
    if start >= total:
        write_status(run_dir, "trained", iteration=start, total=total)
        return {"run_dir": str(run_dir), "iteration": start, "total": total, "resumed_from": start}

    sample_x, sample_y = sample_batch(cfg, device)
    log = TrainLog(run_dir / "train_log.csv", resume_from=start)
    end = total if stop_after is None else min(total, start + int(stop_after))
    loader = DataLoader(data, batch_sampler=iteration_sampler(start, end - start, int(cfg.trainer.batch_size)),
                        num_workers=int(cfg.data.num_workers), pin_memory=device.type == "cuda")
    write_status(run_dir, "running", iteration=start, total=total)
    bar = tqdm(total=total, initial=start, desc=f"{cfg.model.name} s{cfg.seed}", unit="it",
               disable=not cfg.progress, dynamic_ncols=True)
    iteration, tick = start, time.perf_counter()
    log_every, pending = int(cfg.trainer.log_every), LossBuffer()

    def drain_pending() -> None:
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
                if not bar.disable:
                    bar.set_postfix({k.removeprefix("loss_"): f"{v:.3f}" for k, v in step.losses.items()
                                     if k != "loss_G_total"}, refresh=False)

    try:
        for batch in loader:
            x = batch["X"].to(device, non_blocking=True)
            y = batch["Y"].to(device, non_blocking=True)
            if cfg.trainer.channels_last:
                x, y = x.contiguous(memory_format=torch.channels_last), y.contiguous(memory_format=torch.channels_last)
            lr = model.learning_rate()  # the rate this step uses (the step advances the schedule)
            losses = model.train_step(x, y)  # detached tensors: no host sync (loss_buffer.py)
            now = time.perf_counter()
            pending.add(iteration, losses, lr=lr, it_per_s=round(1.0 / max(now - tick, 1e-9), 3))
            iteration, tick = iteration + 1, now
            bar.update(1)
            sample_due = iteration % int(cfg.trainer.sample_every) == 0 or iteration == total
            checkpoint_due = iteration % int(cfg.trainer.checkpoint_every) == 0 or iteration in (end, total)
            if iteration % log_every == 0 or sample_due or checkpoint_due:
                drain_pending()
            if sample_due:
                save_sample_grid(model, sample_x, sample_y, run_dir / "samples" / f"iter_{iteration:07d}.png")
            if checkpoint_due:
                log.flush()
                _save_checkpoint(run_dir, model, iteration, total, config, chash)
                write_status(run_dir, "running" if iteration < total else "trained",
                             iteration=iteration, total=total)
    finally:
        log.close()
        bar.close()
    return {"run_dir": str(run_dir), "iteration": iteration, "total": total, "resumed_from": start}


def _yaml(config: dict) -> str:
    from omegaconf import OmegaConf

    from benchmark.config import escape_interpolations

    return OmegaConf.to_yaml(OmegaConf.create(escape_interpolations(config)))  # loads back as written


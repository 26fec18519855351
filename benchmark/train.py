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
from benchmark.build import build_model
from benchmark.config import config_hash, identity_diff, resolved_dict, run_dir_of
from benchmark.data import open_domains
from benchmark.data.iteration import UnpairedIterations, iteration_sampler
from benchmark.provenance import environment
from benchmark.store import write_status
from benchmark.samples import sample_batch, save_sample_grid

CHECKPOINT = "checkpoint.pt"
CHECKPOINT_FORMAT = 1


class NonFiniteLossError(RuntimeError):
    """A loss became NaN or inf; the run stops and its last good checkpoint is kept."""


class CheckpointMismatchError(ValueError):
    """A run directory holds a checkpoint of a different config."""


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    device = torch.device(name)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise RuntimeError(f"device={name} asked for but CUDA is not available: use device=cpu or device=auto")
    return device


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


def load_checkpoint(path: Path) -> dict:
    """Load on the CPU: RNG and image-pool generator states must stay CPU ByteTensors (found on
    CUDA: mapping them to the GPU breaks `set_state`); weights move when they are loaded into
    the model, optimiser state follows its parameters."""
    return torch.load(path, map_location="cpu", weights_only=False)


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
    path = run_dir / CHECKPOINT
    try:
        atomic.torch_save(state, path)
    except OSError as exc:
        raise OSError(exc.errno, f"could not save the checkpoint {path} at iteration {iteration} "
                                 f"({exc.strerror or exc}); the previous checkpoint is intact: free "
                                 "space and run the same command again to resume") from exc


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
                              paired=bool(cfg.model.get("paired", False)))
    total, decay_start = iteration_budget(cfg.trainer, data.epoch_length)
    model = build_model(cfg).to(device)
    if cfg.trainer.channels_last:
        model = model.to(memory_format=torch.channels_last)
    model.configure_optimizers(lr=float(cfg.trainer.lr),
                               betas=(float(cfg.trainer.beta1), float(cfg.trainer.beta2)),
                               lr_lambda=linear_decay(decay_start, total))
    model.configure_precision(cfg.trainer.precision, device)

    start = 0
    ckpt_path = run_dir / CHECKPOINT
    if ckpt_path.exists():
        ckpt = load_checkpoint(ckpt_path)
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
    atomic.write_json(run_dir / "env.json", {**environment(device), "config_hash": chash})
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
    try:
        for batch in loader:
            x = batch["X"].to(device, non_blocking=True)
            y = batch["Y"].to(device, non_blocking=True)
            if cfg.trainer.channels_last:
                x, y = x.contiguous(memory_format=torch.channels_last), y.contiguous(memory_format=torch.channels_last)
            lr = model.learning_rate()  # the rate this step uses (the step advances the schedule)
            losses = model.train_step(x, y)
            bad = [k for k, v in losses.items() if not math.isfinite(v)]
            if bad:
                write_status(run_dir, "failed", iteration=iteration,
                             error=f"non-finite {', '.join(bad)} at iteration {iteration}")
                raise NonFiniteLossError(f"non-finite loss ({', '.join(bad)}) at iteration {iteration} "
                                         f"of {run_dir}; the last good checkpoint is kept")
            iteration += 1
            now = time.perf_counter()
            it_per_s, tick = 1.0 / max(now - tick, 1e-9), now
            if iteration % int(cfg.trainer.log_every) == 0:
                log.write({"iteration": iteration - 1, **losses, "lr": lr,
                           "it_per_s": round(it_per_s, 3)})
            bar.update(1)
            bar.set_postfix({k.removeprefix("loss_"): f"{v:.3f}" for k, v in losses.items()
                             if k != "loss_G_total"}, refresh=False)
            if iteration % int(cfg.trainer.sample_every) == 0 or iteration == total:
                save_sample_grid(model, sample_x, sample_y, run_dir / "samples" / f"iter_{iteration:07d}.png")
            if iteration % int(cfg.trainer.checkpoint_every) == 0 or iteration in (end, total):
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

    return OmegaConf.to_yaml(OmegaConf.create(config))


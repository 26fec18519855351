"""Training the segmentation evaluator (evaluation/segmenter.py holds the network, its config
and loading): from scratch, once per dataset and config hash, resumable and exact.

Design points:
* Cached by `SegmenterConfig.hash`: training again with the same settings returns the existing
  file at once; another hash in the same folder is retrained.
* Resumable and exact: batch order and augmentation are functions of (seed, iteration), not
  of RNG state carried from earlier steps, so a run killed after a checkpoint and restarted
  gives bit-identical weights on CPU.
* Augmentation runs in the main process on whole batches, so `num_workers` changes speed but
  never results (and is left out of the hash).
"""
from __future__ import annotations

import csv
import json
import os
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import DataLoader, Dataset, Sampler
from tqdm.auto import tqdm

from evaluation.labels import IGNORE_INDEX, NUM_CLASSES
from evaluation.segmenter import (
    CHECKPOINT_NAME,
    EVALUATOR_FORMAT_VERSION,
    FINAL_NAME,
    LOG_NAME,
    Segmenter,
    SegmenterConfig,
    build_segmentation_network,
    score_segmenter,
)


class _BatchSchedule(Sampler[list[int]]):
    """Batches for iterations [start, stop): epoch e is a permutation seeded by (seed, e), so
    the batch of any iteration is known without replaying the ones before it (exact resume)."""

    def __init__(self, n: int, batch_size: int, seed: int, start: int, stop: int):
        self.n, self.batch_size, self.seed, self.start, self.stop = n, batch_size, seed, start, stop
        self.per_epoch = max(1, n // batch_size)

    def __len__(self) -> int:
        return self.stop - self.start

    def __iter__(self) -> Iterator[list[int]]:
        epoch, perm = -1, None
        for it in range(self.start, self.stop):
            e, k = divmod(it, self.per_epoch)
            if e != epoch:
                epoch = e
                perm = torch.randperm(self.n, generator=torch.Generator().manual_seed(_mix(self.seed, e)))
            yield perm[k * self.batch_size:(k + 1) * self.batch_size].tolist()


def _mix(seed: int, step: int) -> int:
    return (int(seed) * 1_000_003 + int(step)) % (2 ** 63)


def _augment(images: torch.Tensor, targets: torch.Tensor, cfg: SegmenterConfig) -> tuple[torch.Tensor, torch.Tensor]:
    """Random rescale + crop/pad and horizontal flip, per sample, from the global RNG (seeded
    per iteration by the caller)."""
    r = cfg.resolution
    out_x, out_y = [], []
    for x, y in zip(images, targets):
        s = float(torch.empty(()).uniform_(cfg.scale_min, cfg.scale_max)) if cfg.scale_max > cfg.scale_min \
            else cfg.scale_min
        size = max(1, round(r * s))
        if size != r:
            x = F.interpolate(x[None], size=(size, size), mode="bilinear", align_corners=False)[0]
            y = F.interpolate(y[None, None].float(), size=(size, size), mode="nearest")[0, 0].long()
        if size > r:
            i, j = (int(v) for v in torch.randint(0, size - r + 1, (2,)))
            x, y = x[:, i:i + r, j:j + r], y[i:i + r, j:j + r]
        elif size < r:
            i, j = (int(v) for v in torch.randint(0, r - size + 1, (2,)))
            x = F.pad(x, (j, r - size - j, i, r - size - i), value=0.0)
            y = F.pad(y, (j, r - size - j, i, r - size - i), value=IGNORE_INDEX)
        if cfg.flip and bool(torch.rand(()) < 0.5):
            x, y = x.flip(-1), y.flip(-1)
        out_x.append(x)
        out_y.append(y)
    return torch.stack(out_x), torch.stack(out_y)


def _class_weights(dataset: Dataset, num_classes: int, max_samples: int = 256) -> torch.Tensor:
    """ENet weights 1 / ln(1.02 + class frequency) from up to `max_samples` evenly spaced targets."""
    n = len(dataset)
    idx = sorted({int(i * n / min(n, max_samples)) for i in range(min(n, max_samples))})
    counts = torch.zeros(num_classes, dtype=torch.float64)
    for i in idx:
        t = torch.as_tensor(dataset[i][1]).long().flatten()
        t = t[t != IGNORE_INDEX]
        counts += torch.bincount(t, minlength=num_classes)[:num_classes].double()
    freq = counts / counts.sum().clamp(min=1)
    return (1.0 / torch.log(1.02 + freq)).float()


@torch.no_grad()
def _precise_bn(model: nn.Module, batches: Any, device: torch.device) -> None:
    """Replace BatchNorm running statistics by their average over `batches` (plain images).

    The running statistics are an exponential average over the last ~10 steps, taken while
    the weights were still moving; short trainings then predict badly in eval mode. Averaging
    over fixed weights ("precise BN") removes that lag for a few forward passes.
    """
    bns = [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    if not bns:
        return
    momenta = [bn.momentum for bn in bns]
    for bn in bns:
        bn.reset_running_stats()
        bn.momentum = None  # cumulative average
    model.train()
    for images, _ in batches:
        model(images.float().to(device))
    for bn, m in zip(bns, momenta):
        bn.momentum = m
    model.eval()


def _atomic_save(obj: Any, path: Path) -> None:
    tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
    torch.save(obj, tmp)
    os.replace(tmp, path)


def _write_log(rows: list[tuple[int, float, float]], path: Path) -> None:
    tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
    with open(tmp, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["iteration", "loss", "lr"])
        w.writerows(rows)
    os.replace(tmp, path)


def _check_batch(images: torch.Tensor, targets: torch.Tensor, r: int) -> None:
    if images.ndim != 4 or images.shape[1:] != (3, r, r):
        raise ValueError(f"train_set must yield 3x{r}x{r} images (the evaluation resolution), got "
                         f"{tuple(images.shape[1:])}")
    if targets.shape != (images.shape[0], r, r):
        raise ValueError(f"train_set must yield {r}x{r} int64 trainId targets, got {tuple(targets.shape[1:])}")


@dataclass
class _Run:
    """One training of the evaluator: the network, its optimizer and where it stands."""

    model: nn.Module
    opt: torch.optim.Optimizer
    digest: str
    out: Path
    device: torch.device
    start: int = 0
    log_rows: list = field(default_factory=list)
    seconds: float = 0.0

    def save_checkpoint(self, it: int) -> None:
        _atomic_save({"hash": self.digest, "iteration": it, "model": self.model.state_dict(),
                      "optimizer": self.opt.state_dict(), "log": self.log_rows,
                      "seconds": self.seconds}, self.out / CHECKPOINT_NAME)
        _write_log(self.log_rows, self.out / LOG_NAME)


def _already_trained(final_path: Path, digest: str) -> bool:
    """True when `final_path` holds the evaluator of this hash (another one is retrained)."""
    if not final_path.is_file():
        return False
    try:
        done = torch.load(final_path, map_location="cpu", weights_only=True)
    except Exception:
        done = {}
    if done.get("hash") == digest:
        return True
    print(f"{final_path} holds another evaluator (hash {done.get('hash')}, wanted {digest}): retraining")
    return False


def _optimizer(model: nn.Module, cfg: SegmenterConfig) -> torch.optim.Optimizer:
    if cfg.optimizer == "adamw":
        # fused: one kernel for all ~200 parameter tensors instead of a Python loop
        return torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay, fused=True)
    return torch.optim.SGD(model.parameters(), lr=cfg.lr, momentum=0.9, weight_decay=cfg.weight_decay,
                           fused=True)


def _resume(run: _Run, cfg: SegmenterConfig, dataset_name: str) -> None:
    """Continue from `segmenter.ckpt` when its hash matches; a torn one is ignored."""
    ckpt_path = run.out / CHECKPOINT_NAME
    if not ckpt_path.is_file():
        return
    try:
        ck = torch.load(ckpt_path, map_location=run.device, weights_only=True)
    except Exception as exc:  # torn by a kill: start over rather than strand the evaluator
        print(f"warning: {ckpt_path} is unreadable ({type(exc).__name__}); training the "
              "evaluator from the start", file=sys.stderr, flush=True)
        ck = {}
    if ck.get("hash") == run.digest:
        run.model.load_state_dict(ck["model"])
        run.opt.load_state_dict(ck["optimizer"])
        run.start, run.log_rows, run.seconds = int(ck["iteration"]), [tuple(r) for r in ck["log"]], ck["seconds"]
        print(f"resuming segmenter training for {dataset_name} at iteration {run.start}/{cfg.iterations}")


def _step(run: _Run, cfg: SegmenterConfig, it: int, images: torch.Tensor, targets: torch.Tensor,
          weight: torch.Tensor | None) -> float:
    """One optimizer step at iteration `it` (augmentation seeded by it); returns the loss."""
    torch.manual_seed(_mix(cfg.seed, it))
    images, targets = _augment(images.float(), targets.long(), cfg)
    lr = cfg.lr * (1.0 - it / cfg.iterations) ** 0.9
    for group in run.opt.param_groups:
        group["lr"] = lr
    logits = run.model(images.to(run.device))["out"]
    loss = F.cross_entropy(logits, targets.to(run.device), weight=weight, ignore_index=IGNORE_INDEX)
    if not torch.isfinite(loss):
        raise RuntimeError(f"segmenter loss became {loss.item()} at iteration {it}: "
                           f"lower evaluation.segmenter.lr (now {cfg.lr})")
    run.opt.zero_grad(set_to_none=True)
    loss.backward()
    run.opt.step()
    run.log_rows.append((it + 1, round(loss.item(), 5), lr))
    return loss.item()


def _fit(run: _Run, cfg: SegmenterConfig, train_set: Dataset, dataset_name: str, progress: bool) -> None:
    """Iterations [run.start, cfg.iterations), checkpointed, then the precise-BN pass."""
    weight = None
    if cfg.class_weighting == "inverse_log":
        weight = _class_weights(train_set, NUM_CLASSES).to(run.device)
    loader = DataLoader(train_set, num_workers=cfg.num_workers,
                        batch_sampler=_BatchSchedule(len(train_set), cfg.batch_size, cfg.seed,
                                                     run.start, cfg.iterations))
    run.model.train()
    bar = tqdm(total=cfg.iterations, initial=run.start, disable=not progress,
               desc=f"segmenter [{dataset_name}]", dynamic_ncols=True)
    tick = time.perf_counter()
    for it, (images, targets) in zip(range(run.start, cfg.iterations), loader):
        if it == run.start:
            _check_batch(images, targets, cfg.resolution)
        loss = _step(run, cfg, it, images, targets, weight)
        bar.update(1)
        bar.set_postfix(loss=f"{loss:.3f}")
        if (it + 1) % cfg.checkpoint_every == 0 and it + 1 < cfg.iterations:
            run.seconds += time.perf_counter() - tick
            tick = time.perf_counter()
            run.save_checkpoint(it + 1)
    bar.close()
    if cfg.precise_bn_batches:
        # batches that continue the schedule, without augmentation: the statistics of the
        # images the evaluator will see
        _precise_bn(run.model, DataLoader(train_set, num_workers=cfg.num_workers, batch_sampler=_BatchSchedule(
            len(train_set), cfg.batch_size, cfg.seed, cfg.iterations, cfg.iterations + cfg.precise_bn_batches)),
            run.device)
    run.seconds += time.perf_counter() - tick


def _save_result(run: _Run, cfg: SegmenterConfig, dataset_name: str, val_set: Dataset | None,
                 progress: bool) -> Path:
    """Score the val photos (if given), write segmenter.pt and the log, drop the checkpoint."""
    result = {
        "state_dict": run.model.state_dict(), "config": cfg.to_dict(), "dataset_name": dataset_name,
        "resolution": cfg.resolution, "num_classes": NUM_CLASSES, "hash": run.digest,
        "format_version": EVALUATOR_FORMAT_VERSION, "torch_version": str(torch.__version__),
        "train_seconds": round(run.seconds, 1),
    }
    if val_set is not None:
        seg = Segmenter(run.model, resolution=cfg.resolution, num_classes=NUM_CLASSES,
                        dataset_name=dataset_name, device=run.device)
        scores = score_segmenter(seg, val_set, batch_size=max(cfg.batch_size, 16), progress=progress).scores()
        result["val_scores"] = scores
        tmp = run.out / f"val_scores.json.{os.getpid()}.tmp"
        tmp.write_text(json.dumps(scores, indent=2, allow_nan=False))
        os.replace(tmp, run.out / "val_scores.json")
    _write_log(run.log_rows, run.out / LOG_NAME)
    final_path = run.out / FINAL_NAME
    _atomic_save(result, final_path)
    (run.out / CHECKPOINT_NAME).unlink(missing_ok=True)
    return final_path


def train_segmenter(cfg: SegmenterConfig, train_set: Dataset, *, dataset_name: str,
                    out_dir: str | os.PathLike, val_set: Dataset | None = None, progress: bool = True,
                    device: str | torch.device = "cpu") -> Path:
    """Train (or resume, or reuse) the evaluator; returns the path of `segmenter.pt`.

    `out_dir/segmenter.pt` with the same hash is returned at once. Otherwise training resumes
    from `out_dir/segmenter.ckpt` when its hash matches, else starts from scratch.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    digest = cfg.hash(dataset_name)
    if _already_trained(out / FINAL_NAME, digest):
        return out / FINAL_NAME
    if len(train_set) == 0:
        raise ValueError(f"train_set for {dataset_name} is empty: nothing to train the segmenter on")

    device = torch.device(device)
    # The caller's RNG is left as it was: all seeding happens inside fork_rng.
    with torch.random.fork_rng(devices=[device] if device.type == "cuda" else []):
        torch.manual_seed(cfg.seed)
        model = build_segmentation_network(cfg.arch, NUM_CLASSES).to(device)
        run = _Run(model, _optimizer(model, cfg), digest, out, device)
        _resume(run, cfg, dataset_name)
        _fit(run, cfg, train_set, dataset_name, progress)
    return _save_result(run, cfg, dataset_name, val_set, progress)

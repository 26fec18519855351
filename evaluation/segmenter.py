"""The segmentation evaluator behind the labels->photo "FCN score".

The paper scores generated photos with pix2pix's Caffe FCN-8s, which no longer runs. The suite
instead trains a torchvision segmentation network from scratch (weights=None,
weights_backbone=None: nothing is downloaded) on the dataset's real training photos, at the
evaluation resolution, once per dataset; every run then shares it. Its score on the real val
photos is the "real photos" row that bounds what a generator can reach.

Design points:
* Data-agnostic: the caller passes datasets yielding (image 3xHxW in [-1, 1], int64 HxW
  trainIds with 255 = ignore). Nothing here knows about file layouts.
* Cached by a hash of the config + dataset name + `EVALUATOR_FORMAT_VERSION`: training again
  with the same settings returns the existing file at once.
* Resumable and exact: batch order and augmentation are functions of (seed, iteration), not
  of RNG state carried from earlier steps, so a run killed after a checkpoint and restarted
  gives bit-identical weights on CPU.
* Augmentation runs in the main process on whole batches, so `num_workers` changes speed but
  never results (and is left out of the hash).

Why LR-ASPP MobileNetV3-Large by default: on the project's 2-core CPU (shared, load 4-7) a
train step at 128x128, batch 8, ran 2.4 img/s against 1.4 for DeepLabV3-MobileNetV3 and 0.4
for FCN-ResNet50 (2 threads; with 1 thread LR-ASPP 3-7 img/s, DeepLabV3 1.8), and 1000
iterations of it (~2.7 epochs of the 2975 Cityscapes photos) already score the real val photos
at 0.80 / 0.30 / 0.23 (per-pixel / per-class / IoU), above the 0.80 / 0.26 / 0.21 of
pix2pix's FCN-8s. Use one torch thread on a shared CPU: two OpenMP threads competing with other
jobs ran several times slower.
"""
from __future__ import annotations

import csv
import hashlib
import json
import os
import sys
import time
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any, Callable, Iterator

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import DataLoader, Dataset, Sampler
from torchvision.models import segmentation as tv_seg
from tqdm.auto import tqdm

from evaluation.labels import IGNORE_INDEX, NUM_CLASSES
from evaluation.metrics import ConfusionMatrix

#: Bump when the meaning of a saved evaluator changes (training recipe, input scaling, ...):
#: every cached evaluator is then retrained instead of silently reused.
EVALUATOR_FORMAT_VERSION = 1
FINAL_NAME = "segmenter.pt"
CHECKPOINT_NAME = "segmenter.ckpt"
LOG_NAME = "train_log.csv"

#: name -> builder(num_classes). All from torchvision, all from scratch.
ARCHITECTURES: dict[str, Callable[[int], nn.Module]] = {
    "lraspp_mobilenet_v3_large": lambda n: tv_seg.lraspp_mobilenet_v3_large(
        weights=None, weights_backbone=None, num_classes=n),
    "deeplabv3_mobilenet_v3_large": lambda n: tv_seg.deeplabv3_mobilenet_v3_large(
        weights=None, weights_backbone=None, num_classes=n, aux_loss=False),
    "fcn_resnet50": lambda n: tv_seg.fcn_resnet50(
        weights=None, weights_backbone=None, num_classes=n, aux_loss=False),
}
CLASS_WEIGHTINGS = ("none", "inverse_log")
OPTIMIZERS = ("adamw", "sgd")


@dataclass
class SegmenterConfig:
    """How the evaluator is trained. Defaults are the measured CPU choice at 128x128."""

    arch: str = "lraspp_mobilenet_v3_large"
    resolution: int = 128
    iterations: int = 1000
    batch_size: int = 8
    optimizer: str = "adamw"          # "adamw" or "sgd" (momentum 0.9); both with poly decay
    lr: float = 2e-3
    weight_decay: float = 1e-4
    class_weighting: str = "none"     # "none" or "inverse_log" (ENet: 1 / ln(1.02 + freq))
    flip: bool = True                 # random horizontal flip
    scale_min: float = 1.0            # random rescale in [scale_min, scale_max], then crop/pad
    scale_max: float = 1.25
    precise_bn_batches: int = 50      # re-estimate BatchNorm statistics on this many batches at the end
    seed: int = 0
    num_workers: int = 0              # data loading only: not part of the hash
    checkpoint_every: int = 200       # iterations between resumable checkpoints: not hashed

    _UNHASHED = ("num_workers", "checkpoint_every")

    def __post_init__(self) -> None:
        problems = []
        if self.arch not in ARCHITECTURES:
            problems.append(f"arch={self.arch!r} (choose one of {sorted(ARCHITECTURES)})")
        if self.optimizer not in OPTIMIZERS:
            problems.append(f"optimizer={self.optimizer!r} (choose one of {OPTIMIZERS})")
        if self.class_weighting not in CLASS_WEIGHTINGS:
            problems.append(f"class_weighting={self.class_weighting!r} (choose one of {CLASS_WEIGHTINGS})")
        for name in ("resolution", "iterations", "batch_size", "checkpoint_every"):
            if int(getattr(self, name)) < 1:
                problems.append(f"{name}={getattr(self, name)} (must be >= 1)")
        if self.precise_bn_batches < 0:
            problems.append(f"precise_bn_batches={self.precise_bn_batches} (must be >= 0)")
        if not 0 < self.scale_min <= self.scale_max:
            problems.append(f"scale_min={self.scale_min}, scale_max={self.scale_max} (need 0 < min <= max)")
        if self.lr <= 0:
            problems.append(f"lr={self.lr} (must be > 0)")
        if problems:
            raise ValueError("bad evaluation.segmenter setting: " + "; ".join(problems))

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "SegmenterConfig":
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in d.items() if k in known})

    def hash(self, dataset_name: str) -> str:
        """Stable 12-hex-digit identity of what this config would train on `dataset_name`."""
        hashed = {k: v for k, v in asdict(self).items() if k not in self._UNHASHED}
        payload = json.dumps({"config": hashed, "dataset": dataset_name,
                              "format": EVALUATOR_FORMAT_VERSION}, sort_keys=True)
        return hashlib.sha256(payload.encode()).hexdigest()[:12]


def build_model(arch: str, num_classes: int = NUM_CLASSES) -> nn.Module:
    if arch not in ARCHITECTURES:
        raise ValueError(f"unknown segmenter arch {arch!r}; choose one of {sorted(ARCHITECTURES)}")
    return ARCHITECTURES[arch](num_classes)


class Segmenter:
    """A trained evaluator: images in [-1, 1] -> trainIds, at one fixed resolution."""

    def __init__(self, model: nn.Module, *, resolution: int, num_classes: int, dataset_name: str,
                 device: str | torch.device = "cpu", meta: dict | None = None):
        self.device = torch.device(device)
        self.model = model.to(self.device).eval()
        self.resolution = int(resolution)
        self.num_classes = int(num_classes)
        self.dataset_name = dataset_name
        self.meta = meta or {}

    @torch.no_grad()
    def predict(self, images: torch.Tensor) -> torch.Tensor:
        """(B, 3, R, R) float in [-1, 1] -> (B, R, R) int64 trainIds, on the input's device."""
        r = self.resolution
        if not torch.is_tensor(images) or images.ndim != 4 or images.shape[1] != 3:
            raise ValueError(f"segmenter expects a (B, 3, {r}, {r}) tensor, got "
                             f"{tuple(images.shape) if torch.is_tensor(images) else type(images).__name__}")
        if tuple(images.shape[2:]) != (r, r):
            raise ValueError(f"segmenter for {self.dataset_name} was trained at {r}x{r}; expected images of "
                             f"size ({r}, {r}), got {tuple(images.shape[2:])}: resize them to the evaluation "
                             "resolution first")
        if not images.is_floating_point():
            raise ValueError(f"segmenter expects float images in [-1, 1], got dtype {images.dtype}")
        self.model.eval()
        logits = self.model(images.to(self.device, non_blocking=True))["out"]
        return logits.argmax(dim=1).to(images.device)

    __call__ = predict


def load_segmenter(path: str | os.PathLike | None, *, dataset_name: str, resolution: int,
                   device: str | torch.device = "cpu") -> Segmenter:
    """Load a trained evaluator, refusing one made for another dataset or resolution."""
    if path is None or not Path(path).is_file():
        raise FileNotFoundError(
            f"no segmentation evaluator at {path}: train it with `benchmark evaluator train {dataset_name}` "
            f"or point evaluation.segmenter.checkpoint= at a trained {FINAL_NAME}")
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # pickle/zip errors have many types; the message is what matters
        first_line = (str(exc).strip().splitlines() or [""])[0][:200]
        raise RuntimeError(f"{path} is not a readable segmenter checkpoint ({type(exc).__name__}: {first_line}); "
                           f"retrain it with `benchmark evaluator train {dataset_name}`") from exc
    missing = {"state_dict", "config", "dataset_name", "resolution", "num_classes"} - set(ckpt)
    if missing:
        raise RuntimeError(f"{path} is not a segmenter checkpoint (missing {sorted(missing)})")
    if ckpt["dataset_name"] != dataset_name:
        raise ValueError(f"{path} is a segmenter for dataset {ckpt['dataset_name']!r}, not {dataset_name!r}: "
                         f"train one with `benchmark evaluator train {dataset_name}`")
    if int(ckpt["resolution"]) != int(resolution):
        raise ValueError(f"{path} was trained at {ckpt['resolution']}x{ckpt['resolution']}, but evaluation runs at "
                         f"{resolution}x{resolution}: train one with `benchmark evaluator train {dataset_name}` "
                         "at that resolution")
    cfg = SegmenterConfig.from_dict(ckpt["config"])
    model = build_model(cfg.arch, int(ckpt["num_classes"]))
    model.load_state_dict(ckpt["state_dict"])
    meta = {k: v for k, v in ckpt.items() if k != "state_dict"}
    return Segmenter(model, resolution=int(ckpt["resolution"]), num_classes=int(ckpt["num_classes"]),
                     dataset_name=dataset_name, device=device, meta=meta)


def usable_segmenter_file(path: str | os.PathLike) -> bool:
    """True when `path` holds a loadable evaluator; a corrupt one is named, moved aside, False.

    Why: a torn or overwritten segmenter.pt used to be returned as "cached" for ever, so the
    advice to retrain it ran nothing. Loading it (tens of milliseconds) is the check; the bad
    file is kept as `segmenter.pt.corrupt` for inspection and the caller trains a new one.
    """
    path = Path(path)
    if not path.is_file():
        return False
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
        problem = None if isinstance(ckpt, dict) and "state_dict" in ckpt else "not a segmenter checkpoint"
    except Exception as exc:  # pickle/zip errors have many types; the message is what matters
        problem = f"{type(exc).__name__}: {(str(exc).strip().splitlines() or [''])[0][:120]}"
    if problem is None:
        return True
    aside = path.with_name(path.name + ".corrupt")
    os.replace(path, aside)
    print(f"warning: the cached evaluator {path} is corrupt ({problem}); moved to {aside.name}, "
          "training a new one", file=sys.stderr, flush=True)
    return False


def score_segmenter(segmenter: Segmenter, dataset: Dataset, batch_size: int = 16, *,
                    num_workers: int = 0, progress: bool = False) -> ConfusionMatrix:
    """Run the evaluator over (image, target) pairs and sum one confusion matrix."""
    cm = ConfusionMatrix(num_classes=segmenter.num_classes)
    loader = DataLoader(dataset, batch_size=batch_size, shuffle=False, num_workers=num_workers)
    for images, targets in tqdm(loader, disable=not progress, desc="segmenting", leave=False):
        cm.update(targets, segmenter.predict(images))
    return cm


# --------------------------------------------------------------------------- training

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


def train_segmenter(cfg: SegmenterConfig, train_set: Dataset, *, dataset_name: str,
                    out_dir: str | os.PathLike, val_set: Dataset | None = None, progress: bool = True,
                    device: str | torch.device = "cpu") -> Path:
    """Train (or resume, or reuse) the evaluator; returns the path of `segmenter.pt`.

    `out_dir/segmenter.pt` with the same hash is returned at once. Otherwise training resumes
    from `out_dir/segmenter.ckpt` when its hash matches, else starts from scratch.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    final_path, ckpt_path, log_path = out / FINAL_NAME, out / CHECKPOINT_NAME, out / LOG_NAME
    digest = cfg.hash(dataset_name)
    if final_path.is_file():
        try:
            done = torch.load(final_path, map_location="cpu", weights_only=True)
        except Exception:
            done = {}
        if done.get("hash") == digest:
            return final_path
        print(f"{final_path} holds another evaluator (hash {done.get('hash')}, wanted {digest}): retraining")
    if len(train_set) == 0:
        raise ValueError(f"train_set for {dataset_name} is empty: nothing to train the segmenter on")

    device = torch.device(device)
    # The caller's RNG is left as it was: all seeding happens inside fork_rng.
    with torch.random.fork_rng(devices=[device] if device.type == "cuda" else []):
        torch.manual_seed(cfg.seed)
        model = build_model(cfg.arch, NUM_CLASSES).to(device)
        if cfg.optimizer == "adamw":
            # fused: one kernel for all ~200 parameter tensors instead of a Python loop
            opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay, fused=True)
        else:
            opt = torch.optim.SGD(model.parameters(), lr=cfg.lr, momentum=0.9, weight_decay=cfg.weight_decay,
                                  fused=True)
        start, log_rows, seconds = 0, [], 0.0
        if ckpt_path.is_file():
            try:
                ck = torch.load(ckpt_path, map_location=device, weights_only=True)
            except Exception as exc:  # torn by a kill: start over rather than strand the evaluator
                print(f"warning: {ckpt_path} is unreadable ({type(exc).__name__}); training the "
                      "evaluator from the start", file=sys.stderr, flush=True)
                ck = {}
            if ck.get("hash") == digest:
                model.load_state_dict(ck["model"])
                opt.load_state_dict(ck["optimizer"])
                start, log_rows, seconds = int(ck["iteration"]), [tuple(r) for r in ck["log"]], ck["seconds"]
                print(f"resuming segmenter training for {dataset_name} at iteration {start}/{cfg.iterations}")
        weight = None
        if cfg.class_weighting == "inverse_log":
            weight = _class_weights(train_set, NUM_CLASSES).to(device)

        def save_checkpoint(it: int) -> None:
            _atomic_save({"hash": digest, "iteration": it, "model": model.state_dict(),
                          "optimizer": opt.state_dict(), "log": log_rows, "seconds": seconds}, ckpt_path)
            _write_log(log_rows, log_path)

        loader = DataLoader(train_set, num_workers=cfg.num_workers,
                            batch_sampler=_BatchSchedule(len(train_set), cfg.batch_size, cfg.seed,
                                                         start, cfg.iterations))
        model.train()
        bar = tqdm(total=cfg.iterations, initial=start, disable=not progress,
                   desc=f"segmenter [{dataset_name}]", dynamic_ncols=True)
        tick = time.perf_counter()
        for it, (images, targets) in zip(range(start, cfg.iterations), loader):
            if it == start:
                _check_batch(images, targets, cfg.resolution)
            torch.manual_seed(_mix(cfg.seed, it))
            images, targets = _augment(images.float(), targets.long(), cfg)
            lr = cfg.lr * (1.0 - it / cfg.iterations) ** 0.9
            for group in opt.param_groups:
                group["lr"] = lr
            logits = model(images.to(device))["out"]
            loss = F.cross_entropy(logits, targets.to(device), weight=weight, ignore_index=IGNORE_INDEX)
            if not torch.isfinite(loss):
                raise RuntimeError(f"segmenter loss became {loss.item()} at iteration {it}: "
                                   f"lower evaluation.segmenter.lr (now {cfg.lr})")
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            log_rows.append((it + 1, round(loss.item(), 5), lr))
            bar.update(1)
            bar.set_postfix(loss=f"{loss.item():.3f}")
            if (it + 1) % cfg.checkpoint_every == 0 and it + 1 < cfg.iterations:
                seconds += time.perf_counter() - tick
                tick = time.perf_counter()
                save_checkpoint(it + 1)
        bar.close()
        if cfg.precise_bn_batches:
            # batches that continue the schedule, without augmentation: the statistics of the
            # images the evaluator will see
            _precise_bn(model, DataLoader(train_set, num_workers=cfg.num_workers, batch_sampler=_BatchSchedule(
                len(train_set), cfg.batch_size, cfg.seed, cfg.iterations, cfg.iterations + cfg.precise_bn_batches)),
                device)
        seconds += time.perf_counter() - tick

    result = {
        "state_dict": model.state_dict(), "config": cfg.to_dict(), "dataset_name": dataset_name,
        "resolution": cfg.resolution, "num_classes": NUM_CLASSES, "hash": digest,
        "format_version": EVALUATOR_FORMAT_VERSION, "torch_version": str(torch.__version__),
        "train_seconds": round(seconds, 1),
    }
    if val_set is not None:
        seg = Segmenter(model, resolution=cfg.resolution, num_classes=NUM_CLASSES,
                        dataset_name=dataset_name, device=device)
        scores = score_segmenter(seg, val_set, batch_size=max(cfg.batch_size, 16), progress=progress).scores()
        result["val_scores"] = scores
        tmp = out / f"val_scores.json.{os.getpid()}.tmp"
        tmp.write_text(json.dumps(scores, indent=2, allow_nan=False))
        os.replace(tmp, out / "val_scores.json")
    _write_log(log_rows, log_path)
    _atomic_save(result, final_path)
    ckpt_path.unlink(missing_ok=True)
    return final_path

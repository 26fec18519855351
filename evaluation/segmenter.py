"""The segmentation evaluator behind the labels->photo "FCN score".

The paper scores generated photos with pix2pix's Caffe FCN-8s, which no longer runs. The suite
instead trains a torchvision segmentation network from scratch (weights=None,
weights_backbone=None: nothing is downloaded) on the dataset's real training photos, at the
evaluation resolution, once per dataset; every run then shares it. Its score on the real val
photos is the "real photos" row that bounds what a generator can reach.

This module holds the network (`build_segmentation_network`), its training settings and their
hash (`SegmenterConfig`), and loading, checking and running a trained one; the training itself
is evaluation/segmenter_training.py (`train_segmenter`).

Design points:
* Data-agnostic: the caller passes datasets yielding (image 3xHxW in [-1, 1], int64 HxW
  trainIds with 255 = ignore). Nothing here knows about file layouts.
* Identified by a hash of the config + dataset name + `EVALUATOR_FORMAT_VERSION`: training
  again with the same settings returns the existing file at once.

Why LR-ASPP MobileNetV3-Large by default: on the project's 2-core CPU (shared, load 4-7) a
train step at 128x128, batch 8, ran 2.4 img/s against 1.4 for DeepLabV3-MobileNetV3 and 0.4
for FCN-ResNet50 (2 threads; with 1 thread LR-ASPP 3-7 img/s, DeepLabV3 1.8), and 1000
iterations of it (~2.7 epochs of the 2975 Cityscapes photos) already score the real val photos
at 0.80 / 0.30 / 0.23 (per-pixel / per-class / IoU), above the 0.80 / 0.26 / 0.21 of
pix2pix's FCN-8s. Use one torch thread on a shared CPU: two OpenMP threads competing with other
jobs ran several times slower.
"""
from __future__ import annotations

import hashlib
import json
import os
import sys
from collections.abc import Callable
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset
from torchvision.models import segmentation as tv_seg
from tqdm.auto import tqdm

from evaluation.labels import NUM_CLASSES
from evaluation.metrics import ConfusionMatrix

#: Bump when the meaning of a saved evaluator changes (training recipe, input scaling, ...):
#: every cached evaluator is then retrained instead of silently reused.
EVALUATOR_FORMAT_VERSION = 1
FINAL_NAME = "segmenter.pt"
CHECKPOINT_NAME = "segmenter.ckpt"
LOG_NAME = "train_log.csv"

DEFAULT_ARCH = "lraspp_mobilenet_v3_large"
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

    arch: str = DEFAULT_ARCH
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
    def from_dict(cls, d: dict[str, Any]) -> SegmenterConfig:
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in d.items() if k in known})

    def hash(self, dataset_name: str) -> str:
        """Stable 12-hex-digit identity of what this config would train on `dataset_name`."""
        hashed = {k: v for k, v in asdict(self).items() if k not in self._UNHASHED}
        payload = json.dumps({"config": hashed, "dataset": dataset_name,
                              "format": EVALUATOR_FORMAT_VERSION}, sort_keys=True)
        return hashlib.sha256(payload.encode()).hexdigest()[:12]


def build_segmentation_network(arch: str = DEFAULT_ARCH, num_classes: int = NUM_CLASSES) -> nn.Module:
    """The bare network `arch` (untrained, nothing downloaded) with `num_classes` outputs: maps
    (B, 3, H, W) to {"out": (B, num_classes, H, W) logits}."""
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
    model = build_segmentation_network(cfg.arch, int(ckpt["num_classes"]))
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

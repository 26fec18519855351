"""How a run is scored, read from its config once: `EvaluationSettings`, its hash and its block.

`evaluation_settings(cfg)` reads every value of `evaluation.*` that scoring uses, with the
documented defaults filled in and the snapping rule checked; the scoring functions take this
value (or its `fid` part) instead of the config, so they all read the same numbers.

The evaluation hash says what makes two evaluations of the same weights comparable: a change
re-scores a run, never retrains it. It covers the config's `evaluation` section as written (every
key, also one this code does not read), less what changes speed but never scores
(`segmenter.num_workers`) or is only a place (`fid.weights_path`), plus:
* the FID network by the sha256 of the file that would be used now, or "unavailable"/"disabled":
  weights supplied after an offline evaluation re-score it on the next run. That identity is a
  fact about this machine at this moment, not about the config, so it is read each time a hash
  or a block is taken, never kept in the settings;
* the segmentation evaluator by its training settings' hash, unless a checkpoint is given.

The dataset's content fingerprint (benchmark/data/fingerprint.py) is not in the evaluation
hash (it is in the run's identity already), but it keys every cache made from the dataset's
images: the real folders FID/KID compare with and the evaluator trained on the real photos. It is
read from the folder the config names now, lazily, as the real images are.
"""
from __future__ import annotations

import copy
import hashlib
import json
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

from omegaconf import DictConfig, OmegaConf

from benchmark.config import directions_of
from benchmark.data.fingerprint import dataset_fingerprint
from evaluation import fid
from evaluation.labels import CLASS_NAMES, TRAIN19, check_snap_rule
from evaluation.segmenter import SegmenterConfig

EVALUATION_FORMAT = 2  # 2: FID weights' sha256 and the snapping rule enter the hash


@dataclass(frozen=True)
class FidSettings:
    """`evaluation.fid`: enabled, feature_extractor, weights_path (null: torch hub's cache,
    torch-fidelity's download, else the registry package, converted once:
    evaluation/inception_weights.py), kid_subset_size (default 100: at most half the set, so
    kid_std is a real spread; see evaluation/fid.py), kid_subsets (default 100)."""

    enabled: bool
    feature_extractor: str
    weights_path: str | None
    kid_subset_size: int
    kid_subsets: int
    cache_dir: Path  # the real sets' features, kept between runs

    def weights_identity(self) -> str:
        """What enters the evaluation hash for the FID network now: its sha256, or why there is none."""
        if not self.enabled:
            return "disabled"
        if self.feature_extractor == fid.INCEPTION_EXTRACTOR:
            return fid.weights_identity(self.weights_path)
        return fid.iw.weights_sha256(Path(self.weights_path)) if self.weights_path else fid.UNAVAILABLE


@dataclass(frozen=True)
class EvaluationSettings:
    """Everything scoring reads from a run's config (module docstring)."""

    dataset: str
    x_domain: str
    directions: dict[str, str]  # {"X2Y": name, "Y2X": name}: benchmark.config.directions_of
    train_split: str
    test_split: str
    store_dir: Path
    resolution: int
    batch_size: int
    max_images: int | None
    snap_rule: str  # how generated label maps become classes (evaluation/labels.py)
    fid: FidSettings
    has_segmentation: bool  # the dataset has a label-map side, so labels->photo gets an FCN score
    evaluator_arch: str | None  # None without a label-map side
    segmenter_checkpoint: str | None  # a given evaluator file: none is trained
    section: dict = field(repr=False, compare=False)  # cfg.evaluation as written: what the hash reads
    dataset_cfg: dict = field(repr=False, compare=False)  # cfg.dataset, for its fingerprint

    @cached_property
    def dataset_fingerprint(self) -> str:
        """The content fingerprint of the dataset folder the config names now (module docstring)."""
        return dataset_fingerprint(self.dataset_cfg)

    @property
    def real_dir(self) -> Path:
        """Where this dataset's real images at the evaluation resolution are kept, per its contents."""
        return self.store_dir / "_real" / self.dataset / self.dataset_fingerprint

    @cached_property
    def segmenter(self) -> SegmenterConfig:
        """How the evaluator is trained (validated when first asked for, as it always was)."""
        settings = copy.deepcopy(self.section["segmenter"])
        settings.pop("checkpoint", None)
        return SegmenterConfig.from_dict({**settings, "resolution": self.resolution})

    @property
    def evaluator_dir(self) -> Path:
        """Where this dataset's evaluator (and the reference rows) live, per its training settings."""
        seg = self.segmenter
        return (self.store_dir / "_evaluators" / self.dataset
                / f"{seg.resolution}px-{seg.hash(self.dataset)}-{self.dataset_fingerprint}")

    def hash(self, weights: str | None = None) -> str:
        """The evaluation hash (module docstring), with the FID network's identity `weights`
        (read now when not given)."""
        hashed = copy.deepcopy(self.section)
        hashed["segmenter"].pop("num_workers", None)
        hashed["fid"].pop("weights_path", None)
        hashed["fid"]["weights"] = self.fid.weights_identity() if weights is None else weights
        hashed["fid"]["kid_subset_size"], hashed["fid"]["kid_subsets"] = self.fid.kid_subset_size, self.fid.kid_subsets
        hashed["snap_rule"] = self.snap_rule
        if self.has_segmentation and not self.segmenter_checkpoint:
            hashed["segmenter_hash"] = self.segmenter.hash(self.dataset)
        blob = json.dumps({"format": EVALUATION_FORMAT, **hashed}, sort_keys=True)
        return hashlib.sha256(blob.encode()).hexdigest()[:12]

    def block(self, segmenter, num_images: int) -> dict:
        """How the run was scored (metrics.json's "evaluation"), `segmenter` being the evaluator
        used or None. Taken after scoring, so `fid_weights_sha256` (and the hash) name the
        weights actually used, also when they were provisioned during this evaluation."""
        import torch_fidelity

        weights = self.fid.weights_identity()
        return {"evaluation_hash": self.hash(weights), "resolution": self.resolution, "num_images": num_images,
                "evaluator_hash": (segmenter.meta.get("hash") if segmenter is not None else None),
                "evaluator_arch": self.evaluator_arch,
                "torch_fidelity_version": torch_fidelity.__version__,
                "feature_extractor": self.fid.feature_extractor,
                "fid_weights_sha256": weights,
                "kid_subset_size": self.fid.kid_subset_size, "kid_subsets": self.fid.kid_subsets,
                "snap_rule": self.snap_rule,
                "x_domain": self.x_domain, "directions": dict(self.directions),
                "dataset_fingerprint": self.dataset_fingerprint,
                "class_names": list(CLASS_NAMES)}


def evaluation_settings(cfg: DictConfig) -> EvaluationSettings:
    """The settings `cfg` scores a run with. Cheap (no file is read until the dataset's
    fingerprint is first asked for), so each entry point builds its own and hands it down; the FID
    weights' identity is not in it (module docstring)."""
    ev, f = cfg.evaluation, cfg.evaluation.fid
    has_segmentation = cfg.dataset.get("label_domain") is not None
    max_images = ev.get("max_images")
    return EvaluationSettings(
        dataset=str(cfg.dataset.name), x_domain=cfg.dataset.x_domain, directions=directions_of(cfg),
        train_split=str(cfg.dataset.train_split), test_split=str(cfg.dataset.test_split),
        store_dir=Path(cfg.store_dir), resolution=int(ev.resolution), batch_size=int(ev.batch_size),
        max_images=None if max_images is None else int(max_images),
        snap_rule=check_snap_rule(str(ev.get("snap_rule", TRAIN19))),
        fid=FidSettings(enabled=bool(f.enabled), feature_extractor=f.feature_extractor, weights_path=f.weights_path,
                        kid_subset_size=int(f.get("kid_subset_size", fid.KID_SUBSET_SIZE)),
                        kid_subsets=int(f.get("kid_subsets", fid.KID_SUBSETS)),
                        cache_dir=Path(cfg.store_dir) / "_fid_cache"),
        has_segmentation=has_segmentation,
        evaluator_arch=ev.segmenter.arch if has_segmentation else None,
        segmenter_checkpoint=ev.segmenter.checkpoint,
        section=OmegaConf.to_container(ev, resolve=True),
        dataset_cfg=OmegaConf.to_container(cfg.dataset, resolve=True))


def evaluation_hash(cfg: DictConfig) -> str:
    """The evaluation hash of `cfg` with the FID weights there are now (module docstring)."""
    return evaluation_settings(cfg).hash()

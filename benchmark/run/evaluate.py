"""Scoring a run: translate the whole test split, then the paper's metrics per direction.

* X->Y or Y->X whose *target* is the label domain (photo->labels): the generated colour map is
  snapped to the palette and compared with the ground truth directly (docs/protocol.md 5.1).
* A direction whose *source* is the label domain (labels->photo): the suite's segmentation
  evaluator labels the generated photo and is compared with the input labels ("FCN score").
* FID/KID (torch-fidelity) for every generated photo domain against the real test images
  (benchmark/run/fid_scoring.py: the weights; real_images.py: the real folders). The sanity rows
  every table prints beside the models (ceiling, floors, identity) are benchmark/run/sanity.py.
One confusion matrix per direction over the whole test set. Generated images are written as
PNG, one per test input, under RUN_DIR/test/<direction>/, and are what gets scored: each
evaluation writes them into a new folder that replaces test/ whole once every direction is
scored, so a re-score (fewer images, another test set) never counts a previous one's images.

Before scoring, the dataset is checked against the content fingerprint recorded when the run
was trained: a moved dataset is named (pass dataset.root=), a changed one refused.

What is read from the config for scoring is read once, as `EvaluationSettings`
(benchmark/run/evaluation_settings.py, with the evaluation hash), and handed down.
"""
from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import torch
from omegaconf import DictConfig, OmegaConf
from PIL import Image
from torch.utils.data import DataLoader, Dataset
from tqdm import tqdm

from benchmark import atomic
from benchmark.data import open_domains
from benchmark.data.domains import Domain
from benchmark.data.fingerprint import ABSENT, dataset_fingerprint, dataset_root
from benchmark.data.iteration import TestDomain
from benchmark.data.transforms import test_transform, to_image
from benchmark.device import resolve_device
from benchmark.model_registry import build_model
from benchmark.run import fid_scoring
from benchmark.run.checkpoint import CHECKPOINT, load_latest
from benchmark.run.evaluation_settings import EvaluationSettings, evaluation_settings
from benchmark.run.evaluation_settings import evaluation_hash as evaluation_hash  # callers name it from here
from benchmark.run.per_image import METRICS_KEY as PER_IMAGE_KEY
from benchmark.run.per_image import write_per_image
from benchmark.run.real_images import real_image_folder
from benchmark.run.store import exclusive, read_run_config
from evaluation.labels import CLASS_NAMES, snap_to_palette
from evaluation.metrics import ConfusionMatrix
from evaluation.segmenter import FINAL_NAME, load_segmenter, usable_segmenter_file
from evaluation.segmenter_training import train_segmenter

#: A generated label map may be off-palette (that is the model's error, and is scored); this
#: distance only feeds the reported fraction of pixels far from every palette colour.
FAR_FROM_PALETTE = 60.0


class GeneratedImageError(ValueError):
    """A generated image that cannot be scored as it is (wrong size or mode)."""


class MissingFinalCheckpoint(FileNotFoundError):
    """The run has not finished training."""


class DatasetChangedError(ValueError):
    """The dataset a run names is not the one it was trained on (moved away, or changed)."""


class ScoringSizeError(ValueError):
    """A split too small for what scoring needs, found before anything trains."""


# -- the segmentation evaluator --------------------------------------------------------------
def label_and_photo(pair) -> tuple[Domain, Domain]:
    """(label domain, photo domain) of a pair whose one side is a Cityscapes label map."""
    return (pair.Y, pair.X) if pair.Y.is_label_map else (pair.X, pair.Y)


class SegmentationPairs(Dataset):
    """(photo in [-1, 1], trainIds) at the evaluation resolution, for training/scoring the evaluator."""

    def __init__(self, pair, resolution: int, limit: int | None = None) -> None:
        self.labels, self.photos = label_and_photo(pair)
        self.resolution = resolution
        self.n = len(self.photos) if limit is None else min(limit, len(self.photos))

    def __len__(self) -> int:
        return self.n

    def __getitem__(self, i: int):
        photo = test_transform(self.photos.load(i), size=self.resolution, is_label_map=False)
        return photo, torch.from_numpy(self.labels.train_ids(i, size=self.resolution).astype(np.int64))


def ensure_segmenter(cfg: DictConfig, *, device: torch.device | None = None, progress: bool = True) -> Path | None:
    """The evaluator checkpoint for this dataset and resolution, trained once if missing."""
    return segmenter_file(cfg, evaluation_settings(cfg), device=device, progress=progress)


def segmenter_file(cfg: DictConfig, settings: EvaluationSettings, *, device: torch.device | None,
                   progress: bool) -> Path | None:
    """ensure_segmenter with the settings already read; `cfg` only opens the training split."""
    if not settings.has_segmentation:
        return None
    if settings.segmenter_checkpoint:
        return Path(settings.segmenter_checkpoint)
    out = settings.evaluator_dir
    if usable_segmenter_file(out / FINAL_NAME):  # a corrupt one is named, moved aside, retrained
        return out / FINAL_NAME
    device = device or resolve_device(cfg.device)
    pair = open_domains(cfg.dataset, settings.train_split)
    with exclusive(out / ".lock", f"training the {settings.dataset} evaluator in {out}"):
        return train_segmenter(settings.segmenter, SegmentationPairs(pair, settings.resolution),
                               dataset_name=settings.dataset, out_dir=out, progress=progress, device=device)


def evaluator_ready(cfg: DictConfig) -> bool:
    """True when scoring `cfg` needs no evaluator trained first: the dataset has no label-map
    side, a checkpoint is given, or the evaluator was trained already."""
    settings = evaluation_settings(cfg)
    return (not settings.has_segmentation or bool(settings.segmenter_checkpoint)
            or (settings.evaluator_dir / FINAL_NAME).is_file())


def open_segmenter(cfg: DictConfig, settings: EvaluationSettings, device: torch.device, progress: bool = True):
    path = segmenter_file(cfg, settings, device=device, progress=progress)
    return load_segmenter(path, dataset_name=settings.dataset, resolution=settings.resolution, device=device)


# -- generated images --------------------------------------------------------------------------
def read_generated(path: Path, resolution: int) -> np.ndarray:
    """A generated PNG as (R, R, 3) uint8, refusing one of the wrong size or mode."""
    with Image.open(path) as img:
        if img.mode != "RGB" or img.size != (resolution, resolution):
            raise GeneratedImageError(f"{path} is {img.mode} {img.size[0]}x{img.size[1]}; expected RGB "
                                      f"{resolution}x{resolution}: regenerate it with `benchmark evaluate RUN_DIR`")
        return np.array(img.convert("RGB"))


def translate_split(model, source: Domain, direction: str, out_dir: Path, *, train_size: int,
                    resolution: int, limit: int | None, batch_size: int, device, progress: bool) -> list[str]:
    """Write one PNG per test input of `source` translated along `direction`; return the stems."""
    data = TestDomain(source, train_size)
    n = len(data) if limit is None else min(limit, len(data))
    loader = DataLoader(torch.utils.data.Subset(data, range(n)), batch_size=batch_size)
    stems = []
    for batch in tqdm(loader, desc=f"translating {out_dir.name}", disable=not progress, leave=False):
        out = model.translate(batch["image"].to(device), direction).cpu()
        for image, stem in zip(out, batch["stem"]):
            img = to_image(image)
            if img.size != (resolution, resolution):
                img = img.resize((resolution, resolution), Image.BICUBIC)
            atomic.save_image(img, out_dir / f"{stem}.png")
            stems.append(stem)
    return stems


def score_generated_labels(gen_dir: Path, stems: list[str], truth: Domain,
                           resolution: int, rule: str = "train19") -> tuple[dict, np.ndarray]:
    """photo->labels: snap each generated colour map and compare it with the ground truth.

    Returns the whole-set scores and the per-image confusion counts (n_images, C, C + 1), whose
    sum is the whole-set matrix: the report resamples images from them (benchmark/run/per_image.py).
    """
    matrices, far, total = [], 0, 0
    for i, stem in enumerate(stems):
        pred, dist = snap_to_palette(read_generated(gen_dir / f"{stem}.png", resolution), rule=rule)
        matrices.append(ConfusionMatrix().update(truth.train_ids(i, size=resolution), pred).counts)
        far += int((dist > FAR_FROM_PALETTE).sum())
        total += dist.size
    counts = ConfusionMatrix.stack(matrices)
    return {**ConfusionMatrix.from_counts(counts.sum(axis=0)).scores(),
            "off_palette_fraction": far / max(total, 1)}, counts


def score_generated_photos(gen_dir: Path, stems: list[str], labels: Domain, segmenter, resolution: int,
                           batch_size: int) -> tuple[dict, np.ndarray]:
    """labels->photo ("FCN score"): segment each generated photo, compare with the input labels.

    Returns the whole-set scores and the per-image confusion counts, as score_generated_labels.
    """
    matrices = []
    for start in range(0, len(stems), batch_size):
        chunk = range(start, min(start + batch_size, len(stems)))
        photos = torch.stack([torch.from_numpy(read_generated(gen_dir / f"{stems[i]}.png", resolution))
                              .permute(2, 0, 1).float().div(127.5).sub(1.0) for i in chunk])
        pred = segmenter.predict(photos.to(segmenter.device)).cpu().numpy()
        for k, i in enumerate(chunk):
            matrices.append(ConfusionMatrix().update(labels.train_ids(i, size=resolution), pred[k]).counts)
    counts = ConfusionMatrix.stack(matrices)
    return ConfusionMatrix.from_counts(counts.sum(axis=0)).scores(), counts


# -- one run -------------------------------------------------------------------------------------
def load_run_config(run_dir: Path, overrides: DictConfig | None = None) -> DictConfig:
    """A run directory's config.yaml (checked to be a run config: store.read_run_config)."""
    if read_run_config(Path(run_dir)) is None:
        raise MissingFinalCheckpoint(f"{run_dir} is not a run directory (no config.yaml): train it first "
                                     "with `benchmark train ...` or `benchmark run SUITE DATASET`")
    return OmegaConf.load(Path(run_dir) / "config.yaml")


def check_dataset_unchanged(run_dir: Path, cfg: DictConfig, trained_config: dict) -> None:
    """Refuse to score a run on another dataset than it was trained on, in one line naming it.

    `trained_config` is the config its checkpoint holds; one written before fingerprints were
    recorded (or on the synthetic scenes, which are their settings) is not checked."""
    recorded = (trained_config.get("dataset") or {}).get("fingerprint")
    if not recorded:
        return
    name, root = cfg.dataset.name, dataset_root(cfg.dataset)
    now = dataset_fingerprint(cfg.dataset)
    if now == ABSENT:
        raise DatasetChangedError(f"dataset {name} is not at {root} ({run_dir} was trained on it, content "
                                  f"fingerprint {recorded}): "
                                  f"pass dataset.root= where it is now (`benchmark evaluate {run_dir} "
                                  f"dataset.root=/new/path/{name}`)")
    if now != recorded:
        raise DatasetChangedError(f"dataset {name} at {root} has changed since {run_dir} was trained on it "
                                  f"(content fingerprint {now}, trained on {recorded}): restore its images, or "
                                  "pass dataset.root= to the copy it was trained on")


def final_checkpoint(run_dir: Path) -> dict:
    """The run's final checkpoint, or a MissingFinalCheckpoint saying how far training got."""
    ckpt = load_latest(run_dir, repair=False)  # checkpoint.pt, or the previous one if that is torn
    if ckpt is None:
        raise MissingFinalCheckpoint(f"{run_dir} has no {CHECKPOINT}: training never reached its first "
                                     f"checkpoint; run `benchmark train` with its config to train it")
    if ckpt["iteration"] < ckpt["total_iterations"]:
        raise MissingFinalCheckpoint(f"{run_dir} has no final checkpoint: training reached iteration "
                                     f"{ckpt['iteration']} of {ckpt['total_iterations']}; run the same "
                                     "training command again to finish it")
    return ckpt


def evaluate_run(run_dir: Path, cfg: DictConfig | None = None, *, device: torch.device | None = None,
                 progress: bool = True, out_dir: Path | None = None) -> dict:
    """Score the run's final weights; write and return metrics.json.

    `out_dir` (default: the run directory) receives test/, per_image/ and metrics.json: a scoring
    with other settings than the run's own (`benchmark evaluate RUN key=value`) goes elsewhere,
    so it never replaces the run's full-set metrics."""
    run_dir = Path(run_dir)
    out_dir = Path(out_dir or run_dir)
    cfg = cfg or load_run_config(run_dir)
    device = device or resolve_device(cfg.device)
    ckpt = final_checkpoint(run_dir)
    check_dataset_unchanged(run_dir, cfg, ckpt.get("config") or {})
    model = build_model(cfg).to(device)
    model.load_state_dict(ckpt["model"])
    model.eval()
    settings = evaluation_settings(cfg)
    pair = open_domains(cfg.dataset, settings.test_split)
    fid_ok, fid_reason = fid_scoring.prepare(settings.fid)  # provisions the Inception weights if need be
    directions: dict[str, dict] = {}
    per_image: dict[str, tuple[list[str], np.ndarray]] = {}
    segmenter = None
    with atomic.fresh_folder(out_dir / "test") as test_dir:  # swapped in whole once all is scored
        for direction in model.directions:
            name = settings.directions[direction]
            result, scored, segmenter = _score_direction(
                cfg, settings, model, pair, direction, test_dir / name, device=device, progress=progress,
                segmenter=segmenter, fid_reason=None if fid_ok else fid_reason)
            if scored is not None:
                per_image[name] = scored
            directions[name] = result
    for name, (stems, counts) in per_image.items():
        directions[name][PER_IMAGE_KEY] = write_per_image(out_dir, name, stems, counts, CLASS_NAMES)
    num_images = max((d["num_images"] for d in directions.values()), default=0)
    metrics = {"directions": directions, "evaluation": settings.block(segmenter, num_images),
               "config_hash": ckpt.get("config_hash"), "iteration": ckpt["iteration"]}
    atomic.write_json(out_dir / "metrics.json", metrics)
    return metrics


def _score_direction(cfg: DictConfig, settings: EvaluationSettings, model, pair, direction: str, gen_dir: Path, *,
                     device, progress: bool, segmenter, fid_reason: str | None):
    """Translate the test split along `direction` into the new folder `gen_dir` and score it:
    (result, (stems, per-image counts) or None, the segmenter, opened if it was needed)."""
    source, target = pair.oriented(direction)
    started = time.perf_counter()
    stems = translate_split(model, source, direction, gen_dir, train_size=int(cfg.data.crop_size),
                            resolution=settings.resolution, limit=settings.max_images,
                            batch_size=settings.batch_size, device=device, progress=progress)
    # what translating the test split cost: seconds for CycleGAN, minutes for CoGAN's inversion
    result: dict = {"num_images": len(stems), "translation_seconds": time.perf_counter() - started}
    scored = None
    if pair.aligned and target.is_label_map:
        scored = score_generated_labels(gen_dir, stems, target, settings.resolution, settings.snap_rule)
    elif pair.aligned and source.is_label_map:
        segmenter = segmenter or open_segmenter(cfg, settings, device, progress)
        scored = score_generated_photos(gen_dir, stems, source, segmenter, settings.resolution,
                                        settings.batch_size)
    if scored is not None:
        result.update(scored[0])
    if not target.is_label_map:
        result.update(fid_scoring.score(settings.fid, gen_dir, real_image_folder(settings, target), device)
                      if fid_reason is None else fid_scoring.unavailable(fid_reason))
    return result, (None if scored is None else (stems, scored[1])), segmenter


def check_scorable(cfg: DictConfig) -> None:
    """Before anything trains: every split is big enough for what scoring it needs.

    FID/KID compare at least 2 generated with at least 2 real test images (evaluation/fid.py),
    and the FID floor as many real training images of the target domain; a 1-image split used
    to train every run and fail each one at scoring. KID subsets shrink to half the set by
    themselves (evaluation/fid.py kid_subset_size), so they need no check."""
    settings = evaluation_settings(cfg)
    if not settings.fid.enabled:
        return
    limit = settings.max_images
    splits = {settings.test_split: open_domains(cfg.dataset, settings.test_split),
              settings.train_split: open_domains(cfg.dataset, settings.train_split)}
    problems = []
    for direction in ("X2Y", "Y2X"):
        source, target = splits[settings.test_split].oriented(direction)
        if target.is_label_map:
            continue
        train_target = splits[settings.train_split].oriented(direction)[1]
        for split, domain in ((settings.test_split, source), (settings.test_split, target),
                              (settings.train_split, train_target)):
            n = len(domain) if limit is None else min(limit, len(domain))
            if n < 2:
                capped = f" (evaluation.max_images={limit})" if limit is not None and limit < len(domain) else ""
                problems.append(f"the {split} split has {n} {domain.name} image{'s' * (n != 1)}{capped}")
    if problems:
        problems = list(dict.fromkeys(problems))
        raise ScoringSizeError(f"dataset {cfg.dataset.name}: {'; '.join(problems)}, and FID/KID need at least 2: "
                               "add images, raise evaluation.max_images, or set evaluation.fid.enabled=false")

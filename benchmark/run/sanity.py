"""The sanity rows of a dataset: what perfect, what doing nothing and what ignoring the input
score with the very pipeline that scores the models (cached per evaluation hash).

* real photos through the evaluator: the ceiling of a generated photo's segmentation score;
* the ground-truth colour maps, snapped: a pipeline check of photo->labels;
* the majority class everywhere: the floor of both segmentation scores;
* the real image of another test scene (layout-blind): a perfect image of the target domain
  that ignores its input. The evaluator has learned where streets usually put road, sky and
  buildings, so any street-like image, or even noise, scores well above the majority class;
  a model whose score does not clear this row has shown nothing of *this* input's layout;
* FID/KID floor and identity (benchmark/run/fid_scoring.py).
"""
from __future__ import annotations

import numpy as np
import torch
from omegaconf import DictConfig
from torch.utils.data import DataLoader
from tqdm import tqdm

from benchmark import atomic
from benchmark.data import open_domains
from benchmark.device import resolve_device
from benchmark.run import fid_scoring
from benchmark.run.evaluate import SegmentationPairs, label_and_photo, open_segmenter
from benchmark.run.evaluation_settings import evaluation_settings
from benchmark.run.real_images import read_rgb_resized
from benchmark.run.store import read_json
from evaluation.labels import CLASS_NAMES, snap_to_palette
from evaluation.metrics import ConfusionMatrix

#: The rows a reference file holds; a new row bumps it, so an older cached file is recomputed, not
#: read without the row (2: the majority-class floor; 3: the layout-blind row).
REFERENCE_ROWS_FORMAT = 3


def majority_class_scores(truths: list[np.ndarray]) -> dict:
    """The segmentation scores of predicting the test labels' most frequent class at every pixel:
    the floor of both directions' FCN scores (a model that learned nothing about the layout but
    the commonest class gets this much per-pixel accuracy for free). The class is taken from the
    test labels themselves, so the floor is, if anything, generous."""
    counts = np.zeros(len(CLASS_NAMES), dtype=np.int64)
    for truth in truths:
        valid = truth[truth < len(CLASS_NAMES)]
        counts += np.bincount(valid.ravel(), minlength=len(CLASS_NAMES))[:len(CLASS_NAMES)]
    cm = ConfusionMatrix()
    for truth in truths:
        cm.update(truth, np.full_like(truth, int(counts.argmax())))
    return cm.scores()


def other_scene(n: int) -> list[int]:
    """Test scene i's stand-in: scene (i + n//2) mod n, half the set away (a derangement for
    n >= 2, so no scene is scored against itself; deterministic, so the row is reproducible)."""
    if n < 2:
        raise ValueError(f"a layout-blind row needs at least 2 test scenes, got {n}")
    return [(i + n // 2) % n for i in range(n)]


def other_scene_scores(truths: list[np.ndarray], predictions: list[np.ndarray]) -> dict:
    """Scene i's labels against the prediction made for another scene (`other_scene`)."""
    cm = ConfusionMatrix()
    for i, j in enumerate(other_scene(len(truths))):
        cm.update(truths[i], predictions[j])
    return cm.scores()


def reference_rows(cfg: DictConfig, *, device: torch.device | None = None, progress: bool = True) -> dict:
    """The sanity rows of a dataset, cached per evaluation hash. JSON shape:

    {"real_photos": {to_photo: scores},          # real val photos through the evaluator (ceiling)
     "ground_truth_labels": {to_labels: scores},  # ground-truth colour maps snapped (evaluation.snap_rule)
     "majority_class": {to_photo: s, to_labels: s},  # the commonest class everywhere (floor)
     "other_scene": {to_photo: s, to_labels: s},     # another scene's real image (layout-blind)
     "fid_floor": {direction: ROW}, "identity": {direction: ROW},  # FID/KID: benchmark/run/fid_scoring.py
     "evaluation": evaluation block}
    The segmentation rows exist only for datasets with a segmentation side (other_scene only with
    at least 2 test images); the FID rows for every direction whose target is a photo domain.
    """
    device = device or resolve_device(cfg.device)
    settings = evaluation_settings(cfg)
    resolution = settings.resolution
    fid_scoring.prepare(settings.fid)  # weights first: the cache name below carries their identity
    out = settings.evaluator_dir / f"reference-{settings.hash()}-r{REFERENCE_ROWS_FORMAT}.json"
    if settings.segmenter_checkpoint is None and (cached := read_json(out)):
        return cached
    pair = open_domains(cfg.dataset, settings.test_split)
    fid_rows = fid_scoring.sanity_rows(settings, pair, open_domains(cfg.dataset, settings.train_split), device=device)
    if not settings.has_segmentation:
        rows = {**fid_rows, "evaluation": settings.block(None, len(pair.X))}
        atomic.write_json(out, rows)
        return rows
    segmenter = open_segmenter(cfg, settings, device, progress)
    labels, photos = label_and_photo(pair)
    real = SegmentationPairs(pair, resolution, settings.max_images)
    cm = ConfusionMatrix()
    photo_predictions: list[np.ndarray] = []
    for images, targets in tqdm(DataLoader(real, batch_size=settings.batch_size),
                                desc="real photos", disable=not progress, leave=False):
        pred = segmenter.predict(images.to(device)).cpu().numpy()
        cm.update(targets.numpy(), pred)
        photo_predictions.extend(pred)
    gt = ConfusionMatrix()
    truths = [labels.train_ids(i, size=resolution) for i in range(len(real))]
    snapped = []
    for i, truth in enumerate(truths):
        colour = np.asarray(read_rgb_resized(labels, i, resolution))
        snapped.append(snap_to_palette(colour, rule=settings.snap_rule)[0])
        gt.update(truth, snapped[-1])
    names = settings.directions
    to_photo = names["Y2X"] if pair.Y.is_label_map else names["X2Y"]
    to_labels = names["X2Y"] if pair.Y.is_label_map else names["Y2X"]
    majority = majority_class_scores(truths)
    rows = {"real_photos": {to_photo: cm.scores()}, "ground_truth_labels": {to_labels: gt.scores()},
            "majority_class": {to_photo: majority, to_labels: majority}}
    if len(truths) >= 2:
        rows["other_scene"] = {to_photo: other_scene_scores(truths, photo_predictions),
                               to_labels: other_scene_scores(truths, snapped)}
    rows = {**rows, **fid_rows, "evaluation": settings.block(segmenter, len(real))}
    atomic.write_json(out, rows)
    return rows

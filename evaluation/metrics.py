"""Cityscapes-benchmark segmentation scores from ONE confusion matrix.

The paper (Section 5.1) sums a single confusion matrix over the whole test set and derives
per-pixel accuracy, per-class accuracy and class IoU from it; averaging per-image scores would
give different numbers. Predictions that are not a training class (255 "void", or any id
>= num_classes, e.g. a generated label colour closest to a non-training colour) are counted in
an extra void column: they are errors for the pixel's true class but add to no class's
predictions, so they lower accuracy and IoU of that class without inflating another's
false positives.

`batch_scores` is the one implementation of the three numbers: vectorised over any leading
batch axes, so the image bootstrap (evaluation/statistics.py) scores thousands of resampled
matrices in one call and `ConfusionMatrix.scores` is the batch-of-one case.
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from evaluation.labels import CLASS_NAMES, IGNORE_INDEX, NUM_CLASSES


def _as_int_array(x: Any, what: str) -> np.ndarray:
    """numpy or torch (any device) -> flat int64 numpy array."""
    if hasattr(x, "detach") and hasattr(x, "cpu"):  # a torch tensor; no torch import needed
        x = x.detach().cpu().numpy()
    arr = np.asarray(x)
    if arr.dtype.kind not in "iub":
        raise ValueError(f"{what} must hold integer class ids, got dtype {arr.dtype}")
    return arr.astype(np.int64, copy=False).ravel()


#: The three set-level numbers of the paper, in table order.
SCORE_NAMES = ("per_pixel_acc", "per_class_acc", "class_iou")
#: The range each of them takes (fractions of pixels or classes).
SCORE_RANGE = (0.0, 1.0)


def _nan_mean_last(values: np.ndarray) -> np.ndarray:
    """Mean over the last axis ignoring NaN (absent classes); NaN, silently, where all are NaN."""
    finite = ~np.isnan(values)
    count = finite.sum(axis=-1)
    total = np.where(finite, values, 0.0).sum(axis=-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(count > 0, total / np.maximum(count, 1), np.nan)


def batch_scores(counts: np.ndarray) -> dict[str, np.ndarray]:
    """Scores of confusion matrices `counts` (..., C, C + 1) (last column = void predictions).

    Returns arrays of shape `...`: per_pixel_acc, per_class_acc, class_iou, num_pixels, and
    of shape (..., C): acc, iou per class. NaN marks an undefined value: a class with no
    ground-truth pixel has no accuracy, a class absent from both ground truth and prediction
    has no IoU, and both are left out of the class means (as are all values of an empty matrix).
    """
    counts = np.asarray(counts, dtype=np.float64)
    if counts.ndim < 2 or counts.shape[-1] != counts.shape[-2] + 1:
        raise ValueError(f"confusion counts must have shape (..., C, C + 1), got {counts.shape}")
    c = counts.shape[-2]
    diag = np.diagonal(counts[..., :c], axis1=-2, axis2=-1)
    gt_count = counts.sum(axis=-1)  # includes void predictions
    pred_count = counts[..., :c].sum(axis=-2)
    union = gt_count + pred_count - diag
    total = gt_count.sum(axis=-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        acc = np.where(gt_count > 0, diag / gt_count, np.nan)
        iou = np.where(union > 0, diag / union, np.nan)
        per_pixel = np.where(total > 0, diag.sum(axis=-1) / total, np.nan)
    return {"per_pixel_acc": per_pixel, "per_class_acc": _nan_mean_last(acc),
            "class_iou": _nan_mean_last(iou), "num_pixels": total, "acc": acc, "iou": iou}


class ConfusionMatrix:
    """Counts (ground-truth class, predicted class) pairs over a whole test set.

    `counts` is (num_classes, num_classes + 1): rows are ground-truth classes, the last
    column holds void predictions. Pixels whose ground truth is `ignore_index` are skipped.
    """

    def __init__(self, num_classes: int = NUM_CLASSES, ignore_index: int = IGNORE_INDEX,
                 class_names: Sequence[str] | None = None):
        if num_classes < 1:
            raise ValueError(f"num_classes must be >= 1, got {num_classes}")
        if class_names is None:
            class_names = CLASS_NAMES if num_classes == NUM_CLASSES else [str(i) for i in range(num_classes)]
        if len(class_names) != num_classes:
            raise ValueError(f"class_names has {len(class_names)} names for {num_classes} classes")
        self.num_classes = num_classes
        self.ignore_index = ignore_index
        self.class_names = tuple(class_names)
        self.counts = np.zeros((num_classes, num_classes + 1), dtype=np.int64)

    def update(self, gt: Any, pred: Any) -> ConfusionMatrix:
        """Add one batch (any shape, numpy or torch) of ground-truth and predicted ids."""
        g = _as_int_array(gt, "ground truth")
        p = _as_int_array(pred, "prediction")
        if g.shape != p.shape:
            raise ValueError(f"ground truth has {g.size} pixels but prediction has {p.size}; "
                             f"shapes {np.shape(gt)} vs {np.shape(pred)}")
        keep = g != self.ignore_index
        g, p = g[keep], p[keep]
        if g.size and (g.min() < 0 or g.max() >= self.num_classes):
            bad = g[(g < 0) | (g >= self.num_classes)][0]
            raise ValueError(f"ground truth holds id {bad}, neither a class (0..{self.num_classes - 1}) "
                             f"nor the ignore index {self.ignore_index}: pass trainIds, not labelIds")
        c = self.num_classes
        p = np.where((p < 0) | (p >= c), c, p)  # every non-class prediction -> the void column
        self.counts += np.bincount(g * (c + 1) + p, minlength=c * (c + 1)).reshape(c, c + 1)
        return self

    def merge(self, other: ConfusionMatrix) -> ConfusionMatrix:
        """Add another matrix's counts (e.g. from another worker or shard)."""
        if (other.num_classes, other.ignore_index) != (self.num_classes, self.ignore_index):
            raise ValueError(f"cannot merge a {other.num_classes}-class matrix (ignore {other.ignore_index}) "
                             f"into a {self.num_classes}-class one (ignore {self.ignore_index})")
        self.counts += other.counts
        return self

    @classmethod
    def from_counts(cls, counts: np.ndarray, **kwargs) -> ConfusionMatrix:
        """A matrix holding given (C, C + 1) counts, e.g. the sum of per-image matrices."""
        counts = np.asarray(counts)
        if counts.ndim != 2 or counts.shape[1] != counts.shape[0] + 1:
            raise ValueError(f"confusion counts must have shape (C, C + 1), got {counts.shape}")
        cm = cls(num_classes=counts.shape[0], **kwargs)
        cm.counts = counts.astype(np.int64)
        return cm

    @staticmethod
    def stack(per_image: Sequence[np.ndarray], num_classes: int = NUM_CLASSES) -> np.ndarray:
        """Per-image counts as one (n_images, C, C + 1) int64 array (an empty set included)."""
        if not per_image:
            return np.zeros((0, num_classes, num_classes + 1), dtype=np.int64)
        return np.stack(per_image).astype(np.int64, copy=False)

    @property
    def matrix(self) -> np.ndarray:
        """(num_classes, num_classes) counts without the void column."""
        return self.counts[:, :self.num_classes].copy()

    @property
    def void(self) -> np.ndarray:
        """(num_classes,) labelled pixels of each class that were predicted as void."""
        return self.counts[:, self.num_classes].copy()

    def scores(self) -> dict:
        """The paper's three numbers plus per-class values (None where a class is absent).

        Overall values are None when no labelled pixel was scored, so the dict stays valid JSON.
        """
        s = batch_scores(self.counts)

        def opt(v) -> float | None:
            return None if np.isnan(v) else float(v)

        return {
            **{name: opt(s[name]) for name in SCORE_NAMES},
            "num_pixels": int(self.counts.sum()),
            "void_pixels": int(self.counts[:, self.num_classes].sum()),
            "per_class": {name: {"acc": opt(a), "iou": opt(i)}
                          for name, a, i in zip(self.class_names, s["acc"], s["iou"])},
        }

    def __repr__(self) -> str:
        return f"ConfusionMatrix(num_classes={self.num_classes}, pixels={int(self.counts.sum())})"

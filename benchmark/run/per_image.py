"""A run's raw per-image scores: one confusion matrix per test image and direction.

Why keep them: the tables' intervals and paired tests resample test images, and a resample's
score is that of its summed matrix (a ratio of sums), so `benchmark report` needs every image's
matrix — with them it recomputes intervals for any number of resamples without re-scoring.
File: RUN_DIR/per_image/<direction>.npz (compressed, written atomically), arrays `counts`
(n_images, C, C + 1) int32 with the void column last as in evaluation.metrics.ConfusionMatrix,
`stems` (n_images,) the test images' names in scoring order, and `class_names` (C,).
metrics.json names the file under directions.<direction>.per_image (a path relative to the
run directory).
"""
from __future__ import annotations

import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from benchmark import atomic

PER_IMAGE_DIR = "per_image"
#: the key of metrics.json's per-direction entry that names the file
METRICS_KEY = "per_image"


class PerImageError(ValueError):
    """A per-image score file that is missing, unreadable or inconsistent."""


@dataclass(frozen=True)
class PerImageScores:
    """Per-image confusion counts of one direction of one run."""

    direction: str
    stems: tuple[str, ...]
    counts: np.ndarray  # (n_images, C, C + 1) int64
    class_names: tuple[str, ...]

    @property
    def total(self) -> np.ndarray:
        """The whole-set matrix (what metrics.json's scores were computed from)."""
        return self.counts.sum(axis=0)

    def select(self, stems: Sequence[str]) -> np.ndarray:
        """Counts of the given stems, in that order (for pairing runs image by image)."""
        index = {s: i for i, s in enumerate(self.stems)}
        missing = [s for s in stems if s not in index]
        if missing:
            raise PerImageError(f"{self.direction}: no per-image scores for test image(s) {missing[:3]}")
        return self.counts[[index[s] for s in stems]]


def relative_path(direction: str) -> str:
    return f"{PER_IMAGE_DIR}/{direction}.npz"


def write_per_image(run_dir: str | Path, direction: str, stems: Sequence[str], counts: np.ndarray,
                    class_names: Sequence[str]) -> str:
    """Write one direction's per-image matrices atomically; return the path relative to run_dir."""
    counts = np.asarray(counts)
    if counts.ndim != 3 or counts.shape[0] != len(stems) or counts.shape[2] != counts.shape[1] + 1:
        raise PerImageError(f"{direction}: per-image counts of shape {counts.shape} do not match "
                            f"{len(stems)} stems and (C, C + 1) matrices")
    if len(class_names) != counts.shape[1]:
        raise PerImageError(f"{direction}: {len(class_names)} class names for {counts.shape[1]} classes")
    if counts.size and (counts.min() < 0 or counts.max() > np.iinfo(np.int32).max):
        raise PerImageError(f"{direction}: per-image counts out of int32 range")
    rel = relative_path(direction)
    with atomic.atomic_path(Path(run_dir) / rel) as tmp, open(tmp, "wb") as fh:
        # a file object, not a name: np.savez would append ".npz" to the temporary's name
        np.savez_compressed(fh, counts=counts.astype(np.int32), stems=np.asarray(list(stems), dtype=str),
                            class_names=np.asarray(list(class_names), dtype=str))
    return rel


def read_per_image(run_dir: str | Path, direction: str, metrics: dict | None = None) -> PerImageScores:
    """Load one direction's per-image matrices (the path from metrics.json when given)."""
    run_dir = Path(run_dir)
    entry = ((metrics or {}).get("directions") or {}).get(direction) or {}
    path = run_dir / entry.get(METRICS_KEY, relative_path(direction))
    if not path.is_file():
        raise PerImageError(f"{path} does not exist: the run was scored before per-image scores were "
                            f"kept; re-score it with `benchmark evaluate {run_dir}`")
    try:
        with np.load(path, allow_pickle=False) as data:
            counts = data["counts"].astype(np.int64)
            stems = tuple(str(s) for s in data["stems"])
            class_names = tuple(str(s) for s in data["class_names"])
    except (OSError, ValueError, KeyError, zipfile.BadZipFile) as err:
        raise PerImageError(f"{path} is unreadable ({err}): delete it and re-score with "
                            f"`benchmark evaluate {run_dir}`") from err
    if counts.ndim != 3 or counts.shape[0] != len(stems) or counts.shape[1:] != (len(class_names),
                                                                               len(class_names) + 1):
        raise PerImageError(f"{path}: counts of shape {counts.shape} do not match {len(stems)} stems and "
                            f"{len(class_names)} classes; re-score with `benchmark evaluate {run_dir}`")
    return PerImageScores(direction=direction, stems=stems, counts=counts, class_names=class_names)

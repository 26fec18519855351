"""What the results page shows of each test image: which file, and its per-image score.

Why per-image scores from `RUN/per_image/<direction>.npz`: evaluation already keeps every test
image's confusion matrix (benchmark/run/per_image.py) for the tables' intervals; an image's
per-pixel accuracy and class IoU are that matrix's scores (evaluation.metrics.batch_scores, the
one implementation of the tables' numbers), so nothing is segmented or translated again and the
page's numbers are the tables' numbers for one image. The table's score is that of the summed
matrix, not the mean of these (a ratio of sums), and the pages say so.

The order a page shows first is worst first (`ranked`): the images a method fails on are the
ones a reader needs to see, and a mean hides them. Ties keep the file order (natural sort of the
test images' names), in Python and in the page's script alike.
"""
from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from benchmark.report.runs import LoadedRun, ReportWarning
from benchmark.report.sample_grid import IMAGE_SUFFIXES, natural
from benchmark.run.per_image import PerImageError, read_per_image
from evaluation.metrics import batch_scores

#: per-image score key -> its label on the pages; the first is the default sort key.
IMAGE_METRICS = {"per_pixel_acc": "per-pixel acc", "class_iou": "class IoU"}


def _warn(message: str) -> None:
    warnings.warn(message, ReportWarning, stacklevel=3)


@dataclass
class RunImages:
    """One run's test images of one direction, with their per-image scores where it has them."""

    run: LoadedRun
    direction: str
    files: dict[str, Path]                      # stem -> generated image, file order
    scores: dict[str, dict[str, float | None]] = field(default_factory=dict)
    no_scores: str | None = None                # why there are none, when there are none

    @property
    def key(self) -> str:
        return f"{self.run.variant}-seed{self.run.seed}"

    def score(self, stem: str, metric: str) -> float | None:
        return (self.scores.get(stem) or {}).get(metric)


def _finite(value) -> float | None:
    value = float(value)
    return value if math.isfinite(value) else None


def image_scores(run: LoadedRun, direction: str) -> tuple[dict[str, dict[str, float | None]], str | None]:
    """stem -> {per_pixel_acc, class_iou} from the run's per-image matrices, or ({}, why not)."""
    entry = (run.direction(direction) or {})
    if not any(metric in entry for metric in IMAGE_METRICS):
        return {}, ("no per-image score: this direction is scored by FID/KID only, which "
                    "compare the set of images, not one image")
    try:
        per = read_per_image(run.run_dir, direction, dict(run.metrics or {}))
    except PerImageError as err:
        _warn(f"results page: {run.variant} seed {run.seed} {direction} shows no per-image "
              f"scores ({err})")
        return {}, f"no per-image scores: {err}"
    values = batch_scores(per.counts)
    return {stem: {m: _finite(values[m][i]) for m in IMAGE_METRICS}
            for i, stem in enumerate(per.stems)}, None


def generated_files(run: LoadedRun, direction: str) -> dict[str, Path]:
    """The run's translated test images of `direction` (what was scored), in file order."""
    folder = run.run_dir / "test" / direction
    if not folder.is_dir():
        return {}
    files = [p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES]
    return {p.stem: p for p in sorted(files, key=lambda p: natural(p.stem))}


def run_images(runs: Sequence[LoadedRun], directions: Sequence[str]) -> list[RunImages]:
    """Every finished run's images per direction (runs without test images are left out)."""
    out = []
    for run in sorted(runs, key=lambda r: (r.variant, r.seed)):
        if run.metrics is None:
            continue
        for direction in directions:
            files = generated_files(run, direction)
            if not files:
                if run.direction(direction) is not None:
                    _warn(f"results page: {run.run_dir} has no test/{direction} images; "
                          f"re-score it with `benchmark evaluate {run.run_dir}`")
                continue
            scores, why = image_scores(run, direction)
            unscored = [s for s in files if s not in scores]
            if scores and unscored:
                _warn(f"results page: {len(unscored)} test/{direction} image(s) of {run.run_dir} "
                      f"have no per-image score (e.g. {unscored[0]}): shown last, without one")
            out.append(RunImages(run, direction, files, scores, why))
    return out


def sort_key(value: float | None, order: int, descending: bool = False) -> tuple:
    """Missing scores last in either direction; ties in file order."""
    if value is None:
        return (1, 0.0, order)
    return (0, -value if descending else value, order)


def ranked(stems: Sequence[str], score, descending: bool = False) -> list[str]:
    """`stems` (in file order) ordered by `score(stem)`: worst first unless `descending`."""
    return [s for _, s in sorted(enumerate(stems),
                                 key=lambda item: sort_key(score(item[1]), item[0], descending))]


@dataclass(frozen=True)
class ComparisonRow:
    """One test image across methods: each method's score and the spread between them."""

    stem: str
    order: int
    scores: dict[str, dict[str, float | None]]   # RunImages.key -> metric -> score
    spread: dict[str, float | None]              # metric -> max - min over the methods


def comparison(members: Sequence[RunImages]) -> list[ComparisonRow]:
    """The test images every member has, widest spread first (by the first IMAGE_METRICS key):
    where the methods disagree most is where one of them fails and another does not."""
    if not members:
        return []
    common = set.intersection(*(set(m.files) for m in members))
    stems = [s for s in members[0].files if s in common]
    rows = []
    for order, stem in enumerate(stems):
        scores = {m.key: {metric: m.score(stem, metric) for metric in IMAGE_METRICS} for m in members}
        spread = {}
        for metric in IMAGE_METRICS:
            values = [v[metric] for v in scores.values() if v[metric] is not None]
            spread[metric] = max(values) - min(values) if len(values) >= 2 else None
        rows.append(ComparisonRow(stem, order, scores, spread))
    first = next(iter(IMAGE_METRICS))
    return sorted(rows, key=lambda r: sort_key(r.spread[first], r.order, descending=True))

"""What a report reads: table specs, the runs of the store (done or failed), the sanity rows.

Why one module for this: the tables, the per-class table, the long-format file and every
figure must see exactly the same runs (same seeds kept, same failures, same sanity rows),
so loading and the tidy frames built from it live in one place and nothing else reads
metrics.json.
"""
from __future__ import annotations

import json
import math
import re
import warnings
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from benchmark import atomic

#: metric key -> (column label, decimals). Order = column order in every table.
METRICS: dict[str, tuple[str, int]] = {
    "per_pixel_acc": ("per-pixel acc", 3),
    "per_class_acc": ("per-class acc", 3),
    "class_iou": ("class IoU", 3),
    "fid": ("FID", 1),
    "kid": ("KID", 4),
}
ACCURACY_METRICS = ("per_pixel_acc", "per_class_acc", "class_iou")
GENERATION_METRICS = ("fid", "kid")
#: Scalars besides METRICS that the long-format file carries (spread and diagnostics).
EXTRA_SCALARS = ("kid_std", "kid_subset_size", "kid_subsets", "off_palette_fraction")
PENDING = "—"
NOT_AVAILABLE = "n/a"
FAILED = "failed"
UNAVAILABLE = "unavailable"
REAL_PHOTOS = "Real photos (evaluator)"
KID_SPREAD = "KID sd (subsets)"
#: Provenance keys in the order every file header prints them (the rest follow, sorted).
PROVENANCE_KEYS = ("command", "commit", "dirty", "dataset", "resolution", "train_resolution",
                   "iterations", "profile", "precision", "snap_rule", "evaluator_hash", "seeds",
                   "suite", "x_domain", "y_domain", "generated_at")
#: Sanity rows (benchmark.run.sanity.reference_rows), in table order, with their names:
#: what "perfect" and what "doing nothing" score with the same pipeline as the models.
SANITY_ROWS: dict[str, str] = {
    "real_photos": REAL_PHOTOS,
    "ground_truth_labels": "Ground-truth labels, snapped (pipeline check)",
    "majority_class": "Majority class everywhere (floor)",
    "other_scene": "Real image of another scene (layout-blind)",
    "fid_floor": "Real test vs real train (floor)",
    "identity": "Identity (input as output)",
}
#: A failure whose error type says something the run needs cannot be had (weights neither on
#: disk nor downloadable: baselines' FeatureWeightsUnavailable) is "unavailable", not a bug;
#: status.json records errors as "<type>: <message>".
UNAVAILABLE_ERROR = re.compile(r"^\w*Unavailable\w*:\s*")


class ReportWarning(UserWarning):
    """A run or file the report had to skip; the report itself carries on."""


class TableSpecError(ValueError):
    """A table spec from the suite config is malformed; the message names the key."""


# --------------------------------------------------------------------------- small utilities

def atomic_write_text(path: str | Path, text: str) -> Path:
    """Write a file atomically (benchmark.atomic) and return its path."""
    atomic.write_text(path, text)
    return Path(path)


def direction_label(direction: str) -> str:
    """'labels2photo' -> 'labels→photo' (unchanged where the name is not '<a>2<b>')."""
    parts = direction.split("2")
    return "→".join(parts) if len(parts) == 2 and all(parts) else direction


def expected_seeds(provenance: Mapping[str, Any] | None) -> int | None:
    """How many seeds the suite asked for (provenance 'seeds' is a count or a list)."""
    seeds = (provenance or {}).get("seeds")
    if isinstance(seeds, bool):
        return None
    if isinstance(seeds, int):
        return seeds
    if isinstance(seeds, (list, tuple)):
        return len(seeds)
    return None


def finite(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value) if math.isfinite(value) else None


# --------------------------------------------------------------------------- specs

@dataclass(frozen=True)
class TableSpec:
    id: str
    title: str
    direction: str
    rows: tuple[str, ...]
    paper_table: str | None = None


def normalize_spec(spec: Mapping[str, Any] | TableSpec) -> TableSpec:
    """Accept a plain dict or a Hydra DictConfig; reject a spec missing a key by name."""
    if isinstance(spec, TableSpec):
        return spec
    if not isinstance(spec, Mapping):
        raise TableSpecError(f"table spec must be a mapping, got {type(spec).__name__}")
    for key in ("id", "title", "direction", "rows"):
        if key not in spec or spec[key] in (None, ""):
            raise TableSpecError(f"table spec {spec.get('id', '?')!r} is missing {key!r} "
                                 "(needs id, title, direction, rows; paper_table optional)")
    rows = spec["rows"]
    if isinstance(rows, str) or not list(rows):
        raise TableSpecError(f"table spec {spec['id']!r}: rows must be a non-empty list of "
                             "variant names")
    paper = spec.get("paper_table")
    return TableSpec(id=str(spec["id"]), title=str(spec["title"]),
                     direction=str(spec["direction"]), rows=tuple(str(r) for r in rows),
                     paper_table=None if paper in (None, "") else str(paper))


def variant_order(specs: Sequence[Mapping[str, Any] | TableSpec],
                  direction: str | None = None) -> list[str]:
    """The variants the specs ask for (all, or those of one direction), first-seen order."""
    order: list[str] = []
    for spec in map(normalize_spec, specs):
        if direction is None or spec.direction == direction:
            order += [v for v in spec.rows if v not in order]
    return order


# --------------------------------------------------------------------------- runs

@dataclass(frozen=True)
class LoadedRun:
    """One run record: its metrics.json (None unless done) or, for a failed run, its error."""

    variant: str
    seed: int
    run_dir: Path
    config_hash: str
    metrics: Mapping[str, Any] | None
    state: str = "done"
    error: str | None = None
    context: Mapping[str, Any] = field(default_factory=dict)

    def direction(self, direction: str) -> Mapping[str, Any] | None:
        if self.metrics is None:
            return None
        return (self.metrics.get("directions") or {}).get(direction)

    @property
    def failed(self) -> bool:
        return self.state == "failed"

    @property
    def unavailable_reason(self) -> str | None:
        """The reason when the run failed only because weights it needs cannot be had."""
        if not self.failed or not self.error or not UNAVAILABLE_ERROR.match(self.error):
            return None
        return UNAVAILABLE_ERROR.sub("", self.error, count=1)


def _read_metrics(run_dir: Path) -> Mapping[str, Any] | None:
    path = run_dir / "metrics.json"
    if not path.is_file():
        warnings.warn(f"no metrics.json in {run_dir}: counted as pending", ReportWarning,
                      stacklevel=4)
        return None
    try:
        metrics = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as err:
        warnings.warn(f"unreadable {path} ({err}): counted as pending; delete it to rerun "
                      "the evaluation", ReportWarning, stacklevel=4)
        return None
    if not isinstance(metrics, dict) or not isinstance(metrics.get("directions"), dict):
        warnings.warn(f"{path} has no 'directions' mapping: counted as pending",
                      ReportWarning, stacklevel=4)
        return None
    return metrics


def _run_context(run_dir: Path) -> dict[str, Any]:
    """Where the run's numbers came from, from its own files (env.json, config.yaml): the
    commit that trained it, profile, dataset, precision, training resolution."""
    context: dict[str, Any] = {}
    try:
        env = json.loads((run_dir / "env.json").read_text(encoding="utf-8"))
        context["commit"] = env.get("commit") or (env.get("git") or {}).get("commit")
    except (OSError, ValueError, AttributeError):
        pass
    try:
        cfg = yaml.safe_load((run_dir / "config.yaml").read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError):
        cfg = {}
    if isinstance(cfg, dict):
        def get(*keys):
            node: Any = cfg
            for key in keys:
                node = node.get(key) if isinstance(node, dict) else None
            return node if isinstance(node, (str, int, float)) else None
        context.update(profile=get("profile"), dataset=get("dataset", "name"),
                       precision=get("trainer", "precision"),
                       train_resolution=get("data", "crop_size"))
    return {k: v for k, v in context.items() if v is not None}


def load_runs(runs: Iterable[Mapping[str, Any] | LoadedRun]) -> list[LoadedRun]:
    """Read every run; a (variant, seed) listed twice keeps its newest metrics.

    A record with state 'failed' (and its 'error', from status.json) is kept as failed so the
    tables can say so instead of showing the row as pending.
    """
    loaded: dict[tuple[str, int], LoadedRun] = {}
    for record in runs:
        if isinstance(record, LoadedRun):
            run = record
        else:
            try:
                run_dir = Path(record["run_dir"])
                state = str(record.get("state") or "done")
                failed = state == "failed"
                run = LoadedRun(variant=str(record["variant"]), seed=int(record["seed"]),
                                run_dir=run_dir, config_hash=str(record.get("config_hash", "")),
                                metrics=None if failed else _read_metrics(run_dir),
                                state=state, error=record.get("error") if failed else None,
                                context=_run_context(run_dir))
            except (KeyError, TypeError, ValueError) as err:
                warnings.warn(f"skipping malformed run record {record!r}: {err}", ReportWarning,
                              stacklevel=2)
                continue
        key = (run.variant, run.seed)
        old = loaded.get(key)
        if old is not None and old.metrics is not None:
            if run.metrics is None:
                continue
            warnings.warn(f"{run.variant} seed {run.seed} is listed twice ({old.run_dir}, "
                          f"{run.run_dir}): keeping the newer metrics.json", ReportWarning,
                          stacklevel=2)
            if (old.run_dir / "metrics.json").stat().st_mtime >= \
                    (run.run_dir / "metrics.json").stat().st_mtime:
                continue
        loaded[key] = run
    return list(loaded.values())


# --------------------------------------------------------------------------- sanity rows

def sanity_rows(reference_rows: Mapping[str, Any] | None) -> dict[str, dict[str, Mapping]]:
    """row key -> direction -> scores, from benchmark.run.sanity.reference_rows' JSON.

    Also accepts the older bare shape {direction: scores} (the real-photos row alone).
    Non-row entries of the JSON (its 'evaluation' block) are left out.
    """
    rows: dict[str, dict[str, Mapping]] = {}
    for key, block in (reference_rows or {}).items():
        if not isinstance(block, Mapping) or key == "evaluation":
            continue
        if any(m in block for m in (*METRICS, "per_class", "unavailable")):
            rows.setdefault("real_photos", {})[key] = block  # bare {direction: scores}
        else:
            rows[key] = {d: s for d, s in block.items() if isinstance(s, Mapping)}
    return rows


def sanity_name(key: str) -> str:
    return SANITY_ROWS.get(key, key)


# --------------------------------------------------------------------------- tidy frames

def scores_frame(runs: Sequence[LoadedRun]) -> pd.DataFrame:
    """Long form, one row per (variant, seed, direction, metric) value that a run reports."""
    records = []
    for run in runs:
        if run.metrics is None:
            continue
        for direction, scores in run.metrics["directions"].items():
            if not isinstance(scores, Mapping):
                continue
            for metric in METRICS:
                value = finite(scores.get(metric))
                if value is not None:
                    records.append({"variant": run.variant, "seed": run.seed,
                                    "direction": direction, "metric": metric, "value": value})
    return pd.DataFrame(records, columns=["variant", "seed", "direction", "metric", "value"])


LONG_COLUMNS = ["variant", "method", "seed", "direction", "metric", "value", "config_hash",
                "commit", "profile", "dataset", "train_resolution", "resolution", "precision",
                "snap_rule", "evaluation_hash", "evaluator_hash", "num_images", "run_dir"]


def long_frame(runs: Sequence[LoadedRun], provenance: Mapping[str, Any] | None = None,
               display_name=lambda v: v) -> pd.DataFrame:
    """`scores_long.csv`: one row per run × direction × metric (per-class IoU/accuracy as
    'class_iou:<class>' / 'class_acc:<class>'), each with where it came from, so a reader can
    do their own analysis with pandas/seaborn without parsing the tables."""
    provenance = provenance or {}
    records = []
    for run in runs:
        if run.metrics is None:
            continue
        evaluation = run.metrics.get("evaluation") or {}
        base = {"variant": run.variant, "method": display_name(run.variant), "seed": run.seed,
                "config_hash": run.config_hash or run.metrics.get("config_hash"),
                "commit": run.context.get("commit", provenance.get("commit")),
                "profile": run.context.get("profile", provenance.get("profile")),
                "dataset": run.context.get("dataset", provenance.get("dataset")),
                "train_resolution": run.context.get("train_resolution",
                                                    provenance.get("train_resolution")),
                "resolution": evaluation.get("resolution", provenance.get("resolution")),
                "precision": run.context.get("precision", provenance.get("precision")),
                "snap_rule": evaluation.get("snap_rule"),
                "evaluation_hash": evaluation.get("evaluation_hash"),
                "evaluator_hash": evaluation.get("evaluator_hash"),
                "run_dir": str(run.run_dir)}
        for direction, scores in run.metrics["directions"].items():
            if not isinstance(scores, Mapping):
                continue
            values = [(m, scores.get(m)) for m in (*METRICS, *EXTRA_SCALARS)]
            for cls, per in (scores.get("per_class") or {}).items():
                per = per if isinstance(per, Mapping) else {}
                values += [(f"class_iou:{cls}", per.get("iou")), (f"class_acc:{cls}",
                                                                  per.get("acc"))]
            for metric, value in values:
                if (value := finite(value)) is not None:
                    records.append({**base, "direction": direction, "metric": metric,
                                    "value": value,
                                    "num_images": scores.get("num_images",
                                                             evaluation.get("num_images"))})
    return pd.DataFrame(records, columns=LONG_COLUMNS)


def per_class_frame(runs: Sequence[LoadedRun], key: str = "iou") -> pd.DataFrame:
    """Long form per-class scores (`key` 'iou' or 'acc'); null values (class absent) dropped."""
    records = []
    for run in runs:
        if run.metrics is None:
            continue
        for direction, scores in run.metrics["directions"].items():
            per_class = scores.get("per_class") if isinstance(scores, Mapping) else None
            for cls, values in (per_class or {}).items():
                value = finite((values or {}).get(key))
                if value is not None:
                    records.append({"variant": run.variant, "seed": run.seed,
                                    "direction": direction, "class": cls, "value": value})
    return pd.DataFrame(records, columns=["variant", "seed", "direction", "class", "value"])


def class_names(runs: Sequence[LoadedRun], direction: str,
                reference_rows: Mapping[str, Any] | None = None) -> list[str]:
    """Classes in the order the evaluator wrote them (first run that lists them wins)."""
    names: list[str] = []
    sources = [r.direction(direction) for r in runs]
    sources += [rows.get(direction) for rows in sanity_rows(reference_rows).values()]
    for scores in sources:
        for cls in ((scores or {}).get("per_class") or {}):
            if cls not in names:
                names.append(cls)
    return names

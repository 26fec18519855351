"""The paper's reported numbers, loaded from `benchmark/reference/cyclegan_2017.yaml`.

Why a validated file rather than constants in the table code: the numbers are facts typed in
from a paper, so they live in one reviewable place with their citation, and a typo (a missing
metric, an accuracy of 52 instead of 0.52, a row key no variant uses) fails loudly at load time
instead of printing a wrong "paper" column beside a real result.
"""
from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

DEFAULT_REFERENCE = Path(__file__).resolve().parents[1] / "reference" / "cyclegan_2017.yaml"

#: Allowed value range per metric; a value outside it is a typo (e.g. 52 for 0.52).
METRIC_RANGES: dict[str, tuple[float, float]] = {
    "per_pixel_acc": (0.0, 1.0),
    "per_class_acc": (0.0, 1.0),
    "class_iou": (0.0, 1.0),
    "amt_fooled_pct": (0.0, 100.0),
    "fid": (0.0, 1000.0),
    "kid": (0.0, 10.0),
}


class PaperReferenceError(ValueError):
    """The reference YAML is malformed; the message names the file and the key to fix."""


@dataclass(frozen=True)
class PaperTable:
    """One table of the paper: per direction, per variant, the reported metric values."""

    id: str
    title: str
    dataset: str
    metrics: tuple[str, ...]
    directions: Mapping[str, Mapping[str, Mapping[str, float]]]


@dataclass(frozen=True)
class PaperSource:
    """A row set reported outside the method tables (real-photo ceiling, FID anchors)."""

    source: str
    dataset: str
    directions: Mapping[str, Any]
    protocol: str = ""


@dataclass(frozen=True)
class PaperReference:
    version: int
    citation: Mapping[str, Any]
    display_names: Mapping[str, str]
    tables: Mapping[str, PaperTable]
    real_photos: PaperSource | None = None
    fid_anchors: PaperSource | None = None
    path: Path = field(default=DEFAULT_REFERENCE)

    @property
    def cite(self) -> str:
        """One-line citation for table footers."""
        return str(self.citation.get("short") or
                   f"{self.citation['venue']} (arXiv:{self.citation['arxiv']})")

    def display_name(self, variant: str) -> str:
        """The paper's name for a variant; a user's own variant keeps its key."""
        return self.display_names.get(variant, variant)

    def table(self, table_id: str) -> PaperTable:
        try:
            return self.tables[table_id]
        except KeyError:
            raise PaperReferenceError(
                f"paper table {table_id!r} is not in {self.path}; use one of "
                f"{sorted(self.tables)} or paper_table: null") from None

    def row(self, table_id: str, direction: str, variant: str) -> Mapping[str, float] | None:
        """The paper's numbers for one variant, or None where the paper has no such row."""
        table = self.table(table_id)
        if direction not in table.directions:
            raise PaperReferenceError(
                f"paper table {table_id!r} in {self.path} has no direction {direction!r} "
                f"(it has {sorted(table.directions)}); fix the table spec's direction")
        return table.directions[direction].get(variant)

    def real_photos_row(self, direction: str) -> Mapping[str, float] | None:
        if self.real_photos is None:
            return None
        return self.real_photos.directions.get(direction)

    def fid_anchor(self, direction: str, variant: str) -> float | None:
        if self.fid_anchors is None:
            return None
        row = self.fid_anchors.directions.get(direction, {}).get(variant)
        return None if row is None else row["fid"]


def _fail(path: Path, key: str, problem: str) -> PaperReferenceError:
    return PaperReferenceError(f"{path}: {key}: {problem}")


def _mapping(value: Any, path: Path, key: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping) or not value:
        raise _fail(path, key, "must be a non-empty mapping")
    return value


def _metric_row(row: Any, metrics: tuple[str, ...], path: Path, key: str) -> dict[str, float]:
    row = _mapping(row, path, key)
    if set(row) != set(metrics):
        raise _fail(path, key, f"has metrics {sorted(row)}, expected exactly {sorted(metrics)}")
    out = {}
    for metric in metrics:
        value = row[metric]
        if isinstance(value, bool) or not isinstance(value, (int, float)) \
                or not math.isfinite(value):
            raise _fail(path, f"{key}.{metric}", f"must be a finite number, got {value!r}")
        low, high = METRIC_RANGES.get(metric, (-math.inf, math.inf))
        if not low <= value <= high:
            raise _fail(path, f"{key}.{metric}",
                        f"{value} is outside [{low}, {high}] (a percentage for a fraction?)")
        out[metric] = float(value)
    return out


def _rows_by_direction(block: Any, metrics: tuple[str, ...], path: Path, key: str,
                       display_names: Mapping[str, str], nested: bool) -> dict[str, Any]:
    directions = {}
    for direction, rows in _mapping(block, path, key).items():
        if not nested:
            directions[direction] = _metric_row(rows, metrics, path, f"{key}.{direction}")
            continue
        parsed = {}
        for variant, row in _mapping(rows, path, f"{key}.{direction}").items():
            if variant not in display_names:
                raise _fail(path, f"{key}.{direction}.{variant}",
                            "unknown variant: add it to display_names")
            parsed[variant] = _metric_row(row, metrics, path, f"{key}.{direction}.{variant}")
        directions[direction] = parsed
    return directions


def parse_reference(raw: Any, path: Path) -> PaperReference:
    """Validate a loaded YAML document and build the reference; raises PaperReferenceError."""
    raw = _mapping(raw, path, "<top level>")
    for key in ("version", "citation", "display_names", "tables"):
        if key not in raw:
            raise _fail(path, key, "missing")
    if isinstance(raw["version"], bool) or not isinstance(raw["version"], int):
        raise _fail(path, "version", f"must be an integer, got {raw['version']!r}")
    citation = _mapping(raw["citation"], path, "citation")
    for key in ("authors", "title", "venue", "arxiv"):
        if not citation.get(key):
            raise _fail(path, f"citation.{key}", "missing")
    display_names = _mapping(raw["display_names"], path, "display_names")
    for variant, name in display_names.items():
        if not isinstance(name, str) or not name:
            raise _fail(path, f"display_names.{variant}", "must be a non-empty string")

    tables = {}
    for table_id, table in _mapping(raw["tables"], path, "tables").items():
        table = _mapping(table, path, f"tables.{table_id}")
        for key in ("title", "dataset", "metrics", "directions"):
            if key not in table:
                raise _fail(path, f"tables.{table_id}.{key}", "missing")
        metrics = table["metrics"]
        if not isinstance(metrics, list) or not metrics:
            raise _fail(path, f"tables.{table_id}.metrics", "must be a non-empty list")
        metrics = tuple(str(m) for m in metrics)
        tables[table_id] = PaperTable(
            id=table_id, title=str(table["title"]), dataset=str(table["dataset"]),
            metrics=metrics,
            directions=_rows_by_direction(table["directions"], metrics, path,
                                          f"tables.{table_id}.directions", display_names,
                                          nested=True))

    def source(key: str, metrics: tuple[str, ...], nested: bool) -> PaperSource | None:
        if key not in raw:
            return None
        block = _mapping(raw[key], path, key)
        for sub in ("source", "dataset", "directions"):
            if sub not in block:
                raise _fail(path, f"{key}.{sub}", "missing")
        return PaperSource(source=str(block["source"]), dataset=str(block["dataset"]),
                           protocol=str(block.get("protocol", "")),
                           directions=_rows_by_direction(block["directions"], metrics, path,
                                                         f"{key}.directions", display_names,
                                                         nested=nested))

    return PaperReference(
        version=raw["version"], citation=dict(citation), display_names=dict(display_names),
        tables=tables,
        real_photos=source("real_photos", ("per_pixel_acc", "per_class_acc", "class_iou"),
                           nested=False),
        fid_anchors=source("fid_anchors", ("fid",), nested=True),
        path=path)


@lru_cache(maxsize=8)
def _load_cached(path: Path) -> PaperReference:
    if not path.is_file():
        raise FileNotFoundError(f"paper reference file not found: {path} (it ships with the "
                                "package as benchmark/reference/cyclegan_2017.yaml)")
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as err:
        raise PaperReferenceError(f"{path}: not valid YAML ({err})") from None
    return parse_reference(raw, path)


def load_reference(path: str | Path | None = None) -> PaperReference:
    """Load and validate the paper's numbers (the packaged CycleGAN file by default)."""
    return _load_cached(Path(path).resolve() if path is not None else DEFAULT_REFERENCE)

"""Recipe intervals and tests in the tables: the glue to benchmark.report.statistics.

Why a layer of its own: the statistics module returns tidy frames per direction (it owns the
arithmetic: recipe intervals, seed-level tests, Holm, and the image-level test of the
checkpoints); a table needs, per cell, "which interval, and which way does it differ from
CycleGAN", per table the note that says what the brackets and marks mean, and a
`comparisons.csv` listing every difference. That mapping, and the marks (▲ higher than
CycleGAN, ▼ lower, each significant after Holm) used in md/tex/csv, live here.
"""
from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from benchmark.report.reference import PaperReference
from benchmark.report.runs import (
    ACCURACY_METRICS,
    LoadedRun,
    ReportWarning,
    TableSpec,
    atomic_write_text,
    direction_label,
)
from benchmark.report.statistics import ALPHA, comparison_note, interval_note, statistics_frames
from evaluation.recipe_statistics import recipe_interval

#: The marks of a cell whose recipe scores higher / lower than CycleGAN's, significant after
#: Holm's correction over the table's family; LaTeX gets the same arrows without a package.
MARKS = {True: "▲", False: "▼"}
LATEX_MARKS = {True: r"$^\uparrow$", False: r"$^\downarrow$"}


@dataclass(frozen=True)
class CellInterval:
    value: float  # the seed-mean the per-image files sum to (must match the cell's mean)
    ci_low: float
    ci_high: float


@dataclass(frozen=True)
class CellComparison:
    diff: float
    ci_low: float
    ci_high: float
    p: float
    p_holm: float
    significant: bool

    def mark(self, latex: bool = False) -> str:
        """▲ / ▼ where significant (which way it differs from CycleGAN), else nothing."""
        if not self.significant:
            return ""
        return (LATEX_MARKS if latex else MARKS)[self.diff > 0]


@dataclass
class TableStats:
    """One table's intervals and comparisons (frames from benchmark.report.statistics)."""

    spec: TableSpec
    intervals: pd.DataFrame
    comparisons: pd.DataFrame

    def _row(self, frame: pd.DataFrame, variant: str, metric: str) -> pd.Series | None:
        rows = frame[(frame.variant == variant) & (frame.metric == metric)]
        return None if rows.empty else rows.iloc[0]

    def interval(self, variant: str, metric: str) -> CellInterval | None:
        row = self._row(self.intervals, variant, metric)
        if row is None or not math.isfinite(row.get("ci_low", math.nan)):
            return None
        return CellInterval(float(row.value), float(row.ci_low), float(row.ci_high))

    def comparison(self, variant: str, metric: str) -> CellComparison | None:
        row = self._row(self.comparisons, variant, metric)
        if row is None or not math.isfinite(row.get("p", math.nan)):
            return None
        significant = row.significant
        return CellComparison(float(row["diff"]), float(row.ci_low), float(row.ci_high),
                              float(row.p), float(row.p_holm),
                              bool(significant) if not pd.isna(significant) else False)

    def notes(self) -> list[str]:
        notes = [interval_note(self.intervals)]
        if not self.comparisons.empty:
            notes.append(comparison_note(self.comparisons, ALPHA))
        missing = self.intervals[(self.intervals.n_resamples <= 0)
                                 & (self.intervals.note != "no finished run")]
        for variant, note in missing.groupby("variant", sort=False)["note"].first().items():
            notes.append(f"No interval for {variant}: {note}.")
        return notes


#: What a FID/KID cell's interval is: these are statistics of the whole generated set, so the
#: image bootstrap behind the accuracy intervals has nothing per image to resample.
SEED_INTERVAL_NOTE = ("FID/KID [low, high]: 95% t interval for the recipe's mean over its seeds "
                      "alone (n − 1 degrees of freedom; FID and KID are statistics of the whole "
                      "generated set, so no per-image part enters), FID cut at 0; no mark: the "
                      "marked family is the segmentation scores.")


def seed_interval(values: Sequence[float], metric: str) -> CellInterval | None:
    """A FID/KID cell's interval from its seeds alone; none from one seed."""
    if len(values) < 2:
        return None
    found = recipe_interval(values, bounds=(0.0, math.inf) if metric == "fid" else None)
    return CellInterval(found.mean, found.low, found.high)


def table_stats(spec: TableSpec, runs: Sequence[LoadedRun]) -> TableStats | None:
    """Intervals and comparisons for a table whose rows have accuracy scores; None where no
    run of the table reports one (FID/KID-only tables: nothing per image to resample)."""
    scored = [r for r in runs if r.variant in spec.rows and r.metrics is not None
              and any(m in (r.direction(spec.direction) or {}) for m in ACCURACY_METRICS)]
    if not scored:
        return None
    try:
        intervals, comparisons = statistics_frames(scored, spec.direction,
                                                   variants=list(spec.rows))
    except ValueError as err:  # e.g. runs scored with different class lists: say so, go on
        warnings.warn(f"table {spec.id}: no intervals or comparisons ({err})", ReportWarning,
                      stacklevel=2)
        return None
    return TableStats(spec=spec, intervals=intervals, comparisons=comparisons)


def write_comparisons(stats: Sequence[TableStats], out_dir: Path,
                      reference: PaperReference) -> Path:
    """`comparisons.csv`: per table × variant × metric, the recipe-level difference from CycleGAN
    (interval, Welch p, Holm p, P(improvement), seeds for 80% power) and the image-level test of
    these checkpoints (plain CSV: `pandas.read_csv(path)`)."""
    frames = []
    for s in stats:
        frame = s.comparisons.copy()
        frame.insert(0, "table", s.spec.id)
        frame.insert(2, "method", frame.variant.map(reference.display_name))
        frame["direction_label"] = direction_label(s.spec.direction)
        frames.append(frame)
    combined = pd.concat(frames, ignore_index=True)
    return atomic_write_text(Path(out_dir) / "comparisons.csv", combined.to_csv(index=False))

"""Intervals and paired tests in the tables: the glue to benchmark.report.statistics.

Why a layer of its own: the statistics module returns tidy frames per direction (it owns the
arithmetic: image bootstrap, paired sign-flip test, Holm); a table needs, per cell, "which
interval and is it significant", per table the note that says what the brackets mean, and a
`comparisons.csv` listing every difference with its interval, p and Holm p. That mapping, and
the Holm mark (†) used in md/tex/csv, live here.
"""
from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import pandas as pd

from benchmark.report.reference import PaperReference
from benchmark.report.runs import (ACCURACY_METRICS, LoadedRun, ReportWarning, TableSpec,
                                   atomic_write_text, direction_label)
from benchmark.report.statistics import (ALPHA, REFERENCE_VARIANT, comparison_note,
                                         interval_note, statistics_frames)

#: The mark of a cell whose difference from CycleGAN is significant after Holm's correction.
MARK = "†"


@dataclass(frozen=True)
class CellInterval:
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
        return CellInterval(float(row.ci_low), float(row.ci_high))

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
        if (self.comparisons.get("n_permutations", pd.Series(dtype=int)) > 0).any():
            notes.append(f"{MARK} = differs from {REFERENCE_VARIANT} after Holm's correction "
                         f"(α = {ALPHA}); " + comparison_note(self.comparisons) +
                         " Every difference with its interval and p: comparisons.csv.")
        missing = self.intervals[(self.intervals.n_resamples <= 0)
                                 & (self.intervals.note != "no finished run")]
        for variant, note in missing.groupby("variant", sort=False)["note"].first().items():
            notes.append(f"No interval for {variant}: {note}.")
        return notes


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
    """`comparisons.csv`: per table × variant × metric, the difference from CycleGAN, its
    interval, p and Holm p (plain CSV: `pandas.read_csv(path)`)."""
    frames = []
    for s in stats:
        frame = s.comparisons.copy()
        frame.insert(0, "table", s.spec.id)
        frame.insert(2, "method", frame.variant.map(reference.display_name))
        frame["direction_label"] = direction_label(s.spec.direction)
        frames.append(frame)
    combined = pd.concat(frames, ignore_index=True)
    return atomic_write_text(Path(out_dir) / "comparisons.csv", combined.to_csv(index=False))

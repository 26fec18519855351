"""The paper's tables rebuilt from the store: our numbers beside the reported ones.

Why this shape: a reader must see at once how far each number is from the paper, how much it
moves between seeds and between test images, which differences from CycleGAN are real, and
which rows are missing and why — so every table keeps all the rows its spec asks for (a
pending one shows "—", a failed one "failed", one whose weights cannot be had "unavailable",
each with its reason in the notes), carries the sanity rows (what perfect and what doing
nothing score) and says in a note when it comes from a reduced profile. The writers
(writers.py) turn a BuiltTable into Markdown, LaTeX and a plain CSV.
"""
from __future__ import annotations

import math
import warnings
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from benchmark.report import per_class, significance, writers
from benchmark.report.cells import MARK_NOTES, ROW_MARKS, cell, mean_std
from benchmark.report.notes import PAPER_LABELS, reduced_profile, table_notes
from benchmark.report.reference import PaperReference, load_reference
from benchmark.report.runs import (
    ACCURACY_METRICS,
    FAILED,
    GENERATION_METRICS,
    KID_SPREAD,
    METRICS,
    NOT_AVAILABLE,
    PENDING,
    PROVENANCE_KEYS,
    REAL_PHOTOS,
    UNAVAILABLE,
    LoadedRun,
    ReportWarning,
    TableSpec,
    TableSpecError,
    atomic_write_text,
    class_names,
    direction_label,
    expected_seeds,
    finite,
    load_runs,
    normalize_spec,
    per_class_frame,
    sanity_name,
    sanity_rows,
    scores_frame,
    variant_order,
)
from benchmark.report.significance import SEED_INTERVAL_NOTE, TableStats, seed_interval
from benchmark.report.writers import latex_escape

__all__ = ["METRICS", "PENDING", "NOT_AVAILABLE", "FAILED", "UNAVAILABLE", "REAL_PHOTOS",
           "LoadedRun", "ReportWarning", "TableSpec", "TableSpecError", "BuiltTable",
           "atomic_write_text", "build_table", "build_tables", "class_names",
           "direction_label", "load_runs", "normalize_spec", "per_class_frame", "scores_frame",
           "variant_order", "PROVENANCE_KEYS"]

#: decimals the paper reports with, per metric.
PAPER_DECIMALS = {"per_pixel_acc": 2, "per_class_acc": 2, "class_iou": 2, "fid": 1,
                  "kid": 4, "amt_fooled_pct": 1}


@dataclass
class BuiltTable:
    """One table in the three shapes the writers need, plus the notes printed with it."""

    spec: TableSpec
    display: pd.DataFrame   # formatted strings, flat columns (Markdown)
    numeric: pd.DataFrame   # means / stds / intervals / paper values (CSV)
    latex_cells: pd.DataFrame  # formatted strings with LaTeX markup
    measured: list[str]
    paper_metrics: list[str]
    notes: list[str]
    reduced: bool = False
    claims: bool = True     # the report has a claims.md that the heading may point to
    sanity_labels: list[str] = field(default_factory=list)


def _paper_columns(spec: TableSpec, reference: PaperReference) -> list[str]:
    if spec.paper_table is None:
        return []
    table = reference.table(spec.paper_table)
    if spec.direction not in table.directions:
        # A suite names its paper table once for every dataset (the ablations on maps still
        # say table4): there is simply nothing reported to print beside those runs.
        warnings.warn(f"table {spec.id!r}: paper {spec.paper_table} has no {spec.direction} "
                      f"numbers (only {sorted(table.directions)}): no paper columns",
                      ReportWarning, stacklevel=3)
        return []
    return list(table.metrics)


def _measured_columns(spec: TableSpec, runs: Sequence[LoadedRun],
                      paper_metrics: Sequence[str]) -> list[str]:
    """Metrics some run of the table reports, or says it could not (FID without weights)."""
    present = set()
    for run in runs:
        scores = run.direction(spec.direction) if run.variant in spec.rows else None
        present |= {m for m in METRICS if finite((scores or {}).get(m)) is not None}
        present |= {m for m in ((scores or {}).get("unavailable") or {}) if m in METRICS}
    if not present & set(ACCURACY_METRICS):
        # Nothing scored yet: show the columns the paper table is about (or FID/KID for
        # tables, like the AMT one, whose metric software cannot measure).
        wanted = [m for m in paper_metrics if m in METRICS] or list(GENERATION_METRICS)
        if not present or set(wanted) & set(ACCURACY_METRICS):
            present |= set(wanted)
    return [m for m in METRICS if m in present]


def _row_status(variant_runs: Sequence[LoadedRun], direction: str,
                n_expected: int | None) -> tuple[str, list[LoadedRun]]:
    finished = [r for r in variant_runs if r.metrics is not None]
    scored = [r for r in finished if r.direction(direction) is not None]
    failed = [r for r in variant_runs if r.failed]
    if not finished and failed:
        status = UNAVAILABLE if all(r.unavailable_reason for r in failed) else FAILED
    elif not finished:
        status = "pending"
    elif not scored:
        status = "not provided"
    elif len(scored) < max(len(variant_runs), n_expected or 0):
        status = "partial"
    else:
        status = "done"
    return status, scored


def _paper_label(metric: str) -> str:
    return f"paper {PAPER_LABELS.get(metric, METRICS.get(metric, (metric,))[0])}"


def _paper_cell(value: float | None, metric: str, missing: str) -> str:
    return missing if value is None else f"{value:.{PAPER_DECIMALS.get(metric, 2)}f}"


@dataclass
class _Columns:
    """What every row of one table shares: its columns, and the reasons collected for the
    metrics no row could report (column label -> reasons, filled in as the rows are built)."""

    spec: TableSpec
    reference: PaperReference
    measured: list[str]
    paper_metrics: list[str]
    n_expected: int | None
    stats: TableStats | None
    show_fid_anchor: bool
    show_kid_spread: bool
    kid_subsets: list[str]
    #: the identity row's FID/KID in this direction: a run at or above it did no better than
    #: handing the input back, and its cell says so
    identity: dict[str, float] = field(default_factory=dict)
    #: the majority-class row's segmentation scores: a run at or below it shows no more of the
    #: layout than painting every pixel as the commonest class, and its cell says so
    floor: dict[str, float] = field(default_factory=dict)
    #: the layout-blind row's (another scene's real image): at or below it, nothing of each
    #: input's own layout shows in the score
    layout_blind: dict[str, float] = field(default_factory=dict)
    unavailable: dict[str, set[str]] = field(default_factory=dict)
    seed_only: set[str] = field(default_factory=set)  # FID/KID columns given seed-only intervals
    marked: set[str] = field(default_factory=set)  # the row marks used (MARK_NOTES keys)
    mismatched: set[str] = field(default_factory=set)  # rows whose per-image files disagree


def _table_columns(spec: TableSpec, runs: Sequence[LoadedRun], provenance: Mapping[str, Any],
                   reference: PaperReference, paper_metrics: list[str],
                   stats: TableStats | None, reference_rows: Mapping[str, Any] | None) -> _Columns:
    measured = _measured_columns(spec, runs, paper_metrics)
    show_fid_anchor = reference.fid_anchors is not None and \
        spec.direction in reference.fid_anchors.directions and any(
            finite((r.direction(spec.direction) or {}).get("fid")) is not None for r in runs)
    kid_runs = [r.direction(spec.direction) for r in runs if r.variant in spec.rows and
                finite((r.direction(spec.direction) or {}).get("kid_std")) is not None]
    kid_subsets = sorted({f"{d['kid_subsets']} subsets of {d['kid_subset_size']} images"
                          for d in kid_runs if "kid_subsets" in d and "kid_subset_size" in d})
    rows = sanity_rows(reference_rows)

    def scores(key: str, metrics: Sequence[str]) -> dict[str, float]:
        row = (rows.get(key) or {}).get(spec.direction) or {}
        return {m: v for m in metrics if (v := finite(row.get(m))) is not None}

    return _Columns(spec, reference, measured, paper_metrics, expected_seeds(provenance), stats,
                    show_fid_anchor, "kid" in measured and bool(kid_runs), kid_subsets,
                    scores("identity", GENERATION_METRICS), scores("majority_class", ACCURACY_METRICS),
                    scores("other_scene", ACCURACY_METRICS))


def _run_metric_cells(cols: _Columns, variant: str, metric: str, status: str,
                      scored: Sequence[LoadedRun], display: dict, latex: dict,
                      numeric: dict) -> None:
    """One measured metric of a variant's row: mean ± sd [interval] mark, or why it is empty."""
    direction, stats = cols.spec.direction, cols.stats
    label, decimals = METRICS[metric]
    values = [v for r in scored if (v := finite(r.direction(direction).get(metric))) is not None]
    interval = stats.interval(variant, metric) if stats else None
    comparison = stats.comparison(variant, metric) if stats else None
    mean, std = mean_std(values) if values else (math.nan, math.nan)
    if interval is not None and values and not math.isclose(interval.value, mean, abs_tol=5e-4):
        # per-image files that do not sum to metrics.json would put an interval around another
        # number than the cell's: show neither interval nor mark, and say why
        cols.mismatched.add(cols.reference.display_name(variant))
        interval = comparison = None
    significant = bool(comparison is not None and comparison.significant)
    if metric in GENERATION_METRICS and interval is None and status in ("done", "partial"):
        interval = seed_interval(values, metric)
        cols.seed_only.update([label] if interval is not None else [])
    if status in ("pending", FAILED, UNAVAILABLE):
        display[label] = latex[label] = PENDING if status == "pending" else status
    elif not values:
        reasons = [(r.direction(direction).get("unavailable") or {}).get(metric) for r in scored]
        display[label] = latex[label] = UNAVAILABLE if any(reasons) else NOT_AVAILABLE
    elif metric in cols.identity and mean >= cols.identity[metric]:
        # worse than handing the input back untouched: a reader must not miss it
        cols.marked.add("identity")
        display[label] = cell(values, decimals, interval, ROW_MARKS["identity"][0])
        latex[label] = cell(values, decimals, interval, ROW_MARKS["identity"][1], latex=True)
    else:
        # the lower floor first: a score under the majority class is under the layout-blind row too
        low = next((key for key, bound in (("floor", cols.floor), ("layout_blind", cols.layout_blind))
                    if metric in bound and mean <= bound[metric]), None)
        cols.marked.update([low] if low else [])
        low = ROW_MARKS[low] if low else ("", "")
        display[label] = cell(values, decimals, interval, (comparison.mark() if comparison else "") + low[0])
        latex[label] = cell(values, decimals, interval, (comparison.mark(latex=True) if comparison else "") +
                             low[1], latex=True)
    numeric[f"{metric}_mean"], numeric[f"{metric}_std"] = mean, std
    if interval is not None and metric in GENERATION_METRICS:
        numeric[f"{metric}_ci_low"], numeric[f"{metric}_ci_high"] = interval.ci_low, interval.ci_high
    if stats is not None and metric in ACCURACY_METRICS:
        numeric[f"{metric}_ci_low"] = interval.ci_low if interval else math.nan
        numeric[f"{metric}_ci_high"] = interval.ci_high if interval else math.nan
        numeric[f"{metric}_p_holm"] = comparison.p_holm if comparison else math.nan
        numeric[f"{metric}_significant"] = significant
    if metric == "kid" and cols.show_kid_spread:
        spread = [v for r in scored if (v := finite(r.direction(direction).get("kid_std"))) is not None]
        display[KID_SPREAD] = latex[KID_SPREAD] = (
            f"{sum(spread) / len(spread):.4f}" if spread else display[label]
            if not values else NOT_AVAILABLE)
        numeric["kid_subset_std"] = sum(spread) / len(spread) if spread else math.nan


def _run_row(cols: _Columns, variant: str, runs: Sequence[LoadedRun], row_notes: list[str],
             not_provided: list[str]) -> tuple[dict, dict, dict]:
    """(display, latex, numeric) of one spec row: its runs over seeds, its paper numbers."""
    spec, reference = cols.spec, cols.reference
    variant_runs = [r for r in runs if r.variant == variant]
    status, scored = _row_status(variant_runs, spec.direction, cols.n_expected)
    name = reference.display_name(variant)
    if status == "not provided":
        not_provided.append(name)
    why: dict[str, list[int]] = {}  # one note per reason, naming every seed it stopped
    for r in variant_runs:
        if r.failed:
            reason = r.unavailable_reason
            why.setdefault(f"{UNAVAILABLE}: {reason}" if reason else
                           f"{FAILED}: {r.error or 'no error recorded'}", []).append(r.seed)
    for reason, seeds in why.items():
        row_notes.append(f"{name} seed{'s' if len(seeds) > 1 else ''} "
                         f"{', '.join(map(str, sorted(seeds)))} {reason}")
    for r in scored:  # why a metric is missing, whether or not its column is shown
        scores = r.direction(spec.direction)
        for metric, reason in (scores.get("unavailable") or {}).items():
            if metric in METRICS and finite(scores.get(metric)) is None:
                cols.unavailable.setdefault(METRICS[metric][0], set()).add(str(reason))
    seeds = f"{len(scored)}/{cols.n_expected}" if cols.n_expected else str(len(scored))
    display = {"Method": name, "seeds": seeds}
    latex = {"Method": latex_escape(name), "seeds": seeds}
    numeric: dict[str, Any] = {"variant": variant, "method": name, "status": status,
                               "n_seeds": len(scored), "expected_seeds": cols.n_expected}
    for metric in cols.measured:
        _run_metric_cells(cols, variant, metric, status, scored, display, latex, numeric)
    paper = reference.row(spec.paper_table, spec.direction, variant) \
        if cols.paper_metrics else None
    for metric in cols.paper_metrics:
        value = (paper or {}).get(metric)
        display[_paper_label(metric)] = latex[_paper_label(metric)] = \
            _paper_cell(value, metric, PENDING)
        numeric[f"paper_{metric}"] = math.nan if value is None else value
    if cols.show_fid_anchor:
        anchor = reference.fid_anchor(spec.direction, variant)
        display["FID (CUT, 2020)"] = latex["FID (CUT, 2020)"] = \
            PENDING if anchor is None else f"{anchor:.1f}"
        numeric["cut_fid"] = math.nan if anchor is None else anchor
    return display, latex, numeric


def _sanity_row(cols: _Columns, key: str, by_direction: Mapping[str, Any],
                sanity_labels: dict[str, str]) -> tuple[dict, dict, dict] | None:
    """(display, latex, numeric) of one sanity row (what perfect / doing nothing scores), or
    None where neither we nor the paper have it for this direction."""
    spec = cols.spec
    ours = by_direction.get(spec.direction)
    theirs = cols.reference.real_photos_row(spec.direction) \
        if key == "real_photos" and cols.paper_metrics else None
    if ours is None and theirs is None:
        return None
    label = sanity_name(key)
    sanity_labels[label] = str((ours or {}).get("what") or "")
    display = {"Method": label, "seeds": ""}
    numeric = {"variant": key, "method": label, "status": "reference",
               "n_seeds": math.nan, "expected_seeds": math.nan}
    for metric in cols.measured:
        column, decimals = METRICS[metric]
        value = finite((ours or {}).get(metric))
        reason = ((ours or {}).get("unavailable") or {}).get(metric)
        display[column] = f"{value:.{decimals}f}" if value is not None else \
            UNAVAILABLE if reason else ""
        if reason and value is None:
            cols.unavailable.setdefault(METRICS[metric][0], set()).add(str(reason))
        numeric[f"{metric}_mean"] = math.nan if value is None else value
        numeric[f"{metric}_std"] = math.nan
        if metric == "kid" and cols.show_kid_spread:
            spread = finite((ours or {}).get("kid_std"))
            display[KID_SPREAD] = "" if spread is None else f"{spread:.4f}"
            numeric["kid_subset_std"] = math.nan if spread is None else spread
    for metric in cols.paper_metrics:
        value = (theirs or {}).get(metric)
        display[_paper_label(metric)] = _paper_cell(value, metric, "")
        numeric[f"paper_{metric}"] = math.nan if value is None else value
    if cols.show_fid_anchor:
        display["FID (CUT, 2020)"] = ""
        numeric["cut_fid"] = math.nan
    return display, {k: latex_escape(v) for k, v in display.items()}, numeric


def build_table(spec: Mapping[str, Any] | TableSpec, runs: Sequence[LoadedRun],
                provenance: Mapping[str, Any] | None = None,
                reference_rows: Mapping[str, Any] | None = None,
                reference: PaperReference | None = None,
                stats: TableStats | None = None, claims: bool = True) -> BuiltTable:
    """Aggregate the runs of one spec over seeds; every spec row is kept, pending or not.
    `claims`: whether the report writes a claims.md (the heading and notes point to it)."""
    spec = normalize_spec(spec)
    reference = reference or load_reference()
    provenance = provenance or {}
    paper_metrics = _paper_columns(spec, reference)
    cols = _table_columns(spec, runs, provenance, reference, paper_metrics, stats, reference_rows)
    row_notes: list[str] = []
    not_provided: list[str] = []
    rows = [_run_row(cols, variant, runs, row_notes, not_provided) for variant in spec.rows]
    sanity_labels: dict[str, str] = {}  # label -> what the row scored (from the JSON)
    for key, by_direction in sanity_rows(reference_rows).items():
        row = _sanity_row(cols, key, by_direction, sanity_labels)
        if row is not None:
            rows.append(row)

    kid_note = "; ".join(cols.kid_subsets) or "subsets" if cols.show_kid_spread else ""
    notes = table_notes(spec, runs, provenance, reference, paper_metrics, cols.unavailable,
                        not_provided, cols.show_fid_anchor, kid_note, sanity_labels, stats,
                        claims)
    notes += row_notes
    if cols.seed_only:
        notes.append(SEED_INTERVAL_NOTE)
    notes += [MARK_NOTES[m] for m in sorted(cols.marked)]
    if cols.mismatched:
        notes.append(f"No interval or mark for {', '.join(sorted(cols.mismatched))}: the per-image "
                     "scores do not sum to metrics.json (scored by another version?); re-score the runs "
                     "(`benchmark evaluate RUN_DIR`).")
    numeric = pd.DataFrame([n for _, _, n in rows]).astype({"n_seeds": "Int64",
                                                            "expected_seeds": "Int64"})
    return BuiltTable(spec=spec, display=pd.DataFrame([d for d, _, _ in rows]).fillna(""),
                      numeric=numeric, latex_cells=pd.DataFrame([t for _, t, _ in rows]).fillna(""),
                      measured=cols.measured, paper_metrics=paper_metrics, notes=notes,
                      reduced=reduced_profile(provenance), claims=claims,
                      sanity_labels=list(sanity_labels))


def build_tables(specs: Sequence[Mapping[str, Any] | TableSpec],
                 runs: Iterable[Mapping[str, Any] | LoadedRun], out_dir: str | Path,
                 provenance: Mapping[str, Any] | None = None,
                 reference_rows: Mapping[str, Any] | None = None,
                 reference: PaperReference | None = None,
                 stats: Mapping[str, TableStats | None] | None = None,
                 claims: bool = True) -> list[Path]:
    """Write `<id>.{md,tex,csv}` per spec, `per_class_iou.{md,tex,csv}`, `scores_long.csv`
    and, where per-image scores exist, `comparisons.csv`; return the paths.

    `stats`: table id -> its intervals and comparisons (significance.table_stats), computed
    here when not given (write_report computes them once for the tables and the plots)."""
    specs = [normalize_spec(s) for s in specs]
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    ids = [s.id for s in specs]
    if len(set(ids)) != len(ids):
        raise TableSpecError(f"table spec ids must be unique, got {ids}")
    reference = reference or load_reference()
    loaded = load_runs(runs)
    provenance = provenance or {}
    paths: list[Path] = []
    all_stats = []
    for spec in specs:
        table_stats = stats.get(spec.id) if stats is not None else \
            significance.table_stats(spec, loaded)
        built = build_table(spec, loaded, provenance, reference_rows, reference, table_stats, claims)
        paths += writers.write_table(built, out_dir, provenance)
        if table_stats is not None:
            all_stats.append(table_stats)
    tables = per_class.build_per_class(specs, loaded, reference_rows, reference)
    if tables:
        paths += per_class.write_per_class(tables, out_dir, provenance)
    else:
        warnings.warn("no run reports per-class scores yet: per_class_iou.* not written",
                      ReportWarning, stacklevel=2)
    paths.append(writers.write_long(loaded, out_dir, provenance, reference))
    if any(not s.comparisons.empty for s in all_stats):
        paths.append(significance.write_comparisons(all_stats, out_dir, reference))
    return paths

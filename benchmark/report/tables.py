"""The paper's tables rebuilt from finished runs: our numbers beside the reported ones.

Why this shape: a reader must see at once how far each reproduced number is from the paper,
how much it moves between seeds, and which rows are still missing, so every table keeps all
the rows its spec asks for (a pending one shows "—" instead of vanishing) and every file
starts with the provenance (command, commit, dataset, evaluator) that produced it. The same
table is written as Markdown (to read), LaTeX/booktabs (to paste) and CSV (numbers to load
again: `pandas.read_csv(path, comment="#")`).

Run loading lives here too because the plots need exactly the same view of the runs.
"""
from __future__ import annotations

import json
import math
import os
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

import pandas as pd

from benchmark import atomic
from benchmark.atomic import atomic_path as atomic_target
from benchmark.report.reference import PaperReference, load_reference

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
#: decimals the paper reports with, per metric.
PAPER_DECIMALS = {"per_pixel_acc": 2, "per_class_acc": 2, "class_iou": 2, "fid": 1,
                  "kid": 4, "amt_fooled_pct": 1}
PAPER_LABELS = {"amt_fooled_pct": "AMT % fooled"}
PROVENANCE_KEYS = ("command", "commit", "dirty", "dataset", "resolution", "evaluator_hash",
                   "seeds", "profile", "suite", "x_domain", "y_domain", "generated_at")
PENDING = "—"
NOT_AVAILABLE = "n/a"
REAL_PHOTOS = "Real photos (evaluator)"


class ReportWarning(UserWarning):
    """A run or file the report had to skip; the report itself carries on."""


class TableSpecError(ValueError):
    """A table spec from the suite config is malformed; the message names the key."""


# --------------------------------------------------------------------------- small utilities

def atomic_write_text(path: str | Path, text: str) -> Path:
    """Write a table atomically (benchmark.atomic) and return its path."""
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


# --------------------------------------------------------------------------- specs and runs

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


@dataclass(frozen=True)
class LoadedRun:
    """One run record with its metrics.json read (None while pending or unreadable)."""

    variant: str
    seed: int
    run_dir: Path
    config_hash: str
    metrics: Mapping[str, Any] | None

    def direction(self, direction: str) -> Mapping[str, Any] | None:
        if self.metrics is None:
            return None
        return (self.metrics.get("directions") or {}).get(direction)


def _read_metrics(run_dir: Path) -> Mapping[str, Any] | None:
    path = run_dir / "metrics.json"
    if not path.is_file():
        warnings.warn(f"no metrics.json in {run_dir}: counted as pending", ReportWarning,
                      stacklevel=3)
        return None
    try:
        metrics = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as err:
        warnings.warn(f"unreadable {path} ({err}): counted as pending; delete it to rerun "
                      "the evaluation", ReportWarning, stacklevel=3)
        return None
    if not isinstance(metrics, dict) or not isinstance(metrics.get("directions"), dict):
        warnings.warn(f"{path} has no 'directions' mapping: counted as pending",
                      ReportWarning, stacklevel=3)
        return None
    return metrics


def load_runs(runs: Iterable[Mapping[str, Any] | LoadedRun]) -> list[LoadedRun]:
    """Read every run's metrics; a (variant, seed) listed twice keeps its newest metrics."""
    loaded: dict[tuple[str, int], LoadedRun] = {}
    for record in runs:
        if isinstance(record, LoadedRun):
            run = record
        else:
            try:
                run_dir = Path(record["run_dir"])
                run = LoadedRun(variant=str(record["variant"]), seed=int(record["seed"]),
                                run_dir=run_dir, config_hash=str(record.get("config_hash", "")),
                                metrics=_read_metrics(run_dir))
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


def variant_order(specs: Sequence[Mapping[str, Any] | TableSpec],
                  direction: str | None = None) -> list[str]:
    """The variants the specs ask for (all, or those of one direction), first-seen order."""
    order: list[str] = []
    for spec in map(normalize_spec, specs):
        if direction is None or spec.direction == direction:
            order += [v for v in spec.rows if v not in order]
    return order


def _finite(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value) if math.isfinite(value) else None


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
                value = _finite(scores.get(metric))
                if value is not None:
                    records.append({"variant": run.variant, "seed": run.seed,
                                    "direction": direction, "metric": metric, "value": value})
    return pd.DataFrame(records, columns=["variant", "seed", "direction", "metric", "value"])


def per_class_frame(runs: Sequence[LoadedRun], key: str = "iou") -> pd.DataFrame:
    """Long form per-class scores (`key` 'iou' or 'acc'); null values (class absent) dropped."""
    records = []
    for run in runs:
        if run.metrics is None:
            continue
        for direction, scores in run.metrics["directions"].items():
            per_class = scores.get("per_class") if isinstance(scores, Mapping) else None
            for cls, values in (per_class or {}).items():
                value = _finite((values or {}).get(key))
                if value is not None:
                    records.append({"variant": run.variant, "seed": run.seed,
                                    "direction": direction, "class": cls, "value": value})
    return pd.DataFrame(records, columns=["variant", "seed", "direction", "class", "value"])


def class_names(runs: Sequence[LoadedRun], direction: str,
                reference_rows: Mapping[str, Any] | None = None) -> list[str]:
    """Classes in the order the evaluator wrote them (first run that lists them wins)."""
    names: list[str] = []
    sources = [r.direction(direction) for r in runs]
    sources.append((reference_rows or {}).get(direction))
    for scores in sources:
        for cls in ((scores or {}).get("per_class") or {}):
            if cls not in names:
                names.append(cls)
    return names


# --------------------------------------------------------------------------- the table model

def _mean_std(values: Sequence[float]) -> tuple[float, float]:
    series = pd.Series(values, dtype=float)
    return float(series.mean()), float(series.std(ddof=1)) if len(series) > 1 else math.nan


def format_mean_std(values: Sequence[float], decimals: int, pm: str = " ± ") -> str:
    """'0.523 ± 0.012' over seeds (sample std); one seed prints its value alone."""
    if not values:
        return NOT_AVAILABLE
    mean, std = _mean_std(values)
    if len(values) == 1:
        return f"{mean:.{decimals}f}"
    return f"{mean:.{decimals}f}{pm}{std:.{decimals}f}"


@dataclass
class BuiltTable:
    """One table in the three shapes the writers need, plus the notes printed with it."""

    spec: TableSpec
    display: pd.DataFrame   # formatted strings, flat columns (Markdown)
    numeric: pd.DataFrame   # means / stds / paper values (CSV)
    latex_cells: pd.DataFrame  # formatted strings with LaTeX markup
    measured: list[str]
    paper_metrics: list[str]
    notes: list[str]


def _paper_columns(spec: TableSpec, reference: PaperReference) -> list[str]:
    if spec.paper_table is None:
        return []
    table = reference.table(spec.paper_table)  # an unknown table id is a typo: raises
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
    present = set()
    for run in runs:
        scores = run.direction(spec.direction) if run.variant in spec.rows else None
        present |= {m for m in METRICS if _finite((scores or {}).get(m)) is not None}
    if not present & set(ACCURACY_METRICS):
        # Nothing scored yet: show the columns the paper table is about (or FID/KID for
        # tables, like the AMT one, whose metric software cannot measure).
        wanted = [m for m in paper_metrics if m in METRICS] or list(GENERATION_METRICS)
        if not present or set(wanted) & set(ACCURACY_METRICS):
            present |= set(wanted)
    return [m for m in METRICS if m in present]


def build_table(spec: Mapping[str, Any] | TableSpec, runs: Sequence[LoadedRun],
                provenance: Mapping[str, Any] | None = None,
                reference_rows: Mapping[str, Any] | None = None,
                reference: PaperReference | None = None) -> BuiltTable:
    """Aggregate the runs of one spec over seeds; every spec row is kept, pending or not."""
    spec = normalize_spec(spec)
    reference = reference or load_reference()
    provenance = provenance or {}
    paper_metrics = _paper_columns(spec, reference)
    measured = _measured_columns(spec, runs, paper_metrics)
    n_expected = expected_seeds(provenance)
    show_fid_anchor = "fid" in measured and reference.fid_anchors is not None and \
        spec.direction in reference.fid_anchors.directions

    display_rows, latex_rows, numeric_rows = [], [], []
    unavailable: dict[str, set[str]] = {}
    not_provided = []
    for variant in spec.rows:
        variant_runs = [r for r in runs if r.variant == variant]
        finished = [r for r in variant_runs if r.metrics is not None]
        scored = [r for r in finished if r.direction(spec.direction) is not None]
        if not finished:
            status = "pending"
        elif not scored:
            status = "not provided"
            not_provided.append(reference.display_name(variant))
        elif len(scored) < max(len(variant_runs), n_expected or 0):
            status = "partial"
        else:
            status = "done"
        for r in scored:  # why a metric is missing, whether or not its column is shown
            scores = r.direction(spec.direction)
            for metric, reason in (scores.get("unavailable") or {}).items():
                if metric in METRICS and _finite(scores.get(metric)) is None:
                    unavailable.setdefault(METRICS[metric][0], set()).add(str(reason))
        seeds = f"{len(scored)}/{n_expected}" if n_expected else str(len(scored))
        name = reference.display_name(variant)
        display = {"Method": name, "seeds": seeds}
        latex = {"Method": latex_escape(name), "seeds": seeds}
        numeric: dict[str, Any] = {"variant": variant, "method": name, "status": status,
                                   "n_seeds": len(scored), "expected_seeds": n_expected}
        for metric in measured:
            label, decimals = METRICS[metric]
            values = [v for r in scored
                      if (v := _finite(r.direction(spec.direction).get(metric))) is not None]
            if status == "pending":
                display[label] = latex[label] = PENDING
            elif not values:
                display[label] = latex[label] = NOT_AVAILABLE
            else:
                display[label] = format_mean_std(values, decimals)
                latex[label] = format_mean_std(values, decimals, pm=r" $\pm$ ")
            mean, std = _mean_std(values) if values else (math.nan, math.nan)
            numeric[f"{metric}_mean"], numeric[f"{metric}_std"] = mean, std
        paper = reference.row(spec.paper_table, spec.direction, variant) \
            if paper_metrics else None
        for metric in paper_metrics:
            label = f"paper {PAPER_LABELS.get(metric, METRICS.get(metric, (metric,))[0])}"
            value = (paper or {}).get(metric)
            cell = PENDING if value is None else f"{value:.{PAPER_DECIMALS.get(metric, 2)}f}"
            display[label] = latex[label] = cell
            numeric[f"paper_{metric}"] = math.nan if value is None else value
        if show_fid_anchor:
            anchor = reference.fid_anchor(spec.direction, variant)
            display["FID (CUT, 2020)"] = latex["FID (CUT, 2020)"] = \
                PENDING if anchor is None else f"{anchor:.1f}"
            numeric["cut_fid"] = math.nan if anchor is None else anchor
        display_rows.append(display)
        latex_rows.append(latex)
        numeric_rows.append(numeric)

    # The ceiling of a labels->photo table: the evaluator on real photos (ours and the paper's).
    ours_real = (reference_rows or {}).get(spec.direction)
    paper_real = reference.real_photos_row(spec.direction) if paper_metrics else None
    if ours_real is not None or paper_real is not None:
        display = {"Method": REAL_PHOTOS, "seeds": ""}
        numeric = {"variant": "real_photos", "method": REAL_PHOTOS, "status": "reference",
                   "n_seeds": math.nan, "expected_seeds": math.nan}
        for metric in measured:
            label, decimals = METRICS[metric]
            value = _finite((ours_real or {}).get(metric))
            display[label] = PENDING if value is None else f"{value:.{decimals}f}"
            numeric[f"{metric}_mean"] = math.nan if value is None else value
            numeric[f"{metric}_std"] = math.nan
        for metric in paper_metrics:
            label = f"paper {PAPER_LABELS.get(metric, METRICS.get(metric, (metric,))[0])}"
            value = (paper_real or {}).get(metric)
            display[label] = PENDING if value is None else \
                f"{value:.{PAPER_DECIMALS.get(metric, 2)}f}"
            numeric[f"paper_{metric}"] = math.nan if value is None else value
        if show_fid_anchor:
            display["FID (CUT, 2020)"] = PENDING
            numeric["cut_fid"] = math.nan
        display_rows.append(display)
        latex_rows.append(dict(display))
        numeric_rows.append(numeric)

    notes = _notes(spec, runs, provenance, reference, paper_metrics, measured, unavailable,
                   not_provided, show_fid_anchor,
                   real_row=ours_real is not None or paper_real is not None)
    numeric = pd.DataFrame(numeric_rows).astype({"n_seeds": "Int64", "expected_seeds": "Int64"})
    return BuiltTable(spec=spec, display=pd.DataFrame(display_rows),
                      numeric=numeric, latex_cells=pd.DataFrame(latex_rows),
                      measured=measured, paper_metrics=paper_metrics, notes=notes)


def _notes(spec: TableSpec, runs: Sequence[LoadedRun], provenance: Mapping[str, Any],
           reference: PaperReference, paper_metrics: Sequence[str], measured: Sequence[str],
           unavailable: Mapping[str, set[str]], not_provided: Sequence[str],
           show_fid_anchor: bool, real_row: bool) -> list[str]:
    notes = ["Cells: mean ± sample std (ddof=1) over seeds; a single seed shows its value "
             f"alone. {PENDING} = pending (no finished run yet); {NOT_AVAILABLE} = not "
             "produced (reason below)."]
    if spec.paper_table and not paper_metrics:
        table = reference.table(spec.paper_table)
        notes.append(f"No paper columns: {table.title.split(':')[0]} of {reference.cite} "
                     f"reports {', '.join(map(direction_label, table.directions))} on "
                     f"{table.dataset}, not {direction_label(spec.direction)}.")
    if paper_metrics:
        table = reference.table(spec.paper_table)
        notes.append(f"paper = {table.title.split(':')[0]} of {reference.cite}.")
        dataset = provenance.get("dataset")
        if dataset and str(dataset) != table.dataset:
            notes.append(f"The paper's numbers are for {table.dataset}; these runs are on "
                         f"{dataset}: compare the ordering of the rows, not the values.")
    if real_row:
        source = reference.real_photos.source if reference.real_photos else "—"
        notes.append(f"{REAL_PHOTOS}: the suite's segmentation evaluator on the real test "
                     f"photos (ours); paper column: {source}. It is the table's ceiling.")
    if show_fid_anchor:
        anchors = reference.fid_anchors
        notes.append(f"FID (CUT, 2020): {anchors.source}, {anchors.protocol}; a different "
                     "tool and resolution than ours, so context rather than a target.")
    for label, reasons in sorted(unavailable.items()):
        notes.append(f"{label} unavailable: " + "; ".join(sorted(reasons)))
    if not_provided:
        notes.append(f"{NOT_AVAILABLE} rows ({', '.join(not_provided)}): the model does not "
                     f"translate {direction_label(spec.direction)}.")
    evaluations = {json.dumps(r.metrics.get("evaluation", {}), sort_keys=True)
                   for r in runs if r.metrics is not None and r.variant in spec.rows
                   and r.direction(spec.direction) is not None}
    if len(evaluations) == 1:
        evaluation = json.loads(evaluations.pop())
        if evaluation:
            notes.append("Evaluation: " + ", ".join(f"{k}={v}" for k, v in evaluation.items()))
    elif len(evaluations) > 1:
        hashes = sorted({json.loads(e).get("evaluator_hash", "?") for e in evaluations})
        notes.append("WARNING: the runs were scored with different evaluation settings "
                     f"(evaluator hashes {', '.join(map(str, hashes))}); rows may not be "
                     "comparable; re-evaluate them with one evaluator.")
    return notes


# --------------------------------------------------------------------------- writers

#: Characters LaTeX treats specially in a plain-text cell, and what to write instead.
LATEX_ESCAPES = {**{ch: "\\" + ch for ch in "&%$#_{}"}, "~": r"\textasciitilde{}",
                 "^": r"\textasciicircum{}", "\\": r"\textbackslash{}", "→": r"$\to$",
                 "±": r"$\pm$", "↔": r"$\leftrightarrow$"}


def latex_escape(text: str) -> str:
    """Escape the characters LaTeX treats specially in a plain-text cell."""
    return "".join(LATEX_ESCAPES.get(ch, ch) for ch in str(text))


def header_lines(title: str, provenance: Mapping[str, Any] | None,
                 notes: Sequence[str] = ()) -> list[str]:
    """The provenance block every table file starts with (one 'key: value' per line)."""
    provenance = dict(provenance or {})
    keys = [k for k in PROVENANCE_KEYS if k in provenance] + \
        sorted(k for k in provenance if k not in PROVENANCE_KEYS)
    lines = [title, "generated by benchmark.report from the run store; provenance:"]
    for key in keys:
        value = provenance[key]
        if not isinstance(value, str):
            value = json.dumps(value, default=str)
        lines.append(f"  {key}: {value}")
    lines += [f"note: {n}" for n in notes]
    # A newline inside a value would end the comment line and leak into the table body.
    return [" ".join(line.splitlines()) for line in lines]


def markdown_comment(lines: Sequence[str]) -> str:
    body = "\n".join(line.replace("-->", "-- >") for line in lines)
    return f"<!--\n{body}\n-->\n"


def prefixed_comment(lines: Sequence[str], prefix: str) -> str:
    return "".join(f"{prefix} {line}".rstrip() + "\n" for line in lines)


def _markdown(frame: pd.DataFrame) -> str:
    align = ["left"] + ["right"] * (frame.shape[1] - 1)
    # disable_numparse: keep our formatting ("0.80", not tabulate's re-parsed "0.8").
    return frame.to_markdown(index=False, colalign=align, disable_numparse=True)


def _latex_tabular(cells: pd.DataFrame, header: pd.MultiIndex | None = None,
                   midrule_before: str | None = None) -> str:
    """booktabs tabular from already-escaped cells (pandas' Styler, no re-escaping)."""
    frame = cells.replace(PENDING, "---")  # the TeX em dash, independent of input encoding
    frame.columns = header if header is not None else [latex_escape(c) for c in frame.columns]
    tabular = frame.style.hide(axis="index").to_latex(
        hrules=True, column_format="l" + "r" * (frame.shape[1] - 1), multicol_align="c")
    if midrule_before:
        lines = tabular.splitlines()
        for i, line in enumerate(lines):
            if line.startswith(midrule_before):
                lines.insert(i, r"\midrule")
                break
        tabular = "\n".join(lines) + "\n"
    return tabular


def _latex_table(tabular: str, caption: str, label: str, resize: bool = False) -> str:
    body = f"\\resizebox{{\\linewidth}}{{!}}{{%\n{tabular}}}\n" if resize else tabular
    return (f"\\begin{{table}}[t]\n\\centering\n\\caption{{{latex_escape(caption)}}}\n"
            f"\\label{{tab:{label}}}\n{body}\\end{{table}}\n")


def _write_table(built: BuiltTable, out_dir: Path, provenance: Mapping[str, Any]) -> list[Path]:
    spec = built.spec
    lines = header_lines(spec.title, provenance, built.notes)
    md = (markdown_comment(lines) + f"\n### {spec.title}\n\n" + _markdown(built.display) +
          "\n\n" + "".join(f"* {n}\n" for n in built.notes))
    measured_labels = [METRICS[m][0] for m in built.measured]
    header = []
    for column in built.latex_cells.columns:
        if column in ("Method", "seeds"):
            header.append(("", latex_escape(column)))
        elif column in measured_labels:
            header.append((r"reproduced (mean $\pm$ std)", latex_escape(column)))
        elif column.startswith("paper "):
            header.append(("paper", latex_escape(column.removeprefix("paper "))))
        else:
            header.append(("context", latex_escape(column)))
    tabular = _latex_tabular(built.latex_cells, pd.MultiIndex.from_tuples(header),
                             midrule_before=REAL_PHOTOS)
    tex = (prefixed_comment(lines + ["needs \\usepackage{booktabs}"], "%") +
           _latex_table(tabular, spec.title, spec.id))
    csv = prefixed_comment(lines, "#") + built.numeric.to_csv(index=False)
    paths = []
    for suffix, text in ((".md", md), (".tex", tex), (".csv", csv)):
        paths.append(atomic_write_text(out_dir / f"{spec.id}{suffix}", text))
    return paths


def build_per_class(specs: Sequence[TableSpec], runs: Sequence[LoadedRun],
                    reference_rows: Mapping[str, Any] | None = None,
                    reference: PaperReference | None = None) -> dict[str, pd.DataFrame]:
    """Per direction: variants × classes, class IoU averaged over seeds (NaN where absent)."""
    reference = reference or load_reference()
    frame = per_class_frame(runs)
    tables = {}
    for direction in dict.fromkeys(s.direction for s in specs):
        classes = class_names(runs, direction, reference_rows)
        if not classes:
            continue
        rows = []
        for variant in variant_order(specs, direction):
            values = frame[(frame.variant == variant) & (frame.direction == direction)]
            n = int(sum(r.direction(direction) is not None for r in runs if r.variant == variant))
            row = {"direction": direction, "variant": variant,
                   "method": reference.display_name(variant), "n_seeds": n}
            means = values.groupby("class")["value"].mean()
            row.update({c: float(means[c]) if c in means.index else math.nan for c in classes})
            rows.append(row)
        real = ((reference_rows or {}).get(direction) or {}).get("per_class")
        if real:
            row = {"direction": direction, "variant": "real_photos", "method": REAL_PHOTOS,
                   "n_seeds": math.nan}
            row.update({c: _finite((real.get(c) or {}).get("iou")) for c in classes})
            rows.append(row)
        tables[direction] = pd.DataFrame(rows).astype({"n_seeds": "Int64",
                                                       **{c: float for c in classes}})
    return tables


def _write_per_class(tables: Mapping[str, pd.DataFrame], out_dir: Path,
                     provenance: Mapping[str, Any]) -> list[Path]:
    title = "Per-class IoU (mean over seeds)"
    notes = [f"{PENDING} = pending or class absent from both prediction and ground truth; "
             f"{REAL_PHOTOS} = the evaluator on real test photos."]
    lines = header_lines(title, provenance, notes)
    md_parts, tex_parts = [markdown_comment(lines)], [prefixed_comment(
        lines + ["needs \\usepackage{booktabs,graphicx}"], "%")]
    for direction, table in tables.items():
        classes = [c for c in table.columns if c not in ("direction", "variant", "method",
                                                         "n_seeds")]
        cells = table[["method"] + classes].copy()
        cells[classes] = cells[classes].map(lambda v: PENDING if pd.isna(v) else f"{v:.2f}")
        md_cells = cells.rename(columns={"method": "Method"})
        md_parts.append(f"\n### {title}, {direction_label(direction)}\n\n" +
                        _markdown(md_cells) + "\n")
        tex_cells = cells.copy()
        tex_cells["method"] = tex_cells["method"].map(latex_escape)
        tex_cells.columns = ["Method"] + [rf"\rotatebox{{90}}{{{latex_escape(c)}}}"
                                          for c in classes]
        tabular = _latex_tabular(tex_cells, pd.Index(tex_cells.columns),
                                 midrule_before=REAL_PHOTOS)
        tex_parts.append(_latex_table(tabular, f"{title}, {direction_label(direction)}",
                                      f"per_class_iou_{direction}", resize=True))
    md_parts.append("\n" + "".join(f"* {n}\n" for n in notes))
    combined = pd.concat(list(tables.values()), ignore_index=True) if tables else \
        pd.DataFrame(columns=["direction", "variant", "method", "n_seeds"])
    csv = prefixed_comment(lines, "#") + combined.to_csv(index=False)
    return [atomic_write_text(out_dir / "per_class_iou.md", "".join(md_parts)),
            atomic_write_text(out_dir / "per_class_iou.tex", "\n".join(tex_parts)),
            atomic_write_text(out_dir / "per_class_iou.csv", csv)]


def build_tables(specs: Sequence[Mapping[str, Any] | TableSpec],
                 runs: Iterable[Mapping[str, Any] | LoadedRun], out_dir: str | Path,
                 provenance: Mapping[str, Any] | None = None,
                 reference_rows: Mapping[str, Any] | None = None,
                 reference: PaperReference | None = None) -> list[Path]:
    """Write `<id>.{md,tex,csv}` per spec and `per_class_iou.{md,tex,csv}`; return the paths."""
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
    for spec in specs:
        built = build_table(spec, loaded, provenance, reference_rows, reference)
        paths += _write_table(built, out_dir, provenance)
    per_class = build_per_class(specs, loaded, reference_rows, reference)
    if per_class:
        paths += _write_per_class(per_class, out_dir, provenance)
    else:
        warnings.warn("no run reports per-class scores yet: per_class_iou.* not written",
                      ReportWarning, stacklevel=2)
    return paths

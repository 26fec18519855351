"""Per-class IoU: which of the 19 classes a variant gets right, beside the ceiling rows.

Why a table of its own: the class means of Tables 2-5 hide that a model can be good on road,
sky and vegetation and fail every small class; the per-class table (and its heatmap in
plots.py) shows where a difference between variants comes from.
"""
from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from benchmark.report.reference import PaperReference, load_reference
from benchmark.report.runs import (
    PENDING,
    LoadedRun,
    TableSpec,
    atomic_write_text,
    class_names,
    direction_label,
    finite,
    per_class_frame,
    sanity_name,
    sanity_rows,
    variant_order,
)
from benchmark.report.writers import (
    header_lines,
    latex_escape,
    latex_table,
    latex_tabular,
    markdown,
    markdown_comment,
    prefixed_comment,
)

META_COLUMNS = ("direction", "variant", "method", "n_seeds")


def build_per_class(specs: Sequence[TableSpec], runs: Sequence[LoadedRun],
                    reference_rows: Mapping[str, Any] | None = None,
                    reference: PaperReference | None = None) -> dict[str, pd.DataFrame]:
    """Per direction: variants × classes, class IoU averaged over seeds (NaN where absent),
    then the sanity rows that report per-class scores for that direction."""
    reference = reference or load_reference()
    frame = per_class_frame(runs)
    sanity = sanity_rows(reference_rows)
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
        for key, by_direction in sanity.items():
            real = (by_direction.get(direction) or {}).get("per_class")
            if real:
                row = {"direction": direction, "variant": key, "method": sanity_name(key),
                       "n_seeds": math.nan}
                row.update({c: finite((real.get(c) or {}).get("iou")) for c in classes})
                rows.append(row)
        tables[direction] = pd.DataFrame(rows).astype({"n_seeds": "Int64",
                                                       **{c: float for c in classes}})
    return tables


def write_per_class(tables: Mapping[str, pd.DataFrame], out_dir: Path,
                    provenance: Mapping[str, Any]) -> list[Path]:
    """`per_class_iou.{md,tex,csv}`: one block per direction (the CSV: all, long by row)."""
    title = "Per-class IoU (mean over seeds)"
    notes = [f"{PENDING} = pending or class absent from both prediction and ground truth; "
             "rows below the rule are the sanity rows (real photos through the evaluator, "
             "snapped ground truth)."]
    lines = header_lines(title, provenance, notes)
    md_parts, tex_parts = [markdown_comment(lines)], [prefixed_comment(
        lines + ["needs \\usepackage{booktabs,graphicx}"], "%")]
    for direction, table in tables.items():
        classes = [c for c in table.columns if c not in META_COLUMNS]
        cells = table[["method"] + classes].copy()
        cells[classes] = cells[classes].map(lambda v: PENDING if pd.isna(v) else f"{v:.2f}")
        md_cells = cells.rename(columns={"method": "Method"})
        md_parts.append(f"\n### {title}, {direction_label(direction)}\n\n" +
                        markdown(md_cells) + "\n")
        tex_cells = cells.copy()
        tex_cells["method"] = tex_cells["method"].map(latex_escape)
        tex_cells.columns = ["Method"] + [rf"\rotatebox{{90}}{{{latex_escape(c)}}}"
                                          for c in classes]
        sanity = table.loc[table.n_seeds.isna(), "method"]
        tabular = latex_tabular(tex_cells, pd.Index(tex_cells.columns),
                                midrule_before=latex_escape(sanity.iloc[0])
                                if len(sanity) else None)
        tex_parts.append(latex_table(tabular, f"{title}, {direction_label(direction)}",
                                     f"per_class_iou_{direction}", resize=True))
    md_parts.append("\n" + "".join(f"* {n}\n" for n in notes))
    combined = pd.concat(list(tables.values()), ignore_index=True) if tables else \
        pd.DataFrame(columns=list(META_COLUMNS))
    return [atomic_write_text(out_dir / "per_class_iou.md", "".join(md_parts)),
            atomic_write_text(out_dir / "per_class_iou.tex", "\n".join(tex_parts)),
            atomic_write_text(out_dir / "per_class_iou.csv", combined.to_csv(index=False))]

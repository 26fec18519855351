"""Reports from the run store: the paper's tables with our numbers beside its own, plus plots.

`write_report` is what `benchmark report <suite> <dataset>` calls: it reads only finished
run directories, so it can run while a suite is still training and simply shows the missing
rows as pending. Everything it writes carries the provenance (command, commit, dataset,
evaluator) so that a table found later in `results/` says how it was made.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

from benchmark.report.reference import PaperReference, load_reference
from benchmark.report.tables import (PROVENANCE_KEYS, LoadedRun, ReportWarning, TableSpec,
                                     atomic_write_text, build_tables, load_runs,
                                     normalize_spec)

__all__ = ["write_report", "build_tables", "make_plots", "load_reference", "ReportWarning"]


def make_plots(*args, **kwargs):
    """Imported lazily: seaborn/matplotlib cost a second, and tables alone do not need them."""
    from benchmark.report.plots import make_plots as _make_plots
    return _make_plots(*args, **kwargs)


def _describe(path: Path) -> str:
    name = path.name
    if name.startswith("per_class_iou") and name.endswith(".png"):
        return "heatmap of per-class IoU, variants × classes"
    if name.startswith("per_class_iou"):
        return "per-class IoU table, every direction"
    if name.startswith("bars_"):
        return "scores per variant: mean ± sd over seeds, seeds as dots, paper as diamonds"
    if name.startswith("samples_"):
        return "the same test inputs translated by every variant"
    if name == "provenance.json":
        return "how these files were made (command, commit, dataset, evaluator, seeds)"
    if name == "losses.png":
        return "training-loss curves per variant"
    return {".md": "table (Markdown)", ".tex": "table (LaTeX, booktabs)",
            ".csv": "table (numbers; pandas.read_csv(path, comment='#'))"}.get(path.suffix, "")


def _readme(specs: Sequence[TableSpec], files: Mapping[str, list[Path]], out_dir: Path,
            provenance: Mapping[str, Any], reference: PaperReference) -> str:
    suite, dataset = provenance.get("suite", "?"), provenance.get("dataset", "?")
    lines = [f"# Report: suite `{suite}` on `{dataset}`", "",
             f"Reproduced numbers beside those reported in {reference.cite}. "
             "Regenerate with the command below; tables show pending rows as —.", "",
             "## Provenance", ""]
    keys = [k for k in PROVENANCE_KEYS if k in provenance] + \
        sorted(k for k in provenance if k not in PROVENANCE_KEYS)
    for key in keys:
        value = provenance[key]
        value = value if isinstance(value, str) else json.dumps(value, default=str)
        lines.append(f"* **{key}**: `{value}`")
    lines += ["", "## Tables", ""]
    for spec in specs:
        lines.append(f"* {spec.title}: " + ", ".join(
            f"[{p.name}]({p.name})" for p in files["tables"] if p.stem == spec.id))
    per_class = [p for p in files["tables"] if p.stem == "per_class_iou"]
    if per_class:
        lines.append("* Per-class IoU: " + ", ".join(f"[{p.name}]({p.name})" for p in per_class))
    if files["plots"]:
        lines += ["", "## Figures", ""]
        for path in files["plots"]:
            lines += [f"### {path.name}: {_describe(path)}", "",
                      f"![{path.stem}]({path.relative_to(out_dir).as_posix()})", ""]
    lines += ["", "## All files", ""]
    for group, paths in files.items():
        lines += [f"* `{p.relative_to(out_dir).as_posix()}` ({group}): {_describe(p)}"
                  for p in paths]
    lines.append("* `README.md`: this file")
    return "\n".join(lines) + "\n"


def write_report(specs: Sequence[Mapping[str, Any] | TableSpec],
                 runs: Iterable[Mapping[str, Any] | LoadedRun], out_dir: str | Path,
                 provenance: Mapping[str, Any] | None = None,
                 reference_rows: Mapping[str, Any] | None = None,
                 plots: bool = True) -> dict[str, list[Path]]:
    """Write the tables, the figures (unless plots=False), provenance.json and README.md.

    Returns {"tables": [...], "plots": [...], "meta": [provenance.json, README.md]}.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    specs = [normalize_spec(s) for s in specs]
    provenance = dict(provenance or {})
    reference = load_reference()
    loaded = load_runs(runs)
    files: dict[str, list[Path]] = {
        "tables": build_tables(specs, loaded, out_dir, provenance, reference_rows, reference),
        "plots": make_plots(specs, loaded, out_dir, reference_rows, reference) if plots else [],
    }
    meta = [atomic_write_text(out_dir / "provenance.json",
                              json.dumps(provenance, indent=2, default=str) + "\n")]
    files["meta"] = meta
    meta.append(atomic_write_text(out_dir / "README.md",
                                  _readme(specs, files, out_dir, provenance, reference)))
    return files

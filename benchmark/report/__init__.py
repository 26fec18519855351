"""Reports from the run store: the paper's tables with our numbers beside its own, plus plots.

`write_report` is what `benchmark report <suite> <dataset>` calls: it reads the finished (and
failed) run directories, so it can run while a suite is still training and shows the missing
rows as pending, the failed ones as failed. Everything it writes carries the provenance
(command, commit, dataset, evaluator, profile, precision, scoring rule), so that a table found
later in `results/` says how it was made.

A report replaces its folder as one set: every file is written into a new folder beside the
old one, which is then swapped in. A reader (or a `git diff` of results/) never sees new tables
beside old figures, and a figure the new report no longer draws is gone, not left stale.
"""
from __future__ import annotations

import json
import shutil
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from benchmark.atomic import replace_folder
from benchmark.report.claims import write_claims
from benchmark.report.index import readme
from benchmark.report.reference import PaperReference, load_reference
from benchmark.report.runs import LoadedRun, ReportWarning, TableSpec, atomic_write_text, load_runs, normalize_spec
from benchmark.report.significance import table_stats
from benchmark.report.tables import build_tables

__all__ = ["write_report", "build_tables", "make_plots", "load_reference", "ReportWarning"]


def make_plots(*args, **kwargs):
    """Imported lazily: seaborn/matplotlib cost a second, and tables alone do not need them."""
    from benchmark.report.plots import make_plots as _make_plots
    return _make_plots(*args, **kwargs)




def _write_all(specs: Sequence[TableSpec], loaded: list[LoadedRun], out_dir: Path,
               provenance: Mapping[str, Any], reference_rows, plots: bool,
               sample_sources, previous: Path | None = None,
               reference: PaperReference | None = None) -> dict[str, list[Path]]:
    reference = reference or load_reference()
    stats = {spec.id: table_stats(spec, loaded) for spec in specs}
    claims = write_claims(stats, out_dir, provenance, reference)
    files: dict[str, list[Path]] = {
        "claims": claims,
        "tables": build_tables(specs, loaded, out_dir, provenance, reference_rows, reference,
                               stats, claims=bool(claims)),
        "plots": make_plots(specs, loaded, out_dir, reference_rows, reference,
                            sample_sources=sample_sources, stats=stats) if plots else [],
    }
    meta = [atomic_write_text(out_dir / "provenance.json",
                              json.dumps(provenance, indent=2, default=str) + "\n")]
    files["meta"] = meta
    if plots:  # the page shows the figures: a tables-only report (plots=False) writes none
        from benchmark.report.html import write_html  # jinja2 and the images: only when wanted
        files["html"] = write_html(specs, loaded, out_dir, provenance, files, reference,
                                   sample_sources, previous)
    meta.append(atomic_write_text(out_dir / "README.md",
                                  readme(specs, files, out_dir, provenance, reference)))
    return files


def write_report(specs: Sequence[Mapping[str, Any] | TableSpec],
                 runs: Iterable[Mapping[str, Any] | LoadedRun], out_dir: str | Path,
                 provenance: Mapping[str, Any] | None = None,
                 reference_rows: Mapping[str, Any] | None = None,
                 plots: bool = True,
                 sample_sources: Callable[[str, Sequence[str]], Mapping] | None = None,
                 reference: PaperReference | None = None) -> dict[str, list[Path]]:
    """Write the tables, the figures and the results page index.html with its images (unless
    plots=False), provenance.json and README.md as one set that replaces `out_dir` (see
    benchmark.atomic.replace_folder).

    `reference_rows`: benchmark.run.sanity.reference_rows' JSON (sanity rows); `sample_sources`:
    (direction, stems) -> {"input": {stem: image}, "ground truth": {...}} for the sample grids;
    `reference`: the published numbers printed beside ours (default: the packaged CycleGAN
    paper's, benchmark/reference/cyclegan_2017.yaml; a suite may name its own).
    Returns {"claims": [...], "tables": [...], "plots": [...], "meta": [provenance.json,
    README.md], "html": [index.html, pages...]}, paths in `out_dir`.
    """
    out_dir = Path(out_dir)
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    specs = [normalize_spec(s) for s in specs]
    loaded = load_runs(runs)
    # mkdir (not mkdtemp): the folder gets the umask's permissions, as the old one had.
    staging = out_dir.with_name(f".{out_dir.name}.new-{uuid.uuid4().hex[:8]}")
    staging.mkdir()
    try:
        files = _write_all(specs, loaded, staging, dict(provenance or {}), reference_rows,
                           plots, sample_sources, previous=out_dir, reference=reference)
        replace_folder(staging, out_dir)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return {group: [out_dir / p.relative_to(staging) for p in paths]
            for group, paths in files.items()}

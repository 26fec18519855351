"""The report folder's README.md: one index page with every table inline, figures, files.

Why inline tables: a suite like `paper` writes Tables 2-5 into one folder, and the reader's
first question ("does CycleGAN beat the baselines here, and is that significant?") should be
answered on the one page GitHub shows for the folder, with the provenance above it and the
heading saying plainly when the numbers come from a reduced profile.
"""
from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from benchmark.report.reference import PaperReference
from benchmark.report.runs import PROVENANCE_KEYS, TableSpec

DESCRIPTIONS = {
    "provenance.json": "how these files were made (command, commit, dataset, evaluator, "
                       "seeds, profile, precision, scoring rule, every run's config hash)",
    "losses.png": "training-loss curves per variant",
    "scores_long.csv": "every score in long format: one row per run × direction × metric, "
                       "with variant, seed, config hash, commit, profile, dataset, precision, "
                       "scoring rule (`pandas.read_csv(path)`)",
    "comparisons.csv": "each variant minus CycleGAN per table and metric: difference with its "
                       "recipe interval, Welch p, Holm p, P(improvement), seeds for 80% power, and "
                       "the image-level test of these checkpoints (checkpoints_*)",
    "claims.md": "the paper's claims with a verdict each (holds / contradicted / inconclusive)",
    "claims.csv": "the claims table (plain CSV: `pandas.read_csv(path)`)",
    "index.html": "this report as a page that opens from the file system, with every test image "
                  "of every run as input | output | ground truth and its per-image score, worst "
                  "first, and every method side by side where they disagree most",
    "style.css": "the results page's style, shared by every page (linked relatively)",
    "script.js": "the results page's script (sorting, full-size view, missing-image banner), "
                 "shared by every page",
    "pages": "the results page's run pages (one per run) and comparison pages (one per direction "
             "and seed)",
    "images": "the results page's images: the generated test images as scored, the inputs and "
              "ground truths at the evaluation resolution, and thumbnails (not committed for "
              "datasets other than the synthetic default: `benchmark report` writes them)",
}


def describe(path: Path) -> str:
    name = path.name
    if name in DESCRIPTIONS:
        return DESCRIPTIONS[name]
    if name.startswith("per_class_iou") and name.endswith(".png"):
        return "heatmap of per-class IoU, variants × classes"
    if name.startswith("per_class_iou"):
        return "per-class IoU table, every direction"
    if name.startswith("bars_"):
        return "scores per variant: mean ± sd over seeds, seeds as dots, paper as diamonds"
    if name.startswith("differences_"):
        return "each variant minus CycleGAN per metric, with its 95% recipe interval"
    if name.startswith("samples_"):
        return ("the same test inputs translated by every variant, with the input row and "
                "the ground-truth row")
    return {".md": "table (Markdown)", ".tex": "table (LaTeX, booktabs)",
            ".csv": "table (plain CSV: `pandas.read_csv(path)`)"}.get(path.suffix, "")


def _table_body(path: Path) -> str:
    """A table's Markdown without its provenance comment (the page states it once)."""
    text = path.read_text(encoding="utf-8")
    return text.split("-->", 1)[1].strip() if text.startswith("<!--") else text.strip()


def lead(provenance: Mapping[str, Any], reference: PaperReference, claims: bool = True) -> str:
    """The first paragraph (Markdown) of README.md and index.html: whose protocol these are.
    `claims`: whether this report has a claims table to point to (a suite whose paper states
    no claim about its rows has none)."""
    profile = provenance.get("profile")
    if profile == "paper":
        return (f"Reproduced numbers (the paper's protocol, `profile=paper`) beside those "
                f"reported in {reference.cite}.")
    return (f"**Not the paper's protocol**: numbers from the reduced profile "
            f"`{profile or 'not recorded'}` "
            f"({provenance.get('train_resolution', '?')}² training, "
            f"{provenance.get('iterations', '?')} iterations) beside those reported in "
            f"{reference.cite}. The values are not the paper's; "
            + ("the claims table says which of its statements these runs support at this budget."
               if claims else "the intervals and marks say which differences these seeds support."))


def readme(specs: Sequence[TableSpec], files: Mapping[str, list[Path]], out_dir: Path,
           provenance: Mapping[str, Any], reference: PaperReference) -> str:
    suite, dataset = provenance.get("suite", "?"), provenance.get("dataset", "?")
    lines = [f"# Report: suite `{suite}` on `{dataset}`", "",
             lead(provenance, reference, claims=bool(files.get("claims"))), ""]
    if files.get("html"):
        lines += [f"**[index.html](index.html)**: {DESCRIPTIONS['index.html']}.", ""]
    lines += ["Regenerate with the command below. Cells: — pending, failed (error in the "
              "table's notes), unavailable (reason in the notes).", "", "## Provenance", ""]
    keys = [k for k in PROVENANCE_KEYS if k in provenance] + \
        sorted(k for k in provenance if k not in PROVENANCE_KEYS)
    for key in keys:
        value = provenance[key]
        value = value if isinstance(value, str) else json.dumps(value, default=str)
        lines.append(f"* **{key}**: `{value}`")
    claims = next((p for p in files.get("claims", []) if p.suffix == ".md"), None)
    if claims is not None and claims.is_file():
        lines += ["", "## Claims", "", _table_body(claims)]
    lines += ["", "## Tables", ""]
    tables = files.get("tables", [])
    for spec in specs:
        links = [p for p in tables if p.stem == spec.id]
        lines.append(f"* {spec.title}: " + ", ".join(f"[{p.name}]({p.name})" for p in links))
    extra = [p for p in tables if p.stem not in {s.id for s in specs}]
    for path in extra:
        lines.append(f"* [{path.name}]({path.name}): {describe(path)}")
    for spec in specs:
        md = next((p for p in tables if p.stem == spec.id and p.suffix == ".md"), None)
        if md is not None and md.is_file():
            lines += ["", _table_body(md)]
    if files.get("plots"):
        lines += ["", "## Figures", ""]
        for path in files["plots"]:
            lines += [f"### {path.name}: {describe(path)}", "",
                      f"![{path.stem}]({path.relative_to(out_dir).as_posix()})", ""]
    lines += ["", "## All files", ""]
    for group, paths in files.items():
        lines += [f"* `{p.relative_to(out_dir).as_posix()}` ({group}): {describe(p)}"
                  for p in paths if p.parent == out_dir]
    if files.get("html"):
        lines += [f"* `{p}/` (html): {DESCRIPTIONS[p]}" for p in ("pages", "images")]
    lines.append("* `README.md`: this file")
    return "\n".join(lines) + "\n"

"""Rendering the results pages with jinja2 templates (benchmark/report/html/templates/).

Why templates and not strings: the pages escape every value they show (a test image's name, a
user's variant, an error message) by default (autoescape), and their markup lives in one place
per page kind; StrictUndefined turns a misspelt field into an error at report time instead of a
silently empty cell. The data each page shows is assembled here from what the report already has
(the loaded runs, the report's files, RunImages and their image files), never recomputed.

The style and the script are the same for every page, so they are written once, as
`style.css` and `script.js` beside index.html (copied from templates/), and each page links
them relatively (`../style.css` from pages/): one copy of each in a report folder instead of one
per page, and the page still opens from file:// with no request leaving the machine.
"""
from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping, Sequence
from importlib.resources import files as package_files
from pathlib import Path
from typing import Any
from urllib.parse import quote

from jinja2 import Environment, PackageLoader, StrictUndefined

from benchmark.report.html import markdown
from benchmark.report.html.gallery import IMAGE_METRICS, RunImages, comparison, ranked
from benchmark.report.html.thumbnails import ImageRef
from benchmark.report.index import describe, lead
from benchmark.report.reference import PaperReference
from benchmark.report.runs import (
    PROVENANCE_KEYS,
    LoadedRun,
    TableSpec,
    atomic_write_text,
    direction_label,
    variant_order,
)

#: how many of each run's worst images the index shows per direction
WORST_ON_INDEX = 8
#: the long side every image is shown at: a run page's card (input, output, ground truth and
#: the scores) is then about 210 pixels wide, six across a laptop screen and forty-odd images
#: per screen, enough to see a scene's layout and a failure at a glance; click for full size
DISPLAY_PX = 64
#: the per-image scores' labels where space is short (a run page's cards)
SHORT_LABELS = {"per_pixel_acc": "acc", "class_iou": "IoU"}
PAGES_DIR = "pages"
#: the embedded dataset whose images are committed; any other dataset's stay local
COMMITTED_IMAGES = ("synthetic",)
#: the files every page links (templates/ -> the report folder, beside index.html)
ASSETS = ("style.css", "script.js")


def fmt(value: Any, digits: int = 3) -> str:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        return "—"
    return f"{value:.{digits}f}"


def environment() -> Environment:
    env = Environment(loader=PackageLoader("benchmark.report.html", "templates"),
                      autoescape=True, undefined=StrictUndefined, trim_blocks=True,
                      lstrip_blocks=True, keep_trailing_newline=True)
    env.filters["fmt"] = fmt
    env.filters["md"] = markdown.inline
    env.filters["attr"] = lambda v: "" if v is None else repr(float(v))
    return env


def display_size(ref: ImageRef) -> tuple[int, int]:
    """The size a thumbnail is shown at: DISPLAY_PX on its long side, aspect kept."""
    scale = DISPLAY_PX / max(ref.width, ref.height, 1)
    return max(1, round(ref.width * scale)), max(1, round(ref.height * scale))


def root_of(page: Path, out_dir: Path) -> str:
    """The relative prefix from `page` to the report folder: '' for index.html, '../' for a
    page in pages/ (one '../' per folder it is below `out_dir`)."""
    return "../" * (len(page.relative_to(out_dir).parts) - 1)


def write_assets(out_dir: Path) -> list[Path]:
    """Copy the pages' shared style.css and script.js from templates/ beside index.html."""
    templates = package_files("benchmark.report.html") / "templates"
    return [atomic_write_text(out_dir / name, (templates / name).read_text(encoding="utf-8"))
            for name in ASSETS]


def run_page(variant: str, seed: int) -> str:
    return quote(f"{variant}-seed{seed}.html")


def compare_page(direction: str, seed: int) -> str:
    return quote(f"compare-{direction}-seed{seed}.html")


class PageWriter:
    """Renders index.html, one page per run and one comparison page per direction and seed."""

    def __init__(self, out_dir: Path, specs: Sequence[TableSpec], loaded: Sequence[LoadedRun],
                 provenance: Mapping[str, Any], files: Mapping[str, list[Path]],
                 reference: PaperReference, members: Sequence[RunImages],
                 image: Callable[[str, str, str], ImageRef | None]):
        self.out_dir, self.specs, self.loaded = out_dir, list(specs), list(loaded)
        self.provenance, self.files, self.reference = dict(provenance), files, reference
        self.members, self.image = list(members), image
        self.env = environment()
        self.directions = list(dict.fromkeys(s.direction for s in self.specs))
        self.order = variant_order(self.specs)
        self.order += sorted({m.run.variant for m in self.members} - set(self.order))

    # ------------------------------------------------------------------ shared
    def name(self, variant: str) -> str:
        return self.reference.display_name(variant)

    def title(self, direction: str) -> str:
        spec = next((s for s in self.specs if s.direction == direction), None)
        return spec.title if spec is not None else direction_label(direction)

    def local_note(self) -> str | None:
        """Where the images come from when they are not committed with the page."""
        dataset = str(self.provenance.get("dataset", ""))
        if dataset in COMMITTED_IMAGES:
            return None
        command = (f"benchmark report {self.provenance.get('suite', 'SUITE')} "
                   f"{dataset or 'DATASET'}")
        return (f"The images of these pages (`images/` beside index.html) are not committed "
                f"for `{dataset or 'this dataset'}` (.gitignore: its images may not be "
                f"redistributed). `{command}` with this report's overrides (provenance: "
                "command) writes them here from the run store (each run's test/ folder, the "
                "images it was scored on) and the dataset's test split.")

    def seeds_of(self, variant: str, direction: str | None = None) -> list[int]:
        return sorted({m.run.seed for m in self.members if m.run.variant == variant
                       and (direction is None or m.direction == direction)})

    def member(self, variant: str, seed: int, direction: str) -> RunImages | None:
        return next((m for m in self.members if m.run.variant == variant and m.run.seed == seed
                     and m.direction == direction), None)

    def thumb(self, ref: ImageRef | None, label: str) -> dict | None:
        if ref is None:
            return None
        width, height = display_size(ref)
        # a thumbnail smaller than it is shown is magnified with sharp pixels, not blurred
        return {"ref": ref, "width": width, "height": height, "label": label,
                "pixelated": ref.thumb_px < DISPLAY_PX}

    def compare_seeds(self, direction: str) -> list[int]:
        """Seeds at which at least two methods have images of `direction`."""
        seeds = sorted({m.run.seed for m in self.members if m.direction == direction})
        return [s for s in seeds
                if sum(self.member(v, s, direction) is not None for v in self.order) >= 2]

    def render(self, template: str, path: Path, **context) -> Path:
        base = {"metrics": IMAGE_METRICS, "short": SHORT_LABELS, "provenance": self.provenance,
                "local_note": self.local_note(),
                "suite": self.provenance.get("suite", "?"),
                "dataset": self.provenance.get("dataset", "?"),
                "root": root_of(path, self.out_dir)}
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(self.env.get_template(template).render(**base, **context), encoding="utf-8")
        return path

    # ------------------------------------------------------------------ run pages
    def run_section(self, m: RunImages) -> dict:
        first = next(iter(IMAGE_METRICS))
        stems = list(m.files)
        order = {s: i for i, s in enumerate(stems)}
        d = m.direction
        rows = [{"stem": s, "order": order[s],
                 "scores": {k: m.score(s, k) for k in IMAGE_METRICS},
                 "input": self.thumb(self.image(d, "input", s), f"input {s}"),
                 "output": self.thumb(self.image(d, m.key, s), f"output {s}"),
                 "truth": self.thumb(self.image(d, "truth", s), f"ground truth {s}")}
                for s in ranked(stems, lambda s: m.score(s, first))]
        overall = m.run.direction(d) or {}
        return {"direction": d, "label": direction_label(d), "title": self.title(d),
                "overall": overall, "rows": rows, "no_scores": m.no_scores,
                "has_input": any(r["input"] for r in rows),
                "has_truth": any(r["truth"] for r in rows),
                "compare": [(s, compare_page(d, s)) for s in self.compare_seeds(d)]}

    def write_run(self, variant: str, seed: int) -> Path:
        runs = [m for d in self.directions if (m := self.member(variant, seed, d)) is not None]
        run = runs[0].run
        seeds = [(s, run_page(variant, s), s == seed) for s in self.seeds_of(variant)]
        others = [(self.name(v), run_page(v, seed if seed in self.seeds_of(v) else
                                          self.seeds_of(v)[0]), v == variant)
                  for v in self.order if self.seeds_of(v)]
        return self.render("run.html", self.out_dir / PAGES_DIR / f"{variant}-seed{seed}.html",
                           page_title=f"{self.name(variant)}, seed {seed}",
                           run=run, seeds=seeds, others=others,
                           sections=[self.run_section(m) for m in runs])

    # ------------------------------------------------------------------ comparison pages
    def write_compare(self, direction: str, seed: int) -> Path:
        members = [m for v in self.order if (m := self.member(v, seed, direction)) is not None]
        methods = [{"key": m.key, "name": self.name(m.run.variant),
                    "href": run_page(m.run.variant, seed)} for m in members]
        rows = [{"stem": r.stem, "order": r.order, "spread": r.spread,
                 "input": self.thumb(self.image(direction, "input", r.stem), f"input {r.stem}"),
                 "truth": self.thumb(self.image(direction, "truth", r.stem), f"ground truth {r.stem}"),
                 "cells": [{"score": r.scores[m.key],
                            "thumb": self.thumb(self.image(direction, m.key, r.stem),
                                                f"{self.name(m.run.variant)} {r.stem}")}
                           for m in members]}
                for r in comparison(members)]
        seeds = [(s, compare_page(direction, s), s == seed) for s in self.compare_seeds(direction)]
        return self.render("compare.html", self.out_dir / PAGES_DIR / f"compare-{direction}-seed{seed}.html",
                           page_title=f"{direction_label(direction)}: every method, seed {seed}",
                           direction=direction, label=direction_label(direction),
                           title=self.title(direction), seed=seed, seeds=seeds, methods=methods,
                           rows=rows, has_input=any(r["input"] for r in rows),
                           has_truth=any(r["truth"] for r in rows),
                           scored=any(v is not None for r in rows for v in r["spread"].values()))

    # ------------------------------------------------------------------ index
    def gallery(self) -> list[dict]:
        """Per direction: every variant's runs, and its lowest seed's worst images."""
        first = next(iter(IMAGE_METRICS))
        sections = []
        for d in self.directions:
            variants = []
            for v in variant_order(self.specs, d):
                seeds = self.seeds_of(v, d)
                states = sorted((r.seed, r.state if r.metrics is None else "no test images")
                                for r in self.loaded if r.variant == v and r.seed not in seeds)
                worst = []
                m = self.member(v, seeds[0], d) if seeds else None
                if m is not None:
                    stems = ranked(list(m.files), lambda s, m=m: m.score(s, first))[:WORST_ON_INDEX]
                    worst = [{"stem": s, "score": m.score(s, first),
                              "thumb": self.thumb(self.image(d, m.key, s), f"{self.name(v)} {s}")}
                             for s in stems]
                variants.append({"name": self.name(v), "worst": worst,
                                 "no_scores": m.no_scores if m is not None else None,
                                 "runs": [(s, f"{PAGES_DIR}/{run_page(v, s)}#{d}") for s in seeds],
                                 "missing": states})
            sections.append({"direction": d, "label": direction_label(d), "title": self.title(d),
                             "variants": variants,
                             "compare": [(s, f"{PAGES_DIR}/{compare_page(d, s)}")
                                         for s in self.compare_seeds(d)]})
        return sections

    def blocks(self, group: str) -> list[tuple[str, list[markdown.Block]]]:
        return [(p.name, markdown.parse(p.read_text(encoding="utf-8")))
                for p in self.files.get(group, []) if p.suffix == ".md" and p.is_file()]

    def write_index(self) -> Path:
        keys = [k for k in PROVENANCE_KEYS if k in self.provenance] + \
            sorted(k for k in self.provenance if k not in PROVENANCE_KEYS)
        provenance = [(k, v if isinstance(v, str) else json.dumps(v, default=str))
                      for k, v in ((k, self.provenance[k]) for k in keys)]
        figures = [{"href": quote(p.name), "name": p.name, "caption": describe(p)}
                   for p in self.files.get("plots", [])]
        listed = [p for paths in self.files.values() for p in paths]
        names = [p.relative_to(self.out_dir).as_posix() for p in listed] + ["README.md"]
        files = [{"href": quote(n), "name": n,
                  "what": "this report as Markdown" if n == "README.md" else describe(Path(n))}
                 for n in names]
        return self.render("index.html", self.out_dir / "index.html",
                           page_title=f"Report: {self.provenance.get('suite', '?')} on "
                                      f"{self.provenance.get('dataset', '?')}",
                           lead=lead(self.provenance, self.reference, claims=bool(self.files.get("claims"))),
                           claims=self.blocks("claims"), tables=self.blocks("tables"),
                           gallery=self.gallery(), figures=figures, provenance_items=provenance,
                           files=files, has_images=bool(self.members))

    def write_all(self) -> list[Path]:
        """Every page, index.html first; style.css and script.js beside index.html."""
        assets = write_assets(self.out_dir)
        pages = [self.write_run(v, s) for v in self.order for s in self.seeds_of(v)]
        pages += [self.write_compare(d, s) for d in self.directions for s in self.compare_seeds(d)]
        return [self.write_index(), *assets, *pages]

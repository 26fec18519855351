"""`index.html`: the report as one static page, with every test image and its score.

Why a page beside the Markdown: researchers judge image translation by looking, and the tables
say nothing about which test images a method fails on. The page shows the claims and the tables
(read back from the report's own .md files: the same cells), the figures, the provenance, and for
every run every test image as input | output | ground truth with its per-image score, worst
first; and per direction a comparison of every method on the same image, where they disagree
most first. It is static and self-contained: it opens from the file system, its small script and
style are two files beside it (`script.js`, `style.css`, written once and linked relatively by
every page), every image is a file beside it (relative links), and no request leaves the machine
(no CDN, no web font).

Layout of the report folder: `index.html`, `style.css` and `script.js` (every page's, copied from
templates/), `pages/<variant>-seed<k>.html` (one page per run:
a run is what has images and per-image matrices; the seeds of a variant link to each other),
`pages/compare-<direction>-seed<k>.html`, and `images/` (benchmark/report/html/thumbnails.py).
The generated images are read from the store (`RUN/test/<direction>/`, what evaluation scored);
nothing is translated again. For datasets other than the embedded synthetic scenes, images/ is
not committed (.gitignore: e.g. Cityscapes' terms forbid redistributing its images); the pages
then say where the images come from and which command writes them.
"""
from __future__ import annotations

import warnings
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from tqdm import tqdm

from benchmark.report.html.gallery import RunImages, run_images
from benchmark.report.html.pages import PageWriter
from benchmark.report.html.thumbnails import ImageFolder, ImageRef
from benchmark.report.reference import PaperReference
from benchmark.report.runs import LoadedRun, ReportWarning, TableSpec

__all__ = ["write_html", "INDEX"]

INDEX = "index.html"
SampleSources = Callable[[str, Sequence[str]], Mapping[str, Mapping[str, Any]]]


def _warn(message: str) -> None:
    warnings.warn(message, ReportWarning, stacklevel=3)


def _sources(sample_sources: SampleSources | None, direction: str,
             stems: Sequence[str]) -> Mapping[str, Mapping[str, Any]]:
    """The inputs and ground truths of `stems` (benchmark.run.samples.report_sample_rows)."""
    if sample_sources is None or not stems:
        return {}
    try:
        return sample_sources(direction, stems) or {}
    except Exception as err:  # the generated images and their scores are still worth showing
        _warn(f"results page: inputs and ground truth of {direction} left out "
              f"({type(err).__name__}: {err})")
        return {}


class Images:
    """Every image file of the pages: (direction, 'input' | 'truth' | RunImages.key, stem) ->
    ImageRef."""

    def __init__(self, out_dir: Path, previous: Path | None = None):
        self.folder = ImageFolder(out_dir, previous)
        self.refs: dict[tuple[str, str, str], ImageRef] = {}

    def get(self, direction: str, role: str, stem: str) -> ImageRef | None:
        return self.refs.get((direction, role, stem))

    def write(self, members: Sequence[RunImages], directions: Sequence[str],
              sample_sources: SampleSources | None) -> None:
        jobs: list[tuple[tuple[str, str, str], Callable[[], ImageRef]]] = []
        for direction in directions:
            mine = [m for m in members if m.direction == direction]
            stems = list(dict.fromkeys(s for m in mine for s in m.files))
            rows = _sources(sample_sources, direction, stems)
            for role, name in (("input", "input"), ("truth", "ground truth")):
                for stem, image in (rows.get(name) or {}).items():
                    jobs.append(((direction, role, stem), lambda i=image, r=role, s=stem, d=direction:
                                 self.folder.from_pixels(i, (d, r), s)))
            for m in mine:
                parts = (direction, m.run.variant, f"seed{m.run.seed}")
                for stem, path in m.files.items():
                    jobs.append(((direction, m.key, stem), lambda p=path, parts=parts:
                                 self.folder.from_file(p, parts)))
        # tqdm's default: a bar on a terminal, silent in logs and tests
        for key, job in tqdm(jobs, desc="results page images", unit="image", leave=False,
                             disable=None):
            self.refs[key] = job()


def write_html(specs: Sequence[TableSpec], loaded: Sequence[LoadedRun], out_dir: Path,
               provenance: Mapping[str, Any], files: Mapping[str, list[Path]],
               reference: PaperReference, sample_sources: SampleSources | None = None,
               previous: Path | None = None) -> list[Path]:
    """Write index.html, the run and comparison pages and their images into `out_dir` (the
    report's staging folder: `files` are the report's files there; `previous`, the folder it
    will replace, lends its thumbnails of unchanged images), and the pages' style.css and
    script.js beside index.html. Returns the pages' paths."""
    out_dir = Path(out_dir)
    directions = list(dict.fromkeys(spec.direction for spec in specs))
    members = run_images(loaded, directions)
    images = Images(out_dir, previous if previous is not None and previous.is_dir() else None)
    images.write(members, directions, sample_sources)
    writer = PageWriter(out_dir, specs, loaded, provenance, files, reference, members, images.get)
    return writer.write_all()

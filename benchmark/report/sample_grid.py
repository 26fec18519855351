"""`samples_<direction>.png`: the same test inputs translated by every variant.

As in the paper's figures, the grid starts with the input row and ends with the ground-truth
row (where the dataset is aligned), so a reader sees what each variant was asked to do and
what the answer should have been. Those two rows come from `sources(direction, stems)` —
a `partial(benchmark.run.samples.report_sample_rows, cfg)`, reading the dataset's test split
at the evaluation resolution — because the store keeps only the generated images; without it
the grid shows the variants alone and says so in its title.
"""
from __future__ import annotations

import os
import re
import warnings
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import seaborn as sns
from matplotlib.figure import Figure
from PIL import Image

from benchmark.atomic import atomic_path
from benchmark.report.reference import PaperReference, load_reference
from benchmark.report.runs import LoadedRun, ReportWarning, direction_label, load_runs

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg")
#: (direction, stems) -> {"input": {stem: image}, "ground truth": {stem: image}}; an image is
#: a PIL image or an (H, W, 3) uint8 array; a row or stem it cannot provide is left out.
SampleSources = Callable[[str, Sequence[str]], Mapping[str, Mapping[str, Any]]]


def _warn(message: str) -> None:
    warnings.warn(message, ReportWarning, stacklevel=3)


def _stems(run: LoadedRun, direction: str) -> dict[str, Path] | None:
    folder = run.run_dir / "test" / direction
    if not folder.is_dir():
        _warn(f"no test/{direction} images in {run.run_dir}: left out of "
              f"samples_{direction}.png")
        return None
    files = {p.stem: p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES}
    if not files:
        _warn(f"{folder} holds no images: left out of samples_{direction}.png")
        return None
    return files


def short_names(stems: Sequence[str], width: int = 18) -> list[str]:
    """Column titles: drop the suffix all stems share ('_leftImg8bit'), keep the end that
    tells them apart ('…00_000019')."""
    suffix = os.path.commonprefix([s[::-1] for s in stems])[::-1] if len(stems) > 1 else ""
    names = [s[:len(s) - len(suffix)] or s for s in stems]
    return [n if len(n) <= width else "…" + n[-(width - 1):] for n in names]


def natural(stem: str) -> list:
    """Sort key reading digit runs as numbers: pix2pix's '2' before '10'."""
    return [(0, int(part), "") if part.isdigit() else (1, 0, part)
            for part in re.split(r"(\d+)", stem)]


def select_samples(runs: Sequence[LoadedRun], direction: str, variants: Sequence[str],
                   k: int) -> tuple[list[str], list[tuple[str, int, dict[str, Path]]]]:
    """The first k stems (natural sort) that every run with test images produced, and per variant
    its lowest seed's images: every row then shows the same inputs."""
    images: dict[str, dict[int, dict[str, Path]]] = {}
    for run in sorted(runs, key=lambda r: r.seed):
        if run.variant in variants and (files := _stems(run, direction)) is not None:
            images.setdefault(run.variant, {})[run.seed] = files
    if not images:
        return [], []
    common = set.intersection(*(set(files) for seeds in images.values()
                                for files in seeds.values()))
    rows = [(v, *next(iter(images[v].items()))) for v in variants if v in images]
    return sorted(common, key=natural)[:k], rows


def _pixels(image: Any) -> np.ndarray:
    if isinstance(image, (str, Path)):
        with Image.open(image) as img:
            return np.asarray(img.convert("RGB"))
    if isinstance(image, Image.Image):
        return np.asarray(image.convert("RGB"))
    return np.asarray(image)


def _source_rows(sources: SampleSources | None, direction: str,
                 stems: Sequence[str]) -> dict[str, Mapping[str, Any]]:
    if sources is None:
        return {}
    try:
        rows = sources(direction, stems) or {}
    except Exception as err:  # the grid of generated images is still worth drawing
        _warn(f"input/ground-truth rows of samples_{direction}.png left out "
              f"({type(err).__name__}: {err})")
        return {}
    return {name: images for name, images in rows.items()
            if all(s in images for s in stems)}


def plot_samples(runs: Iterable[Mapping[str, Any] | LoadedRun], direction: str,
                 out_dir: str | Path, variants: Sequence[str] | None = None, k: int = 6,
                 reference: PaperReference | None = None, dpi: int = 150,
                 sources: SampleSources | None = None) -> Path | None:
    """Rows: the input, each variant (lowest seed), the ground truth; columns: the same k
    test images for every row (see select_samples)."""
    runs = load_runs(runs)
    reference = reference or load_reference()
    order = list(variants) if variants else list(dict.fromkeys(r.variant for r in runs))
    stems, rows = select_samples(runs, direction, order, k)
    if not rows:
        _warn(f"no run has test/{direction} images yet: samples_{direction}.png not drawn")
        return None
    if not stems:
        _warn(f"the runs share no test/{direction} image names: samples_{direction}.png "
              "not drawn (were they tested on different splits?)")
        return None
    extra = _source_rows(sources, direction, stems)
    grid: list[tuple[str, Mapping[str, Any]]] = []
    if "input" in extra:
        grid.append(("input", extra["input"]))
    grid += [(f"{reference.display_name(v)}\nseed {seed}", files) for v, seed, files in rows]
    if "ground truth" in extra:
        grid.append(("ground truth", extra["ground truth"]))
    titles = short_names(stems)
    framing = ("input, " if "input" in extra else "") + "every variant" + \
        (", ground truth" if "ground truth" in extra else "")

    with sns.axes_style("white"), sns.plotting_context("notebook", font_scale=0.8):
        cell = 1.7
        fig = Figure(figsize=(cell * len(stems) + 1.6, cell * len(grid) + 0.6),
                     layout="constrained")
        axes = fig.subplots(len(grid), len(stems), squeeze=False)
        for i, (label, images) in enumerate(grid):
            for j, stem in enumerate(stems):
                ax = axes[i, j]
                pixels = _pixels(images[stem])
                small = pixels.shape[1] <= cell * dpi
                ax.imshow(pixels, interpolation="nearest" if small else "antialiased")
                ax.set_xticks([])
                ax.set_yticks([])
                for spine in ax.spines.values():
                    spine.set_visible(False)
                if i == 0:
                    ax.set_title(titles[j], fontsize=8)
            axes[i, 0].set_ylabel(label, rotation=0, ha="right", va="center", labelpad=8)
        fig.suptitle(f"{direction_label(direction)}: the same test inputs ({framing})")
        path = Path(out_dir) / f"samples_{direction}.png"
        with atomic_path(path) as tmp:
            fig.savefig(tmp, format="png", dpi=dpi, facecolor="white")
        return path

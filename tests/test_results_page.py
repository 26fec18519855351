"""The results page (index.html, run and comparison pages, their images), without a browser.

Fake-but-valid run directories whose per-image confusion matrices have hand-picked accuracies,
so the order a page shows can be checked against an order computed here; every link and image
of every page (its stylesheet and script included) must be relative and name a file of the report
folder, and the style and script are one style.css and one script.js beside index.html, not
repeated inline in every page. tests/test_browser.py opens a real suite's pages in Chromium.
"""
from __future__ import annotations

import json
import os
import re
import subprocess
import warnings
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlsplit

import numpy as np
import pytest
from PIL import Image

from benchmark.report import write_report
from benchmark.report.html import markdown
from benchmark.report.html.gallery import ranked
from benchmark.report.html.pages import ASSETS
from benchmark.report.runs import ReportWarning
from benchmark.run.per_image import write_per_image

REPO = Path(__file__).resolve().parents[1]
CLASSES = ["road", "sidewalk", "building", "car"]
ROWS = ["gan_only", "cyclegan"]
SPECS = [{"id": "table4", "title": "Table 4: ablations, labels→photo", "direction": "labels2photo",
          "paper_table": "table4", "rows": ROWS},
         {"id": "table5", "title": "Table 5: ablations, photo→labels", "direction": "photo2labels",
          "paper_table": "table5", "rows": ROWS}]
PROVENANCE = {"command": "benchmark report ablations synthetic", "commit": "0123abcd",
              "dataset": "synthetic", "profile": "smoke", "suite": "ablations", "seeds": 2,
              "generated_at": "2025-01-01T00:00:00+00:00"}
# names a browser must be given quoted: a space, '#', '%', and a natural-sort trap ('10' after '9')
STEMS = ["img 1", "img#2", "img%3", "img9", "img10"]
SIZES = {"labels2photo": 16, "photo2labels": 128}  # a tiny image (its own thumbnail), a larger one


def accuracy(variant: str, seed: int, i: int) -> float:
    """Distinct per-image accuracies in an order unlike the file order, per run."""
    return round(0.1 + 0.8 * ((7 * i + 3 * seed + len(variant)) % 5) / 5, 3)


def _counts(acc: float) -> np.ndarray:
    """One image's matrix: 1000 pixels per class, `acc` of each on the diagonal."""
    counts = np.zeros((len(CLASSES), len(CLASSES) + 1), dtype=np.int64)
    for c in range(len(CLASSES)):
        right = int(round(1000 * acc))
        counts[c, c] = right
        counts[c, (c + 1) % len(CLASSES)] = 1000 - right
    return counts


def make_run(root: Path, variant: str, seed: int, *, per_image: bool = True) -> dict:
    run_dir = root / variant / f"seed{seed}"
    directions = {}
    rng = np.random.default_rng(seed)
    for direction, size in SIZES.items():
        folder = run_dir / "test" / direction
        folder.mkdir(parents=True)
        for stem in STEMS:
            Image.fromarray(rng.integers(0, 255, (size, size, 3), dtype=np.uint8)).save(folder / f"{stem}.png")
        directions[direction] = {"per_pixel_acc": 0.5, "per_class_acc": 0.4, "class_iou": 0.3,
                                 "num_images": len(STEMS)}
        if per_image:
            counts = np.stack([_counts(accuracy(variant, seed, i)) for i in range(len(STEMS))])
            directions[direction]["per_image"] = write_per_image(run_dir, direction, STEMS, counts, CLASSES)
    (run_dir / "metrics.json").write_text(json.dumps({"directions": directions,
                                                      "evaluation": {"resolution": 16}}))
    (run_dir / "config.yaml").write_text(f"model: {variant}\nseed: {seed}\n")
    return {"variant": variant, "seed": seed, "run_dir": run_dir, "config_hash": "h" + variant}


def sources(direction, stems):
    """What benchmark.run.samples.report_sample_rows gives: inputs and ground truths by stem."""
    size = SIZES[direction]
    grey = {s: np.full((size, size, 3), 90, np.uint8) for s in stems}
    return {"input": grey, "ground truth": {s: Image.new("RGB", (size, size), "white") for s in stems}}


@pytest.fixture
def low_dpi(monkeypatch):
    from benchmark.report import plots
    monkeypatch.setattr(plots, "DPI", 40)


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    """One report of two variants × two seeds, read by the tests that only look at it."""
    from benchmark.report import plots

    root = tmp_path_factory.mktemp("page")
    runs = [make_run(root / "store", v, s) for v in ROWS for s in (0, 1)]
    out = root / "results" / "ablations" / "synthetic"
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(plots, "DPI", 40)
        files = write_report(SPECS, runs, out, PROVENANCE, sample_sources=sources)
    return out, files


class Page(HTMLParser):
    """Every link and image source of a page (<a href>, <img src>, <link href>, <script src>), its
    stylesheets, scripts (None: an inline one) and <style> blocks, and the elements that carry
    data-stem."""

    def __init__(self, path: Path):
        super().__init__()
        self.urls: list[tuple[str, str]] = []
        self.rows: list[dict[str, str]] = []
        self.containers: list[str] = []
        self.stylesheets: list[str] = []
        self.scripts: list[str | None] = []
        self.style_blocks = 0
        self.feed(path.read_text(encoding="utf-8"))

    def handle_starttag(self, tag, attrs):
        attrs = {k: v or "" for k, v in attrs}
        for key in ("href", "src"):
            if key in attrs:
                self.urls.append((tag, attrs[key]))
        if tag == "link" and "stylesheet" in attrs.get("rel", "").split():
            self.stylesheets.append(attrs.get("href", ""))
        if tag == "script":
            self.scripts.append(attrs.get("src") or None)
        self.style_blocks += tag == "style"
        if "data-stem" in attrs:
            self.rows.append({**attrs, "container": self.containers[-1] if self.containers else ""})
        if attrs.get("class") in ("cards", "gallery") and "id" in attrs:
            self.containers.append(attrs["id"])


def stems_of(page: Page, container: str) -> list[str]:
    return [r["data-stem"] for r in page.rows if r["container"] == container]


def test_every_link_and_image_is_relative_and_exists(report):
    out, files = report
    pages = [out / "index.html", *sorted((out / "pages").glob("*.html"))]
    assert {p.name for p in pages} >= {"index.html", "cyclegan-seed0.html", "gan_only-seed1.html",
                                       "compare-labels2photo-seed0.html", "compare-photo2labels-seed1.html"}
    assert [p.name for p in files["html"]][0] == "index.html"
    assert {"style.css", "script.js"} <= {p.name for p in files["html"]}
    readme = (out / "README.md").read_text(encoding="utf-8")
    assert "`style.css` (html)" in readme and "`script.js` (html)" in readme, "README's file list"
    images = 0
    for page in pages:
        text = page.read_text(encoding="utf-8")
        assert not re.search(r"https?://", text), f"{page.name} names a web address"
        for tag, url in Page(page).urls:
            parts = urlsplit(url)
            assert not parts.scheme and not parts.netloc and not url.startswith("/"), (page.name, url)
            if not parts.path:  # an anchor on the same page
                continue
            target = (page.parent / unquote(parts.path)).resolve()
            assert target.is_file(), f"{page.name}: {tag} {url} -> {target} is missing"
            images += tag == "img"
    assert images > 4 * 2 * len(STEMS) * 3  # every run's outputs, inputs and ground truths


def pages_of(out: Path) -> list[Path]:
    return sorted(out.rglob("*.html"))


def test_style_and_script_are_written_once_beside_index(report):
    """One style.css and one script.js in the report folder, the packaged templates' own text;
    no other stylesheet or script anywhere in it."""
    out, _ = report
    templates = REPO / "benchmark" / "report" / "html" / "templates"
    for name in ASSETS:
        assert (out / name).is_file(), f"{name} is missing beside index.html"
        assert (out / name).read_text(encoding="utf-8") == (templates / name).read_text(encoding="utf-8")
    assert sorted(p.relative_to(out).as_posix() for p in out.rglob("*") if p.suffix in (".css", ".js")) \
        == sorted(ASSETS)


def test_no_page_repeats_the_style_or_script_inline(report):
    out, _ = report
    pages = pages_of(out)
    assert len(pages) > 4  # index.html, the run pages and the comparison pages
    for page in pages:
        text = page.read_text(encoding="utf-8")
        parsed = Page(page)
        assert parsed.style_blocks == 0 and "<style" not in text, f"{page.name} has a <style> block"
        assert None not in parsed.scripts, f"{page.name} has an inline script"


def test_every_page_links_the_one_style_and_script_relatively(report):
    out, _ = report
    for page in pages_of(out):
        parsed = Page(page)
        depth = len(page.relative_to(out).parts) - 1
        assert parsed.stylesheets == ["../" * depth + "style.css"], (page.name, parsed.stylesheets)
        assert parsed.scripts == ["../" * depth + "script.js"], (page.name, parsed.scripts)
        for url, name in ((parsed.stylesheets[0], "style.css"), (parsed.scripts[0], "script.js")):
            target = (page.parent / unquote(url)).resolve()
            assert target.is_file() and target == (out / name).resolve(), (page.name, url, target)


def test_run_page_rows_are_worst_first_by_the_per_image_scores(report):
    out, _ = report
    page = Page(out / "pages" / "gan_only-seed1.html")
    for direction in SIZES:
        expected = ranked(STEMS, lambda s: accuracy("gan_only", 1, STEMS.index(s)))
        assert stems_of(page, f"t-{direction}") == expected
        shown = [float(r["data-per_pixel_acc"]) for r in page.rows if r["container"] == f"t-{direction}"]
        assert shown == sorted(shown) and len(set(shown)) > 1  # worst first, not all alike
        assert shown[0] == pytest.approx(min(accuracy("gan_only", 1, i) for i in range(len(STEMS))))
        # file order is the natural order of the names: img9 before img10
        orders = {r["data-stem"]: int(r["data-order"]) for r in page.rows if r["container"] == f"t-{direction}"}
        assert orders["img9"] < orders["img10"]


def test_comparison_rows_widest_spread_first(report):
    out, _ = report
    page = Page(out / "pages" / "compare-labels2photo-seed0.html")
    spreads = [float(r["data-spread-per_pixel_acc"]) for r in page.rows]
    assert len(spreads) == len(STEMS) and spreads == sorted(spreads, reverse=True)
    scores = {v: [accuracy(v, 0, i) for i in range(len(STEMS))] for v in ROWS}
    expected = [abs(scores["gan_only"][i] - scores["cyclegan"][i]) for i in range(len(STEMS))]
    assert spreads == pytest.approx(sorted(expected, reverse=True), abs=1e-9)


def test_thumbnails_only_where_smaller_and_links_to_full_size(report):
    out, _ = report
    small = out / "images" / "labels2photo" / "cyclegan" / "seed0"
    large = out / "images" / "photo2labels" / "cyclegan" / "seed0"
    assert not list(small.glob("*.webp")) and len(list(small.glob("*.png"))) == len(STEMS)
    thumbs = sorted(large.glob("*.thumb.webp"))
    assert len(thumbs) == len(STEMS)
    with Image.open(thumbs[0]) as thumb:
        assert max(thumb.size) == 96
    # a full-size output is the scored file, byte for byte
    store = out.parents[2] / "store" / "cyclegan" / "seed0" / "test" / "photo2labels" / "img9.png"
    assert (large / "img9.png").read_bytes() == store.read_bytes()
    html = (out / "pages" / "cyclegan-seed0.html").read_text()
    assert 'class="px"' in html and "img9.thumb.webp" in html
    assert 'href="../images/photo2labels/cyclegan/seed0/img9.png"' in html
    # names quoted once ('#' -> %23, '%' -> %25, ' ' -> %20), never twice
    assert "img%232.png" in html and "img%253.png" in html and "img%201.png" in html
    assert "%2523" not in html and "%25253" not in html


def test_index_has_claims_tables_figures_and_readme_links_it(report):
    out, _ = report
    html = (out / "index.html").read_text()
    order = [html.index(f'id="{s}"') for s in ("claims", "tables", "images", "figures", "provenance", "files")]
    assert order == sorted(order)
    assert "<table class=\"md\">" in html and "bars_labels2photo.png" in html and "0123abcd" in html
    assert "pages/gan_only-seed0.html#labels2photo" in html
    readme = (out / "README.md").read_text()
    assert "[index.html](index.html)" in readme and "`images/`" in readme
    listing = readme.split("## All files")[1]
    assert sum("pages/" in line for line in listing.splitlines()) == 1  # the pages summarised once


def test_a_run_without_per_image_scores_is_shown_in_file_order(tmp_path, low_dpi):
    runs = [make_run(tmp_path / "store", "cyclegan", 0, per_image=False),
            make_run(tmp_path / "store", "gan_only", 0)]
    for run in runs[:1]:  # metrics.json still promises the file: it is missing, not unscored
        doc = json.loads((run["run_dir"] / "metrics.json").read_text())
        for d in doc["directions"].values():
            d["per_image"] = "per_image/x.npz"
        (run["run_dir"] / "metrics.json").write_text(json.dumps(doc))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        write_report(SPECS, runs, tmp_path / "out", PROVENANCE, sample_sources=sources)
    assert any("shows no per-image scores" in str(w.message) for w in caught if w.category is ReportWarning)
    page = Page(tmp_path / "out" / "pages" / "cyclegan-seed0.html")
    assert stems_of(page, "t-labels2photo") == ["img9", "img10", "img 1", "img#2", "img%3"]  # natural
    assert "re-score it with" in (tmp_path / "out" / "pages" / "cyclegan-seed0.html").read_text()


def test_local_only_images_are_named_and_ignored_by_git(tmp_path, low_dpi):
    runs = [make_run(tmp_path / "store", v, 0) for v in ROWS]
    write_report(SPECS, runs, tmp_path / "out", {**PROVENANCE, "dataset": "cityscapes"},
                 sample_sources=sources)
    html = (tmp_path / "out" / "pages" / "cyclegan-seed0.html").read_text()
    assert "are not committed" in html and "<code>benchmark report ablations cityscapes</code>" in html
    synthetic = tmp_path / "syn"
    write_report(SPECS, runs, synthetic, PROVENANCE, sample_sources=sources)
    assert "are not committed" not in (synthetic / "pages" / "cyclegan-seed0.html").read_text()
    ignored = subprocess.run(
        ["git", "check-ignore", "--no-index", "results/ablations/cityscapes/images/x/a.png",
         "results/baselines/maps/images/a.webp", "results/ablations/synthetic/images/x/a.png",
         "results/ablations/cityscapes/index.html"],
        cwd=REPO, capture_output=True, text=True).stdout.split()
    assert ignored == ["results/ablations/cityscapes/images/x/a.png", "results/baselines/maps/images/a.webp"]


def test_a_second_report_reuses_the_thumbnails_of_unchanged_images(tmp_path, low_dpi):
    """Thumbnails are the report's cost on a real test set; an image the store has not rewritten
    (the same file) keeps the previous report's thumbnail, a re-scored one gets a new one."""
    runs = [make_run(tmp_path / "store", v, 0) for v in ROWS]
    out = tmp_path / "out"
    write_report(SPECS, runs, out, PROVENANCE, sample_sources=sources)
    folder = out / "images" / "photo2labels"
    scored = runs[0]["run_dir"] / "test" / "photo2labels" / "img9.png"  # gan_only's
    if not os.path.samefile(folder / "gan_only" / "seed0" / "img9.png", scored):
        pytest.skip("this file system has no hard links: every report makes its thumbnails")
    kept, remade = folder / "cyclegan" / "seed0" / "img9.thumb.webp", folder / "gan_only" / "seed0" / "img9.thumb.webp"
    before = kept.stat().st_ino, remade.stat().st_ino
    new = scored.with_name("new.png")  # re-scored: a new file swapped in, as the store writes
    Image.new("RGB", (128, 128), "red").save(new)
    os.replace(new, scored)
    write_report(SPECS, runs, out, PROVENANCE, sample_sources=sources)
    assert kept.stat().st_ino == before[0] and remade.stat().st_ino != before[1]
    with Image.open(remade) as thumb:
        assert thumb.convert("RGB").getpixel((40, 40))[0] > 200


def test_no_page_without_figures(tmp_path):
    """plots=False (tables only, the tests' quick path) writes no page and no images."""
    runs = [make_run(tmp_path / "store", "cyclegan", 0)]
    files = write_report(SPECS, runs, tmp_path / "out", PROVENANCE, plots=False)
    assert "html" not in files and not (tmp_path / "out" / "index.html").exists()
    assert not any((tmp_path / "out" / name).exists() for name in ASSETS)
    assert "index.html" not in (tmp_path / "out" / "README.md").read_text()


def test_markdown_reads_the_reports_tables_and_escapes_everything_else():
    text = ("<!--\nprovenance\n-->\n\n### Table `x` <b>\n\n| Method | score |\n|:--|--:|\n"
            "| **CycleGAN** | 0.5 |\n| <script>alert(1)</script> | — |\n\n* note with [a link](table4.md)\n"
            "#hashtag line\n")
    blocks = markdown.parse(text)
    assert [b.kind for b in blocks] == ["heading", "table", "list", "para"]
    table = blocks[1]
    assert table.header == ["Method", "score"] and table.align == ["left", "right"]
    assert str(markdown.inline(table.rows[0][0])) == "<strong>CycleGAN</strong>"
    assert "<script>" not in str(markdown.inline(table.rows[1][0]))
    assert str(markdown.inline(blocks[0].text)) == "Table <code>x</code> &lt;b&gt;"
    assert str(markdown.inline(blocks[2].items[0])) == 'note with <a href="table4.md">a link</a>'

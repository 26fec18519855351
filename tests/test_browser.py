"""The results page in a real browser: headless Chromium, driven through Selenium.

A finished smoke suite on the embedded synthetic scenes (trained here, a few seconds a run) is
opened from file:// as a reader would open it: every image must load, every link must name a
file that exists, the console must stay free of errors (a blocked request, a script error), the
run page must list its test images worst first by the scores of the run's per_image/ files (read
here in Python), and its sort switches must reorder them. Screenshots are kept as the test's
artifacts: in $BROWSER_ARTIFACTS when set, else in the test's temporary folder; the paths are
printed (pytest -s shows them).

Chromium is a system package (Debian: `apt-get install chromium chromium-driver`; .ci/run
installs it). Where it or Selenium is missing the test skips with the reason, and fails in CI
(CI=true), where the browser is promised.
"""
from __future__ import annotations

import os
import shutil
import time
from pathlib import Path
from urllib.parse import unquote, urlsplit

import numpy as np
import pytest
from conftest import in_ci

from benchmark.report.html.gallery import ranked
from benchmark.report.sample_grid import natural
from benchmark.run.per_image import read_per_image
from evaluation.metrics import batch_scores

pytestmark = pytest.mark.xdist_group("smoke_suite")  # shares conftest's smoke_suite with test_suite_local

BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
DIRECTION = "labels2photo"


def _missing(reason: str):
    if in_ci():
        pytest.fail(f"{reason} (CI=true: .ci/run installs it)")
    pytest.skip(reason)


@pytest.fixture(scope="module")
def browser():
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
    except ImportError:
        _missing("selenium is not installed (pip install -e '.[test]')")
    binary = next((path for name in BROWSERS if (path := shutil.which(name))), None)
    driver_path = shutil.which("chromedriver")
    if binary is None or driver_path is None:
        _missing("headless Chromium not found (Debian: apt-get install -y chromium chromium-driver)")
    options = webdriver.ChromeOptions()
    options.binary_location = binary
    # --no-sandbox: CI containers run as root, where Chromium's sandbox refuses to start
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--window-size=1400,1000", "--hide-scrollbars"):
        options.add_argument(arg)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(driver_path), options=options)
    driver.set_page_load_timeout(60)
    yield driver
    driver.quit()


@pytest.fixture(scope="module")
def suite(smoke_suite):
    """The finished smoke suite of conftest.py (trained once for this module and the local
    suite tests): (its report folder, its store)."""
    root, _ = smoke_suite
    return root / "results" / "ablations" / "synthetic", root / "store"


@pytest.fixture(scope="module")
def artifacts(tmp_path_factory) -> Path:
    folder = Path(os.environ.get("BROWSER_ARTIFACTS") or tmp_path_factory.mktemp("screenshots"))
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def open_page(driver, path: Path) -> None:
    """Open a page from file://, load every image now (not lazily), wait until all are done."""
    driver.get_log("browser")  # drop what earlier pages logged
    driver.get(path.resolve().as_uri())
    driver.execute_script("document.querySelectorAll('img[loading=lazy]').forEach(i => i.loading = 'eager')")
    deadline = time.monotonic() + 60
    while not driver.execute_script("return Array.from(document.querySelectorAll('img[src]')).every(i => i.complete)"):
        assert time.monotonic() < deadline, f"{path.name}: images still loading after 60 s"
        time.sleep(0.1)


def check_page(driver, path: Path) -> int:
    """Every image loaded, every link names an existing file, no console error. Returns the
    number of images."""
    open_page(driver, path)
    broken = driver.execute_script(
        "return Array.from(document.querySelectorAll('img[src]')).filter(i => !(i.naturalWidth > 0)).map(i => i.src)")
    assert broken == [], f"{path.name}: images that did not load: {broken[:5]}"
    hrefs = driver.execute_script("return Array.from(document.querySelectorAll('a[href]')).map(a => a.href)")
    for href in hrefs:
        parts = urlsplit(href)
        assert parts.scheme == "file", f"{path.name}: a link leaves the machine: {href}"
        assert Path(unquote(parts.path)).is_file(), f"{path.name}: broken link {href}"
    errors = [e for e in driver.get_log("browser") if e["level"] in ("SEVERE", "ERROR")]
    assert errors == [], f"{path.name}: console errors {errors}"
    assert driver.execute_script("return document.getElementById('missing').hidden")
    return driver.execute_script("return document.querySelectorAll('img[src]').length")


def shown_stems(driver, direction: str) -> list[str]:
    return driver.execute_script(
        "return Array.from(document.getElementById(arguments[0]).children).map(c => c.dataset.stem)",
        f"t-{direction}")


def python_scores(run_dir: Path, direction: str) -> dict[str, dict[str, float]]:
    """Per-image scores straight from the run's per_image/ file."""
    per = read_per_image(run_dir, direction)
    scores = batch_scores(per.counts)
    return {s: {m: float(scores[m][i]) for m in ("per_pixel_acc", "class_iou")} for i, s in enumerate(per.stems)}


def press(driver, direction: str, label: str) -> None:
    from selenium.webdriver.common.by import By

    box = driver.find_element(By.CSS_SELECTOR, f'.sorter[data-table="t-{direction}"]')
    next(b for b in box.find_elements(By.TAG_NAME, "button") if b.text == label).click()


def test_results_page_in_chromium(browser, suite, artifacts):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support.select import Select

    out, store = suite
    index = out / "index.html"
    assert index.is_file()
    images = check_page(browser, index)
    text = browser.find_element(By.TAG_NAME, "body").text
    for heading in ("Claims", "Tables", "Test images, worst first", "Figures", "Provenance"):
        assert heading in text
    assert images > 5 * 2  # the figures and every variant's worst images
    browser.execute_script("document.getElementById('images').scrollIntoView()")
    browser.save_screenshot(str(artifacts / "index.png"))

    run_dir = next((store / "synthetic" / "gan_backward").glob("seed0-*"))
    page = out / "pages" / "gan_backward-seed0.html"
    check_page(browser, page)
    scores = python_scores(run_dir, DIRECTION)
    files = sorted(scores, key=natural)
    acc = {s: scores[s]["per_pixel_acc"] for s in scores}
    worst = shown_stems(browser, DIRECTION)
    assert worst == ranked(files, acc.get)
    assert [acc[s] for s in worst] == sorted(acc.values())  # worst first, by per_image/'s numbers
    shown = browser.execute_script(
        "return Array.from(document.getElementById(arguments[0]).children).map(c => "
        "c.querySelector('.score').textContent.replace(/[^0-9.]/g, ''))", f"t-{DIRECTION}")
    assert shown == [f"{acc[s]:.3f}" for s in worst]
    browser.save_screenshot(str(artifacts / "run_worst_first.png"))

    press(browser, DIRECTION, "best first")
    best = shown_stems(browser, DIRECTION)
    assert best != worst and best == ranked(files, acc.get, descending=True)
    press(browser, DIRECTION, "file order")
    assert shown_stems(browser, DIRECTION) == files
    press(browser, DIRECTION, "worst first")
    select = browser.find_element(By.CSS_SELECTOR, f'.sorter[data-table="t-{DIRECTION}"] select')
    Select(select).select_by_value("class_iou")
    assert shown_stems(browser, DIRECTION) == ranked(files, lambda s: scores[s]["class_iou"])
    ranks = browser.execute_script(
        "return Array.from(document.querySelectorAll('#t-' + arguments[0] + ' .rank')).map(r => r.textContent)",
        DIRECTION)
    assert ranks == [str(i + 1) for i in range(len(files))]  # renumbered after sorting

    # the full image on click, closed with Escape
    browser.find_element(By.CSS_SELECTOR, f"#t-{DIRECTION} a.full").click()
    viewer = browser.find_element(By.ID, "viewer")
    assert viewer.is_displayed()
    # the card's input, output and ground truth, full size
    deadline = time.monotonic() + 30
    while not browser.execute_script(
            "return Array.from(document.querySelectorAll('#viewer img')).every(i => i.complete)"):
        assert time.monotonic() < deadline
        time.sleep(0.1)
    assert browser.execute_script(
        "return Array.from(document.querySelectorAll('#viewer img')).map(i => i.naturalWidth > 0)") == [True] * 3
    browser.save_screenshot(str(artifacts / "run_full_image.png"))
    browser.find_element(By.TAG_NAME, "body").send_keys(Keys.ESCAPE)
    assert not viewer.is_displayed()

    for compare in sorted((out / "pages").glob("compare-*.html")):
        check_page(browser, compare)
    spreads = browser.execute_script(
        "return Array.from(document.getElementById('t-compare').tBodies[0].rows)"
        ".map(r => parseFloat(r.getAttribute('data-spread-per_pixel_acc')))")
    assert spreads == sorted(spreads, reverse=True) and len(spreads) == len(files)
    browser.save_screenshot(str(artifacts / "compare.png"))
    print(f"\nscreenshots: {artifacts}")


def test_a_copy_without_images_names_them(browser, suite, tmp_path):
    """The committed Cityscapes page has no images/: it must say so, not show blank cells."""
    from selenium.webdriver.common.by import By

    out, _ = suite
    copy = tmp_path / "copy"
    shutil.copytree(out, copy, ignore=shutil.ignore_patterns("images"))
    open_page(browser, copy / "pages" / "gan_only-seed0.html")
    banner = browser.find_element(By.ID, "missing")
    assert banner.is_displayed() and "did not load" in banner.text
    assert int(banner.find_element(By.CLASS_NAME, "n").text) > 0
    assert np.all(np.asarray(browser.execute_script(
        "return Array.from(document.querySelectorAll('.cards img')).map(i => i.naturalWidth)")) == 0)

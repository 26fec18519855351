"""The report: paper tables with our numbers beside the reported ones, plus figures.

Fake-but-valid run directories with hand-picked numbers, so every aggregate can be checked
against a value computed by hand; figures are checked to be real PNGs, not looked at.
"""
from __future__ import annotations

import dataclasses
import json
import math
import re
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from benchmark.report import write_report
from benchmark.report.reference import PaperReferenceError, load_reference, parse_reference
from benchmark.report.tables import ReportWarning, TableSpecError, build_tables, load_runs

CLASSES = ["road", "sidewalk", "building", "car"]
# (variant, seed) -> labels2photo (per-pixel, per-class, IoU), photo2labels per-pixel
SCORES = {
    ("cyclegan", 0): ((0.50, 0.16, 0.10), 0.56),
    ("cyclegan", 1): ((0.54, 0.18, 0.12), 0.60),
    ("gan_only", 0): ((0.40, 0.10, 0.07), 0.50),
    ("gan_only", 1): ((0.46, 0.12, 0.09), 0.52),
}
ROWS = ["cycle_only", "gan_only", "gan_forward", "gan_backward", "cyclegan"]
SPECS = [
    {"id": "table4", "title": "Table 4: ablations, labels→photo (Cityscapes)",
     "direction": "labels2photo", "paper_table": "table4", "rows": ROWS},
    {"id": "table5", "title": "Table 5: ablations, photo→labels (Cityscapes)",
     "direction": "photo2labels", "paper_table": "table5", "rows": ROWS},
]
PROVENANCE = {"command": "benchmark report ablations cityscapes", "commit": "0123abcd",
              "dirty": False, "dataset": "cityscapes", "resolution": 128,
              "evaluator_hash": "ev42", "seeds": [0, 1], "profile": "smoke",
              "suite": "ablations", "x_domain": "photo", "y_domain": "labels",
              "generated_at": "2025-01-01T00:00:00+00:00"}
# benchmark.run.sanity.reference_rows' shape: row key -> direction -> scores
REAL = {"real_photos": {"labels2photo": {
            "per_pixel_acc": 0.81, "per_class_acc": 0.30, "class_iou": 0.25,
            "per_class": {c: {"acc": 0.9, "iou": 0.5} for c in CLASSES}}},
        "ground_truth_labels": {"photo2labels": {
            "per_pixel_acc": 0.94, "per_class_acc": 0.90, "class_iou": 0.85}},
        "fid_floor": {"labels2photo": {"fid": 4.2, "kid": 0.0011, "kid_std": 0.0003,
                                       "what": "3 real train photos vs 3 real val ones"}},
        "identity": {"labels2photo": {"fid": 251.0, "kid": 0.2900, "kid_std": 0.0040}},
        "evaluation": {"evaluator_hash": "ev42"}}
STEMS = ["b", "a", "c"]  # written unsorted: the grid must pick a sorted, shared subset


def _direction(acc, iou_road, with_fid=False):
    pp, pc, iou = acc
    per_class = {c: {"acc": 0.5, "iou": iou_road if c == "road" else 0.2} for c in CLASSES}
    per_class["car"] = {"acc": None, "iou": None}  # absent from prediction and ground truth
    out = {"per_pixel_acc": pp, "per_class_acc": pc, "class_iou": iou, "per_class": per_class}
    if with_fid:
        out.update(fid=60.0 + 10 * pp, kid=0.05, kid_std=0.001, kid_subset_size=100,
                   kid_subsets=50)
    else:
        out["unavailable"] = {"fid": "no Inception weights", "kid": "no Inception weights"}
    return out


def make_run(root: Path, variant: str, seed: int, *, metrics=True, log=True, images=True,
             stems=STEMS, with_fid=False) -> dict:
    run_dir = root / variant / f"seed{seed}"
    run_dir.mkdir(parents=True)
    l2p, p2l_pp = SCORES[(variant, seed)]
    if metrics:
        doc = {"directions": {"labels2photo": _direction(l2p, l2p[2], with_fid),
                              "photo2labels": _direction((p2l_pp, 0.2, 0.1), 0.3)},
               "evaluation": {"evaluator_hash": "ev42", "resolution": 128, "num_images": 3,
                              "torch_fidelity_version": "0.3.0",
                              "feature_extractor": "inception-v3-compat"}}
        (run_dir / "metrics.json").write_text(json.dumps(doc))
    if log:
        it = np.arange(0, 200, 10)
        columns = {"iteration": it, "loss_G_gan_y": 1 / (1 + it), "loss_D_Y": 0.25 + 0 * it,
                   "lr": 2e-4 + 0 * it}
        if variant == "cyclegan":
            columns["loss_forward_cycle"] = 3 * np.exp(-it / 100)
        pd.DataFrame(columns).to_csv(run_dir / "train_log.csv", index=False)
    if images:
        rng = np.random.default_rng(seed)
        for direction in ("labels2photo", "photo2labels"):
            folder = run_dir / "test" / direction
            folder.mkdir(parents=True)
            for stem in stems:
                pixels = rng.integers(0, 255, (16, 16, 3), dtype=np.uint8)
                Image.fromarray(pixels).save(folder / f"{stem}.png")
    (run_dir / "config.yaml").write_text(f"model: {variant}\nseed: {seed}\n")
    return {"variant": variant, "seed": seed, "run_dir": run_dir, "config_hash": "h" + variant}


@pytest.fixture
def runs(tmp_path):
    return [make_run(tmp_path / "store", v, s) for v, s in SCORES]


def _csv(path: Path) -> pd.DataFrame:
    """Plain CSV: pandas' defaults must read it (no comment lines)."""
    return pd.read_csv(path).set_index("variant")


# --------------------------------------------------------------------------- reference

def test_reference_holds_the_papers_numbers():
    ref = load_reference()
    assert ref.version >= 1 and ref.citation["arxiv"] == "1703.10593v7"
    assert ref.row("table4", "labels2photo", "gan_backward") == \
        {"per_pixel_acc": 0.39, "per_class_acc": 0.14, "class_iou": 0.06}
    assert ref.row("table5", "photo2labels", "gan_backward")["per_pixel_acc"] == 0.01
    assert ref.row("table2", "labels2photo", "pix2pix")["class_iou"] == 0.18
    assert ref.row("table3", "photo2labels", "cogan")["per_pixel_acc"] == 0.45
    assert ref.row("table1", "map2aerial", "cyclegan") == {"amt_fooled_pct": 26.8}
    assert ref.real_photos_row("labels2photo") == \
        {"per_pixel_acc": 0.80, "per_class_acc": 0.26, "class_iou": 0.21}
    assert ref.fid_anchor("labels2photo", "cyclegan") == 68.6
    assert ref.display_name("gan_forward") == "GAN + forward cycle"
    assert ref.display_name("my_variant") == "my_variant"
    with pytest.raises(PaperReferenceError, match="no direction 'photo2labels'"):
        ref.row("table4", "photo2labels", "cyclegan")


@pytest.mark.parametrize("patch, message", [
    (lambda d: d["tables"]["table4"]["directions"]["labels2photo"]["cyclegan"]
     .update(per_pixel_acc=52), r"table4\.directions\.labels2photo\.cyclegan\.per_pixel_acc"),
    (lambda d: d["tables"]["table4"]["directions"]["labels2photo"]
     .update(nope={"per_pixel_acc": 0.1, "per_class_acc": 0.1, "class_iou": 0.1}),
     "unknown variant"),
    (lambda d: d["tables"]["table5"]["directions"]["photo2labels"]["gan_only"]
     .pop("class_iou"), "expected exactly"),
    (lambda d: d.pop("citation"), "citation: missing"),
])
def test_reference_rejects_a_typo_by_name(patch, message):
    import yaml
    raw = yaml.safe_load(load_reference().path.read_text())
    patch(raw)
    with pytest.raises(PaperReferenceError, match=message):
        parse_reference(raw, Path("ref.yaml"))


# --------------------------------------------------------------------------- tables

def test_tables_mean_std_paper_and_pending(runs, tmp_path):
    out = tmp_path / "report"
    paths = build_tables(SPECS, runs, out, PROVENANCE, REAL)
    names = {p.name for p in paths}
    assert {"table4.md", "table4.tex", "table4.csv", "table5.md", "per_class_iou.md",
            "per_class_iou.tex", "per_class_iou.csv"} <= names

    md = (out / "table4.md").read_text()
    rows = {line.split("|")[1].strip(): [c.strip() for c in line.split("|")[2:-1]]
            for line in md.splitlines() if line.startswith("| ")}
    header = rows.pop("Method")
    col = {name: i for i, name in enumerate(header)}
    # cyclegan: (0.50, 0.54) -> 0.520 ± 0.028 (sample std = 0.02·√2); gan_only: 0.430 ± 0.042
    assert rows["CycleGAN"][col["per-pixel acc"]] == "0.520 ± 0.028"
    assert rows["GAN alone"][col["per-pixel acc"]] == "0.430 ± 0.042"
    assert rows["CycleGAN"][col["class IoU"]] == "0.110 ± 0.014"
    assert rows["CycleGAN"][col["seeds"]] == "2/2"
    # the paper's numbers beside ours, with the paper's precision
    assert rows["CycleGAN"][col["paper per-pixel acc"]] == "0.52"
    assert rows["GAN + backward cycle"][col["paper class IoU"]] == "0.06"
    # rows with no run stay, marked pending, paper numbers still shown
    for pending in ("Cycle alone", "GAN + forward cycle", "GAN + backward cycle"):
        assert rows[pending][col["per-pixel acc"]] == "—"
        assert rows[pending][col["seeds"]] == "0/2"
    assert list(rows)[:5] == ["Cycle alone", "GAN alone", "GAN + forward cycle",
                              "GAN + backward cycle", "CycleGAN"]
    # the evaluator's ceiling row: ours from reference_rows, the paper's 0.80/0.26/0.21
    real = rows["Real photos (evaluator)"]
    assert real[col["per-pixel acc"]] == "0.810"
    assert [real[col[f"paper {m}"]] for m in ("per-pixel acc", "per-class acc", "class IoU")] \
        == ["0.80", "0.26", "0.21"]
    assert "Paper column: pix2pix (Isola et al., CVPR 2017)" in md  # the note names its source
    # no run has FID: the column says "unavailable", the note gives the reason
    assert rows["CycleGAN"][col["FID"]] == "unavailable"
    assert rows["Cycle alone"][col["FID"]] == "—"
    assert "FID unavailable: no Inception weights" in md
    assert "FID (CUT, 2020)" not in col  # the anchor only beside a real FID
    # sanity rows: floor (real test vs train) and doing nothing (identity), same pipeline
    assert rows["Real test vs real train (floor)"][col["FID"]] == "4.2"
    assert rows["Identity (input as output)"][col["KID"]] == "0.2900"
    assert rows["Identity (input as output)"][col["per-pixel acc"]] == ""
    assert "the floor a model can reach. Here: 3 real train photos vs 3 real val ones." in md
    assert "what doing nothing scores" in md
    # photo->labels: no real-photo row, but the snapped ground truth as its ceiling
    body5 = (out / "table5.md").read_text().split("-->")[1]
    assert "Real photos" not in body5
    assert re.search(r"\| Ground-truth labels, snapped \(pipeline check\) +\| +\| +0\.940 \|", body5)


def test_csv_round_trips_with_comment_hash(runs, tmp_path):
    build_tables(SPECS, runs, tmp_path, PROVENANCE, REAL)
    table = _csv(tmp_path / "table4.csv")
    assert table.loc["cyclegan", "per_pixel_acc_mean"] == pytest.approx(0.52)
    assert table.loc["cyclegan", "per_pixel_acc_std"] == pytest.approx(0.02 * math.sqrt(2))
    assert table.loc["gan_only", "per_class_acc_mean"] == pytest.approx(0.11)
    assert table.loc["cyclegan", "paper_class_iou"] == pytest.approx(0.11)
    assert table.loc["gan_forward", "paper_per_pixel_acc"] == pytest.approx(0.55)
    assert table.loc["gan_forward", "status"] == "pending"
    assert math.isnan(table.loc["gan_forward", "per_pixel_acc_mean"])
    assert table.loc["cyclegan", "n_seeds"] == 2
    assert table.loc["real_photos", "paper_per_pixel_acc"] == pytest.approx(0.80)
    assert table.loc["real_photos", "class_iou_mean"] == pytest.approx(0.25)
    t5 = _csv(tmp_path / "table5.csv")
    assert t5.loc["gan_only", "per_pixel_acc_mean"] == pytest.approx(0.51)
    assert t5.loc["gan_only", "paper_per_pixel_acc"] == pytest.approx(0.53)

    per_class = pd.read_csv(tmp_path / "per_class_iou.csv")
    l2p = per_class[per_class.direction == "labels2photo"].set_index("variant")
    assert l2p.loc["cyclegan", "road"] == pytest.approx(0.11)  # (0.10 + 0.12) / 2
    assert l2p.loc["cyclegan", "sidewalk"] == pytest.approx(0.2)
    assert math.isnan(l2p.loc["cyclegan", "car"])  # class absent: left out, not 0
    assert math.isnan(l2p.loc["cycle_only", "road"])  # pending row kept
    assert l2p.loc["real_photos", "road"] == pytest.approx(0.5)


def test_every_table_file_starts_with_the_provenance(runs, tmp_path):
    paths = build_tables(SPECS, runs, tmp_path, PROVENANCE, REAL)
    first = {".md": "<!--", ".tex": "%"}
    for path in paths:
        text = path.read_text()
        if path.suffix == ".csv":  # plain tables: provenance lives in provenance.json
            assert not text.startswith("#") and "\n#" not in text, path.name
            assert len(pd.read_csv(path)) > 0
            continue
        assert text.startswith(first[path.suffix]), path.name
        head = text.split("-->")[0] if path.suffix == ".md" else "\n".join(
            line for line in text.splitlines() if line.startswith(first[path.suffix]))
        for key in ("command: benchmark report ablations cityscapes", "commit: 0123abcd",
                    "evaluator_hash: ev42", "dataset: cityscapes", "seeds: [0, 1]"):
            assert key in head, (path.name, key)
    tex = (tmp_path / "table4.tex").read_text()
    assert r"\toprule" in tex and r"\bottomrule" in tex and r"$\pm$" in tex
    assert "labels$\\to$photo" in tex and "---" in tex
    assert not list(tmp_path.glob(".*.tmp"))  # atomic writes leave no temporaries


def test_fid_column_appears_when_a_run_has_it(tmp_path):
    runs = [make_run(tmp_path, "cyclegan", s, with_fid=True) for s in (0, 1)]
    build_tables(SPECS[:1], runs, tmp_path / "out", PROVENANCE)
    md = (tmp_path / "out" / "table4.md").read_text()
    assert "65.2 ± 0.3" in md  # 60 + 10·(0.50, 0.54) -> 65.2 ± 0.28
    assert "FID (CUT, 2020)" in md and "68.6" in md  # CUT's anchor beside it
    table = _csv(tmp_path / "out" / "table4.csv")
    assert table.loc["cyclegan", "fid_mean"] == pytest.approx(65.2)


def test_a_run_without_metrics_is_pending_not_a_crash(tmp_path):
    runs = [make_run(tmp_path, "cyclegan", 0), make_run(tmp_path, "cyclegan", 1, metrics=False),
            make_run(tmp_path, "gan_only", 0, metrics=False, log=False, images=False)]
    with pytest.warns(ReportWarning, match="no metrics.json"):
        files = write_report(SPECS, runs, tmp_path / "out", PROVENANCE, plots=False)
    table = _csv(tmp_path / "out" / "table4.csv")
    assert table.loc["cyclegan", "status"] == "partial"
    assert table.loc["cyclegan", "n_seeds"] == 1
    assert table.loc["cyclegan", "per_pixel_acc_mean"] == pytest.approx(0.50)
    assert math.isnan(table.loc["cyclegan", "per_pixel_acc_std"])  # one seed: no std
    assert table.loc["gan_only", "status"] == "pending"
    md = (tmp_path / "out" / "table4.md").read_text()
    assert re.search(r"\| CycleGAN +\| +1/2 \| +0\.500 \|", md)
    assert files["plots"] == []


def test_bad_spec_is_named(tmp_path):
    with pytest.raises(TableSpecError, match="'rows'"):
        build_tables([{"id": "t", "title": "T", "direction": "labels2photo"}], [], tmp_path)
    with pytest.raises(PaperReferenceError, match="table9"):
        build_tables([dict(SPECS[0], paper_table="table9")], [], tmp_path)


def test_paper_table_without_the_direction_gives_no_paper_columns(runs, tmp_path):
    """The ablation suite names table4 on every dataset; on maps there is nothing to cite."""
    spec = dict(SPECS[0], id="t", direction="photo2labels")
    with pytest.warns(ReportWarning, match="no photo2labels numbers"):
        build_tables([spec], runs, tmp_path, PROVENANCE)
    md = (tmp_path / "t.md").read_text()
    assert "paper per-pixel acc" not in md and "No paper columns" in md
    assert _csv(tmp_path / "t.csv").loc["cyclegan", "per_pixel_acc_mean"] == pytest.approx(0.58)


def test_maps_table_and_a_users_own_variant(tmp_path):
    """Table 1 (AMT) cannot be rerun: FID/KID columns, the AMT numbers beside them."""
    run_dir = tmp_path / "mine"
    run_dir.mkdir()
    (run_dir / "metrics.json").write_text(json.dumps({"directions": {
        "map2aerial": {"fid": 120.0, "kid": 0.08}}}))
    runs = [{"variant": "my_variant", "seed": 0, "run_dir": run_dir, "config_hash": "x"}]
    spec = {"id": "table1_map2aerial", "title": "Table 1: map→aerial", "paper_table": "table1",
            "direction": "map2aerial", "rows": ["cyclegan", "my_variant"]}
    build_tables([spec], runs, tmp_path / "out", {"dataset": "maps", "seeds": 1})
    table = _csv(tmp_path / "out" / "table1_map2aerial.csv")
    assert table.loc["my_variant", "fid_mean"] == pytest.approx(120.0)
    assert table.loc["cyclegan", "paper_amt_fooled_pct"] == pytest.approx(26.8)
    assert table.loc["cyclegan", "status"] == "pending"
    md = (tmp_path / "out" / "table1_map2aerial.md").read_text()
    assert "paper AMT % fooled" in md and "| my_variant " in md
    assert "per-pixel acc" not in md


# --------------------------------------------------------------------------- full report

def _assert_png(path: Path) -> None:
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", path
    with Image.open(path) as img:
        img.verify()
    with Image.open(path) as img:
        assert img.width > 150 and img.height > 100, (path, img.size)


@pytest.fixture
def low_dpi(monkeypatch):
    """Figures at 50 dpi: layout and content are the same, rasterising is 9x cheaper."""
    from benchmark.report import plots
    monkeypatch.setattr(plots, "DPI", 50)


def test_write_report_writes_tables_figures_and_readme(runs, tmp_path, low_dpi):
    out = tmp_path / "report"
    files = write_report(SPECS, runs, out, PROVENANCE, REAL)
    expected = {"losses.png", "bars_labels2photo.png", "bars_photo2labels.png",
                "samples_labels2photo.png", "samples_photo2labels.png",
                "per_class_iou_labels2photo.png", "per_class_iou_photo2labels.png"}
    assert {p.name for p in files["plots"]} == expected
    for path in files["plots"]:
        _assert_png(path)
    assert json.loads((out / "provenance.json").read_text()) == PROVENANCE
    readme = (out / "README.md").read_text()
    for name in expected | {"table4.md", "table5.tex", "per_class_iou.csv", "provenance.json"}:
        assert name in readme
    assert "0123abcd" in readme


def test_figures_skip_runs_missing_their_files(tmp_path, low_dpi):
    from benchmark.report import plots

    SCORES[("cyclegan", 2)] = SCORES[("cyclegan", 0)]
    try:
        runs = [make_run(tmp_path, "cyclegan", 0, stems=["x", "a", "b"]),
                make_run(tmp_path, "gan_only", 0, stems=["b", "a", "z"]),
                make_run(tmp_path, "cyclegan", 2, log=False, images=False),
                make_run(tmp_path, "gan_only", 1, metrics=False, log=False, images=False)]
    finally:
        del SCORES[("cyclegan", 2)]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        samples = plots.plot_samples(runs, "labels2photo", tmp_path, ["cyclegan", "gan_only"],
                                     k=4)
        losses = plots.plot_losses(runs, tmp_path, ["cyclegan", "gan_only"])
    messages = " ".join(str(w.message) for w in caught if w.category is ReportWarning)
    assert "no test/labels2photo images" in messages and "no train_log.csv" in messages
    _assert_png(samples)
    _assert_png(losses)
    loaded = load_runs(runs)
    stems, rows = plots.select_samples(loaded, "labels2photo", ["gan_only", "cyclegan"], k=4)
    assert stems == ["a", "b"]  # sorted, and only those every run has
    assert [(variant, seed) for variant, seed, _ in rows] == [("gan_only", 0), ("cyclegan", 0)]
    assert plots.select_samples(loaded, "labels2photo", ["cyclegan"], k=1)[0] == ["a"]
    assert sorted(["10", "2", "1", "b2", "b10"], key=plots._natural) == ["1", "2", "10", "b2",
                                                                          "b10"]
    # nothing drawable -> None and a warning, never an exception
    empty = [make_run(tmp_path / "e", "gan_only", 1, metrics=False, log=False, images=False)]
    with pytest.warns(ReportWarning):
        assert plots.plot_bars(empty, "labels2photo", tmp_path) is None
        assert plots.plot_samples(empty, "labels2photo", tmp_path) is None
        assert plots.plot_per_class_iou(empty, "labels2photo", tmp_path) is None
        assert plots.plot_losses(empty, tmp_path) is None


# --------------------------------------------------------------------------- issue 9: failures,
# one-set replacement, plain CSV + long format

def test_failed_and_unavailable_runs_are_not_pending(runs, tmp_path):
    store = tmp_path / "store"
    crashed = store / "gan_forward" / "seed0"
    no_weights = [store / "gan_backward" / f"seed{s}" for s in (0, 1)]
    for folder in (crashed, *no_weights):
        folder.mkdir(parents=True)
    records = runs + [
        {"variant": "gan_forward", "seed": 0, "run_dir": crashed, "state": "failed",
         "error": "NonFiniteLossError: loss_G is nan at iteration 40"}] + [
        {"variant": "gan_backward", "seed": s, "run_dir": no_weights[s], "state": "failed",
         "error": "FeatureWeightsUnavailable: no VGG-16 weights: set "
                  "model.feature_net.weights_path"} for s in (0, 1)]
    build_tables(SPECS, records, tmp_path / "out", PROVENANCE, REAL)
    md = (tmp_path / "out" / "table4.md").read_text()
    assert re.search(r"\| GAN \+ forward cycle +\| +0/2 \| +failed \|", md)
    assert re.search(r"\| GAN \+ backward cycle +\| +0/2 \| +unavailable \|", md)
    assert re.search(r"\| Cycle alone +\| +0/2 \| +— \|", md)  # still pending
    assert "GAN + forward cycle seed 0 failed: NonFiniteLossError: loss_G is nan" in md
    # one note per reason, naming the seeds it stopped, not one line per seed
    assert "GAN + backward cycle seeds 0, 1 unavailable: no VGG-16 weights: set " \
           "model.feature_net.weights_path" in md and md.count("no VGG-16 weights") == 2  # md + notes comment
    table = _csv(tmp_path / "out" / "table4.csv")
    assert table.loc["gan_forward", "status"] == "failed"
    assert table.loc["gan_backward", "status"] == "unavailable"
    assert table.loc["cycle_only", "status"] == "pending"


def test_report_replaces_its_folder_as_one_set(runs, tmp_path, monkeypatch):
    out = tmp_path / "results" / "ablations"
    out.mkdir(parents=True)
    (out / "bars_old_direction.png").write_bytes(b"stale")
    (out / "table4.md").write_text("old table")
    write_report(SPECS, runs, out, PROVENANCE, REAL, plots=False)
    assert not (out / "bars_old_direction.png").exists()  # not kept beside the new set
    assert "0.520 ± 0.028" in (out / "table4.md").read_text()
    assert sorted(p.name for p in out.parent.iterdir()) == ["ablations"]  # no temporaries

    # a report that fails half-way leaves the previous set untouched
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    from benchmark import report

    def broken(*args, **kwargs):
        raise RuntimeError("disk full")
    monkeypatch.setattr(report, "readme", broken)
    with pytest.raises(RuntimeError, match="disk full"):
        write_report(SPECS, runs, out, PROVENANCE, REAL, plots=False)
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before
    assert sorted(p.name for p in out.parent.iterdir()) == ["ablations"]


def test_scores_long_is_one_row_per_run_direction_metric(tmp_path):
    runs = [make_run(tmp_path, "cyclegan", s, with_fid=True) for s in (0, 1)]
    (runs[0]["run_dir"] / "env.json").write_text(json.dumps({"commit": "c0ffee"}))
    (runs[0]["run_dir"] / "config.yaml").write_text(
        "model: {name: cyclegan}\nprofile: cpu\ndataset: {name: cityscapes}\n"
        "trainer: {precision: bf16}\ndata: {crop_size: 64}\n")
    write_report(SPECS, runs, tmp_path / "out", PROVENANCE, plots=False)
    long = pd.read_csv(tmp_path / "out" / "scores_long.csv")
    for column in ("variant", "seed", "direction", "metric", "value", "config_hash", "commit",
                   "profile", "dataset", "precision", "snap_rule", "resolution"):
        assert column in long.columns, column
    one = long[(long.seed == 0) & (long.direction == "labels2photo")].set_index("metric")
    assert one.loc["per_pixel_acc", "value"] == pytest.approx(0.50)
    assert one.loc["fid", "value"] == pytest.approx(65.0)
    assert one.loc["kid_std", "value"] == pytest.approx(0.001)
    assert one.loc["class_iou:road", "value"] == pytest.approx(0.10)
    assert "class_iou:car" not in one.index  # absent class: no row, not 0
    assert one.loc["fid", "commit"] == "c0ffee" and one.loc["fid", "precision"] == "bf16"
    assert one.loc["fid", "profile"] == "cpu" and one.loc["fid", "config_hash"] == "hcyclegan"
    # a run without env.json/config keys falls back to the report's provenance
    other = long[long.seed == 1].iloc[0]
    assert other.commit == "0123abcd" and other.profile == "smoke"
    # every (run, direction, metric) exactly once
    assert not long.duplicated(["variant", "seed", "direction", "metric"]).any()
    assert set(long.direction) == {"labels2photo", "photo2labels"}


@pytest.mark.slow  # a subprocess composing the suite's five configs: ~17 s on a loaded CPU
def test_cli_report_with_no_finished_run_writes_nothing(tmp_path):
    import subprocess

    results = tmp_path / "results"
    committed = results / "ablations" / "synthetic"
    committed.mkdir(parents=True)
    (committed / "table4.md").write_text("committed table\n")
    proc = subprocess.run(
        ["benchmark", "report", "ablations", "synthetic", f"store_dir={tmp_path / 'empty'}",
         f"results_dir={results}", "progress=false"],
        capture_output=True, text=True, timeout=300, env={**__import__("os").environ,
                                                          "OMP_NUM_THREADS": "1"})
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "nothing to report: 0/5 runs finished; committed files" in proc.stderr
    assert [p.name for p in committed.iterdir()] == ["table4.md"]
    assert (committed / "table4.md").read_text() == "committed table\n"


# --------------------------------------------------------------------------- issue 10: FID/KID,
# honest headings, sample grids

def test_fid_kid_with_subset_spread_and_honest_heading(tmp_path):
    runs = [make_run(tmp_path, "cyclegan", s, with_fid=True) for s in (0, 1)]
    provenance = {**PROVENANCE, "profile": "cpu", "train_resolution": 64, "iterations": "1000",
                  "precision": "fp32", "snap_rule": "train19"}
    build_tables(SPECS[:1], runs, tmp_path / "out", provenance)
    md = (tmp_path / "out" / "table4.md").read_text()
    rows = {line.split("|")[1].strip(): [c.strip() for c in line.split("|")[2:-1]]
            for line in md.split("-->")[1].splitlines() if line.startswith("| ")}
    col = {name: i for i, name in enumerate(rows.pop("Method"))}
    assert rows["CycleGAN"][col["KID"]] == "0.0500 ± 0.0000 [0.0500, 0.0500]"  # seeds agree
    assert "FID/KID [low, high]: 95% t interval for the recipe's mean over its seeds alone" in md
    assert rows["CycleGAN"][col["KID sd (subsets)"]] == "0.0010"
    assert "the sd of KID over random 50 subsets of 100 images" in md
    heading = [line for line in md.splitlines() if line.startswith("### ")][0]
    assert "reduced profile" in heading and "Reproduced" not in md
    assert "Reduced profile `cpu` (training at 64², 1000 iterations" in md
    assert "the paper's ordering of the rows is a claim to test" in md
    head = md.split("-->")[0]
    assert "precision: fp32" in head and "snap_rule: train19" in head
    tex = (tmp_path / "out" / "table4.tex").read_text()
    assert "ours (mean $\\pm$ sd)" in tex and "reproduced (mean" not in tex
    # the paper's own protocol: no reduced-profile warning
    build_tables(SPECS[:1], runs, tmp_path / "paper", {**provenance, "profile": "paper"})
    md = (tmp_path / "paper" / "table4.md").read_text()
    assert "reduced profile" not in md.lower()
    assert "reproduced (mean $\\pm$ sd)" in (tmp_path / "paper" / "table4.tex").read_text()


def test_a_score_at_the_majority_class_floor_is_marked_and_explained(runs, tmp_path):
    """A reviewer must not miss a recipe that segments no better than painting every pixel as
    the commonest class (GAN alone's per-pixel 0.43 against a floor of 0.45 here)."""
    rows = {**REAL, "majority_class": {"labels2photo": {
        "per_pixel_acc": 0.45, "per_class_acc": 0.05, "class_iou": 0.02}}}
    build_tables(SPECS[:1], runs, tmp_path / "out", PROVENANCE, rows)
    md = (tmp_path / "out" / "table4.md").read_text()
    cells = {line.split("|")[1].strip(): line for line in md.splitlines() if line.startswith("| ")}
    assert "0.430 ± 0.042" in cells["GAN alone"] and "(≤ majority class)" in cells["GAN alone"]
    assert "(≤ majority class)" not in cells["CycleGAN"]  # 0.52 is above the floor
    assert cells["GAN alone"].count("(≤ majority class)") == 1  # per-class 0.11 > 0.05 and IoU
    assert "* (≤ majority class) = the recipe's mean segmentation score is at or below" in md
    tex = (tmp_path / "out" / "table4.tex").read_text()
    assert r"($\leq$ majority class)" in tex
    build_tables(SPECS[:1], runs, tmp_path / "clean", PROVENANCE, REAL)  # no majority row: no mark
    assert "majority class)" not in (tmp_path / "clean" / "table4.md").read_text()


def test_a_score_at_the_layout_blind_row_is_marked_and_explained(runs, tmp_path):
    """The evaluator knows where streets put road and sky, so a score well above the majority
    class can still show nothing of the input's own layout: at or below another scene's real
    image, the cell says so (and the lower, majority-class mark wins where both hold)."""
    rows = {**REAL,
            "majority_class": {"labels2photo": {"per_pixel_acc": 0.45, "per_class_acc": 0.05,
                                               "class_iou": 0.02}},
            "other_scene": {"labels2photo": {"per_pixel_acc": 0.50, "per_class_acc": 0.12,
                                             "class_iou": 0.09}}}
    build_tables(SPECS[:1], runs, tmp_path / "out", PROVENANCE, rows)
    md = (tmp_path / "out" / "table4.md").read_text()
    cells = {line.split("|")[1].strip(): line.split("|") for line in md.splitlines()
             if line.startswith("| ")}
    gan_pp, gan_pc = cells["GAN alone"][3], cells["GAN alone"][4]
    assert "(≤ majority class)" in gan_pp and "layout-blind" not in gan_pp  # 0.43 <= 0.45
    assert "(≤ layout-blind)" in gan_pc  # 0.11 is above the majority row's 0.05, under 0.12
    assert "layout-blind)" not in "|".join(cells["CycleGAN"])  # 0.52 / 0.17 / 0.11 clear it
    blind = cells["Real image of another scene (layout-blind)"]
    assert [c.strip() for c in blind[3:6]] == ["0.500", "0.120", "0.090"]
    assert "* (≤ layout-blind) = the recipe's mean segmentation score is at or below" in md
    assert "* Real image of another scene (layout-blind): each test scene scored against" in md
    assert r"($\leq$ layout-blind)" in (tmp_path / "out" / "table4.tex").read_text()


def test_a_suite_without_paper_claims_points_to_no_claims_table(tmp_path):
    """A user's suite (the CUT example's, say) has rows no paper claim speaks of: no claims.md
    is written, so neither the heading, the notes nor the README lead may send the reader there."""
    run_dir = tmp_path / "mine"
    run_dir.mkdir()
    (run_dir / "metrics.json").write_text(json.dumps({"directions": {
        "map2aerial": {"fid": 120.0, "kid": 0.08}}}))
    runs = [{"variant": "my_variant", "seed": 0, "run_dir": run_dir, "config_hash": "x"}]
    second = tmp_path / "mine1"
    second.mkdir()
    (second / "metrics.json").write_text(json.dumps({"directions": {
        "map2aerial": {"fid": 130.0, "kid": 0.09}}}))
    runs.append({"variant": "my_variant", "seed": 1, "run_dir": second, "config_hash": "y"})
    spec = {"id": "mine", "title": "My table", "direction": "map2aerial", "rows": ["my_variant"]}
    provenance = {**PROVENANCE, "dataset": "maps", "profile": "cpu", "train_resolution": 64,
                  "iterations": "1000"}
    files = write_report([spec], runs, tmp_path / "out", provenance, plots=False)
    assert files["claims"] == [] and not (tmp_path / "out" / "claims.md").exists()
    md = (tmp_path / "out" / "mine.md").read_text()
    heading = [line for line in md.splitlines() if line.startswith("### ")][0]
    assert heading == "### My table — reduced profile: not the paper's numbers"
    assert "claims.md" not in md and "the intervals and marks, from the seeds" in md
    # FID 120 and 130: mean 125, sd 7.07, t(0.975, 1 df) = 12.706 -> 125 ± 63.5
    assert "| my_variant | 2/2 | 125.0 ± 7.1 [61.5, 188.5] |" in re.sub(r" +", " ", md)
    table = _csv(tmp_path / "out" / "mine.csv")
    assert table.loc["my_variant", "fid_ci_low"] == pytest.approx(125 - 12.7062 * 5, abs=1e-3)
    readme = (tmp_path / "out" / "README.md").read_text()
    assert "claims table" not in readme and "the intervals and marks say which" in readme
    # a reference without the paper's ceiling row: the evaluator row's note names no paper column
    spec = {**spec, "direction": "labels2photo"}
    (run_dir / "metrics.json").write_text(json.dumps({"directions": {
        "labels2photo": {"per_pixel_acc": 0.5, "per_class_acc": 0.2, "class_iou": 0.1}}}))
    reference = load_reference()
    bare = dataclasses.replace(reference, real_photos=None)
    build_tables([spec], runs, tmp_path / "bare", {**provenance, "dataset": "cityscapes"},
                 REAL, bare)
    md = (tmp_path / "bare" / "mine.md").read_text()
    assert "Real photos (evaluator): the suite's segmentation evaluator" in md
    assert "Paper column" not in md


def test_readme_is_an_index_with_every_table_and_an_honest_lead(runs, tmp_path):
    write_report(SPECS, runs, tmp_path / "out", PROVENANCE, REAL, plots=False)
    readme = (tmp_path / "out" / "README.md").read_text()
    assert "**Not the paper's protocol**" in readme and "`smoke`" in readme
    assert "### Table 4: ablations" in readme and "### Table 5: ablations" in readme
    assert "0.520 ± 0.028" in readme  # the tables themselves, inline
    assert "scores_long.csv" in readme and "pandas.read_csv(path)" in readme


def test_sample_grid_has_input_and_ground_truth_rows(runs, tmp_path, low_dpi):
    from benchmark.report import plots

    def sources(direction, stems):
        grey = {s: np.full((16, 16, 3), 128, np.uint8) for s in stems}
        return {"input": grey, "ground truth": grey}
    plain = plots.plot_samples(runs, "labels2photo", tmp_path / "a", k=2)
    framed = plots.plot_samples(runs, "labels2photo", tmp_path / "b", k=2, sources=sources)
    with Image.open(plain) as a, Image.open(framed) as b:
        assert a.width == b.width
        # two variants -> four rows: the figure grows by two rows of cells
        assert b.height - a.height > 2 * 1.5 * 50


def test_report_sample_rows_reads_inputs_and_ground_truth_of_the_test_split():
    from benchmark.config import compose_config
    from benchmark.run.samples import report_sample_rows

    cfg = compose_config(["dataset=synthetic", "profile=smoke"])
    rows = report_sample_rows(cfg, "labels2photo", ["test_00000", "test_00003", "nope"])
    size = int(cfg.evaluation.resolution)
    assert set(rows) == {"input", "ground truth"}
    assert set(rows["input"]) == {"test_00000", "test_00003"}  # an unknown stem is left out
    label, photo = rows["input"]["test_00003"], rows["ground truth"]["test_00003"]
    assert label.size == photo.size == (size, size)
    # the input of labels->photo is the colour label map, the ground truth the aligned photo
    assert len(np.unique(np.asarray(label).reshape(-1, 3), axis=0)) < \
        len(np.unique(np.asarray(photo).reshape(-1, 3), axis=0))
    with pytest.raises(ValueError, match="not one of"):
        report_sample_rows(cfg, "map2aerial", ["0"])


# --------------------------------------------------------------------------- issue 11: Tables 2-3,
# maps

BASELINE_ROWS = ["cogan", "bigan", "simgan", "feature_loss", "cyclegan", "pix2pix"]


def test_tables_2_and_3_render_through_the_same_machinery(runs, tmp_path):
    specs = [{"id": "table2", "title": "Table 2: baselines, labels→photo", "direction":
              "labels2photo", "paper_table": "table2", "rows": BASELINE_ROWS},
             {"id": "table3", "title": "Table 3: baselines, photo→labels", "direction":
              "photo2labels", "paper_table": "table3", "rows": BASELINE_ROWS}]
    write_report(specs, runs, tmp_path / "out", {**PROVENANCE, "suite": "paper"}, REAL,
                 plots=False)
    t2 = _csv(tmp_path / "out" / "table2.csv")
    assert t2.loc["pix2pix", "paper_class_iou"] == pytest.approx(0.18)
    assert t2.loc["cyclegan", "per_pixel_acc_mean"] == pytest.approx(0.52)
    assert t2.loc["cogan", "status"] == "pending"
    assert t2.loc["real_photos", "paper_per_pixel_acc"] == pytest.approx(0.80)  # the ceiling
    t3 = _csv(tmp_path / "out" / "table3.csv")
    assert t3.loc["pix2pix", "paper_per_pixel_acc"] == pytest.approx(0.85)
    readme = (tmp_path / "out" / "README.md").read_text()
    assert "### Table 2: baselines" in readme and "### Table 3: baselines" in readme


def test_maps_shows_fid_kid_beside_the_amt_study_as_a_different_measure(tmp_path):
    """Baselines on maps: the suite's by_dataset names Table 1 (AMT) for maps."""
    records = []
    for variant, fid in (("cyclegan", 110.0), ("simgan", 180.0)):
        run_dir = tmp_path / variant
        run_dir.mkdir()
        (run_dir / "metrics.json").write_text(json.dumps({"directions": {
            "map2aerial": {"fid": fid, "kid": 0.07, "kid_std": 0.004}}}))
        records.append({"variant": variant, "seed": 0, "run_dir": run_dir})
    failed = tmp_path / "feature_loss"
    failed.mkdir()
    records.append({"variant": "feature_loss", "seed": 0, "run_dir": failed, "state": "failed",
                    "error": "FeatureWeightsUnavailable: VGG-16 weights not cached and "
                             "download.pytorch.org unreachable"})
    spec = {"id": "table2", "title": "Table 1: baselines, map→aerial", "paper_table": "table1",
            "direction": "map2aerial", "rows": BASELINE_ROWS}
    build_tables([spec], records, tmp_path / "out", {"dataset": "maps", "seeds": 1,
                                                     "profile": "cpu"})
    table = _csv(tmp_path / "out" / "table2.csv")
    assert table.loc["simgan", "fid_mean"] == pytest.approx(180.0)
    assert table.loc["simgan", "paper_amt_fooled_pct"] == pytest.approx(0.7)
    assert table.loc["cyclegan", "paper_amt_fooled_pct"] == pytest.approx(26.8)
    assert table.loc["feature_loss", "status"] == "unavailable"
    md = (tmp_path / "out" / "table2.md").read_text()
    assert "paper = Table 1" in md and "a different measure" in md
    assert "Feature loss + GAN seed 0 unavailable: VGG-16 weights not cached" in md
    assert "per-pixel acc" not in md


# --------------------------------------------------------------------------- issue 12: intervals,
# paired comparisons, the difference plot

def _write_per_image(run: dict, direction: str, accuracy: float, seed: int) -> None:
    """30 images, 4 classes; `accuracy` of each class's pixels on the diagonal."""
    from benchmark.run.per_image import write_per_image

    rng = np.random.default_rng(seed)
    counts = np.zeros((30, 4, 5), dtype=np.int64)
    for i in range(30):
        for c in range(4):
            total = 200 + int(rng.integers(0, 50))
            right = int(rng.binomial(total, accuracy))
            counts[i, c, c] = right
            counts[i, c, (c + 1) % 4] = total - right
    write_per_image(run["run_dir"], direction, [f"img{i}" for i in range(30)], counts, CLASSES)
    # metrics.json says what the per-image files sum to, as a real scoring writes them
    from evaluation.metrics import batch_scores

    path = run["run_dir"] / "metrics.json"
    doc = json.loads(path.read_text())
    summed = batch_scores(counts.sum(axis=0))
    doc["directions"][direction].update({m: float(summed[m]) for m in ("per_pixel_acc", "per_class_acc",
                                                                        "class_iou")})
    path.write_text(json.dumps(doc))


@pytest.fixture
def scored_runs(runs):
    for run in runs:
        accuracy = 0.8 if run["variant"] == "cyclegan" else 0.5
        _write_per_image(run, "labels2photo", accuracy, run["seed"])
    return runs


def test_cells_carry_intervals_and_holm_marks(scored_runs, tmp_path, low_dpi):
    files = write_report(SPECS, scored_runs, tmp_path / "out", PROVENANCE, REAL)
    md = (tmp_path / "out" / "table4.md").read_text()
    rows = {line.split("|")[1].strip(): [c.strip() for c in line.split("|")[2:-1]]
            for line in md.split("-->")[1].splitlines() if line.startswith("| ")}
    col = {name: i for i, name in enumerate(rows.pop("Method"))}
    cyclegan, gan = rows["CycleGAN"][col["per-pixel acc"]], rows["GAN alone"][col["per-pixel acc"]]
    # mean ± seed sd (from metrics.json, which the per-image files sum to), then the recipe
    # interval (2 seeds: a t interval with 1 degree of freedom, so wide), then ▼ = lower than CycleGAN
    assert re.fullmatch(r"0\.80\d ± 0\.00\d \[0\.\d\d\d, 0\.\d\d\d\]", cyclegan), cyclegan
    assert re.fullmatch(r"0\.(49|50)\d ± 0\.00\d \[0\.\d\d\d, 0\.\d\d\d\]▼", gan), gan
    for cell in (cyclegan, gan):  # a cell's mean lies inside its own interval
        mean = float(cell.split(" ± ")[0])
        low, high = map(float, re.search(r"\[(\S+), (\S+)\]", cell).groups())
        assert low < mean < high, cell
    assert "bootstrap resamples of the 30 test images" in md and "Holm" in md
    assert "training recipe, not these checkpoints" in md
    table = _csv(tmp_path / "out" / "table4.csv")
    assert bool(table.loc["gan_only", "per_pixel_acc_significant"]) is True
    assert table.loc["gan_only", "per_pixel_acc_p_holm"] < 0.05
    assert table.loc["cyclegan", "per_pixel_acc_ci_low"] < 0.8 < \
        table.loc["cyclegan", "per_pixel_acc_ci_high"]
    tex = (tmp_path / "out" / "table4.tex").read_text()
    assert "$^\\downarrow$" in tex

    comparisons = pd.read_csv(tmp_path / "out" / "comparisons.csv")
    for column in ("table", "variant", "metric", "diff", "ci_low", "ci_high", "p", "p_holm",
                   "significant", "better", "p_improvement", "seeds_needed", "checkpoints_p"):
        assert column in comparisons.columns, column
    row = comparisons[(comparisons.variant == "gan_only")
                      & (comparisons.metric == "per_pixel_acc")].iloc[0]
    assert row["table"] == "table4" and row["diff"] == pytest.approx(-0.3, abs=0.03)
    assert row.ci_low < row["diff"] < row.ci_high < 0 and row.p_holm <= 12 * row.p + 1e-12
    # table5's runs have no per-image files: no interval, and the note says why
    md5 = (tmp_path / "out" / "table5.md").read_text()
    assert "No interval for cyclegan: no per-image scores" in md5
    assert "[" not in md5.split("-->")[1].split("* ")[0]

    plot = tmp_path / "out" / "differences_table4.png"
    assert plot in files["plots"]
    _assert_png(plot)
    assert not (tmp_path / "out" / "differences_table5.png").exists()


def test_claims_table_gives_each_paper_claim_a_verdict(scored_runs, tmp_path, low_dpi):
    """gan_only (2 seeds at 0.50) against cyclegan (2 seeds at 0.80) on table4: the claim
    "removing the cycle loss hurts" holds; table5 has no per-image scores: no statement; the
    baselines' claims are not about these tables and are left out."""
    write_report(SPECS, scored_runs, tmp_path / "out", PROVENANCE, REAL, plots=False)
    claims = pd.read_csv(tmp_path / "out" / "claims.csv")
    # the ablation claims of the table's rows; those without runs make no statement yet
    assert set(claims.claim) == {"no_gan_hurts", "no_cycle_hurts", "forward_only_worse", "backward_only_worse"}
    assert (claims[claims.claim != "no_cycle_hurts"].verdict == "no statement").all()
    # a variant with no run yet (cycle_only) is "0 vs 2": CycleGAN's seeds still count
    no_run = claims[(claims.claim == "no_gan_hurts") & (claims.table == "table4")]
    assert (no_run.n_seeds == 0).all() and (no_run.n_reference_seeds == 2).all()
    t4 = claims[(claims.claim == "no_cycle_hurts") & (claims.table == "table4")
                & (claims.metric == "per_pixel_acc")].iloc[0]
    assert t4.verdict == "holds" and t4.ci_high < 0 and t4.p_improvement == 0
    assert t4.n_seeds == 2 and t4.n_reference_seeds == 2 and t4.seeds_needed >= 2
    assert (claims[claims.table == "table5"].verdict == "no statement").all()
    md = (tmp_path / "out" / "claims.md").read_text()
    assert "Removing the cycle loss hurts" in md and "**holds**" in md and "pilot estimate" in md
    tested = claims[claims.verdict != "no statement"]
    decided = tested[tested.verdict.isin(["holds", "contradicted"])]
    assert (f"unadjusted for the {len(tested)} claims tested" in md
            and f"Of the {len(decided)} that did, {int((decided.p_holm < 0.05).sum())} also survive" in md)
    readme = (tmp_path / "out" / "README.md").read_text()
    assert readme.index("## Claims") < readme.index("## Tables"), "the claims lead the page"


def test_verdicts_from_the_interval_of_the_difference():
    from benchmark.report.claims import verdict

    assert verdict("lower", -0.2, -0.1) == "holds"
    assert verdict("lower", 0.1, 0.2) == "contradicted"
    assert verdict("lower", -0.1, 0.2) == "inconclusive"
    assert verdict("higher", 0.1, 0.2) == "holds"
    assert verdict("higher", float("nan"), float("nan")) == "no statement"


def test_per_image_files_that_disagree_with_metrics_drop_the_interval(scored_runs, tmp_path, low_dpi):
    """A cell never shows an interval around a number other than its own mean."""
    run = next(r for r in scored_runs if r["variant"] == "gan_only")
    path = run["run_dir"] / "metrics.json"
    doc = json.loads(path.read_text())
    doc["directions"]["labels2photo"]["per_pixel_acc"] = 0.9
    path.write_text(json.dumps(doc))
    write_report(SPECS, scored_runs, tmp_path / "out", PROVENANCE, REAL, plots=False)
    md = (tmp_path / "out" / "table4.md").read_text()
    gan = next(line for line in md.splitlines() if line.startswith("| GAN alone"))
    assert "[" not in gan.split("|")[3], gan
    assert "No interval or mark for GAN alone: the per-image scores do not sum to metrics.json" in md


def test_bars_draw_the_floor_identity_and_majority_rows_as_reference_lines(tmp_path):
    """The FID/KID bars carry the floor and identity rows, the score bars the majority-class
    floor: a reader sees whether a variant sits next to doing nothing."""
    from benchmark.report.plots import reference_lines
    from benchmark.report.runs import sanity_rows

    rows = sanity_rows({"fid_floor": {"labels2photo": {"fid": 140.0, "kid": 0.0}},
                        "identity": {"labels2photo": {"fid": 296.0, "kid": 0.3},
                                     "photo2labels": {"unavailable": {"fid": "labels"}}},
                        "majority_class": {"labels2photo": {"per_pixel_acc": 0.26},
                                           "photo2labels": {"per_pixel_acc": 0.26}},
                        "other_scene": {"photo2labels": {"per_pixel_acc": 0.47}},
                        "evaluation": {"evaluation_hash": "x"}})
    assert [(k, v) for k, v, *_ in reference_lines(rows, "labels2photo", "fid")] == [
        ("fid_floor", 140.0), ("identity", 296.0)]
    assert [k for k, *_ in reference_lines(rows, "photo2labels", "fid")] == []
    assert [(k, v) for k, v, *_ in reference_lines(rows, "photo2labels", "per_pixel_acc")] == [
        ("majority_class", 0.26), ("other_scene", 0.47)]

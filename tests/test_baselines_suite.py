"""`benchmark run baselines synthetic profile=smoke` end to end, and the `paper` suite's plan."""
from __future__ import annotations

import json

import pandas as pd
import pytest

from baselines import feature_nets
from benchmark.cli import main
from benchmark.suite.plan import load_suite, plan, table_specs

VARIANTS = ["cogan", "bigan", "simgan", "feature_loss", "feature_loss_inception", "cyclegan", "pix2pix"]


@pytest.mark.slow
def test_baselines_suite_writes_tables_2_and_3_with_the_unavailable_row_named(tmp_path, monkeypatch, capsys):
    # VGG-16 weights are made absent (nothing cached, host "unreachable") on every machine, so
    # the feature-loss row must come out unavailable with the option to set, never a number.
    monkeypatch.setattr(feature_nets, "cached_path", lambda arch: tmp_path / "hub" / f"{arch}.pth")
    monkeypatch.setattr(feature_nets, "probe", lambda url, timeout_s: "offline (test)")
    args = ["profile=smoke", f"store_dir={tmp_path / 'store'}", f"results_dir={tmp_path / 'results'}",
            "progress=false", "dataset.train_count=8", "dataset.test_count=4", "dataset.size=32",
            "trainer.iterations=4", "trainer.sample_every=4", "trainer.checkpoint_every=4",
            "evaluation.segmenter.iterations=10", "evaluation.fid.enabled=false"]
    # unavailable is known before training, named with the option to set, and not a failure
    assert main(["run", "baselines", "synthetic", *args]) == 0
    printed = capsys.readouterr().out
    assert "unavailable feature_loss seed 0: FeatureWeightsUnavailable" in printed
    assert printed.strip().splitlines()[-1].startswith("6/7 done, 1 unavailable: feature_loss (")
    assert not list((tmp_path / "store").glob("synthetic/feature_loss/*/checkpoint*"))  # nothing trained
    out = tmp_path / "results" / "baselines" / "synthetic"
    for table in ("table2", "table3"):
        for ext in ("md", "tex", "csv"):
            assert (out / f"{table}.{ext}").is_file(), f"{table}.{ext}"
    md = (out / "table2.md").read_text()
    assert "Feature loss + GAN" in md and "model.feature_net.weights_path" in md
    assert "Feature loss (Inception, not VGG) + GAN" in md
    metrics = {p.parts[-3]: json.loads(p.read_text())
               for p in (tmp_path / "store").glob("synthetic/*/seed0-*/metrics.json")}
    assert set(metrics) == set(VARIANTS) - {"feature_loss"}
    for variant, m in metrics.items():
        assert set(m["directions"]) == {"photo2labels", "labels2photo"}, variant
        assert 0.0 <= m["directions"]["photo2labels"]["per_pixel_acc"] <= 1.0
    status = json.loads(next((tmp_path / "store").glob("synthetic/feature_loss/*/status.json")).read_text())
    assert status["state"] == "unavailable" and "model.feature_net.weights_path" in status["error"]
    csv = pd.read_csv(out / "table3.csv", comment="#")
    assert len(csv) >= len(VARIANTS)
    # --strict: the full table is required, so the same state is exit 1 (nothing re-trains)
    assert main(["run", "baselines", "synthetic", "--strict", *args]) == 1
    assert "(--strict: exit code 1)" in capsys.readouterr().out.strip().splitlines()[-1]


def test_paper_suite_plans_every_table_and_trains_cyclegan_once():
    suite = load_suite("paper")
    base, runs = plan("paper", "synthetic")
    variants = [r.variant for r in runs]
    assert variants.count("cyclegan") == 1 and len(variants) == len(set(variants)) == 11
    _, ablations = plan("ablations", "synthetic")
    _, baselines = plan("baselines", "synthetic")
    hashes = {r.variant: r.config_hash for r in runs}
    assert {r.config_hash for r in ablations} | {r.config_hash for r in baselines} == set(hashes.values())
    specs = {s["id"]: s for s in table_specs(suite, base)}
    assert list(specs) == ["table2", "table3", "table4", "table5"]
    assert specs["table2"]["rows"] == VARIANTS and "pix2pix" not in specs["table4"]["rows"]
    assert specs["table2"]["direction"] == "labels2photo" and specs["table3"]["direction"] == "photo2labels"


def test_on_maps_the_baselines_tables_are_table_1_with_fid():
    from benchmark.config import compose_config

    specs = table_specs(load_suite("baselines"), compose_config(["dataset=maps"]))
    assert [(s["id"], s["paper_table"], s["direction"]) for s in specs] == [
        ("table1_map2aerial", "table1", "map2aerial"), ("table1_aerial2map", "table1", "aerial2map")]
    assert all("AMT" in s["title"] for s in specs)

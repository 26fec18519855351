"""`benchmark evaluate`: one run's metrics.json, the sanity rows, and bad input."""
from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from benchmark.cli import main
from benchmark.config import compose_config
from benchmark.run.evaluate import GeneratedImageError, MissingFinalCheckpoint, evaluate_run
from benchmark.run.sanity import reference_rows
from benchmark.run.train import train
from evaluation.labels import CLASS_NAMES

SMALL = ["profile=smoke", "progress=false", "dataset.train_count=8", "dataset.test_count=6",
         "dataset.size=64", "trainer.iterations=4", "trainer.checkpoint_every=2", "trainer.sample_every=4",
         "evaluation.segmenter.iterations=10"]


@pytest.fixture(scope="module")
def trained_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("eval")
    cfg = compose_config([*SMALL, f"store_dir={root / 'store'}", f"run_dir={root / 'run'}"])
    train(cfg)
    return cfg, root / "run"


def test_metrics_json_has_both_directions_and_every_class(trained_run):
    cfg, run_dir = trained_run
    metrics = evaluate_run(run_dir, cfg, progress=False)
    on_disk = json.loads((run_dir / "metrics.json").read_text())
    assert on_disk["directions"].keys() == {"photo2labels", "labels2photo"}
    for direction, scores in on_disk["directions"].items():
        assert set(scores["per_class"]) == set(CLASS_NAMES)
        for key in ("per_pixel_acc", "per_class_acc", "class_iou"):
            assert 0.0 <= scores[key] <= 1.0
        pngs = sorted(p.stem for p in (run_dir / "test" / direction).glob("*.png"))
        assert len(pngs) == scores["num_images"] == 6, "exactly one PNG per test input"
        assert scores["translation_seconds"] > 0
    # labels->photo output is a photo domain: FID/KID with the real network (provisioned once)
    l2p = on_disk["directions"]["labels2photo"]
    assert l2p["fid"] > 0 and l2p["kid_std"] >= 0 and l2p["kid_subset_size"] == 3 and l2p["kid_subsets"] == 100
    assert l2p["weights_sha256"] == on_disk["evaluation"]["fid_weights_sha256"] != "unavailable"
    assert "fid" not in on_disk["directions"]["photo2labels"]  # labels are no photo domain
    ev = on_disk["evaluation"]
    assert {"evaluator_hash", "resolution", "num_images", "torch_fidelity_version",
            "feature_extractor", "evaluation_hash"} <= set(ev)
    assert ev["resolution"] == 32 and ev["directions"] == {"X2Y": "photo2labels", "Y2X": "labels2photo"}
    assert ev["snap_rule"] == "train19" and ev["kid_subset_size"] == 100 and ev["kid_subsets"] == 100
    assert metrics == on_disk


def test_wrong_size_generated_image_is_refused(trained_run):
    from benchmark.run.evaluate import read_generated

    _, run_dir = trained_run
    bad = run_dir / "bad.png"
    Image.new("RGB", (20, 20)).save(bad)
    with pytest.raises(GeneratedImageError, match=r"bad.png is RGB 20x20; expected RGB 32x32"):
        read_generated(bad, 32)
    Image.new("L", (32, 32)).save(bad)
    with pytest.raises(GeneratedImageError, match="is L 32x32"):
        read_generated(bad, 32)


def test_run_without_final_checkpoint_says_where_it_stopped(tmp_path):
    cfg = compose_config([*SMALL, f"store_dir={tmp_path / 'store'}", f"run_dir={tmp_path / 'run'}"])
    train(cfg, stop_after=2)
    with pytest.raises(MissingFinalCheckpoint, match="reached iteration 2 of 4"):
        evaluate_run(tmp_path / "run", cfg, progress=False)
    with pytest.raises(MissingFinalCheckpoint, match="not a run directory"):
        evaluate_run(tmp_path / "nothing", progress=False)


def test_reference_rows_on_synthetic(tmp_path):
    cfg = compose_config([*SMALL, f"store_dir={tmp_path}"])
    rows = reference_rows(cfg, progress=False)
    gt = rows["ground_truth_labels"]["photo2labels"]
    assert gt["per_pixel_acc"] == 1.0  # synthetic colours are exact palette colours
    real = rows["real_photos"]["labels2photo"]
    assert 0.0 <= real["per_pixel_acc"] <= 1.0
    # FID sanity rows, same pipeline: real train photos (floor) and the label inputs (identity)
    floor, identity = rows["fid_floor"]["labels2photo"], rows["identity"]["labels2photo"]
    assert 0 <= floor["fid"] < identity["fid"], (floor, identity)
    assert floor["num_generated"] == floor["num_real"] == 6 and "train" in floor["what"]
    assert "photo2labels" not in rows["fid_floor"]  # labels are no photo domain
    # the floor of both segmentation scores: the commonest test class everywhere (one class right)
    majority = rows["majority_class"]
    assert majority["labels2photo"] == majority["photo2labels"]
    floor_scores = majority["photo2labels"]
    assert 0.0 < floor_scores["per_pixel_acc"] < gt["per_pixel_acc"]
    present = sum(c["acc"] is not None for c in floor_scores["per_class"].values())
    assert floor_scores["per_class_acc"] == pytest.approx(1.0 / present, rel=1e-6)
    # layout-blind: each scene against another scene's real image (label maps snapped; photos
    # through the evaluator, which after 10 iterations here knows little more than the usual
    # layout, so no order against the real-photos row is asserted)
    blind = rows["other_scene"]
    assert blind["photo2labels"]["per_pixel_acc"] < gt["per_pixel_acc"]
    assert 0.0 < blind["labels2photo"]["per_pixel_acc"] < 1.0
    assert blind["photo2labels"]["num_pixels"] == blind["labels2photo"]["num_pixels"] == floor_scores["num_pixels"]
    again = reference_rows(cfg, progress=False)  # cached
    assert again == json.loads(json.dumps(rows))


def test_reference_json_cli(tmp_path, capsys):
    assert main(["evaluate", "--reference", "real", "synthetic", *SMALL, f"store_dir={tmp_path}", "--json",
                 "evaluation.fid.enabled=false"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert {"real_photos", "ground_truth_labels", "fid_floor", "identity", "evaluation"} <= set(out)
    assert "disabled" in out["fid_floor"]["labels2photo"]["unavailable"]["fid"]


def test_ground_truth_row_on_real_cityscapes_is_near_one(shared_data, tmp_path):
    """The JPEG colour halves, snapped, score ≈ 1 against themselves resized (sanity of the protocol)."""
    from benchmark.data import open_domains
    from benchmark.run.real_images import read_rgb_resized
    from evaluation.labels import snap_to_palette
    from evaluation.metrics import ConfusionMatrix

    cfg = compose_config(["dataset=cityscapes", f"data_root={shared_data}"])
    pair = open_domains(cfg.dataset, "val")
    cm = ConfusionMatrix()
    for i in range(0, 500, 25):
        colour = np.asarray(read_rgb_resized(pair.Y, i, 128))
        cm.update(pair.Y.train_ids(i, size=128), snap_to_palette(colour)[0])
    scores = cm.scores()
    assert scores["per_pixel_acc"] > 0.99


def test_evaluate_cli_on_missing_run_is_one_line(tmp_path, capsys):
    assert main(["evaluate", str(tmp_path / "nope")]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "not a run directory" in err


def test_weights_supplied_after_an_offline_run_rescore_fid_without_training(tmp_path, monkeypatch):
    """`benchmark run`'s per-run job (execute_run): offline, FID is unavailable and the run is
    done; with weights, the evaluation hash changes, so FID is scored, nothing is retrained."""
    import hashlib

    import torch
    from omegaconf import OmegaConf

    import benchmark.run.train
    import evaluation.fid as fid_mod
    import evaluation.inception_weights as iw
    from benchmark.suite.jobs import execute_run

    weights = fid_mod.inception_weights_path(None, timeout_s=2)  # the real hub cache (provisioned once)
    monkeypatch.setattr(iw, "torch_fidelity_url", lambda: "http://weights.invalid/x-6726825d.pth")
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path / "empty-hub"))
    monkeypatch.setattr(fid_mod, "_PROVISION_FAILED", ["no registry in this test"])
    cfg = compose_config([*SMALL, f"store_dir={tmp_path / 'store'}", f"run_dir={tmp_path / 'run'}"])
    offline = execute_run(OmegaConf.to_container(cfg, resolve=True))
    assert "fid" not in offline["directions"]["labels2photo"]
    assert "no registry in this test" in offline["directions"]["labels2photo"]["unavailable"]["fid"]
    assert offline["evaluation"]["fid_weights_sha256"] == "unavailable"
    ckpt = tmp_path / "run" / "checkpoint.pt"
    before = (hashlib.sha256(ckpt.read_bytes()).hexdigest(), ckpt.stat().st_mtime_ns)
    assert execute_run(OmegaConf.to_container(cfg, resolve=True)) == offline  # done: nothing redone

    real_train, calls = benchmark.run.train.train, []

    def spy(*args, **kwargs):  # execute_run always asks; a finished run must come back untouched
        calls.append(args)
        return real_train(*args, **kwargs)

    monkeypatch.setattr(benchmark.run.train, "train", spy)
    log = (tmp_path / "run" / "train_log.csv").read_text()
    with_weights = compose_config([*SMALL, f"store_dir={tmp_path / 'store'}", f"run_dir={tmp_path / 'run'}",
                                   f"evaluation.fid.weights_path={weights}"])
    rescored = execute_run(OmegaConf.to_container(with_weights, resolve=True))
    l2p = rescored["directions"]["labels2photo"]
    assert l2p["fid"] > 0 and "unavailable" not in l2p
    assert rescored["evaluation"]["evaluation_hash"] != offline["evaluation"]["evaluation_hash"]
    assert rescored["evaluation"]["fid_weights_sha256"] == iw.CONVERTED_SHA256
    assert (hashlib.sha256(ckpt.read_bytes()).hexdigest(), ckpt.stat().st_mtime_ns) == before
    assert len(calls) == 1 and (tmp_path / "run" / "train_log.csv").read_text() == log  # no iteration ran


# Runs already on disk are keyed by their evaluation hash: these exact strings must never change
# (the first two are the hashes in results/ablations/{synthetic,cityscapes}/README.md). The FID
# network's identity is pinned, so the values do not depend on this machine's weights cache.
CONVERTED = "1cfcff72fa6451b929bde1b5be55cc86cff964f783b770e6e6bd5cf51de963d7"
STABLE_HASHES = [
    (["dataset=synthetic", "profile=smoke"], CONVERTED, "6878726a9697"),
    (["dataset=cityscapes", "profile=cpu"], CONVERTED, "53be90ba39ad"),
    (["dataset=synthetic", "profile=smoke", "model=gan_only"], CONVERTED, "6878726a9697"),
    (["dataset=cityscapes", "profile=cpu", "evaluation.snap_rule=full_palette"], CONVERTED, "950ccd654178"),
    (["dataset=cityscapes", "profile=cpu", "evaluation.fid.kid_subset_size=50"], CONVERTED, "3b07bcb507ac"),
    (["dataset=cityscapes", "profile=cpu", "evaluation.segmenter.checkpoint=/x/seg.pt"], CONVERTED,
     "6ed7b9ee3937"),
    (["dataset=cityscapes", "profile=cpu", "evaluation.fid.enabled=false"], CONVERTED, "04a27101e988"),
    (["dataset=facades", "profile=paper"], CONVERTED, "b8da77911843"),
    (["dataset=synthetic", "profile=smoke"], "unavailable", "d096f5282115"),
    (["dataset=cityscapes", "profile=cpu"], "unavailable", "c3af253ad64c"),
    (["dataset=facades", "profile=paper"], "unavailable", "5eacfd1f2036"),
]


@pytest.mark.parametrize("overrides, weights, expected", STABLE_HASHES)
def test_evaluation_hash_never_changes(overrides, weights, expected, monkeypatch):
    import evaluation.fid as fid_mod
    from benchmark.run.evaluate import evaluation_hash

    monkeypatch.setattr(fid_mod, "weights_identity", lambda weights_path: weights)
    assert evaluation_hash(compose_config(overrides)) == expected


def test_the_block_and_the_hash_come_from_one_settings_value(monkeypatch, tmp_path):
    """The block names the weights there are when it is taken (after scoring), never ones read
    when the settings were built; its hash is the evaluation hash of those weights."""
    import evaluation.fid as fid_mod
    from benchmark.run.evaluation_settings import evaluation_settings

    cfg = compose_config(["dataset=cityscapes", "profile=cpu", f"store_dir={tmp_path}"])
    monkeypatch.setattr(fid_mod, "weights_identity", lambda weights_path: "unavailable")
    settings = evaluation_settings(cfg)
    assert settings.hash() == "c3af253ad64c"
    monkeypatch.setattr(fid_mod, "weights_identity", lambda weights_path: CONVERTED)  # provisioned meanwhile
    block = settings.block(None, 500)
    assert block["evaluation_hash"] == "53be90ba39ad" and block["fid_weights_sha256"] == CONVERTED
    assert (block["snap_rule"], block["kid_subset_size"], block["kid_subsets"]) == ("train19", 100, 100)
    assert block["evaluator_arch"] == "lraspp_mobilenet_v3_large" and block["resolution"] == 128
    assert block["directions"] == {"X2Y": "photo2labels", "Y2X": "labels2photo"}


def test_evaluator_ready_is_one_rule(tmp_path):
    from benchmark.run.evaluate import evaluator_ready
    from benchmark.run.evaluation_settings import evaluation_settings

    cityscapes = compose_config(["dataset=cityscapes", "profile=cpu", f"store_dir={tmp_path}"])
    assert not evaluator_ready(cityscapes)  # a label-map side and no evaluator yet
    trained = evaluation_settings(cityscapes).evaluator_dir / "segmenter.pt"
    trained.parent.mkdir(parents=True)
    trained.write_bytes(b"")
    assert evaluator_ready(cityscapes)
    assert evaluator_ready(compose_config(["dataset=cityscapes", "profile=cpu", f"store_dir={tmp_path / 'x'}",
                                           "evaluation.segmenter.checkpoint=/given/seg.pt"]))
    assert evaluator_ready(compose_config(["dataset=facades", "profile=paper", f"store_dir={tmp_path / 'x'}"]))

"""A run's identity (issue 17): the dataset's contents, not its name or place; one value, one run.

* two folders with one `dataset.name` never share a run, a real-image cache or an evaluator;
* a moved dataset keeps its runs; a dataset changed in place gets new ones;
* `seed=1e3` and `seed=1000` are one run;
* the embedded synthetic dataset keeps the hashes it had (its settings are its fingerprint).
"""
from __future__ import annotations

import json
import shutil

import pytest
import yaml
from tiny_datasets import file_overrides, make_dataset, move_dataset, pair_file

from benchmark.cli import main
from benchmark.config import compose_config, config_hash, identity_dict, run_dir_of
from benchmark.data import fingerprint
from benchmark.data.fingerprint import ABSENT, dataset_fingerprint, folder_fingerprint
from benchmark.run.evaluate import DatasetChangedError, evaluate_run
from benchmark.run.evaluation_settings import evaluation_settings
from benchmark.run.train import train


def _cfg(root, tmp_path, *extra):
    return compose_config(file_overrides(root, f"store_dir={tmp_path / 'store'}", *extra))


# -- the fingerprint -------------------------------------------------------------------------------
def test_fingerprint_reads_contents_not_location(tmp_path):
    a = make_dataset(tmp_path / "a" / "cityscapes")
    copy = tmp_path / "elsewhere" / "cityscapes"
    shutil.copytree(a, copy)
    other = make_dataset(tmp_path / "b" / "cityscapes", seed=1)  # same names, same count
    assert folder_fingerprint(a) == folder_fingerprint(copy) != folder_fingerprint(other)
    (a / "notes.txt").write_text("not an image")
    assert folder_fingerprint(a) == folder_fingerprint(copy), "only image files count"
    image = a / "val" / "0.png"
    data = bytearray(image.read_bytes())
    data[len(data) // 2] ^= 0xFF  # replaced in place: same name, same size, other bytes
    image.write_bytes(bytes(data))
    fingerprint._memo.clear()  # as another process sees it (the memo is keyed by size and mtime)
    assert folder_fingerprint(a) != folder_fingerprint(copy)


def test_a_missing_folder_reads_absent_and_synthetic_uses_its_settings(tmp_path):
    assert dataset_fingerprint({"source": "pix2pix", "root": str(tmp_path / "none")}) == ABSENT
    base = compose_config([]).dataset
    assert dataset_fingerprint(base) == dataset_fingerprint(compose_config([]).dataset)
    assert dataset_fingerprint(base) != dataset_fingerprint(compose_config(["dataset.train_count=7"]).dataset)


# -- identity --------------------------------------------------------------------------------------
def test_two_folders_of_one_name_are_two_runs_and_a_moved_one_is_the_same(tmp_path):
    a = make_dataset(tmp_path / "a" / "cityscapes")
    b = make_dataset(tmp_path / "b" / "cityscapes", seed=1)
    cfg_a, cfg_b = _cfg(a, tmp_path), _cfg(b, tmp_path)
    assert cfg_a.dataset.name == cfg_b.dataset.name
    assert config_hash(cfg_a) != config_hash(cfg_b) and run_dir_of(cfg_a) != run_dir_of(cfg_b)
    ident = identity_dict(cfg_a)["dataset"]
    assert "root" not in ident and ident["fingerprint"] == folder_fingerprint(a)
    before = config_hash(cfg_a)
    moved = move_dataset(a, tmp_path / "moved" / "cityscapes")
    assert config_hash(_cfg(moved, tmp_path)) == before, "a moved dataset keeps its runs"


def test_synthetic_hashes_are_unchanged():
    """The values this repository had before fingerprints (the synthetic scenes' settings are in
    the identity already), so every synthetic run in a store keeps its directory."""
    assert config_hash(compose_config([])) == "d203cbe65a90"
    assert config_hash(compose_config(["model=gan_only"])) == "f81c8e62ee0a"
    assert config_hash(compose_config(["profile=cpu"])) == "27d9d3848527"
    assert "fingerprint" not in identity_dict(compose_config([]))["dataset"]


def test_integers_are_normalised_before_hashing():
    one, other = compose_config(["seed=1e3"]), compose_config(["seed=1000"])
    assert one.seed == 1000 and isinstance(one.seed, int)
    assert config_hash(one) == config_hash(other) and run_dir_of(one) == run_dir_of(other)
    assert run_dir_of(one).name.startswith("seed1000-")
    as_float, as_int = compose_config(["trainer.iterations=4.0"]), compose_config(["trainer.iterations=4"])
    assert config_hash(as_float) == config_hash(as_int)


# -- caches ----------------------------------------------------------------------------------------
def test_real_image_caches_and_evaluator_are_keyed_by_contents(tmp_path):
    a = make_dataset(tmp_path / "a" / "cityscapes")
    b = make_dataset(tmp_path / "b" / "cityscapes", seed=1)
    sa, sb = evaluation_settings(_cfg(a, tmp_path)), evaluation_settings(_cfg(b, tmp_path))
    assert sa.real_dir != sb.real_dir and sa.evaluator_dir != sb.evaluator_dir
    assert sa.real_dir.parent == sb.real_dir.parent == tmp_path / "store" / "_real" / "cityscapes"
    moved = move_dataset(a, tmp_path / "moved" / "cityscapes")
    assert evaluation_settings(_cfg(moved, tmp_path)).real_dir == sa.real_dir, "a moved dataset keeps its caches"


def test_fid_real_folder_of_a_changed_dataset_is_a_new_one(tmp_path):
    """Repro 2: images replaced in place (same count) were scored against the first folder's
    cached real images. Now the cache is another folder, holding the new images."""
    from benchmark.data import open_domains
    from benchmark.run.real_images import real_image_folder

    root = make_dataset(tmp_path / "cityscapes")
    cfg = _cfg(root, tmp_path)
    first = real_image_folder(evaluation_settings(cfg), open_domains(cfg.dataset, "val").X)
    for i in range(3):
        pair_file(root / "val" / f"{i}.png", seed=500 + i)
    second = real_image_folder(evaluation_settings(cfg), open_domains(cfg.dataset, "val").X)
    assert first != second and (first / "0.png").read_bytes() != (second / "0.png").read_bytes()


# -- provenance, absolute roots, the check before scoring -------------------------------------------
@pytest.fixture(scope="module")
def trained_on_files(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("identity")
    root = make_dataset(tmp / "data" / "cityscapes")
    cfg = compose_config(file_overrides(root, f"store_dir={tmp / 'store'}"))
    train(cfg)
    return tmp, root, run_dir_of(cfg)


def test_config_yaml_records_an_absolute_root_and_the_fingerprint(trained_on_files, tmp_path, monkeypatch):
    tmp, root, run_dir = trained_on_files
    recorded = yaml.safe_load((run_dir / "config.yaml").read_text())
    assert recorded["dataset"]["root"] == str(root) and recorded["dataset"]["fingerprint"] == folder_fingerprint(root)
    env = json.loads((run_dir / "env.json").read_text())
    assert env["dataset_fingerprint"] == folder_fingerprint(root)
    # repro 4: trained with a relative root, evaluated from another directory
    monkeypatch.chdir(tmp / "data")
    rel = compose_config(file_overrides("cityscapes", f"store_dir={tmp_path / 'store'}",
                                        f"run_dir={tmp_path / 'relrun'}"))
    train(rel)
    assert yaml.safe_load((tmp_path / "relrun" / "config.yaml").read_text())["dataset"]["root"] == str(root)
    monkeypatch.chdir(tmp_path)
    assert main(["evaluate", str(tmp_path / "relrun"), "--json"]) == 0
    metrics = json.loads((tmp_path / "relrun" / "metrics.json").read_text())
    assert metrics["evaluation"]["dataset_fingerprint"] == folder_fingerprint(root)


def test_a_moved_dataset_is_named_and_found_again_with_its_new_root(trained_on_files, tmp_path, capsys):
    tmp, root, run_dir = trained_on_files
    copy_run = tmp_path / "run"
    shutil.copytree(run_dir, copy_run)  # a run directory copied to another machine
    moved = move_dataset(root, tmp_path / "moved")
    try:
        assert main(["evaluate", str(copy_run)]) == 2
        line = capsys.readouterr().err.strip()
        assert "\n" not in line and "is not at" in line and "dataset.root=" in line, line
        assert main(["evaluate", str(copy_run), f"dataset.root={moved}"]) == 0
        assert (copy_run / "metrics.json").is_file()
    finally:
        move_dataset(moved, root)


def test_a_changed_dataset_is_refused_before_scoring(trained_on_files, tmp_path):
    tmp, root, run_dir = trained_on_files
    copy_root = tmp_path / "cityscapes"
    shutil.copytree(root, copy_root)
    pair_file(copy_root / "val" / "1.png", seed=777)
    cfg = compose_config(file_overrides(root, f"store_dir={tmp / 'store'}"))
    cfg.dataset.root = str(copy_root)
    with pytest.raises(DatasetChangedError, match=r"dataset cityscapes at .* has changed since .* trained on it"):
        evaluate_run(run_dir, cfg, progress=False)


def test_unquoted_non_ascii_override_says_to_quote_it(capsys):
    assert main(["train", "dataset.root=/tmp/données"]) == 2
    line = capsys.readouterr().err.strip()
    assert "\n" not in line and "quote it" in line and "dataset.root='/tmp/données'" in line, line


# -- report folders: results/<suite>/<dataset.name>/ ---------------------------------------------------
@pytest.mark.slow
def test_a_report_of_another_folder_with_the_same_name_is_refused_naming_both_roots(tmp_path, capsys):
    a = make_dataset(tmp_path / "a" / "cityscapes")
    b = make_dataset(tmp_path / "b" / "cityscapes", seed=1)
    common = [o for o in file_overrides(a) if not o.startswith(("dataset=", "dataset.root="))]
    common += [f"store_dir={tmp_path / 'store'}", f"results_dir={tmp_path / 'results'}"]
    assert main(["run", "ablations", "cityscapes", f"dataset.root={a}", *common]) == 0
    provenance = json.loads((tmp_path / "results" / "ablations" / "cityscapes" / "provenance.json").read_text())
    assert provenance["dataset_root"] == str(a) and provenance["dataset_fingerprint"] == folder_fingerprint(a)
    capsys.readouterr()
    assert main(["report", "ablations", "cityscapes", f"dataset.root={b}", *common]) == 1  # none of b's runs
    assert main(["run", "ablations", "cityscapes", f"dataset.root={b}", *common]) == 2  # b's own runs, then
    line = [x for x in capsys.readouterr().err.splitlines() if x.startswith("error:")]
    assert len(line) == 1 and str(a) in line[0] and str(b) in line[0] and "results_dir=" in line[0], line
    assert json.loads((tmp_path / "results" / "ablations" / "cityscapes" / "provenance.json").read_text()) == provenance


def test_recorded_root_is_absolute_with_dots_folded(tmp_path, monkeypatch):
    from benchmark.config import recorded_config

    root = make_dataset(tmp_path / "data" / "cityscapes")
    monkeypatch.chdir(tmp_path / "data")
    config = recorded_config(compose_config(file_overrides("../data/./cityscapes")))
    assert config["dataset"]["root"] == str(root) and config["dataset"]["fingerprint"] == folder_fingerprint(root)
    assert "fingerprint" not in recorded_config(compose_config([]))["dataset"], "synthetic: its settings"

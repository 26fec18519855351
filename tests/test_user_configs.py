"""A user's own models, datasets and suites from their own folders and packages, without
editing this one: `--config-dir DIR` / BENCHMARK_CONFIG_DIR for the YAMLs, import paths for
the code (`model.family=pkg.mod:Class`, `dataset.source=pkg.mod:function`)."""
from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from benchmark.cli import main
from benchmark.config import ConfigError, available, compose_config, config_hash
from benchmark.data import DatasetConfigError, DomainPair, open_domains
from benchmark.suite.plan import load_suite, plan

TESTS = Path(__file__).resolve().parent
SMALL = ["profile=smoke", "progress=false", "dataset.train_count=8", "dataset.test_count=4", "dataset.size=64",
         "trainer.iterations=4", "trainer.checkpoint_every=4", "trainer.sample_every=4",
         "evaluation.segmenter.iterations=5", "evaluation.fid.enabled=false"]


@pytest.fixture(autouse=True)
def no_user_config_dirs(monkeypatch):
    """No BENCHMARK_CONFIG_DIR from the caller's shell; whatever a test sets is undone after it."""
    monkeypatch.setenv("BENCHMARK_CONFIG_DIR", "")


@pytest.fixture
def conf(tmp_path) -> Path:
    """A user's config folder: a model of their own (a toy class by import path, on the
    CycleGAN preset's keys), a dataset variant and a suite of their model beside CycleGAN."""
    root = tmp_path / "myconf"
    for group in ("model", "dataset", "suite"):
        (root / group).mkdir(parents=True)
    (root / "model" / "toy.yaml").write_text("defaults:\n  - cyclegan\n  - _self_\nname: toy\n"
                                             "family: toy_models:SavedGenerator\n")
    (root / "dataset" / "tiny_streets.yaml").write_text("defaults:\n  - synthetic\n  - _self_\n"
                                                        "name: tiny_streets\ntrain_count: 8\n")
    (root / "suite" / "mine.yaml").write_text(
        "name: mine\nvariants: [toy, cyclegan]\ntables:\n  - id: mine_y2x\n    title: \"Mine, {Y}→{X}\"\n"
        "    translate: Y2X\n  - id: mine_x2y\n    title: \"Mine, {X}→{Y}\"\n    translate: X2Y\n")
    return root


def test_user_names_compose_and_are_checked_like_shipped_ones(conf, monkeypatch):
    monkeypatch.setenv("BENCHMARK_CONFIG_DIR", str(conf))
    assert {"toy", "cyclegan"} <= set(available("model")) and "mine" in available("suite")
    cfg = compose_config(["model=toy", "dataset=tiny_streets"])
    assert cfg.model.family == "toy_models:SavedGenerator" and cfg.model.lambda_forward == 10.0
    assert cfg.dataset.train_count == 8 and cfg.profile == "smoke"  # synthetic source: the smoke default
    assert config_hash(cfg) != config_hash(compose_config(["dataset=tiny_streets"]))
    (conf / "dataset" / "my_city.yaml").write_text("defaults: [cityscapes, _self_]\nname: my_city\n")
    assert compose_config(["dataset=my_city"]).profile == "paper"  # its inherited source is real data
    with pytest.raises(ConfigError, match=r"bad config value: trainer.iterations=0 is out of range"):
        compose_config(["model=toy", "trainer.iterations=0"])
    (conf / "model" / "broken.yaml").write_text("name: broken\nfamily: 'toy_models:'\n")
    with pytest.raises(ConfigError, match=r"model.family='toy_models:' is not an import path"):
        compose_config(["model=broken"])


def test_unknown_name_lists_shipped_names_and_the_users_apart(conf, monkeypatch, capsys):
    monkeypatch.setenv("BENCHMARK_CONFIG_DIR", str(conf))
    with pytest.raises(ConfigError) as caught:
        compose_config(["model=tyo"])
    shipped, yours = str(caught.value).split("; yours ")
    assert shipped.startswith("unknown model 'tyo': shipped names are bigan, cogan,") and "toy" not in shipped
    assert yours == f"(from {conf}): toy"
    monkeypatch.setenv("BENCHMARK_CONFIG_DIR", "")
    assert main(["run", "mine", "synthetic"]) == 2
    assert "unknown suite 'mine': shipped names are ablations, baselines, paper; add your own as " \
           "suite/<name>.yaml in a folder named by --config-dir DIR or BENCHMARK_CONFIG_DIR" in capsys.readouterr().err


def test_a_user_file_with_a_shipped_name_and_bad_folders_are_refused(conf, tmp_path, monkeypatch, capsys):
    (conf / "model" / "cyclegan.yaml").write_text("name: cyclegan\nfamily: toy_models:ToyTranslator\n")
    monkeypatch.setenv("BENCHMARK_CONFIG_DIR", str(conf))
    with pytest.raises(ConfigError, match=r"model 'cyclegan' is both shipped and in .*cyclegan.yaml: .* rename"):
        compose_config(["model=cyclegan"])
    monkeypatch.setenv("BENCHMARK_CONFIG_DIR", str(tmp_path / "nowhere"))
    with pytest.raises(ConfigError, match=r"BENCHMARK_CONFIG_DIR \(or --config-dir\) names .*nowhere, which is "
                                          r"not a directory"):
        compose_config([])
    monkeypatch.setenv("BENCHMARK_CONFIG_DIR", "")
    assert main(["describe", "--config-dir", str(tmp_path)]) == 2  # the folder above the groups
    assert "which holds none of model/, dataset/, suite/" in capsys.readouterr().err
    assert main(["describe", "--config-dir"]) == 2
    assert "--config-dir needs a folder" in capsys.readouterr().err


def test_config_dir_option_sets_the_variable_jobs_inherit(conf, monkeypatch, capsys):
    """Anywhere on the line, as `--config-dir DIR` or `--config-dir=DIR`; then in the
    environment, so a submitit or SLURM job composing again finds the same folders."""
    monkeypatch.chdir(conf.parent)
    assert main(["describe", "model=toy", "--config-dir", "myconf", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["config"]["model"]["family"] == "toy_models:SavedGenerator"
    assert Path(os.environ["BENCHMARK_CONFIG_DIR"]).resolve() == conf.resolve()  # absolute: a job may start elsewhere
    monkeypatch.setenv("BENCHMARK_CONFIG_DIR", "")
    assert main(["--config-dir=myconf", "status", "mine", "synthetic", "profile=smoke",
                 f"store_dir={conf.parent / 'store'}"]) == 0
    assert capsys.readouterr().out.count("| pending") == 2


def test_a_users_suite_plans_their_model_beside_a_shipped_one(conf, monkeypatch):
    monkeypatch.setenv("BENCHMARK_CONFIG_DIR", os.pathsep.join([str(conf), str(conf)]))
    suite = load_suite("mine")
    assert list(suite.variants) == ["toy", "cyclegan"]
    _, runs = plan("mine", "tiny_streets", ["profile=smoke", "seeds=2"])
    assert [(r.variant, r.seed) for r in runs] == [("toy", 0), ("toy", 1), ("cyclegan", 0), ("cyclegan", 1)]


def test_submitit_jobs_import_the_users_model(conf, tmp_path, monkeypatch):
    """launcher.mode=submitit: each run in a fresh process, which imports the class from the
    job's config (PYTHONPATH carries the user's package, as an install would). This is also the
    suite's test of the submitit local executor (a shipped model beside the user's)."""
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(filter(None, [str(TESTS), os.environ.get("PYTHONPATH")])))
    args = [*SMALL, "launcher.mode=submitit", f"store_dir={tmp_path / 's'}", f"results_dir={tmp_path / 'r'}"]
    assert main(["run", "mine", "synthetic", "--config-dir", str(conf), *args, "--poll", "1"]) == 0
    found = (tmp_path / "s").glob("synthetic/*/seed0-*/metrics.json")
    metrics = {p.parts[-3]: json.loads(p.read_text()) for p in found}
    assert set(metrics) == {"toy", "cyclegan"}
    assert set(metrics["toy"]["directions"]) == {"photo2labels", "labels2photo"}
    assert list((tmp_path / "s" / "_local_logs").glob("*_log.out")), "runs went through submitit"
    assert (tmp_path / "r" / "mine" / "synthetic" / "mine_y2x.md").is_file()


# -- a dataset layout from the user's package ----------------------------------------------------
LAYOUT_MODULE = '''
"""ROOT/<split>/<domain>/*.png: one folder per split, one per domain inside it."""
from benchmark.data.domains import DomainPair, FileListDomain, domain_names, list_images, not_found, require_root
from benchmark.data.domains import resolve_split

LAYOUT = "ROOT/<split>/<a_domain>/*.png and ROOT/<split>/<b_domain>/*.png"


def open_layout(cfg, split):
    names, root = domain_names(cfg), require_root(cfg, LAYOUT)
    split = resolve_split(cfg, split)
    sides = []
    for name in (names.a, names.b):
        folder = root / split / name
        if not folder.is_dir():
            raise not_found(cfg, f"folder {folder} does not exist", LAYOUT)
        sides.append(FileListDomain(name, names.is_label(name), list(list_images(folder).values())))
    return DomainPair(*names.order(*sides), aligned=False, split=split)


def not_a_pair(cfg, split):
    return [cfg, split]
'''


def _layout(root: Path) -> Path:
    rng = np.random.default_rng(0)
    for split, n in (("train", 4), ("test", 3)):
        for domain in ("horse", "zebra"):
            (root / split / domain).mkdir(parents=True)
            for i in range(n):
                colour = rng.integers(0, 256, (40, 40, 3), dtype=np.uint8)
                Image.fromarray(colour).save(root / split / domain / f"{i}.png")
    Image.fromarray(rng.integers(0, 256, (40, 40), dtype=np.uint8)).save(root / "train" / "zebra" / "grey.png")
    return root


def _dataset(root: Path, source: str) -> dict:
    return dict(name="h2z", source=source, root=str(root), a_domain="horse", b_domain="zebra", x_domain="horse",
                label_domain=None, train_split="train", test_split="test")


def test_a_dataset_source_from_the_users_package_opens_and_trains(tmp_path, monkeypatch, capsys):
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "userlayout.py").write_text(LAYOUT_MODULE)
    monkeypatch.syspath_prepend(str(tmp_path / "src"))
    root = _layout(tmp_path / "h2z")
    pair = open_domains(_dataset(root, "userlayout:open_layout"), "train")
    assert isinstance(pair, DomainPair) and (len(pair.X), len(pair.Y)) == (4, 5) and pair.X.name == "horse"
    assert "note: dataset h2z train: 1 of 9 images are not RGB" in capsys.readouterr().err
    with pytest.raises(DatasetConfigError, match=r"dataset.source='userlayout:not_a_pair' returned a list, not a "
                                                 r"benchmark.data.DomainPair"):
        open_domains(_dataset(root, "userlayout:not_a_pair"), "train")
    with pytest.raises(ValueError, match=r"dataset.source='userlayout:LAYOUT' is a str, not a function or class"):
        open_domains(_dataset(root, "userlayout:LAYOUT"), "train")
    # as the README says: a dataset YAML of their own names the layout, then `dataset=h2z`
    (tmp_path / "conf" / "dataset").mkdir(parents=True)
    (tmp_path / "conf" / "dataset" / "h2z.yaml").write_text(
        f"defaults: [unaligned, _self_]\nname: h2z\nsource: userlayout:open_layout\nroot: {root}\n"
        "a_domain: horse\nb_domain: zebra\nx_domain: horse\n")
    monkeypatch.setenv("BENCHMARK_CONFIG_DIR", str(tmp_path / "conf"))
    assert compose_config(["dataset=h2z"]).profile == "paper"  # real data: the paper's protocol by default
    run = tmp_path / "run"
    small = [o for o in SMALL if not o.startswith("dataset.")]
    assert main(["train", "dataset=h2z", *small, f"run_dir={run}", "--yes"]) == 0, capsys.readouterr().err
    config = (run / "config.yaml").read_text()
    assert "source: userlayout:open_layout" in config and "fingerprint:" in config

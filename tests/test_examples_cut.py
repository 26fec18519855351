"""examples/cut, used as a researcher would use it: CUT and FastCUT in a package of their own
(`cut_example`, on PYTHONPATH as an install would put it), named by import path from their own
config folder (`--config-dir examples/cut/conf`), checked with `benchmark check`, and run as
the suite `cut` on the local SLURM cluster, whose jobs must import the external class, with
their rows in the tables beside CycleGAN's and the CUT paper's numbers from the example's file.

Nothing under benchmark/, models/, baselines/ or evaluation/ names the example: if a file there
had to change for it, this test would not prove what it claims.
"""
from __future__ import annotations

import json
import os
import re
import time
from pathlib import Path

import pytest
import torch
from omegaconf import OmegaConf
from slurm_helpers import require_slurm

from benchmark.cli import main
from benchmark.config import ConfigError
from benchmark.contract import CHECKS

REPO = Path(__file__).resolve().parents[1]
EXAMPLE = REPO / "examples" / "cut"
CONF = EXAMPLE / "conf"
TINY = ["profile=smoke", "progress=false", "dataset.train_count=16", "dataset.test_count=8", "dataset.size=64",
        "evaluation.segmenter.iterations=20", "evaluation.fid.enabled=false",
        "trainer.iterations=12", "trainer.checkpoint_every=6", "trainer.sample_every=12"]


@pytest.fixture(autouse=True)
def cut_example_installed(monkeypatch):
    """The example package importable here and in every job started from here (PYTHONPATH is
    what an install would do; sbatch passes the environment on), and no config folder from the
    caller's shell: `--config-dir` sets BENCHMARK_CONFIG_DIR, undone after each test."""
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(filter(None, [str(EXAMPLE), os.environ.get("PYTHONPATH")])))
    monkeypatch.syspath_prepend(str(EXAMPLE))
    monkeypatch.setenv("BENCHMARK_CONFIG_DIR", "")


def test_no_benchmark_file_names_the_example():
    packages = [REPO / p for p in ("benchmark", "models", "baselines", "evaluation")]
    named = [str(path.relative_to(REPO)) for folder in packages for path in folder.rglob("*")
             if path.suffix in (".py", ".yaml", ".html", ".md")
             and re.search(r"cut_example|examples/cut", path.read_text(encoding="utf-8"))]
    assert not named, named


@pytest.mark.parametrize("model,losses", [("cut", "loss_G_GAN, loss_NCE, loss_NCE_Y, loss_D, loss_G_total"),
                                          ("fastcut", "loss_G_GAN, loss_NCE, loss_D, loss_G_total")])
def test_cut_and_fastcut_pass_benchmark_check(model, losses, capsys):
    started = time.monotonic()
    code = main(["check", f"model={model}", "--config-dir", str(CONF)])
    lines = capsys.readouterr().out.strip().splitlines()
    assert code == 0, lines
    assert [line.split(":")[0] for line in lines] == [f"PASS {name}" for name in CHECKS], lines
    assert "cut_example.models.CUT: networks G, D, H" in lines[0] and lines[0].endswith("directions Y2X")
    assert f"{losses} finite and detached" in lines[1]
    assert "Y2X in [" in lines[2] and "bit-identical" in lines[3]
    print(f"benchmark check model={model}: {time.monotonic() - started:.0f} s")


def test_patchnce_taps_and_loss():
    """The paper's five taps on the suite's 9-block generator (the reference code's layers
    0, 4, 8, 12, 16), and a loss that is low when each output patch encodes like its own input
    patch, high when like another, and that reaches only the output's side."""
    from cut_example.patchnce import PAPER_TAPS, TapError, patch_nce, resolve_taps

    from models.networks import ResnetGenerator

    assert resolve_taps(ResnetGenerator(3, 3, 64, 9), PAPER_TAPS) == ([0, 4, 7, 10, 14], [3, 128, 256, 256, 256])
    assert resolve_taps(ResnetGenerator(3, 3, 8, 6), ["block5", "block9"])[0] == [14, 15]
    with pytest.raises(TapError, match="same layer"):
        resolve_taps(ResnetGenerator(3, 3, 8, 2), ["block2", "block5"])
    keys = torch.nn.functional.normalize(torch.randn(1, 64, 16, generator=torch.Generator().manual_seed(0)), dim=-1)
    queries = keys.clone().requires_grad_(True)
    matched = patch_nce(queries, keys.requires_grad_(True), 0.07)
    shuffled = patch_nce(queries, keys[:, torch.randperm(64, generator=torch.Generator().manual_seed(1))], 0.07)
    assert float(matched.detach()) < 0.1 < 2.0 < float(shuffled.detach())
    matched.backward()
    assert queries.grad is not None and keys.grad is None


def test_the_suite_names_its_own_paper_file(monkeypatch):
    """`reference:` in suite/cut.yaml: the CUT paper's numbers come from the example's folder,
    not from the packaged CycleGAN reference; a missing file is one line naming the suite."""
    from benchmark.report.reference import load_reference
    from benchmark.suite.plan import load_suite, suite_reference

    monkeypatch.setenv("BENCHMARK_CONFIG_DIR", str(CONF))
    assert list(load_suite("cut").variants) == ["cut", "fastcut", "cyclegan"]
    path = suite_reference("cut")
    assert path == CONF / "reference" / "cut_2020.yaml"
    paper = load_reference(path)
    assert paper.citation["arxiv"] == "2007.15651" and paper.display_name("fastcut") == "FastCUT"
    assert paper.row("table1_cityscapes", "labels2photo", "cut") == {"fid": 56.4}
    assert suite_reference("ablations") is None  # a shipped suite keeps the packaged file


def test_a_missing_reference_file_is_named(tmp_path, monkeypatch):
    from benchmark.suite.plan import suite_reference

    (tmp_path / "suite").mkdir()
    (tmp_path / "suite" / "mine.yaml").write_text("name: mine\nvariants: [cyclegan]\nreference: paper.yaml\n"
                                                  "tables: []\n")
    monkeypatch.setenv("BENCHMARK_CONFIG_DIR", str(tmp_path))
    with pytest.raises(ConfigError, match=r"suite 'mine' .* names reference: paper.yaml, and .*paper.yaml is not "
                                          r"a file: give a path relative to the folder holding suite/"):
        suite_reference("mine")


@pytest.mark.slurm
@pytest.mark.timeout(1200)
def test_cut_suite_on_slurm_imports_the_external_class_and_reports_beside_cyclegan(tmp_path, capsys):
    """`benchmark run cut synthetic --config-dir examples/cut/conf launcher=slurm --wait`, the
    shipped SLURM launcher's defaults as they are: every run is a SLURM job that composes its
    config again (BENCHMARK_CONFIG_DIR, inherited) and imports cut_example.models.CUT (PYTHONPATH,
    inherited); the table of labels -> photo holds CUT and FastCUT beside CycleGAN, with the CUT
    paper's FID from the example's reference file in the paper column."""
    require_slurm()
    started = time.monotonic()
    store, results = tmp_path / "store", tmp_path / "results"
    args = ["cut", "synthetic", "--config-dir", str(CONF), *TINY, "launcher=slurm",
            f"store_dir={store}", f"results_dir={results}"]
    code = main(["run", *args, "--wait", "--poll", "2"])
    out = capsys.readouterr().out
    assert code == 0, out
    assert "report of 3/3 finished runs" in out, out

    metrics = {p.parts[-3]: p for p in store.glob("synthetic/*/seed0-*/metrics.json")}
    assert set(metrics) == {"cut", "fastcut", "cyclegan"}, sorted(metrics)
    for variant, path in metrics.items():
        env = json.loads((path.parent / "env.json").read_text())
        assert env["slurm"]["job_id"], f"{variant} trained inside a SLURM job"
        family = OmegaConf.load(path.parent / "config.yaml").model.family
        assert family == ("cyclegan" if variant == "cyclegan" else "cut_example.models:CUT")
    for variant in ("cut", "fastcut"):  # one-sided: only labels -> photo is translated and scored
        assert set(json.loads(metrics[variant].read_text())["directions"]) == {"labels2photo"}

    table_dir = results / "cut" / "synthetic"
    table = (table_dir / "cut_labels2photo.md").read_text()
    rows = {line.split("|")[1].strip(): line for line in table.splitlines() if line.startswith("| ")}
    assert {"CUT", "FastCUT", "CycleGAN"} <= set(rows), table
    for method, paper_fid in (("CUT", "56.4"), ("FastCUT", "68.8"), ("CycleGAN", "68.6")):
        cells = [c.strip() for c in rows[method].split("|")[1:-1]]
        assert cells[-1] == paper_fid, rows[method]               # the paper column, from cut_2020.yaml
        assert re.fullmatch(r"\d\.\d+", cells[2]), rows[method]   # a measured score of our run
    assert "Park, Efros, Zhang, Zhu, ECCV 2020" in table
    provenance = json.loads((table_dir / "provenance.json").read_text())
    assert provenance["paper_reference"].startswith("cut_2020.yaml (sha256 ")
    print(f"cut suite on SLURM: 3 runs trained, scored and reported in {time.monotonic() - started:.0f} s")

"""Every shipped config composes, resolves and passes validation; bad values are refused up front.

The config folders are globbed, so a model, dataset, profile, launcher or suite added later
(the baselines, say) is covered without touching this file.
"""
from __future__ import annotations

import pytest
from omegaconf import OmegaConf

from benchmark.config import CONF_DIR, ConfigError, compose_config, config_hash, job_payload, resolved_dict

SHIPPED = [(group, path.stem) for group in ("model", "dataset", "profile", "launcher", "suite")
           for path in sorted((CONF_DIR / group).glob("*.yaml"))]


@pytest.mark.parametrize("group,name", SHIPPED, ids=[f"{g}={n}" for g, n in SHIPPED])
def test_every_shipped_config_composes_resolves_and_validates(group, name):
    override = f"+suite={name}" if group == "suite" else f"{group}={name}"
    cfg = compose_config([override])  # validation runs inside compose_config
    tree = resolved_dict(cfg)         # every interpolation resolves
    assert (cfg.profile if group == "profile" else tree[group]["name"]) == name
    assert len(config_hash(cfg)) == 12
    # What a job receives makes the same config again: no interpolation is resolved twice.
    again = OmegaConf.create(job_payload(cfg))
    assert resolved_dict(again) == tree and config_hash(again) == config_hash(cfg)
    if group == "suite":
        from benchmark.suite.plan import plan

        _, runs = plan(name, "synthetic", ["profile=smoke"])
        assert runs and all(r.config_hash for r in runs)


@pytest.mark.parametrize("dataset", sorted(p.stem for p in (CONF_DIR / "dataset").glob("*.yaml")))
@pytest.mark.parametrize("profile", sorted(p.stem for p in (CONF_DIR / "profile").glob("*.yaml")))
def test_every_dataset_with_every_profile(dataset, profile):
    cfg = compose_config([f"dataset={dataset}", f"profile={profile}"])
    assert int(cfg.data.load_size) >= int(cfg.data.crop_size)


def test_shipped_slurm_setup_reaches_the_job_as_the_shell_line():
    cfg = compose_config(["launcher=slurm"])
    assert list(cfg.launcher.setup) == ["export OMP_NUM_THREADS=${SLURM_CPUS_PER_TASK:-1}"]
    job = OmegaConf.create(job_payload(cfg))  # as RunJob/execute_run rebuild it inside the job
    assert resolved_dict(job)["launcher"]["setup"] == list(cfg.launcher.setup)


def test_default_profile_is_paper_on_real_data_and_smoke_on_synthetic():
    assert compose_config([]).profile == "smoke"
    assert compose_config(["dataset=synthetic"]).profile == "smoke"
    for real in ("cityscapes", "facades", "maps", "unaligned", "cityscapes_prepared"):
        assert compose_config([f"dataset={real}"]).profile == "paper", real
    assert compose_config(["dataset=cityscapes", "profile=cpu"]).profile == "cpu"


@pytest.mark.parametrize("override,words", [
    ("trainer.iterations=0", ["trainer.iterations=0", ">= 1"]),
    ("trainer.iterations=-5", ["trainer.iterations=-5", ">= 1"]),
    ("trainer.iterations=abc", ["trainer.iterations='abc'", "not an integer", ">= 1"]),
    ("seeds=0", ["seeds=0", ">= 1"]),
    ("seed=-1", ["seed=-1", ">= 0"]),
    ("trainer.batch_size=0", ["trainer.batch_size=0", ">= 1"]),
    ("trainer.lr=0", ["trainer.lr=0", "> 0"]),
    ("trainer.lr=abc", ["trainer.lr='abc'", "not a number"]),
    ("trainer.beta1=1.5", ["trainer.beta1=1.5", "<= 0.999999"]),
    ("trainer.precision=fp8", ["trainer.precision='fp8'", "fp32, bf16, fp16, auto"]),
    ("data.crop_size=64", ["data.load_size=36", "data.crop_size=64", "load_size >= crop_size"]),
    ("evaluation.resolution=4", ["evaluation.resolution=4", ">= 16"]),
    ("launcher.max_retries=-1", ["launcher.max_retries=-1", ">= 0"]),
])
def test_bad_values_are_refused_at_compose_time_with_key_value_and_range(override, words):
    with pytest.raises(ConfigError) as err:
        compose_config([override])
    text = str(err.value)
    assert "\n" not in text
    for word in words:
        assert word in text, (word, text)

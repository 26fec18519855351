"""Suites: the runs behind a paper table, planned from config.

A suite (conf/suite/<name>.yaml) lists variants (model presets) and the tables they fill.
Planning composes one config per (variant, seed) with the user's overrides, so each run's
identity — and therefore its directory in the store — is known before anything runs.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from omegaconf import DictConfig, OmegaConf

from benchmark.config import ConfigError, available, compose_config, config_hash, run_dir_of

SUITE_KEYS = ("seeds",)


@dataclass
class PlannedRun:
    variant: str
    seed: int
    cfg: DictConfig
    run_dir: Path
    config_hash: str

    def record(self) -> dict:
        return {"variant": self.variant, "seed": self.seed, "run_dir": self.run_dir,
                "config_hash": self.config_hash}


def load_suite(name: str) -> DictConfig:
    if name not in available("suite"):
        raise ConfigError(f"unknown suite {name!r}: valid suites are {', '.join(available('suite'))}")
    return compose_config([f"+suite={name}"]).suite


def check_dataset(name: str) -> None:
    if name not in available("dataset"):
        raise ConfigError(f"unknown dataset {name!r}: valid datasets are {', '.join(available('dataset'))}")


def plan(suite_name: str, dataset: str, overrides: list[str] = ()) -> tuple[DictConfig, list[PlannedRun]]:
    """The suite's config and one PlannedRun per (variant, seed), in table order."""
    suite = load_suite(suite_name)
    check_dataset(dataset)
    base = compose_config([f"dataset={dataset}", *overrides])
    runs = []
    for variant in suite.variants:
        for seed in range(int(base.seeds)):
            cfg = compose_config([f"dataset={dataset}", *overrides, f"model={variant}", f"seed={seed}"])
            runs.append(PlannedRun(variant, seed, cfg, run_dir_of(cfg), config_hash(cfg)))
    return base, runs


def directions_of(cfg: DictConfig) -> dict[str, str]:
    """'X2Y'/'Y2X' -> '<source>2<target>' from the dataset's domain names (e.g. photo2labels)."""
    x = cfg.dataset.x_domain
    y = cfg.dataset.b_domain if x == cfg.dataset.a_domain else cfg.dataset.a_domain
    return {"X2Y": f"{x}2{y}", "Y2X": f"{y}2{x}"}


def table_specs(suite: DictConfig, cfg: DictConfig) -> list[dict]:
    """The suite's tables with directions and titles resolved for this dataset."""
    names = directions_of(cfg)
    x = cfg.dataset.x_domain
    y = names["X2Y"].split("2", 1)[1]
    specs = []
    for table in suite.tables:
        spec = OmegaConf.to_container(table, resolve=True)
        spec["direction"] = names[spec.pop("translate")]
        spec["title"] = spec["title"].format(X=x, Y=y) + f" ({cfg.dataset.name})"
        spec["rows"] = list(suite.variants)
        specs.append(spec)
    return specs

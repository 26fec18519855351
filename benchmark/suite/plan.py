"""Suites: the runs behind a paper table, planned from config.

A suite (conf/suite/<name>.yaml, or suite/<name>.yaml in a user's --config-dir) lists variants
(model presets), the tables they fill and, optionally, the file of published numbers printed
beside ours (`reference:`, see `suite_reference`), or `includes: [other, suites]` to combine
them (suite `paper` = ablations + baselines): the variants are united in order without
repeats — a variant in two suites (cyclegan) is one config hash, so one run — and each included
table keeps the rows of the suite it came from.
Planning composes one config per (variant, seed) with the user's overrides, so each run's
identity — and therefore its directory in the store — is known before anything runs.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from omegaconf import DictConfig, OmegaConf

from benchmark.config import (
    ConfigError,
    available,
    compose_config,
    config_file,
    config_hash,
    directions_of,
    run_dir_of,
    unknown_name,
)


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


def load_suite(name: str, _seen: tuple[str, ...] = ()) -> DictConfig:
    """The suite's config with `includes` expanded into `variants` and `tables` (rows per table)."""
    if name not in available("suite"):
        raise ConfigError(unknown_name("suite", name))
    if name in _seen:
        raise ConfigError(f"suite {name!r} includes itself ({' -> '.join([*_seen, name])}): "
                          f"remove it from the includes of {config_file('suite', _seen[-1])}")
    suite = compose_config([f"+suite={name}"]).suite
    if not suite.get("includes"):
        return suite
    variants: list[str] = list(suite.get("variants") or [])
    tables: list[dict] = (OmegaConf.to_container(suite.tables, resolve=True)
                          if suite.get("tables") else [])
    for part_name in suite.includes:
        part = load_suite(str(part_name), (*_seen, name))
        variants += [v for v in part.variants if v not in variants]
        tables += [{"rows": list(part.variants), **t}
                   for t in OmegaConf.to_container(part.tables, resolve=True)]
    own = {"reference": suite.reference} if suite.get("reference") else {}
    return OmegaConf.create({"name": suite.name, "includes": list(suite.includes),
                             "variants": variants, "tables": tables, **own})


def suite_reference(name: str) -> Path | None:
    """The file of published numbers the suite's report prints beside its own, where the suite
    names one (`reference: FILE`, relative to the config folder holding suite/<name>.yaml, or
    absolute); None: the packaged benchmark/reference/cyclegan_2017.yaml.

    Why a suite may name its own: a suite from a user's --config-dir compares against *their*
    paper (its table ids, rows, citation), which the packaged file should not have to hold.
    """
    named = load_suite(name).get("reference")
    if not named:
        return None
    suite_file = config_file("suite", name)
    path = Path(str(named)).expanduser()
    if not path.is_absolute() and suite_file is not None:
        path = suite_file.parent.parent / path
    if not path.is_file():
        raise ConfigError(f"suite {name!r} ({suite_file}) names reference: {named}, and {path} is not a file: "
                          "give a path relative to the folder holding suite/ (or an absolute one)")
    return path.resolve()


def check_dataset(name: str) -> None:
    if name not in available("dataset"):
        raise ConfigError(unknown_name("dataset", name))


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


def table_specs(suite: DictConfig, cfg: DictConfig) -> list[dict]:
    """The suite's tables with directions and titles resolved for this dataset."""
    names = directions_of(cfg)
    x = cfg.dataset.x_domain
    y = names["X2Y"].split("2", 1)[1]
    specs = []
    for table in suite.tables:
        spec = OmegaConf.to_container(table, resolve=True)
        spec.update((spec.pop("by_dataset", None) or {}).get(cfg.dataset.name, {}))
        spec["direction"] = names[spec.pop("translate")]
        spec["title"] = spec["title"].format(X=x, Y=y) + f" ({cfg.dataset.name})"
        spec["rows"] = list(spec.get("rows") or suite.variants)
        specs.append(spec)
    return specs

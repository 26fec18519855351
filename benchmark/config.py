"""Building run configs with Hydra's compose API, and a run's identity.

Configs live in `benchmark/conf` (groups: model, dataset, profile, launcher, suite). A run's
identity is a hash of its resolved config without the settings that say *where* or *how* it
runs (launcher, paths, device, logging cadence): moving the store or switching from a laptop
to SLURM must find the same run, changing a loss weight must not.
"""
from __future__ import annotations

import copy
import functools
import hashlib
import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from hydra import compose, initialize_config_module
from hydra.core.global_hydra import GlobalHydra
from hydra.errors import HydraException, MissingConfigException
from omegaconf import DictConfig, OmegaConf

from benchmark.config_rules import config_problems

CONF_MODULE = "benchmark.conf"
CONF_DIR = Path(__file__).parent / "conf"
GROUPS = ("model", "dataset", "profile", "launcher", "suite")
DEFAULT_DATASET = "synthetic"    # the root config's default (conf/config.yaml)
REAL_DATA_PROFILE = "paper"      # the default profile on every dataset that is not synthetic

#: Dotted keys left out of a run's identity: where and how it runs, not what it computes.
IDENTITY_EXCLUDED = (
    "launcher", "data_root", "store_dir", "run_dir", "results_dir", "device", "progress", "dataset.root",
    "data.num_workers", "trainer.log_every", "trainer.sample_every", "trainer.checkpoint_every",
    "trainer.num_samples", "evaluation", "suite", "seeds",
)


def _paper_load_size(crop_size: Any) -> int:
    """The paper's code resizes to 286 before a 256 crop, 143 before 128: ×286/256."""
    return int(round(int(crop_size) * 286 / 256))


if not OmegaConf.has_resolver("paper_load_size"):
    OmegaConf.register_new_resolver("paper_load_size", _paper_load_size)


def directions_of(cfg: DictConfig) -> dict[str, str]:
    """'X2Y'/'Y2X' -> '<source>2<target>' from the dataset's domain names (e.g. photo2labels)."""
    x = cfg.dataset.x_domain
    y = cfg.dataset.b_domain if x == cfg.dataset.a_domain else cfg.dataset.a_domain
    return {"X2Y": f"{x}2{y}", "Y2X": f"{y}2{x}"}


class ConfigError(ValueError):
    """An unknown config name or a bad override, said in one line."""


def available(group: str) -> list[str]:
    return sorted(p.stem for p in (CONF_DIR / group).glob("*.yaml"))


def _check_choice(overrides: Iterable[str]) -> None:
    for item in overrides:
        key, sep, value = item.partition("=")
        key = key.lstrip("+~")
        if sep and key in GROUPS and value not in available(key):
            raise ConfigError(f"unknown {key} {value!r}: valid names are {', '.join(available(key))}")


def compose_config(overrides: Iterable[str] = ()) -> DictConfig:
    """The resolved-able, validated root config for `overrides` (Hydra `key=value` words).

    Composition costs ~0.3 s; a suite asks for the same configs several times (plan, status,
    report), so results are memoised and each caller gets its own copy.
    """
    return copy.deepcopy(_compose(tuple(with_default_profile(list(overrides)))))


def _last_choice(overrides: list[str], group: str) -> str | None:
    chosen = None
    for item in overrides:
        key, sep, value = item.partition("=")
        if sep and key.lstrip("+") == group:
            chosen = value
    return chosen


def dataset_source(name: str) -> str | None:
    """The `source` a dataset YAML names (read without composing: it decides the profile)."""
    path = CONF_DIR / "dataset" / f"{name}.yaml"
    return OmegaConf.load(path).get("source") if path.is_file() else None


def with_default_profile(overrides: list[str]) -> list[str]:
    """Add `profile=paper` on a real dataset when the user chose no profile.

    The root config's default profile is smoke, right for the embedded synthetic scenes (a
    demo in minutes) but a toy on real data: `benchmark run ablations cityscapes` must run the
    paper's protocol. The profile is a config group, so this is decided before composing.
    """
    if _last_choice(overrides, "profile") is not None:
        return overrides
    dataset = _last_choice(overrides, "dataset") or DEFAULT_DATASET
    if dataset_source(dataset) in (None, "synthetic"):
        return overrides
    return [*overrides, f"profile={REAL_DATA_PROFILE}"]


@functools.lru_cache(maxsize=256)
def _compose(overrides: tuple[str, ...]) -> DictConfig:
    overrides = list(overrides)
    _check_choice(overrides)
    if not GlobalHydra.instance().is_initialized():
        initialize_config_module(CONF_MODULE, version_base="1.3")
    try:
        cfg = compose("config", overrides=overrides)
    except MissingConfigException as exc:
        raise ConfigError(str(exc).splitlines()[0]) from exc
    except HydraException as exc:
        raise ConfigError(f"bad override: {' '.join(str(exc).split())}") from exc
    problems = config_problems(cfg)
    if problems:
        raise ConfigError("bad config value: " + "; ".join(problems))
    return cfg


def resolved_dict(cfg: DictConfig) -> dict:
    return OmegaConf.to_container(cfg, resolve=True)  # type: ignore[return-value]


def escape_interpolations(tree: Any) -> Any:
    """`${` -> `\\${` in every string, so a resolved config survives being made a config again.

    A resolved value may itself read `${...}` (launcher.setup holds the shell's
    `${SLURM_CPUS_PER_TASK:-1}`, escaped in the YAML); OmegaConf would take it for an
    interpolation the second time round and fail inside the job.
    """
    if isinstance(tree, dict):
        return {k: escape_interpolations(v) for k, v in tree.items()}
    if isinstance(tree, list):
        return [escape_interpolations(v) for v in tree]
    if isinstance(tree, str):
        return tree.replace("${", "\\${")
    return tree


def job_payload(cfg: DictConfig) -> dict:
    """The plain dict a job receives: resolved once, here; `OmegaConf.create` of it in the job
    gives back exactly these values (nothing is resolved a second time)."""
    return escape_interpolations(resolved_dict(cfg))


def _drop(tree: dict, dotted: str) -> None:
    *parents, leaf = dotted.split(".")
    for part in parents:
        tree = tree.get(part)
        if not isinstance(tree, dict):
            return
    tree.pop(leaf, None)


def identity_dict(cfg: DictConfig | dict) -> dict:
    tree = resolved_dict(cfg) if isinstance(cfg, DictConfig) else json.loads(json.dumps(cfg))
    for key in IDENTITY_EXCLUDED:
        _drop(tree, key)
    return tree


def config_hash(cfg: DictConfig | dict) -> str:
    """12 hex digits of sha256 over the canonical JSON of the run's identity."""
    blob = json.dumps(identity_dict(cfg), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(blob.encode()).hexdigest()[:12]


def flatten(tree: dict, prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in tree.items():
        dotted = f"{prefix}{key}"
        if isinstance(value, dict):
            out.update(flatten(value, dotted + "."))
        else:
            out[dotted] = value
    return out


def identity_diff(a: dict, b: dict) -> list[str]:
    """Dotted keys whose values differ between two configs' identities, as 'key: a != b'."""
    fa, fb = flatten(identity_dict(a)), flatten(identity_dict(b))
    return [f"{k}: {fa.get(k)!r} != {fb.get(k)!r}" for k in sorted(set(fa) | set(fb))
            if fa.get(k) != fb.get(k)]


def default_run_dir(cfg: DictConfig) -> Path:
    return (Path(cfg.store_dir) / cfg.dataset.name / cfg.model.name
            / f"seed{cfg.seed}-{config_hash(cfg)}")


def run_dir_of(cfg: DictConfig) -> Path:
    return Path(cfg.run_dir) if cfg.run_dir else default_run_dir(cfg)

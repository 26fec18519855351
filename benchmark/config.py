"""Building run configs with Hydra's compose API, and a run's identity.

Configs live in `benchmark/conf` (groups: model, dataset, profile, launcher, suite). A run's
identity is a hash of its resolved config without the settings that say *where* or *how* it
runs (launcher, paths, device, logging cadence): moving the store or switching from a laptop
to SLURM must find the same run, changing a loss weight must not. What a file-based dataset is
enters as its content fingerprint (benchmark/data/fingerprint.py), never its location: a moved
dataset keeps its runs, and another folder with the same `dataset.name` never shares them.
Integer values are normalised first (`seed=1e3` is `seed=1000`), so one run has one identity.

A user's own `model/`, `dataset/` and `suite/` YAMLs live in their own folders, named by
`benchmark --config-dir DIR` or the environment variable `BENCHMARK_CONFIG_DIR` (several
joined by os.pathsep); they join Hydra's search path after the shipped configs. The CLI option
sets the variable, so a job started from it (submitit, SLURM) inherits the same folders.
"""
from __future__ import annotations

import copy
import functools
import hashlib
import json
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from hydra import compose, initialize_config_module
from hydra.core.global_hydra import GlobalHydra
from hydra.errors import HydraException, MissingConfigException
from omegaconf import DictConfig, OmegaConf

from benchmark.config_rules import config_problems, normalise_integers

CONF_MODULE = "benchmark.conf"
CONF_DIR = Path(__file__).parent / "conf"
GROUPS = ("model", "dataset", "profile", "launcher", "suite")
DEFAULT_DATASET = "synthetic"    # the root config's default (conf/config.yaml)
REAL_DATA_PROFILE = "paper"      # the default profile on every dataset that is not synthetic

#: Dotted keys left out of a run's identity: where and how it runs, not what it computes.
IDENTITY_EXCLUDED = (
    "launcher", "data_root", "store_dir", "run_dir", "results_dir", "device", "progress", "logger", "dataset.root",
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


CONFIG_DIR_ENV = "BENCHMARK_CONFIG_DIR"
#: The groups a user's config folder may add to (profile and launcher stay the suite's own).
USER_GROUPS = ("model", "dataset", "suite")


def user_config_dirs() -> tuple[Path, ...]:
    """The user's config folders, from BENCHMARK_CONFIG_DIR (os.pathsep-separated), in order."""
    dirs = []
    for entry in os.environ.get(CONFIG_DIR_ENV, "").split(os.pathsep):
        if not entry.strip():
            continue
        path = Path(os.path.abspath(Path(entry).expanduser()))
        if not path.is_dir():
            raise ConfigError(f"{CONFIG_DIR_ENV} (or --config-dir) names {path}, which is not a directory: "
                              "fix the path or unset it")
        if not any((path / group).is_dir() for group in USER_GROUPS):
            raise ConfigError(f"{CONFIG_DIR_ENV} (or --config-dir) names {path}, which holds none of "
                              f"{', '.join(g + '/' for g in USER_GROUPS)}: name the folder that holds them")
        dirs.append(path)
    return tuple(dict.fromkeys(dirs))


def add_config_dirs(dirs: Iterable[str | Path]) -> None:
    """Put `dirs` (absolute) before those already in BENCHMARK_CONFIG_DIR, in this process's
    environment, so every job it starts composes with the same folders."""
    given = [os.path.abspath(Path(d).expanduser()) for d in dirs]
    before = [d for d in os.environ.get(CONFIG_DIR_ENV, "").split(os.pathsep) if d.strip()]
    os.environ[CONFIG_DIR_ENV] = os.pathsep.join(dict.fromkeys([*given, *before]))
    user_config_dirs()  # a missing folder is said now, naming it


def take_config_dirs(argv: list[str]) -> list[str]:
    """Command-line words less every `--config-dir DIR` / `--config-dir=DIR` (any position, any
    number), whose folders `add_config_dirs` puts in this process's BENCHMARK_CONFIG_DIR."""
    rest, dirs, words = [], [], iter(argv)
    for word in words:
        if word == "--config-dir":
            dirs.append(next(words, ""))
        elif word.startswith("--config-dir="):
            dirs.append(word.partition("=")[2])
        else:
            rest.append(word)
    if any(not d.strip() for d in dirs):
        raise ConfigError("--config-dir needs a folder: --config-dir DIR (one holding model/, dataset/ or suite/)")
    if dirs:
        add_config_dirs(dirs)
    return rest


def shipped_names(group: str) -> list[str]:
    return sorted(p.stem for p in (CONF_DIR / group).glob("*.yaml"))


def user_names(group: str) -> dict[str, Path]:
    """name -> file of the user's configs of `group` (the first folder naming it wins)."""
    found: dict[str, Path] = {}
    for folder in user_config_dirs() if group in USER_GROUPS else ():
        for path in sorted((folder / group).glob("*.yaml")):
            found.setdefault(path.stem, path)
    return found


def available(group: str) -> list[str]:
    """Every name of `group`: the shipped configs and the user's (--config-dir)."""
    return sorted({*shipped_names(group), *user_names(group)})


def config_file(group: str, name: str) -> Path | None:
    """The YAML file of `group`/`name`: shipped first, as Hydra's search path reads them."""
    shipped = CONF_DIR / group / f"{name}.yaml"
    return shipped if shipped.is_file() else user_names(group).get(name)


def unknown_name(group: str, value: str, noun: str | None = None) -> str:
    """One line for a name `group` does not have: the shipped names, and the user's apart."""
    ours = user_names(group)
    where = ", ".join(str(d) for d in user_config_dirs())
    theirs = (f"; yours (from {where}): {', '.join(sorted(ours)) or f'none under {group}/'}" if where else
              f"; add your own as {group}/<name>.yaml in a folder named by --config-dir DIR or {CONFIG_DIR_ENV}"
              if group in USER_GROUPS else "")
    return f"unknown {noun or group} {value!r}: shipped names are {', '.join(shipped_names(group))}{theirs}"


def _check_choice(overrides: Iterable[str]) -> None:
    for item in overrides:
        key, sep, value = item.partition("=")
        key = key.lstrip("+~")
        if not sep or key not in GROUPS:
            continue
        if value not in available(key):
            raise ConfigError(unknown_name(key, value))
        if value in shipped_names(key) and value in user_names(key):
            raise ConfigError(f"{key} {value!r} is both shipped and in {user_names(key)[value]}: the shipped one "
                              f"would be used; rename your file (a new name is a new {key}, with its own runs)")


def compose_config(overrides: Iterable[str] = ()) -> DictConfig:
    """The resolved-able, validated root config for `overrides` (Hydra `key=value` words).

    Composition costs ~0.3 s; a suite asks for the same configs several times (plan, status,
    report), so results are memoised (per set of user config folders) and each caller gets its
    own copy.
    """
    return copy.deepcopy(_compose(tuple(with_default_profile(list(overrides))), user_config_dirs()))


def _last_choice(overrides: list[str], group: str) -> str | None:
    chosen = None
    for item in overrides:
        key, sep, value = item.partition("=")
        if sep and key.lstrip("+") == group:
            chosen = value
    return chosen


def dataset_source(name: str) -> str | None:
    """The `source` a dataset YAML names, or the one it inherits from `defaults: [parent, _self_]`
    (read without composing: it decides the profile)."""
    path = config_file("dataset", name)
    node = OmegaConf.load(path) if path is not None else {}
    if node.get("source") is not None:
        return node.get("source")
    parents = [p for p in node.get("defaults") or [] if isinstance(p, str) and p not in ("_self_", name)]
    return dataset_source(parents[-1]) if parents else None


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
def _compose(overrides: tuple[str, ...], config_dirs: tuple[Path, ...]) -> DictConfig:
    overrides = list(overrides)
    _check_choice(overrides)
    if not GlobalHydra.instance().is_initialized():
        initialize_config_module(CONF_MODULE, version_base="1.3")
    # after the shipped configs in Hydra's search path; not part of the composed config (nor its hash)
    search = [f"hydra.searchpath=[{','.join(_quoted('file://' + str(d)) for d in config_dirs)}]"] if config_dirs else []
    try:
        cfg = compose("config", overrides=[*overrides, *search])
    except MissingConfigException as exc:
        raise ConfigError(str(exc).splitlines()[0]) from exc
    except HydraException as exc:
        raise ConfigError(_override_problem(overrides, exc)) from exc
    problems = config_problems(cfg)
    if problems:
        raise ConfigError("bad config value: " + "; ".join(problems))
    normalise_integers(cfg)
    return cfg


def _quoted(text: str) -> str:
    """`text` as a quoted value of Hydra's override grammar (a path may hold commas, spaces)."""
    quote = "'" if "'" not in text else '"'
    return f"{quote}{text}{quote}"


def _override_problem(overrides: list[str], exc: Exception) -> str:
    """One line for a bad override. Hydra's grammar takes only ASCII in an unquoted value, and
    says so as `LexerNoViableAltException`: name the override and say to quote it instead."""
    lexer = "LexerNoViableAlt" in str(exc) or "LexerNoViableAlt" in repr(exc.__cause__)
    for item in overrides if lexer else ():
        key, sep, value = item.partition("=")
        if sep and not value.isascii() and value[:1] not in ("'", '"'):
            return (f"bad override {item}: an unquoted value may only hold ASCII characters; quote it, "
                    f"e.g. {key}='{value}' (in a shell: \"{key}='{value}'\")")
    return f"bad override: {' '.join(str(exc).split())}"


#: What `benchmark evaluate RUN key=value` may change: how the run is scored, and where things
#: are. Everything else is the trained run's identity: scoring cannot change it.
EVALUATE_OVERRIDABLE = ("evaluation.", "device", "progress", "store_dir", "dataset.root")
_ABSENT = object()


def override_run_config(cfg: DictConfig, overrides: Iterable[str]) -> DictConfig:
    """A run's config with `overrides` applied, read by Hydra's override grammar and checked by
    the same rules as at composition (config_rules.py). An unknown key, or one that is part of the
    run's identity, is refused in one line: a typo must not silently score something else."""
    from hydra.core.override_parser.overrides_parser import OverridesParser

    overrides = list(overrides)
    try:
        parsed = OverridesParser.create().parse_overrides(overrides)
    except HydraException as exc:
        raise ConfigError(_override_problem(overrides, exc)) from exc
    cfg = copy.deepcopy(cfg)
    for item in parsed:
        _check_evaluate_key(cfg, item.key_or_group)
        OmegaConf.update(cfg, item.key_or_group, item.value(), merge=True)
    problems = config_problems(cfg)
    if problems:
        raise ConfigError("bad config value: " + "; ".join(problems))
    normalise_integers(cfg)
    return cfg


def _check_evaluate_key(cfg: DictConfig, key: str) -> None:
    """Refuse a key the run's config lacks (naming its siblings), or one of the run's identity."""
    if OmegaConf.select(cfg, key, default=_ABSENT) is _ABSENT:
        section = key.rsplit(".", 1)[0] if "." in key else ""
        known = OmegaConf.select(cfg, section, default=None) if section else cfg
        keys = ", ".join(sorted(str(k) for k in known)) if isinstance(known, DictConfig) else ""
        valid = f"; valid keys under {section or 'the root'}: {keys}" if keys else ""
        raise ConfigError(f"unknown key {key}{valid}")
    if key not in EVALUATE_OVERRIDABLE and not any(key.startswith(k) for k in EVALUATE_OVERRIDABLE if k.endswith(".")):
        allowed = ", ".join(k.rstrip(".") for k in EVALUATE_OVERRIDABLE)
        raise ConfigError(f"{key} is part of the trained run's identity, so scoring cannot change it: train "
                          f"another run with {key}= instead (evaluate takes {allowed})")


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
    """The resolved config less IDENTITY_EXCLUDED, integers normalised, with the dataset's
    content fingerprint in place of its location (file-based sources only, so the synthetic
    scenes, whose generating settings are already here, keep their hashes)."""
    tree = resolved_dict(cfg) if isinstance(cfg, DictConfig) else json.loads(json.dumps(cfg))
    fingerprint = identity_fingerprint(tree.get("dataset"))
    for key in IDENTITY_EXCLUDED:
        _drop(tree, key)
    normalise_integers(tree)
    if fingerprint is not None:
        tree["dataset"]["fingerprint"] = fingerprint
    return tree


def identity_fingerprint(dataset: dict | None) -> str | None:
    """The fingerprint a run's identity holds: the one recorded in its config.yaml (what it was
    trained on), else the one of the folder its root names now; None for the synthetic scenes."""
    from benchmark.data.fingerprint import dataset_fingerprint, has_files  # the data package loads torch

    if not isinstance(dataset, dict) or not has_files(dataset):
        return None
    return dataset.get("fingerprint") or dataset_fingerprint(dataset)


def recorded_config(cfg: DictConfig) -> dict:
    """The resolved config as a run directory records it (config.yaml, checkpoints): the dataset
    root made absolute, so the run names its data from any directory, and the dataset's content
    fingerprint, checked before the run is scored (benchmark/run/evaluate.py)."""
    from benchmark.data.fingerprint import dataset_root, has_files

    config = resolved_dict(cfg)
    dataset = config.get("dataset") or {}
    if dataset_root(dataset) is not None:
        dataset["root"] = str(dataset_root(dataset))
        if config.get("data_root"):
            config["data_root"] = os.path.abspath(Path(str(config["data_root"])).expanduser())
    if has_files(dataset):
        dataset["fingerprint"] = identity_fingerprint(dataset)
    return config


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

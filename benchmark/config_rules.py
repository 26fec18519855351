"""The config's values checked once, when it is composed: key, value and valid range in one line.

Why here and not where a value is used: a bad `trainer.iterations` used to run, train nothing
and fail later as "never reached its first checkpoint"; `trainer.iterations=abc` failed deep in
the loop with `invalid literal for int()`. One table of rules (in the manner of
torch-fidelity's table of defaults) also documents every range. A key a model or profile does
not have is skipped, so baselines with their own keys compose as long as the shared ones hold.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException

from benchmark.import_path import IMPORT_PATH, is_import_path

# (dotted key, kind, lower bound, upper bound, null allowed)
INT, FLOAT, CHOICE = "int", "float", "choice"
RULES: tuple[tuple[str, str, Any, Any, bool], ...] = (
    ("seed", INT, 0, None, False),
    ("seeds", INT, 1, None, False),
    ("trainer.iterations", INT, 1, None, False),
    ("trainer.epochs", INT, 1, None, True),
    ("trainer.decay_epochs", INT, 0, None, True),
    ("trainer.batch_size", INT, 1, None, False),
    ("trainer.decay_fraction", FLOAT, 0.0, 1.0, False),
    ("trainer.lr", FLOAT, 1e-12, 1.0, False),
    ("trainer.beta1", FLOAT, 0.0, 0.999999, False),
    ("trainer.beta2", FLOAT, 0.0, 0.999999, False),
    ("trainer.log_every", INT, 1, None, False),
    ("trainer.sample_every", INT, 1, None, False),
    ("trainer.checkpoint_every", INT, 1, None, False),
    ("trainer.num_samples", INT, 1, None, False),
    ("logger", CHOICE, ("csv", "tensorboard"), None, False),  # benchmark/run/curves.py
    ("trainer.precision", CHOICE, ("fp32", "bf16", "fp16", "auto"), None, False),  # models/precision.py
    ("data.crop_size", INT, 16, None, False),
    ("data.load_size", INT, 16, None, False),
    ("data.num_workers", INT, 0, None, False),
    ("network.base_filters", INT, 1, None, False),
    ("network.n_blocks", INT, 0, None, False),
    ("network.disc_base_filters", INT, 1, None, False),
    ("network.disc_layers", INT, 1, None, False),
    ("network.init_std", FLOAT, 1e-12, None, False),
    ("evaluation.resolution", INT, 16, None, False),
    ("evaluation.batch_size", INT, 1, None, False),
    ("evaluation.max_images", INT, 1, None, True),
    ("evaluation.snap_rule", CHOICE, ("train19", "full_palette"), None, False),
    ("evaluation.fid.kid_subset_size", INT, 2, None, False),
    ("evaluation.fid.kid_subsets", INT, 1, None, False),
    ("evaluation.segmenter.iterations", INT, 1, None, False),
    ("evaluation.segmenter.batch_size", INT, 1, None, False),
    ("evaluation.segmenter.lr", FLOAT, 1e-12, None, False),
    ("evaluation.segmenter.precise_bn_batches", INT, 0, None, False),
    ("evaluation.segmenter.num_workers", INT, 0, None, False),
    ("launcher.max_retries", INT, 0, None, False),
    ("launcher.cpus_per_task", INT, 1, None, False),
    ("launcher.gpus_per_node", INT, 0, None, False),
    ("launcher.mem_gb", FLOAT, 1e-3, None, False),
    ("launcher.timeout_min", INT, 1, None, False),
    ("launcher.array_parallelism", INT, 1, None, False),
    ("launcher.workers", INT, 1, None, False),  # local runs at once: suite/workers.py
    ("launcher.runs_per_gpu", INT, 1, None, False),  # runs sharing one job's GPU: suite/packing.py
    ("launcher.signal_delay_s", INT, 0, None, False),
    ("launcher.max_num_timeout", INT, 0, None, False),
    ("launcher.mode", CHOICE, ("inprocess", "submitit"), None, False),
)


def _range(kind: str, low: Any, high: Any, nullable: bool) -> str:
    if kind == CHOICE:
        text = "one of " + ", ".join(low)
    else:
        noun = "an integer" if kind == INT else "a number"
        low_text = "> 0" if kind == FLOAT and low == 1e-12 else f">= {low:g}" if low is not None else ""
        text = f"{noun} {low_text}" + (f" and <= {high:g}" if high is not None else "")
    return text.strip() + (" (or null)" if nullable else "")


def _check(key: str, value: Any, kind: str, low: Any, high: Any, nullable: bool) -> str | None:
    """The problem with one value, or None."""
    if value is None:
        return None if nullable else "is null"
    if kind == CHOICE:
        return None if value in low else "is not allowed"
    convert: Callable = int if kind == INT else float
    if isinstance(value, bool) or (kind == INT and isinstance(value, float) and not value.is_integer()):
        return "has the wrong type"
    try:
        number = convert(value)
    except (TypeError, ValueError):
        return f"is not {'an integer' if kind == INT else 'a number'}"
    if kind == INT and isinstance(value, str) and str(number) != value.strip():
        return "is not an integer"
    if (low is not None and number < low) or (high is not None and number > high):
        return "is out of range"
    return None


def config_problems(cfg: DictConfig) -> list[str]:
    """Every rule a composed config breaks, one 'key=value: why; valid: range' each."""
    problems = []
    for key, kind, low, high, nullable in RULES:
        try:
            present = OmegaConf.select(cfg, key, default="__absent__", throw_on_missing=True)
        except OmegaConfBaseException as exc:
            problems.append(f"{key}: {' '.join(str(exc).split()[:20])}")
            continue
        if isinstance(present, str) and present == "__absent__":
            continue
        why = _check(key, present, kind, low, high, nullable)
        if why:
            problems.append(f"{key}={present!r} {why}; valid: {_range(kind, low, high, nullable)}")
    problems += _named_code_problems(cfg)
    crop, load = OmegaConf.select(cfg, "data.crop_size"), OmegaConf.select(cfg, "data.load_size")
    if not problems and crop is not None and load is not None and int(load) < int(crop):
        problems.append(f"data.load_size={load} is smaller than data.crop_size={crop}; valid: "
                        "load_size >= crop_size (resize to load_size, then crop)")
    return problems


#: Keys naming code: a built-in short name, or a user's own by import path (benchmark/import_path.py).
#: Only the form is checked here: whether a short name is registered, or the path imports, is
#: decided where the code is used (model_registry.py, data/registry.py), which import torch.
NAMED_CODE = {"model.family": "mypkg.translation:MyModel", "dataset.source": "mypkg.data:open_layout"}


def _named_code_problems(cfg: DictConfig) -> list[str]:
    problems = []
    for key, example in NAMED_CODE.items():
        section = OmegaConf.select(cfg, key.split(".")[0], default=None)
        if not isinstance(section, DictConfig):
            continue
        value = OmegaConf.select(cfg, key, default=None)
        if not isinstance(value, str) or not value.strip():
            problems.append(f"{key}={value!r} is missing or not a string; valid: a built-in name or your own "
                            f"by import path, e.g. {key}={example}")
        elif is_import_path(value) and not IMPORT_PATH.match(value):
            problems.append(f"{key}={value!r} is not an import path; valid: module.path:Attribute, e.g. {example}")
        elif not is_import_path(value) and not value.isidentifier():
            problems.append(f"{key}={value!r} is not allowed; valid: a built-in name or your own by import "
                            f"path, e.g. {key}={example}")
    return problems


def _as_integer(value: Any) -> Any:
    """`value` as an int where it is an integer written otherwise (1e3, 1000.0, "1000")."""
    if isinstance(value, bool) or isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        return int(value)
    return value


def normalise_integers(cfg: DictConfig | dict) -> None:
    """Rewrite, in place, every integer key (RULES) written as a float or a string as an int.

    `seed=1e3` reaches the config as 1000.0; hashed as written it would be another run than
    `seed=1000` (seed1000.0-<other hash>). One value, one identity: normalised once, here.
    """
    for key, kind, *_ in RULES:
        if kind != INT:
            continue
        if isinstance(cfg, DictConfig):
            value = OmegaConf.select(cfg, key, default=None, throw_on_missing=False)
            if value is not None and _as_integer(value) is not value:
                OmegaConf.update(cfg, key, _as_integer(value), merge=False)
            continue
        *parents, leaf = key.split(".")
        tree: Any = cfg
        for part in parents:
            tree = tree.get(part) if isinstance(tree, dict) else None
        if isinstance(tree, dict) and leaf in tree and tree[leaf] is not None:
            tree[leaf] = _as_integer(tree[leaf])

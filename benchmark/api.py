"""The benchmark from Python: results as a pandas DataFrame, status, describe, run.

The command line is made for a terminal; a researcher comparing their own method wants the
numbers in a notebook without chaining internals (`suite.plan` -> `report.runs.load_runs` ->
`long_frame`). These four functions are that chain, each with the same arguments as its
command (suite and dataset names, Hydra `key=value` overrides), so a notebook and a terminal
address the same runs in the same store::

    from benchmark import api

    api.run("ablations", "synthetic", ["profile=smoke"])          # train, score, report; exit code
    scores = api.results("ablations", "synthetic", ["profile=smoke"])
    fid = scores[scores.metric == "fid"].groupby(["method", "direction"]).value.mean()
    api.status("ablations", "synthetic", ["profile=smoke"])       # one row per planned run

Import it as `from benchmark import api`: the package's `__init__` does not re-export these,
because it is the base every module of the package imports, and it must not import the
module built on all of them (the CLI, the suites, the reports). Nothing imports this module.
"""
from __future__ import annotations

import argparse
from collections.abc import Sequence
from typing import Any

import pandas as pd

__all__ = ["results", "status", "describe", "run"]

#: The columns of `status`, in order.
STATUS_COLUMNS = ["variant", "seed", "state", "iteration", "slurm", "error", "config_hash", "run_dir"]


def results(suite: str, dataset: str, overrides: Sequence[str] = ()) -> pd.DataFrame:
    """Every score of the suite's finished runs on `dataset`, in the tidy long format.

    One row per run × direction × metric, the frame `benchmark report` writes as
    `results/<suite>/<dataset>/scores_long.csv` (columns `benchmark.report.runs.LONG_COLUMNS`:
    variant, method, seed, direction, metric, value, config_hash, commit, profile, dataset,
    resolutions, precision, evaluation and evaluator hashes, num_images, run_dir). Per-class
    scores are the metrics `class_iou:<class>` and `class_acc:<class>`.

    Reads the store only: runs that are not finished (or failed) have no rows, and nothing
    trains or scores. `overrides` must be those the suite was run with, since they decide
    each run's config hash and so its folder in the store.

    >>> frame = results("ablations", "synthetic", ["profile=smoke"])  # doctest: +SKIP
    >>> frame.pivot_table(index="method", columns="metric", values="value")  # doctest: +SKIP
    """
    from benchmark.provenance import git_state
    from benchmark.report.reference import load_reference
    from benchmark.report.runs import load_runs, long_frame
    from benchmark.run.evaluation_settings import evaluation_hash
    from benchmark.run.store import run_state
    from benchmark.suite.plan import plan, suite_reference

    base, runs = plan(suite, dataset, list(overrides))
    done = [r for r in runs if run_state(r.run_dir, evaluation_hash(r.cfg)).finished]
    # the report's fallbacks for a run whose own files do not say (as benchmark.suite.report)
    provenance = {"commit": git_state()["commit"], "profile": base.profile, "dataset": dataset,
                  "resolution": int(base.evaluation.resolution), "train_resolution": int(base.data.crop_size),
                  "precision": str(base.trainer.get("precision", "fp32"))}
    names = load_reference(suite_reference(suite)).display_name  # the suite's own paper file, if it names one
    return long_frame(load_runs([r.record() for r in done]), provenance, names)


def status(suite: str, dataset: str, overrides: Sequence[str] = ()) -> pd.DataFrame:
    """One row per planned run of the suite on `dataset`, with its state (columns `STATUS_COLUMNS`).

    `state` is what `benchmark status` shows: pending, running, trained, done, failed (with
    `error`), unavailable where this machine cannot have the variant's weights, and a SLURM
    job's pending/running/requeued while it waits in the queue; `iteration` is "i/total".
    """
    from benchmark.suite.plan import plan
    from benchmark.suite.status import status_rows

    _, runs = plan(suite, dataset, list(overrides))
    hashes = {str(r.run_dir): r.config_hash for r in runs}
    rows = [{**row, "config_hash": hashes.get(str(row["run_dir"]), "")} for row in status_rows(runs)]
    return pd.DataFrame(rows, columns=STATUS_COLUMNS)


def describe(overrides: Sequence[str] = ()) -> dict[str, Any]:
    """The resolved config of one run, its config hash and its networks' parameter counts.

    The same dict `benchmark describe --json` prints: {"networks": {name: parameters},
    "config": resolved config as plain containers, "config_hash": str}. Builds the model on
    the CPU (no data is read, nothing trains).

    >>> describe(["model=cyclegan", "dataset=cityscapes"])["networks"]["G"]  # doctest: +SKIP
    """
    from benchmark.config import compose_config, config_hash, resolved_dict
    from benchmark.model_registry import build_model
    from models.networks import count_parameters

    cfg = compose_config(list(overrides))
    model = build_model(cfg)
    return {"networks": {name: count_parameters(net) for name, net in model.networks().items()},
            "config": resolved_dict(cfg), "config_hash": config_hash(cfg)}


def run(suite: str, dataset: str, overrides: Sequence[str] = (), strict: bool = False, *,
        yes: bool = False, wait: bool = False) -> int:
    """`benchmark run SUITE DATASET [overrides]`: train what is missing, score it, write the report.

    Returns the command's exit code: 0 when every run finished (unavailable variants
    included, unless `strict`), 1 when one failed or gave up (or, with `strict`, is
    unavailable here). `yes` starts even when the cost estimate is absurd for the launcher;
    `wait` blocks until SLURM jobs end. Bad input (unknown suite, dataset or override) raises
    as the CLI would have printed it (ConfigError, ValueError, ...), so a notebook shows the
    cause instead of the number 2. Progress goes to stdout/stderr as on the command line.
    """
    from benchmark.cli import build_parser, cmd_run

    flags = [flag for flag, on in (("--strict", strict), ("--yes", yes), ("--wait", wait)) if on]
    args: argparse.Namespace = build_parser().parse_args(["run", suite, dataset, *flags])  # the CLI's defaults
    return int(cmd_run(args, list(overrides)))

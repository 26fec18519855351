"""`benchmark plan seeds`: how many seeds each of the paper's claims needs, and what they cost.

A verdict of "inconclusive" says the runs cannot decide; the next question is how many more
would. For every claim x table x score (benchmark/reference/claims_2017.yaml) this reads each
recipe's per-seed scores, either from the finished runs in the store or from a committed
results folder's scores_long.csv (which holds every seed), takes the observed difference from
CycleGAN (or `delta=`, a smallest difference of interest) and the observed seed sds, and
finds the seeds per recipe at which a two-sided Welch test at alpha = 0.05 reaches the power
(evaluation/recipe_statistics.py, noncentral t). With 2-4 degrees of freedom behind each sd
this is a pilot estimate.

The cost beside it: this machine's seconds per run of the suite's config (measured from the
runs' training logs where there are runs, else a timed step scaled to the run's iterations),
and GPU-hours on the paper profile from the step time recorded in
benchmark/reference/gpu_step_times.yaml (a measurement with its device and date), times the
paper profile's iterations per run.
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import yaml
from omegaconf import DictConfig

from benchmark.config import compose_config
from benchmark.report.claims import load_claims
from benchmark.suite.plan import load_suite, table_specs
from evaluation.recipe_statistics import DEFAULT_ALPHA, DEFAULT_POWER, seeds_for_power

GPU_STEP_TIMES = Path(__file__).resolve().parents[1] / "reference" / "gpu_step_times.yaml"
SCORES = ("per_pixel_acc", "per_class_acc", "class_iou")


@dataclass(frozen=True)
class RunCost:
    seconds_here: float | None   # one run of the suite's config on this machine
    how_here: str
    gpu_hours_paper: float | None  # one run of the paper profile on the recorded GPU
    how_gpu: str


def seeds_table(scores: pd.DataFrame, suite: DictConfig, cfg: DictConfig, *, power: float = DEFAULT_POWER,
                alpha: float = DEFAULT_ALPHA, delta: float | None = None) -> pd.DataFrame:
    """One row per claim x table x score: seeds present, Δ, sds, seeds needed per recipe.

    `scores`: long format with variant, seed, direction, metric, value (scores_long.csv)."""
    reference_variant, claims = load_claims()
    specs = {s.get("paper_table"): s for s in table_specs(suite, cfg)}
    rows = []
    for claim in claims:
        for table in claim.tables:
            spec = specs.get(table)
            if spec is None or claim.variant not in spec["rows"] or reference_variant not in spec["rows"]:
                continue
            for metric in SCORES:
                pick = scores[(scores.direction == spec["direction"]) & (scores.metric == metric)]
                a = pick[pick.variant == claim.variant].drop_duplicates("seed")["value"].astype(float)
                b = pick[pick.variant == reference_variant].drop_duplicates("seed")["value"].astype(float)
                observed = a.mean() - b.mean() if len(a) and len(b) else math.nan
                sd_a = a.std(ddof=1) if len(a) > 1 else math.nan
                sd_b = b.std(ddof=1) if len(b) > 1 else math.nan
                effect = observed if delta is None else math.copysign(abs(delta), observed if
                                                                       math.isfinite(observed) else 1.0)
                needed = seeds_for_power(effect, sd_a, sd_b, power=power, alpha=alpha)
                rows.append({"claim": claim.id, "text": claim.text, "table": table,
                             "direction": spec["direction"], "metric": metric, "n_variant": len(a),
                             "n_reference": len(b), "diff": observed, "delta_planned": effect,
                             "sd_variant": sd_a, "sd_reference": sd_b, "seeds_needed": needed})
    return pd.DataFrame(rows)


def _gpu_step_seconds(cfg: DictConfig) -> tuple[float | None, str]:
    """The recorded GPU step time for the paper profile's networks at this dataset's crop."""
    if not GPU_STEP_TIMES.is_file():
        return None, "no GPU step time recorded"
    recorded = yaml.safe_load(GPU_STEP_TIMES.read_text()) or {}
    key = f"{int(cfg.network.n_blocks)}blocks_{int(cfg.data.crop_size)}px"
    entry = (recorded.get("paper_profile") or {}).get(key)
    if not entry:
        return None, f"no GPU step time recorded for {key}"
    return float(entry["seconds_per_iteration"]), f"{entry['device']}, {entry['measured']} ({entry['how']})"


def run_cost(dataset: str, overrides: list[str], run_seconds: list[float]) -> RunCost:
    """Seconds per run here (measured runs, else a timed step) and paper-profile GPU-hours.

    Both need the training set's size (a run's iterations follow from it); planning from a
    committed results folder on a machine without the dataset still prints the seeds, and says
    why the cost is missing instead of failing."""
    from benchmark.data.errors import DatasetNotFoundError

    try:
        return _run_cost(dataset, overrides, run_seconds)
    except DatasetNotFoundError as exc:
        why = f"not estimated: {str(exc).split(';')[0]}; set BENCHMARK_DATA to estimate it"
        return RunCost(None, why, None, why)


def _run_cost(dataset: str, overrides: list[str], run_seconds: list[float]) -> RunCost:
    from benchmark.data import open_domains
    from benchmark.run.cost import duration, seconds_per_iteration
    from benchmark.run.train import iteration_budget

    base = compose_config([f"dataset={dataset}", *overrides])
    if run_seconds:
        here = sum(run_seconds) / len(run_seconds)
        how = f"mean training time of the {len(run_seconds)} finished run(s) in the store"
    else:
        from benchmark.device import resolve_device

        per_it, side = seconds_per_iteration(base, resolve_device(base.device))
        size = max(len(d) for d in _train_domains(open_domains, base))
        here = per_it * iteration_budget(base.trainer, size)[0]
        how = f"a timed step at {side}² scaled to the run's iterations ({duration(per_it)}/iteration)"
    paper = compose_config([f"dataset={dataset}", "profile=paper"])
    step, how_gpu = _gpu_step_seconds(paper)
    gpu_hours = None
    if step is not None:
        size = max(len(d) for d in _train_domains(open_domains, paper))
        gpu_hours = step * iteration_budget(paper.trainer, size)[0] / 3600
    return RunCost(here, how, gpu_hours, how_gpu)


def _train_domains(open_domains, cfg: DictConfig):
    pair = open_domains(cfg.dataset, "train")
    return pair.X, pair.Y


def with_results_profile(folder: Path, overrides: list[str]) -> list[str]:
    """`overrides` with the profile the results folder was made at (its provenance.json), unless
    they name one: a cpu-profile report must be priced at the cpu profile, not the default."""
    if any(o.startswith("profile=") for o in overrides):
        return overrides
    try:
        profile = json.loads((Path(folder) / "provenance.json").read_text()).get("profile")
    except (OSError, ValueError):
        return overrides
    return [f"profile={profile}", *overrides] if profile else overrides


def scores_from_results(folder: Path) -> pd.DataFrame:
    path = Path(folder) / "scores_long.csv"
    if not path.is_file():
        raise FileNotFoundError(f"{path} not found: --from takes a results folder written by `benchmark report` "
                                "(results/<suite>/<dataset>)")
    return pd.read_csv(path)


def scores_from_store(suite_name: str, dataset: str, overrides: list[str]) -> tuple[pd.DataFrame, list[float]]:
    """(the finished runs' scores in long format, each run's training seconds from its log)."""
    from benchmark.report.runs import load_runs, long_frame
    from benchmark.run.evaluate import evaluation_hash
    from benchmark.run.store import run_state
    from benchmark.suite.plan import plan

    _, runs = plan(suite_name, dataset, overrides)
    done = [r for r in runs if run_state(r.run_dir, evaluation_hash(r.cfg)).finished]
    seconds = []
    for r in done:
        log = r.run_dir / "train_log.csv"
        if log.is_file():
            frame = pd.read_csv(log)
            if r.cfg.trainer.iterations and "it_per_s" in frame and len(frame) and frame.it_per_s.gt(0).all():
                seconds.append(float((1 / frame.it_per_s).mean() * int(r.cfg.trainer.iterations)))
    return long_frame(load_runs([r.record() for r in done])), seconds


def suite_and_config(suite_name: str, dataset: str, overrides: list[str]) -> tuple[DictConfig, DictConfig]:
    return load_suite(suite_name), compose_config([f"dataset={dataset}", *overrides])


def format_plan(table: pd.DataFrame, cost: RunCost, *, power: float, alpha: float, source: str) -> str:
    """The printed plan: one line per claim x table x score, then the cost and how it was got."""
    from benchmark.report.runs import direction_label
    from benchmark.run.cost import duration

    lines = [f"seeds per recipe for {power:.0%} power (two-sided Welch test, α = {alpha}), from {source}:", ""]
    header = (f"{'claim':<22} {'direction':<14} {'score':<14} {'have':>9} {'Δ':>8} {'sd':>15} "
              f"{'needed':>7} {'to add':>7}")
    lines += [header, "-" * len(header)]
    for r in table.itertuples():
        have = f"{r.n_variant} vs {r.n_reference}"
        sd = "—" if not (math.isfinite(r.sd_variant) and math.isfinite(r.sd_reference)) else \
            f"{r.sd_variant:.3f}/{r.sd_reference:.3f}"
        needed = "—" if r.seeds_needed is None or pd.isna(r.seeds_needed) else int(r.seeds_needed)
        add = "—" if needed == "—" else max(int(needed) - min(r.n_variant, r.n_reference), 0)
        diff = "—" if not math.isfinite(r.diff) else f"{r.diff:+.3f}"
        lines.append(f"{r.claim:<22} {direction_label(r.direction):<14} {r.metric:<14} {have:>9} {diff:>8} "
                     f"{sd:>15} {needed!s:>7} {add!s:>7}")
    finite = [int(n) for n in table.seeds_needed if n is not None and not pd.isna(n)]
    lines.append("")
    if finite:
        worst = max(finite)
        runs = 2 * worst  # the variant's and CycleGAN's
        lines.append(f"to decide every claim above: {worst} seeds per recipe ({runs} runs for the largest pair)")
        if cost.seconds_here:
            lines.append(f"  here: {duration(cost.seconds_here)} per run ({cost.how_here}) -> "
                         f"{duration(cost.seconds_here * runs)} of training for {runs} runs")
        else:
            lines.append(f"  here: {cost.how_here}")
        if cost.gpu_hours_paper is not None:
            lines.append(f"  paper profile on a GPU: {cost.gpu_hours_paper:.1f} GPU-hours per run ({cost.how_gpu}) "
                         f"-> {cost.gpu_hours_paper * runs:,.0f} GPU-hours for {runs} runs")
        else:
            lines.append(f"  paper profile on a GPU: unknown ({cost.how_gpu})")
    lines += ["", "How: Δ = the variant's mean − CycleGAN's over seeds (or delta=); the sds are the observed "
              "seed sds; 'needed' is the smallest n per recipe at which a two-sided Welch test detects Δ with "
              "the power asked for (noncentral t). At 2-4 degrees of freedom the sds are rough: a pilot "
              "estimate. — = no estimate (fewer than 2 seeds, or Δ = 0)."]
    return "\n".join(lines)

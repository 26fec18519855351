"""One run as a job (train, then evaluate), and a suite as a set of such jobs.

`execute_run` is what every launcher calls, in this process, in a submitit local job or in a
SLURM array task: it takes the run directory's lock, skips a finished run, resumes a partial
one, and records a failure in the store instead of taking other runs down with it.
"""
from __future__ import annotations

import sys
from pathlib import Path

from omegaconf import DictConfig, OmegaConf
from tqdm import tqdm

from benchmark.config import job_payload, run_dir_of
from benchmark.run.store import check_store, exclusive, read_json, record_failure, run_lock, run_state
from benchmark.suite.plan import PlannedRun


def _run_steps(cfg_dict: dict, *, train_it: bool, score: bool) -> dict:
    """One run's steps under its lock: a finished run is left alone (its metrics returned), a
    failure is recorded in the store and raised."""
    from benchmark.run.evaluate import evaluate_run
    from benchmark.run.evaluation_settings import evaluation_hash
    from benchmark.run.train import train

    cfg = OmegaConf.create(cfg_dict)
    run_dir = run_dir_of(cfg)
    with run_lock(run_dir):
        if run_state(run_dir, evaluation_hash(cfg)).finished:
            return read_json(run_dir / "metrics.json") or {}
        try:
            if train_it:
                train(cfg, run_dir)
            return evaluate_run(run_dir, cfg, progress=bool(cfg.progress)) if score else {}
        except Exception as exc:
            record_failure(run_dir, exc)
            raise


def execute_run(cfg_dict: dict) -> dict:
    """Train and evaluate one run; return its metrics. Safe to call again at any time."""
    return _run_steps(cfg_dict, train_it=True, score=True)


def train_run(cfg_dict: dict) -> None:
    """Train one run and stop before scoring, for the local workers, which train the runs beside
    the evaluator and score them once it exists."""
    _run_steps(cfg_dict, train_it=True, score=False)


def score_run(cfg_dict: dict) -> dict:
    """Score one trained run (the second phase of the local workers); return its metrics."""
    return _run_steps(cfg_dict, train_it=False, score=True)


def ensure_evaluator_job(cfg_dict: dict) -> str | None:
    """Train (or find) the dataset's segmentation evaluator; shared by every run of a suite."""
    from benchmark.run.evaluate import ensure_segmenter

    cfg = OmegaConf.create(cfg_dict)
    path = ensure_segmenter(cfg, progress=bool(cfg.get("progress", True)))
    return str(path) if path else None


def runs_to_do(runs: list[PlannedRun], max_retries: int) -> tuple[list[PlannedRun], list[str]]:
    """Runs that still need work, seed by seed (every variant's seed 0, then seed 1, ...), and one
    line for each run left alone (done or out of retries).

    Seed-major because a suite stopped part-way (a session's end, a cancelled array) then holds
    whole seeds of every variant, which a report can compare, instead of every seed of the first
    variants and nothing of the last."""
    from benchmark.run.evaluation_settings import evaluation_hash

    todo, notes = [], []
    for run in runs:
        state = run_state(run.run_dir, evaluation_hash(run.cfg))
        if state.finished:
            notes.append(f"done     {run.variant} seed {run.seed} ({run.run_dir})")
        elif state.state == "running":
            notes.append(f"running  {run.variant} seed {run.seed}: another process holds it")
        elif state.state == "failed" and state.attempts > max_retries:
            notes.append(f"gave up  {run.variant} seed {run.seed} after {state.attempts} failures: "
                         f"{state.error} (delete {run.run_dir / 'status.json'} to retry)")
        else:
            todo.append(run)
    return sorted(todo, key=lambda run: run.seed), notes  # stable: table order within a seed


def run_local(base: DictConfig, runs: list[PlannedRun], *, progress: bool = True) -> list[str]:
    """Run every planned run here, one after another, or `launcher.workers` at a time in worker
    processes (benchmark/suite/workers.py); a failure is recorded and the rest go on."""
    from benchmark.run.evaluate import ensure_segmenter

    if not runs:
        return []
    workers = min(int(base.launcher.get("workers", 1)), len(runs))
    if workers > 1:
        return run_in_workers_by_phase(base, runs, workers, progress=progress)
    ensure_segmenter(base, progress=progress)
    failures = []
    for run in tqdm(runs, desc="runs", unit="run", disable=not progress or len(runs) < 2):
        tqdm.write(f"→ {run.variant} seed {run.seed}: {run.run_dir}")
        try:
            execute_run(job_payload(run.cfg))
        except Exception as exc:  # one run's failure never stops the others
            last = str(exc).splitlines()[-1] if str(exc) else ""
            line = f"{run.variant} seed {run.seed} failed: {type(exc).__name__}: {last}"
            tqdm.write(line, file=sys.stderr)
            failures.append(line)
    return failures


def run_in_workers_by_phase(base: DictConfig, runs: list[PlannedRun], workers: int, *,
                            progress: bool = True) -> list[str]:
    """`workers` processes, in two phases. Training: the evaluator (if not trained yet) and every
    run's training, side by side, since the evaluator is needed only to score (with one long
    evaluator first and the runs after it, no core waits while the other trains it). Scoring:
    the reference rows here (the real images' FID statistics, cached once, so no two workers
    write that cache), then every run whose training did not fail, in the workers (scored only:
    nothing is opened or loaded again for a training that is done). An evaluator that fails leaves the
    runs trained and unscored: the next `benchmark run` scores them."""
    from benchmark.run.evaluate import evaluator_ready
    from benchmark.run.sanity import reference_rows
    from benchmark.suite.workers import run_in_workers

    labelled = [(f"{r.variant} seed {r.seed}", job_payload(r.cfg)) for r in runs]
    evaluator = [] if evaluator_ready(base) else [("evaluator", ensure_evaluator_job, job_payload(base))]
    failed = run_in_workers([*evaluator, *((label, train_run, p) for label, p in labelled)], workers,
                            progress=progress, what="training")
    if "evaluator" in failed:
        return list(failed.values())
    reference_rows(base, progress=progress)
    scored = run_in_workers([(label, score_run, p) for label, p in labelled if label not in failed],
                            workers, progress=progress, what="scoring")
    return [*failed.values(), *scored.values()]


def suite_lock_path(base: DictConfig, suite: str, dataset: str) -> Path:
    return Path(base.store_dir) / "_suites" / f"{suite}-{dataset}.lock"


def prepare_store(base: DictConfig) -> None:
    check_store(Path(base.store_dir))


__all__ = ["execute_run", "train_run", "score_run", "ensure_evaluator_job", "runs_to_do", "run_local",
           "run_in_workers_by_phase", "suite_lock_path", "prepare_store", "exclusive"]

"""`benchmark status`: each planned run's state, read from the store and, for SLURM runs, the queue.

A run the store has not finished shows its SLURM state where a job holds it (pending, running,
requeued), and "unavailable" with the reason where its requirements cannot be had here. Also
the lines `status` and `run` print about the runs: which store was read, and run's last line.
"""
from __future__ import annotations

import os
from pathlib import Path


def status_rows(runs) -> list[dict]:
    """One row per planned run: its state as the store and SLURM see it, progress, job, error."""
    from benchmark.run.evaluate import evaluation_hash
    from benchmark.run.store import run_state
    from benchmark.suite.launcher import slurm_job_state
    from benchmark.suite.requirements import recorded_unavailable

    rows = []
    for run in runs:
        state = run_state(run.run_dir, evaluation_hash(run.cfg))
        job, slurm = slurm_job_state(run.run_dir)
        shown = state.state
        if slurm and not state.finished and state.state != "failed":
            shown = {"PENDING": "pending", "RUNNING": "running", "REQUEUED": "requeued",
                     "PREEMPTED": "requeued"}.get(slurm, shown)
        error = state.error
        if not state.finished and (reason := recorded_unavailable(run.run_dir)):
            shown, error = "unavailable", reason
        progress = f"{state.iteration}/{state.total}" if state.total else ""
        rows.append({"variant": run.variant, "seed": run.seed, "state": shown, "iteration": progress,
                     "slurm": f"{job} {slurm}" if job else "", "error": error or "",
                     "run_dir": str(run.run_dir)})
    return rows


def print_status(runs) -> list[dict]:
    """Print the rows as a markdown table (what `benchmark status` shows) and return them."""
    import pandas as pd

    rows = status_rows(runs)
    print(pd.DataFrame(rows).to_markdown(index=False))
    return rows


def store_line(base, overrides: list[str]) -> str:
    """Which store a command reads: absolute, with where the setting came from."""
    store = Path(base.store_dir).resolve()
    source = ("BENCHMARK_STORE" if os.environ.get("BENCHMARK_STORE") else
              "store_dir=" if any(o.startswith("store_dir=") for o in overrides) else
              "the default ./runs of this directory; set BENCHMARK_STORE or store_dir= for another")
    missing = "" if store.is_dir() else " — it does not exist: nothing has run with this store"
    return f"store: {store} (from {source}){missing}"


def run_summary(runs, unavailable: dict, *, strict: bool) -> str:
    """The last line of `benchmark run`: "6/7 done, 1 unavailable: feature_loss (reason)"."""
    from benchmark.run.evaluation_settings import evaluation_hash
    from benchmark.run.store import run_state

    done = sum(run_state(r.run_dir, evaluation_hash(r.cfg)).finished for r in runs)
    line = f"{done}/{len(runs)} done"
    if unavailable:
        reasons = {r.variant: unavailable[r.run_dir] for r in runs if r.run_dir in unavailable}
        line += f", {len(unavailable)} unavailable: " + "; ".join(f"{v} ({why})" for v, why in reasons.items())
        line += " (--strict: exit code 1)" if strict else " (not a failure; --strict makes it one)"
    return line

"""`benchmark status`: each planned run's state, read from the store and, for SLURM runs, the queue.

A run the store has not finished shows its SLURM state where a job holds it (pending, running,
requeued), and "unavailable" with the reason where its requirements cannot be had here.
"""
from __future__ import annotations


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

"""Which planned runs cannot run on this machine, known before anything trains.

A run is *unavailable* when something it needs from the world cannot be had here: today, a
baseline's pretrained feature weights that are neither on disk nor downloadable (the family's
`check_training_requirements` raises an error whose type name says `Unavailable`). That is a
known state of the machine, not a failure of the run: the suite runs the rest, the table says
"unavailable" with the reason, and the exit status stays 0 unless `--strict` asks for every row.
Any other error from the check (a wrong weights file, say) is bad input and stops the command.
"""
from __future__ import annotations

from pathlib import Path

from benchmark.model_registry import check_requirements
from benchmark.report.runs import UNAVAILABLE_ERROR
from benchmark.run.store import read_json, write_status
from benchmark.suite.plan import PlannedRun

UNAVAILABLE = "unavailable"


def unavailable_reason(run: PlannedRun) -> str | None:
    """"<ErrorType>: <one line>" when the run cannot train here; None when it can."""
    try:
        check_requirements(run.cfg)
    except Exception as exc:
        line = f"{type(exc).__name__}: {' '.join(str(exc).split())}"
        if UNAVAILABLE_ERROR.match(line):
            return line
        raise
    return None


def split_unavailable(runs: list[PlannedRun]) -> tuple[list[PlannedRun], dict[Path, str]]:
    """(the runs that can train here, {run_dir: reason} for those that cannot).

    The check runs once per variant (seeds share their requirements). Each unavailable run's
    status.json says so with the reason, for the report and `benchmark status`; it is checked
    again on the next `benchmark run`, so supplying the weights makes it runnable.
    """
    reasons: dict[str, str | None] = {}
    runnable, unavailable = [], {}
    for run in runs:
        if run.variant not in reasons:
            reasons[run.variant] = unavailable_reason(run)
        reason = reasons[run.variant]
        if reason is None:
            runnable.append(run)
            continue
        unavailable[run.run_dir] = reason
        run.run_dir.mkdir(parents=True, exist_ok=True)
        write_status(run.run_dir, UNAVAILABLE, error=reason)
    return runnable, unavailable


def recorded_unavailable(run_dir: Path) -> str | None:
    """The reason a run was found unavailable at its last check, or None."""
    status = read_json(Path(run_dir) / "status.json") or {}
    return str(status.get("error")) if status.get("state") == UNAVAILABLE else None


__all__ = ["UNAVAILABLE", "unavailable_reason", "split_unavailable", "recorded_unavailable"]

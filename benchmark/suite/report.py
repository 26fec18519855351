"""`benchmark report`: the suite's tables and plots from whatever runs are done.

Every table carries its provenance (command, commit, dataset, resolution, evaluator hash,
seeds, profile, precision, snapping rule, X/Y naming); the sanity rows (real photos through
the evaluator, snapped ground truth, real test vs real train, identity) come from the
evaluation's cached reference rows. A report with no finished run writes nothing: committed
tables are never replaced by empty ones.
"""
from __future__ import annotations

import hashlib
import json
import shlex
import sys
from datetime import datetime, timezone
from functools import partial
from pathlib import Path

from benchmark.config import directions_of
from benchmark.provenance import git_state, machine_description
from benchmark.report import load_reference, write_report
from benchmark.run.evaluate import evaluator_ready
from benchmark.run.evaluation_settings import evaluation_hash
from benchmark.run.samples import report_sample_rows
from benchmark.run.sanity import reference_rows
from benchmark.run.store import read_json, run_state
from benchmark.suite.plan import load_suite, plan, suite_reference, table_specs
from benchmark.suite.requirements import recorded_unavailable


def _fingerprint(done, failed, provenance: dict, reference) -> str:
    """What the report is made of: the finished runs' metrics files, the failures, the code,
    the settings."""
    parts = [(str(r.run_dir), (r.run_dir / "metrics.json").stat().st_mtime_ns) for r in done]
    keys = {k: v for k, v in provenance.items() if k not in ("command", "generated_at")}
    blob = json.dumps({"runs": parts, "failed": failed, "provenance": keys,
                       "reference": reference}, sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def _file_digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()[:12]


def results_dir(base, suite: str, dataset: str) -> Path:
    return Path(base.results_dir) / suite / dataset


def _iterations(base) -> str:
    trainer = base.trainer
    if trainer.get("epochs"):
        return f"{trainer.epochs} + {trainer.get('decay_epochs') or 0} decay epochs"
    return str(trainer.iterations)


def _paper_protocol(base) -> str:
    size = base.dataset.get("paper_size")
    return (f"{size}² training and scoring, " if size else "") + \
        "200 epochs (100 + 100 decaying), 64 filters"


def _sanity_rows(base, progress: bool) -> dict | None:
    """The evaluation's reference rows (benchmark.run.sanity.reference_rows) where they can be
    had without training an evaluator the suite has not trained yet."""
    if not evaluator_ready(base):
        return None
    return reference_rows(base, progress=progress) or None


class ReportDatasetError(ValueError):
    """A report folder made from another dataset of the same name."""


def dataset_provenance(base) -> dict:
    """The dataset a report is made from: its root and content fingerprint (file-based sources;
    the synthetic scenes are named by their settings, already in the provenance's configs)."""
    from benchmark.data.fingerprint import dataset_fingerprint, dataset_root, has_files

    if not has_files(base.dataset):
        return {}
    return {"dataset_root": str(dataset_root(base.dataset)), "dataset_fingerprint": dataset_fingerprint(base.dataset)}


def check_report_dataset(out: Path, previous: dict, current: dict) -> None:
    """Refuse to replace a report made from another dataset of the same name, naming both roots:
    results/<suite>/<dataset.name>/ would silently hold the other folder's tables."""
    before, now = previous.get("dataset_fingerprint"), current.get("dataset_fingerprint")
    if before and now and before != now:
        raise ReportDatasetError(
            f"{out} was made from dataset {previous.get('dataset')} at {previous.get('dataset_root')} "
            f"(fingerprint {before}), not from {current.get('dataset_root')} (fingerprint {now}): pass "
            "results_dir= for this dataset's report, or delete that folder to replace it")


def report_suite(suite_name: str, dataset: str, overrides: list[str], *,
                 command: str | None = None, progress: bool = True,
                 force: bool = False) -> dict:
    """Write the suite's report; skipped (up_to_date) when nothing it is made from changed.

    Returns {"out_dir", "files", "done", "failed", "planned"} plus "up_to_date": True when
    skipped, or "written": False when no run has finished (nothing is written then, and the
    folder's committed files are left as they are).
    """
    base, runs = plan(suite_name, dataset, overrides)
    suite = load_suite(suite_name)
    states = {r.run_dir: run_state(r.run_dir, evaluation_hash(r.cfg)) for r in runs}
    done = [r for r in runs if states[r.run_dir].finished]
    failed = [r for r in runs if states[r.run_dir].state == "failed"]
    unavailable = {r.run_dir: reason for r in runs if not states[r.run_dir].finished
                   and (reason := recorded_unavailable(r.run_dir))}
    out = results_dir(base, suite_name, dataset)
    summary = {"out_dir": out, "files": {}, "done": len(done), "failed": len(failed),
               "unavailable": len(unavailable), "planned": len(runs)}
    if not done:
        return {**summary, "written": False}
    evaluations = [(read_json(r.run_dir / "metrics.json") or {}).get("evaluation", {})
                   for r in done]
    evaluator_hashes = sorted({e.get("evaluator_hash") or "" for e in evaluations} - {""})
    snap_rules = sorted({str(e["snap_rule"]) for e in evaluations if e.get("snap_rule")})
    reference = _sanity_rows(base, progress)
    paper_file = suite_reference(suite_name)
    git = git_state()
    provenance = {
        "command": command or " ".join(shlex.quote(a) for a in ["benchmark", *sys.argv[1:]]),
        "commit": git["commit"], "dirty": git["dirty"], "machine": machine_description(),
        "suite": suite_name, "dataset": dataset,
        "resolution": int(base.evaluation.resolution), "train_resolution": int(base.data.crop_size),
        "iterations": _iterations(base), "paper_protocol": _paper_protocol(base),
        "precision": str(base.trainer.get("precision", "fp32")),
        "snap_rule": ", ".join(snap_rules) or base.evaluation.get("snap_rule"),
        "evaluator_hash": ", ".join(evaluator_hashes) or None, "seeds": int(base.seeds),
        "profile": base.profile, "x_domain": base.dataset.x_domain,
        "y_domain": directions_of(base)["X2Y"].split("2", 1)[1],
        "runs_done": f"{len(done)}/{len(runs)}",
        "runs_failed": {f"{r.variant}/seed{r.seed}": states[r.run_dir].error for r in failed},
        "runs_unavailable": {f"{r.variant}/seed{r.seed}": unavailable[r.run_dir] for r in runs
                             if r.run_dir in unavailable},
        "config_hashes": {f"{r.variant}/seed{r.seed}": r.config_hash for r in runs},
        **dataset_provenance(base),
        # a suite's own file of published numbers: named with its content hash, so an edit to it
        # changes the fingerprint below and the report is written again
        **({"paper_reference": f"{paper_file.name} (sha256 {_file_digest(paper_file)})"} if paper_file else {}),
        "generated_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }
    provenance["inputs_fingerprint"] = _fingerprint(
        done, {**provenance["runs_failed"], **provenance["runs_unavailable"]}, provenance, reference)
    previous = read_json(out / "provenance.json") or {}
    check_report_dataset(out, previous, provenance)
    if not force and previous.get("inputs_fingerprint") == provenance["inputs_fingerprint"]:
        return {**summary, "up_to_date": True}
    records = [r.record() for r in done] + [
        {**r.record(), "state": "failed", "error": states[r.run_dir].error} for r in failed] + [
        # an unavailable run is a failure whose error type says "Unavailable": the tables show
        # "unavailable" with the reason (benchmark/report/runs.py)
        {**r.record(), "state": "failed", "error": unavailable[r.run_dir]} for r in runs
        if r.run_dir in unavailable]
    files = write_report(table_specs(suite, base), records, out, provenance,
                         reference_rows=reference,
                         sample_sources=partial(report_sample_rows, base),
                         reference=load_reference(paper_file) if paper_file else None)
    return {**summary, "files": files}


def nothing_to_report(result: dict) -> str:
    """The one line `benchmark report`/`run` print when no run has finished."""
    failed = f", {result['failed']} failed" if result.get("failed") else ""
    return (f"nothing to report: 0/{result['planned']} runs finished{failed}; committed files "
            f"in {result['out_dir']} left as they are")

"""`benchmark report`: the suite's tables and plots from whatever runs are done.

Every table carries its provenance (command, commit, dataset, resolution, evaluator hash,
seeds, profile, X/Y naming); the real-photo row comes from the evaluator's cached score.
"""
from __future__ import annotations

import hashlib
import json
import shlex
import sys
from datetime import datetime, timezone
from pathlib import Path

from benchmark.evaluate import evaluation_hash, evaluator_dir, has_segmentation, reference_rows
from benchmark.provenance import git_state, machine_description
from benchmark.report import write_report
from benchmark.store import read_json, run_state
from benchmark.suites import directions_of, load_suite, plan, table_specs


def _fingerprint(done, provenance: dict, reference) -> str:
    """What the report is made of: the finished runs' metrics files, the code, the settings."""
    parts = [(str(r.run_dir), (r.run_dir / "metrics.json").stat().st_mtime_ns) for r in done]
    keys = {k: v for k, v in provenance.items() if k not in ("command", "generated_at")}
    blob = json.dumps({"runs": parts, "provenance": keys, "reference": reference}, sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def results_dir(base, suite: str, dataset: str) -> Path:
    return Path(base.results_dir) / suite / dataset


def report_suite(suite_name: str, dataset: str, overrides: list[str], *, command: str | None = None,
                 progress: bool = True, force: bool = False) -> dict:
    """Write the suite's report; skipped (up_to_date) when nothing it is made from changed."""
    base, runs = plan(suite_name, dataset, overrides)
    suite = load_suite(suite_name)
    done = [r for r in runs if run_state(r.run_dir, evaluation_hash(r.cfg)).finished]
    evaluator_hashes = sorted({(read_json(r.run_dir / "metrics.json") or {}).get("evaluation", {})
                               .get("evaluator_hash") or "" for r in done} - {""})
    reference = None
    if has_segmentation(base) and (base.evaluation.segmenter.checkpoint
                                   or (evaluator_dir(base) / "segmenter.pt").is_file()):
        reference = reference_rows(base, progress=progress).get("real_photos")
    git = git_state()
    provenance = {
        "command": command or " ".join(shlex.quote(a) for a in ["benchmark", *sys.argv[1:]]),
        "commit": git["commit"], "dirty": git["dirty"], "machine": machine_description(), "suite": suite_name, "dataset": dataset,
        "resolution": int(base.evaluation.resolution), "train_resolution": int(base.data.crop_size),
        "evaluator_hash": ", ".join(evaluator_hashes) or None, "seeds": int(base.seeds),
        "profile": base.profile, "x_domain": base.dataset.x_domain,
        "y_domain": directions_of(base)["X2Y"].split("2", 1)[1],
        "runs_done": f"{len(done)}/{len(runs)}",
        "config_hashes": {f"{r.variant}/seed{r.seed}": r.config_hash for r in runs},
        "generated_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }
    out = results_dir(base, suite_name, dataset)
    provenance["inputs_fingerprint"] = _fingerprint(done, provenance, reference)
    previous = read_json(out / "provenance.json") or {}
    if not force and previous.get("inputs_fingerprint") == provenance["inputs_fingerprint"]:
        return {"out_dir": out, "files": {}, "done": len(done), "planned": len(runs), "up_to_date": True}
    files = write_report(table_specs(suite, base), [r.record() for r in done], out, provenance,
                         reference_rows=reference)
    return {"out_dir": out, "files": files, "done": len(done), "planned": len(runs)}

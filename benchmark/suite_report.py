"""`benchmark report`: the suite's tables and plots from whatever runs are done.

Every table carries its provenance (command, commit, dataset, resolution, evaluator hash,
seeds, profile, X/Y naming); the real-photo row comes from the evaluator's cached score.
"""
from __future__ import annotations

import shlex
import sys
from datetime import datetime, timezone
from pathlib import Path

from benchmark.evaluate import evaluation_hash, evaluator_dir, has_segmentation, reference_rows
from benchmark.provenance import git_state
from benchmark.report import write_report
from benchmark.store import read_json, run_state
from benchmark.suites import directions_of, load_suite, plan, table_specs


def results_dir(base, suite: str, dataset: str) -> Path:
    return Path(base.results_dir) / suite / dataset


def report_suite(suite_name: str, dataset: str, overrides: list[str], *, command: str | None = None,
                 progress: bool = True) -> dict:
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
        "commit": git["commit"], "dirty": git["dirty"], "suite": suite_name, "dataset": dataset,
        "resolution": int(base.evaluation.resolution), "train_resolution": int(base.data.crop_size),
        "evaluator_hash": ", ".join(evaluator_hashes) or None, "seeds": int(base.seeds),
        "profile": base.profile, "x_domain": base.dataset.x_domain,
        "y_domain": directions_of(base)["X2Y"].split("2", 1)[1],
        "runs_done": f"{len(done)}/{len(runs)}",
        "config_hashes": {f"{r.variant}/seed{r.seed}": r.config_hash for r in runs},
        "generated_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }
    out = results_dir(base, suite_name, dataset)
    files = write_report(table_specs(suite, base), [r.record() for r in done], out, provenance,
                         reference_rows=reference)
    return {"out_dir": out, "files": files, "done": len(done), "planned": len(runs)}

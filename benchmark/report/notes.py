"""The notes under every table: what a cell shows, where each number comes from, and why a
row or a value is missing.

Why in their own module: the notes are where the report is honest — a reduced profile says
"not the paper's numbers", an AMT column says it is a different measure, every
failed or unavailable row gives its reason, and the evaluation settings (snapping rule,
evaluator, FID weights) are stated — so they are written in one place and read like prose.
"""
from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from benchmark.report.reference import PaperReference
from benchmark.report.runs import (
    FAILED,
    KID_SPREAD,
    METRICS,
    NOT_AVAILABLE,
    PENDING,
    UNAVAILABLE,
    LoadedRun,
    TableSpec,
    direction_label,
    sanity_name,
)
from benchmark.report.significance import TableStats

PAPER_LABELS = {"amt_fooled_pct": "AMT % fooled"}


def reduced_profile(provenance: Mapping[str, Any]) -> bool:
    """True unless the runs used the paper's protocol (profile=paper)."""
    return str(provenance.get("profile")) != "paper"


SANITY_NOTES = {
    "real_photos": "the suite's segmentation evaluator (LR-ASPP MobileNetV3, trained here) on the "
                   "real test photos: the ceiling of a generated photo's segmentation score.",
    "ground_truth_labels": "the ground-truth colour label maps snapped and scored like a generated "
                           "one: a pipeline check (exact palette colours snap back losslessly, so "
                           "1.000 says labels are read and snapped correctly), not a ceiling — "
                           "generated maps carry off-palette colours (off_palette_fraction in "
                           "scores_long.csv) that the ground truth does not.",
    "majority_class": "every pixel predicted as the test labels' most frequent class: the floor of "
                      "a segmentation score, what a model that learned nothing of the layout gets.",
    "other_scene": "each test scene scored against the real image of another test scene (the one "
                   "half the test set away): a perfect image of the target domain that ignores "
                   "its input. The evaluator knows where streets usually have road, sky and "
                   "buildings, so any street-like output scores well above the majority class; "
                   "only a score above this row shows something of each input's own layout.",
    "fid_floor": "the real test images against real training images, same FID/KID "
                 "pipeline: the floor a model can reach.",
    "identity": "the input images themselves, unchanged, scored as outputs: what doing "
                "nothing scores.",
}


def profile_note(provenance: Mapping[str, Any], claims: bool = True) -> str:
    """The note every table from a reduced profile carries: values are not the paper's.
    `claims`: whether the report has a claims table to point to."""
    profile = provenance.get("profile") or "not recorded"
    parts = []
    if provenance.get("train_resolution"):
        parts.append(f"training at {provenance['train_resolution']}²")
    if provenance.get("iterations"):
        parts.append(f"{provenance['iterations']} iterations")
    ours = ", ".join(parts) or "reduced settings"
    paper = provenance.get("paper_protocol") or "128²/256², 200 epochs (100 + 100 decay)"
    return (f"Reduced profile `{profile}` ({ours}; the paper: {paper}): these are not "
            "reproduced numbers, and the paper's ordering of the rows is a claim to test, not "
            "something to read off: "
            + ("claims.md gives each claim's verdict from the seeds." if claims
               else "the intervals and marks, from the seeds, say which differences hold."))


def table_notes(spec: TableSpec, runs: Sequence[LoadedRun], provenance: Mapping[str, Any],
                reference: PaperReference, paper_metrics: Sequence[str],
                unavailable: Mapping[str, set[str]], not_provided: Sequence[str],
                show_fid_anchor: bool, kid_subsets: str, sanity_labels: Mapping[str, str],
                stats: TableStats | None, claims: bool = True) -> list[str]:
    """The notes of one table, in reading order: what a cell shows, whether the numbers are
    the paper's protocol, the intervals and test, the paper columns, the sanity rows, why a
    value is missing, and the evaluation settings every row shares."""
    notes = ["Cells: mean ± sample std (ddof=1) over seeds; a single seed shows its value "
             f"alone. {PENDING} = pending (no finished run yet); {FAILED} = the run gave up "
             f"(error below); {UNAVAILABLE} = cannot be computed here (reason below); "
             f"{NOT_AVAILABLE} = not produced."]
    if reduced_profile(provenance):
        notes.append(profile_note(provenance, claims))
    if stats is not None:
        notes += stats.notes()
    if spec.paper_table and not paper_metrics:
        table = reference.table(spec.paper_table)
        notes.append(f"No paper columns: {table.title.split(':')[0]} of {reference.cite} "
                     f"reports {', '.join(map(direction_label, table.directions))} on "
                     f"{table.dataset}, not {direction_label(spec.direction)}.")
    if paper_metrics:
        table = reference.table(spec.paper_table)
        notes.append(f"paper = {table.title} of {reference.cite}.")  # its protocol is in the title
        if "fid" in paper_metrics:
            notes.append("The paper's FID comes from its own tool, resolution, test set size and "
                         "training length: context for ours, not a target.")
        if set(paper_metrics).isdisjoint(METRICS):
            notes.append(f"The paper's {', '.join(PAPER_LABELS.get(m, m) for m in paper_metrics)}"
                         " is a human perceptual study (Amazon Mechanical Turk) that software "
                         "cannot rerun; FID/KID here are automatic distances to the real test "
                         "images: a different measure, shown beside it, not comparable in value.")
        dataset = provenance.get("dataset")
        if dataset and str(dataset) != table.dataset:
            notes.append(f"The paper's numbers are for {table.dataset}; these runs are on "
                         f"{dataset}: the paper column is context, not a target; whether its "
                         "ordering of the rows holds here is for the seeds to say"
                         + (" (claims.md)." if claims else "."))
    keys = {sanity_name(k): k for k in SANITY_NOTES}
    for label, what in sanity_labels.items():
        key = keys.get(label)
        text = SANITY_NOTES[key] if key else "a reference row of the evaluation pipeline."
        if key == "real_photos" and reference.real_photos:  # the paper's own ceiling row, if any
            text += (f" Paper column: {reference.real_photos.source}; another network (FCN-8s) "
                     "at another resolution, shown as context.")
        notes.append(f"{label}: {text}" + (f" Here: {what}." if what else ""))
    if show_fid_anchor:
        anchors = reference.fid_anchors
        notes.append(f"FID (CUT, 2020): {anchors.source}, {anchors.protocol}; a different "
                     "tool and resolution than ours, so context rather than a target.")
    if kid_subsets:
        notes.append(f"{KID_SPREAD}: the sd of KID over random {kid_subsets} "
                     "(torch-fidelity), averaged over seeds; the ± in the KID cell is over "
                     "seeds.")
    for label, reasons in sorted(unavailable.items()):
        notes.append(f"{label} {UNAVAILABLE}: " + "; ".join(sorted(reasons)))
    if not_provided:
        notes.append(f"{NOT_AVAILABLE} rows ({', '.join(not_provided)}): the model does not "
                     f"translate {direction_label(spec.direction)}.")
    evaluations = {json.dumps(r.metrics.get("evaluation", {}), sort_keys=True, default=str)
                   for r in runs if r.metrics is not None and r.variant in spec.rows
                   and r.direction(spec.direction) is not None}
    if len(evaluations) == 1:
        evaluation = json.loads(evaluations.pop())
        evaluation.pop("class_names", None)  # listed in per_class_iou.*
        if evaluation:
            notes.append("Evaluation: " + ", ".join(f"{k}={v}" for k, v in evaluation.items()))
    elif len(evaluations) > 1:
        hashes = sorted({str(json.loads(e).get("evaluation_hash") or
                             json.loads(e).get("evaluator_hash", "?")) for e in evaluations})
        notes.append("WARNING: the runs were scored with different evaluation settings "
                     f"(evaluation hashes {', '.join(hashes)}); rows may not be "
                     "comparable; re-evaluate them with one evaluator.")
    return notes

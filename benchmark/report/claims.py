"""The claims table: each of the paper's claims, per table and score, with a verdict.

A reader of an ablation table wants to know which of the paper's statements these runs
support. `benchmark/reference/claims_2017.yaml` lists them (variant, expected side of
CycleGAN, paper tables); this module joins them with the recipe-level comparisons the tables
already computed (benchmark/report/statistics.py: seeds are the unit, test images added in)
and gives each row a verdict from its 95% recipe interval of Δ = variant − CycleGAN:

* holds: the interval excludes 0 on the claimed side;
* contradicted: the interval excludes 0 on the other side;
* inconclusive: it contains 0;
* no statement: fewer than 2 seeds on a side, or a run missing.

Beside it: P(improvement) over seed pairs, Holm's p over the table's family, the seeds, and
the seeds per recipe a two-sided Welch test would need for 80% power against the observed Δ
(a pilot estimate from 2-4 degrees of freedom).
"""
from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from benchmark.report.reference import PaperReference
from benchmark.report.runs import METRICS, atomic_write_text, direction_label
from benchmark.report.significance import TableStats
from benchmark.report.writers import header_lines, markdown, markdown_comment

CLAIMS_FILE = Path(__file__).resolve().parents[1] / "reference" / "claims_2017.yaml"
VERDICTS = ("holds", "contradicted", "inconclusive", "no statement")
COLUMNS = ["claim", "text", "source", "variant", "method", "table", "direction", "metric", "expect",
           "diff", "ci_low", "ci_high", "p_improvement", "p_holm", "n_seeds", "n_reference_seeds",
           "seeds_needed", "verdict"]


@dataclass(frozen=True)
class Claim:
    id: str
    text: str
    source: str
    variant: str
    expect: str  # "higher" | "lower" than the reference variant
    tables: tuple[str, ...]


@lru_cache(maxsize=4)
def load_claims(path: Path = CLAIMS_FILE) -> tuple[str, tuple[Claim, ...]]:
    """(reference variant, claims) from the claims file; a malformed entry is named."""
    raw = yaml.safe_load(Path(path).read_text())
    claims = []
    for i, entry in enumerate(raw.get("claims") or []):
        missing = [k for k in ("id", "text", "source", "variant", "expect", "tables") if k not in entry]
        if missing or entry.get("expect") not in ("higher", "lower"):
            raise ValueError(f"{path}: claim {i} ({entry.get('id', '?')}) needs id, text, source, variant, "
                             f"expect (higher | lower) and tables; missing or wrong: {missing or ['expect']}")
        claims.append(Claim(entry["id"], entry["text"], entry["source"], entry["variant"], entry["expect"],
                            tuple(entry["tables"])))
    return str(raw.get("reference_variant", "cyclegan")), tuple(claims)


def verdict(expect: str, low: float, high: float) -> str:
    """holds / contradicted / inconclusive from the interval of Δ; no statement without one."""
    if not (math.isfinite(low) and math.isfinite(high)):
        return "no statement"
    claimed_side = high < 0 if expect == "lower" else low > 0
    other_side = low > 0 if expect == "lower" else high < 0
    return "holds" if claimed_side else "contradicted" if other_side else "inconclusive"


def claims_frame(stats: Mapping[str, TableStats | None], reference: PaperReference) -> pd.DataFrame:
    """One row per claim x table x score present in these tables' comparisons."""
    _, claims = load_claims()
    by_paper_table = {s.spec.paper_table: s for s in stats.values() if s is not None and s.spec.paper_table}
    rows = []
    for claim in claims:
        for table in claim.tables:
            table_stats = by_paper_table.get(table)
            if table_stats is None or claim.variant not in table_stats.spec.rows:
                continue
            frame = table_stats.comparisons
            for _, c in frame[frame.variant == claim.variant].iterrows():
                n = int(c.get("n_seeds", 0) or 0)
                rows.append({
                    "claim": claim.id, "text": claim.text, "source": claim.source, "variant": claim.variant,
                    "method": reference.display_name(claim.variant), "table": table,
                    "direction": table_stats.spec.direction, "metric": c.metric, "expect": claim.expect,
                    "diff": c["diff"], "ci_low": c.ci_low, "ci_high": c.ci_high,
                    "p_improvement": c.get("p_improvement", math.nan), "p_holm": c.p_holm, "n_seeds": n,
                    "n_reference_seeds": int(c.get("n_reference_seeds", 0) or 0),
                    "seeds_needed": c.get("seeds_needed"),
                    "verdict": verdict(claim.expect, float(c.ci_low), float(c.ci_high))})
    return pd.DataFrame(rows, columns=COLUMNS)


def _fmt(value: Any, decimals: int = 3) -> str:
    try:
        value = float(value)
    except (TypeError, ValueError):
        return "—"
    return "—" if not math.isfinite(value) else f"{value:+.{decimals}f}" if decimals == 3 else f"{value:.{decimals}f}"


def _display(frame: pd.DataFrame) -> pd.DataFrame:
    """The Markdown view: one readable line per claim x table x score."""
    def needed(row) -> str:
        n = row.seeds_needed
        return "—" if n is None or pd.isna(n) else f"{int(n)}"

    return pd.DataFrame({
        "claim": [f"{r.text}" for r in frame.itertuples()],
        "direction": [direction_label(d) for d in frame.direction],
        "score": [METRICS.get(m, (m,))[0] for m in frame.metric],
        "claimed": ["Δ < 0" if e == "lower" else "Δ > 0" for e in frame.expect],
        "Δ [95% recipe interval]": [f"{_fmt(r.diff)} [{_fmt(r.ci_low)}, {_fmt(r.ci_high)}]"
                                    for r in frame.itertuples()],
        "P(improvement)": [_fmt(p, 2) for p in frame.p_improvement],
        "p_holm": [_fmt(p, 3).lstrip("+") for p in frame.p_holm],
        "seeds": [f"{r.n_seeds} vs {r.n_reference_seeds}" for r in frame.itertuples()],
        "seeds for 80% power": [needed(r) for r in frame.itertuples()],
        "verdict": [f"**{v}**" for v in frame.verdict],
    })


def claims_notes(frame: pd.DataFrame, reference_variant: str) -> list[str]:
    counts = frame.verdict.value_counts()
    tally = ", ".join(f"{int(counts.get(v, 0))} {v}" for v in VERDICTS if counts.get(v, 0))
    return [
        f"Δ = the variant's mean score − {reference_variant}'s, over seeds; the interval is the 95% "
        "interval for the difference of the training recipes (seeds are the unit, the test-image "
        "variance is added; see the tables' notes). holds = it excludes 0 on the claimed side; "
        "contradicted = it excludes 0 on the other side; inconclusive = it contains 0; no statement = "
        "fewer than 2 seeds on a side.",
        "P(improvement) = the share of (variant seed, CycleGAN seed) pairs in which the variant's seed "
        "scores higher (ties count ½). p_holm: Welch's test, Holm-corrected over the table's family.",
        "seeds for 80% power: seeds per recipe at which a two-sided Welch test at α = 0.05 detects the "
        "observed Δ 80% of the time, taking the observed seed sds as true. From 2-4 degrees of freedom "
        "this is a pilot estimate: the sds themselves are uncertain by a factor of 2 or more. "
        "`benchmark plan seeds` prints it with the cost.",
        f"Verdicts: {tally or 'none'}. {_multiplicity(frame)}",
    ]


def _multiplicity(frame: pd.DataFrame) -> str:
    """Why a reader should not count the verdicts as discoveries: each reads its own interval."""
    decided = frame[frame.verdict.isin(["holds", "contradicted"])]
    tested = frame[frame.verdict != "no statement"]
    if tested.empty:
        return ""
    survive = int((decided.p_holm < 0.05).sum())
    return (f"Each verdict reads its own 95% interval, unadjusted for the {len(tested)} claims tested "
            f"here: if no recipe differed, about {0.05 * len(tested):.1f} of them would still come out "
            f"holds or contradicted. Of the {len(decided)} that did, {survive} also survive Holm's "
            "correction over their table's family (p_holm < 0.05).")


def write_claims(stats: Mapping[str, TableStats | None], out_dir: Path, provenance: Mapping[str, Any],
                 reference: PaperReference) -> list[Path]:
    """claims.md and claims.csv, or nothing where no claim's variant is in these tables."""
    frame = claims_frame(stats, reference)
    if frame.empty:
        return []
    reference_variant, _ = load_claims()
    title = f"Claims of {reference.cite}, tested on these runs"
    notes = claims_notes(frame, reference_variant)
    heading = f"### {title}"
    if provenance.get("profile") not in (None, "paper"):
        heading += f" — reduced profile `{provenance.get('profile')}`: a verdict is about this budget"
    md = "\n".join([markdown_comment(header_lines(title, provenance)), heading, "",
                    markdown(_display(frame)), "", *[f"* {n}" for n in notes], ""])
    return [atomic_write_text(Path(out_dir) / "claims.md", md),
            atomic_write_text(Path(out_dir) / "claims.csv", frame.to_csv(index=False))]

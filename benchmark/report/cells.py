"""One table cell's text: mean ± seed sd, the recipe interval, and its marks.

Why a module of its own: the same cell text goes into Markdown, LaTeX and the results page,
and what each mark means (▲/▼ from the seed-level test, "≥ identity" for FID/KID no better
than the untranslated input, "≤ majority class" and "≤ layout-blind" for a segmentation score at
one of the floors) is stated once, here, with the note a table prints when it uses the mark.
"""
from __future__ import annotations

import math
from collections.abc import Sequence

import pandas as pd

from benchmark.report.runs import NOT_AVAILABLE


def mean_std(values: Sequence[float]) -> tuple[float, float]:
    series = pd.Series(values, dtype=float)
    return float(series.mean()), float(series.std(ddof=1)) if len(series) > 1 else math.nan


def format_mean_std(values: Sequence[float], decimals: int, pm: str = " ± ") -> str:
    """'0.523 ± 0.012' over seeds (sample std); one seed prints its value alone."""
    if not values:
        return NOT_AVAILABLE
    mean, std = mean_std(values)
    if len(values) == 1:
        return f"{mean:.{decimals}f}"
    return f"{mean:.{decimals}f}{pm}{std:.{decimals}f}"


#: A cell's floor/layout-blind/identity mark as (Markdown/HTML, LaTeX) text, appended after its interval.
ROW_MARKS = {
    "floor": (" (≤ majority class)", r" ($\leq$ majority class)"),
    "identity": (" (≥ identity)", r" ($\geq$ identity)"),
    "layout_blind": (" (≤ layout-blind)", r" ($\leq$ layout-blind)"),
}
#: What a cell's floor/layout-blind/identity mark says, noted under a table that uses it.
MARK_NOTES = {
    "floor": "(≤ majority class) = the recipe's mean segmentation score is at or below the "
             "majority-class row's: no more of the layout than painting every pixel as the "
             "commonest class.",
    "layout_blind": "(≤ layout-blind) = the recipe's mean segmentation score is at or below the "
                    "layout-blind row's (another scene's real image): no more agreement with "
                    "each input's own layout than an output that ignores the input.",
    "identity": "(≥ identity) = the recipe's mean FID/KID is at or above the identity row's: no "
                "closer to the real images than the untranslated input.",
}


def cell(values: Sequence[float], decimals: int, interval, mark: str, latex: bool = False) -> str:
    """mean ± seed sd, then the recipe interval [lo, hi], then the mark (▲/▼, or ≥ identity)."""
    text = format_mean_std(values, decimals, r" $\pm$ " if latex else " ± ")
    if interval is not None and math.isfinite(interval.ci_low):
        text += f" [{interval.ci_low:.{decimals}f}, {interval.ci_high:.{decimals}f}]"
    return text + mark

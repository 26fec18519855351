"""Report-facing statistics: recipe intervals per variant and recipe tests against CycleGAN.

From finished runs (objects with .variant, .seed, .run_dir, .metrics — the report's LoadedRun)
and one direction, two tidy frames the report renders. Both speak of training recipes, so
seeds are their unit and the test images' variation is added in
(evaluation/recipe_statistics.py says how):

* `interval_frame`: per variant x metric, the seed-mean whole-set score, the seed sd and the
  recipe interval (t interval with the image-bootstrap variance added; two-level bootstrap
  from 10 seeds), with n_images/n_seeds/n_resamples and the method.
* `comparison_frame`: per variant x metric, the difference from the reference variant (full
  CycleGAN by default), its recipe interval, the seed-level p (Welch; two-level bootstrap from
  10 seeds), Holm's adjusted p over the table's family (every variant but the reference x the
  three scores, fixed by the table's rows before any data), `significant`, which way it
  points (`better`), the probability of improvement over seed pairs and the seeds per recipe a
  two-sided Welch test would need for 80% power against the observed difference. Beside them,
  under names that say what they test, the image-level sign-flip test with the models held
  fixed (`checkpoints_*`): "these checkpoints differ on this test set". It marks no cell.

Both read the runs' per-image confusion matrices (benchmark/run/per_image.py), so they need no
re-scoring. A variant whose runs lack those files gets rows of NaN with the reason in `note`,
never an exception: a report is written while a suite is still half done. Seed k of a variant is
paired with seed k of the reference; where the seed sets differ the intersection is used and
`note` says so. Images are matched by stem, and only images present in every run are used.
"""
from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

import numpy as np
import pandas as pd

from benchmark.run.per_image import PerImageError, read_per_image
from evaluation.metrics import SCORE_NAMES, SCORE_RANGE
from evaluation.recipe_statistics import TWO_LEVEL_MIN_SEEDS, recipe_difference, recipe_interval, seeds_for_power
from evaluation.statistics import (
    DEFAULT_CONFIDENCE,
    DEFAULT_PERMUTATIONS,
    DEFAULT_RESAMPLES,
    bootstrap_weights,
    holm,
    paired_comparison,
    resampled_seed_scores,
    seed_scores,
    sign_flips,
)

REFERENCE_VARIANT = "cyclegan"
ALPHA = 0.05
POWER = 0.8
INTERVAL_COLUMNS = ["direction", "variant", "metric", "value", "seed_std", "ci_low", "ci_high",
                    "image_sd", "interval", "n_images", "n_seeds", "seeds", "n_resamples", "confidence",
                    "note"]
COMPARISON_COLUMNS = ["direction", "variant", "reference", "metric", "diff", "ci_low", "ci_high",
                      "p", "p_holm", "significant", "better", "p_improvement", "seeds_needed",
                      "test", "df", "family_size", "n_images", "n_seeds", "n_reference_seeds",
                      "seeds", "reference_seeds", "n_resamples", "confidence",
                      "checkpoints_diff_ci_low", "checkpoints_diff_ci_high", "checkpoints_p",
                      "checkpoints_p_holm", "n_permutations", "note"]


@dataclass
class VariantScores:
    """One variant's per-image counts in one direction, seeds sorted, images matched by stem."""

    variant: str
    seeds: tuple[int, ...]
    stems: tuple[str, ...]
    counts: dict[int, np.ndarray]  # seed -> (n_images, C, C + 1), rows in `stems` order
    note: str = ""
    _resampled: dict = field(default_factory=dict, repr=False)

    def stacked(self, seeds: Sequence[int], stems: Sequence[str]) -> np.ndarray:
        """(n_seeds, n_images, C, C + 1) of the given seeds and stems, in that order."""
        index = {s: i for i, s in enumerate(self.stems)}
        rows = [index[s] for s in stems]
        return np.stack([self.counts[k][rows] for k in seeds])

    def per_seed(self, stems: Sequence[str]) -> dict[str, np.ndarray]:
        """metric -> (n_seeds,): each seed's whole-set score over these stems."""
        return seed_scores(self.stacked(self.seeds, stems))

    def resampled(self, seeds: Sequence[int], stems: Sequence[str], n_resamples: int,
                  seed: int) -> dict[str, np.ndarray]:
        """metric -> (n_resamples, n_seeds): each seed's score under the table's image resamples,
        computed once per frame set (the interval table and every comparison reuse it)."""
        key = (tuple(seeds), tuple(stems), n_resamples, seed)
        if key not in self._resampled:
            self._resampled[key] = resampled_seed_scores(self.stacked(seeds, stems),
                                                         _weights(len(stems), n_resamples, seed))
        return self._resampled[key]


@lru_cache(maxsize=8)
def _weights(n_images: int, n_resamples: int, seed: int) -> np.ndarray:
    """The table's bootstrap resamples, drawn once: every variant and comparison of a direction
    uses the same image draws (deterministic, and the pairing the paired bootstrap needs)."""
    weights = bootstrap_weights(n_images, n_resamples, seed)
    weights.flags.writeable = False
    return weights


@lru_cache(maxsize=8)
def _flips(n_images: int, n_permutations: int, seed: int) -> np.ndarray:
    flips = sign_flips(n_images, n_permutations, seed)
    flips.flags.writeable = False
    return flips


def _seed_list(seeds: Iterable[int]) -> str:
    return ",".join(str(s) for s in seeds)


def _common_stems(stem_lists: Sequence[Sequence[str]]) -> tuple[str, ...]:
    """Stems present in every list, in the first list's order."""
    shared = set(stem_lists[0]).intersection(*map(set, stem_lists[1:]))
    return tuple(s for s in stem_lists[0] if s in shared)


def collect(runs: Iterable[Any], direction: str,
            variants: Sequence[str] | None = None) -> dict[str, VariantScores | str]:
    """variant -> its per-image scores, or the reason (a string) why there are none."""
    by_variant: dict[str, list[Any]] = {}
    for run in runs:
        by_variant.setdefault(run.variant, []).append(run)
    order = list(variants) if variants is not None else list(by_variant)
    out: dict[str, VariantScores | str] = {}
    for variant in order:
        runs_of = sorted(by_variant.get(variant, []), key=lambda r: r.seed)
        done = [r for r in runs_of if r.metrics is not None]
        scored = [r for r in done if r.direction(direction) is not None]
        if not done:
            out[variant] = "no finished run"
            continue
        if not scored:
            out[variant] = f"not scored in {direction}"
            continue
        loaded, problems = {}, []
        for run in scored:
            try:
                loaded[run.seed] = read_per_image(run.run_dir, direction, dict(run.metrics))
            except PerImageError as err:
                problems.append((run.seed, str(err)))
        if not loaded:
            out[variant] = f"no per-image scores (seed {problems[0][0]}: {problems[0][1]})"
            continue
        notes = []
        if problems:
            notes.append(f"seed(s) {_seed_list(s for s, _ in problems)} left out: no per-image scores")
        classes = {p.class_names for p in loaded.values()}
        if len(classes) > 1:
            out[variant] = "runs were scored with different class lists; re-score them alike"
            continue
        stems = _common_stems([p.stems for p in loaded.values()])
        if not stems:
            out[variant] = "its seeds share no scored test image"
            continue
        if any(len(p.stems) != len(stems) for p in loaded.values()):
            notes.append(f"{len(stems)} test images scored in every seed used")
        seeds = tuple(sorted(loaded))
        out[variant] = VariantScores(variant=variant, seeds=seeds, stems=stems,
                                     counts={k: loaded[k].select(stems) for k in seeds},
                                     note="; ".join(notes))
    return out


def interval_frame(runs: Iterable[Any], direction: str, *, variants: Sequence[str] | None = None,
                   n_resamples: int = DEFAULT_RESAMPLES, seed: int = 0,
                   confidence: float = DEFAULT_CONFIDENCE,
                   collected: dict[str, VariantScores | str] | None = None) -> pd.DataFrame:
    """Per variant x metric: seed-mean value, seed sd, the recipe interval and sizes."""
    collected = collected if collected is not None else collect(runs, direction, variants)
    rows = []
    for variant, scores in collected.items():
        if isinstance(scores, str):
            rows += [{"direction": direction, "variant": variant, "metric": m, "n_images": 0,
                      "n_seeds": 0, "seeds": "", "n_resamples": 0, "confidence": confidence,
                      "interval": "", "note": scores} for m in SCORE_NAMES]
            continue
        per_seed = scores.per_seed(scores.stems)
        resampled = scores.resampled(scores.seeds, scores.stems, n_resamples, seed)
        for m in SCORE_NAMES:
            iv = recipe_interval(per_seed[m], resampled[m], confidence=confidence, seed=seed,
                                 bounds=SCORE_RANGE)
            rows.append({"direction": direction, "variant": variant, "metric": m, "value": iv.mean,
                         "seed_std": iv.seed_sd, "ci_low": iv.low, "ci_high": iv.high,
                         "image_sd": iv.image_sd, "interval": iv.method, "n_images": len(scores.stems),
                         "n_seeds": iv.n_seeds, "seeds": _seed_list(scores.seeds),
                         "n_resamples": n_resamples, "confidence": confidence, "note": scores.note})
    return _typed(pd.DataFrame(rows, columns=INTERVAL_COLUMNS))


def _recipe_rows(scores: VariantScores, ref: VariantScores, base: dict, n_resamples: int, seed: int,
                 confidence: float) -> list[dict]:
    """The recipe-level comparison of every metric: all seeds of each, images paired by stem."""
    stems = _common_stems([scores.stems, ref.stems])
    if not stems:
        return [{**base, "metric": m, "note": f"no test image in common with {base['reference']}"}
                for m in SCORE_NAMES]
    a, b = scores.per_seed(stems), ref.per_seed(stems)
    boot_a = scores.resampled(scores.seeds, stems, n_resamples, seed)
    boot_b = ref.resampled(ref.seeds, stems, n_resamples, seed)
    rows = []
    for m in SCORE_NAMES:
        c = recipe_difference(a[m], boot_a[m], b[m], boot_b[m], confidence=confidence, seed=seed)
        sd_a = float(np.std(a[m], ddof=1)) if len(a[m]) > 1 else math.nan
        sd_b = float(np.std(b[m], ddof=1)) if len(b[m]) > 1 else math.nan
        rows.append({**base, "metric": m, "diff": c.diff, "ci_low": c.low, "ci_high": c.high, "p": c.p,
                     "better": c.diff > 0, "p_improvement": c.p_improvement,
                     "seeds_needed": seeds_for_power(c.diff, sd_a, sd_b, power=POWER),
                     "test": c.method, "df": c.df, "n_images": len(stems), "n_seeds": c.n_seeds,
                     "n_reference_seeds": c.n_reference_seeds, "seeds": _seed_list(scores.seeds),
                     "reference_seeds": _seed_list(ref.seeds), "n_resamples": n_resamples,
                     "note": scores.note})
    return rows


def _checkpoint_tests(scores: VariantScores, ref: VariantScores, reference: str, n_resamples: int,
                      n_permutations: int, seed: int, confidence: float) -> dict[str, dict]:
    """metric -> the image-level paired test's fields (models held fixed), or {} where the two
    share no seed number or image."""
    reason, seeds, stems, _ = _pairing(scores, ref, reference)
    if reason:
        return {}
    a, b = scores.stacked(seeds, stems), ref.stacked(seeds, stems)
    mean = {m: v.mean(axis=1) for m, v in scores.resampled(seeds, stems, n_resamples, seed).items()}
    ref_mean = {m: v.mean(axis=1) for m, v in ref.resampled(seeds, stems, n_resamples, seed).items()}
    result = paired_comparison(a, b, weights=_weights(len(stems), n_resamples, seed),
                               flips=_flips(len(stems), n_permutations, seed + 1),
                               confidence=confidence, resampled=(mean, ref_mean))
    return {m: {"checkpoints_diff_ci_low": c.ci_low, "checkpoints_diff_ci_high": c.ci_high,
                "checkpoints_p": c.p_value, "n_permutations": c.n_permutations} for m, c in result.items()}


def comparison_frame(runs: Iterable[Any], direction: str, *, reference: str = REFERENCE_VARIANT,
                     variants: Sequence[str] | None = None, n_resamples: int = DEFAULT_RESAMPLES,
                     n_permutations: int = DEFAULT_PERMUTATIONS, seed: int = 0,
                     confidence: float = DEFAULT_CONFIDENCE, alpha: float = ALPHA,
                     collected: dict[str, VariantScores | str] | None = None) -> pd.DataFrame:
    """Per variant (not the reference) x metric: the recipe-level comparison with the reference
    (module docstring), Holm over the table's family, and the image-level test beside it."""
    if collected is None:
        wanted = None if variants is None else list(dict.fromkeys([*variants, reference]))
        collected = collect(runs, direction, wanted)
    ref = collected.get(reference, "no finished run")
    family = [v for v in collected if v != reference]
    rows = []
    for variant in family:
        scores = collected[variant]
        base = {"direction": direction, "variant": variant, "reference": reference, "n_resamples": 0,
                "n_permutations": 0, "confidence": confidence, "family_size": len(family) * len(SCORE_NAMES)}
        reason = scores if isinstance(scores, str) else \
            (f"reference {reference}: {ref}" if isinstance(ref, str) else "")
        if reason:
            n_ref = 0 if isinstance(ref, str) else len(ref.seeds)  # the reference's seeds still count
            rows += [{**base, "metric": m, "n_images": 0, "n_seeds": 0, "seeds": "",
                      "n_reference_seeds": n_ref, "note": reason} for m in SCORE_NAMES]
            continue
        images = _checkpoint_tests(scores, ref, reference, n_resamples, n_permutations, seed, confidence)
        rows += [{**row, **images.get(row["metric"], {})}
                 for row in _recipe_rows(scores, ref, base, n_resamples, seed, confidence)]
    frame = _typed(pd.DataFrame(rows, columns=COMPARISON_COLUMNS))
    for p, adjusted in (("p", "p_holm"), ("checkpoints_p", "checkpoints_p_holm")):
        # Holm over the whole family fixed by the table's rows: a test that cannot be run (one
        # seed, a missing run) counts with p = 1, so the correction never shrinks with the data
        values = frame[p].astype(float).to_numpy()
        frame[adjusted] = holm(np.where(np.isnan(values), 1.0, values)) if len(frame) else values
        frame.loc[np.isnan(values), adjusted] = math.nan
    frame["significant"] = pd.array([pd.NA if math.isnan(p) else bool(p < alpha) for p in frame["p_holm"]],
                                    dtype="boolean")
    frame["better"] = pd.array([pd.NA if math.isnan(d) else bool(d > 0) for d in frame["diff"]], dtype="boolean")
    return frame


def statistics_frames(runs: Iterable[Any], direction: str, *, reference: str = REFERENCE_VARIANT,
                      variants: Sequence[str] | None = None, n_resamples: int = DEFAULT_RESAMPLES,
                      n_permutations: int = DEFAULT_PERMUTATIONS, seed: int = 0,
                      confidence: float = DEFAULT_CONFIDENCE,
                      alpha: float = ALPHA) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(interval_frame, comparison_frame) of one direction, reading each per-image file once."""
    runs = list(runs)
    wanted = None if variants is None else list(dict.fromkeys([*variants, reference]))
    collected = collect(runs, direction, wanted)
    shown = collected if variants is None else {v: collected[v] for v in variants}
    intervals = interval_frame(runs, direction, n_resamples=n_resamples, seed=seed,
                               confidence=confidence, collected=shown)
    comparisons = comparison_frame(runs, direction, reference=reference, n_resamples=n_resamples,
                                   n_permutations=n_permutations, seed=seed, confidence=confidence,
                                   alpha=alpha,
                                   collected={**shown, reference: collected.get(reference, "no finished run")})
    return intervals, comparisons


def interval_note(frame: pd.DataFrame) -> str:
    """The table note saying which interval a cell shows (from the frame's own sizes)."""
    done = frame[frame["n_resamples"] > 0]
    if done.empty:
        return "No per-image scores yet: no intervals."
    level = int(round(100 * float(done["confidence"].iloc[0])))
    n_images, n_resamples = int(done["n_images"].max()), int(done["n_resamples"].max())
    methods = set(done["interval"])
    parts = [f"± = sample sd over seeds; [low, high] = {level}% interval for the recipe's mean score "
             "(the training recipe, not these checkpoints): it counts both the seeds and the test images"]
    if "t" in methods:
        parts.append(f"under {TWO_LEVEL_MIN_SEEDS} seeds, a t interval (n − 1 degrees of freedom) whose "
                     "variance is the seed variance / n plus the variance of the seed-mean over "
                     f"{n_resamples} bootstrap resamples of the {n_images} test images (each re-sums the "
                     "confusion matrices)")
    if "two-level bootstrap" in methods:
        parts.append(f"from {TWO_LEVEL_MIN_SEEDS} seeds, a two-level bootstrap ({n_resamples} resamples: "
                     f"seeds within the variant, then the {n_images} test images)")
    if ((done["ci_low"] == SCORE_RANGE[0]) | (done["ci_high"] == SCORE_RANGE[1])).any():
        parts.append(f"an interval that would run past {SCORE_RANGE[0]:g} or {SCORE_RANGE[1]:g}, the range of "
                     "the scores, is cut there (few seeds spread as widely as their mean)")
    if "none (1 seed)" in methods:
        parts.append("a row with 1 seed has no interval: 1 seed makes no statement about the recipe")
    return "; ".join(parts) + "."


def comparison_note(frame: pd.DataFrame, alpha: float = ALPHA) -> str:
    """The note on the marks: test, correction and its family, and what the image test is."""
    done = frame[frame["p"].notna()]
    if done.empty:
        if (frame["n_seeds"] == 1).any() or (frame["n_reference_seeds"] == 1).any():
            return ("No marks: 1 seed per row makes no statement about the recipe (a seed-level test "
                    "needs at least 2 seeds of each recipe).")
        return "No recipe comparison possible yet (per-image scores missing)."
    reference = done["reference"].iloc[0]
    methods = " / ".join(sorted(set(done["test"])))
    variants = frame["variant"].nunique()
    return (f"▲ / ▼ = this recipe scores higher / lower than {reference}'s, significant after Holm's "
            f"correction (α = {alpha}) over a family fixed by the table's rows before any data: "
            f"{variants} variants × {len(SCORE_NAMES)} segmentation scores = {int(done['family_size'].iloc[0])} "
            f"tests against {reference}. Test: {methods} on the seed scores (seeds are the unit; the "
            "test-image variance is added), the same construction as the intervals. P(improvement), "
            "the seeds a decision needs and the image-level test (\"these checkpoints differ on this "
            "test set\", the trained models held fixed; it marks no cell) are in comparisons.csv.")


def _pairing(scores: VariantScores | str, ref: VariantScores | str, reference: str
             ) -> tuple[str, tuple[int, ...], tuple[str, ...], list[str]]:
    """(reason it cannot be compared or "", shared seeds, shared stems, notes)."""
    if isinstance(scores, str):
        return scores, (), (), []
    if isinstance(ref, str):
        return f"reference {reference}: {ref}", (), (), []
    seeds = tuple(sorted(set(scores.seeds) & set(ref.seeds)))
    if not seeds:
        return (f"no seed in common with {reference} (seeds {_seed_list(scores.seeds)} vs "
                f"{_seed_list(ref.seeds)})"), (), (), []
    notes = [n for n in (scores.note,) if n]
    if set(seeds) != set(scores.seeds) or set(seeds) != set(ref.seeds):
        notes.append(f"paired on the shared seeds {_seed_list(seeds)} (variant has "
                     f"{_seed_list(scores.seeds)}, {reference} has {_seed_list(ref.seeds)})")
    stems = _common_stems([scores.stems, ref.stems])
    if not stems:
        return f"no test image in common with {reference}", (), (), []
    if len(stems) != len(scores.stems) or len(stems) != len(ref.stems):
        notes.append(f"paired on the {len(stems)} test images both scored")
    return "", seeds, stems, notes


def _typed(frame: pd.DataFrame) -> pd.DataFrame:
    """Float columns as float (NaN where missing), counts as int, so CSV/plots see numbers."""
    for column in ("value", "seed_std", "diff", "ci_low", "ci_high", "p", "p_holm", "confidence",
                   "image_sd", "p_improvement", "df", "checkpoints_diff_ci_low", "checkpoints_diff_ci_high",
                   "checkpoints_p", "checkpoints_p_holm"):
        if column in frame:
            frame[column] = frame[column].astype(float)
    if "seeds_needed" in frame:
        frame["seeds_needed"] = frame["seeds_needed"].astype("Int64")
    for column in ("n_images", "n_seeds", "n_reference_seeds", "n_resamples", "n_permutations", "family_size"):
        if column in frame:
            frame[column] = frame[column].fillna(0).astype(int)
    for column in ("note", "interval", "test"):
        if column in frame:
            frame[column] = frame[column].astype(object).where(frame[column].notna(), "").astype(str)
    return frame

"""Report-facing statistics: intervals per variant and paired tests against the reference.

From finished runs (objects with .variant, .seed, .run_dir, .metrics — the report's LoadedRun)
and one direction, two tidy frames the report renders:

* `interval_frame`: per variant x metric, the seed-mean whole-set score, the seed std, the
  image-bootstrap interval (evaluation.statistics.image_bootstrap), n_images/n_seeds/n_resamples.
* `comparison_frame`: per variant x metric, the difference from the reference variant (full
  CycleGAN by default), its paired-bootstrap interval, the sign-flip p-value, Holm's adjusted p
  over every comparison of the frame (all variants x metrics of the direction) and
  `significant` (p_holm < alpha).

Both read the runs' per-image confusion matrices (benchmark/run/per_image.py), so they need no
re-scoring. A variant whose runs lack those files gets rows of NaN with the reason in `note`,
never an exception: a report is written while a suite is still half done. Seed k of a variant is
paired with seed k of the reference; where the seed sets differ the intersection is used and
`note` says so. Images are matched by stem, and only images present in every run are used.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, Iterable, Sequence

import numpy as np
import pandas as pd

from benchmark.run.per_image import PerImageError, read_per_image
from evaluation.metrics import SCORE_NAMES
from evaluation.statistics import (DEFAULT_CONFIDENCE, DEFAULT_PERMUTATIONS, DEFAULT_RESAMPLES,
                                   bootstrap_weights, holm, image_bootstrap, paired_comparison,
                                   resampled_scores, sign_flips)

REFERENCE_VARIANT = "cyclegan"
ALPHA = 0.05
INTERVAL_COLUMNS = ["direction", "variant", "metric", "value", "seed_std", "ci_low", "ci_high",
                    "n_images", "n_seeds", "seeds", "n_resamples", "confidence", "note"]
COMPARISON_COLUMNS = ["direction", "variant", "reference", "metric", "diff", "ci_low", "ci_high",
                      "p", "p_holm", "significant", "n_images", "n_seeds", "seeds", "n_resamples",
                      "n_permutations", "confidence", "note"]


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

    def resampled(self, seeds: Sequence[int], stems: Sequence[str], n_resamples: int,
                  seed: int) -> dict[str, np.ndarray]:
        """resampled_scores of these seeds and stems, computed once per frame set (the interval
        table and every comparison with the reference reuse it)."""
        key = (tuple(seeds), tuple(stems), n_resamples, seed)
        if key not in self._resampled:
            self._resampled[key] = resampled_scores(self.stacked(seeds, stems),
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
    """Per variant x metric: seed-mean value, seed std, image-bootstrap interval and sizes."""
    collected = collected if collected is not None else collect(runs, direction, variants)
    rows = []
    for variant, scores in collected.items():
        if isinstance(scores, str):
            rows += [{"direction": direction, "variant": variant, "metric": m, "n_images": 0,
                      "n_seeds": 0, "seeds": "", "n_resamples": 0, "confidence": confidence,
                      "note": scores} for m in SCORE_NAMES]
            continue
        counts = scores.stacked(scores.seeds, scores.stems)
        weights = _weights(len(scores.stems), n_resamples, seed)
        resampled = scores.resampled(scores.seeds, scores.stems, n_resamples, seed)
        for m, iv in image_bootstrap(counts, weights=weights, confidence=confidence,
                                     resampled=resampled).items():
            rows.append({"direction": direction, "variant": variant, "metric": m, "value": iv.value,
                         "seed_std": iv.seed_std, "ci_low": iv.ci_low, "ci_high": iv.ci_high,
                         "n_images": iv.n_images, "n_seeds": iv.n_seeds, "seeds": _seed_list(scores.seeds),
                         "n_resamples": iv.n_resamples, "confidence": confidence, "note": scores.note})
    return _typed(pd.DataFrame(rows, columns=INTERVAL_COLUMNS))


def comparison_frame(runs: Iterable[Any], direction: str, *, reference: str = REFERENCE_VARIANT,
                     variants: Sequence[str] | None = None, n_resamples: int = DEFAULT_RESAMPLES,
                     n_permutations: int = DEFAULT_PERMUTATIONS, seed: int = 0,
                     confidence: float = DEFAULT_CONFIDENCE, alpha: float = ALPHA,
                     collected: dict[str, VariantScores | str] | None = None) -> pd.DataFrame:
    """Per variant (not the reference) x metric: A - reference, paired CI, p, Holm p, significant."""
    if collected is None:
        wanted = None if variants is None else list(dict.fromkeys([*variants, reference]))
        collected = collect(runs, direction, wanted)
    ref = collected.get(reference, "no finished run")
    rows = []
    for variant, scores in collected.items():
        if variant == reference:
            continue
        base = {"direction": direction, "variant": variant, "reference": reference,
                "n_resamples": 0, "n_permutations": 0, "confidence": confidence}
        reason, seeds, stems, notes = _pairing(scores, ref, reference)
        if reason:
            rows += [{**base, "metric": m, "n_images": 0, "n_seeds": 0, "seeds": "", "note": reason}
                     for m in SCORE_NAMES]
            continue
        a, b = scores.stacked(seeds, stems), ref.stacked(seeds, stems)
        resampled = (scores.resampled(seeds, stems, n_resamples, seed),
                     ref.resampled(seeds, stems, n_resamples, seed))
        result = paired_comparison(a, b, weights=_weights(len(stems), n_resamples, seed),
                                   flips=_flips(len(stems), n_permutations, seed + 1),
                                   confidence=confidence, resampled=resampled)
        for m, c in result.items():
            rows.append({**base, "metric": m, "diff": c.diff, "ci_low": c.ci_low, "ci_high": c.ci_high,
                         "p": c.p_value, "n_images": c.n_images, "n_seeds": c.n_seeds,
                         "seeds": _seed_list(seeds), "n_resamples": c.n_resamples,
                         "n_permutations": c.n_permutations, "note": "; ".join(notes)})
    frame = pd.DataFrame(rows, columns=COMPARISON_COLUMNS)
    if len(frame):
        frame["p_holm"] = holm(frame["p"].astype(float).to_numpy())
    frame = _typed(frame)
    frame["significant"] = pd.array([pd.NA if math.isnan(p) else bool(p < alpha) for p in frame["p_holm"]],
                                    dtype="boolean")
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
                                   alpha=alpha, collected={**shown, reference: collected.get(reference, "no finished run")})
    return intervals, comparisons


def interval_note(frame: pd.DataFrame) -> str:
    """The table note saying which interval a cell shows (from the frame's own sizes)."""
    done = frame[frame["n_resamples"] > 0]
    if done.empty:
        return "No per-image scores yet: no intervals."
    level = int(round(100 * float(done["confidence"].iloc[0])))
    return (f"± = sample std over seeds; [low, high] = {level}% percentile interval of the seed-mean score "
            f"over {int(done['n_resamples'].max())} bootstrap resamples of the "
            f"{int(done['n_images'].max())} test images (images drawn jointly for all seeds; each "
            "resample re-sums the confusion matrices).")


def comparison_note(frame: pd.DataFrame, alpha: float = ALPHA) -> str:
    """The note under the comparison table: test, resamples, correction and family size."""
    done = frame[frame["n_permutations"] > 0]
    if done.empty:
        return "No paired comparison possible yet (per-image scores missing)."
    level = int(round(100 * float(done["confidence"].iloc[0])))
    n_tests, n_perm = int(done["p"].notna().sum()), int(done["n_permutations"].min())
    warning = ""
    if n_tests / (n_perm + 1) >= alpha:  # Holm's smallest adjusted p is m * min p = m / (P + 1)
        warning = (f" Warning: too few permutations ({n_perm}) for {n_tests} comparisons: no cell can "
                   f"reach p_holm < {alpha}; use at least {math.ceil(n_tests / alpha)}.")
    return (f"Δ = variant − {done['reference'].iloc[0]} (seed-mean, paired by seed and image); "
            f"{level}% paired-bootstrap interval over {int(done['n_resamples'].max())} image resamples; "
            f"p from a two-sided paired sign-flip test swapping the two variants per image "
            f"({int(done['n_permutations'].max())} permutations); Holm-corrected over the "
            f"{n_tests} comparisons of this table; significant = p_holm < {alpha}. The test resamples "
            "test images with the trained models fixed: it says whether these models differ on this "
            "test set, not whether the training recipes do — the ± over seeds shows that spread."
            f"{warning}")


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
    for column in ("value", "seed_std", "diff", "ci_low", "ci_high", "p", "p_holm", "confidence"):
        if column in frame:
            frame[column] = frame[column].astype(float)
    for column in ("n_images", "n_seeds", "n_resamples", "n_permutations"):
        if column in frame:
            frame[column] = frame[column].fillna(0).astype(int)
    frame["note"] = frame["note"].fillna("").astype(str)
    return frame

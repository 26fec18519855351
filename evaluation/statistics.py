"""Intervals and paired tests for confusion-matrix scores: images and seeds as the units.

The paper's numbers are ratios of sums over the whole test set (one confusion matrix), not
means of per-image scores, so every resample here rebuilds a whole-set matrix and scores it.
Inputs are per-image confusion counts, shape (n_seeds, n_images, C, C + 1) (a single run may
pass (n_images, C, C + 1)); the same image index must mean the same test image in every seed
and, for a comparison, in both variants.

* Image bootstrap: a resample draws n_images images with replacement. Drawing the images is
  the same as drawing a multinomial count per image, so the summed matrices of all resamples
  are one matrix product, weights (R, n_images) @ counts (n_images, C * (C + 1)). scipy's
  `bootstrap` and `permutation_test` gather the resampled rows instead (R x n_images whole
  matrices in memory, or a Python loop over batches) and expect a statistic that reduces along
  one axis, which a score of a summed matrix is not; hence these two loops are written by hand
  (tests/test_statistics.py checks the bootstrap against scipy's where both apply).
* Seeds: the value of a variant is the mean over seeds of its whole-set score, with the sample
  standard deviation (ddof=1) as the seed spread. Its image-bootstrap interval resamples the
  images jointly (the same drawn images in every seed, since an image is the same scene for all
  of them) and averages the score over the seeds inside each resample. So the interval states
  how much the seed-mean moves with the choice of test images, for these trained models; the
  seed std, reported beside it, is the other source of variation.
* Paired comparison A - B: the difference of the seed-mean scores; its interval from the same
  image resamples applied to A and B (paired bootstrap); its p-value from a paired randomisation
  (sign-flip) test: under H0 "A and B are exchangeable on every image", swapping A's and B's
  matrices of an image (in all seeds at once: the image is the unit) leaves the distribution of
  the statistic unchanged, so p = (1 + #{|T_swapped| >= |T_observed|}) / (1 + n_permutations),
  two-sided. This is exact for any statistic, the ratio-of-sums included, unlike a bootstrap
  p-value, which needs the bootstrap distribution shifted to the null and is only asymptotic.
  Identical A and B give T = 0 in every permutation, hence p = 1.
* Holm's step-down correction over the comparisons of one table, written by hand: scipy has
  only Benjamini-Hochberg/-Yekutieli (`scipy.stats.false_discovery_control`), which control the
  false discovery rate, not the family-wise error a "significant" mark promises.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from evaluation.metrics import SCORE_NAMES, batch_scores

DEFAULT_RESAMPLES = 2000
DEFAULT_PERMUTATIONS = 2000
DEFAULT_CONFIDENCE = 0.95


def _seeds_images(counts: np.ndarray, what: str = "per-image counts") -> np.ndarray:
    """(n_images, C, C+1) or (n_seeds, n_images, C, C+1) -> the 4-d form, float64."""
    arr = np.asarray(counts)
    if arr.ndim == 3:
        arr = arr[None]
    if arr.ndim != 4 or arr.shape[-1] != arr.shape[-2] + 1:
        raise ValueError(f"{what} must have shape (n_seeds, n_images, C, C + 1) or (n_images, C, C + 1), "
                         f"got {np.shape(counts)}")
    if arr.shape[0] < 1 or arr.shape[1] < 1:
        raise ValueError(f"{what} hold no seed or no image (shape {arr.shape})")
    return arr.astype(np.float64, copy=False)


def _check_positive(name: str, value: int) -> int:
    if int(value) < 1:
        raise ValueError(f"{name} must be >= 1, got {value}")
    return int(value)


def _check_confidence(confidence: float) -> float:
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must be in (0, 1), got {confidence}")
    return float(confidence)


def seed_scores(counts: np.ndarray, metrics: Sequence[str] = SCORE_NAMES) -> dict[str, np.ndarray]:
    """Whole-set score of every seed: metric -> (n_seeds,), from the summed per-image matrices."""
    summed = _seeds_images(counts).sum(axis=1)
    scores = batch_scores(summed)
    return {m: scores[m] for m in metrics}


def mean_and_std(values: Sequence[float]) -> tuple[float, float]:
    """Mean and sample standard deviation (ddof=1; NaN for one value) over seeds."""
    v = np.asarray(values, dtype=np.float64)
    if v.size == 0:
        return float("nan"), float("nan")
    return float(v.mean()), float(v.std(ddof=1)) if v.size > 1 else float("nan")


def bootstrap_weights(n_images: int, n_resamples: int = DEFAULT_RESAMPLES,
                      seed: int | np.random.Generator = 0) -> np.ndarray:
    """(n_resamples, n_images) multinomial counts: how often each image is drawn per resample."""
    rng = np.random.default_rng(seed)
    n_images = _check_positive("n_images", n_images)
    n_resamples = _check_positive("n_resamples", n_resamples)
    # draw the images, then count them: 20x faster than rng.multinomial row by row
    drawn = rng.integers(0, n_images, size=(n_resamples, n_images))
    drawn += np.arange(n_resamples)[:, None] * n_images
    return np.bincount(drawn.ravel(), minlength=n_resamples * n_images).reshape(
        n_resamples, n_images).astype(np.float64)


def resampled_seed_scores(counts: np.ndarray, weights: np.ndarray,
                          metrics: Sequence[str] = SCORE_NAMES) -> dict[str, np.ndarray]:
    """metric -> (n_resamples, n_seeds): each seed's score of each resample's summed matrices
    (what the recipe-level statistics in evaluation/recipe_statistics.py resample seeds from)."""
    counts = _seeds_images(counts)
    n_seeds, n_images, c, c1 = counts.shape
    out = {m: np.zeros((len(weights), n_seeds)) for m in metrics}
    for k in range(n_seeds):
        summed = (weights @ counts[k].reshape(n_images, c * c1)).reshape(-1, c, c1)
        scores = batch_scores(summed)
        for m in metrics:
            out[m][:, k] = scores[m]
    return out


def resampled_scores(counts: np.ndarray, weights: np.ndarray,
                     metrics: Sequence[str] = SCORE_NAMES) -> dict[str, np.ndarray]:
    """metric -> (n_resamples,): seed-mean score of each resample's summed matrices."""
    return {m: v.mean(axis=1) for m, v in resampled_seed_scores(counts, weights, metrics).items()}


def _percentile_interval(samples: np.ndarray, confidence: float) -> tuple[float, float]:
    finite = samples[np.isfinite(samples)]
    if finite.size == 0:
        return float("nan"), float("nan")
    tail = 50.0 * (1.0 - confidence)
    low, high = np.percentile(finite, [tail, 100.0 - tail])
    return float(low), float(high)


@dataclass(frozen=True)
class Interval:
    """One metric of one variant: seed-mean value, seed std and its image-bootstrap interval."""

    metric: str
    value: float
    seed_std: float
    ci_low: float
    ci_high: float
    n_images: int
    n_seeds: int
    n_resamples: int
    confidence: float
    per_seed: tuple[float, ...] = field(default=())


def image_bootstrap(counts: np.ndarray, *, n_resamples: int = DEFAULT_RESAMPLES,
                    seed: int | np.random.Generator = 0, confidence: float = DEFAULT_CONFIDENCE,
                    metrics: Sequence[str] = SCORE_NAMES, weights: np.ndarray | None = None,
                    resampled: dict[str, np.ndarray] | None = None) -> dict[str, Interval]:
    """Percentile interval of each metric's seed-mean whole-set score, resampling test images.

    `weights` (from `bootstrap_weights`) lets a table use the same resamples for every variant;
    by default they are drawn from `seed`, so the result is deterministic. `resampled` may pass
    resampled_scores(counts, weights) already computed with these very weights.
    """
    counts = _seeds_images(counts)
    confidence = _check_confidence(confidence)
    n_seeds, n_images = counts.shape[:2]
    if weights is None:
        weights = bootstrap_weights(n_images, n_resamples, seed)
    elif weights.ndim != 2 or weights.shape[1] != n_images:
        raise ValueError(f"bootstrap weights have shape {weights.shape}; expected (n_resamples, {n_images})")
    per_seed = seed_scores(counts, metrics)
    if resampled is None:
        resampled = resampled_scores(counts, weights, metrics)
    if any(len(resampled[m]) != len(weights) for m in metrics):
        raise ValueError("precomputed resampled scores must come from the same bootstrap weights")
    result = {}
    for m in metrics:
        value, std = mean_and_std(per_seed[m])
        low, high = _percentile_interval(resampled[m], confidence)
        result[m] = Interval(metric=m, value=value, seed_std=std, ci_low=low, ci_high=high,
                             n_images=n_images, n_seeds=n_seeds, n_resamples=len(weights),
                             confidence=confidence, per_seed=tuple(float(v) for v in per_seed[m]))
    return result


@dataclass(frozen=True)
class Comparison:
    """Variant A minus reference B on one metric, paired over the same images and seeds."""

    metric: str
    diff: float
    ci_low: float
    ci_high: float
    p_value: float
    n_images: int
    n_seeds: int
    n_resamples: int
    n_permutations: int
    confidence: float


def sign_flips(n_images: int, n_permutations: int = DEFAULT_PERMUTATIONS,
               seed: int | np.random.Generator = 0) -> np.ndarray:
    """(n_permutations, n_images) of 0/1: 1 = swap A and B on that image (in every seed)."""
    rng = np.random.default_rng(seed)
    n_images = _check_positive("n_images", n_images)
    n_permutations = _check_positive("n_permutations", n_permutations)
    return rng.integers(0, 2, size=(n_permutations, n_images)).astype(np.float64)


def paired_comparison(a: np.ndarray, b: np.ndarray, *, n_resamples: int = DEFAULT_RESAMPLES,
                      n_permutations: int = DEFAULT_PERMUTATIONS,
                      seed: int | np.random.Generator = 0, confidence: float = DEFAULT_CONFIDENCE,
                      metrics: Sequence[str] = SCORE_NAMES,
                      weights: np.ndarray | None = None, flips: np.ndarray | None = None,
                      resampled: tuple[dict, dict] | None = None) -> dict[str, Comparison]:
    """A - B per metric: difference of seed-mean scores, paired-bootstrap interval, sign-flip p.

    `a` and `b` hold per-image counts of the same images in the same order, seed k of A paired
    with seed k of B. `weights`/`flips` let a table share resamples and permutations across
    comparisons; by default both are drawn from `seed` (deterministic). `resampled` may pass
    (resampled_scores(a, weights), resampled_scores(b, weights)) already computed with these very
    `weights`, so a table bootstraps its reference once instead of once per comparison.
    """
    a = _seeds_images(a, "A's per-image counts")
    b = _seeds_images(b, "B's per-image counts")
    if a.shape != b.shape:
        raise ValueError(f"a paired comparison needs the same seeds and images on both sides: A has "
                         f"shape {a.shape}, B {b.shape}; select the shared seeds and images first")
    confidence = _check_confidence(confidence)
    n_seeds, n_images, c, c1 = a.shape
    rng = np.random.default_rng(seed)
    if weights is None:
        weights = bootstrap_weights(n_images, n_resamples, rng)
    if flips is None:
        flips = sign_flips(n_images, n_permutations, rng)
    for name, arr in (("bootstrap weights", weights), ("sign flips", flips)):
        if arr.ndim != 2 or arr.shape[1] != n_images:
            raise ValueError(f"{name} have shape {arr.shape}; expected (n, {n_images})")

    scores_a, scores_b = seed_scores(a, metrics), seed_scores(b, metrics)
    observed = {m: scores_a[m].mean() - scores_b[m].mean() for m in metrics}
    if resampled is None:
        resampled = resampled_scores(a, weights, metrics), resampled_scores(b, weights, metrics)
    boot_a, boot_b = resampled
    if any(len(boot[m]) != len(weights) for boot in resampled for m in metrics):
        raise ValueError("precomputed resampled scores must come from the same bootstrap weights")

    swapped = {m: np.zeros(len(flips)) for m in metrics}
    for k in range(n_seeds):
        flat_a, flat_b = a[k].reshape(n_images, -1), b[k].reshape(n_images, -1)
        moved = flips @ (flat_a - flat_b)  # what each permutation moves from A's sum to B's
        sa = batch_scores((flat_a.sum(axis=0) - moved).reshape(-1, c, c1))
        sb = batch_scores((flat_b.sum(axis=0) + moved).reshape(-1, c, c1))
        for m in metrics:
            swapped[m] += (sa[m] - sb[m]) / n_seeds

    result = {}
    for m in metrics:
        low, high = _percentile_interval(boot_a[m] - boot_b[m], confidence)
        t_obs = observed[m]
        if np.isnan(t_obs):
            p = float("nan")
        else:
            # a tolerance so that permutations equal to the observed value up to rounding count
            extreme = np.abs(swapped[m]) >= abs(t_obs) - 1e-12 * max(1.0, abs(t_obs))
            p = float((1 + np.count_nonzero(extreme)) / (1 + len(flips)))
        result[m] = Comparison(metric=m, diff=float(t_obs), ci_low=low, ci_high=high, p_value=p,
                               n_images=n_images, n_seeds=n_seeds, n_resamples=len(weights),
                               n_permutations=len(flips), confidence=confidence)
    return result


def holm(p_values: Sequence[float]) -> np.ndarray:
    """Holm-Bonferroni adjusted p-values (same order as given); NaN entries stay NaN and do
    not count as comparisons.

    Sorted ascending, the i-th smallest of m p-values (i from 0) is multiplied by (m - i), the
    running maximum keeps the adjusted values monotone, and they are capped at 1. Rejecting
    where adjusted < alpha is Holm's step-down procedure at family-wise error alpha.
    """
    p = np.asarray(p_values, dtype=np.float64)
    if p.ndim != 1:
        raise ValueError(f"p-values must be a flat sequence, got shape {p.shape}")
    if np.any((p < 0) | (p > 1)):
        raise ValueError(f"p-values must lie in [0, 1], got {p[(p < 0) | (p > 1)].tolist()}")
    adjusted = np.full_like(p, np.nan)
    present = np.flatnonzero(~np.isnan(p))
    m = present.size
    if m == 0:
        return adjusted
    order = present[np.argsort(p[present], kind="stable")]
    scaled = p[order] * (m - np.arange(m))
    adjusted[order] = np.minimum(np.maximum.accumulate(scaled), 1.0)
    return adjusted

"""Statements about training recipes, from seeds: intervals, tests and the seeds a decision needs.

An ablation table asks "does this training recipe score better than CycleGAN's?". A recipe is
a distribution over trained models (one per seed), each scored on a sample of test images, so
its mean score varies with two things: which seeds were trained, and which test images were
drawn. With models held fixed, resampling images (evaluation/statistics.py) shows only the
second; on the committed Cityscapes runs the seed spread was about 11x the image spread, and
a test over images alone rejected a true "no difference" most of the time. Everything here
takes both levels into account:

* Inputs per variant: `per_seed` (n_seeds,), each seed's whole-set score, and `resampled`
  (R, n_seeds), each seed's score under image resample r. The R resamples draw the same images
  for every seed and for every variant of a table (an image is the same scene for all), so a
  difference is paired on images.
* Interval for a recipe's mean score (and for a difference of two recipes):
  - n < TWO_LEVEL_MIN_SEEDS: a t interval whose variance is the seed part s²/n plus the image
    part (the bootstrap variance of the seed-mean over image resamples), with n - 1 degrees of
    freedom (Welch-Satterthwaite for a difference). A percentile bootstrap over 3 seeds would
    cover only about 81% of the time: with so few values the t quantile is what widens it.
  - n >= TWO_LEVEL_MIN_SEEDS: a two-level bootstrap: each resample draws seeds with
    replacement within each variant, then takes their scores under that resample's images
    (whose confusion matrices were re-summed), so both levels vary together.
* Test of a difference: the same construction: Welch's t on the seed scores with the image
  variance added (p and interval agree: the interval excludes 0 exactly when p < 1 - level),
  or the two-level bootstrap's two-sided p at n >= TWO_LEVEL_MIN_SEEDS.
* P(improvement): the share of (variant seed, reference seed) pairs in which the variant's seed
  scores higher, ties counting one half; the probability of improvement of rliable
  (Agarwal et al., NeurIPS 2021), here over whole-set scores of seeds.
* Seeds for a decision: the smallest n per recipe at which a two-sided Welch t-test at level
  alpha detects the observed difference with the given power, from the noncentral t, taking the
  observed seed sds as the truth. At 2-4 degrees of freedom those sds are rough, so this is a
  pilot estimate, not a guarantee.

scipy supplies the t and noncentral t distributions; the resampling is numpy, written here
because each resample re-sums confusion matrices (evaluation/statistics.py says why).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np
from scipy import stats

#: At this many seeds per variant the intervals and tests switch to the two-level bootstrap.
TWO_LEVEL_MIN_SEEDS = 10
DEFAULT_CONFIDENCE = 0.95
DEFAULT_POWER = 0.8
DEFAULT_ALPHA = 0.05


@dataclass(frozen=True)
class RecipeInterval:
    """A recipe's mean score with its interval over seeds and test images."""

    mean: float
    seed_sd: float
    low: float
    high: float
    n_seeds: int
    image_sd: float      # sd of the seed-mean over image resamples
    method: str          # "t" | "two-level bootstrap" | "none (1 seed)"


@dataclass(frozen=True)
class RecipeComparison:
    """Variant minus reference, both recipes over seeds, paired on test images."""

    diff: float
    low: float
    high: float
    p: float
    p_improvement: float
    n_seeds: int         # the variant's
    n_reference_seeds: int
    df: float
    method: str          # "Welch t" | "two-level bootstrap" | "none (1 seed)"


def _as_arrays(per_seed, resampled) -> tuple[np.ndarray, np.ndarray | None]:
    values = np.asarray(per_seed, dtype=np.float64).ravel()
    if values.size == 0:
        raise ValueError("a recipe needs at least one seed's score")
    if resampled is None:
        return values, None
    boot = np.asarray(resampled, dtype=np.float64)
    if boot.ndim != 2 or boot.shape[1] != values.size:
        raise ValueError(f"image-resampled scores must have shape (n_resamples, {values.size}), got {boot.shape}")
    return values, boot


def _image_variance(boot: np.ndarray | None) -> float:
    """Variance of the seed-mean over image resamples (0 where none were given)."""
    if boot is None:
        return 0.0
    means = np.nanmean(boot, axis=1)
    means = means[np.isfinite(means)]
    return float(np.var(means, ddof=1)) if means.size > 1 else 0.0


def _two_level(boot: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """(R,) seed-mean per resample r: seeds drawn with replacement, images as in resample r."""
    n_resamples, n_seeds = boot.shape
    drawn = rng.integers(0, n_seeds, size=(n_resamples, n_seeds))
    return np.take_along_axis(boot, drawn, axis=1).mean(axis=1)


def _percentile(samples: np.ndarray, confidence: float) -> tuple[float, float]:
    finite = samples[np.isfinite(samples)]
    if finite.size == 0:
        return math.nan, math.nan
    tail = 50.0 * (1.0 - confidence)
    low, high = np.percentile(finite, [tail, 100.0 - tail])
    return float(low), float(high)


def recipe_interval(per_seed, resampled=None, *, confidence: float = DEFAULT_CONFIDENCE,
                    seed: int = 0, bounds: tuple[float, float] | None = None) -> RecipeInterval:
    """Interval for the recipe's mean score (module docstring); no interval from one seed.

    `bounds`: the range the score can take (an accuracy: (0, 1)). A t interval from few, widely
    spread seeds can run past it (0.347 ± 0.196 over 3 seeds gave [-0.141, 0.835]); the recipe's
    mean cannot, so the interval is cut there, which keeps at least its coverage."""
    interval = _recipe_interval(per_seed, resampled, confidence, seed)
    if bounds is None or not math.isfinite(interval.low):
        return interval
    return replace(interval, low=max(interval.low, bounds[0]), high=min(interval.high, bounds[1]))


def _recipe_interval(per_seed, resampled, confidence: float, seed: int) -> RecipeInterval:
    values, boot = _as_arrays(per_seed, resampled)
    n = values.size
    mean = float(values.mean())
    sd = float(values.std(ddof=1)) if n > 1 else math.nan
    image_var = _image_variance(boot)
    if n < 2:
        return RecipeInterval(mean, sd, math.nan, math.nan, n, math.sqrt(image_var), "none (1 seed)")
    if n >= TWO_LEVEL_MIN_SEEDS and boot is not None:
        low, high = _percentile(_two_level(boot, np.random.default_rng(seed)), confidence)
        return RecipeInterval(mean, sd, low, high, n, math.sqrt(image_var), "two-level bootstrap")
    half = stats.t.ppf(0.5 + confidence / 2, n - 1) * math.sqrt(sd**2 / n + image_var)
    return RecipeInterval(mean, sd, mean - half, mean + half, n, math.sqrt(image_var), "t")


def probability_of_improvement(variant, reference, higher_is_better: bool = True) -> float:
    """P(variant seed beats reference seed) over all pairs of seeds, ties counting 1/2."""
    a = np.asarray(variant, dtype=np.float64).ravel()[:, None]
    b = np.asarray(reference, dtype=np.float64).ravel()[None, :]
    wins = (a > b) if higher_is_better else (a < b)
    return float(np.mean(wins + 0.5 * (a == b)))


def welch_df(sd_a: float, n_a: int, sd_b: float, n_b: int) -> float:
    """Welch-Satterthwaite degrees of freedom of a difference of two means."""
    va, vb = sd_a**2 / n_a, sd_b**2 / n_b
    denominator = va**2 / (n_a - 1) + vb**2 / (n_b - 1)
    return float((va + vb) ** 2 / denominator) if denominator > 0 else float(n_a + n_b - 2)


def recipe_difference(variant, variant_resampled, reference, reference_resampled, *,
                      confidence: float = DEFAULT_CONFIDENCE, higher_is_better: bool = True,
                      seed: int = 0) -> RecipeComparison:
    """Variant minus reference: interval, two-sided p and P(improvement) at the recipe level.

    Both `*_resampled` arrays must come from the same image resamples (same rows), so the
    image part of the difference is paired; either may be None (no per-image data: the seed
    part alone)."""
    a, boot_a = _as_arrays(variant, variant_resampled)
    b, boot_b = _as_arrays(reference, reference_resampled)
    if (boot_a is None) != (boot_b is None) or (boot_a is not None and len(boot_a) != len(boot_b)):
        raise ValueError("both recipes need image resamples from the same draws, or neither")
    diff = float(a.mean() - b.mean())
    p_improve = probability_of_improvement(a, b, higher_is_better)
    if a.size < 2 or b.size < 2:
        return RecipeComparison(diff, math.nan, math.nan, math.nan, p_improve, a.size, b.size, math.nan,
                                "none (1 seed)")
    if min(a.size, b.size) >= TWO_LEVEL_MIN_SEEDS and boot_a is not None:
        rng = np.random.default_rng(seed)
        draws = _two_level(boot_a, rng) - _two_level(boot_b, rng)
        low, high = _percentile(draws, confidence)
        finite = draws[np.isfinite(draws)]
        p = min(1.0, 2 * min(np.mean(finite <= 0), np.mean(finite >= 0))) if finite.size else math.nan
        return RecipeComparison(diff, low, high, float(p), p_improve, a.size, b.size, math.nan,
                                "two-level bootstrap")
    sd_a, sd_b = float(a.std(ddof=1)), float(b.std(ddof=1))
    image_var = 0.0
    if boot_a is not None:
        image_var = _image_variance(np.nanmean(boot_a, axis=1, keepdims=True)
                                    - np.nanmean(boot_b, axis=1, keepdims=True))
    df = welch_df(sd_a, a.size, sd_b, b.size)
    se = math.sqrt(sd_a**2 / a.size + sd_b**2 / b.size + image_var)
    if se == 0:
        p = 1.0 if diff == 0 else 0.0
        return RecipeComparison(diff, diff, diff, p, p_improve, a.size, b.size, df, "Welch t")
    half = stats.t.ppf(0.5 + confidence / 2, df) * se
    p = float(2 * stats.t.sf(abs(diff) / se, df))
    return RecipeComparison(diff, diff - half, diff + half, p, p_improve, a.size, b.size, df, "Welch t")


def welch_power(delta: float, sd_a: float, sd_b: float, n: int, alpha: float = DEFAULT_ALPHA) -> float:
    """Power of a two-sided Welch t-test with n seeds per recipe against a true difference delta."""
    se = math.sqrt((sd_a**2 + sd_b**2) / n)
    if se == 0:
        return 1.0 if delta != 0 else alpha
    df = welch_df(sd_a, n, sd_b, n)
    crit = stats.t.ppf(1 - alpha / 2, df)
    nc = abs(delta) / se
    power = float(stats.nct.sf(crit, df, nc) + stats.nct.cdf(-crit, df, nc))
    if not math.isfinite(power):  # scipy's noncentral t gives NaN at some large (df, nc), where
        # df is past 100 and the t is normal to 3 decimals: take the normal approximation there
        power = float(stats.norm.sf(crit - nc) + stats.norm.cdf(-crit - nc))
    return power


def seeds_for_power(delta: float, sd_a: float, sd_b: float, *, power: float = DEFAULT_POWER,
                    alpha: float = DEFAULT_ALPHA, max_seeds: int = 10_000) -> int | None:
    """Smallest seeds per recipe reaching `power` against `delta`; None where no count does
    (delta 0, unknown sds, or more than `max_seeds`)."""
    if not all(math.isfinite(x) for x in (delta, sd_a, sd_b)) or delta == 0:
        return None
    low, high = 2, max_seeds
    if welch_power(delta, sd_a, sd_b, high, alpha) < power:
        return None
    while low < high:  # power grows with n: bisect
        mid = (low + high) // 2
        if welch_power(delta, sd_a, sd_b, mid, alpha) >= power:
            high = mid
        else:
            low = mid + 1
    return low


__all__ = ["TWO_LEVEL_MIN_SEEDS", "RecipeInterval", "RecipeComparison", "recipe_interval",
           "recipe_difference", "probability_of_improvement", "welch_df", "welch_power",
           "seeds_for_power"]

"""Recipe-level statistics (evaluation/recipe_statistics.py) against known answers.

The simulations follow a two-level model of a benchmark: a recipe's true mean score mu; each
seed k trains a model whose score is shifted by u_k ~ N(0, sd_seed); each test image i, drawn
from a population of images, shifts every model's score on it by v_i ~ N(0, sd_image_each).
The images' share of the variance of a whole-set score is sd_image_each² / n_images; "seed sd
10x the image sd" below means sd_seed = 10 * sd_image_each / sqrt(n_images), close to the 11.5x
measured on the committed Cityscapes runs. Scores are per-pixel accuracies of simulated
confusion matrices, so every resample re-sums matrices as the suite does. Monte Carlo error of
a rate r over N repetitions: sqrt(r (1 - r) / N), stated where a bound is asserted.
"""
from __future__ import annotations

import math

import numpy as np
import pytest

from evaluation.recipe_statistics import (
    TWO_LEVEL_MIN_SEEDS,
    probability_of_improvement,
    recipe_difference,
    recipe_interval,
    seeds_for_power,
    welch_power,
)
from evaluation.statistics import bootstrap_weights, paired_comparison, resampled_seed_scores

PIXELS = 1000
N_IMAGES = 60
RESAMPLES = 400
MU = 0.5


def simulate_counts(rng, n_seeds, image_effects, sd_seed, mu=MU):
    """(n_seeds, n_images, 2, 3) confusion counts: all pixels of class 0, correct share acc_ki."""
    u = rng.normal(0.0, sd_seed, size=(n_seeds, 1))
    acc = np.clip(mu + u + image_effects[None, :], 0.0, 1.0)
    correct = np.round(acc * PIXELS)
    counts = np.zeros((n_seeds, len(image_effects), 2, 3))
    counts[..., 0, 0] = correct
    counts[..., 0, 1] = PIXELS - correct
    return counts


def recipe_inputs(counts, weights):
    per_seed = counts[..., 0, 0].sum(axis=1) / counts[..., 0, :].sum(axis=(1, 2))
    resampled = resampled_seed_scores(counts, weights, ["per_pixel_acc"])["per_pixel_acc"]
    return per_seed, resampled


def sds(ratio):
    """(sd_seed, sd_image_each) with seed sd = ratio x the image sd of a whole-set score."""
    sd_image_each = 0.03
    return ratio * sd_image_each / math.sqrt(N_IMAGES), sd_image_each


@pytest.mark.parametrize("n_seeds,ratio", [(5, 10.0), (10, 10.0), (5, 1.0)])
def test_recipe_interval_covers_the_true_mean(n_seeds, ratio):
    """Nominal 95%: coverage >= 90% at n = 5 (t) and n = 10 (two-level bootstrap), over 1000
    repetitions (Monte Carlo sd of a 95% rate: 0.7 points). ratio 1: the image part matters."""
    rng = np.random.default_rng(1)
    sd_seed, sd_image = sds(ratio)
    weights = bootstrap_weights(N_IMAGES, RESAMPLES, seed=2)
    reps, covered = 1000, 0
    for rep in range(reps):
        images = rng.normal(0.0, sd_image, N_IMAGES)  # a fresh test set from the population
        per_seed, resampled = recipe_inputs(simulate_counts(rng, n_seeds, images, sd_seed), weights)
        iv = recipe_interval(per_seed, resampled, seed=rep)
        covered += iv.low <= MU <= iv.high
    expected_method = "two-level bootstrap" if n_seeds >= TWO_LEVEL_MIN_SEEDS else "t"
    assert iv.method == expected_method
    assert covered / reps >= 0.90, f"coverage {covered / reps:.3f} at n={n_seeds}, ratio {ratio}"


def _null_rejections(n_seeds, reps=2000):
    """Two recipes with the same mu, scored on the same test images: how often each test says
    they differ at 0.05 (recipe-level Welch vs the image-level sign-flip test)."""
    rng = np.random.default_rng(3)
    sd_seed, sd_image = sds(10.0)
    weights = bootstrap_weights(N_IMAGES, 200, seed=4)
    seed_level = image_level = 0
    for rep in range(reps):
        images = rng.normal(0.0, sd_image, N_IMAGES)
        a = simulate_counts(rng, n_seeds, images, sd_seed)
        b = simulate_counts(rng, n_seeds, images, sd_seed)
        (pa, ra), (pb, rb) = recipe_inputs(a, weights), recipe_inputs(b, weights)
        seed_level += recipe_difference(pa, ra, pb, rb, seed=rep).p < 0.05
        if rep < 200:  # the permutation test is the slow one; 200 repetitions show its rate
            p = paired_comparison(a, b, n_resamples=50, n_permutations=200, seed=rep,
                                  metrics=["per_pixel_acc"])["per_pixel_acc"].p_value
            image_level += p < 0.05
    return seed_level / reps, image_level / min(reps, 200)


def test_seed_level_test_holds_its_level_and_the_image_level_test_does_not():
    """Under a recipe-level null the Welch test rejects at most 5%, up to Monte Carlo error (2000
    repetitions: MC sd 0.49 points; the bound is 5% + 2 MC sd; 4000 repetitions gave 4.8%); the
    old image-level sign-flip test, which holds the trained models fixed, rejects most of the
    time: the regression guard against going back to it."""
    seed_rate, image_rate = _null_rejections(n_seeds=5)
    assert seed_rate <= 0.05 + 2 * 0.0049, f"seed-level test rejects {seed_rate:.3f} under the null"
    assert image_rate >= 0.5, f"image-level test rejected only {image_rate:.3f}: the guard's premise changed"


def test_one_seed_makes_no_statement():
    iv = recipe_interval([0.5])
    assert math.isnan(iv.low) and iv.method == "none (1 seed)"
    cmp = recipe_difference([0.6], None, [0.5], None)
    assert math.isnan(cmp.p) and cmp.diff == pytest.approx(0.1)


def test_interval_contains_the_mean_and_widens_with_the_image_part():
    per_seed = np.array([0.367, 0.582, 0.600])
    plain = recipe_interval(per_seed)
    boot = np.tile(per_seed, (200, 1)) + np.random.default_rng(0).normal(0, 0.05, (200, 1))
    wider = recipe_interval(per_seed, boot)
    for iv in (plain, wider):
        assert iv.low < per_seed.mean() < iv.high
    assert wider.high - wider.low > plain.high - plain.low
    # the t interval over 3 seeds is far wider than an image-only interval would suggest
    assert plain.high - plain.low > 0.5


def test_welch_difference_matches_scipy_without_image_part():
    from scipy import stats

    a, b = np.array([0.61, 0.55, 0.58, 0.66]), np.array([0.50, 0.52, 0.47])
    cmp = recipe_difference(a, None, b, None)
    ref = stats.ttest_ind(a, b, equal_var=False)
    assert cmp.p == pytest.approx(ref.pvalue, rel=1e-9)
    assert cmp.low < cmp.diff < cmp.high and cmp.low > 0  # p < 0.05 <=> interval excludes 0
    assert cmp.method == "Welch t"


def test_probability_of_improvement():
    assert probability_of_improvement([2, 3], [1, 1]) == 1.0
    assert probability_of_improvement([1, 3], [2, 2]) == 0.5
    assert probability_of_improvement([1, 1], [1, 1]) == 0.5
    assert probability_of_improvement([1], [2], higher_is_better=False) == 1.0


def test_seeds_for_power_reaches_the_power_and_one_fewer_does_not():
    n = seeds_for_power(0.05, 0.04, 0.04)
    assert n is not None and n > 2
    assert welch_power(0.05, 0.04, 0.04, n) >= 0.8 > welch_power(0.05, 0.04, 0.04, n - 1)
    # textbook check: d = 1 (delta = sd), two-sided 0.05, 80% power: 17 per group
    assert seeds_for_power(1.0, 1.0, 1.0) == 17
    assert seeds_for_power(0.0, 0.04, 0.04) is None


def test_an_interval_past_the_scores_range_is_cut_there():
    """3 seeds spread as widely as their mean: the t interval runs below 0, an accuracy cannot."""
    from evaluation.recipe_statistics import recipe_interval

    seeds = [0.12, 0.43, 0.49]  # a collapsed seed beside two working ones
    free = recipe_interval(seeds)
    cut = recipe_interval(seeds, bounds=(0.0, 1.0))
    assert free.low < 0.0 and cut.low == 0.0
    assert cut.high == free.high < 1.0 and cut.low <= cut.mean <= cut.high

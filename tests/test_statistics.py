"""Intervals and paired tests on confusion-matrix scores, checked on cases with known answers.

Per-image confusion matrices are built from synthetic label maps through ConfusionMatrix, so
every number below is one the paper's protocol could produce.
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from benchmark.report.statistics import (
    comparison_frame,
    comparison_note,
    interval_frame,
    interval_note,
    statistics_frames,
)
from benchmark.run.per_image import PerImageError, read_per_image, write_per_image
from evaluation.labels import CLASS_NAMES, NUM_CLASSES
from evaluation.metrics import SCORE_NAMES, ConfusionMatrix, batch_scores
from evaluation.statistics import bootstrap_weights, holm, image_bootstrap, mean_and_std, paired_comparison, seed_scores

C = NUM_CLASSES


def predict(rng, gt, correct):
    """Predictions right with probability `correct`, else any id (ids >= C are void predictions)."""
    return np.where(rng.random(gt.shape) < correct, gt, rng.integers(0, C + 3, size=gt.shape))


def make_images(rng, n_images=40, size=24, correct=0.7):
    """Ground truth (n, size, size) with some ignored pixels, and predictions for it."""
    gt = rng.integers(0, C, size=(n_images, size, size))
    gt[rng.random(gt.shape) < 0.05] = 255
    return gt, predict(rng, gt, correct)


def per_image_counts(gt, pred):
    return ConfusionMatrix.stack([ConfusionMatrix().update(g, p).counts for g, p in zip(gt, pred)])


def spoil(rng, gt, pred, fraction=0.1):
    """The same predictions with `fraction` of the correct pixels of EVERY image made wrong."""
    out = pred.copy()
    flip = (pred == gt) & (gt != 255) & (rng.random(gt.shape) < fraction)
    out[flip] = (gt[flip] + 1) % C
    return out


# ------------------------------------------------------------------ metrics, one implementation

def test_batch_scores_equal_confusion_matrix_scores_matrix_by_matrix():
    rng = np.random.default_rng(0)
    counts = per_image_counts(*make_images(rng, n_images=6, size=8))
    counts[2] = 0  # an empty matrix: every value undefined
    batch = batch_scores(counts)
    for i, matrix in enumerate(counts):
        single = ConfusionMatrix.from_counts(matrix).scores()
        for name in SCORE_NAMES:
            expected = single[name]
            assert (math.isnan(batch[name][i]) if expected is None
                    else batch[name][i] == pytest.approx(expected, abs=1e-15))
        ious = [v["iou"] for v in single["per_class"].values()]
        assert np.allclose(batch["iou"][i], [np.nan if v is None else v for v in ious], equal_nan=True)


def test_set_score_is_a_ratio_of_sums_not_a_mean_of_image_scores():
    # image 0: 1 of 1 pixel right; image 1: 1 of 3 right -> set acc 2/4, mean of images 2/3
    a = ConfusionMatrix(num_classes=2).update(np.array([0]), np.array([0])).counts
    b = ConfusionMatrix(num_classes=2).update(np.array([1, 1, 1]), np.array([1, 0, 0])).counts
    scores = seed_scores(np.stack([a, b]))
    assert scores["per_pixel_acc"][0] == pytest.approx(0.5)


# ------------------------------------------------------------------ image bootstrap and seeds

def test_bootstrap_interval_covers_the_whole_set_value_and_states_its_size():
    rng = np.random.default_rng(1)
    counts = per_image_counts(*make_images(rng))
    whole = ConfusionMatrix.from_counts(counts.sum(axis=0)).scores()
    result = image_bootstrap(counts, n_resamples=500, seed=3)
    for name in SCORE_NAMES:
        iv = result[name]
        assert iv.value == pytest.approx(whole[name])
        assert iv.ci_low < iv.value < iv.ci_high
        assert iv.ci_high - iv.ci_low < 0.2
        assert (iv.n_images, iv.n_seeds, iv.n_resamples, iv.confidence) == (40, 1, 500, 0.95)
        assert math.isnan(iv.seed_std)


def test_bootstrap_is_deterministic_given_a_seed_and_changes_with_it():
    counts = per_image_counts(*make_images(np.random.default_rng(2)))
    first = image_bootstrap(counts, n_resamples=300, seed=7)
    again = image_bootstrap(counts, n_resamples=300, seed=7)
    assert all((first[m].ci_low, first[m].ci_high) == (again[m].ci_low, again[m].ci_high) for m in SCORE_NAMES)
    assert first["class_iou"].ci_low != image_bootstrap(counts, n_resamples=300, seed=8)["class_iou"].ci_low


def test_identical_images_give_a_zero_width_interval():
    gt, pred = make_images(np.random.default_rng(3), n_images=1)
    counts = np.repeat(per_image_counts(gt, pred), 25, axis=0)
    iv = image_bootstrap(counts, n_resamples=200)["per_class_acc"]
    assert iv.ci_low == pytest.approx(iv.value) and iv.ci_high == pytest.approx(iv.value)


def test_bootstrap_weights_are_draws_of_n_images_with_replacement():
    w = bootstrap_weights(30, 400, seed=0)
    assert w.shape == (400, 30) and np.all(w.sum(axis=1) == 30) and np.all(w >= 0)
    assert w.mean() == pytest.approx(1.0, abs=0.05)  # every image drawn once per resample on average


def test_seeds_mean_and_sample_std_and_the_interval_of_the_seed_mean():
    rng = np.random.default_rng(4)
    gt, _ = make_images(rng)
    seeds = np.stack([per_image_counts(gt, predict(rng, gt, q)) for q in (0.5, 0.6, 0.7)])
    per_seed = [ConfusionMatrix.from_counts(s.sum(axis=0)).scores()["per_pixel_acc"] for s in seeds]
    iv = image_bootstrap(seeds, n_resamples=400)["per_pixel_acc"]
    assert iv.value == pytest.approx(np.mean(per_seed))
    assert iv.seed_std == pytest.approx(np.std(per_seed, ddof=1))
    assert iv.per_seed == pytest.approx(per_seed)
    assert iv.ci_low < iv.value < iv.ci_high and iv.n_seeds == 3
    assert mean_and_std([2.0]) == (2.0, pytest.approx(math.nan, nan_ok=True))


# ------------------------------------------------------------------ paired comparison

def test_identical_variants_differ_by_zero_with_p_one():
    rng = np.random.default_rng(5)
    a = np.stack([per_image_counts(*make_images(rng)) for _ in range(2)])
    result = paired_comparison(a, a.copy(), n_resamples=300, n_permutations=300)
    for c in result.values():
        assert c.diff == 0.0 and c.ci_low <= 0.0 <= c.ci_high
        assert c.p_value == 1.0


def test_a_constant_shift_is_detected_in_every_metric():
    rng = np.random.default_rng(6)
    a_parts, b_parts = [], []
    for _ in range(2):  # two seeds
        gt, pred = make_images(rng)
        a_parts.append(per_image_counts(gt, pred))
        b_parts.append(per_image_counts(gt, spoil(rng, gt, pred)))
    a, b = np.stack(a_parts), np.stack(b_parts)
    result = paired_comparison(a, b, n_resamples=500, n_permutations=999, seed=1)
    for name, c in result.items():
        assert c.diff > 0 and c.ci_low > 0, name
        assert c.p_value <= 0.002, name  # the smallest p 999 permutations can give is 0.001
    back = paired_comparison(b, a, n_resamples=500, n_permutations=999, seed=1)
    assert back["per_pixel_acc"].diff == pytest.approx(-result["per_pixel_acc"].diff)
    assert back["per_pixel_acc"].ci_high < 0


def test_sign_flip_test_holds_its_level_when_variants_are_exchangeable():
    rng = np.random.default_rng(7)
    p_values = []
    for _ in range(40):
        gt, _ = make_images(rng, n_images=15, size=8)
        a, b = per_image_counts(gt, predict(rng, gt, 0.6)), per_image_counts(gt, predict(rng, gt, 0.6))
        p_values.append(paired_comparison(a, b, n_resamples=10, n_permutations=199,
                                          seed=int(rng.integers(1 << 30)))["per_pixel_acc"].p_value)
    assert np.mean(np.array(p_values) < 0.05) <= 0.15
    assert 0.3 < np.median(p_values) < 0.7


def test_paired_comparison_refuses_unpaired_shapes():
    a = per_image_counts(*make_images(np.random.default_rng(8), n_images=5, size=4))
    with pytest.raises(ValueError, match="same seeds and images"):
        paired_comparison(a, a[:4])
    with pytest.raises(ValueError, match=r"\(n_seeds, n_images, C, C \+ 1\)"):
        paired_comparison(a[0], a[0])


# ------------------------------------------------------------------ Holm

def test_holm_against_a_hand_worked_example():
    # sorted: 0.005*4 = 0.02, 0.01*3 = 0.03, 0.03*2 = 0.06, 0.04*1 = 0.04 -> monotone 0.06
    adjusted = holm([0.01, 0.04, 0.03, 0.005, math.nan])
    assert adjusted[:4] == pytest.approx([0.03, 0.06, 0.06, 0.02])
    assert math.isnan(adjusted[4])  # missing comparisons do not count in m
    assert holm([0.2, 0.9]).tolist() == [0.4, 0.9]
    assert holm([0.6, 0.7]).tolist() == [1.0, 1.0]  # 1.2 capped at 1; 0.7 raised to stay monotone
    assert holm([]).size == 0
    with pytest.raises(ValueError, match="p-values must lie in"):
        holm([1.5])


# ------------------------------------------------------------------ per-image files of a run

def test_per_image_file_round_trip_and_clear_errors(tmp_path):
    counts = per_image_counts(*make_images(np.random.default_rng(9), n_images=4, size=6))
    rel = write_per_image(tmp_path, "photo2labels", ["b", "a", "c", "d"], counts, CLASS_NAMES)
    assert rel == "per_image/photo2labels.npz"
    assert [p.name for p in (tmp_path / "per_image").iterdir()] == ["photo2labels.npz"]  # no temporaries
    back = read_per_image(tmp_path, "photo2labels")
    assert back.stems == ("b", "a", "c", "d") and back.class_names == tuple(CLASS_NAMES)
    assert np.array_equal(back.counts, counts) and np.array_equal(back.total, counts.sum(axis=0))
    assert np.array_equal(back.select(["c", "b"]), counts[[2, 0]])
    with pytest.raises(PerImageError, match="re-score it with `benchmark evaluate"):
        read_per_image(tmp_path, "labels2photo")
    (tmp_path / "per_image" / "labels2photo.npz").write_bytes(b"not a zip")
    with pytest.raises(PerImageError, match="unreadable"):
        read_per_image(tmp_path, "labels2photo")
    with pytest.raises(PerImageError, match="do not match"):
        write_per_image(tmp_path, "x", ["a"], counts, CLASS_NAMES)


# ------------------------------------------------------------------ report frames

@dataclass
class Run:
    """What the report's LoadedRun offers the statistics (variant, seed, run_dir, metrics)."""

    variant: str
    seed: int
    run_dir: Path
    metrics: dict | None

    def direction(self, direction):
        return None if self.metrics is None else self.metrics["directions"].get(direction)


DIRECTION = "labels2photo"


def fake_run(root, variant, seed, counts, stems, per_image=True):
    run_dir = root / variant / f"seed{seed}"
    run_dir.mkdir(parents=True)
    scores = ConfusionMatrix.from_counts(counts.sum(axis=0)).scores()
    if per_image:
        scores["per_image"] = write_per_image(run_dir, DIRECTION, stems, counts, CLASS_NAMES)
    metrics = {"directions": {DIRECTION: scores}}
    (run_dir / "metrics.json").write_text(json.dumps(metrics))
    return Run(variant, seed, run_dir, metrics)


@pytest.fixture(scope="module")
def suite(tmp_path_factory):
    """cyclegan (seeds 0-2), gan_only = cyclegan spoiled, cycle_only = cyclegan exactly (seeds
    0-1), gan_forward scored before per-image files existed, gan_backward still pending."""
    root = tmp_path_factory.mktemp("suite")
    rng = np.random.default_rng(10)
    stems = [f"{i:03d}" for i in range(30)]
    runs = []
    for seed in range(3):
        gt, pred = make_images(rng, n_images=30)
        base = per_image_counts(gt, pred)
        runs.append(fake_run(root, "cyclegan", seed, base, stems))
        runs.append(fake_run(root, "gan_only", seed, per_image_counts(gt, spoil(rng, gt, pred, 0.2)), stems))
        if seed < 2:
            runs.append(fake_run(root, "cycle_only", seed, base[::-1], stems[::-1]))  # other order
        runs.append(fake_run(root, "gan_forward", seed, base, stems, per_image=False))
    runs.append(Run("gan_backward", 0, root / "pending", None))
    return runs


def test_interval_frame_per_variant_and_metric(suite):
    frame = interval_frame(suite, DIRECTION, n_resamples=300)
    assert list(frame.variant.unique()) == ["cyclegan", "gan_only", "cycle_only", "gan_forward", "gan_backward"]
    row = frame[(frame.variant == "cyclegan") & (frame.metric == "class_iou")].iloc[0]
    per_seed = [r.metrics["directions"][DIRECTION]["class_iou"] for r in suite if r.variant == "cyclegan"]
    assert row.value == pytest.approx(np.mean(per_seed))
    assert row.seed_std == pytest.approx(np.std(per_seed, ddof=1))
    assert row.ci_low < row.value < row.ci_high
    assert (row.n_images, row.n_seeds, row.seeds, row.n_resamples) == (30, 3, "0,1,2", 300)
    missing = frame[frame.variant == "gan_forward"]
    assert missing.value.isna().all() and missing.note.str.contains("re-score").all()
    assert frame[frame.variant == "gan_backward"].note.eq("no finished run").all()
    assert "300 bootstrap resamples of the 30 test images" in interval_note(frame)


def test_comparison_frame_tests_recipes_over_seeds_and_applies_holm_over_the_family(suite):
    frame = comparison_frame(suite, DIRECTION, n_resamples=300, n_permutations=499)
    assert "cyclegan" not in set(frame.variant)
    spoiled = frame[frame.variant == "gan_only"]
    assert (spoiled["diff"] < 0).all() and (spoiled.ci_high < 0).all() and spoiled.significant.all()
    assert (~spoiled.better).all() and (spoiled.p_improvement == 0).all()
    assert spoiled.test.eq("Welch t").all() and (spoiled.n_seeds == 3).all()
    # cycle_only = cyclegan's seeds 0 and 1 exactly, images listed in another order: the recipe
    # comparison uses every seed of each (0,1 against 0,1,2), the image-level one the shared seeds
    same = frame[frame.variant == "cycle_only"]
    per_seed = {r.seed: r.metrics["directions"][DIRECTION] for r in suite if r.variant == "cyclegan"}
    for _, row in same.iterrows():
        expected = np.mean([per_seed[k][row.metric] for k in (0, 1)]) - np.mean(
            [per_seed[k][row.metric] for k in (0, 1, 2)])
        assert row["diff"] == pytest.approx(expected)
        assert row.ci_low < row["diff"] < row.ci_high
    assert (~same.significant).all() and (same.n_reference_seeds == 3).all()
    assert (same.checkpoints_p == 1).all(), "the same checkpoints on the same images: p = 1"
    # Holm over the family fixed by the rows (4 variants x 3 scores), untestable rows counting p = 1
    assert (frame.family_size == 12).all()
    done = frame.p.notna()
    assert done.sum() == 6
    padded = np.where(frame.p.isna(), 1.0, frame.p)
    assert np.allclose(frame.p_holm[done], holm(padded)[done.to_numpy()])
    assert (frame.p_holm[done] >= frame.p[done]).all()
    unscored = frame[frame.variant == "gan_forward"]
    assert unscored.p.isna().all() and unscored.significant.isna().all()
    note = comparison_note(frame)
    assert "= 12 tests against cyclegan" in note and "fixed by the table's rows" in note
    assert "these checkpoints differ on this test set" in note and "marks no cell" in note


def test_frames_without_the_reference_say_so_instead_of_failing(suite):
    without = [r for r in suite if r.variant != "cyclegan"]
    frame = comparison_frame(without, DIRECTION, n_resamples=50, n_permutations=50)
    assert frame.p.isna().all()
    scored = frame[frame.variant.isin(["gan_only", "cycle_only"])]
    assert scored.note.eq("reference cyclegan: no finished run").all()
    intervals, comparisons = statistics_frames(suite, DIRECTION, variants=["gan_only", "cycle_only"],
                                               n_resamples=100, n_permutations=499)
    assert set(intervals.variant) == {"gan_only", "cycle_only"}
    assert set(comparisons.variant) == {"gan_only", "cycle_only"}
    assert comparisons.significant.tolist() == [True] * 3 + [False] * 3


def test_one_seed_per_row_gives_no_interval_and_no_mark(suite):
    """One seed says nothing about a recipe: no interval, no test, and the notes say so."""
    one = [r for r in suite if r.seed == 0]
    intervals, comparisons = statistics_frames(one, DIRECTION, variants=["gan_only", "cycle_only", "cyclegan"],
                                               n_resamples=50, n_permutations=99)
    assert intervals.ci_low.isna().all() and intervals.interval.eq("none (1 seed)").all()
    assert comparisons.p.isna().all() and comparisons.significant.isna().all()
    assert comparisons.checkpoints_p.notna().all(), "the image-level test still runs on the checkpoints"
    assert "1 seed makes no statement about the recipe" in interval_note(intervals)
    assert "1 seed per row makes no statement about the recipe" in comparison_note(comparisons)


# ------------------------------------------------------------------ scoring keeps per-image matrices

class FakeLabels:
    """A label domain's ground truth: fixed trainIds per test image."""

    def __init__(self, ids):
        self.ids = ids

    def train_ids(self, i, size):
        assert size == self.ids.shape[-1]
        return self.ids[i]


class FakeSegmenter:
    """Labels a generated photo by its red channel: enough to give every image its own errors."""

    device = "cpu"

    def predict(self, photos):
        red = ((photos[:, 0] + 1.0) * 127.5).round().long()
        return red % (C + 2)  # C and C + 1: void predictions


def _write_pngs(folder, images):
    from PIL import Image

    folder.mkdir(parents=True, exist_ok=True)
    stems = [f"img{i}" for i in range(len(images))]
    for stem, image in zip(stems, images):
        Image.fromarray(image).save(folder / f"{stem}.png")
    return stems


def test_both_scorers_return_per_image_matrices_that_sum_to_the_whole_set(tmp_path):
    from benchmark.run.evaluate import score_generated_labels, score_generated_photos
    from evaluation.labels import TRAIN19, snap_to_palette, train_ids_to_colors

    rng = np.random.default_rng(11)
    gt, pred = make_images(rng, n_images=5, size=16)
    truth = FakeLabels(gt)
    colours = train_ids_to_colors(np.where(pred < C, pred, 255))  # void drawn black
    stems = _write_pngs(tmp_path / "photo2labels", colours)
    scores, counts = score_generated_labels(tmp_path / "photo2labels", stems, truth, 16, TRAIN19)
    assert counts.shape == (5, C, C + 1)
    whole = ConfusionMatrix()
    for i in range(5):
        whole.update(gt[i], snap_to_palette(colours[i], rule=TRAIN19)[0])  # what the scorer reads back
    assert np.array_equal(counts.sum(axis=0), whole.counts)
    assert scores["per_pixel_acc"] == whole.scores()["per_pixel_acc"]

    photos = rng.integers(0, 256, size=(5, 16, 16, 3), dtype=np.uint8)
    stems = _write_pngs(tmp_path / "labels2photo", photos)
    scores, counts = score_generated_photos(tmp_path / "labels2photo", stems, truth, FakeSegmenter(), 16,
                                            batch_size=2)
    expected = ConfusionMatrix()
    for i in range(5):
        expected.update(gt[i], photos[i, :, :, 0].astype(np.int64) % (C + 2))
    assert np.array_equal(counts.sum(axis=0), expected.counts)
    assert [ConfusionMatrix.from_counts(m).scores()["num_pixels"] for m in counts] == \
        [int((g != 255).sum()) for g in gt]
    assert scores == expected.scores()


def test_evaluate_run_keeps_per_image_matrices_that_sum_to_its_scores(tmp_path):
    """End to end on a tiny synthetic run: metrics.json names each file, and the report's
    interval of a one-seed run is centred on exactly the score metrics.json holds."""
    from benchmark.config import compose_config
    from benchmark.run.evaluate import evaluate_run
    from benchmark.run.train import train

    cfg = compose_config(["profile=smoke", "progress=false", "dataset.train_count=4", "dataset.test_count=5",
                          "dataset.size=32", "trainer.iterations=2", "trainer.checkpoint_every=2",
                          "trainer.sample_every=2", "evaluation.segmenter.iterations=2",
                          "evaluation.fid.enabled=false", f"store_dir={tmp_path / 'store'}",
                          f"run_dir={tmp_path / 'run'}"])
    train(cfg)
    metrics = evaluate_run(tmp_path / "run", cfg, progress=False)
    on_disk = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert on_disk["directions"].keys() == {"photo2labels", "labels2photo"}
    for direction, scores in on_disk["directions"].items():
        assert scores["per_image"] == f"per_image/{direction}.npz"
        kept = read_per_image(tmp_path / "run", direction, on_disk)
        assert kept.counts.shape == (5, C, C + 1) and len(kept.stems) == 5
        assert sorted(kept.stems) == sorted(p.stem for p in (tmp_path / "run" / "test" / direction).glob("*.png"))
        whole = ConfusionMatrix.from_counts(kept.total).scores()
        for name in SCORE_NAMES:
            assert whole[name] == scores[name]
        assert whole["per_class"] == scores["per_class"]
        run = Run("cyclegan", 0, tmp_path / "run", metrics)
        frame = interval_frame([run], direction, n_resamples=50)
        assert frame.set_index("metric").loc["per_pixel_acc", "value"] == scores["per_pixel_acc"]


def test_bootstrap_agrees_with_scipy_where_the_score_is_a_plain_mean():
    """With the same number of labelled pixels per image and no void, per-pixel accuracy of the
    summed matrix is the mean of per-image accuracies, which scipy.stats.bootstrap can resample."""
    from scipy.stats import bootstrap

    rng = np.random.default_rng(12)
    gt = rng.integers(0, C, size=(60, 10, 10))
    quality = rng.uniform(0.3, 0.9, size=(60, 1, 1))  # images differ, so the interval is wide
    pred = np.where(rng.random(gt.shape) < quality, gt, (gt + 1) % C)
    counts = per_image_counts(gt, pred)
    ours = image_bootstrap(counts, n_resamples=4000, seed=0)["per_pixel_acc"]
    per_image_acc = (pred == gt).mean(axis=(1, 2))
    theirs = bootstrap((per_image_acc,), np.mean, n_resamples=4000, method="percentile",
                       random_state=np.random.default_rng(1)).confidence_interval
    width = ours.ci_high - ours.ci_low
    assert ours.value == pytest.approx(per_image_acc.mean())
    assert abs(ours.ci_low - theirs.low) < 0.1 * width and abs(ours.ci_high - theirs.high) < 0.1 * width

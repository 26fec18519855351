"""Confusion-matrix scores: checked against sklearn and against numbers worked out by hand."""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from sklearn.metrics import confusion_matrix as sk_confusion_matrix

from evaluation.labels import CLASS_NAMES
from evaluation.metrics import ConfusionMatrix


def test_matches_sklearn_on_random_ids_with_ignore_and_void():
    rng = np.random.default_rng(0)
    c = 19
    gt = rng.integers(0, c, size=(4, 32, 32))
    gt[rng.random(gt.shape) < 0.1] = 255
    pred = rng.integers(0, c, size=gt.shape)
    pred[rng.random(gt.shape) < 0.05] = 255
    pred[rng.random(gt.shape) < 0.02] = 40  # any id >= num_classes is void too
    cm = ConfusionMatrix().update(gt, pred)
    keep = gt != 255
    p = np.where(pred[keep] >= c, c, pred[keep])
    expected = sk_confusion_matrix(gt[keep], p, labels=list(range(c + 1)))
    assert np.array_equal(cm.counts, expected[:c])
    assert np.array_equal(cm.matrix, expected[:c, :c])
    assert np.array_equal(cm.void, expected[:c, c])
    assert cm.counts.sum() == keep.sum()


def test_hand_worked_ignore_and_void():
    # 3 classes.  gt 255 is skipped (its prediction 0 counts nowhere); pred 255 and pred 7
    # are void: errors of their pixel's class that add to no column.
    gt = [0, 0, 0, 1, 1, 255, 2]
    pred = [0, 0, 1, 1, 255, 0, 7]
    cm = ConfusionMatrix(num_classes=3).update(np.array(gt), np.array(pred))
    #            pred 0  1  2  void
    assert cm.counts.tolist() == [[2, 1, 0, 0],   # gt 0
                                  [0, 1, 0, 1],   # gt 1
                                  [0, 0, 0, 1]]   # gt 2
    s = cm.scores()
    assert s["per_pixel_acc"] == pytest.approx(3 / 6)                    # diag 2+1+0 over 6 labelled
    assert s["per_class_acc"] == pytest.approx((2 / 3 + 1 / 2 + 0) / 3)  # rows include void
    # IoU: c0 2/(3+2-2), c1 1/(2+2-1), c2 0/(1+0-0)
    assert s["class_iou"] == pytest.approx((2 / 3 + 1 / 3 + 0) / 3)
    assert s["num_pixels"] == 6 and s["void_pixels"] == 2
    assert s["per_class"]["2"] == {"acc": 0.0, "iou": 0.0}


def test_hand_worked_absent_classes_are_left_out():
    # 4 classes: class 3 is in neither gt nor pred (left out of both means); class 2 is only
    # predicted (no accuracy: no gt pixels; IoU 0: it has a false positive).
    gt = [0, 0, 1, 1]
    pred = [0, 2, 1, 1]
    s = ConfusionMatrix(num_classes=4).update(gt, pred).scores()
    assert s["per_pixel_acc"] == pytest.approx(3 / 4)
    assert s["per_class_acc"] == pytest.approx((1 / 2 + 1) / 2)
    # c0 1/(2+1-1), c1 2/(2+2-2), c2 0/(0+1-0)
    assert s["class_iou"] == pytest.approx((1 / 2 + 1 + 0) / 3)
    assert s["per_class"]["3"] == {"acc": None, "iou": None}
    assert s["per_class"]["2"] == {"acc": None, "iou": 0.0}
    assert s["per_class"]["0"] == {"acc": 0.5, "iou": 0.5}


def test_per_class_names_cover_all_nineteen_and_dict_is_strict_json():
    gt = np.zeros((8, 8), dtype=np.int64)
    s = ConfusionMatrix().update(gt, gt).scores()
    assert list(s["per_class"]) == list(CLASS_NAMES)
    assert s["per_class"]["road"] == {"acc": 1.0, "iou": 1.0}
    assert s["per_class"]["sky"] == {"acc": None, "iou": None}
    assert s["per_pixel_acc"] == s["per_class_acc"] == s["class_iou"] == 1.0
    json.dumps(s, allow_nan=False)  # no NaN anywhere


def test_empty_matrix_scores_are_none():
    s = ConfusionMatrix().update(np.full((4, 4), 255), np.zeros((4, 4), dtype=int)).scores()
    assert s["per_pixel_acc"] is None and s["class_iou"] is None and s["num_pixels"] == 0


def test_torch_uint8_input_and_merge_equal_one_update():
    rng = np.random.default_rng(3)
    gt = rng.integers(0, 19, size=(2, 16, 16)).astype(np.uint8)
    pred = rng.integers(0, 21, size=(2, 16, 16)).astype(np.uint8)
    whole = ConfusionMatrix().update(gt, pred)
    a = ConfusionMatrix().update(torch.from_numpy(gt[0]), torch.from_numpy(pred[0]).long())
    b = ConfusionMatrix().update(torch.from_numpy(gt[1]), torch.from_numpy(pred[1]))
    assert np.array_equal(a.merge(b).counts, whole.counts)
    assert whole.scores() == a.scores()


def test_uint8_void_prediction_is_an_error_not_a_class():
    gt = np.array([[0, 1]], dtype=np.uint8)
    pred = np.array([[255, 1]], dtype=np.uint8)
    cm = ConfusionMatrix().update(gt, pred)
    assert cm.matrix.sum() == 1 and cm.void[0] == 1
    assert cm.scores()["per_pixel_acc"] == 0.5


def test_bad_inputs_are_refused():
    cm = ConfusionMatrix()
    with pytest.raises(ValueError, match="shapes"):
        cm.update(np.zeros((2, 2), int), np.zeros((2, 3), int))
    with pytest.raises(ValueError, match="trainIds"):
        cm.update(np.array([26]), np.array([0]))  # a labelId, not a trainId
    with pytest.raises(ValueError, match="integer"):
        cm.update(np.zeros(3, dtype=np.float32), np.zeros(3, dtype=int))
    with pytest.raises(ValueError, match="merge"):
        cm.merge(ConfusionMatrix(num_classes=3))

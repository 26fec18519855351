"""The layout-blind sanity row: each scene scored against another scene's image."""
import numpy as np
import pytest

from benchmark.run.sanity import other_scene, other_scene_scores


def test_other_scene_never_pairs_a_scene_with_itself_and_uses_every_scene_once():
    for n in (2, 3, 6, 7, 500):
        pairs = other_scene(n)
        assert sorted(pairs) == list(range(n))
        assert all(i != j for i, j in enumerate(pairs))
    with pytest.raises(ValueError, match="at least 2 test scenes"):
        other_scene(1)


def test_other_scene_scores_read_another_scenes_prediction():
    """Two scenes, each predicted perfectly: scored against each other's prediction, only the
    pixels where their layouts agree count."""
    a = np.array([[0, 0], [1, 1]])  # road on top, sidewalk below
    b = np.array([[0, 1], [0, 1]])  # road left, sidewalk right
    scores = other_scene_scores([a, b], [a.copy(), b.copy()])
    assert scores["per_pixel_acc"] == pytest.approx(0.5)  # 2 of 4 pixels agree in each pairing
    same = other_scene_scores([a, a], [a.copy(), a.copy()])
    assert same["per_pixel_acc"] == 1.0  # identical layouts: layout-blind is then perfect

"""The Fréchet distance in its symmetric form equals torch-fidelity's own formula."""
from __future__ import annotations

import numpy as np
import pytest
from torch_fidelity.metric_fid import fid_statistics_to_metric

from evaluation.frechet import frechet_distance, trace_sqrt_product


def _stats(features: np.ndarray) -> dict:
    return {"mu": features.mean(axis=0), "sigma": np.cov(features, rowvar=False)}


@pytest.mark.parametrize(("n1", "n2", "d", "rtol"), [(8, 8, 256, 1e-5), (40, 25, 256, 1e-5), (600, 500, 64, 1e-9)])
def test_matches_torch_fidelity_rank_deficient_and_full_rank(n1, n2, d, rtol):
    rng = np.random.default_rng(n1 + n2)
    x = rng.normal(size=(n1, d))
    y = rng.normal(loc=0.3, scale=1.5, size=(n2, d)) @ rng.normal(size=(d, d)) / np.sqrt(d)
    ours = frechet_distance(_stats(x), _stats(y))
    theirs = fid_statistics_to_metric(_stats(x), _stats(y), verbose=False)["frechet_inception_distance"]
    assert ours == pytest.approx(theirs, rel=rtol)


def test_identical_sets_are_at_distance_zero_and_the_trace_is_symmetric():
    rng = np.random.default_rng(0)
    s = _stats(rng.normal(size=(30, 128)))
    t = _stats(rng.normal(size=(50, 128)) * 2)
    assert frechet_distance(s, s) == pytest.approx(0.0, abs=1e-8)
    assert trace_sqrt_product(s["sigma"], t["sigma"]) == pytest.approx(
        trace_sqrt_product(t["sigma"], s["sigma"]), rel=1e-6)
    # a shifted mean adds exactly its squared length
    shifted = {"mu": s["mu"] + 0.5, "sigma": s["sigma"]}
    assert frechet_distance(s, shifted) == pytest.approx(0.25 * 128, rel=1e-6)

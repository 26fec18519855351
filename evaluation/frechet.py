"""FID and KID from torch-fidelity's parts, with the Fréchet distance's matrix square root taken
in its symmetric form.

Why not `torch_fidelity.calculate_metrics(fid=True)`: it takes tr √(Σ₁Σ₂) from `numpy.linalg.eigvals`
of the non-symmetric product Σ₁Σ₂ (2048×2048). On a 2-core CPU that takes 17–32 s per score, and
longest exactly where the suite lives (tens of test images: Σ is rank-deficient and the
non-symmetric solver converges slowly); the suite scores up to a dozen folders per report. The
same quantity is tr √(Σ₁^½ Σ₂ Σ₁^½): Σ₁Σ₂ is similar to that symmetric PSD matrix, so their
eigenvalues are equal. With Σ₁ = V diag(w) Vᵀ and S = V_r diag(√w_r) over its r non-zero
eigenvalues, the non-zero eigenvalues of Σ₁^½ Σ₂ Σ₁^½ are those of the r×r matrix Sᵀ Σ₂ S:
one symmetric eigendecomposition of Σ₁ plus one of size r. Measured here: 0.9 s instead of
31.8 s at 8 images, agreeing to 4e-6 relative (the non-symmetric solver's round-off on the
zero eigenvalues), and to 1e-8 when Σ has full rank (tests/test_frechet.py checks both against
torch-fidelity's own formula).

Everything else is torch-fidelity's: the feature extractor, feature extraction with its cache,
the statistics (mean, `np.cov`) with their cache, and KID.
"""
from __future__ import annotations

from typing import Any

import numpy as np


def trace_sqrt_product(sigma1: np.ndarray, sigma2: np.ndarray) -> float:
    """tr √(Σ₁Σ₂) for two covariance matrices (module docstring)."""
    w, v = np.linalg.eigh(np.asarray(sigma1, dtype=np.float64))
    keep = w > max(float(w.max()), 0.0) * w.size * np.finfo(np.float64).eps
    s = v[:, keep] * np.sqrt(w[keep])
    lam = np.linalg.eigvalsh(s.T @ np.asarray(sigma2, dtype=np.float64) @ s)
    return float(np.sqrt(np.clip(lam, 0.0, None)).sum())


def frechet_distance(stats1: dict, stats2: dict) -> float:
    """‖μ₁ − μ₂‖² + tr Σ₁ + tr Σ₂ − 2 tr √(Σ₁Σ₂): torch-fidelity's statistics in, its FID out."""
    diff = np.asarray(stats1["mu"], dtype=np.float64) - np.asarray(stats2["mu"], dtype=np.float64)
    sigma1, sigma2 = stats1["sigma"], stats2["sigma"]
    return float(diff.dot(diff) + np.trace(sigma1) + np.trace(sigma2)
                 - 2.0 * trace_sqrt_product(sigma1, sigma2))


def fid_and_kid(**kwargs: Any) -> dict[str, float]:
    """torch-fidelity's FID and KID of `input1` against `input2` (the keyword arguments of
    `torch_fidelity.calculate_metrics`, with one feature extractor and one layer for both), the
    FID's square root taken by `frechet_distance`. Returns torch-fidelity's result keys."""
    import torch_fidelity
    from torch_fidelity.metric_fid import fid_featuresdict_to_statistics_cached
    from torch_fidelity.metric_kid import kid_featuresdict_to_metric
    from torch_fidelity.utils import (
        create_feature_extractor,
        extract_featuresdict_from_input_id_cached,
        get_cacheable_input_name,
        resolve_feature_extractor,
        resolve_feature_layer_for_metric,
    )

    kwargs = {**kwargs, "fid": True, "kid": True, "isc": False, "prc": False}
    layer = resolve_feature_layer_for_metric("fid", **kwargs)
    if resolve_feature_layer_for_metric("kid", **kwargs) != layer:
        raise ValueError("fid_and_kid: FID and KID must use the same feature layer")
    extractor = create_feature_extractor(resolve_feature_extractor(**kwargs), [layer], **kwargs)
    features = [extract_featuresdict_from_input_id_cached(i, extractor, **kwargs) for i in (1, 2)]
    stats = [fid_featuresdict_to_statistics_cached(f, get_cacheable_input_name(i, **kwargs), extractor, layer,
                                                   **kwargs) for i, f in zip((1, 2), features)]
    out = {torch_fidelity.KEY_METRIC_FID: frechet_distance(*stats)}
    out.update(kid_featuresdict_to_metric(*features, layer, **kwargs))
    return out

"""FID/KID through torch-fidelity, with a self-made Inception weights file and no network.

The weights are torch-fidelity's own Inception architecture with RANDOM values (the real file
cannot be downloaded here); the properties checked hold for any fixed feature extractor.
Inception runs at 299x299 whatever the input size, so the image sets are tiny, and the property
tests use its first feature layer ("64"): torch-fidelity then stops the network early and the
Frechet distance needs 64x64 instead of 2048x2048 matrix algebra (minutes on a busy 2-core CPU).
The default 2048-d layer is checked to be what is asked of torch-fidelity.
"""
from __future__ import annotations

import time
from unittest import mock

import numpy as np
import pytest
import scipy.linalg
import torch
from PIL import Image

import evaluation.fid as fid_mod
from evaluation.fid import (InceptionWeightsError, check_inception_weights, compute_fid_kid,
                            write_image_folder)

N_REAL, N_GEN = 5, 6
LAYER = "64"
UNREACHABLE = "http://weights.invalid/v0.2.0/weights-inception-2015-12-05-6726825d.pth"


@pytest.fixture(autouse=True)
def no_network_and_empty_hub(tmp_path, monkeypatch):
    """Nothing may be downloaded: an unresolvable URL and an empty torch hub cache."""
    monkeypatch.setattr(fid_mod, "_inception_url", lambda: UNREACHABLE)
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path / "hub"))


@pytest.fixture(scope="module")
def random_weights(tmp_path_factory):
    """torch-fidelity's inception-v3-compat with random (He-scaled) weights, saved as a file."""
    import torch_fidelity.feature_extractor_inceptionv3 as fe
    with mock.patch.object(fe.FeatureExtractorInceptionV3, "load_state_dict", lambda self, sd, *a, **k: None), \
            mock.patch.object(fe, "load_state_dict_from_url", lambda *a, **k: {}):
        net = fe.FeatureExtractorInceptionV3("inception-v3-compat", ["2048"])
    g = torch.Generator().manual_seed(0)
    state = net.state_dict()
    for key, value in state.items():
        if key.endswith("conv.weight"):
            fan_in = value[0].numel()
            state[key] = torch.randn(value.shape, generator=g) * (2.0 / fan_in) ** 0.5
        elif key == "fc.weight":
            state[key] = torch.randn(value.shape, generator=g) * 0.01
    path = tmp_path_factory.mktemp("weights") / "random-inception.pth"
    torch.save(state, path)
    return path


def base_images(n: int, seed: int) -> np.ndarray:
    """Smooth random colour fields, 64x64 uint8: image-like, unlike white noise."""
    rng = np.random.default_rng(seed)
    small = rng.integers(0, 256, size=(n, 3, 8, 8)).astype(np.float32)
    big = torch.nn.functional.interpolate(torch.from_numpy(small), size=(64, 64), mode="bilinear")
    return big.round().clamp(0, 255).to(torch.uint8).permute(0, 2, 3, 1).numpy()


def noisy(images: np.ndarray, sigma: float, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return np.clip(images + rng.normal(0, sigma, images.shape), 0, 255).astype(np.uint8)


@pytest.fixture(scope="module")
def folders(tmp_path_factory):
    root = tmp_path_factory.mktemp("sets")
    real = base_images(N_REAL, 0)
    gen = base_images(N_GEN, 1)  # another draw of the same distribution
    out = {"real": write_image_folder(real, root / "real")}
    for sigma in (10, 40, 100):
        out[sigma] = write_image_folder(noisy(gen, sigma, sigma), root / f"noise{sigma}")
    return out


def test_set_against_itself_gives_zero(random_weights, folders):
    r = compute_fid_kid(folders["real"], folders["real"], weights_path=random_weights, feature_layer=LAYER)
    assert abs(r["fid"]) < 1e-3
    assert abs(r["kid"]) < 1e-2
    assert r["kid_subset_size"] == N_REAL
    assert r["feature_extractor"] == "inception-v3-compat" and r["torch_fidelity_version"]


def test_fid_grows_with_noise_and_equals_an_independent_frechet_distance(random_weights, folders, tmp_path):
    cache = tmp_path / "feature-cache"
    results = {s: compute_fid_kid(folders[s], folders["real"], weights_path=random_weights, cache_dir=cache,
                                  feature_layer=LAYER)
               for s in (10, 40, 100)}
    fids = [results[s]["fid"] for s in (10, 40, 100)]
    assert fids[0] > 1e-3 and fids[0] < fids[1] < fids[2], fids
    assert results[10]["kid"] < results[100]["kid"]
    # KID subsets never exceed either set: 6 generated vs 5 real -> 5
    assert all(r["kid_subset_size"] == N_REAL and r["num_generated"] == N_GEN for r in results.values())
    assert any(cache.iterdir()), "real features were not cached"

    # The same number from features extracted by torch-fidelity's extractor and scipy's sqrtm.
    from torch_fidelity.feature_extractor_inceptionv3 import FeatureExtractorInceptionV3
    net = FeatureExtractorInceptionV3("inception-v3-compat", [LAYER], feature_extractor_weights_path=str(random_weights))

    def features(folder):
        imgs = np.stack([np.asarray(Image.open(p)) for p in sorted(folder.glob("*.png"))])
        with torch.no_grad():
            return net(torch.from_numpy(imgs).permute(0, 3, 1, 2).contiguous())[0].double().numpy()

    f1, f2 = features(folders[100]), features(folders["real"])
    mu1, mu2 = f1.mean(0), f2.mean(0)
    s1, s2 = np.cov(f1, rowvar=False), np.cov(f2, rowvar=False)
    # tr sqrt(s1 s2) = tr sqrt(s1^1/2 s2 s1^1/2), a symmetric PSD matrix: stable for low-rank s1, s2
    r1 = scipy.linalg.sqrtm(s1).real
    covmean = scipy.linalg.sqrtm(r1 @ s2 @ r1).real
    expected = float(((mu1 - mu2) ** 2).sum() + np.trace(s1) + np.trace(s2) - 2 * np.trace(covmean))
    assert results[100]["fid"] == pytest.approx(expected, rel=1e-3)


def test_default_layer_is_the_2048_pool_and_device_and_subset_size_are_passed(random_weights, folders, monkeypatch):
    import torch_fidelity
    seen = {}

    def fake(**kwargs):  # only records what would be asked of torch-fidelity
        seen.update(kwargs)
        return {"frechet_inception_distance": 1.0, "kernel_inception_distance_mean": 2.0,
                "kernel_inception_distance_std": 3.0}

    monkeypatch.setattr(torch_fidelity, "calculate_metrics", fake)
    r = compute_fid_kid(folders[10], folders["real"], weights_path=random_weights)
    assert "feature_layer_fid" not in seen and "feature_layer_kid" not in seen  # torch-fidelity's default
    assert r["feature_layer"] == "2048"
    assert seen["kid_subset_size"] == N_REAL and seen["cuda"] is False and seen["fid"] and seen["kid"]
    assert seen["feature_extractor"] == "inception-v3-compat"
    assert seen["feature_extractor_weights_path"] == str(random_weights)


def test_missing_weights_without_network_is_unavailable_fast(folders):
    start = time.monotonic()
    r = compute_fid_kid(folders[10], folders["real"], timeout_s=3)
    assert time.monotonic() - start < 5
    assert set(r) == {"unavailable"}
    assert "evaluation.fid.weights_path=" in r["unavailable"]
    assert "weights-inception-2015-12-05-6726825d.pth" in r["unavailable"]
    assert "weights.invalid unreachable" in r["unavailable"]


def test_a_hanging_host_is_given_up_after_the_timeout(monkeypatch):
    def hang(*args, **kwargs):
        time.sleep(30)

    monkeypatch.setattr(fid_mod.urllib.request, "urlopen", hang)
    start = time.monotonic()
    ok, reason = check_inception_weights(None, timeout_s=1)
    assert not ok and "timed out" in reason
    assert time.monotonic() - start < 3


def test_cached_weights_are_found_where_torch_fidelity_caches_them(random_weights, tmp_path):
    cached = tmp_path / "hub" / "checkpoints" / "weights-inception-2015-12-05-6726825d.pth"
    assert fid_mod.cached_inception_path() == cached
    cached.parent.mkdir(parents=True)
    cached.symlink_to(random_weights)
    ok, reason = check_inception_weights(None)
    assert ok and str(cached) in reason


def test_broken_weights_files_are_clear_errors(folders, tmp_path):
    corrupt = tmp_path / "corrupt.pth"
    corrupt.write_bytes(b"\x00garbage")
    with pytest.raises(InceptionWeightsError, match=r"corrupt\.pth does not load.*weights-inception-2015-12-05"):
        compute_fid_kid(folders[10], folders["real"], weights_path=corrupt)
    wrong = tmp_path / "wrong.pth"
    torch.save({"fc.weight": torch.zeros(10, 10)}, wrong)
    with pytest.raises(InceptionWeightsError, match="not torch-fidelity's Inception"):
        check_inception_weights(wrong)
    with pytest.raises(InceptionWeightsError, match="does not exist"):
        check_inception_weights(tmp_path / "absent.pth")


def test_too_few_images_and_missing_folders_are_refused(folders, tmp_path):
    one = write_image_folder(base_images(1, 5), tmp_path / "one")
    with pytest.raises(ValueError, match="at least 2"):
        compute_fid_kid(one, folders["real"])
    with pytest.raises(FileNotFoundError, match="does not exist"):
        compute_fid_kid(tmp_path / "nothing", folders["real"])


def test_write_image_folder_formats_and_replacement(tmp_path):
    t = torch.tensor([-1.0, 0.0, 1.0]).view(3, 1, 1).expand(3, 4, 4)
    folder = write_image_folder([t, t[None].repeat(2, 1, 1, 1), np.zeros((4, 4, 3), np.uint8)], tmp_path / "x")
    names = sorted(p.name for p in folder.iterdir())
    assert names == ["00000.png", "00001.png", "00002.png", "00003.png"]
    assert np.asarray(Image.open(folder / "00000.png"))[0, 0].tolist() == [0, 128, 255]
    write_image_folder([np.full((4, 4, 3), 7, np.uint8)], folder)  # replaces the whole set
    assert sorted(p.name for p in folder.iterdir()) == ["00000.png"]
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]
    with pytest.raises(ValueError, match="RGB"):
        write_image_folder([np.zeros((4, 4))], tmp_path / "y")

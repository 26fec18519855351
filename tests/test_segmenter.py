"""The segmentation evaluator: learns, caches, resumes exactly, refuses the wrong checkpoint.

Everything runs on synthetic data made here, at 32x32 (16x16 for the resume check), so the
file stays within seconds of CPU time.
"""
from __future__ import annotations

import csv

import pytest
import torch
from torch.utils.data import Dataset, TensorDataset

import evaluation.segmenter_training as training_mod
from evaluation.segmenter import SegmenterConfig, build_segmentation_network, load_segmenter, score_segmenter
from evaluation.segmenter_training import train_segmenter

R = 32
COLOURS = torch.tensor([[1.0, -1.0, -1.0], [-1.0, 1.0, -1.0], [-1.0, -1.0, 1.0]])


def colour_to_class(n: int, size: int, seed: int) -> TensorDataset:
    """Each image is one noisy colour; its class (0, 1 or 2) covers every pixel; a quarter of
    the pixels are 255 (ignore) so the loss must skip them."""
    g = torch.Generator().manual_seed(seed)
    cls = torch.randint(0, 3, (n,), generator=g)
    x = COLOURS[cls][:, :, None, None].expand(n, 3, size, size) + 0.1 * torch.randn(n, 3, size, size, generator=g)
    y = cls[:, None, None].expand(n, size, size).clone()
    y[:, : size // 4] = 255
    return TensorDataset(x.clamp(-1, 1), y)


LEARN_CFG = SegmenterConfig(resolution=R, iterations=30, batch_size=8, lr=5e-3, precise_bn_batches=5,
                            scale_max=1.2, checkpoint_every=10)


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    out = tmp_path_factory.mktemp("seg")
    path = train_segmenter(LEARN_CFG, colour_to_class(64, R, 0), dataset_name="toy", out_dir=out,
                           val_set=colour_to_class(12, R, 1), progress=False)
    return path


def test_learns_a_colour_to_class_mapping(trained):
    with open(trained.parent / "train_log.csv") as fh:
        losses = [float(r["loss"]) for r in csv.DictReader(fh)]
    assert len(losses) == LEARN_CFG.iterations
    assert sum(losses[-5:]) / 5 < 0.5 * sum(losses[:5]) / 5
    seg = load_segmenter(trained, dataset_name="toy", resolution=R)
    scores = score_segmenter(seg, colour_to_class(12, R, 2), batch_size=5).scores()
    assert scores["per_pixel_acc"] > 0.95
    saved = torch.load(trained, weights_only=True)
    assert saved["val_scores"]["per_pixel_acc"] > 0.95
    assert saved["hash"] == LEARN_CFG.hash("toy") and saved["resolution"] == R and saved["num_classes"] == 19
    assert saved["config"]["arch"] == "lraspp_mobilenet_v3_large" and saved["torch_version"] == str(torch.__version__)
    assert not (trained.parent / "segmenter.ckpt").exists()


def test_second_call_is_a_cache_hit(trained, monkeypatch):
    def no_training(*args, **kwargs):
        raise AssertionError("trained again despite a cached evaluator with the same hash")

    monkeypatch.setattr(training_mod, "build_segmentation_network", no_training)
    again = train_segmenter(LEARN_CFG, colour_to_class(64, R, 0), dataset_name="toy", out_dir=trained.parent,
                            progress=False)
    assert again == trained


def test_predict_shape_dtype_autocast_and_size_check(trained):
    seg = load_segmenter(trained, dataset_name="toy", resolution=R, device="cpu")
    x = colour_to_class(3, R, 3).tensors[0]
    pred = seg.predict(x)
    assert pred.shape == (3, R, R) and pred.dtype == torch.int64
    assert int(pred.min()) >= 0 and int(pred.max()) < 19
    with torch.autocast("cpu", dtype=torch.bfloat16):
        pred_amp = seg(x)
    assert pred_amp.shape == (3, R, R) and pred_amp.dtype == torch.int64
    with pytest.raises(ValueError, match=r"expected images of size \(32, 32\), got \(64, 64\)"):
        seg.predict(torch.zeros(1, 3, 64, 64))
    with pytest.raises(ValueError, match="float"):
        seg.predict(torch.zeros(1, 3, R, R, dtype=torch.uint8))


def test_refuses_other_dataset_resolution_and_missing_file(trained, tmp_path):
    with pytest.raises(ValueError, match="'toy', not 'cityscapes'"):
        load_segmenter(trained, dataset_name="cityscapes", resolution=R)
    with pytest.raises(ValueError, match="trained at 32x32.*128x128"):
        load_segmenter(trained, dataset_name="toy", resolution=128)
    with pytest.raises(FileNotFoundError, match=r"evaluation\.segmenter\.checkpoint=.*|benchmark evaluator train"):
        load_segmenter(tmp_path / "nope.pt", dataset_name="toy", resolution=R)
    try:
        load_segmenter(None, dataset_name="maps", resolution=R)
    except FileNotFoundError as e:
        msg = str(e)
    assert "benchmark evaluator train maps" in msg and "evaluation.segmenter.checkpoint=" in msg
    bad = tmp_path / "segmenter.pt"
    bad.write_bytes(b"not a checkpoint")
    with pytest.raises(RuntimeError, match="not a readable segmenter checkpoint"):
        load_segmenter(bad, dataset_name="toy", resolution=R)


class CrashAfter(Dataset):
    """Raises once `limit` samples have been read: a run killed mid-training."""

    def __init__(self, base: Dataset, limit: int):
        self.base, self.limit, self.reads = base, limit, 0

    def __len__(self):
        return len(self.base)

    def __getitem__(self, i):
        self.reads += 1
        if self.reads > self.limit:
            raise KeyboardInterrupt("simulated kill")
        return self.base[i]


def test_resume_after_interruption_gives_identical_weights(tmp_path, capsys):
    cfg = SegmenterConfig(resolution=16, iterations=6, batch_size=2, lr=1e-3, checkpoint_every=2,
                          precise_bn_batches=2, scale_max=1.3)
    data = colour_to_class(10, 16, 4)
    whole = train_segmenter(cfg, data, dataset_name="toy", out_dir=tmp_path / "whole", progress=False)

    out = tmp_path / "killed"
    with pytest.raises(KeyboardInterrupt):
        # 4 iterations x 2 samples are read, the 5th iteration dies: the checkpoint of step 4 stays
        train_segmenter(cfg, CrashAfter(data, limit=9), dataset_name="toy", out_dir=out, progress=False)
    ckpt = torch.load(out / "segmenter.ckpt", weights_only=True)
    assert ckpt["iteration"] == 4 and not (out / "segmenter.pt").exists()
    resumed = train_segmenter(cfg, data, dataset_name="toy", out_dir=out, progress=False)
    assert "resuming" in capsys.readouterr().out

    a = torch.load(whole, weights_only=True)["state_dict"]
    b = torch.load(resumed, weights_only=True)["state_dict"]
    assert a.keys() == b.keys()
    assert all(torch.equal(a[k], b[k]) for k in a)
    with open(out / "train_log.csv") as fh:
        assert [int(r["iteration"]) for r in csv.DictReader(fh)] == [1, 2, 3, 4, 5, 6]


def test_hash_covers_results_not_speed_settings():
    base = SegmenterConfig()
    assert base.hash("cityscapes") == SegmenterConfig().hash("cityscapes")
    assert len(base.hash("cityscapes")) == 12
    assert base.hash("cityscapes") != base.hash("maps")
    assert SegmenterConfig(lr=1e-4).hash("cityscapes") != base.hash("cityscapes")
    assert SegmenterConfig(resolution=256).hash("cityscapes") != base.hash("cityscapes")
    assert SegmenterConfig(num_workers=4, checkpoint_every=7).hash("cityscapes") == base.hash("cityscapes")
    assert SegmenterConfig.from_dict(base.to_dict()) == base


def test_bad_settings_and_data_are_refused(tmp_path):
    with pytest.raises(ValueError, match="arch='unet'"):
        SegmenterConfig(arch="unet")
    with pytest.raises(ValueError, match="class_weighting"):
        SegmenterConfig(class_weighting="median")
    cfg = SegmenterConfig(resolution=16, iterations=1, batch_size=2)
    with pytest.raises(ValueError, match="3x16x16 images"):
        train_segmenter(cfg, colour_to_class(4, 8, 0), dataset_name="toy", out_dir=tmp_path, progress=False)
    with pytest.raises(ValueError, match="empty"):
        train_segmenter(cfg, colour_to_class(0, 16, 0), dataset_name="toy", out_dir=tmp_path, progress=False)


def test_bare_network_for_a_number_of_classes():
    net = build_segmentation_network(num_classes=5).eval()  # the default architecture
    with torch.no_grad():
        assert net(torch.zeros(1, 3, 32, 32))["out"].shape == (1, 5, 32, 32)
    assert SegmenterConfig().arch == "lraspp_mobilenet_v3_large"
    with pytest.raises(ValueError, match="unknown segmenter arch 'unet'"):
        build_segmentation_network("unet", 5)

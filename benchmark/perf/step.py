"""One training iteration of any model, timed two ways: the whole step and the networks alone.

"Whole step" is what the trainer does per iteration, run by the trainer's own code
(benchmark/run/step.py): draw the batch from the real data path (UnpairedIterations,
DataLoader), move it to the device, `train_step` (losses, image pools, optimisers, schedulers),
and hand the losses to the LossBuffer, drained every step as the profiles' `log_every: 1`
does. "Networks only" replays exactly the network calls that one `train_step` made -- recorded
with forward hooks: which network, the input shape, whether the input needed a gradient,
whether the network's weights did, grad mode -- on fresh inputs, and runs one backward over
all of them: the forward and backward work of G, F, D_X, D_Y (or a baseline's networks) with
nothing around it. The difference is the per-iteration overhead the issue asks to keep below
15%.

Hand-written: torch.profiler can attribute time to modules, but its own per-op cost is of the
order of the overhead being measured at these sizes.
"""
from __future__ import annotations

import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch import nn

from benchmark.run.step import to_channels_last

#: The ablation presets, in the order of Tables 4-5; every other model config is a baseline.
VARIANTS = ("cyclegan", "gan_only", "cycle_only", "gan_forward", "gan_backward")


@dataclass(frozen=True)
class Shape:
    """One network size: the cpu profile's, the paper's two, or a tiny one for tests."""

    name: str
    n_blocks: int
    size: int
    batch: int = 1
    filters: int = 64
    disc_filters: int = 64

    @property
    def load_size(self) -> int:  # the paper's 286/256 resize before the random crop
        return int(round(self.size * 286 / 256))

    def describe(self) -> str:
        return (f"{self.n_blocks} blocks, {self.size}², batch {self.batch}"
                + ("" if self.filters == 64 else f", {self.filters} filters"))


@dataclass(frozen=True)
class ModelChoice:
    name: str
    kind: str                 # "variant" | "baseline"
    skip: str | None = None   # why it cannot be measured here (unknown family, ...)


def model_choices() -> list[ModelChoice]:
    """The five presets, then every other model config whose family is registered."""
    from omegaconf import OmegaConf

    from benchmark.config import available, config_file
    from benchmark.import_path import is_import_path
    from benchmark.model_registry import MODEL_FAMILIES

    names = available("model")  # the user's own (--config-dir) too
    out = [ModelChoice(n, "variant") for n in VARIANTS if n in names]
    for name in names:
        if name in VARIANTS:
            continue
        family = _family(OmegaConf.load(config_file("model", name)))
        if family == "cyclegan":
            out.append(ModelChoice(name, "variant"))
        elif family in MODEL_FAMILIES or is_import_path(family):
            out.append(ModelChoice(name, "baseline"))
        else:
            out.append(ModelChoice(name, "baseline", skip=f"model.family={family!r} is not registered "
                                                         "in benchmark/model_registry.py MODEL_FAMILIES"))
    return out


def _family(node) -> str | None:
    """model.family of a config file, following its `defaults: [parent, _self_]` if needed."""
    from omegaconf import OmegaConf

    from benchmark.config import config_file

    if node.get("family"):
        return str(node.family)
    for parent in node.get("defaults") or []:
        if isinstance(parent, str) and parent != "_self_" and config_file("model", parent):
            return _family(OmegaConf.load(config_file("model", parent)))
    return None


def compose_for(model: str, shape: Shape, device: torch.device, precision: str,
                memory_format: str = "contiguous"):
    """The root config of `model` at `shape`, precision and memory format (cpu profile
    otherwise: lr 2e-4, betas (0.5, 0.999)), synthetic data."""
    from benchmark.config import compose_config

    return compose_config([
        f"model={model}", "profile=cpu", "dataset=synthetic", f"device={device}",
        f"trainer.precision={precision}", f"trainer.channels_last={str(memory_format == 'channels_last').lower()}",
        "progress=false",
        f"network.n_blocks={shape.n_blocks}", f"network.base_filters={shape.filters}",
        f"network.disc_base_filters={shape.disc_filters}", f"data.crop_size={shape.size}",
        f"data.load_size={shape.load_size}", f"trainer.batch_size={shape.batch}",
        "data.num_workers=0", f"dataset.size={max(shape.load_size, 32)}",
        "dataset.train_count=8", "dataset.test_count=2"])


@dataclass(frozen=True)
class TensorSlot:
    """Where a call took a tensor: its shape, dtype, memory format and whether it needed a grad."""

    shape: tuple[int, ...]
    dtype: torch.dtype
    requires_grad: bool
    channels_last: bool

    @classmethod
    def of(cls, t: torch.Tensor) -> TensorSlot:
        cl = t.dim() == 4 and not t.is_contiguous() and t.is_contiguous(memory_format=torch.channels_last)
        return cls(tuple(t.shape), t.dtype, t.requires_grad, cl)

    def fresh(self, gen: torch.Generator, device: torch.device) -> torch.Tensor:
        if not self.dtype.is_floating_point:  # indices, masks: zeros of the same kind
            return torch.zeros(self.shape, dtype=self.dtype, device=device)
        t = (torch.rand(self.shape, generator=gen) * 2 - 1).to(device=device, dtype=self.dtype)
        if self.channels_last:
            t = to_channels_last(t)
        return t.requires_grad_(self.requires_grad)


@dataclass
class CallRecord:
    network: str
    args: tuple           # positional arguments, tensors replaced by TensorSlot
    kwargs: dict          # keyword arguments, likewise
    weights_grad: bool
    grad_enabled: bool

    def inputs(self) -> list[TensorSlot]:
        return [a for a in (*self.args, *self.kwargs.values()) if isinstance(a, TensorSlot)]


def _slots(obj):
    """`obj` with every tensor replaced by its TensorSlot (lists, tuples, dicts followed)."""
    if isinstance(obj, torch.Tensor):
        return TensorSlot.of(obj)
    if isinstance(obj, (list, tuple)):
        return type(obj)(_slots(o) for o in obj)
    if isinstance(obj, dict):
        return {k: _slots(v) for k, v in obj.items()}
    return obj


def _fill(obj, gen: torch.Generator, device: torch.device):
    if isinstance(obj, TensorSlot):
        return obj.fresh(gen, device)
    if isinstance(obj, (list, tuple)):
        return type(obj)(_fill(o, gen, device) for o in obj)
    if isinstance(obj, dict):
        return {k: _fill(v, gen, device) for k, v in obj.items()}
    return obj


@dataclass
class StepUnderTest:
    """A model ready to step, with `whole()` and `networks_only()` callables."""

    model: nn.Module
    whole: Callable[[], None]
    networks_only: Callable[[], None]
    calls: list[CallRecord] = field(default_factory=list)
    cleanup: Callable[[], None] = lambda: None


def _tensors(obj) -> list[torch.Tensor]:
    if isinstance(obj, torch.Tensor):
        return [obj]
    if isinstance(obj, (list, tuple)):
        return [t for o in obj for t in _tensors(o)]
    if isinstance(obj, dict):
        return [t for o in obj.values() for t in _tensors(o)]
    return []


def record_network_calls(model, step: Callable[[], object]) -> list[CallRecord]:
    """Run `step` once and return every call of one of `model.networks()`, in order."""
    calls: list[CallRecord] = []

    def hook(name):
        def record(module, args, kwargs, _output):
            calls.append(CallRecord(name, _slots(tuple(args)), _slots(dict(kwargs)),
                                    any(p.requires_grad for p in module.parameters()),
                                    torch.is_grad_enabled()))
        return record

    handles = [net.register_forward_hook(hook(name), with_kwargs=True)
               for name, net in model.networks().items()]
    try:
        step()
    finally:
        for h in handles:
            h.remove()
    return calls


def replay(model, calls: list[CallRecord], device: torch.device) -> Callable[[], None]:
    """A callable doing the recorded network calls on fresh inputs, then one backward."""
    networks = model.networks()
    gen = torch.Generator().manual_seed(3)
    inputs = [(_fill(c.args, gen, device), _fill(c.kwargs, gen, device)) for c in calls]
    params = list(model.parameters())
    saved = [p.requires_grad for p in params]

    def run() -> None:
        total = None
        with model.autocast(device.type):
            for call, (args, kwargs) in zip(calls, inputs):
                for p in networks[call.network].parameters():
                    p.requires_grad_(call.weights_grad)
                with torch.set_grad_enabled(call.grad_enabled):
                    outs = [t for t in _tensors(networks[call.network](*args, **kwargs))
                            if t.requires_grad]
                for t in outs:
                    term = t.float().mean()
                    total = term if total is None else total + term
        if total is not None:
            total.backward()
        for p, flag in zip(params, saved):
            p.grad = None
            p.requires_grad_(flag)
        for t in _tensors(inputs):
            t.grad = None

    return run


def prepare(model_name: str, shape: Shape, precision: str, memory_format: str,
            device: torch.device) -> StepUnderTest:
    """Build the model the trainer would build and the two step callables around it: `whole`
    is the trainer's own step (benchmark/run/step.py), `networks_only` its network calls."""
    from torch.utils.data import DataLoader

    from benchmark.data import open_domains
    from benchmark.data.iteration import UnpairedIterations, iteration_sampler
    from benchmark.run.step import TrainStep, build_trainable
    from benchmark.run.train import TrainLog, linear_decay

    cfg = compose_for(model_name, shape, device, precision, memory_format)
    torch.manual_seed(0)
    model, _ = build_trainable(cfg, device, linear_decay(10**6, 2 * 10**6))
    pair = open_domains(cfg.dataset, cfg.dataset.train_split)
    data = UnpairedIterations(pair, load_size=shape.load_size, crop_size=shape.size, flip=True, seed=0,
                              paired=bool(cfg.model.get("paired", False)))
    batches = iter(DataLoader(data, batch_sampler=iteration_sampler(0, 10**9, shape.batch),
                              num_workers=0, pin_memory=device.type == "cuda"))
    tmp = tempfile.TemporaryDirectory(prefix="perf-log-")
    log = TrainLog(Path(tmp.name) / "train_log.csv", resume_from=0)
    step, counter = TrainStep(model, device, channels_last=bool(cfg.trainer.channels_last)), [0]

    def whole() -> None:
        step(counter[0], next(batches))
        for done in step.losses.drain():  # log_every: 1, as in the profiles
            log.write({"iteration": done.iteration, **done.losses, **done.extra})
        counter[0] += 1

    x, y = step.inputs(next(iter(DataLoader(data, batch_sampler=iteration_sampler(0, 1, shape.batch)))))
    calls = record_network_calls(model, lambda: model.train_step(x, y))

    def cleanup() -> None:
        log.close()
        tmp.cleanup()

    return StepUnderTest(model, whole, replay(model, calls, device), calls, cleanup)

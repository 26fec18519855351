"""`benchmark check model=...`: a model class against the TranslationModel contract, in seconds.

A method written outside this repository (`family: mypkg.translation:MyMethod`) meets the
trainer, the checkpoints and the evaluator for the first time when a suite runs it, maybe as a
SLURM array hours later. Each way it can break them silently is checked here first, on the
embedded synthetic scenes at the smoke profile, on the CPU (`device=` changes it):

* build: the config names an importable `TranslationModel`, `from_config` builds it, its
  directions, networks and optimiser groups are there, and what it needs before training holds;
* losses: a few `train_step`s return `loss_*` values that are finite and detached (a tensor
  still attached to the graph keeps every step's activations alive), and the weights move;
* translate: in each declared direction, the output has the input's shape and lies in [-1, 1]
  (a [0, 1] image, or an unbounded one, would be scored as another picture);
* resume: the project's own trainer (benchmark/run/train.py) is stopped after a checkpoint,
  resumed in a rebuilt model, and must end with the weights of an uninterrupted run, bit for
  bit; anything the next step depends on and the checkpoint forgot (a counter, a private
  generator) shows here, not as an irreproducible row in a table.

One line per check, PASS or FAIL with the reason; `benchmark check` exits 1 when any fails.
tests/model_contract.py runs the same checks on every shipped model.
"""
from __future__ import annotations

import math
import tempfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

import torch
from omegaconf import DictConfig
from torch.utils.data import default_collate

CHECKS = ("build", "losses", "translate", "resume")
LOSS_STEPS = 3                 # train_steps of the loss check
RESUME_AT, RESUME_TOTAL = 2, 4  # the resume check: stopped after 2 of 4 iterations
TOLERANCE = 1e-6               # of the [-1, 1] range (tanh in float32 reaches 1.0 exactly)


class ContractError(AssertionError):
    """A check failed; the message is the reason, in one line."""


@dataclass(frozen=True)
class CheckResult:
    name: str
    passed: bool
    reason: str

    def line(self) -> str:
        return f"{'PASS' if self.passed else 'FAIL'} {self.name}: {self.reason}"


def check_overrides(overrides: Iterable[str]) -> list[str]:
    """The check's run: smoke profile, CPU, 4 iterations, fp32; the synthetic scenes, made
    small, unless the user names a dataset. The user's overrides come last and win."""
    overrides = list(overrides)
    chosen = any(o.lstrip("+").partition("=")[0] == "dataset" for o in overrides)
    data = [] if chosen else ["dataset=synthetic", "dataset.train_count=8", "dataset.test_count=4",
                              "dataset.size=64"]
    return ["profile=smoke", *data, "device=cpu", "progress=false", "trainer.precision=fp32",
            f"trainer.iterations={RESUME_TOTAL}", f"trainer.checkpoint_every={RESUME_AT}",
            f"trainer.sample_every={RESUME_TOTAL}", "trainer.log_every=1", *overrides]


class ContractHarness:
    """The model of `cfg` with the data it trains on; each `check_*` returns the pass reason or
    raises ContractError with the failure's."""

    def __init__(self, cfg: DictConfig) -> None:
        from benchmark.device import resolve_device

        self.cfg = cfg
        self.device = resolve_device(cfg.device)
        self.model = None
        self._data = None

    # -- building ----------------------------------------------------------------------------
    def build(self):
        """A fresh model, seeded as the trainer seeds it, with precision and optimisers set
        (benchmark/run/step.py) and a constant learning rate."""
        from benchmark.run.step import build_trainable
        from benchmark.run.train import seed_everything

        seed_everything(int(self.cfg.seed))
        model, _ = build_trainable(self.cfg, self.device, lambda step: 1.0)
        return model

    def data(self):
        """The training stream the trainer would read (paired where the model needs it)."""
        if self._data is None:
            from benchmark.data import open_domains
            from benchmark.data.iteration import UnpairedIterations
            from benchmark.model_registry import check_training_data

            pair = open_domains(self.cfg.dataset, self.cfg.dataset.train_split)
            c = self.cfg.data
            self._data = UnpairedIterations(pair, load_size=c.load_size, crop_size=c.crop_size, flip=c.flip,
                                            seed=int(self.cfg.seed), paired=check_training_data(self.cfg, pair))
        return self._data

    def batch(self, first: int = 0, size: int = 1) -> tuple[torch.Tensor, torch.Tensor]:
        """(x, y) of samples first .. first + size - 1, on the model's device."""
        from benchmark.run.step import TrainStep

        batch = default_collate([self.data()[k] for k in range(first, first + size)])
        step = TrainStep(self.model, self.device, channels_last=bool(self.cfg.trainer.channels_last))
        return step.inputs(batch)

    def check_build(self) -> str:
        from benchmark.model_registry import model_family
        from models.base import DIRECTIONS
        from models.networks import count_parameters

        family = model_family(self.cfg)  # import and subclass errors say themselves
        self.model = model = self.build()
        self.data()  # aligned pairs and the model's own requirements (weights on disk)
        directions = tuple(model.directions)
        if not directions or not set(directions) <= set(DIRECTIONS):
            raise ContractError(f"directions={directions!r}: declare a non-empty subset of {DIRECTIONS}")
        nets = model.networks()
        if not nets:
            raise ContractError("the model has no networks: assign its nn.Modules as attributes in __init__")
        if not model.optimizers:
            raise ContractError("parameter_groups() gave no parameters to optimise: return {name: [parameters]}")
        params = sum(count_parameters(n) for n in nets.values())
        return (f"{family.__module__}.{family.__qualname__}: networks {', '.join(nets)} ({params:,} parameters), "
                f"optimisers {', '.join(model.optimizers)}, directions {', '.join(directions)}")

    # -- the step --------------------------------------------------------------------------
    def check_losses(self) -> str:
        model = self.model
        before = {k: v.detach().clone() for k, v in model.state_dict().items()}
        names: list[str] = []
        for step in range(LOSS_STEPS):
            losses = model.train_step(*self.batch(step))
            names = [str(k) for k in losses] if isinstance(losses, dict) else []
            if not names:
                raise ContractError(f"train_step returned {type(losses).__name__} {losses!r:.60}, not a "
                                    "non-empty dict of losses {'loss_<term>': loss.detach()}")
            for name, value in losses.items():
                problem = loss_problem(name, value)
                if problem:
                    raise ContractError(f"train_step {step + 1}: {problem}")
        changed = [k for k, v in model.state_dict().items() if not torch.equal(v, before[k])]
        if not changed:
            raise ContractError(f"{LOSS_STEPS} train_steps changed no weight: step the optimisers "
                                "(self._optimise(name, loss)) inside train_step")
        return (f"{LOSS_STEPS} train_steps: {', '.join(names)} finite and detached; "
                f"{len(changed)} of {len(before)} state tensors updated")

    # -- translation -----------------------------------------------------------------------
    def check_translate(self) -> str:
        model = self.model
        x, _ = self.batch(10, size=2)
        _, y = self.batch(12, size=2)
        model.eval()
        problems, fixes, ranges = [], [], []
        try:
            for direction in model.directions:
                images = x if direction == "X2Y" else y
                problem, fix, low, high = translation_problem(model.translate(images, direction), images)
                if problem:
                    problems.append(f"{direction} {problem}")
                    fixes += [fix] if fix not in fixes else []
                else:
                    ranges.append(f"{direction} in [{low:.3f}, {high:.3f}]")
        finally:
            model.train()
        if problems:
            raise ContractError(f"{'; '.join(problems)}: {'; '.join(fixes)}")
        return f"shape {tuple(x.shape)} kept, {', '.join(ranges)}"

    # -- resume ----------------------------------------------------------------------------
    def check_resume(self, workdir: Path | None = None) -> str:
        with tempfile.TemporaryDirectory(prefix="benchmark-check-", dir=workdir) as tmp:
            whole, resumed = Path(tmp) / "uninterrupted", Path(tmp) / "resumed"
            _train(self.cfg, whole)
            _train(self.cfg, resumed, stop_after=RESUME_AT)   # stopped (a checkpoint written first) ...
            _train(self.cfg, resumed)                          # ... and resumed in a fresh model
            differ, total = _weights_differ(whole, resumed)
            if not differ:
                return (f"stopped at iteration {RESUME_AT} of {RESUME_TOTAL}, checkpointed and resumed: "
                        f"all {total} weight tensors bit-identical to an uninterrupted run")
            again = Path(tmp) / "uninterrupted-again"
            _train(self.cfg, again)
            if _weights_differ(whole, again)[0]:
                raise ContractError(f"two uninterrupted runs with the same seed end with different weights "
                                    f"({_names(differ)}): draw every random number from torch's seeded RNGs "
                                    "or a torch.Generator seeded from from_config's seed")
            raise ContractError(f"stopped at iteration {RESUME_AT}, checkpointed and resumed, {len(differ)} of "
                                f"{total} weight tensors differ from an uninterrupted run ({_names(differ)}): save "
                                "what the next step depends on (counters, private generators, buffers) in "
                                "extra_training_state() and restore it in load_extra_training_state()")


def loss_problem(name: str, value) -> str | None:
    """Why one returned loss breaks the contract, or None (a detached tensor or a number)."""
    if not name.startswith("loss_"):
        return f"loss {name!r} is not named loss_<term> (the log and the report's loss plot read loss_* columns)"
    if isinstance(value, torch.Tensor):
        if value.requires_grad or value.grad_fn is not None:
            return (f"{name} is attached to the autograd graph (requires_grad=True): return loss.detach(), "
                    "or every step's activations stay alive until it is logged")
        if value.numel() != 1:
            return f"{name} is a tensor of shape {tuple(value.shape)}, not a 0-d loss"
        number = float(value.float())
    elif isinstance(value, (int, float)) and not isinstance(value, bool):
        number = float(value)
    else:
        return f"{name} is a {type(value).__name__}, not a detached 0-d tensor"
    return None if math.isfinite(number) else f"{name} is {number}"


def translation_problem(out, images: torch.Tensor) -> tuple[str | None, str, float, float]:
    """(what is wrong with `out`, the translation of `images`, or None; the fix; min; max)."""
    if not isinstance(out, torch.Tensor):
        return f"returns a {type(out).__name__}", "return a tensor", 0.0, 0.0
    if tuple(out.shape) != tuple(images.shape):
        return (f"returns shape {tuple(out.shape)} for input {tuple(images.shape)}", "keep the input's shape",
                0.0, 0.0)
    if not out.is_floating_point():
        return f"returns dtype {out.dtype}", "return a float tensor", 0.0, 0.0
    out = out.detach().float()
    if not torch.isfinite(out).all():
        return "returns non-finite values", "return finite values in [-1, 1]", 0.0, 0.0
    low, high = float(out.min()), float(out.max())
    if low < -1 - TOLERANCE or high > 1 + TOLERANCE:
        return (f"returns values in [{low:.3g}, {high:.3g}]", "the contract is [-1, 1] (end the generator in tanh)",
                low, high)
    if low >= 0:
        return (f"returns values in [{low:.3g}, {high:.3g}], none below 0",
                "that is a [0, 1] image and the contract is [-1, 1] (return 2 * out - 1, or end in tanh)", low, high)
    return None, "", low, high


def _train(cfg: DictConfig, run_dir: Path, *, stop_after: int | None = None) -> None:
    from benchmark.run.train import train

    train(cfg, run_dir, stop_after=stop_after)


def _weights_differ(a: Path, b: Path) -> tuple[list[str], int]:
    """(names of the weight tensors that differ between two runs' last checkpoints, their count)."""
    from benchmark.run.checkpoint import load_latest

    first, second = load_latest(a)["model"], load_latest(b)["model"]
    names = sorted(set(first) | set(second))
    return [k for k in names if k not in first or k not in second or not torch.equal(first[k], second[k])], len(names)


def _names(keys: list[str], shown: int = 3) -> str:
    return ", ".join(keys[:shown]) + (f" and {len(keys) - shown} more" if len(keys) > shown else "")


def run_checks(overrides: Iterable[str], *, report: Callable[[str], None] = print,
               workdir: Path | None = None) -> list[CheckResult]:
    """Every check on the model of `overrides` (Hydra words, e.g. ["model=mymethod"]), each
    reported as one line when it ends; a check that cannot run (the model did not build) fails
    saying so."""
    from benchmark.config import compose_config
    from benchmark.import_path import ImportPathError

    harness = ContractHarness(compose_config(check_overrides(overrides)))
    steps = {"build": harness.check_build, "losses": harness.check_losses,
             "translate": harness.check_translate, "resume": lambda: harness.check_resume(workdir)}
    results: list[CheckResult] = []
    for name in CHECKS:
        if name != "build" and not results[0].passed:
            result = CheckResult(name, False, "not run: the model did not build")
        else:
            try:
                result = CheckResult(name, True, steps[name]())
            except Exception as exc:  # the user's code may raise anything: it is the finding
                text = " ".join(str(exc).split()) or "(no message)"
                said = isinstance(exc, (ContractError, ImportPathError))  # already one line naming the fix
                result = CheckResult(name, False, text if said else f"{type(exc).__name__}: {text}")
        report(result.line())
        results.append(result)
    return results

"""The speed benchmark: seconds per CycleGAN iteration, and how close that comes to this machine's peak.

    benchmark perf                          # CPU or CUDA, whichever is there
    benchmark perf --device cuda --json perf.json --eval
    python -m benchmark.perf --configs '6blocks-128:*' --iterations 5

Why a peak probe beside every row: seconds per iteration alone cannot be compared across
machines, and on a shared or throttled machine not even across runs. The probe is one 3x3
convolution, 256 -> 256 channels at 64x64, batch 1 -- exactly the residual-block convolution that
dominates the 9-block generator at 256x256 -- timed forward + backward right before and right
after each row. Achieved FLOP/s divided by probe FLOP/s ("efficiency") then says how much of the
time goes to convolutions at their best speed and how much to everything around them
(normalisation, padding, optimiser, Python). It is far less sensitive to a shared machine than
seconds are, but not immune: on an oversubscribed CPU every small op pays an OpenMP barrier that
one big probe conv does not, so print the load (each row has it) and compare like with like.

FLOP are counted once per network shape with ``torch.utils.flop_counter.FlopCounterMode`` over
one whole ``train_step`` (forward and backward of G, F, D_X, D_Y); it counts matrix products and
convolutions only, so the Adam updates, norms and element-wise work are time without FLOP.
"""
from __future__ import annotations

import argparse
import ctypes
import fnmatch
import gc
import math
import os
import resource
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable

import torch
from torch.utils.flop_counter import FlopCounterMode


class PerfError(ValueError):
    """Bad benchmark arguments; printed as one line, exit code 2."""


@dataclass(frozen=True)
class Shape:
    """One network size: the paper's two (9 blocks at 256x256, 6 at 128x128), or a tiny one."""

    name: str
    n_blocks: int
    size: int
    batch: int = 1
    filters: int = 64
    disc_filters: int = 64


SHAPES = (Shape("9blocks-256", 9, 256), Shape("6blocks-128", 6, 128))
TINY_SHAPES = (Shape("tiny-2blocks-32", 2, 32, filters=8, disc_filters=8),)
PRECISIONS = ("fp32", "bf16", "fp16")
MEMORY_FORMATS = ("contiguous", "channels_last")
# The probe: the residual-block convolution of the 9-block generator at 256x256.
PROBE = {"channels": 256, "size": 64}
TINY_PROBE = {"channels": 32, "size": 16}


@dataclass(frozen=True)
class Row:
    shape: Shape
    precision: str
    memory_format: str

    @property
    def id(self) -> str:
        return f"{self.shape.name}:{self.precision}:{self.memory_format}"


# -- what the machine offers ---------------------------------------------------------------------
def cpu_flags() -> set[str]:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("flags"):
                return set(line.split(":", 1)[1].split())
    except OSError:
        pass
    return set()


def native_bf16(device: torch.device) -> tuple[bool, str]:
    """Whether bf16 runs at hardware speed here, and the evidence, for the header."""
    if device.type == "cuda":
        ok = torch.cuda.is_bf16_supported(including_emulation=False)
        return ok, f"bf16 native on this GPU: {'yes' if ok else 'no'}"
    flags = cpu_flags()
    has = {f: f in flags for f in ("avx512_bf16", "amx_bf16", "avx512f")}
    ok = has["avx512_bf16"] or has["amx_bf16"]
    listed = ", ".join(f"{f}={'yes' if v else 'no'}" for f, v in has.items())
    return ok, (f"CPU flags: {listed}; torch CPU capability {torch.backends.cpu.get_cpu_capability()}"
                f" -> bf16 {'native' if ok else 'EMULATED (no avx512_bf16/amx_bf16)'}")


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise PerfError("--device cuda: no CUDA device is visible; use --device cpu or auto")
    return torch.device(name)


def candidate_rows(device: torch.device, shapes) -> list[Row]:
    precisions = PRECISIONS if device.type == "cuda" else ("fp32", "bf16")
    return [Row(s, p, f) for s in shapes for f in MEMORY_FORMATS for p in precisions]


def default_row(row: Row, device: torch.device, bf16_ok: bool) -> tuple[bool, str]:
    """Whether `row` runs without being asked for, and why not."""
    if device.type == "cuda":
        if row.precision == "bf16" and not bf16_ok:
            return False, "this GPU has no native bf16"
        if row.memory_format == "channels_last" and row.precision == "fp16":
            return False, "not in the default set"
        return True, ""
    if row.memory_format == "channels_last":
        return False, ("not a CPU default: with oneDNN on AVX2 it measured 1.9x slower than "
                       "contiguous (6 blocks, 128², 1 thread)")
    if row.precision == "bf16" and not bf16_ok:
        return False, ("this CPU has no native bf16 (avx512_bf16/amx_bf16): oneDNN emulates it, "
                       "~40x slower than fp32")
    return True, ""


def select_rows(candidates: list[Row], patterns: str | None, device, bf16_ok) -> tuple[list[Row], list[str]]:
    """Rows to run (patterns match row ids with shell wildcards) and notes on the ones skipped."""
    if patterns:
        pats = [p.strip() for p in patterns.split(",") if p.strip()]
        chosen = [r for r in candidates if any(fnmatch.fnmatchcase(r.id, p) for p in pats)]
        if not chosen:
            raise PerfError(f"--configs {patterns!r} matches no row; row ids are "
                            + ", ".join(r.id for r in candidates))
        return chosen, []
    chosen, skipped = [], {}
    for r in candidates:
        ok, why = default_row(r, device, bf16_ok)
        (chosen.append(r) if ok else skipped.setdefault(why, []).append(r.id))
    return chosen, [f"{', '.join(ids)} ({why})" for why, ids in skipped.items()]


# -- timing ----------------------------------------------------------------------------------------
def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def time_calls(fn: Callable[[], object], n: int, device: torch.device, reps: int = 1) -> list[float]:
    """Seconds per call of `fn`, one sample per `reps` calls, `n` samples."""
    out = []
    for _ in range(n):
        _sync(device)
        t = time.perf_counter()
        for _ in range(reps):
            fn()
        _sync(device)
        out.append((time.perf_counter() - t) / reps)
    return out


def count_flops(fn: Callable[[], object]) -> int:
    with FlopCounterMode(display=False) as counter:
        fn()
    return int(counter.get_total_flops())


def _to_format(t: torch.Tensor, memory_format: str) -> torch.Tensor:
    return t.contiguous(memory_format=torch.channels_last if memory_format == "channels_last"
                        else torch.contiguous_format)


class Probe:
    """The peak-speed reference: one conv forward + backward under the row's precision and format."""

    def __init__(self, device: torch.device, precision: str, memory_format: str,
                 channels: int, size: int) -> None:
        torch.manual_seed(0)
        self.device = device
        self.dtype = {"fp32": None, "bf16": torch.bfloat16, "fp16": torch.float16}[precision]
        self.conv = torch.nn.Conv2d(channels, channels, 3, padding=1).to(device)
        self.x = _to_format(torch.randn(1, channels, size, size, device=device), memory_format)
        if memory_format == "channels_last":
            self.conv = self.conv.to(memory_format=torch.channels_last)
        self.x.requires_grad_(True)  # so backward computes the input gradient too, as in a net
        self.grad = None
        self.flop = count_flops(self)
        # Enough calls per sample that the timer and launch latency do not dominate (CUDA).
        self.reps = max(1, min(1000, math.ceil(0.05 / min(time_calls(self, 2, device)))))

    def __call__(self) -> None:
        with torch.autocast(self.device.type, dtype=self.dtype or torch.float32,
                            enabled=self.dtype is not None):
            out = self.conv(self.x)
        if self.grad is None:
            self.grad = torch.ones_like(out)
        out.backward(self.grad)
        self.conv.weight.grad = self.conv.bias.grad = self.x.grad = None

    def sample(self, n: int) -> list[float]:
        return time_calls(self, n, self.device, self.reps)


# -- memory ----------------------------------------------------------------------------------------
class PeakMemory:
    """Peak memory of one row: CUDA allocator peak, or the CPU process's resident-set growth."""

    def __init__(self, device: torch.device) -> None:
        self.device = device
        self.can_reset_rss = device.type == "cpu" and self._reset_hwm()
        if device.type == "cuda":
            self.label = "torch.cuda.max_memory_allocated during the row (model + optimiser + activations)"
        elif self.can_reset_rss:
            self.label = ("CPU peak RSS increase over the row (VmHWM after resetting it via "
                          "/proc/self/clear_refs, minus RSS at the row's start)")
        else:
            self.label = ("CPU ru_maxrss increase (a process-lifetime high-water mark: 0 means the "
                          "row stayed below an earlier row's peak)")
        self.base = 0

    @staticmethod
    def _reset_hwm() -> bool:
        try:
            with open("/proc/self/clear_refs", "w") as fh:
                fh.write("5")
            return True
        except OSError:
            return False

    @staticmethod
    def _status_kib(key: str) -> int | None:
        try:
            for line in Path("/proc/self/status").read_text().splitlines():
                if line.startswith(key + ":"):
                    return int(line.split()[1])
        except OSError:
            pass
        return None

    def start(self) -> None:
        gc.collect()
        if self.device.type == "cuda":
            torch.cuda.empty_cache()
            torch.cuda.reset_peak_memory_stats(self.device)
            return
        try:  # give freed heap back to the OS so the baseline is what is really in use
            ctypes.CDLL("libc.so.6").malloc_trim(0)
        except (OSError, AttributeError):
            pass
        if self.can_reset_rss:
            self._reset_hwm()
            self.base = self._status_kib("VmRSS") or 0
        else:
            self.base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss

    def peak_mib(self) -> float:
        if self.device.type == "cuda":
            return torch.cuda.max_memory_allocated(self.device) / 2**20
        if self.can_reset_rss:
            return max(0, (self._status_kib("VmHWM") or 0) - self.base) / 1024
        return max(0, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - self.base) / 1024


# -- the rows --------------------------------------------------------------------------------------
def build_model(shape: Shape, row: Row, device: torch.device):
    from models.cyclegan import CycleGANFamily, LossWeights

    torch.manual_seed(0)
    model = CycleGANFamily(LossWeights(), base_filters=shape.filters, n_blocks=shape.n_blocks,
                           disc_base_filters=shape.disc_filters).to(device)
    if row.memory_format == "channels_last":
        model = model.to(memory_format=torch.channels_last)
    model.configure_optimizers(lr=2e-4, betas=(0.5, 0.999), lr_lambda=lambda step: 1.0)
    model.configure_precision(row.precision, device)
    return model


def load1() -> float:
    try:
        return os.getloadavg()[0]
    except OSError:
        return float("nan")


def measure_row(row: Row, device, args, flops: dict, probes: dict, memory: PeakMemory) -> dict:
    """Warm up, time `iterations` train steps, and probe the peak right before and after."""
    shape = row.shape
    key = (row.precision, row.memory_format)
    if key not in probes:
        probes[key] = Probe(device, row.precision, row.memory_format, **args.probe)
    probe = probes[key]
    n_probe = max(5, args.iterations)
    load = load1()
    probe_times = probe.sample(n_probe)

    memory.start()
    model = build_model(shape, row, device)
    gen = torch.Generator().manual_seed(1)
    x, y = (_to_format(torch.rand(shape.batch, 3, shape.size, shape.size, generator=gen) * 2 - 1,
                       row.memory_format).to(device) for _ in range(2))
    step = lambda: model.train_step(x, y)  # noqa: E731
    warmup = args.warmup
    if shape.name not in flops:  # counted once per shape; the counted step is a warm-up step
        flops[shape.name] = count_flops(step)
        warmup -= 1
    for _ in range(max(0, warmup)):
        step()
    times = time_calls(step, args.iterations, device)
    peak = memory.peak_mib()
    del model, x, y
    probe_times += probe.sample(n_probe)

    s_it = statistics.median(times)
    probe_s = statistics.median(probe_times)
    flop = flops[shape.name]
    achieved, peak_rate = flop / s_it, probe.flop / probe_s
    return {"id": row.id, "config": f"{shape.n_blocks} blocks, {shape.size}², batch {shape.batch}"
            + ("" if shape.filters == 64 else f", {shape.filters} filters"),
            "precision": row.precision, "memory_format": row.memory_format,
            "s_per_iteration": s_it, "s_min": min(times), "s_max": max(times), "times": times,
            "flop_per_iteration": flop, "achieved_tflops": achieved / 1e12,
            "probe_tflops": peak_rate / 1e12, "probe_times": probe_times,
            "efficiency": achieved / peak_rate, "peak_memory_mib": peak, "load_1min": load}


# -- evaluation throughput ----------------------------------------------------------------------------
def _segmentation_network(num_classes: int = 19):
    """The suite's evaluator network if evaluation/segmenter.py offers it, else torchvision's."""
    try:
        from evaluation import segmenter
    except ImportError:
        segmenter = None
    if segmenter is not None:
        arch = getattr(getattr(segmenter, "SegmenterConfig", None), "arch", "lraspp_mobilenet_v3_large")
        for name in ("build_model", "build_segmentation_network"):
            build = getattr(segmenter, name, None)
            if build is not None:
                try:
                    return build(arch, num_classes), f"evaluation.segmenter.{name}({arch!r})"
                except (TypeError, ValueError, KeyError):
                    pass
    from torchvision.models.segmentation import lraspp_mobilenet_v3_large

    return (lraspp_mobilenet_v3_large(weights=None, weights_backbone=None, num_classes=num_classes),
            "torchvision lraspp_mobilenet_v3_large")


def _inception_random(tmp: Path):
    """torch-fidelity's inception-v3-compat with random weights: nothing is downloaded.

    The extractor loads its weights in __init__, so a skeleton whose load is a no-op is built
    first, its (randomly initialised) state_dict saved, and the real extractor loads that file.
    """
    from torch_fidelity.feature_extractor_inceptionv3 import FeatureExtractorInceptionV3

    class _Skeleton(FeatureExtractorInceptionV3):
        def load_state_dict(self, state_dict, strict=True, assign=False):  # noqa: ARG002
            return None

    empty, weights = tmp / "empty.pth", tmp / "inception-random.pth"
    torch.save({}, empty)
    torch.save(_Skeleton("inception-v3-compat", ["2048"],
                         feature_extractor_weights_path=str(empty)).state_dict(), weights)
    return FeatureExtractorInceptionV3("inception-v3-compat", ["2048"],
                                       feature_extractor_weights_path=str(weights))


def eval_lines(device: torch.device, args) -> list[dict]:
    """Images/s of the three things evaluation runs: G, the segmenter, FID features (fp32)."""
    size, batch = args.eval_size, args.eval_batch
    gen = torch.Generator().manual_seed(2)
    images = (torch.rand(batch, 3, size, size, generator=gen) * 2 - 1).to(device)

    def translate():
        from models.networks import ResnetGenerator

        torch.manual_seed(0)
        net = ResnetGenerator(3, 3, base_filters=args.eval_filters, n_blocks=args.eval_blocks)
        net = net.to(device).eval()
        return (lambda: net(images)), (f"ResnetGenerator {args.eval_blocks} blocks, "
                                       f"{args.eval_filters} filters")

    def segment():
        torch.manual_seed(0)
        net, name = _segmentation_network()
        net = net.to(device).eval()
        return (lambda: net(images)), name

    tmp = tempfile.TemporaryDirectory(prefix="perf-inception-")

    def fid_features():
        net = _inception_random(Path(tmp.name)).to(device)
        as_uint8 = ((images + 1) * 127.5).round().clamp(0, 255).to(torch.uint8)
        return (lambda: net(as_uint8)), ("torch-fidelity inception-v3-compat (random weights), "
                                         "upsampled to 299² inside")

    tasks = (("translate with G", translate), ("segment (evaluator)", segment),
             ("FID features", fid_features))
    out = []
    try:
        for task, make in tasks:
            try:
                fn, model_name = make()
            except ImportError:
                continue  # the module is not installed or not written yet: skip the line
            load = load1()
            with torch.inference_mode():
                for _ in range(max(1, args.warmup)):
                    fn()
                times = time_calls(fn, args.iterations, device)
            s = statistics.median(times)
            out.append({"task": task, "model": model_name, "input": f"{size}², batch {batch}",
                        "precision": "fp32", "s_per_batch": s, "images_per_s": batch / s,
                        "times": times, "load_1min": load})
            del fn
    finally:
        tmp.cleanup()
    return out


# -- output ------------------------------------------------------------------------------------------
def header(device: torch.device, bf16_note: str, memory: PeakMemory, args) -> dict:
    from benchmark.provenance import device_description, git_state

    git = git_state()
    return {"device": device_description(device), "torch": torch.__version__,
            "threads": torch.get_num_threads(),
            "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "git_commit": git["commit"] + (" (dirty)" if git.get("dirty") else ""),
            "bf16": bf16_note, "mkldnn": torch.backends.mkldnn.enabled,
            "cudnn_benchmark": torch.backends.cudnn.benchmark,
            "load_at_start": " ".join(f"{v:.2f}" for v in os.getloadavg()),
            # On a shared CPU the OpenMP wait policy decides whether idle threads spin and steal
            # the cores their peers need: measured 20.3 s vs 8.3 s per 6-block step at load ~5.
            "omp_env": " ".join(f"{k}={os.environ.get(k, 'unset')}"
                                for k in ("OMP_NUM_THREADS", "OMP_WAIT_POLICY")),
            "iterations": args.iterations, "warmup": args.warmup,
            "probe": f"conv3x3 {args.probe['channels']}->{args.probe['channels']} at "
                     f"{args.probe['size']}², batch 1, forward+backward",
            "memory": memory.label}


def _fmt(v: float, digits: int = 4) -> str:
    return f"{v:.{digits}g}"


def render(head: dict, rows: list[dict], evals: list[dict], notes: list[str]) -> str:
    import pandas as pd

    lines = [f"# benchmark perf — {head['date']}",
             *(f"{k}: {v}" for k, v in head.items() if k != "date"), ""]
    if rows:
        table = pd.DataFrame([{
            "config": r["config"], "precision": r["precision"], "memory format": r["memory_format"],
            "s/iteration": _fmt(r["s_per_iteration"]),
            "min–max s": f"{_fmt(r['s_min'], 3)}–{_fmt(r['s_max'], 3)}",
            "FLOP/iteration": f"{r['flop_per_iteration']:.4g}",
            "achieved TFLOP/s": _fmt(r["achieved_tflops"]),
            "probe TFLOP/s": _fmt(r["probe_tflops"]),
            "efficiency": f"{r['efficiency']:.2f}",
            "peak memory MiB": f"{r['peak_memory_mib']:.0f}",
            "load 1m": f"{r['load_1min']:.2f}"} for r in rows])
        lines.append(table.to_markdown(index=False, disable_numparse=True))
    for note in notes:
        lines.append(f"skipped (ask with --configs to run): {note}")
    if evals:
        lines += ["", pd.DataFrame([{
            "evaluation": e["task"], "model": e["model"], "input": e["input"],
            "precision": e["precision"], "images/s": _fmt(e["images_per_s"]),
            "s/batch": _fmt(e["s_per_batch"]), "load 1m": f"{e['load_1min']:.2f}"}
            for e in evals]).to_markdown(index=False, disable_numparse=True)]
    return "\n".join(lines)


def parse_args(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="benchmark perf", description=__doc__.split("\n")[0])
    p.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto")
    p.add_argument("--iterations", type=int, default=None,
                   help="timed iterations after warm-up (default 3 on CPU, 20 on CUDA)")
    p.add_argument("--warmup", type=int, default=None, help="untimed iterations (default 1 CPU, 5 CUDA)")
    p.add_argument("--configs", default=None,
                   help="comma-separated patterns over row ids SHAPE:PRECISION:FORMAT, e.g. "
                        "'6blocks-128:*' or '*:bf16:channels_last' (also selects rows off by default)")
    p.add_argument("--json", type=Path, default=None, help="also write the tables as JSON here")
    p.add_argument("--eval", action="store_true",
                   help="add images/s for translating, segmenting and FID feature extraction")
    p.add_argument("--tiny", action="store_true",
                   help="2 blocks, 32², 8 filters, small probe, 1 iteration, 1 thread: a smoke test")
    p.add_argument("--threads", type=int, default=None, help="torch.set_num_threads")
    p.add_argument("--no-mkldnn", action="store_true", help="disable oneDNN (CPU) to compare")
    p.add_argument("--cudnn-benchmark", action="store_true", help="let cuDNN autotune (CUDA)")
    args = p.parse_args(argv)
    for name in ("iterations", "warmup", "threads"):
        value = getattr(args, name)
        if value is not None and value < (1 if name != "warmup" else 0):
            raise PerfError(f"--{name} {value}: must be >= {1 if name != 'warmup' else 0}")
    return args


def main(argv: list[str] | None = None) -> int:
    try:
        args = parse_args(list(sys.argv[1:] if argv is None else argv))
        device = resolve_device(args.device)
    except PerfError as err:
        print(f"benchmark perf: {err}", file=sys.stderr)
        return 2
    # Threads and backend switches are process-wide: restore them so a caller (or a test run in
    # the same process) is left as it was.
    saved = (torch.get_num_threads(), torch.backends.mkldnn.enabled, torch.backends.cudnn.benchmark)
    try:
        return _run(args, device)
    finally:
        torch.set_num_threads(saved[0])
        torch.backends.mkldnn.enabled, torch.backends.cudnn.benchmark = saved[1], saved[2]


def _run(args: argparse.Namespace, device: torch.device) -> int:
    cuda = device.type == "cuda"
    if args.tiny and args.threads is None and not cuda:
        # Tiny ops are too small to split: on a shared machine each op's thread barrier waits
        # for a descheduled peer and one 0.15 s step becomes ~10 s with 2 threads.
        args.threads = 1
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.no_mkldnn:
        torch.backends.mkldnn.enabled = False
    if args.cudnn_benchmark:
        torch.backends.cudnn.benchmark = True
    if args.tiny:
        args.iterations = args.iterations or 1
        args.warmup = 1 if args.warmup is None else args.warmup
        args.probe, shapes = TINY_PROBE, TINY_SHAPES
        args.eval_size, args.eval_batch, args.eval_filters, args.eval_blocks = 32, 2, 8, 2
    else:
        args.iterations = args.iterations or (20 if cuda else 3)
        args.warmup = (5 if cuda else 1) if args.warmup is None else args.warmup
        args.probe, shapes = PROBE, SHAPES
        args.eval_size, args.eval_batch, args.eval_filters, args.eval_blocks = 128, 16, 64, 6
    bf16_ok, bf16_note = native_bf16(device)
    try:
        rows, notes = select_rows(candidate_rows(device, shapes), args.configs, device, bf16_ok)
    except PerfError as err:
        print(f"benchmark perf: {err}", file=sys.stderr)
        return 2

    memory = PeakMemory(device)
    head = header(device, bf16_note, memory, args)
    print(f"measuring {len(rows)} rows on {head['device']} (load {head['load_at_start']})",
          flush=True)
    flops: dict[str, int] = {}
    probes: dict[tuple[str, str], Probe] = {}
    results = []
    for row in rows:
        results.append(measure_row(row, device, args, flops, probes, memory))
        r = results[-1]
        print(f"  {r['id']}: {r['s_per_iteration']:.4g} s/iteration, efficiency "
              f"{r['efficiency']:.2f} (load {r['load_1min']:.2f})", flush=True)
    evals = eval_lines(device, args) if args.eval else []
    print()
    print(render(head, results, evals, notes))
    if args.json:
        from benchmark.atomic import write_json

        write_json(args.json, {"header": head, "rows": results, "eval": evals, "skipped": notes})
        print(f"\nwrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

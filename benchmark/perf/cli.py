"""The speed benchmark: one table of seconds per iteration for every CycleGAN variant and
baseline, fp32 and bf16, the share of each step spent outside the networks, and how close the
step comes to this machine's measured peak.

    benchmark perf                          # cpu-profile sizes (64², 6 blocks, 32 filters)
    benchmark perf --device cuda --json perf.json --eval
    benchmark perf --configs 'cyclegan:6blocks-128:*:*' --iterations 5
    benchmark perf --configs '9blocks-256:*:*'    # SHAPE:PRECISION:FORMAT: CycleGAN only

Overhead share = (whole step - networks only) / whole step, both timed interleaved on the same
model (benchmark/perf/step.py says what each includes).

Why a peak probe beside every row (benchmark/perf/probes.py): seconds per iteration alone cannot
be compared across machines, and on a shared machine not even across runs. The probes (a 3x3
conv 256 -> 256 at 64x64 -- the residual-block convolution of the 9-block generator at 256x256 --
and a 1024² matmul, forward + backward) run right before and right after each row; the faster is
the device's peak. Achieved FLOP/s divided by peak FLOP/s ("efficiency") then says how much of the
time goes to convolutions at their best speed and how much to everything around them
(normalisation, padding, optimiser, Python). It is far less sensitive to a shared machine than
seconds are, but not immune: on an oversubscribed CPU every small op pays an OpenMP barrier that
one big probe conv does not, so print the load (each row has it) and compare like with like.

FLOP are counted once per model and shape with ``torch.utils.flop_counter.FlopCounterMode`` over
one whole step (forward and backward of G, F, D_X, D_Y, or a baseline's nets); it counts matrix products and
convolutions only, so the Adam updates, norms and element-wise work are time without FLOP.
"""
from __future__ import annotations

import argparse
import fnmatch
import os
import statistics
import sys
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import torch

from benchmark.perf.probes import MatmulProbe, PeakMemory, Probe, count_flops, load1, time_calls
from benchmark.perf.scoring import eval_lines
from benchmark.perf.settings import SHAPES, TINY_SHAPES, PerfSettings  # noqa: F401 (SHAPES: tests)
from benchmark.perf.step import ModelChoice, Shape, model_choices, prepare


class PerfError(ValueError):
    """Bad benchmark arguments; printed as one line, exit code 2."""


PRECISIONS = ("fp32", "bf16", "fp16")
MEMORY_FORMATS = ("contiguous", "channels_last")


@dataclass(frozen=True)
class Row:
    model: str
    shape: Shape
    precision: str
    memory_format: str

    @property
    def id(self) -> str:
        return f"{self.model}:{self.shape.name}:{self.precision}:{self.memory_format}"

    @property
    def legacy_id(self) -> str | None:
        """SHAPE:PRECISION:FORMAT, the ids before baselines existed (full CycleGAN only)."""
        return f"{self.shape.name}:{self.precision}:{self.memory_format}" if self.model == "cyclegan" else None


# -- what the machine offers ---------------------------------------------------------------------
def cpu_flags() -> set[str]:
    from models.precision import cpu_flags as flags

    return set(flags())


def native_bf16(device: torch.device) -> tuple[bool, str]:
    """Whether bf16 runs at hardware speed here (models/precision.py, the rule of
    trainer.precision=auto), and the evidence, for the header."""
    from models.precision import native_bf16 as native

    ok = native(device)
    if device.type == "cuda":
        return ok, f"bf16 native on this GPU: {'yes' if ok else 'no'}"
    flags = cpu_flags()
    has = {f: f in flags for f in ("avx512_bf16", "amx_bf16", "avx512f")}
    listed = ", ".join(f"{f}={'yes' if v else 'no'}" for f, v in has.items())
    return ok, (f"CPU flags: {listed}; torch CPU capability {torch.backends.cpu.get_cpu_capability()}"
                f" -> bf16 {'native' if ok else 'EMULATED (no avx512_bf16/amx_bf16)'}")


def resolve_device(name: str) -> torch.device:
    """benchmark.device's rule (the one training uses), said in perf's option names."""
    from benchmark.device import DeviceError
    from benchmark.device import resolve_device as resolve

    try:
        return resolve(name)
    except DeviceError as exc:
        raise PerfError(f"--device {name}: {exc}".replace("device=cpu or device=auto", "--device cpu or auto")) from exc


def candidate_rows(device: torch.device, shapes, models: list[ModelChoice] | None = None) -> list[Row]:
    precisions = PRECISIONS if device.type == "cuda" else ("fp32", "bf16")
    names = [m.name for m in (models if models is not None else model_choices()) if not m.skip]
    return [Row(m, s, p, f) for m in names for s in shapes for f in MEMORY_FORMATS for p in precisions]


def default_row(row: Row, device: torch.device, bf16_ok: bool, default_shape: Shape) -> tuple[bool, str]:
    """Whether `row` runs without being asked for, and why not."""
    if row.shape != default_shape:
        return False, f"not the default size ({default_shape.describe()})"
    if row.memory_format == "channels_last":
        return False, ("not a default: on CPU with oneDNN on AVX2 it measured 1.9x slower than "
                       "contiguous (6 blocks, 128², 1 thread)")
    if row.precision == "fp16":
        return False, "not in the default set (bf16 is the half precision of trainer.precision=auto)"
    if row.precision == "bf16" and not bf16_ok:
        return False, ("no native bf16 here (CUDA bf16, or CPU avx512_bf16/amx_bf16): emulated it is "
                       "~40x slower than fp32")
    return True, ""


def _matches(row: Row, pattern: str) -> bool:
    if pattern.count(":") == 2:  # SHAPE:PRECISION:FORMAT (before baselines): full CycleGAN only
        return row.legacy_id is not None and fnmatch.fnmatchcase(row.legacy_id, pattern)
    return fnmatch.fnmatchcase(row.id, pattern)


def select_rows(candidates: list[Row], patterns: str | None, device, bf16_ok,
                default_shape: Shape | None = None) -> tuple[list[Row], list[str]]:
    """Rows to run (patterns MODEL:SHAPE:PRECISION:FORMAT, or SHAPE:PRECISION:FORMAT for full
    CycleGAN, with shell wildcards) and notes on the default rows skipped."""
    if patterns:
        pats = [p.strip() for p in patterns.split(",") if p.strip()]
        chosen = [r for r in candidates if any(_matches(r, p) for p in pats)]
        if not chosen:
            raise PerfError(f"--configs {patterns!r} matches no row; row ids are MODEL:SHAPE:PRECISION:FORMAT "
                            "(or SHAPE:PRECISION:FORMAT for cyclegan), e.g. "
                            + ", ".join(r.id for r in candidates[:4]))
        return chosen, []
    default_shape = default_shape or candidates[0].shape
    chosen, skipped = [], {}
    for r in candidates:
        ok, why = default_row(r, device, bf16_ok, default_shape)
        if ok:
            chosen.append(r)
        elif r.shape == default_shape and r.memory_format == "contiguous":
            skipped.setdefault(why, []).append(r.id)
    return chosen, [f"{', '.join(ids)} ({why})" for why, ids in skipped.items()]


# -- the rows --------------------------------------------------------------------------------------
def measure_row(row: Row, settings: PerfSettings, flops: dict, probes: dict, memory: PeakMemory) -> dict:
    """Warm up, time `iterations` whole steps and as many networks-only replays (interleaved, so
    a change of machine load hits both alike), and probe the peak right before and after."""
    shape, device = row.shape, settings.device
    key = (row.precision, row.memory_format)
    if key not in probes:
        probes[key] = (Probe(device, row.precision, row.memory_format, settings.probe.channels,
                             settings.probe.size),
                       MatmulProbe(device, row.precision, settings.matmul_probe))
    probe_set = probes[key]
    n_probe = max(5, settings.iterations)
    load = load1()
    probe_times = [p.sample(n_probe) for p in probe_set]

    memory.start()
    step = prepare(row.model, shape, row.precision, row.memory_format, device)
    flop_key = (row.model, shape.name)
    warmup = settings.warmup
    if flop_key not in flops:  # counted once per model and shape; the counted step is a warm-up
        flops[flop_key] = count_flops(step.whole)
        warmup -= 1
    for _ in range(max(0, warmup)):
        step.whole()
        step.networks_only()
    times, net_times, cpu, net_cpu = [], [], [], []
    for _ in range(settings.iterations):
        for fn, wall_out, cpu_out in ((step.whole, times, cpu), (step.networks_only, net_times, net_cpu)):
            c = time.process_time()
            wall_out += time_calls(fn, 1, device)
            cpu_out.append(time.process_time() - c)
    peak = memory.peak_mib()
    step.cleanup()
    del step
    for samples, p in zip(probe_times, probe_set):
        samples += p.sample(n_probe)

    s_it, s_net = statistics.median(times), statistics.median(net_times)
    # On a CPU the share is taken from process CPU time: a step descheduled by another job on
    # a shared machine grows in wall time but not in CPU time (measured here at load 6-8 on 2
    # cores: wall shares scattered -12..28%, CPU-time shares stayed within a few %). On a GPU
    # wall time is what the host overhead costs.
    cpu_s, cpu_net = statistics.median(cpu), statistics.median(net_cpu)
    share = (cpu_s - cpu_net) / cpu_s if device.type == "cpu" else (s_it - s_net) / s_it
    rates = {name: p.flop / statistics.median(t)
             for name, p, t in zip(("conv", "matmul"), probe_set, probe_times)}
    peak_rate = max(rates.values())
    flop = flops[flop_key]
    achieved = flop / s_it
    return {"id": row.id, "model": row.model, "config": shape.describe(),
            "precision": row.precision, "memory_format": row.memory_format,
            "s_per_iteration": s_it, "s_min": min(times), "s_max": max(times), "times": times,
            "networks_only_s": s_net, "networks_only_times": net_times,
            "overhead_share": share, "overhead_share_wall": (s_it - s_net) / s_it,
            "cpu_s_per_iteration": cpu_s, "networks_only_cpu_s": cpu_net,
            "flop_per_iteration": flop, "achieved_tflops": achieved / 1e12,
            "probe_tflops": peak_rate / 1e12, "probe_conv_tflops": rates["conv"] / 1e12,
            "probe_matmul_tflops": rates["matmul"] / 1e12, "probe_times": probe_times[0],
            "efficiency": achieved / peak_rate, "peak_memory_mib": peak, "load_1min": load}


# -- output ------------------------------------------------------------------------------------------
def header(settings: PerfSettings, bf16_note: str, memory: PeakMemory) -> dict:
    from benchmark.provenance import device_description, git_state

    device, probe = settings.device, settings.probe
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
            "iterations": settings.iterations, "warmup": settings.warmup,
            "probe": f"peak = the faster of conv3x3 {probe.channels}->{probe.channels} at "
                     f"{probe.size}², batch 1, and matmul {settings.matmul_probe}², forward+backward",
            "overhead": "share of the whole step (data, to-device, train_step, loss transfer, log "
                        "row) outside the networks' own forward+backward (benchmark/perf/step.py); "
                        + ("from process CPU time (robust to other jobs on the CPU)" if device.type == "cpu"
                           else "from wall time"),
            "memory": memory.label}


def _fmt(v: float, digits: int = 4) -> str:
    return f"{v:.{digits}g}"


def table_lines(rows: list[dict], kinds: dict[str, str]) -> list[dict]:
    """ONE line per model, size and memory format; a column group per precision measured."""
    lines: dict[tuple, dict] = {}
    for r in rows:
        line = lines.setdefault((r["model"], r["config"], r["memory_format"]), {
            "model": r["model"], "kind": kinds.get(r["model"], ""), "config": r["config"],
            "memory format": r["memory_format"]})
        p = r["precision"]
        line[f"{p} s/it"] = _fmt(r["s_per_iteration"])
        line[f"{p} networks-only s"] = _fmt(r["networks_only_s"])
        line[f"{p} overhead"] = f"{100 * r['overhead_share']:.0f}%"
        line[f"{p} efficiency"] = f"{r['efficiency']:.2f}"
        line.setdefault("peak memory MiB", f"{r['peak_memory_mib']:.0f}")
        line["load 1m"] = f"{r['load_1min']:.2f}"
    by_id = {(r["model"], r["config"], r["memory_format"], r["precision"]): r for r in rows}
    for (model, config, fmt), line in lines.items():
        fp32, bf16 = by_id.get((model, config, fmt, "fp32")), by_id.get((model, config, fmt, "bf16"))
        if fp32 and bf16:
            line["bf16/fp32 time"] = f"{bf16['s_per_iteration'] / fp32['s_per_iteration']:.2f}"
    columns = list(dict.fromkeys(k for line in lines.values() for k in line))
    return [{c: line.get(c, "") for c in columns} for line in lines.values()]


def render(head: dict, rows: list[dict], evals: list[dict], notes: list[str],
           kinds: dict[str, str] | None = None, failed: list[str] = ()) -> str:
    import pandas as pd

    lines = [f"# benchmark perf — {head['date']}",
             *(f"{k}: {v}" for k, v in head.items() if k != "date"), ""]
    if rows:
        lines.append(pd.DataFrame(table_lines(rows, kinds or {})).to_markdown(index=False, disable_numparse=True))
    for note in notes:
        lines.append(f"skipped (ask with --configs to run): {note}")
    for line in failed:
        lines.append(f"could not run here: {line}")
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
                   help="timed iterations after warm-up (default 5 on CPU, 20 on CUDA)")
    p.add_argument("--warmup", type=int, default=None, help="untimed iterations (default 2 CPU, 5 CUDA)")
    p.add_argument("--configs", default=None,
                   help="comma-separated patterns over row ids MODEL:SHAPE:PRECISION:FORMAT, e.g. "
                        "'cyclegan:6blocks-128:*:*' or '*:*:bf16:channels_last', or the older "
                        "SHAPE:PRECISION:FORMAT for full CycleGAN (also selects rows off by default); "
                        "shapes: 6blocks-64 (profile=cpu, the default), 6blocks-128, 9blocks-256")
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
    settings = PerfSettings.from_args(args, device)
    # Threads and backend switches are process-wide: restore them so a caller (or a test run in
    # the same process) is left as it was.
    saved = (torch.get_num_threads(), torch.backends.mkldnn.enabled, torch.backends.cudnn.benchmark)
    try:
        return _run(settings)
    finally:
        torch.set_num_threads(saved[0])
        torch.backends.mkldnn.enabled, torch.backends.cudnn.benchmark = saved[1], saved[2]


def _run(settings: PerfSettings) -> int:
    device = settings.device
    if settings.threads:
        torch.set_num_threads(settings.threads)
    if not settings.mkldnn:
        torch.backends.mkldnn.enabled = False
    if settings.cudnn_benchmark:
        torch.backends.cudnn.benchmark = True
    bf16_ok, bf16_note = native_bf16(device)
    try:
        choices = model_choices()
        rows, notes = select_rows(candidate_rows(device, settings.shapes, choices), settings.configs,
                                  device, bf16_ok, settings.shapes[0])
    except PerfError as err:
        print(f"benchmark perf: {err}", file=sys.stderr)
        return 2

    memory = PeakMemory(device)
    head = header(settings, bf16_note, memory)
    print(f"measuring {len(rows)} rows on {head['device']} (load {head['load_at_start']})",
          flush=True)
    failed = [f"{c.name}: {c.skip}" for c in choices if c.skip]
    flops: dict[tuple[str, str], int] = {}
    probes: dict[tuple[str, str], tuple[Probe, MatmulProbe]] = {}
    results = []
    for row in rows:
        try:
            results.append(measure_row(row, settings, flops, probes, memory))
        except Exception as exc:  # noqa: BLE001 -- one model that cannot build must not end the table
            failed.append(f"{row.id}: {type(exc).__name__}: {(str(exc).splitlines() or [''])[0][:160]}")
            print(f"  {row.id}: skipped ({type(exc).__name__}: {exc})", flush=True)
            continue
        r = results[-1]
        print(f"  {r['id']}: {r['s_per_iteration']:.4g} s/iteration, networks only "
              f"{r['networks_only_s']:.4g} s (overhead {100 * r['overhead_share']:.0f}%), efficiency "
              f"{r['efficiency']:.2f} (load {r['load_1min']:.2f})", flush=True)
    evals = eval_lines(settings) if settings.eval else []
    print()
    print(render(head, results, evals, notes, {c.name: c.kind for c in choices}, failed))
    if settings.json:
        from benchmark.atomic import write_json

        write_json(settings.json, {"header": head, "rows": results, "eval": evals, "skipped": notes,
                                   "failed": failed})
        print(f"\nwrote {settings.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

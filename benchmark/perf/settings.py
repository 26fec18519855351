"""What one `benchmark perf` call measures, and at which sizes: built once from the command line.

The sizes follow from --tiny (a smoke test) or not; iteration counts default by device.
"""
from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path

import torch

from benchmark.perf.step import Shape

CPU_SHAPE = Shape("6blocks-64", 6, 64, filters=32, disc_filters=32)  # profile=cpu
SHAPES = (CPU_SHAPE, Shape("6blocks-128", 6, 128), Shape("9blocks-256", 9, 256))
TINY_SHAPES = (Shape("tiny-2blocks-32", 2, 32, filters=8, disc_filters=8),)


@dataclass(frozen=True)
class ConvProbeSize:
    """The conv probe: `channels` -> `channels`, 3x3, at `size`², batch 1."""

    channels: int
    size: int


# The probe: the residual-block convolution of the 9-block generator at 256x256.
PROBE = ConvProbeSize(channels=256, size=64)
TINY_PROBE = ConvProbeSize(channels=32, size=16)
MATMUL_PROBE, TINY_MATMUL_PROBE = 1024, 128


@dataclass(frozen=True)
class EvalSizes:
    """`--eval`: the input (size², batch) and the generator timed (filters, blocks)."""

    size: int
    batch: int
    filters: int
    blocks: int


EVAL_SIZES = EvalSizes(size=128, batch=16, filters=64, blocks=6)
TINY_EVAL_SIZES = EvalSizes(size=32, batch=2, filters=8, blocks=2)


@dataclass(frozen=True)
class PerfSettings:
    device: torch.device
    iterations: int               # timed iterations per row (and per evaluation line)
    warmup: int                   # untimed ones before them
    threads: int | None           # torch.set_num_threads, None: leave as it is
    mkldnn: bool                  # False: oneDNN disabled (--no-mkldnn)
    cudnn_benchmark: bool
    configs: str | None           # --configs row patterns, None: the default rows
    json: Path | None
    eval: bool
    shapes: tuple[Shape, ...]     # the first is the default rows' size
    probe: ConvProbeSize
    matmul_probe: int             # side of the square matmul probe
    eval_sizes: EvalSizes

    @classmethod
    def from_args(cls, args: argparse.Namespace, device: torch.device) -> PerfSettings:
        cuda = device.type == "cuda"
        threads = args.threads
        if args.tiny and threads is None and not cuda:
            # Tiny ops are too small to split: on a shared machine each op's thread barrier waits
            # for a descheduled peer and one 0.15 s step becomes ~10 s with 2 threads.
            threads = 1
        if args.tiny:
            iterations, warmup = args.iterations or 1, 1 if args.warmup is None else args.warmup
        else:
            iterations = args.iterations or (20 if cuda else 5)
            warmup = (5 if cuda else 2) if args.warmup is None else args.warmup
        return cls(device=device, iterations=iterations, warmup=warmup, threads=threads,
                   mkldnn=not args.no_mkldnn, cudnn_benchmark=args.cudnn_benchmark,
                   configs=args.configs, json=args.json, eval=args.eval,
                   shapes=TINY_SHAPES if args.tiny else SHAPES,
                   probe=TINY_PROBE if args.tiny else PROBE,
                   matmul_probe=TINY_MATMUL_PROBE if args.tiny else MATMUL_PROBE,
                   eval_sizes=TINY_EVAL_SIZES if args.tiny else EVAL_SIZES)

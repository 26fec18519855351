"""Live training curves beside the CSV log: `logger=tensorboard`.

train_log.csv is always written (it is what the reports read, and it costs nothing). With
`logger=tensorboard` the same rows -- every loss, the learning rate, the speed -- and the sample
grids at `trainer.sample_every` also go to TensorBoard event files in RUN/tensorboard/, so a user
watching a SLURM run for hours sees curves, and `tensorboard --logdir runs/<dataset>` shows a
whole suite at once (one run per run directory).

Resume without duplicate steps: a run killed after its last checkpoint has already written
events for steps it will redo. The writer of the resumed session is opened with
`purge_step=<checkpoint iteration>`, which records a SessionLog.START at that step; TensorBoard
(and its EventAccumulator) then drops every earlier event at or after that step, so each step
appears once, as the resumed run computed it. This is TensorBoard's own mechanism; nothing here
rewrites event files.

Why not W&B offline: it adds a service process and a large dependency for the same curves, and
its `wandb sync --sync-tensorboard` imports these event files into W&B when a user wants it.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

LOGGERS = ("csv", "tensorboard")
EVENTS_DIR = "tensorboard"


class TensorBoardCurves:
    """Scalars and sample grids of one run, in RUN/tensorboard/, continuing after a resume."""

    def __init__(self, run_dir: Path, start: int) -> None:
        try:
            from torch.utils.tensorboard import SummaryWriter
        except ImportError as exc:  # torch's writer needs the tensorboard package
            raise RuntimeError(f"logger=tensorboard needs the tensorboard package ({exc}): "
                               "pip install tensorboard, or use logger=csv") from exc
        # purge_step only on a resume: at 0 there is nothing to drop.
        self.writer = SummaryWriter(log_dir=str(run_dir / EVENTS_DIR), purge_step=start or None)

    def scalars(self, step: int, values: dict[str, float]) -> None:
        for name, value in values.items():
            self.writer.add_scalar(name, value, global_step=step)

    def image(self, step: int, tag: str, image: Image.Image) -> None:
        self.writer.add_image(tag, np.asarray(image.convert("RGB")), global_step=step,
                              dataformats="HWC")

    def flush(self) -> None:
        self.writer.flush()

    def close(self) -> None:
        self.writer.close()


class NoCurves:
    """`logger=csv`: the CSV log alone (written by the trainer either way)."""

    def scalars(self, step: int, values: dict[str, float]) -> None:
        pass

    def image(self, step: int, tag: str, image: Image.Image) -> None:
        pass

    def flush(self) -> None:
        pass

    def close(self) -> None:
        pass


def open_curves(logger: str, run_dir: Path, start: int) -> TensorBoardCurves | NoCurves:
    """The curve writer `logger` names, continuing a run resumed at iteration `start`."""
    if logger == "tensorboard":
        return TensorBoardCurves(run_dir, start)
    if logger == "csv":
        return NoCurves()
    raise ValueError(f"logger={logger!r}: valid loggers are {', '.join(LOGGERS)}")

"""Figures for a suite report: scores with seed spread, loss curves, samples, per-class IoU.

Why figures beside the tables: a table shows means, but whether a variant is better or just
luckier, whether a loss collapsed (the one-way-cycle ablations do), and what "0.11 IoU" looks
like need the seeds, the curves and the images. Each function draws one figure from the run
store alone and returns its path (None when nothing can be drawn yet); a run missing the file
a figure needs is skipped with a ReportWarning so that a half-finished suite still reports.

Figures are built on `matplotlib.figure.Figure` directly and saved through the Agg canvas,
never through pyplot: nothing opens a window or needs a display (headless SLURM nodes), no
backend is switched under a caller's notebook, and no figure is left open between calls.
"""
from __future__ import annotations

import math
import warnings
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.ticker import FuncFormatter

from benchmark.atomic import atomic_path as atomic_target
from benchmark.report import sample_grid
from benchmark.report.per_class import build_per_class
from benchmark.report.reference import PaperReference, load_reference
from benchmark.report.runs import (
    METRICS,
    LoadedRun,
    ReportWarning,
    TableSpec,
    direction_label,
    finite,
    load_runs,
    normalize_spec,
    sanity_name,
    sanity_rows,
    scores_frame,
    variant_order,
)
from benchmark.report.significance import TableStats

DPI = 150
#: iteration bins per loss curve: long logs are averaged down to this many points.
MAX_CURVE_POINTS = 400


def _warn(message: str) -> None:
    warnings.warn(message, ReportWarning, stacklevel=3)


def _variants(runs: Sequence[LoadedRun], variants: Sequence[str] | None) -> list[str]:
    """The given order, else the runs' variants in first-seen order."""
    if variants:
        return list(variants)
    return list(dict.fromkeys(r.variant for r in runs))


def variant_palette(variants: Sequence[str]) -> dict[str, Any]:
    """One fixed colour per variant, so a variant looks the same in every figure."""
    colors = sns.color_palette("tab10" if len(variants) <= 10 else "husl", len(variants))
    return dict(zip(variants, colors))


def _save(fig: Figure, path: Path) -> Path:
    with atomic_target(path) as tmp:
        fig.savefig(tmp, format="png", dpi=DPI, facecolor="white")
    return path


def _paper_value(reference: PaperReference, direction: str, variant: str,
                 metric: str) -> float | None:
    """The paper's number for a variant in any of its tables for this direction."""
    for table in reference.tables.values():
        row = table.directions.get(direction, {}).get(variant)
        if row and metric in row:
            return row[metric]
    return None


# --------------------------------------------------------------------------- scores

#: The sanity rows drawn as reference lines on the score bars, with their line style: the FID/KID
#: floor (real test vs real train) and what doing nothing scores (identity), and the
#: segmentation floors (the majority class everywhere; another scene's real image, which ignores
#: the input), in black so that no line takes a variant's colour. A reader sees at once whether
#: a variant sits next to "doing nothing".
REFERENCE_LINES = (("fid_floor", ":", "black"), ("identity", "-.", "black"),
                   ("majority_class", ":", "black"), ("other_scene", "--", "black"))


def reference_lines(rows: dict, direction: str, metric: str) -> list[tuple[str, float, str, str]]:
    """(row key, value, line style, colour) of each reference row that scores `metric` in
    `direction` (rows: `sanity_rows`' shape)."""
    out = []
    for key, ls, colour in REFERENCE_LINES:
        value = finite(((rows.get(key) or {}).get(direction) or {}).get(metric))
        if value is not None:
            out.append((key, value, ls, colour))
    return out


def plot_bars(runs: Iterable[Mapping[str, Any] | LoadedRun], direction: str,
              out_dir: str | Path, variants: Sequence[str] | None = None,
              reference_rows: Mapping[str, Any] | None = None,
              reference: PaperReference | None = None) -> Path | None:
    """`bars_<direction>.png`: one panel per metric, a bar per variant (mean over seeds,
    error bar = sample sd), the seeds as dots, the paper's value as a diamond and the
    evaluator's real-photo score as a dashed ceiling."""
    runs = load_runs(runs)
    reference = reference or load_reference()
    order = _variants(runs, variants)
    scores = scores_frame(runs)
    scores = scores[(scores.direction == direction) & scores.variant.isin(order)]
    if scores.empty:
        _warn(f"no run has {direction} scores yet: bars_{direction}.png not drawn")
        return None
    metrics = [m for m in METRICS if m in set(scores.metric)]
    names = [reference.display_name(v) for v in order]
    palette = dict(zip(names, variant_palette(order).values()))
    scores = scores.assign(method=scores.variant.map(reference.display_name))
    ceilings = sanity_rows(reference_rows)
    ceiling = next((k for k in ("real_photos", "ground_truth_labels")
                    if direction in ceilings.get(k, {})), None)
    real = ceilings[ceiling][direction] if ceiling else {}

    drawn: dict[str, tuple[str, str]] = {}
    with sns.axes_style("whitegrid"), sns.plotting_context("notebook", font_scale=0.85):
        width = max(3.2, 0.55 * len(order) + 1.2)
        ncols = min(3, len(metrics))
        nrows = math.ceil(len(metrics) / ncols)
        fig = Figure(figsize=(width * ncols, 4.0 * nrows + 0.4), layout="constrained")
        axes = fig.subplots(nrows, ncols, squeeze=False).ravel()
        for ax in axes[len(metrics):]:
            ax.set_visible(False)
        for ax, metric in zip(axes, metrics):
            data = scores[scores.metric == metric]
            sns.barplot(data=data, x="method", y="value", hue="method", order=names,
                        hue_order=names, palette=palette, errorbar="sd", capsize=0.25,
                        err_kws={"linewidth": 1.2}, legend=False, ax=ax)
            sns.stripplot(data=data, x="method", y="value", order=names, color="black",
                          size=3.5, jitter=0.12, ax=ax)
            for x, variant in enumerate(order):
                paper = _paper_value(reference, direction, variant, metric)
                if paper is not None:
                    ax.scatter([x], [paper], marker="D", s=36, facecolor="white",
                               edgecolor="black", linewidth=1.2, zorder=5)
            if finite(real.get(metric)) is not None:
                ax.axhline(real[metric], ls="--", lw=1.2, color="dimgrey", zorder=4)
            for key, value, ls, colour in reference_lines(ceilings, direction, metric):
                ax.axhline(value, ls=ls, lw=1.2, color=colour, zorder=4)
                drawn[key] = (ls, colour)
            label, _ = METRICS[metric]
            ax.set_title(label)
            ax.set_xlabel("")
            ax.set_ylabel(label if metric in ("fid", "kid") else "score")
            if metric not in ("fid", "kid"):
                ax.set_ylim(0, 1)
            # A variant without a score yet keeps its slot, labelled, instead of vanishing.
            done = set(data.variant)
            ax.set_xticks(range(len(order)), [n if v in done else f"{n}\n(pending)"
                                              for v, n in zip(order, names)])
            ax.tick_params(axis="x", rotation=35)
            for tick in ax.get_xticklabels():
                tick.set_horizontalalignment("right")
                tick.set_rotation_mode("anchor")
        handles = [Line2D([], [], marker="o", ls="", color="black", markersize=4,
                          label="one seed"),
                   Line2D([], [], marker="D", ls="", markerfacecolor="white",
                          markeredgecolor="black", label="paper (reported)")]
        if any(finite(real.get(m)) is not None for m in metrics):
            handles.append(Line2D([], [], ls="--", color="dimgrey", label=sanity_name(ceiling)))
        handles += [Line2D([], [], ls=ls, color=colour, label=sanity_name(key))
                    for key, (ls, colour) in drawn.items()]
        fig.legend(handles=handles, loc="outside lower center", ncols=min(len(handles), 3),
                   frameon=False)
        fig.suptitle(f"{direction_label(direction)}: mean ± sd over seeds")
        return _save(fig, Path(out_dir) / f"bars_{direction}.png")


# --------------------------------------------------------------------------- training curves

def _iterations(value: float, _pos: int) -> str:
    """Compact iteration ticks (20k, 1.5M) so that a long run's axis stays readable."""
    for scale, suffix in ((1e6, "M"), (1e3, "k")):
        if abs(value) >= scale:
            return f"{value / scale:g}{suffix}"
    return f"{value:g}"


def _read_log(run: LoadedRun) -> pd.DataFrame | None:
    path = run.run_dir / "train_log.csv"
    if not path.is_file():
        _warn(f"no train_log.csv in {run.run_dir}: left out of losses.png")
        return None
    try:
        log = pd.read_csv(path)
    except (OSError, ValueError) as err:
        _warn(f"unreadable {path} ({err}): left out of losses.png")
        return None
    losses = [c for c in log.columns if c.startswith("loss_")]
    if "iteration" not in log.columns or not losses or log.empty:
        _warn(f"{path} has no 'iteration' and loss_* columns: left out of losses.png")
        return None
    return log[["iteration"] + losses].apply(pd.to_numeric, errors="coerce")


def plot_losses(runs: Iterable[Mapping[str, Any] | LoadedRun], out_dir: str | Path,
                variants: Sequence[str] | None = None, window: int | None = None,
                reference: PaperReference | None = None) -> Path | None:
    """`losses.png`: one panel per variant, every loss_* column it logs (rolling mean; band =
    sd over seeds), one colour per loss term across panels.

    Each run's smoothed curve is averaged into MAX_CURVE_POINTS iteration bins shared by all
    runs, so seeds logged at different iterations still line up, and the seed mean/sd is one
    vectorised groupby (seaborn's per-point bootstrap machinery took a minute on long logs).
    """
    runs = load_runs(runs)
    reference = reference or load_reference()
    order = [v for v in _variants(runs, variants) if any(r.variant == v for r in runs)]
    frames = []
    for run in runs:
        if run.variant not in order or (log := _read_log(run)) is None:
            continue
        log = log.dropna(subset=["iteration"]).sort_values("iteration")
        size = window or max(1, len(log) // 25)
        smooth = log.drop(columns="iteration").rolling(size, min_periods=1).mean()
        smooth.insert(0, "iteration", log["iteration"].to_numpy())
        long = smooth.melt(id_vars="iteration", var_name="loss", value_name="value").dropna()
        frames.append(long.assign(variant=run.variant, seed=run.seed))
    if not frames:
        _warn("no run has a usable train_log.csv yet: losses.png not drawn")
        return None
    data = pd.concat(frames, ignore_index=True)
    data["loss"] = data["loss"].str.removeprefix("loss_")
    edges = np.linspace(data.iteration.min(), data.iteration.max() + 1, MAX_CURVE_POINTS + 1)
    data["bin"] = np.clip(np.searchsorted(edges, data.iteration, side="right") - 1, 0,
                          MAX_CURVE_POINTS - 1)
    per_run = data.groupby(["variant", "loss", "seed", "bin"], sort=False).agg(
        iteration=("iteration", "mean"), value=("value", "mean")).reset_index()
    curves = per_run.groupby(["variant", "loss", "bin"]).agg(
        iteration=("iteration", "mean"), mean=("value", "mean"), sd=("value", "std"),
        seeds=("seed", "nunique")).reset_index()
    losses = list(dict.fromkeys(data["loss"]))
    colors = dict(zip(losses, sns.color_palette("tab10" if len(losses) <= 10 else "husl",
                                                len(losses))))
    drawn = [v for v in order if v in set(data.variant)]

    with sns.axes_style("whitegrid"), sns.plotting_context("notebook", font_scale=0.85):
        ncols = min(3, len(drawn))
        nrows = math.ceil(len(drawn) / ncols)
        fig = Figure(figsize=(4.2 * ncols + 1.8, 3.0 * nrows), layout="constrained")
        axes = np.atleast_1d(fig.subplots(nrows, ncols, squeeze=False, sharex=True).ravel())
        for ax, variant in zip(axes, drawn):
            sub = curves[curves.variant == variant]
            for loss in [l for l in losses if l in set(sub["loss"])]:
                curve = sub[sub["loss"] == loss]
                x, y = curve.iteration.to_numpy(), curve["mean"].to_numpy()
                sd = curve["sd"].fillna(0).to_numpy()
                ax.plot(x, y, color=colors[loss], lw=1.2)
                ax.fill_between(x, y - sd, y + sd, color=colors[loss], alpha=0.2, lw=0)
            seeds = per_run[per_run.variant == variant].seed.nunique()
            ax.set_title(f"{reference.display_name(variant)} "
                         f"({seeds} seed{'s' if seeds > 1 else ''})")
            ax.set_ylabel("loss")
            ax.xaxis.set_major_formatter(FuncFormatter(_iterations))
        for ax in axes[len(drawn):]:
            ax.set_visible(False)
        for ax in axes[:len(drawn)]:
            if ax.get_subplotspec().is_last_row() or not axes[min(len(axes) - 1,
                                                                  list(axes).index(ax) + ncols)
                                                             ].get_visible():
                ax.set_xlabel("iteration")
                ax.tick_params(labelbottom=True)
        handles = [Line2D([], [], color=colors[l], lw=2, label=l) for l in losses]
        fig.legend(handles=handles, loc="outside right center", title="loss term",
                   frameon=False)
        fig.suptitle("Training losses (rolling mean; band: sd over seeds)")
        return _save(fig, Path(out_dir) / "losses.png")


# --------------------------------------------------------------------------- samples

select_samples = sample_grid.select_samples
_natural = sample_grid.natural


def plot_samples(runs, direction, out_dir, variants=None, k=6, reference=None, sources=None):
    """`samples_<direction>.png` (benchmark.report.sample_grid) at this module's DPI."""
    return sample_grid.plot_samples(runs, direction, out_dir, variants, k, reference, dpi=DPI,
                                    sources=sources)


# --------------------------------------------------------------------------- per-class IoU

def plot_per_class_iou(runs: Iterable[Mapping[str, Any] | LoadedRun], direction: str,
                       out_dir: str | Path, variants: Sequence[str] | None = None,
                       reference_rows: Mapping[str, Any] | None = None,
                       reference: PaperReference | None = None) -> Path | None:
    """`per_class_iou_<direction>.png`: variants × classes heatmap of IoU (mean over seeds);
    grey = class absent or run pending."""
    runs = load_runs(runs)
    reference = reference or load_reference()
    order = _variants(runs, variants)
    spec = TableSpec(id="per_class", title="", direction=direction, rows=tuple(order))
    table = build_per_class([spec], runs, reference_rows, reference).get(direction)
    if table is None or table.drop(columns=["direction", "variant", "method",
                                            "n_seeds"]).isna().all().all():
        _warn(f"no run reports per-class {direction} scores yet: "
              f"per_class_iou_{direction}.png not drawn")
        return None
    matrix = table.set_index("method").drop(columns=["direction", "variant", "n_seeds"])
    with sns.axes_style("white"), sns.plotting_context("notebook", font_scale=0.8):
        fig = Figure(figsize=(0.55 * matrix.shape[1] + 3.2, 0.42 * matrix.shape[0] + 1.9),
                     layout="constrained")
        ax = fig.subplots()
        ax.set_facecolor("#dddddd")
        sns.heatmap(matrix, vmin=0, vmax=1, cmap="viridis", annot=True, fmt=".2f",
                    annot_kws={"fontsize": 6.5}, linewidths=0.5, linecolor="white",
                    cbar_kws={"label": "IoU", "shrink": 0.8}, ax=ax)
        sanity = int(table.n_seeds.isna().sum())  # the sanity rows come last
        if sanity:  # set the ceiling rows apart from the variants
            ax.axhline(len(matrix) - sanity, color="white", linewidth=4)
        ax.set_xlabel("")
        ax.set_ylabel("")
        ax.tick_params(axis="x", rotation=45)
        for tick in ax.get_xticklabels():
            tick.set_horizontalalignment("right")
            tick.set_rotation_mode("anchor")
        ax.set_title(f"Per-class IoU, {direction_label(direction)} (mean over seeds; "
                     "grey: absent / pending)")
        return _save(fig, Path(out_dir) / f"per_class_iou_{direction}.png")


# --------------------------------------------------------------------------- differences

def plot_differences(stats: TableStats, out_dir: str | Path,
                     reference: PaperReference | None = None) -> Path | None:
    """`differences_<table>.png`: per metric, each variant minus CycleGAN (seed-mean) with its
    95% recipe interval (seeds and test images); filled = significant after Holm, hollow = not. The
    figure a reader looks at first: which differences are more than noise."""
    reference = reference or load_reference()
    frame = stats.comparisons.dropna(subset=["diff"])
    if frame.empty:
        _warn(f"no paired comparison for {stats.spec.id} (per-image scores or the CycleGAN "
              f"run missing): differences_{stats.spec.id}.png not drawn")
        return None
    frame = frame.assign(method=frame.variant.map(reference.display_name),
                         label=frame.metric.map(lambda m: METRICS.get(m, (m,))[0]))
    metrics = list(dict.fromkeys(frame.metric))
    order = [reference.display_name(v) for v in stats.spec.rows if v in set(frame.variant)]
    palette = dict(zip(order, variant_palette(order).values()))
    with sns.axes_style("whitegrid"), sns.plotting_context("notebook", font_scale=0.85):
        fig = Figure(figsize=(4.0 * len(metrics), 0.45 * len(order) + 1.8),
                     layout="constrained")
        axes = fig.subplots(1, len(metrics), squeeze=False, sharey=True).ravel()
        for ax, metric in zip(axes, metrics):
            data = frame[frame.metric == metric].set_index("method").reindex(order)
            sns.pointplot(data=data.reset_index(), x="diff", y="method", hue="method",
                          order=order, hue_order=order, palette=palette, errorbar=None,
                          linestyle="none", markers="o", legend=False, ax=ax)
            for y, method in enumerate(order):
                row = data.loc[method]
                if pd.isna(row["diff"]):
                    continue
                ax.plot([row.ci_low, row.ci_high], [y, y], color=palette[method], lw=2)
                significant = not pd.isna(row.significant) and bool(row.significant)
                if not significant:
                    ax.scatter([row["diff"]], [y], s=40, color="white", zorder=5,
                               edgecolor=palette[method], linewidth=1.5)
            ax.axvline(0, color="black", lw=1)
            ax.set_title(METRICS.get(metric, (metric,))[0])
            ax.set_xlabel(f"difference from {reference.display_name('cyclegan')}")
            ax.set_ylabel("")
        # two lines: a table title plus the legend does not fit one line of a 3-panel figure
        fig.suptitle(f"{stats.spec.title}\nvariant − CycleGAN, 95% recipe interval over seeds "
                     "(filled: significant after Holm)")
        return _save(fig, Path(out_dir) / f"differences_{stats.spec.id}.png")


# --------------------------------------------------------------------------- all of them

def make_plots(specs: Sequence[Mapping[str, Any] | TableSpec],
               runs: Iterable[Mapping[str, Any] | LoadedRun], out_dir: str | Path,
               reference_rows: Mapping[str, Any] | None = None,
               reference: PaperReference | None = None, samples: int = 6,
               sample_sources: sample_grid.SampleSources | None = None,
               stats: Mapping[str, TableStats | None] | None = None) -> list[Path]:
    """Every figure for the specs' directions (and a difference plot per table with paired
    comparisons); a figure that fails is reported and skipped, so one broken run never costs
    the tables."""
    specs = [normalize_spec(s) for s in specs]
    runs = load_runs(runs)
    reference = reference or load_reference()
    directions = list(dict.fromkeys(s.direction for s in specs))
    jobs = [("losses.png", lambda: plot_losses(runs, out_dir, variant_order(specs),
                                               reference=reference))]
    for d in directions:
        order = variant_order(specs, d)
        jobs += [
            (f"bars_{d}.png", lambda d=d, o=order: plot_bars(runs, d, out_dir, o,
                                                             reference_rows, reference)),
            (f"samples_{d}.png", lambda d=d, o=order: plot_samples(
                runs, d, out_dir, o, samples, reference, sample_sources)),
            (f"per_class_iou_{d}.png", lambda d=d, o=order: plot_per_class_iou(
                runs, d, out_dir, o, reference_rows, reference)),
        ]
    for spec in specs:
        if (table := (stats or {}).get(spec.id)) is not None:
            jobs.append((f"differences_{spec.id}.png",
                         lambda t=table: plot_differences(t, out_dir, reference)))
    paths = []
    for name, job in jobs:
        try:
            path = job()
        except Exception as err:  # a figure is a convenience; the tables must still appear
            _warn(f"{name} failed ({type(err).__name__}: {err}); the rest of the report "
                  "is written")
            continue
        if path is not None:
            paths.append(path)
    return paths

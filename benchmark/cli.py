"""The `benchmark` command line. Trailing `key=value` words are Hydra overrides everywhere.

    benchmark run ablations cityscapes [overrides]     # a suite: train, evaluate, report
    benchmark status ablations cityscapes              # pending / running / done / failed
    benchmark report ablations cityscapes              # tables + plots from what is done
    benchmark train model=gan_only dataset=cityscapes  # one run
    benchmark evaluate RUN_DIR                         # score one run
    benchmark evaluate --reference real cityscapes     # the sanity rows
    benchmark evaluator train cityscapes               # the labels->photo segmenter
    benchmark describe model=cyclegan --json           # resolved config + parameter counts
    benchmark check model=mymethod --config-dir DIR    # a model against the TranslationModel contract
    benchmark data prepare cityscapes --src DIR --out DIR --size 128
    benchmark perf                                     # seconds per iteration, efficiency

`--config-dir DIR` (anywhere on the line, repeatable) adds DIR's model/, dataset/ and suite/
YAMLs to every command, as BENCHMARK_CONFIG_DIR does; jobs started by the command inherit it.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path


class UserError(Exception):
    """Raised for bad input; printed as one line, exit code 2."""


def _split_overrides(words: list[str]) -> tuple[list[str], list[str]]:
    """Separate Hydra `key=value` overrides from positional words."""
    overrides = [w for w in words if "=" in w and not w.startswith("-")]
    rest = [w for w in words if w not in overrides]
    return rest, overrides


def preflight(base, run_dirs: list[Path], *, what: str, confirmed: bool) -> None:
    """Before anything trains: every image header of both splits checked, the test split decoded
    in full, every split's size checked against what scoring needs, the plan printed with its
    measured cost (stopping when absurd for the launcher).

    Skipped entirely when nothing needs training."""
    from benchmark.data import check_readable, open_domains
    from benchmark.run.cost import check_cost
    from benchmark.run.evaluate import check_scorable
    from benchmark.run.store import run_state
    from benchmark.run.train import iteration_budget

    run_dirs = [d for d in run_dirs if run_state(d).state not in ("trained", "done")]
    if not run_dirs:  # only scoring left: nothing to estimate
        return
    pair = open_domains(base.dataset, "train")
    per_run, _ = iteration_budget(base.trainer, max(len(pair.X), len(pair.Y)))
    check_readable(open_domains(base.dataset, "test"), progress=bool(base.progress))
    check_scorable(base)
    remaining = sum(max(per_run - int(run_state(d).iteration or 0), 0) for d in run_dirs)
    check_cost(base, runs=len(run_dirs), iterations=remaining, iterations_per_run=per_run, what=what,
               confirmed=confirmed)


def cmd_train(args, overrides: list[str]) -> int:
    from benchmark.config import compose_config, run_dir_of
    from benchmark.run.store import RunDirRefusedError, check_own_folder, record_failure, run_lock, run_state
    from benchmark.run.train import train

    cfg = compose_config(overrides)
    check_own_folder(run_dir_of(cfg))  # a user's folder is refused before anything is measured
    state = run_state(run_dir_of(cfg))
    if state.state not in ("trained", "done", "running"):
        preflight(cfg, [run_dir_of(cfg)], what=f"{cfg.model.name} seed {cfg.seed} on {cfg.dataset.name}",
                  confirmed=args.yes)
    with run_lock(run_dir_of(cfg)):  # never two processes training one run directory
        try:
            result = train(cfg, run_dir_of(cfg))
        except RunDirRefusedError:
            raise  # not this run's folder (or not this config's): nothing of it to mark
        except Exception as exc:
            record_failure(run_dir_of(cfg), exc)  # status.json says failed, with the error, as in a suite
            raise
    print(f"trained {result['iteration']}/{result['total']} iterations in {result['run_dir']}")
    return 0


def cmd_describe(args, overrides: list[str]) -> int:
    from omegaconf import OmegaConf

    from benchmark.config import compose_config, config_hash, resolved_dict
    from benchmark.model_registry import build_model
    from models.networks import count_parameters

    cfg = compose_config(overrides)
    model = build_model(cfg)
    counts = {name: count_parameters(net) for name, net in model.networks().items()}
    if args.json:
        print(json.dumps({"networks": counts, "config": resolved_dict(cfg),
                          "config_hash": config_hash(cfg)}, indent=2))
        return 0
    print(OmegaConf.to_yaml(cfg, resolve=True))
    print(f"config hash: {config_hash(cfg)}")
    for name, net in model.networks().items():
        print(f"{name:4s} {type(net).__name__:20s} {counts[name]:>12,d} parameters")
    return 0


def cmd_check(args, overrides: list[str]) -> int:
    """One PASS/FAIL line per contract check (benchmark/contract.py); exit 1 when any fails."""
    from benchmark.contract import run_checks

    return 0 if all(r.passed for r in run_checks(overrides)) else 1


def cmd_data(args, overrides: list[str]) -> int:
    from benchmark.data.cityscapes_native import prepare_cityscapes

    if args.action != "prepare" or args.dataset != "cityscapes":
        raise UserError("usage: benchmark data prepare cityscapes --src DIR --out DIR [--size 128]")
    if not args.src or not args.out:
        raise UserError("benchmark data prepare cityscapes needs --src (native Cityscapes with "
                        "leftImg8bit/ and gtFine/) and --out (the prepared folder)")
    quiet = any(o.replace(" ", "").lower() in ("progress=false", "progress=0") for o in overrides)
    summary = prepare_cityscapes(Path(args.src), Path(args.out), size=args.size, progress=not quiet)
    print(json.dumps(summary, indent=2, default=str))
    return 0


def cmd_status(args, overrides: list[str]) -> int:
    from benchmark.suite.plan import plan
    from benchmark.suite.status import print_status, store_line

    base, runs = plan(args.suite, args.dataset, overrides)
    print(store_line(base, overrides))
    rows = print_status(runs)
    return 1 if any(r["state"] == "failed" for r in rows) else 0


def cmd_report(args, overrides: list[str]) -> int:
    from benchmark.suite.report import report_suite

    out = report_suite(args.suite, args.dataset, overrides, force=True)
    if out.get("written") is False:
        from benchmark.suite.report import nothing_to_report

        print(nothing_to_report(out), file=sys.stderr)
        return 1
    print(f"report of {out['done']}/{out['planned']} finished runs in {out['out_dir']}")
    return 0


def cmd_run(args, overrides: list[str]) -> int:
    from benchmark.config import compose_config
    from benchmark.run.evaluate import ensure_segmenter, evaluation_hash
    from benchmark.run.store import exclusive, run_state
    from benchmark.suite.jobs import prepare_store, run_local, runs_to_do, suite_lock_path
    from benchmark.suite.launcher import (
        check_slurm,
        slurm_job_state,
        submit_local,
        submit_slurm,
        wait_for,
        wait_for_runs,
    )
    from benchmark.suite.plan import check_dataset, load_suite, plan
    from benchmark.suite.report import report_suite
    from benchmark.suite.requirements import split_unavailable
    from benchmark.suite.status import print_status, run_summary

    load_suite(args.suite)
    check_dataset(args.dataset)
    base = compose_config([f"dataset={args.dataset}", *overrides])
    launcher = base.launcher.name
    if launcher == "slurm":
        check_slurm()  # before planning anything
    prepare_store(base)
    base, runs = plan(args.suite, args.dataset, overrides)
    todo, notes = runs_to_do(runs, int(base.launcher.max_retries))
    if launcher == "slurm":  # a run with a live job is not submitted twice
        queued = [r for r in todo if slurm_job_state(r.run_dir)[1] in _slurm_active()]
        notes += [f"queued   {r.variant} seed {r.seed}: job {slurm_job_state(r.run_dir)[0]}" for r in queued]
        todo = [r for r in todo if r not in queued]
    todo, unavailable = split_unavailable(todo)  # before anything trains: what this machine lacks
    notes += [f"unavailable {r.variant} seed {r.seed}: {unavailable[r.run_dir]}" for r in runs
              if r.run_dir in unavailable]
    for line in notes:
        print(line)
    gave_up = [line for line in notes if line.startswith("gave up")]
    print(f"{len(todo)} of {len(runs)} runs to do ({args.suite} on {args.dataset}, launcher={launcher})")
    preflight(base, [r.run_dir for r in todo], confirmed=args.yes,
              what=f"{args.suite} on {args.dataset}: {', '.join(sorted({r.variant for r in todo}))}")
    failures: list = []
    if launcher == "slurm":
        jobs = submit_slurm(base, todo, suite=args.suite) if todo else []
        for job in jobs:
            print(f"submitted job {job.job_id}")
        if not args.wait:
            print(f"follow with: benchmark status {args.suite} {args.dataset} launcher=slurm")
            return 1 if gave_up else 0
        # --wait also waits for runs whose jobs an earlier `run` submitted (queued or running)
        live = [r for r in runs if r in todo or slurm_job_state(r.run_dir)[1] in _slurm_active()]
        wait_for(jobs, poll_s=args.poll)
        wait_for_runs([r.run_dir for r in live if r not in todo], poll_s=args.poll)
        # the store decides, not sacct: a job's state lags behind its result file, and a job that
        # finished just as its time-limit signal came reads FAILED although its run is done
        failures = [r.run_dir for r in live if not run_state(r.run_dir, evaluation_hash(r.cfg)).finished]
        print_status(runs)
    else:
        with exclusive(suite_lock_path(base, args.suite, args.dataset), f"benchmark run {args.suite} {args.dataset}"):
            if base.launcher.mode == "submitit":
                if todo:
                    ensure_segmenter(base, progress=bool(base.progress))
                jobs = submit_local(base, todo)
                wait_for(jobs, poll_s=args.poll)
                failures = [j.job_id for j in jobs if j.state != "FINISHED"]
            else:
                failures = run_local(base, todo, progress=bool(base.progress))
    out = report_suite(args.suite, args.dataset, overrides, progress=bool(base.progress))
    if out.get("written") is False:
        from benchmark.suite.report import nothing_to_report

        print(nothing_to_report(out))
    else:
        print(f"report of {out['done']}/{out['planned']} finished runs in {out['out_dir']}"
              + (" (up to date)" if out.get("up_to_date") else ""))
    if gave_up:
        print(f"{len(gave_up)} run(s) gave up after their retries (see above); exit code 1", file=sys.stderr)
    print(run_summary(runs, unavailable, strict=args.strict))
    return 1 if failures or gave_up or (args.strict and unavailable) else 0


def _slurm_active():
    from benchmark.suite.launcher import SLURM_ACTIVE

    return SLURM_ACTIVE


def cmd_evaluate(args, overrides: list[str]) -> int:
    from benchmark.config import compose_config, override_run_config
    from benchmark.run.evaluate import evaluate_run, evaluation_hash, load_run_config
    from benchmark.run.sanity import reference_rows
    from benchmark.run.store import is_locked, run_state

    if args.reference:
        if args.reference != "real" or not args.target:
            raise UserError("usage: benchmark evaluate --reference real DATASET [overrides]")
        cfg = compose_config([f"dataset={args.target}", *overrides])
        rows = reference_rows(cfg, progress=bool(cfg.progress))
    else:
        if not args.target:
            raise UserError("usage: benchmark evaluate RUN_DIR [overrides]")
        if is_locked(Path(args.target)):
            state = run_state(Path(args.target))
            at = f" (iteration {state.iteration}/{state.total})" if state.total else ""
            raise UserError(f"{args.target} is training now{at}: evaluate it when training has finished "
                            "(`benchmark status` shows when); the suite evaluates it by itself")
        run_dir = Path(args.target)
        own = load_run_config(run_dir)
        cfg = override_run_config(own, overrides)
        # other evaluation settings (a subset: max_images) score into their own folder, never
        # replacing the run's own test images and metrics.json, which the suite's report reads
        scoring = evaluation_hash(cfg)
        out_dir = None if scoring == evaluation_hash(own) else run_dir / "evaluations" / scoring
        rows = evaluate_run(run_dir, cfg, progress=bool(cfg.get("progress", True)), out_dir=out_dir)
        print(f"metrics: {(out_dir or run_dir) / 'metrics.json'}", file=sys.stderr)
    if args.json:
        print(json.dumps(rows, indent=2, default=str))
    else:
        for row, per_direction in rows.items():
            if row == "evaluation" or not isinstance(per_direction, dict):
                continue
            for direction, scores in per_direction.items():
                nums = {k: round(v, 4) for k, v in scores.items() if isinstance(v, float)}
                print(f"{row:20s} {direction:14s} {nums}")
    return 0


def cmd_evaluator(args, overrides: list[str]) -> int:
    from benchmark.config import compose_config
    from benchmark.run.evaluate import ensure_segmenter
    from benchmark.run.sanity import reference_rows

    if args.action != "train":
        raise UserError("usage: benchmark evaluator train DATASET [overrides]")
    cfg = compose_config([f"dataset={args.dataset}", *overrides])
    path = ensure_segmenter(cfg, progress=bool(cfg.progress))
    if path is None:
        raise UserError(f"dataset {args.dataset} has no label domain: its translations are scored by FID/KID only")
    rows = reference_rows(cfg, progress=bool(cfg.progress))
    print(f"evaluator: {path}")
    for direction, scores in rows["real_photos"].items():
        print(f"real photos ({direction}): per-pixel {scores['per_pixel_acc']:.3f} per-class "
              f"{scores['per_class_acc']:.3f} IoU {scores['class_iou']:.3f}")
    return 0


def cmd_plan(args, overrides: list[str]) -> int:
    """`benchmark plan seeds SUITE DATASET [power=0.8] [delta=D] [--from DIR]` (suite/seed_plan.py)."""
    from benchmark.suite import seed_plan

    options = {k: float(v) for k, _, v in (o.partition("=") for o in overrides) if k in ("power", "delta")}
    overrides = [o for o in overrides if o.partition("=")[0] not in ("power", "delta")]
    power = options.get("power", seed_plan.DEFAULT_POWER)
    if not 0 < power < 1:
        raise UserError(f"power={power} must lie between 0 and 1 (e.g. power=0.8)")
    if args.source:  # the folder's own profile prices its runs, unless profile= says otherwise
        overrides = seed_plan.with_results_profile(Path(args.source), overrides)
    suite, cfg = seed_plan.suite_and_config(args.suite, args.dataset, overrides)
    run_seconds: list[float] = []
    if args.source:
        scores, source = seed_plan.scores_from_results(Path(args.source)), f"{args.source}/scores_long.csv"
    else:
        scores, run_seconds = seed_plan.scores_from_store(args.suite, args.dataset, overrides)
        source = f"the finished runs in {cfg.store_dir}"
        if scores.empty:
            raise UserError(f"no finished run of {args.suite} on {args.dataset} in {cfg.store_dir}: run the suite, "
                            f"or plan from a committed report with --from results/{args.suite}/{args.dataset}")
    table = seed_plan.seeds_table(scores, suite, cfg, power=power, delta=options.get("delta"))
    cost = seed_plan.run_cost(args.dataset, overrides, run_seconds)
    print(seed_plan.format_plan(table, cost, power=power, alpha=seed_plan.DEFAULT_ALPHA, source=source))
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The one parser of every command but `perf` (main hands perf its words whole; it is
    listed here so --help shows it)."""
    parser = argparse.ArgumentParser(prog="benchmark", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config-dir", metavar="DIR", action="append",
                        help="a folder of your own model/, dataset/, suite/ YAMLs (anywhere on the line)")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("train", help="train one run (resumes if interrupted)")
    p.add_argument("--yes", action="store_true", help="start even when the cost estimate is absurd here")
    p = sub.add_parser("describe", help="resolved config and parameter counts")
    p.add_argument("--json", action="store_true")
    sub.add_parser("check", help="check a model against the TranslationModel contract (model=...)")
    p = sub.add_parser("data", help="dataset preparation")
    p.add_argument("action", choices=["prepare"])
    p.add_argument("dataset")
    p.add_argument("--src")
    p.add_argument("--out")
    p.add_argument("--size", type=int, default=128)
    for name, text in (("run", "train, evaluate and report a suite"),
                       ("status", "state of each run of a suite"),
                       ("report", "tables and plots from the finished runs")):
        p = sub.add_parser(name, help=text)
        p.add_argument("suite")
        p.add_argument("dataset")
        if name == "run":
            p.add_argument("--wait", action="store_true", help="SLURM: block until every job ended")
            p.add_argument("--poll", type=float, default=10.0, help="seconds between status polls")
            p.add_argument("--yes", action="store_true",
                           help="start even when the cost estimate is absurd for the launcher")
            p.add_argument("--strict", action="store_true",
                           help="exit 1 when a variant is unavailable here (its weights cannot be had)")
    p = sub.add_parser("evaluate", help="score a run (or the reference rows of a dataset)")
    p.add_argument("target", nargs="?")
    p.add_argument("--reference", choices=["real"])
    p.add_argument("--json", action="store_true")
    p = sub.add_parser("evaluator", help="the labels->photo segmentation evaluator")
    p.add_argument("action", choices=["train"])
    p.add_argument("dataset")
    p = sub.add_parser("plan", help="seeds each paper claim needs, and their cost")
    p.add_argument("what", choices=["seeds"])
    p.add_argument("suite")
    p.add_argument("dataset")
    p.add_argument("--from", dest="source", metavar="RESULTS_DIR",
                   help="a committed results folder (its scores_long.csv) instead of the store")
    sub.add_parser("perf", help="speed benchmark (seconds per iteration, efficiency); see --help")
    return parser


_HANDLERS = {"train": cmd_train, "describe": cmd_describe, "check": cmd_check, "data": cmd_data, "run": cmd_run,
             "status": cmd_status, "report": cmd_report, "evaluate": cmd_evaluate,
             "evaluator": cmd_evaluator, "plan": cmd_plan}


def main(argv: list[str] | None = None) -> int:
    from benchmark.config import ConfigError, take_config_dirs

    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        argv = take_config_dirs(argv)  # anywhere on the line; before perf, which has its own parser
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if argv[:1] == ["perf"]:  # perf has its own options (--tiny, --eval, ...): hand them over whole
        from benchmark.perf import cli as perf

        return perf.main(argv[1:])
    words, overrides = _split_overrides(argv)
    args = build_parser().parse_args(words)
    try:
        return _HANDLERS[args.command](args, overrides)
    except KeyboardInterrupt:
        print("interrupted: finished work is kept; run the same command again to resume", file=sys.stderr)
        return 130
    except (UserError, ValueError, FileNotFoundError, RuntimeError, OSError) as exc:
        if os.environ.get("BENCHMARK_DEBUG"):
            raise
        print(f"error: {' '.join(str(exc).split())}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())

"""`benchmark plan seeds`: seeds per claim from a committed results folder, with the cost."""
from __future__ import annotations

import math
from pathlib import Path

import pandas as pd

from benchmark.cli import main
from benchmark.suite import seed_plan
from evaluation.recipe_statistics import seeds_for_power

RESULTS = Path(__file__).resolve().parents[1] / "results" / "ablations" / "cityscapes"


def test_seeds_table_matches_the_power_calculation_on_committed_scores():
    scores = pd.read_csv(RESULTS / "scores_long.csv")
    suite, cfg = seed_plan.suite_and_config("ablations", "cityscapes", ["profile=cpu"])
    table = seed_plan.seeds_table(scores, suite, cfg)
    assert set(table.claim) == {"no_gan_hurts", "no_cycle_hurts", "forward_only_worse", "backward_only_worse"}
    row = table[(table.claim == "no_cycle_hurts") & (table.direction == "labels2photo")
                & (table.metric == "per_pixel_acc")].iloc[0]
    pick = scores[(scores.direction == "labels2photo") & (scores.metric == "per_pixel_acc")]
    a = pick[pick.variant == "gan_only"].value
    b = pick[pick.variant == "cyclegan"].value
    assert row.n_variant == len(a) and row.n_reference == len(b) and len(a) >= 3  # every committed seed
    assert math.isclose(row["diff"], a.mean() - b.mean())
    assert row.seeds_needed == seeds_for_power(a.mean() - b.mean(), a.std(), b.std())
    # a smallest difference of interest replaces the observed one
    planned = seed_plan.seeds_table(scores, suite, cfg, delta=0.01)
    assert (planned.delta_planned.abs() == 0.01).all()


def test_plan_seeds_command_prints_seeds_and_cost(capsys, monkeypatch):
    monkeypatch.setattr(seed_plan, "run_cost", lambda *a: seed_plan.RunCost(600.0, "test", 4.8, "recorded"))
    code = main(["plan", "seeds", "ablations", "cityscapes", "profile=cpu", "power=0.9", "--from", str(RESULTS)])
    out = capsys.readouterr().out
    assert code == 0
    assert "seeds per recipe for 90% power" in out and "no_cycle_hurts" in out
    assert "GPU-hours" in out and "pilot estimate" in out
    assert main(["plan", "seeds", "ablations", "cityscapes", "power=2", "--from", str(RESULTS)]) == 2


def test_plan_from_a_results_folder_prices_its_profile_and_needs_no_dataset(capsys, monkeypatch, tmp_path):
    """The committed folder was made at profile=cpu: its runs are priced there, not at the
    default (paper) profile; without the dataset the seeds still print and the cost says why not."""
    assert seed_plan.with_results_profile(RESULTS, []) == ["profile=cpu"]
    assert seed_plan.with_results_profile(RESULTS, ["profile=paper"]) == ["profile=paper"]
    monkeypatch.setenv("BENCHMARK_DATA", str(tmp_path / "no_data_here"))
    assert main(["plan", "seeds", "ablations", "cityscapes", "--from", str(RESULTS)]) == 0
    out = capsys.readouterr().out
    assert "no_cycle_hurts" in out
    assert "here: not estimated: dataset cityscapes" in out and "set BENCHMARK_DATA" in out

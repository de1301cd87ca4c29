"""Grid budgets from recorded timings, the epoch rule's table, and where folders are."""
import numpy as np
import pandas as pd
import pytest

from deimos_utils import locations
from deimos_utils.analysis import budget
from deimos_utils.experiment import epoch_rule
from deimos_utils.experiment.config import get_config


def fake_rows(method, seed, iterations, seconds_of):
    return pd.DataFrame({"method": method, "seed": seed, "iteration": list(iterations),
                         "train_seconds": [seconds_of(i) for i in iterations],
                         "eval_seconds": 1.0, "acquire_seconds": 0.0})


def test_grid_budget_sums_recorded_runs_and_extrapolates_a_line():
    config = get_config("mnist_7v9_b25", "quick").replace(methods=("deimos", "random"), n_repeats=2)
    n = config.n_iterations + 1
    line = lambda i: 2.0 + 3.0 * i                      # seconds of training at iteration i
    rows = pd.concat([fake_rows("deimos", 0, range(n), line),
                      fake_rows("deimos", 1, range(1), line),
                      fake_rows("random", 0, range(n), lambda i: 4.0)])
    table = budget.grid_budget(config, rows, workers=2)
    full = sum(line(i) + 1.0 for i in range(n))
    assert table.loc["deimos", "finished"] == 1 and table.loc["deimos", "rows"] == n + 1
    assert table.loc["deimos", "hours recorded"] == pytest.approx((full + line(0) + 1) / 3600)
    assert table.loc["deimos", "hours estimated"] == pytest.approx(2 * full / 3600)
    # random's seed 1 never ran: its own method's line (constant 5 s) stands in
    assert table.loc["random", "hours estimated"] == pytest.approx(2 * n * 5.0 / 3600)
    assert table.attrs["grid_hours"] == pytest.approx(table["hours estimated"].sum() / 2)
    assert not table.attrs["complete"]
    assert "estimated" in budget.describe_budget(table, "x")


def test_grid_budget_without_any_rows_says_so():
    config = get_config("mnist_7v9_b25", "quick")
    table = budget.grid_budget(config, None)
    assert (table["rows"] == 0).all() and np.isnan(table.attrs["grid_hours"])
    assert "no timings" in budget.describe_budget(table, "mnist_7v9_b25")


def test_rule_table_marks_the_counts_the_rule_accepts():
    rows = []
    for name, objectives in (("initial", {25: 1.2, 50: 1.04, 300: 1.0}),
                             ("largest", {25: 0.5, 50: 0.2, 300: 0.2})):
        for e, v in objectives.items():
            rows.append(dict(family="f", set=name, n_train=10, epochs=e, objective=v,
                             target_var=np.nan, seconds_authors_epochs=1.0, task="classification"))
    table = epoch_rule.rule_table(pd.DataFrame(rows), "f")
    assert table.attrs["epochs"] == 50
    assert table["within the rule"].tolist() == [False, True, True]
    assert table.loc[25, "initial / E*"] == pytest.approx(1.2)
    assert epoch_rule.rule_table(pd.DataFrame(rows), "absent").attrs["epochs"] is None


def test_epoch_rule_family_of_every_cpu_experiment():
    assert epoch_rule.family_of("utkface_b200") == "utkface"
    with pytest.raises(ValueError, match="no family"):
        epoch_rule.family_of("nope")


def test_folders_follow_argument_then_environment_then_project(monkeypatch, tmp_path):
    monkeypatch.delenv(locations.RESULTS_ENV, raising=False)
    monkeypatch.delenv(locations.OUTPUT_ENV, raising=False)
    root = locations.project_root()
    assert (root / "pyproject.toml").is_file()
    assert locations.results_root() == root / "results"
    assert locations.outputs_root("figs") == root / "figs"
    assert locations.results_root(tmp_path) == tmp_path
    monkeypatch.setenv(locations.RESULTS_ENV, str(tmp_path / "r"))
    monkeypatch.setenv(locations.OUTPUT_ENV, str(tmp_path / "o"))
    assert locations.results_root() == tmp_path / "r"
    assert locations.outputs_root(None) == tmp_path / "o"
    assert locations.results_root("mine") == root / "mine"   # an explicit folder wins

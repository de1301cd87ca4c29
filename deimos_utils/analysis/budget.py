"""What a grid costs: recorded seconds per run and the whole grid's hours, from the tables.

Every results row records ``train_seconds``, ``eval_seconds`` and ``acquire_seconds`` of its
iteration. :func:`grid_budget` sums them per (method, seed) and estimates what the unfinished
iterations will take: per method, the seconds per iteration grow with the training set, so a
straight line in the iteration index is fitted to the method's recorded rows (all its seeds)
and summed over the missing iterations; a run with no rows of its method takes the mean
per-iteration line of the others. The grid's wall time is the total over ``workers`` (runs are
independent, one per worker).
"""
from __future__ import annotations

import numpy as np
import pandas as pd

TIMING_COLUMNS = ("train_seconds", "eval_seconds", "acquire_seconds")
#: the budget of one experiment's cpu grid (issue: 3 seeds x every method on 2 cores)
CPU_GRID_HOURS = 2.5


def _per_iteration(rows: pd.DataFrame) -> np.ndarray | None:
    """(intercept, slope) of seconds per iteration against the iteration index, or None."""
    if rows.empty:
        return None
    seconds = rows[list(TIMING_COLUMNS)].sum(axis=1).to_numpy(float)
    it = rows["iteration"].to_numpy(float)
    if len(np.unique(it)) < 2:
        return np.array([seconds.mean(), 0.0])
    slope, intercept = np.polyfit(it, seconds, 1)
    return np.array([intercept, slope])


def _sum_line(line: np.ndarray, iterations: np.ndarray) -> float:
    return float(np.clip(line[0] + line[1] * iterations, 0.0, None).sum())


def grid_budget(config, results: pd.DataFrame | None, workers: int = 2) -> pd.DataFrame:
    """One row per method of ``config``: ``runs`` (planned), ``finished``, ``rows`` recorded,
    ``hours recorded``, ``hours estimated`` (recorded + the missing iterations' estimate).

    ``results``: the experiment's table for this preset (None or empty when nothing ran).
    ``attrs``: ``grid_hours`` (estimated total over ``workers``), ``workers``,
    ``budget_hours`` (:data:`CPU_GRID_HOURS`), ``complete`` (every run finished).
    """
    n_rows = config.n_iterations + 1
    results = results if results is not None else pd.DataFrame(columns=["method", "seed", "iteration", *TIMING_COLUMNS])
    lines = {m: _per_iteration(results[results["method"] == m]) for m in config.methods}
    known = [v for v in lines.values() if v is not None]
    fallback = np.mean(known, axis=0) if known else None
    out = []
    for method in config.methods:
        mine = results[results["method"] == method]
        line = lines[method] if lines[method] is not None else fallback
        recorded = float(mine[list(TIMING_COLUMNS)].to_numpy(float).sum()) if len(mine) else 0.0
        estimate = recorded
        finished = 0
        for seed in config.seeds:
            done = set(mine.loc[mine["seed"] == seed, "iteration"].astype(int))
            finished += len(done) >= n_rows
            missing = np.array(sorted(set(range(n_rows)) - done), dtype=float)
            if len(missing):
                estimate += np.nan if line is None else _sum_line(line, missing)
        out.append({"method": method, "runs": len(config.seeds), "finished": finished,
                    "rows": len(mine), "hours recorded": recorded / 3600,
                    "hours estimated": estimate / 3600})
    table = pd.DataFrame(out).set_index("method")
    table.attrs.update(grid_hours=table["hours estimated"].sum(skipna=False) / workers, workers=workers,
                       budget_hours=CPU_GRID_HOURS,
                       complete=bool((table["finished"] == table["runs"]).all()))
    return table


def describe_budget(table: pd.DataFrame, experiment: str) -> str:
    """One line: the grid's estimated (or recorded) hours on its workers against the budget."""
    hours = table.attrs["grid_hours"]
    if not np.isfinite(hours):
        return f"{experiment}: no timings recorded yet, so no estimate"
    state = "recorded" if table.attrs["complete"] else "estimated from the rows recorded so far"
    verdict = "within" if hours <= table.attrs["budget_hours"] else "over"
    return (f"{experiment}: {hours:.2f} h on {table.attrs['workers']} workers ({state}); "
            f"{verdict} the {table.attrs['budget_hours']} h budget of a cpu grid")


def cpu_preset_cost(experiments, results_dir=None, measurement=None, workers: int = 2) -> str:
    """What notebooks 03-06 print about the cpu preset: for each model family of
    ``experiments``, the epoch rule's measurement (docs/cpu_preset.md) and the count it gives;
    for each experiment, its cpu grid's hours from the recorded timings (:func:`grid_budget`).

    ``results_dir``: where the cpu tables are (:func:`deimos_utils.locations.results_root`);
    ``measurement``: the epoch-rule table (default: the recorded ``results/epoch_rule.csv``).
    """
    from ..experiment import epoch_rule
    from ..experiment.config import CPU_EPOCHS, get_config
    from ..experiment.store import load_results
    from ..locations import results_root

    lines = []
    if measurement is None:
        try:
            measurement = epoch_rule.load_measurement()
        except FileNotFoundError as err:
            lines.append(str(err))
            measurement = pd.DataFrame(columns=["family"])
    for family in dict.fromkeys(epoch_rule.family_of(e) for e in experiments):
        table = epoch_rule.rule_table(measurement, family)
        if table.attrs["epochs"] is None:
            lines.append(f"epoch rule, {family}: not measured yet (`python benchmarks/epoch_rule.py "
                         f"{family}`); the cpu preset keeps the authors' {CPU_EPOCHS[family]} epochs")
            continue
        seconds = ", ".join(f"{k} {v:.0f} s" for k, v in table.attrs["seconds_authors_epochs"].items())
        lines += [f"epoch rule, {family} (training objective by epoch count; "
                  f"{seconds} for the authors' count on one core):",
                  table.round(4).to_string(),
                  f"-> {table.attrs['epochs']} epochs by the rule; the cpu preset uses "
                  f"{CPU_EPOCHS[family]}", ""]
    root = results_root(results_dir)
    for experiment in experiments:
        config = get_config(experiment, "cpu")
        try:
            rows = load_results(experiment, root, "cpu")
            rows = rows[rows["tag"].fillna("") == ""]
        except FileNotFoundError:
            rows = None
        table = grid_budget(config, rows, workers)
        lines += [describe_budget(table, experiment), table.round(2).to_string(), ""]
    return "\n".join(lines).rstrip()

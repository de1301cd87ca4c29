"""Appendix C across every experiment: DEIMOS against each baseline, one table.

Reads the results store the other notebooks write (``results/<experiment>/<preset>/``); an
experiment whose tables are missing is listed with the command that produces them.
:func:`authors_significance_table` runs the same test on the authors' published arrays (the
paper's range, which reproduces the paper's p-values) and :func:`beside_authors` puts the two
side by side, with the paper's p-values.
"""
from __future__ import annotations

from pathlib import Path

import pandas as pd

from ..experiment.config import EXPERIMENTS
from .paper import PAPER_P_VALUES
from ..acquisition.labels import METHOD_LABELS
from ..experiment.store import load_results

#: which notebook runs each experiment
NOTEBOOK_OF = {
    "splicing": "03_splicing.ipynb",
    "utkface_b100": "04_utkface.ipynb",
    "utkface_b200": "04_utkface.ipynb",
    "mnist_7v9_b1": "05_mnist_7v9.ipynb",
    "mnist_7v9_b25": "05_mnist_7v9.ipynb",
    "mnist_0to9_b25": "06_mnist_0to9.ipynb",
}
#: the authors' experiments, in the order of their tables
AUTHORS_ORDER = ("mnist_7v9_b1", "mnist_7v9_b25", "mnist_0to9_b100", "splicing", "utkface_b100",
                 "utkface_b200")


def metric_of(experiment: str) -> str:
    """The test metric the paper reports: accuracy (MNIST), MSE (splicing), RMSE (UTKFace)."""
    if experiment.startswith("mnist"):
        return "test_accuracy"
    return "test_mse" if experiment == "splicing" else "test_rmse"


def command_for(experiment: str, preset: str) -> str:
    """The shell command that writes the results of ``experiment`` at ``preset``."""
    return f"python -m deimos_utils.experiment.cli {experiment} --preset {preset}"


def collect(results_dir, preset: str, experiments=None) -> tuple[dict, pd.DataFrame]:
    """The main (untagged) results of each experiment, and a table of the missing ones.

    Returns ``({experiment: DataFrame}, missing)`` with ``missing`` holding the experiment,
    the notebook that runs it and the command that writes its tables.
    """
    found, missing = {}, []
    for experiment in experiments or EXPERIMENTS:
        try:
            rows = load_results(experiment, Path(results_dir), preset=preset)
            rows = rows[rows["tag"].fillna("") == ""]
            if rows.empty:
                raise FileNotFoundError
            found[experiment] = rows
        except FileNotFoundError:
            missing.append({"experiment": experiment, "notebook": NOTEBOOK_OF.get(experiment, "-"),
                            "command": command_for(experiment, preset)})
    return found, pd.DataFrame(missing, columns=["experiment", "notebook", "command"])


def significance_table(found: dict, reference: str = "deimos") -> pd.DataFrame:
    """One row per (experiment, baseline): repeats, our LRT p-value, which is better, and
    the paper's p-value where it gives one (see :func:`deimos_utils.analysis.tables.lmm_comparison`)."""
    from .tables import lmm_comparison

    tables = []
    for experiment, rows in found.items():
        if reference not in set(rows["method"]):
            continue
        metric = metric_of(experiment)
        table = lmm_comparison(rows, reference=reference, metric=metric).reset_index()
        table.insert(0, "experiment", experiment)
        table.insert(1, "metric", metric)
        table.insert(3, "repeats", int(rows["seed"].nunique()))
        tables.append(table)
    if not tables:
        return pd.DataFrame()
    return pd.concat(tables, ignore_index=True)


def authors_significance_table(data_dir=None, experiments=AUTHORS_ORDER) -> tuple[pd.DataFrame, list]:
    """:func:`significance_table` on the authors' arrays, each cut to the paper's range
    (:func:`deimos_utils.data.authors.within_horizon`: what reproduces the paper's p-values).

    Returns ``(table, missing)``: ``missing`` lists the experiments whose arrays are absent
    (the table then lacks their rows; empty table when none are present).
    """
    from ..data.authors import within_horizon
    from .authors_comparison import load_arrays

    found, missing = {}, []
    for experiment in experiments:
        arrays = load_arrays(experiment, data_dir)
        if arrays.available:
            found[experiment] = within_horizon(arrays.results)
        else:
            missing.append(experiment)
    return significance_table(found), missing


def beside_authors(ours: pd.DataFrame, theirs: pd.DataFrame) -> pd.DataFrame:
    """Our p-values, those of the authors' arrays and the paper's, one row per (experiment,
    baseline), in our experiments' names (our MNIST 0-9 at b = 25 faces their b = 100 arrays:
    the ``their arrays`` column names the arrays of each row).

    ``ours`` and ``theirs`` are :func:`significance_table` outputs (either may be empty).
    Columns: ``experiment``, ``method``, ``their arrays``, ``repeats``, ``p (ours)``,
    ``better (ours)``, ``p (their arrays)``, ``better (their arrays)``, ``p (paper)``;
    ``"-"`` where one side has no row.
    """
    from ..data.authors import AUTHORS_EXPERIMENT_OF

    key = ["experiment", "method"]
    ours_of = {v: k for k, v in AUTHORS_EXPERIMENT_OF.items() if k != v}  # their -> our name
    a = ours.rename(columns={"p-value": "p (ours)", "better": "better (ours)"}) if len(ours) else \
        pd.DataFrame(columns=key + ["repeats", "p (ours)", "better (ours)", "p-value (paper)"])
    if len(theirs):
        b = theirs.assign(**{"their arrays": theirs["experiment"],
                             "experiment": theirs["experiment"].map(lambda e: ours_of.get(e, e))})
        b = b.rename(columns={"p-value": "p (their arrays)", "better": "better (their arrays)",
                              "p-value (paper)": "paper (theirs)"})
    else:
        b = pd.DataFrame(columns=key + ["their arrays", "p (their arrays)", "better (their arrays)",
                                        "paper (theirs)"])
    cols_a = key + ["repeats", "p (ours)", "better (ours)", "p-value (paper)"]
    cols_b = key + ["their arrays", "p (their arrays)", "better (their arrays)", "paper (theirs)"]
    out = a[cols_a].merge(b[cols_b], on=key, how="outer", sort=False)
    method_of = {label: m for m, label in METHOD_LABELS.items()}
    paper = [PAPER_P_VALUES.get((e, method_of.get(m, m)), "-")
             for e, m in zip(out["experiment"], out["method"])]
    out = out.assign(**{"p (paper)": paper}).drop(columns=["p-value (paper)", "paper (theirs)"])
    out = out.astype(object).where(out.notna(), "-")
    out["repeats"] = pd.Series([v if v == "-" else int(v) for v in out["repeats"]], index=out.index,
                               dtype=object)  # 3, not the 3.0 the merge leaves
    order = {e: i for i, e in enumerate(dict.fromkeys(list(EXPERIMENTS) + list(AUTHORS_ORDER)))}
    out["_o"] = out["experiment"].map(lambda e: order.get(e, len(order)))
    out = out.sort_values("_o", kind="stable").drop(columns="_o").reset_index(drop=True)
    return out[["experiment", "method", "their arrays", "repeats", "p (ours)", "better (ours)",
                "p (their arrays)", "better (their arrays)", "p (paper)"]]

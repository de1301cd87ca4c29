"""Appendix C across every experiment: DEIMOS against each baseline, one table.

Reads the results store the other notebooks write (``results/<experiment>/<preset>/``); an
experiment whose tables are missing is listed with the command that produces them.
"""
from __future__ import annotations

from pathlib import Path

import pandas as pd

from .config import EXPERIMENTS
from .store import load_results

#: which notebook runs each experiment
NOTEBOOK_OF = {
    "splicing": "03_splicing.ipynb",
    "utkface_b100": "04_utkface.ipynb",
    "utkface_b200": "04_utkface.ipynb",
    "mnist_7v9_b1": "05_mnist_7v9.ipynb",
    "mnist_7v9_b25": "05_mnist_7v9.ipynb",
    "mnist_0to9_b25": "06_mnist_0to9.ipynb",
}


def metric_of(experiment: str) -> str:
    """The test metric the paper reports: accuracy (MNIST), MSE (splicing), RMSE (UTKFace)."""
    if experiment.startswith("mnist"):
        return "test_accuracy"
    return "test_mse" if experiment == "splicing" else "test_rmse"


def command_for(experiment: str, preset: str) -> str:
    """The shell command that writes the results of ``experiment`` at ``preset``."""
    return f"python -m deimos_utils.cli {experiment} --preset {preset}"


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
    the paper's p-value where it gives one (see :func:`deimos_utils.report.lmm_comparison`)."""
    from .report import lmm_comparison

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


def plot_significance(table: pd.DataFrame):
    """-log10 p of DEIMOS against each baseline, one bar per (experiment, baseline); red where
    DEIMOS is better, grey where the baseline is; the dashed line is p = 0.01."""
    import matplotlib.pyplot as plt
    import numpy as np

    rows = table.dropna(subset=["log10 p"])
    fig, ax = plt.subplots(figsize=(7, 0.35 * max(len(rows), 3) + 1))
    labels = [f"{e}: DEIMOS vs {m}" for e, m in zip(rows["experiment"], rows["method"])]
    heights = -rows["log10 p"].to_numpy(dtype=float)
    colors = np.where(rows["better"] == "DEIMOS", "#d62728", "#7f7f7f")
    ax.barh(labels, heights, color=colors)
    ax.axvline(2, ls="--", color="k", lw=0.8)
    ax.set_xlabel("-log10 p (LMM likelihood-ratio test); red: DEIMOS better, grey: baseline better")
    ax.invert_yaxis()
    fig.tight_layout()
    return fig

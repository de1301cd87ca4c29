"""The figure of Appendix C across every experiment: one bar per (experiment, baseline).

Draws the tables of :mod:`deimos_utils.analysis.significance_table`.
"""
from __future__ import annotations

import pandas as pd

__all__ = ["plot_significance"]


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

"""The figure of Appendix C across every experiment: the p-value heatmap (experiment x baseline).

Draws the tables of :mod:`deimos_utils.analysis.significance_table`.
"""
from __future__ import annotations

import pandas as pd

__all__ = ["HEATMAP_CLIP", "plot_significance"]

#: -log10 p beyond which the heatmap's colours saturate (the cells still print the p-value)
HEATMAP_CLIP = 12.0


def plot_significance(table: pd.DataFrame):
    """The p-value heatmap: one row per experiment, one column per baseline; each cell prints
    the LMM p-value of DEIMOS against that baseline and is coloured by -log10 p, red where
    DEIMOS is better, blue where the baseline is (saturating at p = 1e-12; white: p near 1)."""
    import matplotlib.pyplot as plt
    import numpy as np
    import seaborn as sns

    rows = table.dropna(subset=["log10 p"])
    signed = -rows["log10 p"].astype(float) * np.where(rows["better"] == "DEIMOS", 1.0, -1.0)
    cells = rows.assign(signed=signed)
    values = cells.pivot_table(index="experiment", columns="method", values="signed", aggfunc="first",
                               sort=False)
    labels = cells.pivot_table(index="experiment", columns="method", values="p-value",
                               aggfunc="first", sort=False).reindex_like(values).fillna("")
    fig, ax = plt.subplots(figsize=(1.3 * max(values.shape[1], 3) + 2, 0.5 * max(len(values), 2) + 1.2))
    sns.heatmap(values, annot=labels, fmt="", cmap="RdBu_r", center=0, vmin=-HEATMAP_CLIP,
                vmax=HEATMAP_CLIP, linewidths=0.5, annot_kws={"fontsize": 8}, ax=ax,
                cbar_kws={"label": "-log10 p; red: DEIMOS better, blue: baseline better"})
    ax.set_xlabel("DEIMOS against")
    ax.set_ylabel("")
    fig.tight_layout()
    return fig

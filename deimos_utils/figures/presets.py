"""One experiment's curves at several presets, one panel per method, beside the authors'.

- :func:`plot_presets`: per method, our mean +-1 sd over seeds at each preset (``cpu`` orange,
  ``paper`` in the method's colour) and the authors' curve (dashed, from
  :func:`deimos_utils.figures.authors_overlay.plot_authors_curves`).

The rows come from :func:`deimos_utils.analysis.presets.load_presets`.
"""
from __future__ import annotations

from typing import Mapping, Sequence

import pandas as pd

from ..acquisition.labels import METHOD_COLORS, method_label
from ..analysis.authors_comparison import AuthorsArrays
from .authors_overlay import plot_authors_curves
from .common import mean_sd_lines

__all__ = ["PRESET_COLORS", "plot_presets"]

#: colour of each preset's curve; ``None``: the method's own colour
PRESET_COLORS = {"quick": "#bcbd22", "cpu": "#ff7f0e", "paper": None}


def _curve_label(preset: str, rows: pd.DataFrame) -> str:
    n = int(rows["seed"].nunique())
    return f"ours, {preset} preset ({n} seed{'s' * (n > 1)}, to {int(rows['n_acquired'].max()):,})"


def plot_presets(by_preset: Mapping[str, pd.DataFrame], metric: str, *, arrays: AuthorsArrays | None = None,
                 methods: Sequence[str] | None = None, title: str = "", y_range=None,
                 panel_width: float = 3.2, panel_height: float = 3.0):
    """One panel per method: ``metric`` against acquired points at each preset of ``by_preset``
    (mean +-1 sd over the seeds that reach each point), the authors' curve dashed when
    ``arrays`` are available. ``y_range``: (low, high) shared by the panels, default matplotlib's.
    Returns the figure; raises ValueError when ``by_preset`` holds no rows.
    """
    import matplotlib.pyplot as plt

    if not by_preset or all(len(rows) == 0 for rows in by_preset.values()):
        raise ValueError("by_preset: no results to draw (load_presets found no table)")
    found = [m for rows in by_preset.values() for m in rows["method"]]
    methods = list(dict.fromkeys(found)) if methods is None else list(methods)
    fig, axes = plt.subplots(1, len(methods), figsize=(panel_width * len(methods), panel_height),
                             sharey=True, squeeze=False)
    x_max = max(float(rows["n_acquired"].max()) for rows in by_preset.values())
    for ax, method in zip(axes[0], methods):
        palette, order, parts = {}, [], []
        for preset, rows in by_preset.items():
            mine = rows[rows["method"] == method]
            if mine.empty:
                continue
            label = _curve_label(preset, mine)
            palette[label] = PRESET_COLORS.get(preset) or METHOD_COLORS.get(method)
            order.append(label)
            parts.append(mine.groupby(["seed", "n_acquired"])[metric].mean().reset_index()
                         .assign(curve=label))
        if parts:
            mean_sd_lines(ax, pd.concat(parts, ignore_index=True), "n_acquired", metric, "curve",
                          palette, order)
        if arrays is not None and arrays.available and (arrays.results["method"] == method).any():
            plot_authors_curves(ax, arrays, metric, x_max=x_max, methods=[method])
        ax.set_title(method_label(method), fontsize=10)
        ax.set_xlabel("Number of acquired points")
        ax.set_ylabel(metric.replace("_", " "))
        if y_range is not None:
            ax.set_ylim(*y_range)
        ax.legend(fontsize=6, loc="lower right")
        ax.grid(alpha=0.3)
    if title:
        fig.suptitle(title, fontsize=11)
    fig.tight_layout()
    return fig

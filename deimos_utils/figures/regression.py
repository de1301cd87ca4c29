"""Figures of the regression experiments (5' splicing, UTKFace age; Fig 2, Table 1).

Everything here draws the tidy results tables written by
:func:`deimos_utils.experiment.loop.run_all` (columns of
:data:`deimos_utils.experiment.store.COLUMNS`) and returns matplotlib figures or axes, so that
notebooks 03 and 04 stay a few calls long. Their tables (Appendix E's calibration, Table 1's
thresholds, the final metric, timings) are in :mod:`deimos_utils.analysis.regression_tables`.

- :func:`plot_final_metric`: the metric after the last acquisition
  (:func:`~deimos_utils.analysis.regression_tables.final_metric_table`).
- :func:`plot_learning_panels`: Fig 2-style learning curves, one panel per batch size, with
  the authors' curves on each (:func:`deimos_utils.figures.authors_overlay.beside`).
- :func:`plot_splicing_curves`: Fig 2 left with the authors' real-data curves: on our axes
  when ours ran on the real library, in a panel of their own with their Table 1 when ours
  ran on the simulated one.
"""
from __future__ import annotations

import textwrap
from typing import Mapping, Sequence

import numpy as np
import pandas as pd

from .common import method_style
from ..analysis.tables import figure_title, is_simulated

__all__ = [
    "plot_final_metric",
    "plot_learning_panels",
    "plot_splicing_curves",
]

# ------------------------------------------------------------------------------------ final metric

def plot_final_metric(tables: Mapping[str, pd.DataFrame], *, ax=None, ylabel: str = "",
                      title: str | None = None, digits: int = 2):
    """Dot plot of :func:`~deimos_utils.analysis.regression_tables.final_metric_table` outputs, one group per entry of ``tables``
    (e.g. ``{"b = 100": t100, "b = 200": t200}``), one marker per method (its mean) with
    +-1 sd error bars when there are several seeds, each labelled with its mean. The y axis
    is not forced to start at 0, so that differences between methods stay visible.
    Returns the axes."""
    import matplotlib.pyplot as plt

    if not tables:
        raise ValueError("tables is empty: nothing to plot")
    if ax is None:
        _, ax = plt.subplots(figsize=(6, 4))
    methods = list(dict.fromkeys(m for t in tables.values() for m in t.index))
    width = 0.6 / max(len(methods) - 1, 1)
    groups = list(tables)
    for j, m in enumerate(methods):
        xs, means, sds = [], [], []
        for i, g in enumerate(groups):
            t = tables[g]
            if m not in t.index:
                continue
            xs.append(i + (j - (len(methods) - 1) / 2) * width)
            means.append(float(t.at[m, "mean"]))
            sd = float(t.at[m, "sd"])
            sds.append(sd if np.isfinite(sd) else 0.0)
        style = method_style(m)
        ax.errorbar(xs, means, yerr=sds if any(sds) else None, fmt="o", capsize=4, markersize=7,
                    color=style["color"], label=style["label"])
        for x, v in zip(xs, means):
            ax.annotate(f"{v:.{digits}f}", (x, v), textcoords="offset points", xytext=(7, 0),
                        va="center", fontsize=7)
    labels = []
    for g in groups:
        t = tables[g]
        n = int(t["n_seeds"].max())
        labels.append(f"{g}\n({int(t['n_acquired'].max())} acquired, {n} seed{'s' * (n != 1)})")
    ax.set_xticks(range(len(groups)))
    ax.set_xticklabels(labels, fontsize=8)
    ax.set_xlim(-0.6, len(groups) - 0.4)
    ax.set_ylabel(ylabel)
    if title:
        ax.set_title(title, fontsize=10)
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3, axis="y")
    return ax


def plot_learning_panels(panels: Mapping[str, tuple], metric: str, source: str, *, what: str,
                         ylabel: str = "", width: float = 5.6, height: float = 4.0,
                         authors: Mapping | None = None):
    """One learning-curve panel (mean +-1 sd over seeds) per entry of ``panels``.

    ``panels`` maps a panel name (e.g. the experiment) to ``(results, config)``; each title
    is :func:`~deimos_utils.analysis.tables.figure_title` of ``source``, the panel's config (its batch
    size) and the seeds in its results. ``authors`` maps a panel name to its
    :class:`~deimos_utils.analysis.authors_comparison.AuthorsArrays`: their curves go on that panel and
    the caption under the figure says what differs (or that the arrays are absent).
    Returns ``(fig, axes, caption)`` with ``axes`` a list and ``caption`` the text written
    under the figure (``""`` without ``authors``).
    """
    import matplotlib.pyplot as plt

    from .authors_overlay import beside
    from .common import plot_learning_curves

    if not panels:
        raise ValueError("panels is empty: nothing to plot")
    fig, axes = plt.subplots(1, len(panels), figsize=(width * len(panels), height), squeeze=False)
    axes = list(axes[0])
    captions = []
    for ax, (name, (res, cfg)) in zip(axes, panels.items()):
        n_seeds = int(res["seed"].nunique())
        plot_learning_curves(res, metric, ax=ax, methods=cfg.methods, n_initial=cfg.n_initial,
                             title=figure_title(source, cfg, n_seeds, what))
        if ylabel:
            ax.set_ylabel(ylabel)
    fig.tight_layout()
    for ax, (name, (res, cfg)) in zip(axes, panels.items()):
        if authors is not None and name in authors:
            captions.append(beside(fig, ax, authors[name], cfg, res, metric, data_source=source,
                                   prefix=f"{name}: " if len(panels) > 1 else ""))
    return fig, axes, "\n".join(captions)


def _authors_table1_panel(ax, arrays, table: Mapping, thresholds: Sequence[float]) -> None:
    """Their curves up to Table 1's range, the thresholds as dotted lines, their Table 1 as a
    table in the panel."""
    from ..analysis.authors_comparison import TABLE_ENTRIES
    from .authors_overlay import plot_authors_curves
    from ..acquisition.labels import method_label

    x_max = max(TABLE_ENTRIES["splicing"].values()) - 1
    plot_authors_curves(ax, arrays, "test_mse", x_max=x_max)
    ax.legend(fontsize=7, loc="lower left")
    for t in thresholds:
        ax.axhline(t, ls=":", color="0.5", lw=0.8)
    methods = list(table)
    cells = [[f"{t:g}"] + ["not reached" if table[m][k] is None else str(table[m][k]) for m in methods]
             for k, t in enumerate(thresholds)]
    tab = ax.table(cellText=cells, colLabels=["MSE"] + [method_label(m) for m in methods],
                   loc="upper right", colLoc="center", cellLoc="center", bbox=(0.38, 0.62, 0.6, 0.36))
    tab.auto_set_font_size(False)
    tab.set_fontsize(7)
    seeds = int(arrays.results["seed"].nunique())
    ax.set_title(f"authors (their arrays): REAL A5SS library, batch size 1\n{seeds} seeds; "
                 "inset: their Table 1 (acquisitions to reach each MSE)", fontsize=10)
    ax.set_xlabel("Number of acquired points (75 initial training points)")
    ax.set_ylabel("test MSE (SD1 usage)")
    ax.grid(alpha=0.3)


def plot_splicing_curves(results: pd.DataFrame, config, source: str, arrays, *,
                         what: str = "5' splicing test MSE"):
    """Fig 2 (left): our test MSE curves, and the authors' curves on the real A5SS library.

    On the real library (``source`` not simulated) their curves go on our axes. On a
    simulated library they never do: they get a panel of their own with their Table 1
    (from their arrays: the paper's). ``arrays``: an
    :class:`~deimos_utils.analysis.authors_comparison.AuthorsArrays`. Returns ``(fig, axes, caption)``.
    """
    import matplotlib.pyplot as plt

    from ..analysis.authors_comparison import authors_thresholds, caption
    from .authors_overlay import beside
    from ..analysis.paper import TABLE1_SPLICING_MSE
    from .common import add_caption, plot_learning_curves

    own_panel = is_simulated(source) and arrays.available
    fig, axes = plt.subplots(1, 2 if own_panel else 1, figsize=(13 if own_panel else 6.5, 4.4),
                             squeeze=False)
    axes = list(axes[0])
    plot_learning_curves(results, "test_mse", ax=axes[0], methods=config.methods,
                         n_initial=config.n_initial,
                         title=figure_title(source, config, int(results["seed"].nunique()), what))
    axes[0].set_ylabel("test MSE (SD1 usage)")
    fig.tight_layout()
    if not is_simulated(source):
        return fig, axes, beside(fig, axes[0], arrays, config, results, "test_mse", data_source=source)
    text = caption(config, arrays, source)
    if own_panel:
        thresholds = TABLE1_SPLICING_MSE["thresholds"]
        _authors_table1_panel(axes[1], arrays, authors_thresholds(arrays, "test_mse", thresholds),
                              thresholds)
        fig.tight_layout()
        text = textwrap.fill("right: the authors' curves on the REAL library, in a panel of their own "
                             "(ours ran on the SIMULATED library: other data, other MSE scale)",
                             110, subsequent_indent="  ") + "\n" + text
    add_caption(fig, text)
    return fig, axes, text


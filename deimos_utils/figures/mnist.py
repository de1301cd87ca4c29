"""Figures of the MNIST experiments (section 5.3: Fig 3, Fig B.1).

Everything here reads the results tables of :mod:`deimos_utils.experiment.loop` (one row per run and
iteration, columns :data:`~deimos_utils.experiment.store.COLUMNS`), so the notebooks only call these
functions, :mod:`deimos_utils.figures.common` and the tables every notebook shares
(:mod:`deimos_utils.analysis.tables`: what ran, Table 2, the LMM p-values of Appendix C, titles).

- :func:`plot_accuracy_curves`: test accuracy against acquisitions (Fig 3a, b, Fig B.1).
- :func:`plot_queried_images`: the images DEIMOS queried first and last (Fig 3c; which ones:
  :func:`deimos_utils.analysis.mnist_tables.first_last_queries`).
- :func:`plot_batch_diversity`: batch diversity per iteration (Fig 3d, e).
- :func:`plot_sample_sizes`: DEIMOS with several representative sample sizes (Fig 3f; the runs:
  :mod:`deimos_utils.experiment.sample_sizes`).

The tables beside these figures are in :mod:`deimos_utils.analysis.mnist_tables`.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from .common import mean_sd_lines, plot_learning_curves
from ..acquisition.labels import method_label
from ..analysis.mnist_tables import check_sample_sizes, diversity_rows
from ..analysis.tables import figure_title, methods_in, require_columns

__all__ = [
    "plot_accuracy_curves",
    "plot_queried_images",
    "plot_batch_diversity",
    "plot_sample_sizes",
]

# ------------------------------------------------------------------------------------ accuracy

def _integer_ticks(ax) -> None:
    from matplotlib.ticker import MaxNLocator

    ax.xaxis.set_major_locator(MaxNLocator(integer=True))


def _title(dataset: str, config, results: pd.DataFrame, what: str) -> str:
    """:func:`~deimos_utils.analysis.tables.figure_title` with the repeats found in ``results``."""
    return figure_title(dataset, config, int(results["seed"].nunique()), what)


def plot_accuracy_curves(results: pd.DataFrame, config, dataset: str, *, ax=None, methods=None,
                         what: str = "test accuracy"):
    """Test accuracy (mean +-1 sd over repeats) against acquired points, one line per method.

    The title names ``dataset``, the batch size, the preset and the repeats found in
    ``results``. Returns the axes.
    """
    require_columns(results, ("method", "seed", "n_acquired", "test_accuracy"), "plot_accuracy_curves")
    methods = methods_in(results, methods)
    ax = plot_learning_curves(results, "test_accuracy", ax=ax, methods=methods,
                              title=_title(dataset, config, results, what),
                              n_initial=config.n_initial)
    ax.set_ylabel("Test accuracy")
    _integer_ticks(ax)
    return ax


# ------------------------------------------------------------------------------------ queried images

def plot_queried_images(data, queries: pd.DataFrame, *, title: str | None = None):
    """A grid of queried images: one row per query number, one column per repeat (Fig 3c).

    ``data``: the :class:`~deimos_utils.data.aldata.ALData` the runs used; ``queries``: from
    :func:`~deimos_utils.analysis.mnist_tables.first_last_queries`. Each image is labelled with its query number and true class.
    Returns the figure.
    """
    import matplotlib.pyplot as plt

    require_columns(queries, ("seed", "query", "id"), "plot_queried_images")
    seeds = sorted(queries["seed"].unique())
    ranks = sorted(queries["query"].unique())
    pos = data.positions_of(queries["id"].to_numpy(), "queried ids")
    names = data.class_names or tuple(str(c) for c in range(data.n_classes or 0))
    fig, axes = plt.subplots(len(ranks), len(seeds), figsize=(1.6 * len(seeds) + 0.8, 1.6 * len(ranks) + 0.6),
                             squeeze=False)
    for ax in axes.ravel():
        ax.set_xticks([])
        ax.set_yticks([])
        ax.set_frame_on(False)
    for (_, q), p in zip(queries.iterrows(), pos):
        ax = axes[ranks.index(q["query"]), seeds.index(q["seed"])]
        img = data.x_pool[int(p)].detach().cpu().float().numpy()
        ax.imshow(img.reshape(img.shape[-2], img.shape[-1]) if img.ndim > 2 else img, cmap="gray_r")
        label = int(data.y_pool[int(p)])
        ax.set_title(f"query {int(q['query'])}: a {names[label] if label < len(names) else label}",
                     fontsize=8)
    for j, s in enumerate(seeds):
        axes[0, j].annotate(f"repeat {s + 1}", (0.5, 1.32), xycoords="axes fraction", ha="center",
                            fontsize=9, fontweight="bold")
    if title:
        fig.suptitle(title, fontsize=10, y=1.02 + 0.02 * (len(ranks) < 3))
    fig.tight_layout()
    return fig


# ------------------------------------------------------------------------------------ diversity

def plot_batch_diversity(results: pd.DataFrame, config, dataset: str, *, ax=None, methods=None,
                         what: str = "batch diversity"):
    """Batch diversity (mean symmetric KL of the queried batch; mean +-1 sd over repeats)
    against the AL iteration, one line per method (Fig 3d, e). Returns the axes."""
    rows = diversity_rows(results)
    methods = [m for m in methods_in(results, methods) if m in set(rows["method"])]
    ax = plot_learning_curves(rows, "diversity", ax=ax, methods=methods, x="batch",
                              title=_title(dataset, config, rows, what))
    ax.set_xlabel(f"AL iteration (batch of {config.batch_size} points)")
    ax.set_ylabel("Batch diversity (mean symmetric KL, nats)")
    _integer_ticks(ax)
    return ax


# ------------------------------------------------------------------------------------ sample sizes

def plot_sample_sizes(results: pd.DataFrame, config, dataset: str, *, metric: str = "test_accuracy",
                      ax=None, what: str = "representative sample size"):
    """Fig 3f: ``metric`` (mean +-1 sd over repeats) against acquisitions, one line per
    representative sample size (rows from :func:`~deimos_utils.experiment.sample_sizes.run_sample_sizes`). Returns the axes."""
    import matplotlib.pyplot as plt

    sizes = check_sample_sizes(results, "plot_sample_sizes")
    if ax is None:
        _, ax = plt.subplots(figsize=(6, 4))
    method = results["method"].iloc[0] if "method" in results.columns else "deimos"
    rows = results.groupby(["sample_size", "seed", "n_acquired"])[metric].mean().reset_index()
    n = rows.groupby("sample_size")["seed"].nunique()
    label = {s: f"{method_label(method)}, sample of {s:,} ({n[s]} repeat{'s' * int(n[s] != 1)})"
             for s in sizes}
    rows["curve"] = rows["sample_size"].map(label)
    shades = plt.get_cmap("Reds")(0.45 + 0.5 * np.arange(len(sizes)) / max(len(sizes) - 1, 1))
    mean_sd_lines(ax, rows, "n_acquired", metric, "curve",
                  dict(zip(label.values(), shades)), list(label.values()))
    ax.set_xlabel(f"Number of acquired points ({config.n_initial} initial training points)")
    ax.set_ylabel(metric.replace("_", " ").capitalize())
    ax.set_title(_title(dataset, config, results, what), fontsize=10)
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    _integer_ticks(ax)
    return ax


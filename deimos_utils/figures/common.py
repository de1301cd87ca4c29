"""Figures and recorded numbers: one place decides where the notebooks write them.

Every notebook makes one :class:`Output` from its ``output_dir`` parameter, then calls its
``savefig`` for each figure and ``save_numbers`` for the key numbers a test or the README reads.
Where the folder is follows :func:`deimos_utils.locations.outputs_root` (relative paths from the
repository root, ``$DEIMOS_OUTPUT_DIR`` when no folder is given). Making an Output also sets the
one seaborn theme of every figure (:func:`set_theme`).
"""
from __future__ import annotations

import json
import math
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np

from ..acquisition.labels import METHOD_COLORS, METHOD_LABELS
from ..locations import outputs_root


def _jsonable(value):
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, np.ndarray)):
        return [_jsonable(v) for v in value]
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        value = float(value)
        return None if math.isnan(value) else value
    return value


class Output:
    """Where one notebook writes: figures as ``<folder>/figures/<name>.png``, key numbers as
    ``<folder>/<name>.json``. ``output_dir``: see :func:`deimos_utils.locations.outputs_root`."""

    def __init__(self, output_dir: str | Path | None = None):
        self.folder = outputs_root(output_dir)
        (self.folder / "figures").mkdir(parents=True, exist_ok=True)
        set_theme()

    def __repr__(self) -> str:
        return f"Output({str(self.folder)!r})"

    def savefig(self, fig, name: str, *, dpi: int = 130) -> Path:
        """Write ``fig`` as ``<folder>/figures/<name>.png`` and return the path."""
        path = self.folder / "figures" / f"{name}.png"
        path.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(path, dpi=dpi, bbox_inches="tight")
        return path

    def save_numbers(self, name: str, numbers: dict) -> Path:
        """Write the key numbers of a notebook as ``<folder>/<name>.json`` (NaN as null)."""
        self.folder.mkdir(parents=True, exist_ok=True)
        path = self.folder / f"{name}.json"
        path.write_text(json.dumps(_jsonable(numbers), indent=2, sort_keys=True) + "\n")
        return path


def add_caption(fig, text: str, *, fontsize: float = 7.0):
    """Write ``text`` under the figure's axes (``savefig``'s tight bounding box keeps it).

    A second call on the same figure adds its text below the first. Returns the text artist.
    """
    previous = getattr(fig, "_deimos_caption", None)
    if previous is not None:
        text = previous.get_text() + "\n" + text
        previous.remove()
    artist = fig.text(0.01, -0.01, text, ha="left", va="top", fontsize=fontsize, wrap=False)
    fig._deimos_caption = artist
    return artist


def method_style(method: str) -> dict:
    return {"color": METHOD_COLORS.get(method, None), "label": METHOD_LABELS.get(method, method)}


def set_theme() -> None:
    """The one look of every figure (seaborn's whitegrid, notebook context, small fonts)."""
    import seaborn as sns

    sns.set_theme(style="whitegrid", context="notebook", font_scale=0.8,
                  rc={"axes.titlesize": 10, "legend.fontsize": 8, "figure.dpi": 100})


def mean_sd_lines(ax, rows, x: str, y: str, hue: str, palette: dict, hue_order: list, **kwargs):
    """seaborn's mean line +-1 sd band (over the rows of each ``x``, i.e. over seeds) of ``y``
    per ``hue`` value, in ``palette``'s colours; returns the axes."""
    import seaborn as sns

    before = len(ax.get_lines())
    drawn = [h for h in hue_order if (rows[hue] == h).any()]
    sns.lineplot(data=rows, x=x, y=y, hue=hue, hue_order=drawn, palette=palette, estimator="mean",
                 errorbar="sd", err_kws={"alpha": 0.18, "linewidth": 0}, legend=False, ax=ax,
                 **kwargs)
    for line, name in zip(ax.get_lines()[before:], drawn):
        line.set_label(name)  # the lines carry their curve's name (legend, overlays, tests)
    ax.legend()
    return ax


def new_figure(ncols: int = 1, width: float = 5.0, height: float = 3.6, **kwargs):
    fig, axes = plt.subplots(1, ncols, figsize=(width * ncols, height), **kwargs)
    return fig, axes


def plot_learning_curves(results, metric: str, *, ax=None, methods=None, title: str | None = None,
                         x: str = "n_acquired", n_initial: int | None = None):
    """Mean +-1 sd over seeds of ``metric`` against ``x``, one line per method (seaborn).

    ``results``: a results table of the loop's store (columns ``method``, ``seed``, ``x``,
    ``metric``). Returns the axes.
    """
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(6, 4))
    methods = list(methods) if methods is not None else list(dict.fromkeys(results["method"]))
    rows = (results[results["method"].isin(methods)]
            .groupby(["method", "seed", x], sort=False)[metric].mean().reset_index())
    n_seeds = rows.groupby("method")["seed"].nunique()
    label = {m: f"{METHOD_LABELS.get(m, m)} ({n_seeds[m]} seed{'s' * int(n_seeds[m] > 1)})"
             for m in methods if m in n_seeds}
    rows["curve"] = rows["method"].map(label)
    mean_sd_lines(ax, rows, x, metric, "curve", {label[m]: METHOD_COLORS.get(m) for m in label},
                  list(label.values()))
    label = "Number of acquired points"
    if n_initial is not None:
        label += f" ({n_initial} initial training points)"
    ax.set_xlabel(label)
    ax.set_ylabel(metric.replace("_", " "))
    if title:
        ax.set_title(title, fontsize=10)
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    return ax

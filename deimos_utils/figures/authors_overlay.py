"""The authors' published curves drawn beside ours, with a caption on what differs.

What to draw comes from :mod:`deimos_utils.analysis.authors_comparison` (their arrays, curves
and the settings line); this module only draws.

- :func:`plot_authors_curves`: their mean +-1 sd over seeds per method on our axes, dashed, in
  our method's colour.
- :func:`beside`: both on one figure (overlay + caption), what the notebooks call.
"""
from __future__ import annotations

import pandas as pd

from ..acquisition.labels import METHOD_COLORS, METHOD_LABELS
from ..analysis.authors_comparison import AuthorsArrays, authors_curves, caption

__all__ = ["plot_authors_curves", "beside"]


def plot_authors_curves(ax, arrays: AuthorsArrays, metric: str, *, x_max: float | None = None,
                        methods=None, our_batch_size: int | None = None) -> pd.DataFrame | None:
    """Their mean +-1 sd over seeds per method on ``ax``: dashed, in our method's colour.

    ``x_max``: plot up to this many acquisitions (default the paper's range); ``methods``:
    theirs to show (default all). Returns the curves (:func:`authors_curves`), None when the
    arrays are absent (nothing drawn).
    """
    if not arrays.available:
        return None
    curves = authors_curves(arrays.results, metric, x_max=x_max, methods=methods)
    tag = arrays.label(our_batch_size)
    for method, c in curves.groupby("method", sort=False):
        x, mean, sd = c["n_acquired"].to_numpy(), c["mean"].to_numpy(), c["sd"].to_numpy()
        color = METHOD_COLORS.get(method)
        n = int(c["n_seeds"].max())
        (line,) = ax.plot(x, mean, ls="--", lw=1.2, color=color,
                          label=f"{METHOD_LABELS.get(method, method)}: {tag}, {n} seeds")
        ax.fill_between(x, mean - sd, mean + sd, color=line.get_color(), alpha=0.08, linewidth=0)
    ax.legend(fontsize=7)
    return curves


# ------------------------------------------------------------------------------------ captions

def beside(fig, ax, arrays: AuthorsArrays, config, results: pd.DataFrame, metric: str, *,
           data_source: str = "", methods=None, prefix: str = "") -> str:
    """Their curves on our ``ax`` (up to the longer of our run and the paper's range) and the
    caption (``prefix`` + :func:`caption`) under ``fig``, below any caption already there;
    returns the caption (print it under the figure)."""
    from .common import add_caption

    x_max = max(float(results["n_acquired"].max()), float(arrays.horizon)) if arrays.available else None
    plot_authors_curves(ax, arrays, metric, x_max=x_max, methods=methods,
                        our_batch_size=config.batch_size)
    text = prefix + caption(config, arrays, data_source)
    add_caption(fig, text)
    return text


# ------------------------------------------------------------------------------------ tables

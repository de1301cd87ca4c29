"""One experiment's results at several presets side by side, beside the authors' arrays.

- :func:`load_presets`: ``{preset: rows}`` for the presets whose tables exist (untagged runs
  only; tagged variants such as Fig 3f's sample sizes are other experiments' business).
- :func:`means_at`: the mean over seeds of a metric at chosen numbers of acquired points, per
  method, for each preset and for the authors' arrays, with the seeds that reached each point.

The figure is :func:`deimos_utils.figures.presets.plot_presets`.
"""
from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np
import pandas as pd

from ..experiment.store import load_results
from .authors_comparison import AUTHORS_LABEL, AuthorsArrays, authors_curves

__all__ = ["PRESETS", "load_presets", "means_at"]

#: the presets a real run has (``quick`` is for CI and says nothing about the methods)
PRESETS = ("cpu", "paper")


def load_presets(experiment: str, results_dir, presets: Sequence[str] = PRESETS) -> dict:
    """``{preset: rows}`` of ``experiment``'s untagged runs under ``results_dir``, in the order
    of ``presets``; a preset with no table is left out (an empty dict when none has one)."""
    out = {}
    for preset in presets:
        try:
            rows = load_results(experiment, results_dir, preset=preset)
        except FileNotFoundError:
            continue
        rows = rows[rows["tag"].fillna("") == ""]
        if len(rows):
            out[preset] = rows.reset_index(drop=True)
    return out


def means_at(by_preset: Mapping[str, pd.DataFrame], metric: str, at: Sequence[int], *,
             arrays: AuthorsArrays | None = None, methods: Sequence[str] | None = None) -> pd.DataFrame:
    """Mean over seeds of ``metric`` at each number of acquired points in ``at``.

    Rows: methods (``methods``, default every method found, in order of appearance); columns:
    ``(n_acquired, source)`` with one source per preset of ``by_preset`` and, when ``arrays``
    are available, ``AUTHORS_LABEL``. A point no seed reached is NaN. ``attrs["n_seeds"]``: a
    frame of the same shape with the seeds each mean is over (0 where NaN).
    """
    at = [int(n) for n in at]
    if not at:
        raise ValueError("at: give at least one number of acquired points")
    sources = dict(by_preset)
    for preset, rows in sources.items():
        if metric not in rows.columns:
            raise ValueError(f"metric: the {preset} results have no column {metric!r}")
    found = [m for rows in sources.values() for m in rows["method"]]
    theirs = None
    if arrays is not None and arrays.available:
        theirs = authors_curves(arrays.results, metric, x_max=max(at))
        found += list(theirs["method"])
    methods = list(dict.fromkeys(found)) if methods is None else list(methods)
    labels = list(sources) + ([AUTHORS_LABEL] if theirs is not None else [])
    columns = pd.MultiIndex.from_product([at, labels], names=["n_acquired", "source"])
    mean = pd.DataFrame(np.nan, index=pd.Index(methods, name="method"), columns=columns)
    seeds = pd.DataFrame(0, index=mean.index, columns=columns)
    for preset, rows in sources.items():
        points = rows[rows["n_acquired"].isin(at) & rows["method"].isin(methods)]
        g = points.groupby(["method", "n_acquired"])
        for (method, n), value in g[metric].mean().items():
            mean.loc[method, (n, preset)] = value
        for (method, n), count in g["seed"].nunique().items():
            seeds.loc[method, (n, preset)] = count
    if theirs is not None:
        for r in theirs[theirs["n_acquired"].isin(at) & theirs["method"].isin(methods)].itertuples():
            mean.loc[r.method, (int(r.n_acquired), AUTHORS_LABEL)] = r.mean
            seeds.loc[r.method, (int(r.n_acquired), AUTHORS_LABEL)] = r.n_seeds
    mean.attrs["n_seeds"] = seeds
    return mean

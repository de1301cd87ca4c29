"""Tables 1 and 2: acquisitions needed for a method's mean curve to reach a threshold.

:func:`acquisitions_to_threshold` counts them from a tidy results table
(:mod:`deimos_utils.analysis.results`); :func:`format_threshold_table` writes the counts as
text, beside the paper's.
"""
from __future__ import annotations

import math
from typing import Mapping, Sequence

import numpy as np
import pandas as pd

from .results import check_methods, check_metric_values, check_results, higher_is_better_for

__all__ = ["acquisitions_to_threshold", "format_threshold_table", "NOT_REACHED"]


#: Text shown by :func:`format_threshold_table` for a threshold a method never reached.
NOT_REACHED = "not reached"


def acquisitions_to_threshold(
    results: pd.DataFrame,
    metric: str,
    thresholds: Sequence[float],
    higher_is_better: bool | None = None,
    *,
    methods: Sequence | None = None,
    experiment=None,
) -> pd.DataFrame:
    """Acquisitions each method needs for its mean curve to reach each threshold.

    Per method, the curve is the mean of ``metric`` over the repeats (seeds) at each
    ``n_acquired`` (the mean of the rows present there). The entry for a threshold is the
    smallest ``n_acquired`` at which that mean is ``>= threshold`` (higher is better) or
    ``<= threshold`` (lower is better).

    Parameters
    ----------
    results : DataFrame
        Tidy results with columns ``method``, ``n_acquired`` and ``metric``.
    metric : str
        Metric column.
    thresholds : sequence of float
        Thresholds, in the order of the rows of the output.
    higher_is_better : bool, optional
        Default read from the metric's name (:func:`higher_is_better_for`).
    methods : sequence, optional
        Methods (columns) to report, in this order; default all, in order of appearance.
    experiment : optional
        Which experiment's rows to use when the table holds several.

    Returns
    -------
    DataFrame
        Indexed by threshold (index name ``"threshold"``), one column per method, nullable
        ``Int64`` dtype; ``pd.NA`` where the mean curve never reaches the threshold (render
        it with :func:`format_threshold_table`).
    """
    table = check_results(results, metric, ["method", "n_acquired"], experiment)
    if methods is None:
        methods = list(pd.unique(table["method"]))
    else:
        methods = list(methods)
        check_methods(table, methods)
        table = table[table["method"].isin(methods)]
    if higher_is_better is None:
        higher_is_better = higher_is_better_for(metric)
    thr = np.atleast_1d(np.asarray(thresholds, dtype=np.float64))
    if thr.ndim != 1 or thr.size == 0:
        raise ValueError(f"thresholds must be a non-empty 1-D sequence, got {thresholds!r}")
    if not np.all(np.isfinite(thr)):
        raise ValueError(f"thresholds must be finite, got {thresholds!r}")
    check_metric_values(table[metric], metric)
    if table["n_acquired"].isna().any():
        raise ValueError("column 'n_acquired' holds missing values")

    curves = table.groupby(["method", "n_acquired"], sort=True)[metric].mean()
    out = pd.DataFrame(index=pd.Index(thr, name="threshold"))
    for m in methods:
        curve = curves.loc[m]
        n = curve.index.to_numpy()
        v = curve.to_numpy(dtype=np.float64)
        reached = v[None, :] >= thr[:, None] if higher_is_better else v[None, :] <= thr[:, None]
        first = reached.argmax(axis=1)
        col = pd.array([int(n[i]) if reached[k, i] else pd.NA for k, i in enumerate(first)], dtype="Int64")
        out[m] = col
    out.columns.name = "method"
    return out


def _cell_text(value) -> str | None:
    """Text for one cell: the integer, ``NOT_REACHED``, or None for a missing entry."""
    if isinstance(value, str):
        return value
    if value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value)):
        return None
    if float(value) == int(value):
        return str(int(value))
    return str(value)


def format_threshold_table(table: pd.DataFrame, paper=None) -> pd.DataFrame:
    """Render a table from :func:`acquisitions_to_threshold` as text.

    Each cell is the number of acquisitions, or ``"not reached"``. With ``paper`` (a
    DataFrame indexed by threshold with one column per method, or a mapping
    ``{method: [values in the order of the thresholds]}`` or ``{method: {threshold: value}}``),
    cells read ``"ours (paper)"``, e.g. ``"72 (69)"``; a paper cell that is missing (NaN/None,
    or a method or threshold the paper does not list) leaves ours alone, and a paper cell
    that the paper marks as never reached should be given as the string ``"not reached"``.
    """
    if not isinstance(table, pd.DataFrame):
        raise ValueError(f"table must be a pandas DataFrame, got {type(table).__name__}")
    if paper is not None:
        if isinstance(paper, Mapping) and not isinstance(paper, pd.DataFrame):
            cols = {}
            for m, vals in paper.items():
                if isinstance(vals, Mapping):
                    cols[m] = pd.Series(vals, dtype=object)
                else:
                    vals = list(vals)
                    if len(vals) != len(table.index):
                        raise ValueError(
                            f"paper[{m!r}] has {len(vals)} values but the table has "
                            f"{len(table.index)} thresholds"
                        )
                    cols[m] = pd.Series(vals, index=table.index, dtype=object)
            paper = pd.DataFrame(cols)
        elif not isinstance(paper, pd.DataFrame):
            raise ValueError(
                f"paper must be a DataFrame or a mapping of method -> values, got {type(paper).__name__}"
            )
        paper = paper.astype(object).reindex(index=table.index, columns=table.columns)
    out = pd.DataFrame(index=table.index, columns=table.columns, dtype=object)
    for m in table.columns:
        for t in table.index:
            ours = _cell_text(table.at[t, m])
            text = NOT_REACHED if ours is None else ours
            if paper is not None:
                theirs = _cell_text(paper.at[t, m])
                if theirs is not None:
                    text = f"{text} ({theirs})"
            out.at[t, m] = text
    return out

"""The tidy results table every analysis reads: its checks, and which way each metric is better.

Results tables are pandas DataFrames in tidy form, one row per
(experiment, method, seed, iteration), with at least the columns ``method``, ``seed``,
``iteration``, ``n_acquired`` (points acquired so far, the initial set not counted) and a
metric column (``test_accuracy``, ``test_mse``, ``test_rmse``, ...). When the table holds
an ``experiment`` column with more than one experiment, pass ``experiment=`` to pick one.
"""
from __future__ import annotations

from typing import Iterable, Sequence

import numpy as np
import pandas as pd

__all__ = ["higher_is_better_for", "check_results", "check_methods", "check_metric_values"]


_HIGHER_WORDS = ("accuracy", "acc", "auc", "r2", "f1", "precision", "recall", "pearson", "spearman")


_LOWER_WORDS = ("mse", "rmse", "mae", "loss", "error", "nll", "ece", "brier")


def higher_is_better_for(metric: str) -> bool:
    """Whether larger values of ``metric`` are better, read from its name.

    Accuracy-like names (``accuracy``, ``auc``, ``r2``, ...) -> True; error-like names
    (``mse``, ``rmse``, ``mae``, ``loss``, ``error``, ...) -> False. The name is split on
    ``_``, ``-``, ``.`` and spaces and matched word by word. Raises ``ValueError`` when no
    word (or words of both kinds) matches: pass ``higher_is_better`` explicitly then.
    """
    words = {w for w in str(metric).lower().replace("-", "_").replace(".", "_").replace(" ", "_").split("_") if w}
    higher = bool(words & set(_HIGHER_WORDS))
    lower = bool(words & set(_LOWER_WORDS))
    if higher == lower:
        raise ValueError(
            f"cannot tell from the metric name {metric!r} whether higher is better; "
            "pass higher_is_better=True or False"
        )
    return higher


def check_results(results, metric: str, required: Sequence[str], experiment) -> pd.DataFrame:
    """The rows of one experiment, after checking the columns. Does not copy more than needed."""
    if not isinstance(results, pd.DataFrame):
        raise ValueError(f"results must be a pandas DataFrame, got {type(results).__name__}")
    needed = list(dict.fromkeys([*required, metric]))
    missing = [c for c in needed if c not in results.columns]
    if missing:
        raise ValueError(
            f"results lacks the column(s) {missing}; columns present: {list(results.columns)}"
        )
    if "experiment" in results.columns:
        present = list(pd.unique(results["experiment"]))
        if experiment is None:
            if len(present) > 1:
                raise ValueError(
                    f"results holds several experiments {present}; pass experiment= to pick one"
                )
        else:
            if experiment not in present:
                raise ValueError(
                    f"experiment {experiment!r} is not in results; experiments present: {present}"
                )
            results = results[results["experiment"] == experiment]
    elif experiment is not None:
        raise ValueError(
            f"experiment={experiment!r} was given but results has no 'experiment' column; "
            f"columns present: {list(results.columns)}"
        )
    if len(results) == 0:
        raise ValueError("results has no rows")
    return results


def check_methods(results: pd.DataFrame, methods: Iterable) -> None:
    present = list(pd.unique(results["method"]))
    for m in methods:
        if m not in present:
            raise ValueError(f"method {m!r} is not in results; methods present: {present}")


def check_metric_values(values: pd.Series, metric: str) -> np.ndarray:
    try:
        y = pd.to_numeric(values, errors="raise").to_numpy(dtype=np.float64)
    except (TypeError, ValueError) as err:
        raise ValueError(f"metric column {metric!r} must be numeric: {err}") from None
    bad = ~np.isfinite(y)
    if bad.any():
        raise ValueError(
            f"metric column {metric!r} holds {int(bad.sum())} NaN or infinite values "
            f"in the rows used; drop or fill them first"
        )
    return y
